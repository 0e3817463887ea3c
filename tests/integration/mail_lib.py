"""mail_lib.py: helpers of the mail delivery tests — stacks with another transport, users, the outbox, extra mailers.

A MailStack is a Stack (stack.py) started with extra environment: the Mailjet or SMTP transport
pointed at a fake provider on loopback (fake_mailjet.py, fake_smtp.py). Users are made through
the JSON API, each Client from a loopback source address of its own so the per-IP limit of
API.md §1 never mixes tests. The outbox is read, and made due early, with the mariadb client
as root over the stack's socket: the product's first retry comes after about 30 s (API.md §7),
and a test that waited for it would be slow, not more thorough.
"""

import datetime
import email
import email.policy
import os
import re
import secrets
import shutil
import signal
import subprocess
import tempfile
import time

import pytest

import stack as stack_module
from stack import HTTP_TIMEOUT, REPO, Stack, read_text, wait_until
from peers import address_pool, bound_session, requests_handled, sql, sql_quote

next_address = address_pool(91)

JSON = "application/json"

# Source addresses 127.91.0.1 onwards: a block apart from the other helpers' (127.0.0.1,
# 127.33.x.y, 127.84.x.y), so no test shares a rate-limit bucket with these.

# A verification link (API.md §5): the base URL, /verify-email, a JWT.
JWT = r"[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+"
VERIFY_LINK = re.compile(r"(https?://[^\s\"'<>]+/verify-email\?token=" + JWT + ")")
RESET_LINK = re.compile(r"(https?://[^\s\"'<>]+/reset-password\?token=[A-Za-z0-9_.\-]+)")

SENDER_EMAIL = "robot@mail-tests.example"
SENDER_NAME = "usermgr mail tests"


class Client:
    """A requests session bound to a fresh source address."""

    def __init__(self, stack):
        self.stack = stack
        self.address = next_address()
        self.session = bound_session(self.address)

    def request(self, method, path_or_url, token=None, **kw):
        kw.setdefault("timeout", HTTP_TIMEOUT)
        kw.setdefault("allow_redirects", False)
        headers = dict(kw.pop("headers", None) or {})
        if token is not None:
            headers["Authorization"] = "Bearer " + token
        url = path_or_url if "://" in path_or_url else self.stack.url(path_or_url)
        return self.session.request(method, url, headers=headers, **kw)

    def get(self, path_or_url, **kw):
        return self.request("GET", path_or_url, **kw)

    def json(self, method, path, body, token=None):
        return self.request(method, path, token=token, json=body, headers={"Accept": JSON})


# The mail stacks' run directories. Not under tests/out/integration: Stack() keeps only the two
# newest directories there, so a stack started there (by this module or by a concurrent run)
# would delete the state dir of a stack that is still running.
MAIL_OUT = os.path.join(REPO, "tests", "out", "integration-mail")


def prune_mail_runs(keep=2):
    """Removes all but the KEEP newest run directories under MAIL_OUT (each holds a datadir)."""
    try:
        runs = sorted(d for d in os.listdir(MAIL_OUT) if os.path.isdir(os.path.join(MAIL_OUT, d)))
    except FileNotFoundError:
        return
    for d in runs[:-keep] if keep > 0 else runs:
        shutil.rmtree(os.path.join(MAIL_OUT, d), ignore_errors=True)


class MailStack(Stack):
    """A Stack whose deploy/local/run also gets EXTRA in its environment, run from MAIL_OUT."""

    def __init__(self, extra, workers=2):
        # Stack.__init__ prunes tests/out/integration, which may hold the running shared stack:
        # not for these.
        saved = stack_module.prune_runs
        stack_module.prune_runs = lambda keep=3: None
        try:
            super().__init__(workers=workers)
        finally:
            stack_module.prune_runs = saved
        for d in (self.state_dir, self.out_dir):
            shutil.rmtree(d, ignore_errors=True)
        # Two live at once (Mailjet, SMTP) plus the two newest finished ones.
        prune_mail_runs(keep=2)
        os.makedirs(MAIL_OUT, exist_ok=True)
        stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
        self.out_dir = tempfile.mkdtemp(prefix=stamp + "-", dir=MAIL_OUT)
        self.state_dir = os.path.join(self.out_dir, "state")
        os.makedirs(self.state_dir)
        # Unix socket paths hold at most 107 bytes (unix(7)), as in Stack.
        if len(self.state_dir) > 80:
            self.state_dir = tempfile.mkdtemp(prefix="usermgr-mail-")
        for d in (self.out_dir, self.state_dir):
            os.chmod(d, 0o755)
        self.run_log = os.path.join(self.out_dir, "run.log")
        self.mail_dir = os.path.join(self.state_dir, "mail")
        self.extra = dict(extra)

    def env(self):
        env = super().env()
        env.update(self.extra)
        return env


def start_stack(extra):
    """Starts a MailStack; on failure stops what was started and raises."""
    s = MailStack(extra)
    try:
        s.start()
    except BaseException:
        problems = s.stop()
        raise AssertionError("the mail test stack did not start (%s):\n%s\n%s"
                             % (s.run_log, "\n".join(problems), s.log_tail()))
    return s


def stop_stack(s):
    """Stops S; returns the problems (API.md §7: exit 0, nothing left behind)."""
    problems = s.stop()
    if problems:
        problems.append("--- deploy/local/run output ---\n" + s.log_tail())
    return problems


def module_stack(extra, what):
    """The body of a module-scoped fixture (`yield from module_stack(...)`): a MailStack with
    EXTRA, stopped afterwards; a stop that is not clean fails the module (API.md §7)."""
    s = start_stack(extra)
    try:
        yield s
    finally:
        problems = stop_stack(s)
    if problems:
        pytest.fail("the %s stack did not stop cleanly:\n%s" % (what, "\n".join(problems)),
                    pytrace=False)


# --- the database ---------------------------------------------------------------------------


OUTBOX_COLUMNS = ("id", "to_email", "to_name", "subject", "status", "attempts", "last_error")


def outbox_rows(stack, to_email):
    """The outbox rows for TO_EMAIL, oldest first, as dicts (last_error None when NULL), once
    every mail request is handled."""
    requests_handled(stack)
    rows = sql(stack, "SELECT id, to_email, to_name, subject, status, attempts, "
               "IFNULL(last_error, '\\\\N') FROM email_outbox WHERE to_email = %s ORDER BY id"
               % sql_quote(to_email))
    result = []
    for r in rows:
        d = dict(zip(OUTBOX_COLUMNS, r))
        d["id"] = int(d["id"])
        d["attempts"] = int(d["attempts"])
        if d["last_error"] == "\\N":
            d["last_error"] = None
        result.append(d)
    return result


def outbox_row(stack, row_id):
    rows = sql(stack, "SELECT id, to_email, to_name, subject, status, attempts, "
               "IFNULL(last_error, '\\\\N') FROM email_outbox WHERE id = %d" % int(row_id))
    assert len(rows) == 1, "outbox row %d: %r" % (row_id, rows)
    d = dict(zip(OUTBOX_COLUMNS, rows[0]))
    d["id"] = int(d["id"])
    d["attempts"] = int(d["attempts"])
    if d["last_error"] == "\\N":
        d["last_error"] = None
    return d


def only_row(stack, to_email):
    """The one outbox row for TO_EMAIL (it must exist: the sign-up queued it)."""
    rows = outbox_rows(stack, to_email)
    assert len(rows) == 1, "expected one outbox row for %s, found %r" % (to_email, rows)
    return rows[0]


def body_columns(stack, row_id):
    """(subject, text_body, html_body) of outbox row ROW_ID, exactly as stored."""
    rows = sql(stack, "SELECT HEX(subject), HEX(text_body), HEX(html_body) FROM email_outbox "
                      "WHERE id = %d" % int(row_id))
    assert len(rows) == 1, rows
    return tuple(bytes.fromhex(h).decode("utf-8") for h in rows[0])


def make_due(stack, row_id):
    """Makes a queued row due now instead of after the backoff (~30 s for the first retry)."""
    sql(stack, "UPDATE email_outbox SET next_attempt_at = UTC_TIMESTAMP(6) "
        "WHERE id = %d AND status = 'queued'" % int(row_id))


def wait_row(stack, row_id, predicate, timeout, what):
    """Polls outbox row ROW_ID until PREDICATE(row) holds; returns the row (fails on timeout)."""
    last = [None]

    def check():
        last[0] = outbox_row(stack, row_id)
        return predicate(last[0])

    assert wait_until(check, timeout, 0.2), "outbox row %d never became %s within %s s: %r" % (
        row_id, what, timeout, last[0])
    return last[0]


# --- users ----------------------------------------------------------------------------------

class Account:
    def __init__(self, client, username, email, password, user):
        self.client = client
        self.username = username
        self.email = email
        self.password = password
        self.user = user


def unique_name(prefix="m"):
    return prefix + secrets.token_hex(6)


def register(stack, client=None, username=None):
    """Signs a user up through POST /api/v1/users (201), which queues the verification mail."""
    client = client or Client(stack)
    username = username or unique_name()
    addr = "%s@example.com" % username
    password = "Pw-" + secrets.token_urlsafe(12)
    r = client.json("POST", "/api/v1/users", {"username": username, "email": addr,
                                               "password": password})
    assert r.status_code == 201, "sign-up failed: %d %r" % (r.status_code, r.text[:300])
    return Account(client, username, addr, password, r.json())


def login(account):
    return account.client.json("POST", "/api/v1/auth/login",
                               {"login": account.username, "password": account.password})


def verify_with_link(stack, account, text):
    """Follows the verification link found in TEXT; then the account logs in (API.md §5)."""
    m = VERIFY_LINK.search(text)
    assert m, "no verification link in the text part: %r" % text[:1500]
    link = m.group(1)
    assert link.startswith(stack.base_url + "/verify-email?token="), (
        "the link is not under USERMGR_BASE_URL %s: %s" % (stack.base_url, link))
    r = login(account)
    assert r.status_code == 403, "an unverified account must not log in yet: %d %r" % (
        r.status_code, r.text[:300])
    r = account.client.get(link)
    assert r.status_code == 200, "GET %s answered %d: %r" % (link, r.status_code, r.text[:300])
    r = login(account)
    assert r.status_code == 200, "login after verification failed: %d %r" % (
        r.status_code, r.text[:300])
    return r.json()


def verified_with_display_name(stack, display_name):
    """An account verified in the database, logged in, whose display name is set through the API."""
    account = register(stack)
    sql(stack, "UPDATE users SET email_verified_at = UTC_TIMESTAMP(6) WHERE id = %d"
        % int(account.user["id"]))
    r = login(account)
    assert r.status_code == 200, r.text[:300]
    token = r.json()["access_token"]
    r = account.client.json("PATCH", "/api/v1/me", {"display_name": display_name}, token=token)
    assert r.status_code == 200, "PATCH /api/v1/me failed: %d %r" % (r.status_code, r.text[:300])
    assert r.json()["display_name"] == display_name, r.json()
    return account


def forgot_password(account):
    r = account.client.json("POST", "/api/v1/auth/password/forgot", {"email": account.email})
    assert r.status_code == 202, "forgot-password: %d %r" % (r.status_code, r.text[:300])


# --- mailer processes -----------------------------------------------------------------------

def process_env(pid):
    """The environment of process PID, from /proc/PID/environ."""
    with open("/proc/%d/environ" % pid, "rb") as f:
        data = f.read()
    env = {}
    for item in data.split(b"\0"):
        if b"=" in item:
            k, _, v = item.partition(b"=")
            env[k.decode("utf-8", "replace")] = v.decode("utf-8", "replace")
    return env


class Mailer:
    """A usermgr-mailer of the test's own, with the environment of STACK's mailer."""

    def __init__(self, stack, name, extra=None):
        self.stack = stack
        self.log = os.path.join(stack.out_dir, name + ".log")
        pid = stack.pid_from("mailer.pid")
        self.env = process_env(pid)
        self.env.update(extra or {})
        self.binary = self.env.get("USERMGR_MAILER_BIN") or os.path.join(REPO, "build",
                                                                          "usermgr-mailer")
        self.proc = None
        self._out = None

    def start(self):
        self._out = open(self.log, "wb")
        self.proc = subprocess.Popen([self.binary], env=self.env, stdin=subprocess.DEVNULL,
                                     stdout=self._out, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        ok = wait_until(lambda: "started" in read_text(self.log) or self.proc.poll() is not None,
                        15, 0.1)
        assert ok and self.proc.poll() is None, "the extra mailer did not start (exit %r): %s" % (
            self.proc.poll(), read_text(self.log)[-2000:])
        return self

    def terminate(self, timeout=10):
        """SIGTERMs the mailer; returns (exit status, seconds it took)."""
        t0 = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            rc = "still running %d s after SIGTERM" % timeout
        return rc, time.monotonic() - t0

    def kill(self):
        """Makes sure the process is gone (for finally blocks)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        if self._out is not None:
            self._out.close()
            self._out = None

    def output(self):
        return read_text(self.log)


def parse_eml(data):
    return email.message_from_bytes(data, policy=email.policy.default)
