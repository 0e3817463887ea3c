"""test_account_pages.py: the signed-in /account/* pages (API.md §3, §7) through the real stack.

Each test signs a fresh user up through POST /api/v1/users, marks the address verified in the
database (a fact the tests are not about) and logs in through the HTML form, every browser a
Client of its own loopback source address (api_lib) so the per-IP limit never mixes tests.
"""

import json
import re
import urllib.parse

import pytest

import jwt

from api_lib import (RFC3339, USER_KEYS, Client, browser_login, csrf_of, link_token, login,
                     new_password, register, sign, sql, sql_quote)

ACCOUNT_PAGES = ("/account/password", "/account/email", "/account/sessions",
                 "/account/security", "/account/export", "/account/delete")
SESSION_KEYS = {"id", "kind", "created_at", "last_seen_at", "ip", "user_agent", "current"}
EVENT_KEYS = {"id", "event", "user_id", "actor_id", "ip", "created_at", "details"}
SESSION_ID_FIELD = re.compile(r'name="session_id" value="(\d+)"')


# --- helpers ------------------------------------------------------------------------------------

def signed_in(stack):
    """A fresh verified account and a browser logged in to it."""
    account = register(stack, verified=True)
    return account, browser_login(stack, account)


def page(client, path, status=200):
    r = client.get(path)
    assert r.status_code == status, "GET %s: %d %r" % (path, r.status_code, r.text[:300])
    return r


def submit(client, path, fields, form_page=None):
    """POSTs FIELDS with the csrf_token of FORM_PAGE (default: PATH itself, fetched first)."""
    token = csrf_of(page(client, form_page or path).text)
    return client.form(path, dict(fields, csrf_token=token))


def follows_to_login(r, path):
    assert r.status_code == 303, "expected 303 to /login, got %d" % r.status_code
    loc = urllib.parse.urlsplit(r.headers["Location"])
    assert loc.path == "/login", r.headers["Location"]
    assert urllib.parse.parse_qs(loc.query).get("next") == [path], r.headers["Location"]


def signed_out(client):
    """The browser's session no longer works: /profile sends it to the login page."""
    r = client.get("/profile")
    return r.status_code == 303 and r.headers["Location"].startswith("/login")


def field_error(html, name):
    """The message shown beside field NAME, or None."""
    m = re.search(r'<p class="field-error" id="f-%s-error">([^<]*)</p>' % re.escape(name), html)
    return m.group(1) if m else None


def stored_hash(stack, account):
    return sql(stack, "SELECT password_hash FROM users WHERE id = %d" % int(account.id))[0][0]


def export(client):
    r = page(client, "/account/export")
    return json.loads(r.text)


def current_session_id(client):
    mine = [s["id"] for s in export(client)["sessions"] if s["current"]]
    assert len(mine) == 1, mine
    return mine[0]


def api_session_id(client):
    ids = [s["id"] for s in export(client)["sessions"] if s["kind"] == "api"]
    assert len(ids) == 1, ids
    return ids[0]


def refresh_works(account, refresh_token):
    return Client(account.client.stack).post(
        "/api/v1/auth/refresh", {"refresh_token": refresh_token}).status_code == 200


def revoke(client, fields):
    return submit(client, "/account/sessions/revoke", fields, form_page="/account/sessions")


# --- the front door -------------------------------------------------------------------------------

@pytest.mark.parametrize("path", ACCOUNT_PAGES)
def test_an_anonymous_visitor_is_sent_to_the_login_page_with_next(stack, path):
    follows_to_login(Client(stack).get(path), path)


def test_an_anonymous_revoke_post_is_sent_to_the_login_page(stack):
    r = Client(stack).form("/account/sessions/revoke", {"all": "1"})
    follows_to_login(r, "/account/sessions/revoke")


@pytest.mark.parametrize("path,fields", [
    ("/account/password", ("current_password", "password", "password_confirm")),
    ("/account/email", ("password", "email")),
    ("/account/delete", ("password",)),
])
def test_each_form_page_shows_its_fields_and_a_csrf_token_and_is_not_cached(stack, path,
                                                                               fields):
    _, c = signed_in(stack)
    r = page(c, path)
    assert r.headers["Content-Type"].startswith("text/html")
    assert r.headers.get("Cache-Control") == "no-store"
    assert csrf_of(r.text)
    assert 'action="%s"' % path in r.text
    for name in fields:
        assert 'id="f-%s"' % name in r.text, name
    # Nothing is refused yet.
    assert "error-summary" not in r.text


def test_the_profile_page_links_to_every_account_page(stack):
    _, c = signed_in(stack)
    html = page(c, "/profile").text
    for path in ACCOUNT_PAGES + ("/account/mfa",):
        assert 'href="%s"' % path in html, path


# --- /account/password ------------------------------------------------------------------------

def test_a_wrong_current_password_is_403_beside_the_field_and_changes_nothing(stack):
    account, c = signed_in(stack)
    before = stored_hash(stack, account)
    pw = new_password()
    r = submit(c, "/account/password", {"current_password": "not-" + account.password,
                                        "password": pw, "password_confirm": pw})
    assert r.status_code == 403, r.text[:300]
    assert field_error(r.text, "current_password") == "is not correct"
    # The error summary links to the field and names it: each line is read on its own.
    assert '<a href="#f-current_password">Current password is not correct</a>' in r.text
    assert pw not in r.text  # passwords are never echoed
    assert stored_hash(stack, account) == before
    assert not signed_out(c)


def test_a_wrong_current_password_is_403_even_when_the_new_one_is_refused_too(stack):
    account, c = signed_in(stack)
    r = submit(c, "/account/password", {"current_password": "not-" + account.password,
                                        "password": "short", "password_confirm": "other"})
    assert r.status_code == 403, r.text[:300]
    assert field_error(r.text, "current_password") == "is not correct"
    assert field_error(r.text, "password")


@pytest.mark.parametrize("case", ["short", "mismatch", "username", "common", "missing"])
def test_an_invalid_new_password_is_400_beside_its_field(stack, case):
    account, c = signed_in(stack)
    before = stored_hash(stack, account)
    pw = new_password()
    fields = {"current_password": account.password, "password": pw, "password_confirm": pw}
    field = "password"
    if case == "short":
        fields["password"] = fields["password_confirm"] = "Ab1-x"
    elif case == "mismatch":
        fields["password_confirm"] = pw + "x"
        field = "password_confirm"
    elif case == "username":
        fields["password"] = fields["password_confirm"] = "Zz-" + account.username + "-91"
    elif case == "common":
        fields["password"] = fields["password_confirm"] = "password123"
    else:
        del fields["password_confirm"]
        field = "password_confirm"
    r = submit(c, "/account/password", fields)
    assert r.status_code == 400, r.text[:300]
    assert field_error(r.text, field), "no error beside %s" % field
    assert stored_hash(stack, account) == before


def test_a_password_change_without_the_csrf_token_is_403_and_changes_nothing(stack):
    account, c = signed_in(stack)
    before = stored_hash(stack, account)
    pw = new_password()
    r = c.form("/account/password", {"current_password": account.password, "password": pw,
                                     "password_confirm": pw})
    assert r.status_code == 403
    assert stored_hash(stack, account) == before


def test_a_password_change_keeps_this_session_and_ends_every_other_one(stack):
    account, c = signed_in(stack)
    other = browser_login(stack, account)
    tokens = login(account, client=Client(stack))
    pw = new_password()
    r = submit(c, "/account/password", {"current_password": account.password, "password": pw,
                                        "password_confirm": pw})
    assert r.status_code == 200, r.text[:300]
    assert "flash-success" in r.text and "password was changed" in r.text
    assert pw not in r.text
    # This browser stays in; the other browser and the API refresh family are gone.
    assert not signed_out(c)
    assert page(c, "/account/password").status_code == 200
    assert signed_out(other)
    assert not refresh_works(account, tokens["refresh_token"])
    # The new password works, the old one no longer does.
    api = Client(stack)
    assert api.post("/api/v1/auth/login", {"login": account.username,
                                           "password": account.password}).status_code == 401
    account.password = pw
    login(account, client=api)
    events = [e["event"] for e in export(c)["audit_events"]]
    assert "password_changed" in events


# --- /account/email ---------------------------------------------------------------------------

def stored_email(stack, account):
    return sql(stack, "SELECT email FROM users WHERE id = %d" % int(account.id))[0][0]


def pending_changes(stack, account):
    return int(sql(stack, "SELECT COUNT(*) FROM email_changes WHERE user_id = %d"
                   % int(account.id))[0][0])


def test_an_address_change_mails_a_link_and_changes_nothing_until_it_is_followed(stack):
    account, c = signed_in(stack)
    new = "new-%s" % account.email
    r = submit(c, "/account/email", {"password": account.password, "email": new})
    assert r.status_code == 200, r.text[:300]
    assert "We sent a link to" in r.text and new in r.text
    assert stored_email(stack, account) == account.email
    assert pending_changes(stack, account) == 1
    assert link_token(stack, new, "/confirm-email")
    # The old address is told too (API.md §3).
    assert sql(stack, "SELECT COUNT(*) FROM email_outbox WHERE to_email = %s"
               % sql_quote(account.email))[0][0] != "0"


def test_an_address_change_with_a_wrong_password_is_403(stack):
    account, c = signed_in(stack)
    r = submit(c, "/account/email", {"password": "wrong-" + account.password,
                                     "email": "x-" + account.email})
    assert r.status_code == 403, r.text[:300]
    assert field_error(r.text, "password") == "is not correct"
    assert ('value="x-%s"' % account.email) in r.text  # the input is kept
    assert pending_changes(stack, account) == 0


def dead_confirm_link(stack, c, account, how):
    """A change-of-address link that no longer works: used, forged (another key) or expired."""
    new = "new-%s" % account.email
    r = submit(c, "/account/email", {"password": account.password, "email": new})
    assert r.status_code == 200, r.text[:300]
    token = link_token(stack, new, "/confirm-email")
    if how == "used":
        form = Client(stack)
        p = page(form, "/confirm-email?token=" + token)
        done = form.form("/confirm-email", {"csrf_token": csrf_of(p.text), "token": token})
        assert done.status_code == 200 and "Your address was changed" in done.text, done.text[:500]
        return token
    claims = jwt.decode(token, options={"verify_signature": False})
    if how == "forged":
        return sign(stack, claims, key=b"k" * 32)
    claims["iat"] -= 25 * 3600
    claims["exp"] = claims["iat"] + 24 * 3600
    return sign(stack, claims)


@pytest.mark.parametrize("how,heading", [("used", "This link is not valid"),
                                         ("forged", "This link is not valid"),
                                         ("expired", "This link has expired")])
def test_a_dead_change_of_address_link_offers_to_ask_for_a_new_one(stack, how, heading):
    # API.md §7: the page says why, with a way to ask for a new link, like the verification
    # and reset pages (/account/email; a signed-out visitor is sent through the login first).
    account, c = signed_in(stack)
    token = dead_confirm_link(stack, c, account, how)
    r = Client(stack).get("/confirm-email?token=" + token)
    assert r.status_code == 400, (r.status_code, r.text[:500])
    assert heading in r.text, r.text[:1500]
    link = re.search(r'<a class="button button-primary" href="([^"]+)">Ask for a new link</a>',
                     r.text)
    assert link and link.group(1) == "/account/email", r.text[:2000]
    assert 'name="token"' not in r.text, "a dead link must not offer the confirm button"
    # The link leads a signed-in person to the form that mails a new one.
    r = page(c, link.group(1))
    assert 'action="/account/email"' in r.text, r.text[:1000]


@pytest.mark.parametrize("email", ["not-an-address", "two@@example.com", "", "a b@example.com"])
def test_an_invalid_new_address_is_400(stack, email):
    account, c = signed_in(stack)
    r = submit(c, "/account/email", {"password": account.password, "email": email})
    assert r.status_code == 400, r.text[:300]
    assert field_error(r.text, "email")
    assert pending_changes(stack, account) == 0


def test_the_current_address_is_400(stack):
    account, c = signed_in(stack)
    r = submit(c, "/account/email", {"password": account.password,
                                     "email": account.email.upper()})
    assert r.status_code == 400, r.text[:300]
    assert field_error(r.text, "email") == "is already your address"


def test_an_address_another_account_has_is_409(stack):
    account, c = signed_in(stack)
    taken = register(stack)
    r = submit(c, "/account/email", {"password": account.password, "email": taken.email})
    assert r.status_code == 409, r.text[:300]
    assert field_error(r.text, "email") == "is already registered"
    assert pending_changes(stack, account) == 0


def test_an_address_change_without_the_csrf_token_is_403(stack):
    account, c = signed_in(stack)
    r = c.form("/account/email", {"password": account.password, "email": "y-" + account.email})
    assert r.status_code == 403
    assert pending_changes(stack, account) == 0


# --- /account/sessions ------------------------------------------------------------------------

def test_the_sessions_page_lists_browsers_and_apps_with_a_button_for_the_others(stack):
    account, c = signed_in(stack)
    other = browser_login(stack, account)
    login(account, client=Client(stack))
    html = page(c, "/account/sessions").text
    ids = set(SESSION_ID_FIELD.findall(html))
    # One button each for the other browser and the app, none for this browser.
    assert ids == {current_session_id(other), api_session_id(c)}, ids
    assert current_session_id(c) not in ids
    assert "This browser" in html
    assert 'name="all" value="1"' in html


def test_revoking_another_browser_session_signs_it_out_and_redirects_back(stack):
    account, c = signed_in(stack)
    other = browser_login(stack, account)
    sid = current_session_id(other)
    r = revoke(c, {"session_id": sid})
    assert r.status_code == 303, r.text[:300]
    assert r.headers["Location"] == "/account/sessions?done=one"
    assert signed_out(other)
    assert not signed_out(c)
    assert "The session was signed out." in page(c, r.headers["Location"]).text
    revoked = [e for e in export(c)["audit_events"] if e["event"] == "session_revoked"]
    assert revoked and revoked[0]["details"] == {"session_id": int(sid)}, revoked


def test_revoking_an_app_session_kills_its_refresh_token(stack):
    account, c = signed_in(stack)
    tokens = login(account, client=Client(stack))
    r = revoke(c, {"session_id": api_session_id(c)})
    assert r.status_code == 303
    assert not refresh_works(account, tokens["refresh_token"])


def test_signing_out_all_other_sessions_keeps_only_this_one(stack):
    account, c = signed_in(stack)
    others = [browser_login(stack, account), browser_login(stack, account)]
    tokens = login(account, client=Client(stack))
    r = revoke(c, {"all": "1"})
    assert r.status_code == 303, r.text[:300]
    assert r.headers["Location"] == "/account/sessions?done=others"
    for o in others:
        assert signed_out(o)
    assert not refresh_works(account, tokens["refresh_token"])
    sessions = export(c)["sessions"]
    assert [s["current"] for s in sessions] == [True], sessions
    html = page(c, "/account/sessions?done=others").text
    assert "All your other sessions were signed out." in html
    assert 'name="all" value="1"' not in html  # nothing left to sign out


def test_revoking_the_current_session_is_logging_out(stack):
    account, c = signed_in(stack)
    r = revoke(c, {"session_id": current_session_id(c)})
    assert r.status_code == 303
    assert r.headers["Location"] == "/"
    assert signed_out(c)


@pytest.mark.parametrize("fields,status", [
    ({"session_id": "999999999"}, 404),
    ({"session_id": "12abc"}, 400),
    ({"session_id": "-5"}, 400),
    ({}, 400),
    ({"all": "yes"}, 400),
])
def test_a_revoke_naming_no_live_session_re_renders_the_list_with_an_error(stack, fields,
                                                                            status):
    account, c = signed_in(stack)
    other = browser_login(stack, account)
    r = revoke(c, fields)
    assert r.status_code == status, r.text[:300]
    assert "flash-error" in r.text
    assert 'name="session_id"' in r.text  # the list is shown again
    assert not signed_out(other)


def test_another_users_session_cannot_be_revoked(stack):
    _, c = signed_in(stack)
    _, victim = signed_in(stack)
    r = revoke(c, {"session_id": current_session_id(victim)})
    assert r.status_code == 404
    assert not signed_out(victim)


def test_a_revoke_without_the_csrf_token_is_403_and_ends_nothing(stack):
    account, c = signed_in(stack)
    other = browser_login(stack, account)
    r = c.form("/account/sessions/revoke", {"all": "1"})
    assert r.status_code == 403
    assert not signed_out(other)


def test_a_csrf_token_of_another_session_is_403(stack):
    account, c = signed_in(stack)
    other = browser_login(stack, account)
    theirs = csrf_of(page(other, "/account/sessions").text)
    r = c.form("/account/sessions/revoke", {"all": "1", "csrf_token": theirs})
    assert r.status_code == 403
    assert not signed_out(other)


# --- /account/security ------------------------------------------------------------------------

def test_the_security_page_lists_the_users_own_events_newest_first(stack):
    account, c = signed_in(stack)
    stranger, _ = signed_in(stack)
    # A failed login of this account, from elsewhere.
    r = Client(stack).post("/api/v1/auth/login", {"login": account.username,
                                                  "password": "wrong-" + account.password})
    assert r.status_code == 401
    html = page(c, "/account/security").text
    assert '<a href="/account/security" aria-current="page">' in html
    names = re.findall(r'<code class="event-name">([a-z_]+)</code>', html)
    assert names[0] == "login_failed", names
    assert "login_succeeded" in names and "registered" in names
    stored = sql(stack, "SELECT event FROM audit_events WHERE user_id = %d ORDER BY id DESC"
                 % int(account.id))
    assert names == [row[0] for row in stored][:50]
    assert "Failed sign-in attempt" in html
    assert stranger.username not in html


def test_the_security_page_shows_at_most_50_events(stack):
    account, c = signed_in(stack)
    values = ",".join("(%d, %d, 'logout', '127.0.0.1')" % (int(account.id), int(account.id))
                      for _ in range(60))
    sql(stack, "INSERT INTO audit_events (user_id, actor_id, event, ip) VALUES " + values)
    html = page(c, "/account/security").text
    assert len(re.findall(r'<code class="event-name">', html)) == 50


# --- /account/export --------------------------------------------------------------------------

def test_the_export_is_a_json_download_of_the_user_sessions_and_events(stack):
    account, c = signed_in(stack)
    login(account, client=Client(stack))
    r = page(c, "/account/export")
    assert r.headers["Content-Type"].split(";")[0] == "application/json"
    assert r.headers["Content-Disposition"] == 'attachment; filename="usermgr-export.json"'
    assert r.headers.get("Cache-Control") == "no-store"
    data = r.json()
    assert set(data) == {"user", "sessions", "audit_events"}
    user = data["user"]
    assert set(user) == USER_KEYS
    assert user["id"] == str(account.id) and user["username"] == account.username
    assert user["email_verified"] is True
    # No secret of any kind (API.md §4): no hash, no token, in the user or the sessions.
    assert "$argon2" not in r.text
    for word in ("password", "hash", "token", "secret"):
        assert word not in json.dumps([user, data["sessions"]]).lower(), word
    assert len(data["sessions"]) == 2
    for s in data["sessions"]:
        assert set(s) == SESSION_KEYS, s
        assert RFC3339.match(s["created_at"]) and RFC3339.match(s["last_seen_at"])
    assert sorted(s["kind"] for s in data["sessions"]) == ["api", "browser"]
    assert [s["kind"] for s in data["sessions"] if s["current"]] == ["browser"]
    events = data["audit_events"]
    assert events, "no audit events"
    ids = [int(e["id"]) for e in events]
    assert ids == sorted(ids, reverse=True), "not newest first"
    for e in events:
        assert set(e) == EVENT_KEYS, e
        assert e["user_id"] == str(account.id)
        assert isinstance(e["id"], str) and e["id"].isdigit()
        assert RFC3339.match(e["created_at"]), e["created_at"]
    assert {"registered", "login_succeeded"} <= {e["event"] for e in events}


# --- /account/delete --------------------------------------------------------------------------

def user_rows(stack, account):
    return int(sql(stack, "SELECT COUNT(*) FROM users WHERE id = %d" % int(account.id))[0][0])


def test_deleting_with_a_wrong_password_is_403_and_keeps_the_account(stack):
    account, c = signed_in(stack)
    r = submit(c, "/account/delete", {"password": "wrong-" + account.password})
    assert r.status_code == 403, r.text[:300]
    assert field_error(r.text, "password") == "is not correct"
    assert user_rows(stack, account) == 1
    assert not signed_out(c)


def test_deleting_without_a_password_is_400(stack):
    account, c = signed_in(stack)
    r = submit(c, "/account/delete", {})
    assert r.status_code == 400
    assert field_error(r.text, "password") == "is required"
    assert user_rows(stack, account) == 1


def test_deleting_without_the_csrf_token_is_403_and_keeps_the_account(stack):
    account, c = signed_in(stack)
    r = c.form("/account/delete", {"password": account.password})
    assert r.status_code == 403
    assert user_rows(stack, account) == 1


def test_a_deleted_account_is_gone_signed_out_and_cannot_log_in(stack):
    account, c = signed_in(stack)
    other = browser_login(stack, account)
    tokens = login(account, client=Client(stack))
    r = submit(c, "/account/delete", {"password": account.password})
    assert r.status_code == 200, r.text[:300]
    assert "Your account was deleted" in r.text
    # The cookie is cleared in the answer, and the session is dead on the server anyway.
    assert re.search(r"usermgr_session=;", r.headers.get("Set-Cookie", "")), \
        r.headers.get("Set-Cookie")
    assert signed_out(c) and signed_out(other)
    assert not refresh_works(account, tokens["refresh_token"])
    assert user_rows(stack, account) == 0
    api = Client(stack)
    assert api.post("/api/v1/auth/login", {"login": account.username,
                                           "password": account.password}).status_code == 401
    b = Client(stack)
    r = b.form("/login", {"csrf_token": csrf_of(page(b, "/login").text),
                          "login": account.username, "password": account.password})
    assert r.status_code == 400
    # The audit trail outlives the account (DECISIONS.md).
    assert sql(stack, "SELECT COUNT(*) FROM audit_events WHERE user_id = %d AND event = "
               "'account_deleted'" % int(account.id))[0][0] == "1"
