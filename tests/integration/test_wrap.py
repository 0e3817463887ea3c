"""test_wrap.py: no weak hash at rest — imported users' bare SHA-256 wrapped in Argon2id.

`usermgr-admin wrap-legacy` and the mailer (USERMGR_LEGACY_WRAP_PER_SECOND) replace each bare
hash with "$sha256" + Argon2id of it (docs/DATABASE.md "Legacy import"). Judged where it
matters: what MariaDB holds afterwards, and that every wrapped user still logs in with the old
password (API and HTML), after which the hash is plain Argon2id. The shared stack's mailer has
the pace off (stack.py); the background test starts a mailer of its own with it on.
"""

import os
import signal
import subprocess

from types import SimpleNamespace

from api_lib import Client, browser_login, link_token, new_password
from peers import sql, sql_quote
from pool_lib import environ_of
from stack import assert_problem, read_text, wait_until
from test_cli import admin, api_login, legacy_users, stored_hash

WRAPPED = "$sha256$argon2id$"
# What a bare legacy hash is, exactly (password.c is_legacy): 64 lowercase hex digits.
BARE_SQL = ("(CHAR_LENGTH(password_hash) = 64"
            " AND password_hash COLLATE utf8mb4_bin REGEXP '^[0-9a-f]{64}$')")


def import_users(stack, tmp_path, users):
    """Imports USERS (legacy_users tuples) from a CSV file with import-legacy."""
    lines = ["username,email,password_sha256,verified"]
    lines += ["%s,%s,%s,%d" % (u[0], u[1], u[3], 1 if u[4] else 0) for u in users]
    path = tmp_path / ("seed-%s.csv" % users[0][0])
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    status, text = admin(stack, "import-legacy", str(path))
    assert status == 0 and "%d imported," % len(users) in text, text


def names_sql(users):
    return ", ".join(sql_quote(u[0]) for u in users)


def bare_among(stack, users):
    """The usernames among USERS whose stored hash is still bare."""
    return [r[0] for r in sql(stack, "SELECT username FROM users WHERE username IN (%s) AND %s"
                                     % (names_sql(users), BARE_SQL))]


def bare_total(stack):
    """Bare hashes in the whole table; sql/007's legacy_bare column must count the same."""
    n = int(sql(stack, "SELECT COUNT(*) FROM users WHERE " + BARE_SQL)[0][0])
    assert int(sql(stack, "SELECT COUNT(*) FROM users WHERE legacy_bare = 1")[0][0]) == n
    return n


def user_state(stack, name):
    """What a wrap must leave alone: token_version, password_changed_at, revocation rows."""
    return sql(stack, "SELECT token_version, password_changed_at, updated_at,"
                      " (SELECT COUNT(*) FROM revocations r WHERE r.user_id = users.id)"
                      " FROM users WHERE username = %s" % sql_quote(name))[0]


def assert_wrapped(stack, user):
    h = stored_hash(stack, user[0])
    assert h.startswith(WRAPPED), "%s holds %r" % (user[0], h[:24])
    assert user[3] not in h  # the bare digest is gone, not kept beside the wrapping


def test_wrap_legacy_leaves_no_bare_hash_and_the_old_passwords_still_log_in(stack, tmp_path):
    users = legacy_users(3)
    early = legacy_users(1)[0]
    import_users(stack, tmp_path, users + [early])
    # A user who logged in before the job holds plain Argon2id: the job leaves it alone.
    assert api_login(stack, early[0], early[2]).status_code == 200
    early_hash = stored_hash(stack, early[0])
    assert early_hash.startswith("$argon2id$")
    before = {u[0]: user_state(stack, u[0]) for u in users}

    status, text = admin(stack, "wrap-legacy")
    assert status == 0, text
    assert "0 still bare" in text, text
    assert bare_total(stack) == 0
    assert stored_hash(stack, early[0]) == early_hash
    for u in users:
        assert_wrapped(stack, u)
        # The password did not change: nothing a password change bumps or ends moved.
        assert user_state(stack, u[0]) == before[u[0]]

    # Through the JSON API: the old password works, and the login stores plain Argon2id.
    api_user, html_user, wrong_user = users
    r = api_login(stack, api_user[0], api_user[2])
    assert r.status_code == 200, r.text
    assert stored_hash(stack, api_user[0]).startswith("$argon2id$")
    assert api_login(stack, api_user[0], api_user[2]).status_code == 200
    # Through the HTML form, the same.
    browser_login(stack, SimpleNamespace(username=html_user[0], password=html_user[2]))
    assert stored_hash(stack, html_user[0]).startswith("$argon2id$")
    # A wrong password is refused (the digest itself too) and changes nothing.
    for wrong in (wrong_user[2] + "x", wrong_user[3]):
        assert_problem(api_login(stack, wrong_user[0], wrong), 401, "invalid_credentials")
    assert_wrapped(stack, wrong_user)


def test_wrap_legacy_limit_wraps_exactly_that_many(stack, tmp_path):
    users = legacy_users(5)
    import_users(stack, tmp_path, users)
    before = bare_total(stack)
    assert before >= 5

    status, text = admin(stack, "wrap-legacy", "--limit", "3")
    assert status == 0 and "3 wrapped, %d still bare" % (before - 3) in text, text
    assert bare_total(stack) == before - 3
    # The pace changes how fast, not what: the rest goes at 50 a second.
    status, text = admin(stack, "wrap-legacy", "--per-second", "50")
    assert status == 0 and "%d wrapped, 0 still bare" % (before - 3) in text, text
    assert bare_among(stack, users) == []
    for u in users:
        assert_wrapped(stack, u)
    assert api_login(stack, users[0][0], users[0][2]).status_code == 200


def test_wrap_legacy_refuses_bad_options(stack):
    for args in (["--limit", "0"], ["--limit", "x"], ["--per-second", "-1"], ["--fast"],
                 ["extra"]):
        status, text = admin(stack, "wrap-legacy", *args)
        assert status == 2, (args, text)
        assert "wrap-legacy" in text, text


def test_a_user_with_a_live_reset_link_keeps_the_hash_and_the_link_works(stack, tmp_path):
    """A reset link is bound to the hash it was made with: wrapping would kill it."""
    user, other = legacy_users(2)
    import_users(stack, tmp_path, [user, other])
    r = Client(stack).post("/api/v1/auth/password/forgot", {"email": user[1]})
    assert r.status_code == 202, r.text
    token = link_token(stack, user[1], "/reset-password")

    status, text = admin(stack, "wrap-legacy")
    assert status == 0 and "1 still bare" in text, text
    assert stored_hash(stack, user[0]) == user[3]
    assert_wrapped(stack, other)

    password = new_password()
    r = Client(stack).post("/api/v1/auth/password/reset", {"token": token, "password": password})
    assert r.status_code == 204, r.text
    assert api_login(stack, user[0], password).status_code == 200
    assert stored_hash(stack, user[0]).startswith("$argon2id$")


def start_mailer(stack, per_second):
    """A second usermgr-mailer with the stack's mailer's environment and the pace set."""
    pid = stack.pid_from("mailer.pid")
    env = environ_of(pid)
    env["USERMGR_LEGACY_WRAP_PER_SECOND"] = str(per_second)
    log_path = os.path.join(stack.out_dir, "wrap-mailer.log")
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([os.readlink("/proc/%d/exe" % pid)], env=env,
                                stdin=subprocess.DEVNULL, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)
    return proc, log_path


def stop_mailer(proc):
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
    return proc.returncode


def test_the_mailer_wraps_bare_hashes_in_the_background(stack, tmp_path):
    users = legacy_users(4)
    import_users(stack, tmp_path, users)
    assert len(bare_among(stack, users)) == 4
    proc, log_path = start_mailer(stack, 50)
    try:
        done = wait_until(lambda: bare_among(stack, users) == [] or proc.poll() is not None, 60)
        def log():
            return read_text(log_path)

        assert proc.poll() is None, "the mailer exited: %s" % log()
        assert done, "bare hashes left after 60 s: %s\n%s" % (bare_among(stack, users), log())
        assert wait_until(lambda: "legacy hash(es) in Argon2id" in log(), 10), log()
    finally:
        status = stop_mailer(proc)
    assert status == 0, "the mailer's exit status after SIGTERM: %r" % status
    for u in users:
        assert_wrapped(stack, u)
    r = api_login(stack, users[0][0], users[0][2])
    assert r.status_code == 200, r.text
    assert stored_hash(stack, users[0][0]).startswith("$argon2id$")
