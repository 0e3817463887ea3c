"""test_deploy_settings.py: settings that deploy/local/run itself reads (API.md §1, §8).

One extra stack, started the way an operator who keeps secrets in files starts it: the bootstrap
admin's password only as USERMGR_BOOTSTRAP_ADMIN_PASSWORD_FILE, and a per-IP limit raised far
above nginx's old fixed flood limit of 10 requests/s (users behind one NAT, a load test).
"""

import os
import secrets
import subprocess
import tempfile
import threading
import time

import pytest

from mail_lib import MailStack, stop_stack
from peers import address_pool, bound_session
from stack import HTTP_TIMEOUT, REPO, assert_problem, free_port, read_text

# Source addresses 127.62.x.y: a block apart from the other helpers' (33, 47, 84, 91).
next_address = address_pool(62)

# 40 a second: four times nginx's old fixed 10 r/s, and the burst below fits in one minute.
PER_MIN = 2400
BURST = 120


class FileSecretStack(MailStack):
    """A stack whose admin password comes only from a file (no USERMGR_BOOTSTRAP_ADMIN_PASSWORD)."""

    def __init__(self, password_file, extra):
        super().__init__(extra)
        self.password_file = password_file

    def env(self):
        env = super().env()
        del env["USERMGR_BOOTSTRAP_ADMIN_PASSWORD"]
        env["USERMGR_BOOTSTRAP_ADMIN_PASSWORD_FILE"] = self.password_file
        return env


@pytest.fixture(scope="module")
def file_stack():
    password = "File-Admin-" + secrets.token_urlsafe(12)
    with tempfile.TemporaryDirectory(prefix="usermgr-secret-") as d:
        path = os.path.join(d, "admin_password")
        with open(path, "w") as f:
            f.write(password + "\n")  # API.md §7: one trailing newline is not part of it
        s = FileSecretStack(path, {"USERMGR_RATE_PER_IP_PER_MIN": str(PER_MIN)})
        s.admin_password = password
        try:
            s.start()
        except BaseException:
            problems = stop_stack(s)
            pytest.fail("the stack did not start (%s):\n%s\n%s"
                        % (s.run_log, "\n".join(problems), s.log_tail()), pytrace=False)
        yield s
        problems = stop_stack(s)
        if problems:
            pytest.fail("the stack did not stop cleanly:\n" + "\n".join(problems),
                        pytrace=False)


def api_login(stack, session, login, password):
    return session.post(stack.url("/api/v1/auth/login"), json={"login": login,
                                                                "password": password},
                        timeout=HTTP_TIMEOUT, allow_redirects=False)


def test_the_bootstrap_admin_logs_in_with_the_password_from_its_file(file_stack):
    session = bound_session(next_address())
    r = api_login(file_stack, session, "admin", file_stack.admin_password)
    assert r.status_code == 200, "admin could not log in with the file's password: %d %r" % (
        r.status_code, r.text[:300])
    assert "admin" in r.json()["user"]["roles"], r.json()["user"]
    # The password was given, so none was generated and printed.
    assert "admin password:" not in read_text(file_stack.run_log), file_stack.log_tail()
    # The trailing newline was dropped, not kept as part of the password.
    r = api_login(file_stack, bound_session(next_address()), "admin",
                  file_stack.admin_password + "\n")
    assert_problem(r, 401, "invalid_credentials")


def test_a_raised_per_ip_limit_is_not_undercut_by_nginx_on_the_auth_routes(file_stack):
    # BURST logins of an unknown account from one address, four at a time: every one is the
    # worker's 401, none nginx's 429, although they arrive far faster than 10 a second.
    address = next_address()
    statuses, lock = [], threading.Lock()
    todo = iter(range(BURST))

    def worker():
        session = bound_session(address)
        for _ in iter(lambda: next(todo, None), None):
            r = api_login(file_stack, session, "nobody-" + secrets.token_hex(4), "Wrong-pass-1")
            with lock:
                statuses.append(r.status_code)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - t0
    assert len(statuses) == BURST
    # Faster than nginx's old limit would have let through: 1 + 50 at once, then 10 a second.
    assert BURST > 51 + 10 * elapsed, "the burst took %.1f s, too slow to test anything" % elapsed
    assert statuses.count(429) == 0, "nginx refused %d of %d (%.1f s): %r" % (
        statuses.count(429), BURST, elapsed, sorted(set(statuses)))
    assert set(statuses) == {401}, sorted(set(statuses))


def test_an_nginx_limit_stricter_than_the_per_ip_limit_is_refused_at_start(tmp_path):
    env = dict(os.environ)
    env.update({"USERMGR_STATE_DIR": str(tmp_path / "state"),
                "USERMGR_HTTP_PORT": str(free_port()),
                "USERMGR_RATE_PER_IP_PER_MIN": str(PER_MIN),
                "USERMGR_NGINX_AUTH_RATE": "10"})
    out = subprocess.run([os.path.join(REPO, "deploy", "local", "run")], cwd=REPO, env=env,
                         stdin=subprocess.DEVNULL, capture_output=True, timeout=60)
    assert out.returncode == 1, (out.returncode, out.stdout, out.stderr)
    err = out.stderr.decode("utf-8", "replace")
    assert "USERMGR_NGINX_AUTH_RATE" in err and "stricter" in err, err
    assert out.stdout == b"", "nothing may start: %r" % out.stdout
