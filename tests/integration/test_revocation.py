"""test_revocation.py: every revoking action of API.md holds at once on the host that made it, and
writes its row of the revocation log (sql/006_revocations.sql) in the same transaction.

Each test prepares a verified user with an API login (a bearer token of refresh family `sid`) and
a browser session (a cookie), performs one action, and then at once asks /auth/check with the
bearer and with the cookie, and /api/v1/me with the bearer. An action that ends a token or a
session is refused right away (API.md §7: a bearer that is no longer valid is 401
`invalid_token`, a dead cookie leaves the request without a session, 401 `unauthorized`); an
action that only changes data shows the new values in the very next answer. Then the log must
hold exactly the rows of docs/DECISIONS.md "Fast path: the revocation log" for that user since
the action began.

Today these answers come from MariaDB; once the shared-memory cache answers them instead, the
same tests are what shows the cache forgets in time. Facts a test is not about (a verified
address, an aged-out grace window, an old account) are set with SQL before the action.
"""

import hashlib
import re
import secrets
import types

import pytest

from api_lib import (Client, browser_login, csrf_of, decode_access, link_token,
                     new_password, register, sql, unique_name)
from stack import ADMIN_PASSWORD, ADMIN_USERNAME, assert_problem
from test_admin_api import Admin
from test_cli import admin as cli
from test_mfa import RECOVERY, SECRET, Totp

SESSION_COOKIE = "usermgr_session"  # API.md §3: the stack's base URL is http


# --- the log ---------------------------------------------------------------------------------

def head(stack):
    """The highest id of the revocation log (0 when empty)."""
    return int(sql(stack, "SELECT IFNULL(MAX(id), 0) FROM revocations")[0][0])


def logged(stack, user_id, since):
    """The rows about USER_ID after id SINCE, in order: (kind, user_id, family_id, hash hex)."""
    return [tuple(r) for r in sql(
        stack, "SELECT kind, user_id, IFNULL(family_id, '-'), IFNULL(HEX(session_hash), '-') "
               "FROM revocations WHERE user_id = %d AND id > %d ORDER BY id"
        % (int(user_id), int(since)))]


def user_row(p):
    return ("user", str(p.id), "-", "-")


def family_row(p, sid=None):
    return ("family", str(p.id), str(sid or p.sid), "-")


def session_row(p, cookie=None):
    return ("session", str(p.id), "-",
            hashlib.sha256((cookie or p.cookie).encode()).hexdigest().upper())


# --- a user with a bearer token and a browser session ------------------------------------------

class Person:
    """A verified user logged in twice: over the API (bearer, refresh token, sid) and in a browser.

    mark() records the end of the log just before the action, so that the rows of the
    preparation (each login writes one) are not counted."""

    def __init__(self, stack, account=None):
        self.stack = stack
        self.account = account or register(stack, verified=True)
        self.id = int(self.account.id)
        self.api = Client(stack)  # sends only what a test gives it: no cookie
        self.api_login()
        self.browser = browser_login(stack, self.account)
        self.cookie = self.browser.session.cookies[SESSION_COOKIE]
        self.since = None

    def api_login(self, **extra):
        body = {"login": self.account.username, "password": self.account.password}
        body.update(extra)
        r = self.account.client.post("/api/v1/auth/login", body)
        assert r.status_code == 200, "login failed: %d %r" % (r.status_code, r.text[:300])
        self.answer = r.json()
        self.token = self.answer["access_token"]
        self.refresh = self.answer["refresh_token"]
        self.sid = int(decode_access(self.stack, self.token)["sid"])

    def mark(self):
        self.since = head(self.stack)

    def rows(self):
        assert self.since is not None, "the test did not mark the log before its action"
        return logged(self.stack, self.id, self.since)

    def session_id(self, cookie=None):
        digest = hashlib.sha256((cookie or self.cookie).encode()).hexdigest()
        return sql(self.stack, "SELECT id FROM sessions WHERE id_hash = UNHEX('%s')" % digest)[0][0]

    def second_browser(self):
        return browser_login(self.stack, self.account)

    # What the other applications behind nginx and the API client see.
    def bearer_check(self):
        return self.api.get("/auth/check", token=self.token)

    def cookie_check(self):
        return self.browser.get("/auth/check")

    def me(self):
        return self.api.get("/api/v1/me", token=self.token)


def bearer_refused(p):
    assert_problem(p.bearer_check(), 401, "invalid_token")
    assert_problem(p.me(), 401, "invalid_token")


def bearer_works(p):
    r = p.bearer_check()
    assert r.status_code == 204, "the bearer died with it: %d %r" % (r.status_code, r.text[:300])
    assert p.me().status_code == 200


def cookie_refused(p):
    assert_problem(p.cookie_check(), 401, "unauthorized")


def cookie_works(p):
    r = p.cookie_check()
    assert r.status_code == 204, "the session died with it: %d %r" % (r.status_code, r.text[:300])


def page_form(client, path, fields, page=None):
    """GETs PAGE (default PATH) for its csrf_token, then POSTs FIELDS with it to PATH."""
    r = client.get(page or path)
    assert r.status_code == 200, "GET %s: %d %r" % (page or path, r.status_code, r.text[:300])
    data = dict(fields)
    data["csrf_token"] = csrf_of(r.text)
    return client.form(path, data)


def done(r, *statuses):
    assert r.status_code in statuses, "expected %r, got %d: %r" % (statuses, r.status_code,
                                                                   r.text[:400])
    return r


# --- the admins --------------------------------------------------------------------------------

class Admins(Admin):
    """The bootstrap admin over the API (test_admin_api.Admin) and in a browser (its forms)."""

    def __init__(self, stack):
        super().__init__(stack)
        self.browser = browser_login(stack, types.SimpleNamespace(username=ADMIN_USERNAME,
                                                                  password=ADMIN_PASSWORD))

    def act(self, user_id, action, extra=None):
        """POSTs an action form of /admin/users/{id} with the page's csrf_token."""
        page = self.browser.get("/admin/users/%s" % user_id)
        assert page.status_code == 200, page.status_code
        fields = [("csrf_token", csrf_of(page.text))] + list(extra or [])
        return self.browser.form("/admin/users/%s/%s" % (user_id, action), fields)


@pytest.fixture(scope="module")
def admins(stack):
    return Admins(stack)


# --- actions that end every token and session of the user: one `user` row ----------------------

def password_change_api(stack, p, admins):
    p.mark()
    done(p.api.post("/api/v1/me/password", {"current_password": p.account.password,
                                            "new_password": new_password()}, token=p.token),
         204)


def password_change_html(stack, p, admins):
    other = p.second_browser()  # the browser that changes it keeps its session
    p.mark()
    password = new_password()
    done(page_form(other, "/account/password", {
        "current_password": p.account.password, "password": password,
        "password_confirm": password}), 200)


def reset_token(stack, p):
    done(Client(stack).post("/api/v1/auth/password/forgot", {"email": p.account.email}), 202)
    return link_token(stack, p.account.email, "/reset-password")


def reset_api(stack, p, admins):
    token = reset_token(stack, p)
    p.mark()
    done(Client(stack).post("/api/v1/auth/password/reset", {"token": token,
                                                            "password": new_password()}), 204)


def reset_html(stack, p, admins):
    token = reset_token(stack, p)
    p.mark()
    password = new_password()
    done(page_form(Client(stack), "/reset-password", {
        "token": token, "password": password, "password_confirm": password},
        page="/reset-password?token=" + token), 200, 303)


def disable_api(stack, p, admins):
    p.mark()
    done(admins.send("PATCH", "/api/v1/admin/users/%d" % p.id, {"status": "disabled"}), 200)


def disable_html(stack, p, admins):
    p.mark()
    done(admins.act(p.id, "disable"), 303)


def disable_cli(stack, p, admins):
    p.mark()
    status, text = cli(stack, "disable", p.account.username)
    assert status == 0, text


def delete_by_admin_api(stack, p, admins):
    p.mark()
    done(admins.delete("/api/v1/admin/users/%d" % p.id), 204)


def delete_by_admin_html(stack, p, admins):
    p.mark()
    done(admins.act(p.id, "delete"), 303)


def delete_self_api(stack, p, admins):
    p.mark()
    done(p.api.json("DELETE", "/api/v1/me", {"password": p.account.password}, token=p.token),
         204)


def delete_self_html(stack, p, admins):
    other = p.second_browser()
    p.mark()
    done(page_form(other, "/account/delete", {"password": p.account.password}), 200, 303)


def force_reset_html(stack, p, admins):
    p.mark()
    done(admins.act(p.id, "force-password-reset"), 303)


def roles_api(stack, p, admins):
    p.mark()
    done(admins.send("PUT", "/api/v1/admin/users/%d/roles" % p.id, {"roles": ["user"]}), 200)


def roles_html(stack, p, admins):
    p.mark()
    done(admins.act(p.id, "roles", [("roles", "user")]), 303)


def roles_cli(stack, p, admins):
    p.mark()
    status, text = cli(stack, "set-roles", p.account.username, "user")
    assert status == 0, text


def all_other_sessions_html(stack, p, admins):
    other = p.second_browser()  # signs out every session and token but its own
    p.mark()
    done(page_form(other, "/account/sessions/revoke", {"all": "1"}, page="/account/sessions"),
         303)


def mfa_setup(client, account):
    """Turns two-step verification on from CLIENT's session: (Totp, recovery codes)."""
    r = done(page_form(client, "/account/mfa", {"action": "start",
                                                "password": account.password}), 200)
    m = SECRET.search(r.text)
    assert m, "no secret on the setup page: %r" % r.text[:1000]
    totp = Totp(m.group(1))
    r = done(page_form(client, "/account/mfa", {"action": "confirm", "code": totp.code()}), 200)
    codes = RECOVERY.findall(r.text)
    assert len(codes) == 10, codes
    return totp, codes


def mfa_on_html(stack, p, admins):
    other = p.second_browser()  # the session that turns it on stays
    p.mark()
    mfa_setup(other, p.account)


ENDS_EVERYTHING = [password_change_api, password_change_html, reset_api, reset_html,
                   disable_api, disable_html, disable_cli, delete_by_admin_api,
                   delete_by_admin_html, delete_self_api, delete_self_html, force_reset_html,
                   roles_api, roles_html, roles_cli, all_other_sessions_html, mfa_on_html]


@pytest.mark.parametrize("action", ENDS_EVERYTHING, ids=[a.__name__ for a in ENDS_EVERYTHING])
def test_an_action_that_ends_every_token_and_session_is_refused_at_once_and_logs_a_user_row(
        stack, admins, action):
    p = Person(stack)
    bearer_works(p)
    cookie_works(p)
    action(stack, p, admins)
    bearer_refused(p)
    cookie_refused(p)
    assert p.rows() == [user_row(p)]


# --- actions that end one family or one session ------------------------------------------------

def api_logout(stack, p, admins):
    p.mark()
    done(Client(stack).post("/api/v1/auth/logout", {"refresh_token": p.refresh}), 204)
    return [family_row(p)]


def revoke_own_family_api(stack, p, admins):
    p.mark()
    done(p.api.request("DELETE", "/api/v1/me/sessions/%d" % p.sid, token=p.token), 204)
    return [family_row(p)]


def revoke_family_html(stack, p, admins):
    p.mark()
    done(page_form(p.browser, "/account/sessions/revoke", {"session_id": str(p.sid)},
                   page="/account/sessions"), 303)
    return [family_row(p)]


def refresh_reuse(stack, p, admins):
    r = done(Client(stack).post("/api/v1/auth/refresh", {"refresh_token": p.refresh}), 200)
    rotated = r.json()
    # The grace window (API.md §4, 10 s) is not what this test is about: it is over already.
    digest = hashlib.sha256(p.refresh.encode()).hexdigest()
    sql(stack, "UPDATE refresh_tokens SET rotated_at = rotated_at - INTERVAL 11 SECOND "
               "WHERE id_hash = UNHEX('%s')" % digest)
    p.mark()
    assert_problem(Client(stack).post("/api/v1/auth/refresh", {"refresh_token": p.refresh}),
                   401, "invalid_token")
    # The pair handed out by the rotation belongs to the family: it dies too.
    assert_problem(p.api.get("/api/v1/me", token=rotated["access_token"]), 401,
                   "invalid_token")
    return [family_row(p)]


ENDS_THE_FAMILY = [api_logout, revoke_own_family_api, revoke_family_html, refresh_reuse]


@pytest.mark.parametrize("action", ENDS_THE_FAMILY, ids=[a.__name__ for a in ENDS_THE_FAMILY])
def test_an_action_that_ends_the_tokens_family_refuses_its_bearer_at_once_and_logs_a_family_row(
        stack, admins, action):
    p = Person(stack)
    bearer_works(p)
    expected = action(stack, p, admins)
    bearer_refused(p)
    cookie_works(p)  # the browser session is another session
    assert p.rows() == expected


def html_logout(stack, p, admins):
    p.mark()
    done(page_form(p.browser, "/logout", {}, page="/profile"), 303)


def revoke_session_html(stack, p, admins):
    other = p.second_browser()
    p.mark()
    done(page_form(other, "/account/sessions/revoke", {"session_id": p.session_id()},
                   page="/account/sessions"), 303)


def revoke_session_api(stack, p, admins):
    p.mark()
    done(p.api.request("DELETE", "/api/v1/me/sessions/%s" % p.session_id(), token=p.token),
         204)


ENDS_THE_SESSION = [html_logout, revoke_session_html, revoke_session_api]


@pytest.mark.parametrize("action", ENDS_THE_SESSION, ids=[a.__name__ for a in ENDS_THE_SESSION])
def test_an_action_that_ends_a_browser_session_refuses_its_cookie_at_once_and_logs_a_session_row(
        stack, admins, action):
    p = Person(stack)
    cookie_works(p)
    session_id = p.session_id()
    action(stack, p, admins)
    cookie_refused(p)
    bearer_works(p)  # the API login is another session
    assert p.rows() == [session_row(p)]
    assert sql(stack, "SELECT COUNT(*) FROM sessions WHERE id = %s" % session_id) == [["0"]]


def test_a_new_login_in_a_browser_with_a_session_ends_the_old_one_with_a_session_row(stack):
    p = Person(stack)
    old = p.cookie
    p.mark()
    browser_login(stack, p.account, client=p.browser)  # the same browser logs in again
    p.cookie = p.browser.session.cookies[SESSION_COOKIE]
    assert p.cookie != old
    assert_problem(Client(stack).get("/auth/check", headers={
        "Cookie": "%s=%s" % (SESSION_COOKIE, old)}), 401, "unauthorized")
    cookie_works(p)
    assert p.rows() == [session_row(p, old), user_row(p)]


# --- actions that change what /api/v1/me and /auth/check show: one `user` row ------------------

def profile_api(stack, p, admins):
    name = "Api " + secrets.token_hex(3)
    p.mark()
    done(p.api.json("PATCH", "/api/v1/me", {"display_name": name, "bio": "b"}, token=p.token),
         200)
    return {"display_name": name, "bio": "b"}


def profile_html(stack, p, admins):
    name = "Html " + secrets.token_hex(3)
    p.mark()
    done(page_form(p.browser, "/profile", {"display_name": name, "bio": "from the form"}), 200)
    return {"display_name": name, "bio": "from the form"}


def display_name_by_admin(stack, p, admins):
    name = "Admin-set " + secrets.token_hex(3)
    p.mark()
    done(admins.send("PATCH", "/api/v1/admin/users/%d" % p.id, {"display_name": name}), 200)
    return {"display_name": name}


def unverify_by_admin(stack, p, admins):
    p.mark()
    done(admins.send("PATCH", "/api/v1/admin/users/%d" % p.id, {"email_verified": False}), 200)
    return {"email_verified": False}


def verify_by_admin_html(stack, p, admins):
    done(admins.send("PATCH", "/api/v1/admin/users/%d" % p.id, {"email_verified": False}), 200)
    p.mark()
    done(admins.act(p.id, "verify"), 303)
    return {"email_verified": True}


def verify_by_link(stack, p, admins):
    # An address an admin marked unverified is verified again by the mailed link.
    done(admins.send("PATCH", "/api/v1/admin/users/%d" % p.id, {"email_verified": False}), 200)
    done(Client(stack).post("/api/v1/auth/verify-email/resend", {"email": p.account.email}),
         202)
    token = link_token(stack, p.account.email, "/verify-email")
    p.mark()
    done(Client(stack).post("/api/v1/auth/verify-email", {"token": token}), 200)
    return {"email_verified": True}


def address_change(stack, p, admins):
    new = unique_name("moved") + "@example.org"
    done(p.api.post("/api/v1/me/email", {"password": p.account.password, "email": new},
                    token=p.token), 202)
    token = link_token(stack, new, "/confirm-email")
    p.mark()
    done(page_form(Client(stack), "/confirm-email", {"token": token},
                   page="/confirm-email?token=" + token), 200, 303)
    return {"email": new, "email_verified": True}


def api_login_again(stack, p, admins):
    before = p.me().json()["last_login_at"]
    token = p.token
    p.mark()
    p.api_login()
    p.token = token  # the checks go on with the first login's token
    assert p.answer["user"]["last_login_at"] >= before
    return {"last_login_at": p.answer["user"]["last_login_at"]}


def html_login_again(stack, p, admins):
    p.mark()
    p.second_browser()
    return {"last_login_at": sql(stack, "SELECT DATE_FORMAT(last_login_at, "
                                        "'%%Y-%%m-%%dT%%H:%%i:%%sZ') FROM users WHERE id = %d"
                                 % p.id)[0][0]}


CHANGES_DATA = [profile_api, profile_html, display_name_by_admin, unverify_by_admin,
                verify_by_admin_html, verify_by_link, address_change, api_login_again,
                html_login_again]


@pytest.mark.parametrize("action", CHANGES_DATA, ids=[a.__name__ for a in CHANGES_DATA])
def test_a_change_of_what_me_and_auth_check_show_is_shown_at_once_and_logs_a_user_row(
        stack, admins, action):
    p = Person(stack)
    me = p.me().json()  # what a cache would hold from now on
    expected = action(stack, p, admins)
    after = p.me()
    assert after.status_code == 200, after.text
    shown = after.json()
    for field, value in expected.items():
        assert shown[field] == value, "%s: %r, expected %r (was %r)" % (
            field, shown[field], value, me[field])
    if "display_name" in expected or "bio" in expected or "email" in expected:
        assert shown["updated_at"] >= me["updated_at"]
    # /auth/check names the account as it is now, by token and by cookie.
    for r in (p.bearer_check(), p.cookie_check()):
        assert r.status_code == 204, r.text
        assert r.headers["X-User-Id"] == str(p.id)
        assert r.headers["X-User-Email"] == shown["email"]
        assert r.headers["X-User-Name"] == p.account.username
    assert p.rows() == [user_row(p)]


# --- two-step verification: on ends the others; off and an admin's reset change the user --------

def mfa_person(stack):
    """A Person with two-step verification on, its bearer from a login with the code."""
    p = Person(stack)
    totp, codes = mfa_setup(p.browser, p.account)  # this browser's session stays
    p.api_login(totp=totp.code())
    assert p.me().json()["mfa_enabled"] is True
    return p, codes


def mfa_off_html(stack, p, admins, codes):
    p.mark()
    done(page_form(p.browser, "/account/mfa", {"action": "disable",
                                               "password": p.account.password,
                                               "code": codes[0]}), 200)


def mfa_reset_api(stack, p, admins, codes):
    p.mark()
    done(admins.delete("/api/v1/admin/users/%d/mfa" % p.id), 204)


def mfa_reset_html(stack, p, admins, codes):
    p.mark()
    done(admins.act(p.id, "reset-mfa"), 303)


MFA_OFF = [mfa_off_html, mfa_reset_api, mfa_reset_html]


@pytest.mark.parametrize("action", MFA_OFF, ids=[a.__name__ for a in MFA_OFF])
def test_turning_two_step_verification_off_shows_at_once_and_logs_a_user_row(
        stack, admins, action):
    p, codes = mfa_person(stack)
    action(stack, p, admins, codes)
    assert p.me().json()["mfa_enabled"] is False
    bearer_works(p)
    cookie_works(p)
    assert p.rows() == [user_row(p)]


# --- changes nobody holding a token can see, but a cache may hold ------------------------------

@pytest.mark.parametrize("via", ["api", "html", "cli"])
def test_enabling_a_disabled_account_logs_a_user_row(stack, admins, via):
    p = Person(stack)
    done(admins.send("PATCH", "/api/v1/admin/users/%d" % p.id, {"status": "disabled"}), 200)
    p.mark()
    if via == "api":
        done(admins.send("PATCH", "/api/v1/admin/users/%d" % p.id, {"status": "active"}), 200)
    elif via == "html":
        done(admins.act(p.id, "enable"), 303)
    else:
        status, text = cli(stack, "enable", p.account.username)
        assert status == 0, text
    assert p.rows() == [user_row(p)]
    p.api_login()
    bearer_works(p)


def test_pruning_an_account_left_unverified_logs_a_user_row(stack):
    account = register(stack)  # never verified
    sql(stack, "UPDATE users SET created_at = UTC_TIMESTAMP(6) - INTERVAL 30 DAY WHERE id = %d"
        % int(account.id))
    since = head(stack)
    status, text = cli(stack, "prune")
    assert status == 0, text
    assert sql(stack, "SELECT COUNT(*) FROM users WHERE id = %d" % int(account.id)) == [["0"]]
    assert logged(stack, account.id, since) == [("user", str(account.id), "-", "-")]


def test_a_refresh_within_a_live_family_writes_no_row(stack):
    p = Person(stack)
    p.mark()
    r = done(Client(stack).post("/api/v1/auth/refresh", {"refresh_token": p.refresh}), 200)
    assert int(decode_access(stack, r.json()["access_token"])["sid"]) == p.sid
    bearer_works(p)
    assert p.rows() == []


def test_a_wrong_password_writes_no_row(stack):
    p = Person(stack)
    me = p.me().json()
    p.mark()
    r = Client(stack).post("/api/v1/auth/login", {"login": p.account.username,
                                                  "password": "Wrong-" + new_password()})
    assert_problem(r, 401, "invalid_credentials")
    # Nothing /api/v1/me shows has moved: the failure count is not part of the user object.
    assert p.me().json() == me
    assert p.rows() == []


# --- a change that fails leaves neither its effect nor its row ----------------------------------

def test_a_change_that_rolls_back_after_its_row_leaves_no_row_and_the_tokens_alive(
        stack, admins):
    """Disabling writes the status, ends the sessions, logs its row, then the audit event: a
    trigger that refuses that audit event makes the transaction fail after the row."""
    p = Person(stack)
    trigger = "test_refuse_audit_%s" % secrets.token_hex(4)
    # The client splits -e input at its delimiter: the trigger's own ';' needs another one.
    sql(stack, "DELIMITER //\nCREATE TRIGGER %s BEFORE INSERT ON audit_events FOR EACH ROW "
               "IF NEW.user_id = %d AND NEW.event = 'user_disabled' THEN "
               "SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'refused by the test'; END IF//"
        % (trigger, p.id))
    try:
        p.mark()
        r = admins.send("PATCH", "/api/v1/admin/users/%d" % p.id, {"status": "disabled"})
        assert_problem(r, 500, "internal_error")
    finally:
        sql(stack, "DROP TRIGGER IF EXISTS %s" % trigger)
    assert p.rows() == []
    assert p.me().json()["status"] == "active"
    bearer_works(p)
    cookie_works(p)


def test_a_refused_admin_action_logs_nothing(stack, admins):
    p = Person(stack)
    p.mark()
    r = admins.send("PUT", "/api/v1/admin/users/%d/roles" % p.id, {"roles": ["no-such-role"]})
    assert_problem(r, 400, "validation_failed")
    assert p.rows() == []
    bearer_works(p)
    cookie_works(p)


def test_the_log_holds_no_cookie_or_token(stack):
    p = Person(stack)
    p.mark()
    done(page_form(p.browser, "/logout", {}, page="/profile"), 303)
    done(Client(stack).post("/api/v1/auth/logout", {"refresh_token": p.refresh}), 204)
    dump = " ".join(" ".join(r) for r in sql(
        stack, "SELECT kind, user_id, IFNULL(family_id, ''), IFNULL(HEX(session_hash), '') "
               "FROM revocations WHERE id > %d" % p.since))
    for secret in (p.cookie, p.refresh, p.token):
        assert secret not in dump
        assert secret.encode().hex().upper() not in dump
    assert re.search(hashlib.sha256(p.cookie.encode()).hexdigest().upper(), dump)
