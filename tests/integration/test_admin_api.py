"""test_admin_api.py: the /api/v1/admin routes (API.md §4, §7) against the real stack.

The acting admin is the bootstrap user `admin` (stack.ADMIN_PASSWORD), logged in once over the API
from a source address of its own; every other account is a fresh sign-up made for the test.
"""

import base64
import secrets

import pytest

from api_lib import (USER_KEYS, Client, csrf_of, error_fields, login, mark_verified, register,
                     sql, unique_name)
from stack import ADMIN_PASSWORD, ADMIN_USERNAME

ROLE_KEYS = {"name", "description", "builtin"}
# API.md §7's audit event, plus the names of its two accounts (issue 10: the API may add them).
EVENT_KEYS = {"id", "event", "user_id", "actor_id", "ip", "created_at", "details", "username",
              "actor_username"}
ADMIN_ROUTES = [
    ("GET", "/api/v1/admin/users", None),
    ("GET", "/api/v1/admin/users/1", None),
    ("PATCH", "/api/v1/admin/users/1", {"display_name": "x"}),
    ("DELETE", "/api/v1/admin/users/1", None),
    ("PUT", "/api/v1/admin/users/1/roles", {"roles": ["user"]}),
    ("GET", "/api/v1/admin/roles", None),
    ("POST", "/api/v1/admin/roles", {"name": "never-made", "description": ""}),
    ("GET", "/api/v1/admin/audit", None),
]


class Admin:
    """The bootstrap admin's client and access token."""

    def __init__(self, stack):
        self.client = Client(stack)
        r = self.client.post("/api/v1/auth/login", {"login": ADMIN_USERNAME,
                                                    "password": ADMIN_PASSWORD})
        assert r.status_code == 200, "admin login failed: %d %r" % (r.status_code, r.text)
        self.token = r.json()["access_token"]
        self.id = r.json()["user"]["id"]

    def get(self, path):
        return self.client.get(path, token=self.token)

    def send(self, method, path, body):
        return self.client.json(method, path, body, token=self.token)

    def delete(self, path):
        return self.client.request("DELETE", path, token=self.token)


@pytest.fixture(scope="module")
def admin(stack):
    return Admin(stack)


def problem(r, status, code):
    assert r.status_code == status, "expected %d %s, got %d %r" % (status, code, r.status_code,
                                                                  r.text[:400])
    assert r.headers["Content-Type"].startswith("application/problem+json"), r.headers
    assert r.json()["code"] == code, r.json()
    return r.json()


def events(admin, **filters):
    query = "&".join("%s=%s" % kv for kv in filters.items())
    r = admin.get("/api/v1/admin/audit?" + query)
    assert r.status_code == 200, r.text
    return r.json()["events"]


# --- who may call ------------------------------------------------------------------------------

def test_every_admin_route_is_401_without_a_token_and_403_for_a_normal_user(stack):
    account = register(stack, verified=True)
    token = login(account)["access_token"]
    c = Client(stack)
    for method, path, body in ADMIN_ROUTES:
        r = c.json(method, path, body) if body is not None else c.request(method, path)
        problem(r, 401, "unauthorized")
        r = (c.json(method, path, body, token=token) if body is not None
             else c.request(method, path, token=token))
        problem(r, 403, "forbidden")


# --- GET /api/v1/admin/users -----------------------------------------------------------------

def test_the_user_list_is_id_ordered_user_objects_with_a_cursor(stack, admin):
    for _ in range(3):
        register(stack)
    r = admin.get("/api/v1/admin/users?limit=2")
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"users", "next_cursor"}, body
    assert len(body["users"]) == 2
    for u in body["users"]:
        assert set(u) == USER_KEYS, u
    ids = [int(u["id"]) for u in body["users"]]
    assert ids == sorted(ids)
    assert isinstance(body["next_cursor"], str) and body["next_cursor"]


@pytest.mark.parametrize("limit", ["0", "101", "abc", "-1", "1.5", ""])
def test_a_limit_outside_1_to_100_is_400_naming_limit(admin, limit):
    body = problem(admin.get("/api/v1/admin/users?limit=" + limit), 400, "validation_failed")
    assert error_fields(body) == {"limit"}, body
    body = problem(admin.get("/api/v1/admin/audit?limit=" + limit), 400, "validation_failed")
    assert error_fields(body) == {"limit"}, body


def test_limit_100_and_1_are_accepted(admin):
    assert admin.get("/api/v1/admin/users?limit=100").status_code == 200
    r = admin.get("/api/v1/admin/users?limit=1")
    assert r.status_code == 200 and len(r.json()["users"]) == 1, r.text


@pytest.mark.parametrize("cursor", ["!!!", "abc", base64.urlsafe_b64encode(b"-5").decode(),
                                    base64.urlsafe_b64encode(b"007").decode().rstrip("="),
                                    "x" * 300])
def test_a_malformed_cursor_is_400_naming_cursor(admin, cursor):
    body = problem(admin.get("/api/v1/admin/users?cursor=" + cursor), 400, "validation_failed")
    assert error_fields(body) == {"cursor"}, body
    body = problem(admin.get("/api/v1/admin/audit?cursor=" + cursor), 400, "validation_failed")
    assert error_fields(body) == {"cursor"}, body


def test_an_unknown_status_is_400_naming_status(admin):
    body = problem(admin.get("/api/v1/admin/users?status=gone"), 400, "validation_failed")
    assert error_fields(body) == {"status"}, body


def test_keyset_paging_visits_every_user_exactly_once_in_id_order(stack, admin):
    register(stack)
    register(stack)
    want = [str(row[0]) for row in sql(stack, "SELECT id FROM users ORDER BY id")]
    seen, cursor, pages = [], None, 0
    while True:
        path = "/api/v1/admin/users?limit=3" + ("&cursor=" + cursor if cursor else "")
        r = admin.get(path)
        assert r.status_code == 200, r.text
        page = r.json()
        assert len(page["users"]) <= 3
        seen += [u["id"] for u in page["users"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
        assert pages < 1000, "paging does not end"
    assert seen == want, "paging saw %s, the table holds %s" % (seen, want)


def test_search_matches_username_and_address_prefixes_ignoring_case(stack, admin):
    a = register(stack)
    r = admin.get("/api/v1/admin/users?q=" + a.username[:8].upper())
    assert r.status_code == 200, r.text
    assert a.id in [u["id"] for u in r.json()["users"]], r.json()
    r = admin.get("/api/v1/admin/users?q=" + a.email.upper())
    assert [u["id"] for u in r.json()["users"]] == [a.id], r.json()
    # A prefix, not a substring: the middle of the name finds nothing.
    r = admin.get("/api/v1/admin/users?q=" + a.username[3:])
    assert a.id not in [u["id"] for u in r.json()["users"]], r.json()
    # LIKE wildcards are plain characters.
    r = admin.get("/api/v1/admin/users?q=%25")
    assert r.status_code == 200 and r.json()["users"] == [], r.json()


def test_status_filters_pick_disabled_and_unverified_accounts(stack, admin):
    unverified = register(stack)
    disabled = register(stack, verified=True)
    r = admin.send("PATCH", "/api/v1/admin/users/%s" % disabled.id, {"status": "disabled"})
    assert r.status_code == 200, r.text

    def ids(query):
        r = admin.get("/api/v1/admin/users?limit=100&" + query)
        assert r.status_code == 200, r.text
        return r, {u["id"] for u in r.json()["users"]}

    r, got = ids("status=unverified&q=" + unverified.username)
    assert got == {unverified.id}
    assert all(not u["email_verified"] for u in r.json()["users"])
    r, got = ids("status=disabled&q=" + disabled.username)
    assert got == {disabled.id}
    r, got = ids("status=active&q=" + disabled.username)
    assert got == set()
    r, got = ids("status=active&q=" + unverified.username)
    assert got == {unverified.id}, "active means not disabled, verified or not"
    r, got = ids("status=disabled")
    assert all(u["status"] == "disabled" for u in r.json()["users"]), r.json()


def test_the_role_filter_finds_admins_and_an_unknown_role_finds_nobody(admin):
    r = admin.get("/api/v1/admin/users?role=admin&limit=100")
    assert r.status_code == 200, r.text
    assert admin.id in [u["id"] for u in r.json()["users"]]
    assert all("admin" in u["roles"] for u in r.json()["users"])
    r = admin.get("/api/v1/admin/users?role=no-such-role")
    assert r.status_code == 200 and r.json() == {"users": [], "next_cursor": None}, r.text


# --- one user ----------------------------------------------------------------------------------

def test_get_one_user_and_404_for_an_unknown_or_malformed_id(stack, admin):
    a = register(stack)
    r = admin.get("/api/v1/admin/users/%s" % a.id)
    assert r.status_code == 200, r.text
    assert r.json()["username"] == a.username and set(r.json()) == USER_KEYS
    for bad in ("999999999", "0", "abc", "01"):
        problem(admin.get("/api/v1/admin/users/" + bad), 404, "not_found")
        problem(admin.send("PATCH", "/api/v1/admin/users/" + bad, {}), 404, "not_found")
        problem(admin.delete("/api/v1/admin/users/" + bad), 404, "not_found")
        problem(admin.send("PUT", "/api/v1/admin/users/%s/roles" % bad, {"roles": []}), 404,
                "not_found")


def test_disabling_kills_the_users_token_and_cookie_at_once_and_enabling_restores_login(stack,
                                                                                       admin):
    a = register(stack, verified=True)
    pair = login(a)
    browser = Client(stack)
    r = browser.get("/login")
    r = browser.form("/login", {"csrf_token": csrf_of(r.text), "login": a.username,
                                "password": a.password})
    assert r.status_code == 303, r.text
    assert browser.get("/auth/check").status_code == 204
    assert a.client.get("/api/v1/me", token=pair["access_token"]).status_code == 200

    r = admin.send("PATCH", "/api/v1/admin/users/%s" % a.id, {"status": "disabled"})
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "disabled"
    problem(a.client.get("/api/v1/me", token=pair["access_token"]), 401, "invalid_token")
    assert browser.get("/auth/check").status_code == 401
    r = a.client.post("/api/v1/auth/refresh", {"refresh_token": pair["refresh_token"]})
    assert r.status_code == 401, r.text
    r = a.client.post("/api/v1/auth/login", {"login": a.username, "password": a.password})
    problem(r, 403, "account_disabled")
    ev = events(admin, user_id=a.id, event="user_disabled")
    assert len(ev) == 1 and ev[0]["actor_id"] == admin.id, ev
    assert set(ev[0]) == EVENT_KEYS
    assert (ev[0]["username"], ev[0]["actor_username"]) == (a.username, "admin"), ev

    r = admin.send("PATCH", "/api/v1/admin/users/%s" % a.id, {"status": "active"})
    assert r.status_code == 200 and r.json()["status"] == "active", r.text
    login(a)
    ev = events(admin, user_id=a.id, event="user_enabled")
    assert len(ev) == 1 and ev[0]["actor_id"] == admin.id, ev


def test_patch_type_checks_its_members(stack, admin):
    a = register(stack)
    path = "/api/v1/admin/users/%s" % a.id
    for body, field in (({"email_verified": "true"}, "email_verified"),
                        ({"email_verified": 1}, "email_verified"),
                        ({"status": "gone"}, "status"),
                        ({"status": True}, "status"),
                        ({"display_name": "x" * 101}, "display_name")):
        r = problem(admin.send("PATCH", path, body), 400, "validation_failed")
        assert error_fields(r) == {field}, (body, r)
    problem(admin.send("PATCH", path, [1]), 400, "invalid_json")
    r = admin.client.request("PATCH", path, token=admin.token,
                             headers={"Content-Type": "text/plain"}, data=b"{}")
    problem(r, 415, "unsupported_media_type")
    # Nothing changed.
    assert admin.get(path).json()["email_verified"] is False


def test_patch_sets_verification_and_display_name_and_audits_them(stack, admin):
    a = register(stack)
    path = "/api/v1/admin/users/%s" % a.id
    r = admin.send("PATCH", path, {"email_verified": True, "display_name": "Ada L."})
    assert r.status_code == 200, r.text
    assert r.json()["email_verified"] is True and r.json()["display_name"] == "Ada L."
    ev = events(admin, user_id=a.id, event="user_verified")
    assert len(ev) == 1 and ev[0]["actor_id"] == admin.id, ev
    r = admin.send("PATCH", path, {"email_verified": False, "display_name": None})
    assert r.json()["email_verified"] is False and r.json()["display_name"] is None, r.text
    r = admin.send("PATCH", path, {})
    assert r.status_code == 200 and r.json()["email_verified"] is False


def test_an_admin_cannot_disable_or_delete_their_own_account(admin):
    path = "/api/v1/admin/users/%s" % admin.id
    problem(admin.send("PATCH", path, {"status": "disabled"}), 409, "conflict")
    problem(admin.delete(path), 409, "conflict")
    assert admin.get(path).json()["status"] == "active"


def test_delete_is_204_then_the_user_is_404_and_the_deletion_is_audited(stack, admin):
    a = register(stack, verified=True)
    pair = login(a)
    r = admin.delete("/api/v1/admin/users/%s" % a.id)
    assert r.status_code == 204 and r.content == b"", r.text
    problem(admin.get("/api/v1/admin/users/%s" % a.id), 404, "not_found")
    problem(admin.delete("/api/v1/admin/users/%s" % a.id), 404, "not_found")
    problem(a.client.get("/api/v1/me", token=pair["access_token"]), 401, "invalid_token")
    ev = events(admin, user_id=a.id, event="user_deleted")
    assert len(ev) == 1 and ev[0]["actor_id"] == admin.id, ev
    assert ev[0]["details"]["username"] == a.username


# --- roles -------------------------------------------------------------------------------------

def test_the_builtin_roles_are_listed_as_builtin(admin):
    r = admin.get("/api/v1/admin/roles")
    assert r.status_code == 200, r.text
    roles = {x["name"]: x for x in r.json()["roles"]}
    for x in roles.values():
        assert set(x) == ROLE_KEYS, x
    assert roles["user"]["builtin"] is True and roles["admin"]["builtin"] is True


def test_a_created_role_is_201_listed_as_not_builtin_and_a_second_one_is_409(admin):
    name = "r" + secrets.token_hex(4)
    r = admin.send("POST", "/api/v1/admin/roles", {"name": name, "description": "Editors"})
    assert r.status_code == 201, r.text
    assert r.json() == {"name": name, "description": "Editors", "builtin": False}
    roles = {x["name"]: x for x in admin.get("/api/v1/admin/roles").json()["roles"]}
    assert roles[name] == {"name": name, "description": "Editors", "builtin": False}
    body = problem(admin.send("POST", "/api/v1/admin/roles", {"name": name}), 409, "conflict")
    assert error_fields(body) == {"name"}, body
    ev = events(admin, event="role_created")
    assert ev[0]["details"] == {"role": name} and ev[0]["actor_id"] == admin.id, ev[0]


@pytest.mark.parametrize("description", ["a\u0001b", "two\nlines", "x" * 256])
def test_a_role_description_with_a_control_character_or_too_long_is_400(admin, description):
    name = "d" + secrets.token_hex(4)
    body = problem(admin.send("POST", "/api/v1/admin/roles",
                              {"name": name, "description": description}), 400,
                   "validation_failed")
    assert error_fields(body) == {"description"}, body
    roles = admin.get("/api/v1/admin/roles").json()["roles"]
    assert name not in [r["name"] for r in roles]


@pytest.mark.parametrize("name", ["A-role", "x", "1abc", "has space", "a" * 33, "", "ab!"])
def test_a_role_name_outside_the_pattern_is_400(admin, name):
    body = problem(admin.send("POST", "/api/v1/admin/roles", {"name": name}), 400,
                   "validation_failed")
    assert error_fields(body) == {"name"}, body


def test_put_roles_replaces_them_ends_old_tokens_and_is_audited(stack, admin):
    name = "r" + secrets.token_hex(4)
    assert admin.send("POST", "/api/v1/admin/roles", {"name": name}).status_code == 201
    a = register(stack, verified=True)
    pair = login(a)
    r = admin.send("PUT", "/api/v1/admin/users/%s/roles" % a.id, {"roles": [name, "user"]})
    assert r.status_code == 200, r.text
    assert r.json()["roles"] == sorted([name, "user"])
    problem(a.client.get("/api/v1/me", token=pair["access_token"]), 401, "invalid_token")
    fresh = login(a)
    assert sorted(fresh["user"]["roles"]) == sorted([name, "user"])
    r = admin.get("/api/v1/admin/users?role=%s" % name)
    assert [u["id"] for u in r.json()["users"]] == [a.id], r.text
    ev = events(admin, user_id=a.id, event="roles_changed")
    assert len(ev) == 1 and ev[0]["actor_id"] == admin.id, ev
    assert ev[0]["details"] == {"before": ["user"], "after": sorted([name, "user"])}, ev[0]


def test_put_roles_with_an_unknown_name_is_400_naming_it_and_changes_nothing(stack, admin):
    a = register(stack)
    path = "/api/v1/admin/users/%s/roles" % a.id
    body = problem(admin.send("PUT", path, {"roles": ["user", "wizard"]}), 400,
                   "validation_failed")
    assert "wizard" in body["detail"], body
    assert error_fields(body) == {"roles"} and "wizard" in body["errors"][0]["message"], body
    problem(admin.send("PUT", path, {"roles": ["Admin"]}), 400, "validation_failed")
    for bad in ({"roles": "user"}, {"roles": [1]}, {"roles": [None]}, {}):
        body = problem(admin.send("PUT", path, bad), 400, "validation_failed")
        assert error_fields(body) == {"roles"}, (bad, body)
    assert admin.get("/api/v1/admin/users/%s" % a.id).json()["roles"] == ["user"]


def test_an_admin_cannot_take_the_admin_role_from_themselves(admin):
    problem(admin.send("PUT", "/api/v1/admin/users/%s/roles" % admin.id, {"roles": ["user"]}),
            409, "conflict")
    assert "admin" in admin.get("/api/v1/admin/users/%s" % admin.id).json()["roles"]


# --- audit -------------------------------------------------------------------------------------

def test_the_audit_list_is_newest_first_filtered_and_paged(stack, admin):
    a = register(stack, verified=True)
    login(a)
    login(a)
    r = admin.get("/api/v1/admin/audit?user_id=%s" % a.id)
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"events", "next_cursor"} and body["next_cursor"] is None
    names = [e["event"] for e in body["events"]]
    assert names == ["login_succeeded", "login_succeeded", "registered"], names
    ids = [int(e["id"]) for e in body["events"]]
    assert ids == sorted(ids, reverse=True)
    assert all(e["user_id"] == a.id for e in body["events"])
    ev = events(admin, user_id=a.id, event="login_succeeded")
    assert len(ev) == 2 and all(e["event"] == "login_succeeded" for e in ev)
    # Paging one at a time visits the same events.
    seen, cursor = [], None
    while True:
        r = admin.get("/api/v1/admin/audit?limit=1&user_id=%s" % a.id +
                      ("&cursor=" + cursor if cursor else ""))
        assert r.status_code == 200, r.text
        seen += [e["id"] for e in r.json()["events"]]
        cursor = r.json()["next_cursor"]
        if cursor is None:
            break
    assert seen == [e["id"] for e in body["events"]]
    body = problem(admin.get("/api/v1/admin/audit?user_id=abc"), 400, "validation_failed")
    assert error_fields(body) == {"user_id"}


def test_admin_actions_are_audited_with_the_admin_as_actor(stack, admin):
    a = register(stack)
    name = unique_name("x")[:10]
    admin.send("PATCH", "/api/v1/admin/users/%s" % a.id, {"display_name": name})
    ev = events(admin, user_id=a.id)
    assert ev[0]["actor_id"] == admin.id and ev[0]["user_id"] == a.id, ev[0]
    assert ev[0]["ip"] == admin.client.address, ev[0]
    mark_verified(stack, a.id)
