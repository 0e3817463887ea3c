"""test_admin_scale.py: the admin user list's query shapes and the kept /metrics totals (issue 16).

At a million users every page must be an index range read in index order (directory.c): the
plans are checked through `usermgr-admin explain`, the paging orders and short pages through
the API and the pages, and the totals /metrics reports against COUNT(*) of the tables.
"""

import base64
import json
import subprocess
import time
import types

import pytest

from api_lib import Client, browser_login, register, sql, unique_name
from stack import ADMIN_PASSWORD, ADMIN_USERNAME
from test_cli import ADMIN, admin, cli_env

# Each shape: the index its range reads.
SHAPE_KEYS = {"by_id": "PRIMARY", "by_status": "users_status",
              "by_unverified": "users_unverified", "by_role": "user_roles_role",
              "by_name": "users_username", "by_email": "users_email"}


@pytest.fixture(scope="module")
def token(stack):
    r = Client(stack).post("/api/v1/auth/login", {"login": ADMIN_USERNAME,
                                                  "password": ADMIN_PASSWORD})
    assert r.status_code == 200, r.text
    return r.json()["access_token"]


def search(stack, token, **query):
    r = Client(stack).get("/api/v1/admin/users", token=token, params=query)
    assert r.status_code == 200, r.text
    return r.json()


def everyone(stack, token, **query):
    """Every page of a search: the users' names in order, and how many pages it took."""
    names, pages, cursor = [], 0, None
    while True:
        body = search(stack, token, **dict(query, **({"cursor": cursor} if cursor else {})))
        names += [u["username"] for u in body["users"]]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            return names, pages
        assert pages < 100, "the cursor never ends"


def insert_users(stack, prefix, n, verified=True, extra=""):
    """n users PREFIX00000.. straight in SQL (the triggers count them like any other)."""
    sql(stack, "INSERT INTO users (username, email, password_hash, email_verified_at) "
               "SELECT CONCAT('%s', LPAD(seq, 5, '0')), CONCAT('%s', LPAD(seq, 5, '0'), "
               "'@example.com'), '!', %s FROM seq_1_to_%d %s"
        % (prefix, prefix, "UTC_TIMESTAMP(6)" if verified else "NULL", n, extra))


def test_no_search_shape_scans_the_table_or_sorts_its_matches(stack):
    out = subprocess.run([ADMIN, "explain"], env=cli_env(stack), capture_output=True,
                         timeout=60, check=False)
    assert out.returncode == 0, out.stderr
    plans = json.loads(out.stdout)
    assert set(plans) == set(SHAPE_KEYS)
    for shape, rows in plans.items():
        first = rows[0]
        assert first["key"] == SHAPE_KEYS[shape], (shape, first)
        assert first["type"] == "range", (shape, first)
        for row in rows:
            assert row["type"] != "ALL", (shape, row)
            assert "filesort" not in row["Extra"] and "temporary" not in row["Extra"], \
                (shape, row)
            # A semi-join would collect every member of a role before the first row.
            assert row["select_type"] != "MATERIALIZED", (shape, row)


def test_a_prefix_search_pages_names_then_addresses_and_finds_each_match_once(stack, token):
    p = unique_name("pq")[:10]
    # By name: p+"c", p+"a", p+"b"; by address only: two whose names do not match.
    for suffix in ("c", "a", "b"):
        sql(stack, "INSERT INTO users (username, email, password_hash) VALUES "
                   "('%s%s', 'x%s%s@example.com', '!')" % (p, suffix, p, suffix))
    for name, mail in (("zz%s1" % p, "%sm2@example.com" % p), ("zy%s2" % p,
                                                              "%sm1@example.com" % p)):
        sql(stack, "INSERT INTO users (username, email, password_hash) VALUES "
                   "('%s', '%s', '!')" % (name, mail))
    names, pages = everyone(stack, token, q=p, limit=2)
    assert names == [p + "a", p + "b", p + "c", "zy%s2" % p, "zz%s1" % p], names
    assert pages == 3


def test_the_html_list_follows_the_same_order_with_its_next_link(stack):
    p = unique_name("ph")[:10]
    for i in range(55):
        sql(stack, "INSERT INTO users (username, email, password_hash) VALUES "
                   "('%s%02d', '%s%02d@example.com', '!')" % (p, 54 - i, p, 54 - i))
    c = browser_login(stack, types.SimpleNamespace(username=ADMIN_USERNAME,
                                                   password=ADMIN_PASSWORD))
    r = c.get("/admin/users", params={"q": p})
    assert r.status_code == 200, r.text
    first = r.text
    assert first.index(p + "00") < first.index(p + "49"), "not in name order"
    assert p + "50" not in first
    start = first.index('/admin/users?q=%s&amp;role=&amp;status=&amp;after=' % p)
    link = first[start:first.index('"', start)].replace("&amp;", "&")
    r = c.get(link)
    assert r.status_code == 200, r.text
    for i in range(50, 55):
        assert "%s%02d" % (p, i) in r.text
    assert p + "49" not in r.text


def test_filters_broad_alone_but_narrow_together_give_short_pages_never_a_scan(stack, token):
    # 2100 members of a new role, verified but the last; over a thousand unverified
    # others: each filter alone saturates its probe, so the role's range drives, 2000
    # entries a page, and the first page comes back empty with a cursor to go on.
    role = unique_name("sr")[:20]
    p = unique_name("s")[:8]
    assert search(stack, token)["users"] is not None
    sql(stack, "INSERT INTO roles (name, description) VALUES ('%s', '')" % role)
    insert_users(stack, p, 2100)
    insert_users(stack, p + "x", 1100, verified=False)
    sql(stack, "INSERT INTO user_roles (user_id, role_id) SELECT u.id, r.id FROM users u, "
               "roles r WHERE r.name = '%s' AND u.username LIKE '%s0%%'" % (role, p))
    last = "%s%05d" % (p, 2100)
    sql(stack, "UPDATE users SET email_verified_at = NULL WHERE username = '%s'" % last)
    first = search(stack, token, role=role, status="unverified")
    assert first["users"] == [] and first["next_cursor"] is not None, first
    names, pages = everyone(stack, token, role=role, status="unverified")
    assert names == [last] and pages == 2, (names, pages)


def test_a_cursor_this_server_did_not_make_is_a_400(stack, token):
    c = Client(stack)
    for bad in ("x", base64.urlsafe_b64encode(b"x:abc").decode().rstrip("="),
                base64.urlsafe_b64encode(b"u:\xff\xfe").decode().rstrip("="),
                base64.urlsafe_b64encode(b"u:a\x00b").decode().rstrip("="), "%%%"):
        r = c.get("/api/v1/admin/users", token=token, params={"cursor": bad})
        assert r.status_code == 400, (bad, r.status_code, r.text)
        assert r.json()["code"] == "validation_failed", r.json()


def metrics(stack):
    r = Client(stack).get("/metrics")
    assert r.status_code == 200, r.text
    out = {}
    for line in r.text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            out[name] = float(value)
    return out


def table_counts(stack):
    q = ("SELECT (SELECT COUNT(*) FROM users WHERE status = 'active'),"
         " (SELECT COUNT(*) FROM users WHERE status = 'disabled'),"
         " (SELECT COUNT(*) FROM users WHERE email_verified_at IS NULL),"
         " (SELECT COUNT(*) FROM users WHERE legacy_bare),"
         " (SELECT COUNT(*) FROM users WHERE password_hash LIKE '$sha256$%%'),"
         " (SELECT COUNT(*) FROM email_outbox WHERE status = 'queued'),"
         " (SELECT COUNT(*) FROM email_outbox WHERE status = 'sent'),"
         " (SELECT COUNT(*) FROM email_outbox WHERE status = 'failed')")
    names = ['usermgr_users{status="active"}', 'usermgr_users{status="disabled"}',
             "usermgr_users_unverified", 'usermgr_legacy_password_hashes{form="bare"}',
             'usermgr_legacy_password_hashes{form="wrapped"}',
             'usermgr_outbox_messages{status="queued"}',
             'usermgr_outbox_messages{status="sent"}',
             'usermgr_outbox_messages{status="failed"}']
    return dict(zip(names, (float(v) for v in sql(stack, q)[0])))


def assert_totals_match(stack):
    """/metrics and the tables agree, read while nothing moved: the mailer sends queued mail
    on its own, so a reading with a change between its two halves is taken again."""
    for _ in range(50):
        before, t, after = metrics(stack), table_counts(stack), metrics(stack)
        m = {k: before[k] for k in t}
        if m == {k: after[k] for k in t}:
            assert m == t
            return
        time.sleep(0.1)
    raise AssertionError("the totals never held still")


def test_metrics_totals_follow_every_change_and_match_the_tables(stack, token, tmp_path):
    assert_totals_match(stack)
    account = register(stack)                       # active, unverified, mail queued
    assert_totals_match(stack)
    sql(stack, "UPDATE users SET email_verified_at = UTC_TIMESTAMP(6) WHERE id = %s"
        % int(account.id))
    c = Client(stack)
    r = c.json("PATCH", "/api/v1/admin/users/%s" % account.id, {"status": "disabled"},
               token=token)
    assert r.status_code == 200, r.text
    assert_totals_match(stack)
    csv = tmp_path / "legacy.csv"
    p = unique_name("lg")[:10]
    csv.write_text("username,email,password_sha256,verified\n" + "".join(
        "%s%d,%s%d@example.com,%s,%d\n" % (p, i, p, i, "%064x" % (i + 1), i % 2)
        for i in range(5)))
    status, out = admin(stack, "import-legacy", str(csv))
    assert status == 0, out
    assert_totals_match(stack)
    r = c.request("DELETE", "/api/v1/admin/users/%s" % account.id, token=token)
    assert r.status_code == 204, r.text
    sql(stack, "UPDATE email_outbox SET status = 'failed' WHERE status = 'queued' LIMIT 1")
    assert_totals_match(stack)


def test_rows_of_gone_connections_fold_into_one_and_keep_the_totals(stack):
    before = metrics(stack)
    sql(stack, "INSERT INTO counts (node, conn, users_active, touched_at) VALUES "
               "('gone:1', 7, 5, UTC_TIMESTAMP(6) - INTERVAL 2 HOUR),"
               " ('gone:1', 8, 2, UTC_TIMESTAMP(6) - INTERVAL 3 HOUR)")
    before = metrics(stack)
    status, out = admin(stack, "prune")
    assert status == 0, out
    assert sql(stack, "SELECT COUNT(*) FROM counts WHERE node = 'gone:1'") == [["0"]]
    after = metrics(stack)
    assert after['usermgr_users{status="active"}'] == before['usermgr_users{status="active"}']
    # Undo the made-up seven, so the stack's totals match its tables again.
    sql(stack, "UPDATE counts SET users_active = users_active - 7 WHERE node = '' AND conn = 0")
    assert_totals_match(stack)
