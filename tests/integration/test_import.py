"""test_import.py: `usermgr-admin import-legacy` in bulk (issue 16, item 3), on the stack's MariaDB.

The import writes batches of 8192 rows (fcgi/core/import.c), two at a time on two connections,
so the files here that must cross a batch boundary hold a little more than one batch, with the
rows that matter on either side of it. Every run's stderr is compared line by line: a row is
named by its line (or row) number and what was wrong, never by its content, and the last line
is the summary.
"""

import hashlib
import os
import pty
import re
import subprocess

import pytest

from api_lib import unique_name
from peers import sql, sql_quote
from test_admin_scale import assert_totals_match
from test_cli import ADMIN, admin, assert_imported, cli_env, legacy_database

BATCH = 8192


@pytest.fixture(scope="module", autouse=True)
def imports_removed(stack):
    """Deletes what this file imported (tens of thousands of accounts with bare hashes) once it
    is done, so the files after it (test_wrap.py wraps every bare hash) meet a small table."""
    before = int(sql(stack, "SELECT COALESCE(MAX(id), 0) FROM users")[0][0])
    yield
    sql(stack, "DELETE FROM users WHERE id > %d" % before)

HEADER = "username,email,password_sha256,verified"
DETAILS = '{"roles":["user"],"via":"usermgr-admin"}'
SUMMARY = re.compile(r"^usermgr-admin: import-legacy: (\d+) imported, (\d+) taken, (\d+) invalid,"
                     r" (\d+) present; (\d+) rows in \d+\.\d s \(\d+ rows/s\)$")
PROGRESS = re.compile(r"\r\x1b\[Kusermgr-admin: import-legacy: \d+ rows, \d+ rows/s,"
                      r" (\d+:\d\d:\d\d|\?) left")
TAKEN = "conflict: the %s taken"
BAD_USERNAME = ("validation_failed: username must be 3\u201332 characters: letters, digits, dot,"
                " underscore or hyphen")


def user(prefix, i, verified=True):
    """Seed-app user number I of a file: (username, email, password, sha256 hex, verified)."""
    name = "%s%05d" % (prefix, i)
    password = "Old-%s-pw" % name[::-1]
    return (name, name + "@bulk.example", password,
            hashlib.sha256(password.encode()).hexdigest(), verified)


def line(u):
    return "%s,%s,%s,%d" % (u[0], u[1], u[3], 1 if u[4] else 0)


def write_csv(tmp_path, name, lines):
    path = tmp_path / name
    path.write_text("\n".join([HEADER] + lines) + "\n", encoding="utf-8")
    return str(path)


def run(stack, *args, **extra):
    """Runs import-legacy ARGS; returns (exit status, stderr lines before the summary, counts)."""
    status, text = admin(stack, "import-legacy", *args, **extra)
    lines = text.splitlines()
    m = SUMMARY.match(lines[-1]) if lines else None
    assert m, "no summary line at the end: %r" % text[-500:]
    counts = dict(zip(("imported", "taken", "invalid", "present", "rows"),
                      (int(g) for g in m.groups())))
    return status, lines[:-1], counts


def in_pty(stack, *args, **extra):
    """Runs import-legacy ARGS with stdout and stderr on a pseudo-terminal; returns the bytes."""
    main, sub = pty.openpty()
    proc = subprocess.Popen([ADMIN, "import-legacy"] + list(args), env=cli_env(stack, **extra),
                            stdin=subprocess.DEVNULL, stdout=sub, stderr=sub, close_fds=True)
    os.close(sub)
    out = b""
    while True:
        try:
            chunk = os.read(main, 65536)
        except OSError:  # EIO: the other side is closed
            break
        if not chunk:
            break
        out += chunk
    os.close(main)
    assert proc.wait(timeout=120) == 0, out[-500:]
    return out.decode("utf-8", "replace")


def accounts(stack, prefix):
    """Per imported account of PREFIX: (username, verified?, its roles, its import events)."""
    return sql(stack, "SELECT u.username, u.email_verified_at IS NOT NULL,"
               " (SELECT GROUP_CONCAT(r.name) FROM user_roles ur JOIN roles r ON r.id = ur.role_id"
               "  WHERE ur.user_id = u.id),"
               " (SELECT COUNT(*) FROM audit_events e WHERE e.user_id = u.id"
               "  AND e.event = 'user_imported' AND e.actor_id IS NULL AND e.ip IS NULL"
               "  AND e.details = %s)"
               " FROM users u WHERE u.username LIKE %s ORDER BY u.username"
               % (sql_quote(DETAILS), sql_quote(prefix + "%")))


def assert_accounts(stack, prefix, users):
    """Exactly USERS exist under PREFIX, each with the role `user` and one user_imported event."""
    assert accounts(stack, prefix) == [[u[0], "1" if u[4] else "0", "user", "1"]
                                       for u in sorted(users)]


def test_a_file_of_more_than_a_batch_imports_the_valid_rows_and_names_the_others(stack, tmp_path):
    p = unique_name("b")
    old = [user(p + "old", i) for i in (1, 2)]
    status, out, counts = run(stack, write_csv(tmp_path, "old.csv", [line(u) for u in old]))
    assert (status, out, counts["imported"]) == (0, [], 2)

    n = BATCH + 1500
    users = [user(p, i, verified=i % 3 != 0) for i in range(n)]
    lines = [line(u) for u in users]          # line k of the file is lines[k - 2]
    hexdigest = users[0][3]

    def other(k, name, email, why):
        lines[k - 2] = "%s,%s,%s,1" % (name, email, hexdigest)
        return k, why
    # The first batch ends on line 8193, the second starts on line 8194.
    expect = dict([
        other(10, p + "x10", users[2][1].upper(), TAKEN % "e-mail address is"),  # line 4's
        other(11, users[5][0].upper(), users[5][1], TAKEN % "username and e-mail address are"),
        other(20, old[0][0], "fresh20@bulk.example", TAKEN % "username is"),  # an account's
        other(8193, "bad name", "x@bulk.example", BAD_USERNAME),
        other(8194, p + "x8194", "x8194@bulk.example",
              "validation_failed: password_sha256 is not 64 hex digits"),
        other(8195, users[8190][0], "fresh8195@bulk.example", TAKEN % "username is"),  # 8192's
        other(8196, p + "x8196", users[8189][1], TAKEN % "e-mail address is"),  # line 8191's
        other(9000, p + "x9000", old[1][1], TAKEN % "e-mail address is"),  # an account's
        (n + 1, "validation_failed: not four CSV fields"),
    ])
    lines[8194 - 2] = lines[8194 - 2].replace(hexdigest, hexdigest[1:])
    lines[n + 1 - 2] = "just,three,fields"
    status, out, counts = run(stack, write_csv(tmp_path, "seed.csv", lines))

    assert status == 0, out
    assert out == ["line %d: %s" % (k, expect[k]) for k in sorted(expect)]
    imported = [u for k, u in enumerate(users, 2) if k not in expect]
    assert counts == {"imported": n - 9, "taken": 6, "invalid": 3, "present": 0, "rows": n}
    # Nothing of a row's content is echoed (addresses and hashes stay out of logs).
    text = "\n".join(out)
    assert "@" not in text and hexdigest not in text and p not in text
    assert_accounts(stack, p + "0", imported)
    # The import adds each batch's totals itself (its insert trigger stays out of the way).
    assert_totals_match(stack)
    # The old password works once, for a row on each side of the boundary.
    for u in (users[1], users[8200]):
        assert_imported(stack, u)


def test_if_absent_resumes_an_interrupted_import_and_without_it_every_row_is_taken(
        stack, tmp_path):
    p = unique_name("r")
    users = [user(p, i, verified=i % 2 == 0) for i in range(2 * 5000)]
    lines = [line(u) for u in users]
    half = write_csv(tmp_path, "half.csv", lines[:5000])
    whole = write_csv(tmp_path, "whole.csv", lines)

    status, out, counts = run(stack, half)
    assert (status, out, counts["imported"]) == (0, [], 5000)
    status, out, counts = run(stack, "--if-absent", whole)
    assert status == 0 and out == []
    assert counts == {"imported": 5000, "taken": 0, "invalid": 0, "present": 5000,
                      "rows": 10000}
    assert_accounts(stack, p, users)

    status, out, counts = run(stack, whole)
    assert status == 0
    assert out == ["line %d: %s" % (k, TAKEN % "username and e-mail address are")
                   for k in range(2, 10002)]
    assert counts == {"imported": 0, "taken": 10000, "invalid": 0, "present": 0,
                      "rows": 10000}
    status, out, counts = run(stack, "--if-absent", whole)
    assert (status, out, counts["present"]) == (0, [], 10000)
    assert_accounts(stack, p, users)
    assert_totals_match(stack)


def test_if_absent_still_reports_a_row_that_matches_an_account_only_in_part(stack, tmp_path):
    p = unique_name("c")
    a, b, fresh = user(p, 1), user(p, 2), user(p, 3)
    status, out, _ = run(stack, write_csv(tmp_path, "ab.csv", [line(a), line(b)]))
    assert (status, out) == (0, [])
    rows = [
        "%s,%s,%s,1" % (a[0].upper(), a[1].upper(), a[3]),  # line 2: the same account: present
        "%s,%s,%s,1" % (a[0], b[1], a[3]),                  # line 3: two accounts' parts
        "%s,%s,%s,1" % (a[0], fresh[1], a[3]),              # line 4: the username only
        "%s,%s,%s,1" % (fresh[0], b[1], a[3]),              # line 5: the address only
    ]
    status, out, counts = run(stack, "--if-absent", write_csv(tmp_path, "part.csv", rows))
    assert status == 0
    assert out == ["line 3: " + TAKEN % "username and e-mail address are",
                   "line 4: " + TAKEN % "username is",
                   "line 5: " + TAKEN % "e-mail address is"]
    assert counts == {"imported": 0, "taken": 3, "invalid": 0, "present": 1, "rows": 4}
    assert_accounts(stack, p, [a, b])


def test_a_terminal_sees_one_self_overwriting_progress_line_and_a_pipe_none(stack, tmp_path):
    p = unique_name("t")
    path = write_csv(tmp_path, "seed.csv", [line(user(p, i)) for i in range(3000)])
    out = in_pty(stack, path)
    # Progress lines only, each drawn over the one before, then the summary in their place.
    progress, last = out.rsplit("\r\x1b[K", 1)
    assert re.fullmatch("(%s)+" % PROGRESS.pattern, progress), repr(out[:300])
    assert SUMMARY.match(last.rstrip("\r\n")), repr(last)
    assert "3000 imported" in last

    status, text = admin(stack, "import-legacy", "--if-absent", path)
    assert status == 0 and "\r" not in text and " left" not in text
    assert "0 imported, 0 taken, 0 invalid, 3000 present" in text


def test_a_table_is_imported_the_same_way_with_row_numbers_progress_and_if_absent(stack):
    p = unique_name("d")
    good = [user(p, i, verified=i % 2 == 0) for i in range(1, 6)]
    rows = [(u[0], u[1], u[3], u[4]) for u in good]
    # Rows are read in username order: letters sort after digits.
    rows += [(p + "ydup", good[1][1].upper(), "c" * 64, 1),          # row 6: address taken
             (p + "ynohash", p + "ynohash@bulk.example", None, 1),  # row 7: no hash
             (p + "z", good[2][1], "d" * 64, 1)]                    # row 8: address taken
    db, dbuser, password = legacy_database(stack, rows, table="seed_users")
    sock = os.path.join(stack.state_dir, "run", "mysqld.sock")
    url = "mariadb://%s@localhost/%s?unix_socket=%s&table=seed_users" % (dbuser, db, sock)

    status, out, counts = run(stack, "--dsn", url, USERMGR_LEGACY_DB_PASSWORD=password)
    assert status == 0
    assert out == ["row 6: " + TAKEN % "e-mail address is",
                   "row 7: validation_failed: password_sha256 is not 64 hex digits",
                   "row 8: " + TAKEN % "e-mail address is"]
    assert counts == {"imported": 5, "taken": 2, "invalid": 1, "present": 0, "rows": 8}
    assert_accounts(stack, p, good)
    assert_imported(stack, good[1])

    out = in_pty(stack, "--if-absent", "--dsn", url, USERMGR_LEGACY_DB_PASSWORD=password)
    assert PROGRESS.search(out), out[:300]
    assert [s.split(": ", 1)[0] for s in re.split(r"\r\x1b\[K|\r\n", out) if s.startswith("row ")] \
        == ["row 6", "row 7", "row 8"]
    assert "0 imported, 2 taken, 1 invalid, 5 present" in out

    status, text = admin(stack, "import-legacy", "--dsn=" + url,
                         USERMGR_LEGACY_DB_PASSWORD=password)
    assert status == 0 and "\r" not in text and " left" not in text
    assert "0 imported, 7 taken, 1 invalid, 0 present" in text
