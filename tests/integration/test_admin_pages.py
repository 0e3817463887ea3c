"""test_admin_pages.py: the /admin HTML pages (API.md §3) through the real stack.

The admin is the bootstrap user `admin`, signed in through the HTML login form in a browser of its
own (api_lib.Client: its own cookie jar and loopback source address); the accounts acted on are
fresh sign-ups. Every action is a CSRF-checked form POST answered with 303 (PRG).
"""

import html
import re
import secrets
import types

import pytest

from api_lib import (Client, browser_login, csrf_of, login, mail_count, newest_mail, register,
                     sql)
from stack import ADMIN_PASSWORD, ADMIN_USERNAME

RESET_SUBJECT = "Reset your usermgr password"
VERIFY_SUBJECT = "Verify your e-mail address"


@pytest.fixture(scope="module")
def admin(stack):
    """A browser signed in as the bootstrap admin, with its user id."""
    c = browser_login(stack, types.SimpleNamespace(username=ADMIN_USERNAME,
                                                   password=ADMIN_PASSWORD))
    c.id = sql(stack, "SELECT id FROM users WHERE username = 'admin'")[0][0]
    return c


def get(client, path, status=200):
    r = client.get(path)
    assert r.status_code == status, "GET %s: %d %r" % (path, r.status_code, r.text[:300])
    return r


def act(admin, user_id, action, extra=None):
    """POSTs the ACTION form of the user's page with the page's csrf_token."""
    token = csrf_of(get(admin, "/admin/users/%s" % user_id).text)
    fields = [("csrf_token", token)] + list(extra or [])
    return admin.form("/admin/users/%s/%s" % (user_id, action), fields)


def audited(stack, user_id, event):
    """[(actor_id)] of the EVENT rows about USER_ID."""
    return [str(r[0]) for r in sql(stack, "SELECT actor_id FROM audit_events WHERE user_id = %d"
                                   " AND event = '%s' ORDER BY id" % (int(user_id), event))]


def column(stack, user_id, expr):
    return sql(stack, "SELECT %s FROM users WHERE id = %d" % (expr, int(user_id)))[0][0]


# --- who may see the pages ---------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/admin/users", "/admin/users/1", "/admin/audit",
                                  "/admin/roles"])
def test_anonymous_visitors_are_sent_to_the_login_page(stack, path):
    r = Client(stack).get(path)
    assert r.status_code == 303, r.status_code
    assert r.headers["Location"].startswith("/login?next="), r.headers["Location"]


@pytest.mark.parametrize("path", ["/admin/users", "/admin/users/1", "/admin/audit",
                                  "/admin/roles"])
def test_a_normal_user_gets_403(stack, path):
    account = register(stack, verified=True)
    c = browser_login(stack, account)
    assert c.get(path).status_code == 403


def test_a_normal_user_cannot_post_an_action(stack):
    victim = register(stack, verified=True)
    account = register(stack, verified=True)
    c = browser_login(stack, account)
    token = csrf_of(get(c, "/profile").text)
    r = c.form("/admin/users/%s/disable" % victim.id, {"csrf_token": token})
    assert r.status_code == 403, r.status_code
    assert column(stack, victim.id, "status") == "active"


# --- /admin/users ------------------------------------------------------------------------------

def test_the_user_list_renders_and_searches_by_prefix_ignoring_case(stack, admin):
    a = register(stack)
    page = get(admin, "/admin/users").text
    assert "<h1" in page and "Users" in page
    page = get(admin, "/admin/users?q=" + a.username[:9].upper()).text
    assert a.username in page and ("/admin/users/%s" % a.id) in page
    link = 'href="/admin/users/%s"' % a.id
    page = get(admin, "/admin/users?q=" + a.username + "&status=disabled").text
    assert link not in page
    page = get(admin, "/admin/users?q=" + a.username + "&status=unverified").text
    assert link in page
    assert admin.get("/admin/users?status=bogus").status_code == 400


def test_the_user_list_pages_50_at_a_time_with_after(stack, admin):
    total = int(sql(stack, "SELECT COUNT(*) FROM users")[0][0])
    for _ in range(max(0, 51 - total)):
        register(stack)
    page = get(admin, "/admin/users").text
    m = re.search(r'href="(/admin/users\?[^"]*after=(\d+))"', page)
    assert m, "no next-page link on a full page"
    first = set(re.findall(r'href="/admin/users/(\d+)"', page))
    assert len(first) == 50, len(first)
    second = set(re.findall(r'href="/admin/users/(\d+)"', get(admin, html.unescape(m.group(1))).text))
    assert second and not (first & second), (first & second)
    assert min(int(i) for i in second) > int(m.group(2))


# --- actions -----------------------------------------------------------------------------------

def test_the_user_page_shows_the_account_and_its_actions(stack, admin):
    a = register(stack)
    page = get(admin, "/admin/users/%s" % a.id).text
    assert a.username in page and a.email in page
    for action in ("roles", "disable", "verify", "resend-verification", "force-password-reset",
                   "delete"):
        assert 'action="/admin/users/%s/%s"' % (a.id, action) in page, action
    assert admin.get("/admin/users/999999999").status_code == 404


def test_disable_and_enable_work_and_are_audited(stack, admin):
    a = register(stack, verified=True)
    pair = login(a)
    r = act(admin, a.id, "disable")
    assert r.status_code == 303 and r.headers["Location"] == "/admin/users/%s?done=disable" % a.id
    assert column(stack, a.id, "status") == "disabled"
    assert a.client.get("/api/v1/me", token=pair["access_token"]).status_code == 401
    assert audited(stack, a.id, "user_disabled") == [str(admin.id)]
    assert "disabled" in get(admin, r.headers["Location"]).text
    r = act(admin, a.id, "enable")
    assert r.status_code == 303
    assert column(stack, a.id, "status") == "active"
    assert audited(stack, a.id, "user_enabled") == [str(admin.id)]
    login(a)


def test_verify_marks_the_address_verified(stack, admin):
    a = register(stack)
    assert act(admin, a.id, "verify").status_code == 303
    assert column(stack, a.id, "email_verified_at IS NOT NULL") in (1, "1")
    assert audited(stack, a.id, "user_verified") == [str(admin.id)]


def test_resend_verification_mails_a_new_link(stack, admin):
    a = register(stack)
    before = mail_count(stack, a.email)
    assert act(admin, a.id, "resend-verification").status_code == 303
    assert mail_count(stack, a.email) == before + 1
    assert VERIFY_SUBJECT in newest_mail(stack, a.email)[0]
    assert audited(stack, a.id, "verification_resent_by_admin") == [str(admin.id)]


def test_force_password_reset_voids_the_password_ends_sessions_and_mails_a_link(stack, admin):
    a = register(stack, verified=True)
    browser = browser_login(stack, a)
    assert browser.get("/auth/check").status_code == 204
    r = act(admin, a.id, "force-password-reset")
    assert r.status_code == 303, r.text
    assert browser.get("/auth/check").status_code == 401
    r = a.client.post("/api/v1/auth/login", {"login": a.username, "password": a.password})
    assert r.status_code == 401 and r.json()["code"] == "invalid_credentials", r.text
    mail = newest_mail(stack, a.email, RESET_SUBJECT)
    assert mail is not None and stack.base_url + "/reset-password?token=" in mail[1]
    assert audited(stack, a.id, "password_reset_forced") == [str(admin.id)]


def test_roles_are_set_from_the_checkboxes(stack, admin):
    name = "p" + secrets.token_hex(4)
    token = csrf_of(get(admin, "/admin/roles").text)
    assert admin.form("/admin/roles", {"csrf_token": token, "name": name}).status_code == 303
    a = register(stack)
    r = act(admin, a.id, "roles", [("roles", "user"), ("roles", name)])
    assert r.status_code == 303, r.text
    roles = sorted(x[0] for x in sql(stack, "SELECT r.name FROM user_roles ur JOIN roles r ON "
                                     "r.id = ur.role_id WHERE ur.user_id = %d" % int(a.id)))
    assert roles == sorted(["user", name])
    assert audited(stack, a.id, "roles_changed") == [str(admin.id)]
    r = act(admin, a.id, "roles", [("roles", "wizard")])
    assert r.status_code == 400 and "wizard" in r.text


def test_delete_removes_the_account_and_returns_to_the_list(stack, admin):
    a = register(stack)
    r = act(admin, a.id, "delete")
    assert r.status_code == 303 and r.headers["Location"].startswith("/admin/users?"), r.headers
    assert sql(stack, "SELECT COUNT(*) FROM users WHERE id = %d" % int(a.id))[0][0] in (0, "0")
    assert audited(stack, a.id, "user_deleted") == [str(admin.id)]
    assert admin.get("/admin/users/%s" % a.id).status_code == 404
    # The list the admin lands on says what happened (PRG: the message comes with the redirect).
    page = get(admin, r.headers["Location"]).text
    assert "The account was deleted." in page


def test_an_unknown_action_is_404(stack, admin):
    a = register(stack)
    assert act(admin, a.id, "promote").status_code == 404


def test_the_admin_cannot_disable_delete_or_force_reset_themselves(stack, admin):
    page = get(admin, "/admin/users/%s" % admin.id).text
    for action in ("disable", "delete", "force-password-reset"):
        assert "/%s\"" % action not in page, "the own page offers %s" % action
    before = column(stack, admin.id, "password_hash")
    for action in ("disable", "delete", "force-password-reset"):
        assert act(admin, admin.id, action).status_code == 409, action
    assert column(stack, admin.id, "status") == "active"
    assert column(stack, admin.id, "password_hash") == before
    assert get(admin, "/admin/users").status_code == 200  # still signed in


def test_an_action_without_a_csrf_token_is_403_and_changes_nothing(stack, admin):
    a = register(stack, verified=True)
    for action in ("disable", "delete", "force-password-reset"):
        r = admin.form("/admin/users/%s/%s" % (a.id, action), {"confirm": "1"})
        assert r.status_code == 403, (action, r.status_code)
        r = admin.form("/admin/users/%s/%s" % (a.id, action), {"csrf_token": "forged"})
        assert r.status_code == 403, (action, r.status_code)
    assert column(stack, a.id, "status") == "active"
    assert audited(stack, a.id, "user_disabled") == []
    login_ok = a.client.post("/api/v1/auth/login", {"login": a.username, "password": a.password})
    # Verified and still active, so exactly 200; a disabled account would be 403 account_disabled.
    assert login_ok.status_code == 200, login_ok.text


# --- /admin/audit and /admin/roles -------------------------------------------------------------

def test_the_audit_page_filters_by_user_and_event(stack, admin):
    a = register(stack, verified=True)
    login(a)
    events = [r["event"] for r in audit_rows(get(admin, "/admin/audit?user_id=%s" % a.id).text)]
    assert "login_succeeded" in events and "registered" in events, events
    assert events.index("login_succeeded") < events.index("registered"), "newest first"
    events = [r["event"] for r in audit_rows(get(admin, "/admin/audit?user_id=%s&event=registered"
                                                 % a.id).text)]
    assert events == ["registered"], events
    assert admin.get("/admin/audit?user_id=abc").status_code == 400


AUDIT_ROW = re.compile(r"<tr>\s*(<td>.*?</td>)\s*</tr>", re.S)
AUDIT_CELL = re.compile(r"<td>(.*?)</td>", re.S)


def audit_rows(page, columns=("id", "event", "user", "by", "time", "address", "details")):
    """The rows of an audit table as dicts of cell HTML (the /admin/audit columns by default)."""
    body = page.split("<tbody>", 1)[1].split("</tbody>", 1)[0] if "<tbody>" in page else ""
    rows = []
    for m in AUDIT_ROW.finditer(body):
        cells = [c.strip() for c in AUDIT_CELL.findall(m.group(1))]
        assert len(cells) == len(columns), cells
        row = dict(zip(columns, cells))
        row["event"] = re.sub(r"<[^>]+>", "", row["event"])
        rows.append(row)
    return rows


def linked(user_id, name):
    return '<a href="/admin/users/%s">%s</a>' % (user_id, html.escape(name))


def test_the_audit_log_names_accounts_by_their_username_linked_to_their_page(stack, admin):
    a = register(stack, verified=True)
    assert act(admin, a.id, "disable").status_code == 303
    rows = audit_rows(get(admin, "/admin/audit?user_id=%s" % a.id).text)
    disabled = [r for r in rows if r["event"] == "user_disabled"]
    assert len(disabled) == 1, rows
    assert disabled[0]["user"] == linked(a.id, a.username), disabled
    assert disabled[0]["by"] == linked(admin.id, "admin"), disabled
    # A sign-up is the person's own act.
    registered = [r for r in rows if r["event"] == "registered"]
    assert [r["by"] for r in registered] == [linked(a.id, a.username)], rows
    # The user's own page says who acted the same way.
    rows = audit_rows(get(admin, "/admin/users/%s" % a.id).text,
                      ("event", "time", "by", "address"))
    assert linked(admin.id, "admin") in [r["by"] for r in rows if r["event"] == "user_disabled"]
    # No account acted: the bootstrap admin was made by usermgr-admin on the first start.
    rows = audit_rows(get(admin, "/admin/audit?user_id=%s&event=user_created" % admin.id).text)
    assert rows and all(r["by"] == "system" for r in rows), rows


def test_the_audit_log_names_a_deleted_account_by_its_number(stack, admin):
    gone = register(stack, verified=True)
    assert act(admin, gone.id, "delete").status_code == 303
    rows = audit_rows(get(admin, "/admin/audit?user_id=%s" % gone.id).text)
    assert {r["event"] for r in rows} >= {"registered", "user_deleted"}, rows
    for r in rows:
        assert r["user"] == "deleted user #%s" % gone.id, r
    registered = [r for r in rows if r["event"] == "registered"]
    assert registered[0]["by"] == "deleted user #%s" % gone.id, registered
    deleted = [r for r in rows if r["event"] == "user_deleted"]
    assert deleted[0]["by"] == linked(admin.id, "admin"), deleted


def test_the_audit_log_filters_by_username(stack, admin):
    a = register(stack, verified=True)
    other = register(stack, verified=True)
    login(a)
    login(other)
    page = get(admin, "/admin/audit?username=%s" % a.username.upper()).text
    assert 'id="f-username" name="username" type="text" value="%s"' % a.username.upper() in page
    rows = audit_rows(page)
    assert {r["event"] for r in rows} >= {"registered", "login_succeeded"}, rows
    assert all(r["user"] == linked(a.id, a.username) for r in rows), rows
    rows = audit_rows(get(admin, "/admin/audit?username=%s&event=registered"
                          % other.username).text)
    assert [(r["event"], r["user"]) for r in rows] == [
        ("registered", linked(other.id, other.username))], rows
    assert audit_rows(get(admin, "/admin/audit?username=nobody-%s" % secrets.token_hex(4)).text) \
        == []
    assert admin.get("/admin/audit?username=" + "x" * 33).status_code == 400


def test_the_audit_event_filter_is_a_choice_among_the_known_events(stack, admin):
    page = get(admin, "/admin/audit?event=roles_changed").text
    select = re.search(r'<select id="f-event" name="event">(.*?)</select>', page, re.S)
    assert select, "the event filter is not a <select>: %r" % page[:3000]
    options = re.findall(r'<option value="([^"]*)"( selected)?>', select.group(1))
    names = [v for v, _ in options]
    assert names[0] == "", "the first choice is any event: %r" % names
    for known in ("registered", "login_succeeded", "login_failed", "roles_changed",
                  "user_disabled", "user_deleted", "role_created", "mfa_enabled",
                  "user_created", "user_imported"):
        assert known in names, "%s is not offered: %r" % (known, names)
    assert len(names) == len(set(names)), names
    assert [v for v, sel in options if sel] == ["roles_changed"], options
    r = admin.get("/admin/audit?event=no_such_event")
    assert r.status_code == 400, r.status_code
    assert "Choose an event from the list." in r.text


def test_the_roles_page_lists_and_creates_roles(stack, admin):
    page = get(admin, "/admin/roles").text
    assert "<code>admin</code>" in page and "<code>user</code>" in page
    name = "q" + secrets.token_hex(4)
    token = csrf_of(page)
    r = admin.form("/admin/roles", {"csrf_token": token, "name": name, "description": "Tests"})
    assert r.status_code == 303 and r.headers["Location"] == "/admin/roles?done=created"
    assert name in get(admin, "/admin/roles").text
    r = admin.form("/admin/roles", {"csrf_token": token, "name": name})
    assert r.status_code == 409
    r = admin.form("/admin/roles", {"csrf_token": token, "name": "Bad Name"})
    assert r.status_code == 400 and "Bad Name" in r.text
    # The summary above the form names the field, like every refused form.
    summary = re.search(r'<div class="error-summary" role="alert".*?</div>', r.text, re.S)
    assert summary and '<a href="#f-name">Name must be' in summary.group(0), r.text[:2000]
    r = admin.form("/admin/roles", {"name": "nocsrf" + secrets.token_hex(3)})
    assert r.status_code == 403
    assert sql(stack, "SELECT COUNT(*) FROM audit_events WHERE event = 'role_created' AND "
               "details LIKE '%%%s%%'" % name)[0][0] in (1, "1")
