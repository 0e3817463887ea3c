"""test_auth_check.py: GET /auth/check, nginx's auth_request target (API.md §6, §7).

It answers for a bearer token and for a browser session cookie alike; a revoked identity must be
refused at once, since nginx asks it on every request to the protected site.
"""

import time

from api_lib import (Client, browser_login, csrf_of, decode_access, disable_user, login, register,
                     sign, verified_login)
from stack import ADMIN_PASSWORD, ADMIN_USERNAME

CHECK = "/auth/check"


def roles_of(r):
    return [x.strip() for x in r.headers.get("X-User-Roles", "").split(",") if x.strip()]


def assert_identity(r, account, roles):
    assert r.status_code == 204, (r.status_code, r.text[:300])
    assert r.content == b""
    # RFC 9110 §8.6: a 204 never carries Content-Length.
    assert "Content-Length" not in r.headers, r.headers
    assert r.headers.get("X-User-Id") == account.id, r.headers
    assert r.headers.get("X-User-Name") == account.username, r.headers
    assert r.headers.get("X-User-Email") == account.email, r.headers
    assert sorted(roles_of(r)) == sorted(roles), r.headers.get("X-User-Roles")


class Admin:
    """The bootstrap admin as an Account-like value (id read from its own /me)."""

    def __init__(self, stack):
        self.client = Client(stack)
        self.username = ADMIN_USERNAME
        self.password = ADMIN_PASSWORD
        self.pair = login(self, client=self.client)
        user = self.pair["user"]
        self.id = user["id"]
        self.email = user["email"]
        self.roles = user["roles"]


def test_a_bearer_token_gets_204_with_the_users_identity_headers(stack):
    account, pair = verified_login(stack)
    r = account.client.get(CHECK, token=pair["access_token"])
    assert_identity(r, account, ["user"])


def test_a_browser_session_cookie_gets_204_with_the_same_headers(stack):
    account = register(stack, verified=True)
    c = browser_login(stack, account)
    assert_identity(c.get(CHECK), account, ["user"])


def test_no_credentials_get_a_401(stack):
    r = Client(stack).get(CHECK)
    assert r.status_code == 401, r.text
    assert "X-User-Id" not in r.headers


def test_an_invalid_truncated_or_expired_bearer_token_gets_a_401(stack):
    account, pair = verified_login(stack)
    c = Client(stack)
    claims = decode_access(stack, pair["access_token"])
    now = int(time.time())
    # Signed with the stack's real key, so exp is the only thing wrong with it; the same
    # claims re-signed with a live exp pass, which shows the signing itself is right.
    expired = sign(stack, dict(claims, iat=now - 1000, exp=now - 100))
    live = sign(stack, dict(claims, iat=now, exp=now + 300))
    assert_identity(c.get(CHECK, headers={"Authorization": "Bearer " + live}), account, ["user"])
    for value in ("Bearer garbage", "Bearer " + pair["access_token"][:-2], "Bearer ",
                  "Bearer " + expired):
        r = c.get(CHECK, headers={"Authorization": value})
        assert r.status_code == 401, (value, r.status_code)
        assert "X-User-Id" not in r.headers


def test_a_forged_session_cookie_gets_a_401(stack):
    c = Client(stack)
    c.session.cookies.set("usermgr_session", "A" * 43)
    assert c.get(CHECK).status_code == 401


def test_the_admin_gets_204_for_role_admin_and_lists_the_admin_role(stack):
    admin = Admin(stack)
    r = admin.client.get(CHECK + "?role=admin", token=admin.pair["access_token"])
    assert r.status_code == 204, r.text
    assert "admin" in roles_of(r), r.headers
    assert r.headers.get("X-User-Name") == ADMIN_USERNAME
    assert sorted(roles_of(r)) == sorted(admin.roles)


def test_a_user_without_the_role_gets_a_403_by_token_and_by_cookie(stack):
    account, pair = verified_login(stack)
    r = account.client.get(CHECK + "?role=admin", token=pair["access_token"])
    assert r.status_code == 403, r.text
    browser = browser_login(stack, account)
    assert browser.get(CHECK + "?role=admin").status_code == 403
    # A role the user has passes.
    assert browser.get(CHECK + "?role=user").status_code == 204
    r = account.client.get(CHECK + "?role=user", token=pair["access_token"])
    assert_identity(r, account, ["user"])


def test_a_disabled_users_browser_session_gets_a_401_at_once(stack):
    account = register(stack, verified=True)
    browser = browser_login(stack, account)
    assert browser.get(CHECK).status_code == 204
    disable_user(stack, account.id)
    assert browser.get(CHECK).status_code == 401


def test_a_disabled_users_bearer_token_gets_a_401_at_once(stack):
    account, pair = verified_login(stack)
    assert account.client.get(CHECK, token=pair["access_token"]).status_code == 204
    disable_user(stack, account.id)
    assert account.client.get(CHECK, token=pair["access_token"]).status_code == 401


def test_a_logged_out_browser_session_gets_a_401(stack):
    account = register(stack, verified=True)
    browser = browser_login(stack, account)
    cookie = browser.session.cookies.get("usermgr_session")
    page = browser.get("/profile")
    assert page.status_code == 200, page.status_code
    r = browser.form("/logout", {"csrf_token": csrf_of(page.text)})
    assert r.status_code == 303, (r.status_code, r.text[:300])
    assert browser.get(CHECK).status_code == 401
    # The old cookie value itself is dead, not only dropped from the jar.
    replay = Client(stack)
    replay.session.cookies.set("usermgr_session", cookie)
    assert replay.get(CHECK).status_code == 401


def test_a_logged_out_api_family_gets_a_401(stack):
    account, pair = verified_login(stack)
    r = account.client.post("/api/v1/auth/logout", {"refresh_token": pair["refresh_token"]})
    assert r.status_code == 204, r.text
    assert account.client.get(CHECK, token=pair["access_token"]).status_code == 401
