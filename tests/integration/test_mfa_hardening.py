"""test_mfa_hardening.py: two-step verification cannot be turned on from a stolen session (issue 10,
item 9): enrolment needs the password, turning it on ends every other session and refresh family,
the owner is mailed whenever it goes on or off, and an admin can reset it (HTML and API, audited
as mfa_reset_by_admin).
"""

import types

from accounts_lib import (Browser, audit_events, field_error, logged_in, login, mails,
                          sql_one)
from api_lib import Client, browser_login, csrf_of
from peers import sql
from stack import ADMIN_PASSWORD, ADMIN_USERNAME, assert_problem
from test_mfa import SECRET, Totp, enable, start_setup

ON_SUBJECT = "Two-step verification was turned on"
OFF_SUBJECT = "Two-step verification was turned off"


def mfa_secret_stored(stack, uid):
    return sql_one(stack, "SELECT mfa_secret_enc IS NOT NULL FROM users WHERE id = %d"
                   % uid) == "1"


def mfa_on(stack, uid):
    return sql_one(stack, "SELECT mfa_enabled_at IS NOT NULL FROM users WHERE id = %d"
                   % uid) == "1"


def api_pair(stack, account):
    r = Client(stack).post("/api/v1/auth/login", {"login": account.username,
                                                  "password": account.password})
    assert r.status_code == 200, r.text[:300]
    return r.json()


# --- enrolment needs the password ----------------------------------------------------------------

def test_starting_the_setup_without_the_password_is_refused_and_stores_nothing(stack):
    account, b = logged_in(stack)
    r = b.get("/account/mfa")
    assert r.status_code == 200
    assert 'name="password"' in r.text, "the setup form asks for no password"
    r = b.form("/account/mfa", {"action": "start"})
    assert r.status_code == 400, r.text[:500]
    assert field_error(r.text, "password"), r.text[:1500]
    assert not SECRET.search(r.text)
    r = b.form("/account/mfa", {"action": "start", "password": account.password + "x"})
    assert r.status_code == 403, r.text[:500]
    assert field_error(r.text, "password") == "is not correct"
    assert not SECRET.search(r.text), "a secret was shown for a wrong password"
    assert not mfa_secret_stored(stack, account.id)
    secret, _ = start_setup(b, account)
    assert len(secret) == 32
    assert mfa_secret_stored(stack, account.id)


def test_a_wrong_password_when_turning_it_off_counts_toward_the_lockout(stack):
    account, b, totp, _ = enable(stack)
    for _ in range(4):
        r = b.form("/account/mfa", {"action": "disable", "password": account.password + "x",
                                    "code": totp.wrong()})
        assert r.status_code == 403, r.text[:300]
    r = b.form("/account/mfa", {"action": "disable", "password": account.password + "x",
                                "code": totp.wrong()})
    assert r.status_code == 429, r.text[:300]
    assert r.headers.get("Retry-After", "").isdigit(), r.headers
    assert "locked" in (field_error(r.text, "password") or "")
    assert mfa_on(stack, account.id)


# --- turning it on ends the other sessions and tells the owner ------------------------------------

def test_turning_it_on_ends_every_other_session_and_refresh_family(stack):
    account, b = logged_in(stack)
    _, other = logged_in(stack, account)
    pair = api_pair(stack, account)
    api = Client(stack)
    assert api.get("/api/v1/me", token=pair["access_token"]).status_code == 200
    secret, _ = start_setup(b, account)
    r = b.form("/account/mfa", {"action": "confirm", "code": Totp(secret).code()})
    assert r.status_code == 200, r.text[:500]
    assert mfa_on(stack, account.id)
    # The session that turned it on stays; every other one is gone.
    assert b.get("/profile").status_code == 200
    r = other.get("/profile")
    assert r.status_code == 303 and r.headers["Location"].startswith("/login"), r.headers
    assert_problem(api.get("/api/v1/me", token=pair["access_token"]), 401, "invalid_token")
    assert_problem(api.post("/api/v1/auth/refresh", {"refresh_token": pair["refresh_token"]}),
                   401, "invalid_token")


def test_the_owner_is_mailed_when_it_goes_on_and_when_it_goes_off(stack):
    account, b, totp, _ = enable(stack)
    on = mails(stack, account.email, ON_SUBJECT)
    assert len(on) == 1, "expected one notice of MFA on, got %d" % len(on)
    assert account.username in on[0]["text_body"]
    assert "/forgot-password" in on[0]["text_body"] and on[0]["html_body"].strip()
    assert mails(stack, account.email, OFF_SUBJECT) == []
    r = b.form("/account/mfa", {"action": "disable", "password": account.password,
                                "code": totp.code()})
    assert r.status_code == 200, r.text[:500]
    off = mails(stack, account.email, OFF_SUBJECT)
    assert len(off) == 1, "expected one notice of MFA off, got %d" % len(off)
    assert "/forgot-password" in off[0]["text_body"] and off[0]["html_body"].strip()


# --- an admin resets it ----------------------------------------------------------------------------

def admin_token(stack):
    r = Client(stack).post("/api/v1/auth/login", {"login": ADMIN_USERNAME,
                                                  "password": ADMIN_PASSWORD})
    assert r.status_code == 200, r.text[:300]
    return r.json()["access_token"]


def admin_id(stack):
    return int(sql(stack, "SELECT id FROM users WHERE username = 'admin'")[0][0])


def test_an_admin_resets_a_users_mfa_over_the_api(stack):
    account, _, _, _ = enable(stack)
    c = Client(stack)
    path = "/api/v1/admin/users/%d/mfa" % account.id
    token = admin_token(stack)
    r = c.request("DELETE", path, token=token)
    assert r.status_code == 204, r.text[:300]
    assert not mfa_on(stack, account.id) and not mfa_secret_stored(stack, account.id)
    assert sql_one(stack, "SELECT COUNT(*) FROM mfa_recovery_codes WHERE user_id = %d"
                   % account.id) == "0"
    rows = sql(stack, "SELECT actor_id FROM audit_events WHERE user_id = %d AND event = "
               "'mfa_reset_by_admin'" % account.id)
    assert rows == [[str(admin_id(stack))]], rows
    assert len(mails(stack, account.email, OFF_SUBJECT)) == 1
    # The password alone logs in again.
    r = login(stack, account)
    assert r.status_code == 303 and r.headers["Location"] == "/profile", r.headers
    # Again: nothing was on, still 204, nothing audited or mailed twice.
    assert c.request("DELETE", path, token=token).status_code == 204
    assert audit_events(stack, account.id).count("mfa_reset_by_admin") == 1
    assert len(mails(stack, account.email, OFF_SUBJECT)) == 1
    assert_problem(c.request("DELETE", "/api/v1/admin/users/999999999/mfa", token=token), 404,
                   "not_found")


def test_a_normal_user_cannot_reset_anyones_mfa(stack):
    account, _, _, _ = enable(stack)
    other, _ = logged_in(stack)
    pair = api_pair(stack, other)
    r = Client(stack).request("DELETE", "/api/v1/admin/users/%d/mfa" % account.id,
                              token=pair["access_token"])
    assert_problem(r, 403, "forbidden")
    assert mfa_on(stack, account.id)


def test_an_admin_resets_a_users_mfa_from_the_user_page(stack):
    account, _, _, _ = enable(stack)
    admin = browser_login(stack, types.SimpleNamespace(username=ADMIN_USERNAME,
                                                       password=ADMIN_PASSWORD))
    page = admin.get("/admin/users/%d" % account.id)
    assert page.status_code == 200
    assert 'action="/admin/users/%d/reset-mfa"' % account.id in page.text, \
        "the user page offers no MFA reset"
    r = admin.form("/admin/users/%d/reset-mfa" % account.id,
                   {"csrf_token": csrf_of(page.text)})
    assert r.status_code == 303, r.text[:300]
    assert r.headers["Location"] == "/admin/users/%d?done=reset-mfa" % account.id
    assert not mfa_on(stack, account.id)
    assert "mfa_reset_by_admin" in audit_events(stack, account.id)
    assert len(mails(stack, account.email, OFF_SUBJECT)) == 1
    page = admin.get(r.headers["Location"])
    assert "Two-step verification is off" in page.text, page.text[:2000]
    assert 'action="/admin/users/%d/reset-mfa"' % account.id not in page.text
    # The reset is listed under a label on the user's own security page.
    _, b = logged_in(stack, account)
    assert "Two-step verification reset by an administrator" in b.get("/account/security").text
