"""test_api_auth.py: sign-up, login and the mailed-link routes of the JSON API (API.md §2, §4-§7).

Every test talks through a Client of its own source address (api_lib), so the per-IP limit on
sign-up and login (API.md §1) only ever counts one test's requests.
"""

import time

import jwt
import pytest

from api_lib import (JSON, USER_KEYS, RFC3339, Client, decode_access, disable_user,
                     error_fields, kid, link_token, login, mail_count, mark_verified,
                     new_password, parse_time, register, sign, sql, unique_name)
from stack import BODY_MAX, assert_problem, burst_in_one_window, media_type

SIGNUP_ROUTES = ("/api/v1/users", "/register_user")


def signup_body(**over):
    name = unique_name()
    body = {"username": name, "email": name + "@example.com", "password": new_password()}
    body.update(over)
    return body


# --- POST /api/v1/users ------------------------------------------------------------------------

def assert_new_user(user, body):
    assert set(user) == USER_KEYS, "user keys differ from API.md §4: %r" % sorted(user)
    assert isinstance(user["id"], str) and user["id"].isdigit(), user["id"]
    assert user["username"] == body["username"]
    assert user["email"] == body["email"]
    assert user["email_verified"] is False
    assert user["roles"] == ["user"]
    assert user["status"] == "active"
    assert user["mfa_enabled"] is False
    for key in ("created_at", "updated_at"):
        assert isinstance(user[key], str) and RFC3339.match(user[key]), (key, user[key])
    assert user["last_login_at"] is None, user["last_login_at"]


def test_signing_up_answers_201_with_exactly_the_user_object_and_no_secrets(stack):
    body = signup_body()
    r = Client(stack).post("/api/v1/users", body)
    assert r.status_code == 201, r.text
    assert media_type(r) == "application/json"
    assert_new_user(r.json(), body)
    assert body["password"] not in r.text
    for word in ("password", "hash", "token", "secret"):
        assert word not in r.text.lower(), "the user object mentions %r: %s" % (word, r.text)


def test_the_register_user_alias_signs_up_exactly_like_the_api_route(stack):
    body = signup_body()
    r = Client(stack).post("/register_user", body)
    assert r.status_code == 201, r.text
    assert_new_user(r.json(), body)


def test_signing_up_queues_a_verification_link_for_the_new_address(stack):
    body = signup_body()
    assert Client(stack).post("/api/v1/users", body).status_code == 201
    token = link_token(stack, body["email"], "/verify-email")
    assert jwt.get_unverified_header(token)["alg"] == "HS256"


def test_a_taken_username_is_a_409_conflict_naming_the_username(stack):
    c = Client(stack)
    first = signup_body()
    assert c.post("/api/v1/users", first).status_code == 201
    # Usernames are unique case-insensitively (API.md §2).
    second = signup_body(username=first["username"].upper())
    problem = assert_problem(c.post("/api/v1/users", second), 409, "conflict")
    assert error_fields(problem) == {"username"}, problem


def test_a_taken_email_is_a_409_conflict_naming_the_email(stack):
    c = Client(stack)
    first = signup_body()
    assert c.post("/api/v1/users", first).status_code == 201
    second = signup_body(email=first["email"].upper())
    problem = assert_problem(c.post("/api/v1/users", second), 409, "conflict")
    assert error_fields(problem) == {"email"}, problem


def test_a_taken_username_and_email_are_a_409_naming_both(stack):
    c = Client(stack)
    first = signup_body()
    assert c.post("/api/v1/users", first).status_code == 201
    again = dict(first, password=new_password())
    problem = assert_problem(c.post("/api/v1/users", again), 409, "conflict")
    assert error_fields(problem) == {"username", "email"}, problem


def test_the_register_user_alias_reports_conflicts_the_same_way(stack):
    c = Client(stack)
    first = signup_body()
    assert c.post("/api/v1/users", first).status_code == 201
    problem = assert_problem(c.post("/register_user", dict(first)), 409, "conflict")
    assert error_fields(problem) == {"username", "email"}, problem


INVALID_SIGNUPS = [
    # (what is wrong, fields to change, the field that must be named)
    ("an address without @", {"email": "no-at-sign.example.com"}, "email"),
    ("an address with two @", {"email": "a@b@example.com"}, "email"),
    ("an address with a space", {"email": "a b@example.com"}, "email"),
    ("a password of 7 characters", {"password": "xK3$vq9"}, "password"),
    ("a password over 128 characters", {"password": "xK3$" * 33}, "password"),
    ("a common password", {"password": "password"}, "password"),
    ("a common password in other case", {"password": "PassWord"}, "password"),
    ("a username with a space", {"username": "has space"}, "username"),
    ("a username of 2 characters", {"username": "ab"}, "username"),
    ("a username with a slash", {"username": "a/b/c"}, "username"),
    ("a number for the email", {"email": 12345}, "email"),
    ("a list for the password", {"password": ["x" * 12]}, "password"),
    ("null for the username", {"username": None}, "username"),
]


def test_each_invalid_sign_up_field_is_a_400_naming_that_field(stack):
    c = Client(stack)
    failures = []
    for what, change, field in INVALID_SIGNUPS:
        r = c.post("/api/v1/users", signup_body(**change))
        try:
            problem = assert_problem(r, 400, "validation_failed")
            assert field in error_fields(problem), problem
        except AssertionError as e:
            failures.append("%s: %s" % (what, e))
    assert not failures, "\n".join(failures)


def test_a_password_holding_the_username_is_a_400_naming_the_password(stack):
    body = signup_body()
    body["password"] = "Zz9-" + body["username"].upper() + "-Qq7"
    problem = assert_problem(Client(stack).post("/api/v1/users", body), 400,
                             "validation_failed")
    assert "password" in error_fields(problem), problem


def test_a_nul_in_each_field_is_a_400_naming_that_field(stack):
    c = Client(stack)
    for field in ("username", "email", "password"):
        body = signup_body()
        body[field] = body[field][:3] + "\u0000" + body[field][3:]
        problem = assert_problem(c.post("/api/v1/users", body), 400, "validation_failed")
        assert field in error_fields(problem), (field, problem)


def test_an_empty_object_is_a_400_naming_every_missing_field(stack):
    problem = assert_problem(Client(stack).post("/api/v1/users", {}), 400, "validation_failed")
    assert error_fields(problem) >= {"username", "email", "password"}, problem


def test_a_missing_password_is_a_400_naming_only_the_password(stack):
    body = signup_body()
    del body["password"]
    problem = assert_problem(Client(stack).post("/api/v1/users", body), 400,
                             "validation_failed")
    assert error_fields(problem) == {"password"}, problem


def test_a_refused_sign_up_creates_no_user(stack):
    body = signup_body(password="short")
    for route in SIGNUP_ROUTES:
        assert_problem(Client(stack).post(route, body), 400, "validation_failed")
    rows = sql(stack, "SELECT COUNT(*) FROM users WHERE username = '%s'" % body["username"])
    assert rows == [["0"]], rows


BAD_JSON = [
    ("malformed JSON", b'{"username": "x", '),
    ("invalid UTF-8", b'{"username": "ab\xc3\x28cd", "email": "a@example.com", '
                      b'"password": "Pw-long-enough-1"}'),
    ("an overlong UTF-8 encoding", b'{"username": "ab\xc0\xafcd", "email": "a@example.com", '
                                   b'"password": "Pw-long-enough-1"}'),
    ("a lone high surrogate", b'{"username": "ab\\ud83dcd", "email": "a@example.com", '
                              b'"password": "Pw-long-enough-1"}'),
    ("a lone low surrogate", b'{"username": "abc", "email": "a@example.com", '
                             b'"password": "Pw-\\udc00-long-enough"}'),
    ("trailing garbage", b'{"username": "abc"} x'),
    ("an empty body", b""),
]


def test_each_malformed_body_is_a_400_invalid_json_on_both_sign_up_routes(stack):
    c = Client(stack)
    failures = []
    for route in SIGNUP_ROUTES:
        for what, body in BAD_JSON:
            try:
                assert_problem(c.post(route, body), 400, "invalid_json")
            except AssertionError as e:
                failures.append("%s %s: %s" % (route, what, e))
    assert not failures, "\n".join(failures)


def test_a_sign_up_without_a_json_content_type_is_a_415_on_both_routes(stack):
    c = Client(stack)
    body = b'{"username": "abc", "email": "abc@example.com", "password": "Pw-long-enough-1"}'
    for route in SIGNUP_ROUTES:
        assert_problem(c.request("POST", route, data=body), 415, "unsupported_media_type")
        assert_problem(c.request("POST", route, data=body,
                                 headers={"Content-Type": "text/plain"}),
                       415, "unsupported_media_type")


def test_a_sign_up_body_over_65536_bytes_is_a_413_on_both_routes(stack):
    c = Client(stack)
    head = b'{"username": "'
    body = head + b"x" * (BODY_MAX + 1 - len(head) - 2) + b'"}'
    assert len(body) == BODY_MAX + 1
    for route in SIGNUP_ROUTES:
        r = c.request("POST", route, data=body, headers={"Content-Type": JSON})
        assert r.status_code == 413, (route, r.status_code, r.text[:200])


# --- POST /api/v1/auth/login -----------------------------------------------------------------

def test_a_login_answers_200_with_a_bearer_token_pair_and_the_user(stack):
    account = register(stack, verified=True)
    before = time.time()
    r = account.client.post("/api/v1/auth/login", {"login": account.username,
                                                   "password": account.password})
    after = time.time()
    assert r.status_code == 200, r.text
    assert media_type(r) == "application/json"
    assert "no-store" in r.headers.get("Cache-Control", "")
    body = r.json()
    assert set(body) == {"access_token", "token_type", "expires_in", "refresh_token", "user"}
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 900
    assert isinstance(body["access_token"], str) and body["access_token"]
    assert isinstance(body["refresh_token"], str) and len(body["refresh_token"]) >= 20
    user = body["user"]
    assert set(user) == USER_KEYS, sorted(user)
    assert user["id"] == account.id and user["email_verified"] is True
    # API.md §7: last_login_at in the login answer is the time of this login.
    assert user["last_login_at"] is not None
    at = parse_time(user["last_login_at"])
    assert before - 2 <= at <= after + 2, (user["last_login_at"], before, after)


def test_a_login_by_email_address_in_other_case_works(stack):
    account = register(stack, verified=True)
    r = account.client.post("/api/v1/auth/login", {"login": account.email.upper(),
                                                   "password": account.password})
    assert r.status_code == 200, r.text
    assert r.json()["user"]["id"] == account.id


def test_the_access_token_is_an_hs256_jwt_with_kid_and_the_contract_claims(stack):
    account = register(stack, verified=True)
    body = login(account)
    token = body["access_token"]
    header = jwt.get_unverified_header(token)
    assert header["alg"] == "HS256"
    assert header.get("kid") == kid(stack), header
    claims = decode_access(stack, token)
    assert claims["iss"] == "usermgr"
    assert claims["aud"] == "usermgr"
    assert claims["sub"] == account.id
    assert claims["roles"] == ["user"]
    assert isinstance(claims["iat"], int) and abs(claims["iat"] - time.time()) < 30
    assert claims["exp"] == claims["iat"] + 900
    assert isinstance(claims["jti"], str) and claims["jti"]
    assert isinstance(claims["sid"], str) and claims["sid"].isdigit(), claims.get("sid")


def test_two_logins_get_different_token_ids_and_families(stack):
    account = register(stack, verified=True)
    a = decode_access(stack, login(account)["access_token"])
    b = decode_access(stack, login(account)["access_token"])
    assert a["jti"] != b["jti"]
    assert a["sid"] != b["sid"]


def test_a_wrong_password_and_an_unknown_user_get_the_same_401(stack):
    account = register(stack, verified=True)
    c = account.client
    wrong = assert_problem(c.post("/api/v1/auth/login", {"login": account.username,
                                                         "password": new_password()}),
                           401, "invalid_credentials")
    unknown = assert_problem(c.post("/api/v1/auth/login", {"login": unique_name("nobody"),
                                                           "password": new_password()}),
                             401, "invalid_credentials")
    assert wrong == unknown, (wrong, unknown)


def test_a_login_before_the_address_is_verified_is_a_403_email_not_verified(stack):
    account = register(stack)
    assert_problem(account.client.post("/api/v1/auth/login", {"login": account.username,
                                                              "password": account.password}),
                   403, "email_not_verified")


def test_a_login_to_a_disabled_account_is_a_403_account_disabled(stack):
    account = register(stack, verified=True)
    disable_user(stack, account.id)
    assert_problem(account.client.post("/api/v1/auth/login", {"login": account.username,
                                                              "password": account.password}),
                   403, "account_disabled")


def test_a_wrong_password_to_a_disabled_account_is_still_invalid_credentials(stack):
    account = register(stack, verified=True)
    disable_user(stack, account.id)
    assert_problem(account.client.post("/api/v1/auth/login", {"login": account.username,
                                                              "password": new_password()}),
                   401, "invalid_credentials")


def test_after_five_failures_even_the_right_password_is_a_429_with_retry_after(stack):
    account = register(stack, verified=True)
    c = account.client
    for _ in range(4):
        assert_problem(c.post("/api/v1/auth/login", {"login": account.username,
                                                     "password": new_password()}),
                       401, "invalid_credentials")
    # The fifth failure reaches the limit: its own answer may already be the lockout.
    fifth = c.post("/api/v1/auth/login", {"login": account.username,
                                          "password": new_password()})
    if fifth.status_code == 429:
        assert_problem(fifth, 429, "rate_limited")
    else:
        assert_problem(fifth, 401, "invalid_credentials")
    # From another address too: the limit is per account (API.md §1), not per client.
    for client in (c, Client(stack)):
        r = client.post("/api/v1/auth/login", {"login": account.username,
                                               "password": account.password})
        assert_problem(r, 429, "rate_limited")
        retry = r.headers.get("Retry-After", "")
        assert retry.isdigit() and 0 < int(retry) <= 900, retry


def test_a_successful_login_clears_the_failure_count(stack):
    account = register(stack, verified=True)
    c = account.client
    for _ in range(4):
        assert_problem(c.post("/api/v1/auth/login", {"login": account.username,
                                                     "password": new_password()}),
                       401, "invalid_credentials")
    login(account)
    for _ in range(4):
        assert_problem(c.post("/api/v1/auth/login", {"login": account.username,
                                                     "password": new_password()}),
                       401, "invalid_credentials")
    login(account)


# Each route of the per-IP limit (API.md §1), a body it answers without the limit, and that answer.
PER_IP_ROUTES = {
    "/api/v1/auth/login": (lambda: {"login": unique_name("nobody"), "password": "x"}, 401),
    "/api/v1/users": (signup_body, 201),
    "/register_user": (signup_body, 201),
    "/api/v1/auth/password/forgot":
        (lambda: {"email": unique_name("nobody") + "@example.com"}, 202),
    "/api/v1/auth/verify-email/resend":
        (lambda: {"email": unique_name("nobody") + "@example.com"}, 202),
}


@pytest.mark.parametrize("route", sorted(PER_IP_ROUTES))
def test_the_31st_request_a_minute_from_one_address_is_a_429(stack, route):
    make, status = PER_IP_ROUTES[route]
    c = Client(stack)
    answers = burst_in_one_window(lambda _: c.post(route, make()), 31)
    statuses = [a.status_code for a in answers]
    r = answers[-1]
    assert statuses[:30] == [status] * 30, statuses
    problem = assert_problem(r, 429, "rate_limited")
    retry = r.headers.get("Retry-After", "")
    assert retry.isdigit() and 1 <= int(retry) <= 60, (retry, problem)
    # Another address is not held back.
    assert Client(stack).post(route, make()).status_code == status


def test_login_bodies_that_are_not_json_objects_are_refused(stack):
    c = Client(stack)
    assert_problem(c.post("/api/v1/auth/login", b"{"), 400, "invalid_json")
    assert_problem(c.request("POST", "/api/v1/auth/login", data=b"login=a&password=b",
                             headers={"Content-Type": "application/x-www-form-urlencoded"}),
                   415, "unsupported_media_type")
    problem = assert_problem(c.post("/api/v1/auth/login", {"login": "someone"}), 400,
                             "validation_failed")
    assert "password" in error_fields(problem), problem


# --- verify-email, resend, forgot, reset ------------------------------------------------------

def test_the_mailed_verification_token_verifies_the_address_over_the_api(stack):
    account = register(stack)
    token = link_token(stack, account.email, "/verify-email")
    r = Client(stack).post("/api/v1/auth/verify-email", {"token": token})
    assert r.status_code == 200, r.text
    user = r.json()
    assert set(user) == USER_KEYS
    assert user["id"] == account.id and user["email_verified"] is True
    login(account)


def test_a_garbage_verification_token_is_a_400_invalid_token(stack):
    c = Client(stack)
    for token in ("garbage", "a.b.c", "x" * 300):
        assert_problem(c.post("/api/v1/auth/verify-email", {"token": token}), 400,
                       "invalid_token")


def test_an_access_token_is_not_a_verification_token(stack):
    account = register(stack, verified=True)
    access = login(account)["access_token"]
    assert_problem(Client(stack).post("/api/v1/auth/verify-email", {"token": access}), 400,
                   "invalid_token")


def test_an_expired_verification_token_is_a_400_token_expired(stack):
    account = register(stack)
    real = jwt.decode(link_token(stack, account.email, "/verify-email"),
                      options={"verify_signature": False})
    assert real["aud"] == "usermgr:verify_email", real
    now = int(time.time())
    expired = dict(real, iat=now - 2 * 86400, exp=now - 86400)
    r = Client(stack).post("/api/v1/auth/verify-email", {"token": sign(stack, expired)})
    assert_problem(r, 400, "token_expired")
    # The same claims, not expired, do verify: the refusal was for the expiry alone.
    fresh = dict(real, iat=now, exp=now + 3600)
    r = Client(stack).post("/api/v1/auth/verify-email", {"token": sign(stack, fresh)})
    assert r.status_code == 200, r.text


def test_resend_answers_202_with_the_same_body_for_known_and_unknown_addresses(stack):
    account = register(stack)
    c = Client(stack)
    before = mail_count(stack, account.email)
    known = c.post("/api/v1/auth/verify-email/resend", {"email": account.email})
    unknown = c.post("/api/v1/auth/verify-email/resend",
                     {"email": unique_name("nobody") + "@example.com"})
    assert known.status_code == 202, known.text
    assert unknown.status_code == 202, unknown.text
    assert known.json() == unknown.json()
    assert mail_count(stack, account.email) == before + 1


def test_forgot_answers_202_with_the_same_body_for_known_and_unknown_addresses(stack):
    account = register(stack, verified=True)
    c = Client(stack)
    known = c.post("/api/v1/auth/password/forgot", {"email": account.email})
    unknown = c.post("/api/v1/auth/password/forgot",
                     {"email": unique_name("nobody") + "@example.com"})
    assert known.status_code == 202, known.text
    assert unknown.status_code == 202, unknown.text
    assert known.json() == unknown.json()
    link_token(stack, account.email, "/reset-password")


def test_resend_and_forgot_refuse_a_malformed_address_with_a_400(stack):
    c = Client(stack)
    for route in ("/api/v1/auth/verify-email/resend", "/api/v1/auth/password/forgot"):
        problem = assert_problem(c.post(route, {"email": "not an address"}), 400,
                                 "validation_failed")
        assert "email" in error_fields(problem), (route, problem)
        assert_problem(c.post(route, b"{"), 400, "invalid_json")
        assert_problem(c.request("POST", route, data=b'{"email": "a@example.com"}'), 415,
                       "unsupported_media_type")


def forgot_token(stack, account):
    r = Client(stack).post("/api/v1/auth/password/forgot", {"email": account.email})
    assert r.status_code == 202, r.text
    return link_token(stack, account.email, "/reset-password")


def test_a_reset_sets_the_password_and_its_link_works_only_once(stack):
    account = register(stack, verified=True)
    token = forgot_token(stack, account)
    c = Client(stack)
    password = new_password()
    r = c.post("/api/v1/auth/password/reset", {"token": token, "password": password})
    assert r.status_code == 204, r.text
    assert r.content == b""
    again = c.post("/api/v1/auth/password/reset", {"token": token, "password": new_password()})
    assert_problem(again, 400, "invalid_token")
    assert_problem(c.post("/api/v1/auth/login", {"login": account.username,
                                                 "password": account.password}),
                   401, "invalid_credentials")
    login(account, password=password)


def test_a_reset_ends_every_refresh_token_of_the_user(stack):
    account = register(stack, verified=True)
    first, second = login(account), login(account)
    token = forgot_token(stack, account)
    r = Client(stack).post("/api/v1/auth/password/reset", {"token": token,
                                                           "password": new_password()})
    assert r.status_code == 204, r.text
    c = Client(stack)
    for pair in (first, second):
        assert_problem(c.post("/api/v1/auth/refresh", {"refresh_token": pair["refresh_token"]}),
                       401, "invalid_token")
        assert_problem(c.get("/api/v1/me", token=pair["access_token"]), 401, "invalid_token")


def test_a_reset_with_a_weak_password_is_a_400_and_keeps_the_link_alive(stack):
    account = register(stack, verified=True)
    token = forgot_token(stack, account)
    c = Client(stack)
    problem = assert_problem(c.post("/api/v1/auth/password/reset",
                                    {"token": token, "password": "short"}),
                             400, "validation_failed")
    assert "password" in error_fields(problem), problem
    r = c.post("/api/v1/auth/password/reset", {"token": token, "password": new_password()})
    assert r.status_code == 204, r.text


def test_a_reset_with_a_garbage_or_expired_token_is_refused(stack):
    account = register(stack, verified=True)
    real = jwt.decode(forgot_token(stack, account), options={"verify_signature": False})
    assert real["aud"] == "usermgr:reset_password", real
    c = Client(stack)
    assert_problem(c.post("/api/v1/auth/password/reset",
                          {"token": "garbage", "password": new_password()}),
                   400, "invalid_token")
    now = int(time.time())
    expired = sign(stack, dict(real, iat=now - 7200, exp=now - 3600))
    assert_problem(c.post("/api/v1/auth/password/reset",
                          {"token": expired, "password": new_password()}),
                   400, "token_expired")
    login(account)


def test_a_reset_lifts_an_active_lockout(stack):
    account = register(stack, verified=True)
    c = account.client
    for _ in range(5):
        c.post("/api/v1/auth/login", {"login": account.username, "password": new_password()})
    assert_problem(c.post("/api/v1/auth/login", {"login": account.username,
                                                 "password": account.password}),
                   429, "rate_limited")
    token = forgot_token(stack, account)
    password = new_password()
    r = Client(stack).post("/api/v1/auth/password/reset", {"token": token,
                                                           "password": password})
    assert r.status_code == 204, r.text
    login(account, password=password)


def test_a_verification_after_marking_verified_by_sql_is_harmless(stack):
    # Verifying twice is harmless (API.md §5).
    account = register(stack)
    token = link_token(stack, account.email, "/verify-email")
    mark_verified(stack, account.id)
    r = Client(stack).post("/api/v1/auth/verify-email", {"token": token})
    assert r.status_code == 200, r.text
    assert r.json()["email_verified"] is True


def test_concurrent_logins_of_one_account_all_succeed_with_distinct_families(stack):
    # Regression: the family insert's foreign-key lock and the user-row update used to
    # deadlock two logins of one account (a 500 for the loser).
    import concurrent.futures

    account = register(stack, verified=True)

    def one(_):
        c = Client(stack)
        return c.post("/api/v1/auth/login", {"login": account.username,
                                              "password": account.password})

    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(one, range(16)))
    assert [r.status_code for r in answers] == [200] * 16, [r.text[:200] for r in answers]
    sids = {decode_access(stack, r.json()["access_token"])["sid"] for r in answers}
    assert len(sids) == 16
