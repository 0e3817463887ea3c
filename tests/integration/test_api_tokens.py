"""test_api_tokens.py: access and refresh tokens: refusal, revocation, rotation (API.md §4, §7).

Forged tokens are signed with the stack's real JWT key (derived from $STATE/secret_key the way
API.md §1 says), so each one differs from a valid token in exactly the property under test; a
re-signed copy of a real token being accepted shows that the derivation itself is right.
"""

import time

import jwt

from api_lib import (Client, browser_login, decode_access, disable_user, kid, link_token,
                     login, register, sign, sql, unsigned, user_changed_in_sql,
                     verified_login)
from stack import assert_problem

ME = "/api/v1/me"


def me(client, token):
    return client.get(ME, token=token)


def raw_auth(client, value):
    return client.get(ME, headers={"Authorization": value})


def claims_of(stack, pair):
    return decode_access(stack, pair["access_token"])


# --- refusals ---------------------------------------------------------------------------------

def test_a_valid_access_token_reaches_me(stack):
    account, pair = verified_login(stack)
    r = me(account.client, pair["access_token"])
    assert r.status_code == 200, r.text
    assert r.json()["id"] == account.id
    assert "no-store" in r.headers.get("Cache-Control", "")


def test_a_token_re_signed_with_the_derived_key_is_accepted(stack):
    # The control for every forged token below: our key and kid are the server's.
    account, pair = verified_login(stack)
    token = sign(stack, claims_of(stack, pair))
    r = me(account.client, token)
    assert r.status_code == 200, r.text


def test_no_authorization_header_is_a_401_unauthorized(stack):
    assert_problem(Client(stack).get(ME), 401, "unauthorized")


def test_a_basic_authorization_header_is_a_401_unauthorized(stack):
    assert_problem(raw_auth(Client(stack), "Basic YWRtaW46YWRtaW4="), 401, "unauthorized")


def test_an_empty_bearer_header_is_a_401_unauthorized(stack):
    c = Client(stack)
    assert_problem(raw_auth(c, "Bearer "), 401, "unauthorized")
    assert_problem(raw_auth(c, "Bearer"), 401, "unauthorized")
    assert_problem(raw_auth(c, ""), 401, "unauthorized")


def test_a_garbage_bearer_token_is_a_401_invalid_token(stack):
    c = Client(stack)
    for token in ("garbage", "a.b.c", "....", "e30.e30.", "x" * 2000):
        assert_problem(me(c, token), 401, "invalid_token")


def test_a_truncated_token_is_a_401_invalid_token(stack):
    account, pair = verified_login(stack)
    token = pair["access_token"]
    for cut in (token[:-1], token[:-10], token[: token.rindex(".")],
                token[: token.rindex(".") + 1]):
        assert_problem(me(account.client, cut), 401, "invalid_token")


def test_a_token_with_a_changed_signature_byte_is_a_401_invalid_token(stack):
    account, pair = verified_login(stack)
    token = pair["access_token"]
    i = token.rindex(".") + 3
    flipped = token[:i] + ("A" if token[i] != "A" else "B") + token[i + 1:]
    assert_problem(me(account.client, flipped), 401, "invalid_token")


def test_an_alg_none_token_is_a_401_invalid_token(stack):
    account, pair = verified_login(stack)
    claims = claims_of(stack, pair)
    for alg in ("none", "None", "NONE"):
        token = unsigned(claims, {"alg": alg, "typ": "JWT", "kid": kid(stack)})
        assert_problem(me(account.client, token), 401, "invalid_token")


def test_a_token_of_another_hmac_algorithm_is_a_401_invalid_token(stack):
    account, pair = verified_login(stack)
    claims = claims_of(stack, pair)
    for alg in ("HS384", "HS512"):
        assert_problem(me(account.client, sign(stack, claims, algorithm=alg)), 401,
                       "invalid_token")


def test_a_token_signed_with_another_key_is_a_401_invalid_token(stack):
    account, pair = verified_login(stack)
    claims = claims_of(stack, pair)
    token = sign(stack, claims, key=b"k" * 32)
    assert_problem(me(account.client, token), 401, "invalid_token")


def test_an_expired_token_is_a_401_token_expired(stack):
    account, pair = verified_login(stack)
    claims = claims_of(stack, pair)
    now = int(time.time())
    token = sign(stack, dict(claims, iat=now - 1000, exp=now - 100))
    assert_problem(me(account.client, token), 401, "token_expired")


def test_a_token_already_accepted_is_still_refused_once_it_expires(stack):
    # Workers remember tokens they verified (access.c); expiry is checked on every use, on
    # /api/v1/me and on /auth/check.  Several uses first, so every worker has seen it.
    account, pair = verified_login(stack)
    c = account.client
    exp = int(time.time()) + 3
    token = sign(stack, dict(claims_of(stack, pair), exp=exp))
    for _ in range(8):
        assert me(c, token).status_code == 200
        assert c.get("/auth/check", token=token).status_code == 204
    time.sleep(max(0.0, exp - time.time()) + 1.1)
    for _ in range(8):
        assert_problem(me(c, token), 401, "token_expired")
        assert_problem(c.get("/auth/check", token=token), 401, "token_expired")


def test_a_changed_copy_of_an_accepted_token_is_refused(stack):
    # The memo of verified tokens is keyed by every byte: a token it knows, with one
    # signature character changed, or with claims re-encoded, is checked afresh and refused.
    account, pair = verified_login(stack)
    c = account.client
    token = pair["access_token"]
    assert me(c, token).status_code == 200
    head, body, sig = token.split(".")
    flipped = sig[:-2] + ("A" if sig[-2] != "A" else "B") + sig[-1]
    assert_problem(me(c, ".".join((head, body, flipped))), 401, "invalid_token")
    other_body = sign(stack, dict(claims_of(stack, pair), sub=str(account.id) + "0"))
    forged = ".".join((head, other_body.split(".")[1], sig))
    assert_problem(me(c, forged), 401, "invalid_token")
    assert me(c, token).status_code == 200


def test_a_token_for_another_audience_is_a_401_invalid_token(stack):
    account, pair = verified_login(stack)
    claims = claims_of(stack, pair)
    c = account.client
    for aud in ("other", "usermgr:verify_email", ["other"]):
        assert_problem(me(c, sign(stack, dict(claims, aud=aud))), 401, "invalid_token")
    no_aud = dict(claims)
    del no_aud["aud"]
    assert_problem(me(c, sign(stack, no_aud)), 401, "invalid_token")


def test_a_token_naming_another_user_in_sub_is_refused(stack):
    # A valid signature on claims the server never issued together: sub and sid disagree.
    account, pair = verified_login(stack)
    other, _ = verified_login(stack)
    token = sign(stack, dict(claims_of(stack, pair), sub=other.id))
    assert_problem(me(account.client, token), 401, "invalid_token")


def test_a_mailed_link_token_is_not_an_access_token(stack):
    account = register(stack)
    token = link_token(stack, account.email, "/verify-email")
    assert_problem(me(Client(stack), token), 401, "invalid_token")


def test_a_browser_session_cookie_alone_is_a_401_unauthorized(stack):
    account = register(stack, verified=True)
    c = browser_login(stack, account)
    assert c.get("/auth/check").status_code == 204
    assert_problem(c.get(ME), 401, "unauthorized")


# --- immediate revocation ---------------------------------------------------------------------

def test_disabling_the_user_kills_its_access_token_at_once(stack):
    account, pair = verified_login(stack)
    assert me(account.client, pair["access_token"]).status_code == 200
    disable_user(stack, account.id)
    assert_problem(me(account.client, pair["access_token"]), 401, "invalid_token")
    assert_problem(account.client.post("/api/v1/auth/refresh",
                                       {"refresh_token": pair["refresh_token"]}),
                   401, "invalid_token")


def test_deleting_the_user_in_the_database_kills_its_access_token(stack):
    account, pair = verified_login(stack)
    sql(stack, "DELETE FROM users WHERE id = %d" % int(account.id))
    user_changed_in_sql(stack, account.id)
    assert_problem(me(account.client, pair["access_token"]), 401, "invalid_token")


def test_a_password_change_kills_the_old_access_and_refresh_tokens(stack):
    account, pair = verified_login(stack)
    other = login(account)
    c = account.client
    r = c.post("/api/v1/me/password", {"current_password": account.password,
                                       "new_password": "Nw-" + account.password},
               token=pair["access_token"])
    assert r.status_code == 204, r.text
    for p in (pair, other):
        assert_problem(me(c, p["access_token"]), 401, "invalid_token")
        assert_problem(c.post("/api/v1/auth/refresh", {"refresh_token": p["refresh_token"]}),
                       401, "invalid_token")
    fresh = login(account, password="Nw-" + account.password)
    assert me(c, fresh["access_token"]).status_code == 200


def test_logout_kills_the_access_token_of_that_family_at_once(stack):
    account, pair = verified_login(stack)
    other = login(account)
    c = account.client
    r = c.post("/api/v1/auth/logout", {"refresh_token": pair["refresh_token"]})
    assert r.status_code == 204, r.text
    assert r.content == b""
    assert_problem(me(c, pair["access_token"]), 401, "invalid_token")
    assert_problem(c.post("/api/v1/auth/refresh", {"refresh_token": pair["refresh_token"]}),
                   401, "invalid_token")
    # Another family of the same user lives on.
    assert me(c, other["access_token"]).status_code == 200


def test_logout_with_an_unknown_token_is_still_a_204(stack):
    r = Client(stack).post("/api/v1/auth/logout", {"refresh_token": "no-such-token"})
    assert r.status_code == 204, r.text


def test_logout_bodies_that_are_not_json_objects_are_refused(stack):
    c = Client(stack)
    assert_problem(c.post("/api/v1/auth/logout", b"["), 400, "invalid_json")
    assert_problem(c.request("POST", "/api/v1/auth/logout", data=b'{"refresh_token": "x"}'),
                   415, "unsupported_media_type")


# --- refresh ----------------------------------------------------------------------------------

def refresh(client, token):
    return client.post("/api/v1/auth/refresh", {"refresh_token": token})


def test_a_refresh_answers_a_new_pair_of_the_same_family(stack):
    account, pair = verified_login(stack)
    r = refresh(account.client, pair["refresh_token"])
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 900
    assert body["refresh_token"] != pair["refresh_token"]
    assert body["access_token"] != pair["access_token"]
    assert body["user"]["id"] == account.id
    assert claims_of(stack, body)["sid"] == claims_of(stack, pair)["sid"]
    assert me(account.client, body["access_token"]).status_code == 200
    # The previous access token of the family still works until it expires.
    assert me(account.client, pair["access_token"]).status_code == 200


def test_a_retired_refresh_token_within_ten_seconds_gets_a_pair_of_the_same_family(stack):
    account, pair = verified_login(stack)
    c = account.client
    sid = claims_of(stack, pair)["sid"]
    first = refresh(c, pair["refresh_token"])
    assert first.status_code == 200, first.text
    seen = {pair["refresh_token"], first.json()["refresh_token"]}
    for _ in range(3):
        r = refresh(c, pair["refresh_token"])
        assert r.status_code == 200, r.text
        body = r.json()
        assert claims_of(stack, body)["sid"] == sid
        assert body["refresh_token"] not in seen
        seen.add(body["refresh_token"])
        assert me(c, body["access_token"]).status_code == 200
    # Every pair handed out in the window is valid: the newest can be rotated again.
    r = refresh(c, body["refresh_token"])
    assert r.status_code == 200, r.text


def test_a_retired_refresh_token_after_ten_seconds_revokes_the_whole_family(stack):
    account, pair = verified_login(stack)
    c = account.client
    r = refresh(c, pair["refresh_token"])
    assert r.status_code == 200, r.text
    newest = r.json()
    other = login(account)
    time.sleep(11)
    assert_problem(refresh(c, pair["refresh_token"]), 401, "invalid_token")
    assert_problem(refresh(c, newest["refresh_token"]), 401, "invalid_token")
    # API.md §7: the family's access tokens stop working at once.
    assert_problem(me(c, newest["access_token"]), 401, "invalid_token")
    assert_problem(me(c, pair["access_token"]), 401, "invalid_token")
    # Only that family: another login of the user is untouched.
    assert me(c, other["access_token"]).status_code == 200
    assert refresh(c, other["refresh_token"]).status_code == 200


def test_a_garbage_refresh_token_is_a_401_invalid_token(stack):
    c = Client(stack)
    for token in ("garbage", "x" * 200, "", "\u00e9t\u00e9"):
        r = refresh(c, token)
        if token == "":
            # An empty string is no token at all: a 400 naming the field, or a 401.
            assert r.status_code in (400, 401), r.text
            continue
        assert_problem(r, 401, "invalid_token")


def test_an_access_token_is_not_a_refresh_token(stack):
    account, pair = verified_login(stack)
    r = refresh(account.client, pair["access_token"])
    # Longer than any refresh token: refusing it as a field too long is as good (API.md §2).
    if r.status_code == 400:
        problem = assert_problem(r, 400, "validation_failed")
        assert {e.get("field") for e in problem.get("errors", [])} == {"refresh_token"}
    else:
        assert_problem(r, 401, "invalid_token")


def test_refresh_bodies_that_are_not_json_objects_are_refused(stack):
    c = Client(stack)
    assert_problem(c.post("/api/v1/auth/refresh", b"{\"refresh_token\": "), 400, "invalid_json")
    assert_problem(c.post("/api/v1/auth/refresh", {"refresh_token": 42}), 400,
                   "validation_failed")
    assert_problem(c.post("/api/v1/auth/refresh", {}), 400, "validation_failed")
    assert_problem(c.request("POST", "/api/v1/auth/refresh", data=b'{"refresh_token": "x"}',
                             headers={"Content-Type": "text/plain"}),
                   415, "unsupported_media_type")
    assert_problem(c.request("POST", "/api/v1/auth/refresh", data=b'{"refresh_token": "x"}'),
                   415, "unsupported_media_type")


def test_refresh_of_a_disabled_users_token_is_a_401(stack):
    account, pair = verified_login(stack)
    disable_user(stack, account.id)
    assert_problem(refresh(account.client, pair["refresh_token"]), 401, "invalid_token")


def test_the_refreshed_access_token_carries_fresh_claims(stack):
    account, pair = verified_login(stack)
    r = refresh(account.client, pair["refresh_token"])
    assert r.status_code == 200, r.text
    new = claims_of(stack, r.json())
    old = claims_of(stack, pair)
    assert new["jti"] != old["jti"]
    assert new["sub"] == account.id and new["exp"] == new["iat"] + 900
    assert jwt.get_unverified_header(r.json()["access_token"]).get("kid") == kid(stack)


# --- the order of checks (API.md §7: route, method, authentication, ..., content type) ----------

def allowed(r):
    return {m.strip().upper() for m in r.headers.get("Allow", "").split(",") if m.strip()}


def test_an_unknown_api_route_is_a_404_even_without_a_token(stack):
    c = Client(stack)
    for method, path in (("GET", "/api/v1/nope"), ("POST", "/api/v1/me/nope"),
                         ("GET", "/api/v1/me/sessions/1/extra"), ("GET", "/api/v1/auth/"),
                         ("PUT", "/api/v1/users/1")):
        r = c.request(method, path, headers={"Content-Type": "text/plain"}, data=b"x")
        assert_problem(r, 404, "not_found")


def test_the_auth_prefix_without_its_slash_is_a_404_not_a_redirect(stack):
    # An unknown route is a 404 (API.md §2), whatever the front end's location blocks are.
    for method in ("GET", "DELETE"):
        r = Client(stack).request(method, "/api/v1/auth")
        assert_problem(r, 404, "not_found")


def test_a_wrong_method_is_a_405_with_allow_even_without_a_token(stack):
    c = Client(stack)
    cases = [("PUT", ME, {"GET", "PATCH", "DELETE"}),
             ("POST", ME, {"GET", "PATCH", "DELETE"}),
             ("GET", "/api/v1/me/password", {"POST"}),
             ("GET", "/api/v1/auth/login", {"POST"}),
             ("DELETE", "/api/v1/auth/refresh", {"POST"}),
             ("POST", "/api/v1/me/sessions", {"GET"})]
    for method, path, methods in cases:
        r = c.request(method, path, headers={"Content-Type": "text/plain"}, data=b"x")
        assert_problem(r, 405, "method_not_allowed")
        assert methods <= allowed(r), (method, path, r.headers.get("Allow"))


def test_authentication_is_checked_before_the_content_type(stack):
    c = Client(stack)
    for method, path in (("PATCH", ME), ("POST", "/api/v1/me/password"),
                         ("POST", "/api/v1/me/email"), ("DELETE", ME)):
        r = c.request(method, path, headers={"Content-Type": "text/plain"}, data=b"{")
        assert_problem(r, 401, "unauthorized")
        r = c.request(method, path, token="garbage", headers={"Content-Type": "text/plain"},
                      data=b"{")
        assert_problem(r, 401, "invalid_token")


def test_with_a_valid_token_the_content_type_is_checked_before_the_body(stack):
    account, pair = verified_login(stack)
    r = account.client.request("PATCH", ME, token=pair["access_token"],
                               headers={"Content-Type": "text/plain"}, data=b"{")
    assert_problem(r, 415, "unsupported_media_type")
