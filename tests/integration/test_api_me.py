"""test_api_me.py: the caller's own account over the JSON API, /api/v1/me and below (API.md §4, §7).

Each test makes its own verified user and logs it in over the API; the mail checks read the
outbox table, where every mail is written in the transaction of its change (API.md §5).
"""

import jwt

from api_lib import (USER_KEYS, Client, browser_login, csrf_of, error_fields, link_token,
                     login, mail_count, new_password, newest_mail, register, unique_name,
                     verified_login)
from stack import assert_problem, media_type

ME = "/api/v1/me"


def patch(account, pair, body):
    return account.client.json("PATCH", ME, body, token=pair["access_token"])


# --- GET and PATCH /api/v1/me -------------------------------------------------------------------

def test_get_me_answers_the_callers_user_object(stack):
    account, pair = verified_login(stack)
    r = account.client.get(ME, token=pair["access_token"])
    assert r.status_code == 200, r.text
    assert media_type(r) == "application/json"
    user = r.json()
    assert set(user) == USER_KEYS, sorted(user)
    assert user["id"] == account.id
    assert user["username"] == account.username
    assert user["email"] == account.email
    assert user["email_verified"] is True
    assert user["roles"] == ["user"]
    assert user["last_login_at"] is not None


def test_patch_me_sets_display_name_and_bio(stack):
    account, pair = verified_login(stack)
    r = patch(account, pair, {"display_name": "Ada Lovelace \u00e9\u4e16",
                              "bio": "line one\nline two"})
    assert r.status_code == 200, r.text
    user = r.json()
    assert set(user) == USER_KEYS
    assert user["display_name"] == "Ada Lovelace \u00e9\u4e16"
    assert user["bio"] == "line one\nline two"
    again = account.client.get(ME, token=pair["access_token"]).json()
    assert again["display_name"] == "Ada Lovelace \u00e9\u4e16"
    assert again["bio"] == "line one\nline two"


def test_patch_me_keeps_absent_fields_and_null_clears(stack):
    account, pair = verified_login(stack)
    assert patch(account, pair, {"display_name": "Name", "bio": "Bio"}).status_code == 200
    r = patch(account, pair, {"bio": "Other"})
    assert r.status_code == 200, r.text
    assert (r.json()["display_name"], r.json()["bio"]) == ("Name", "Other")
    r = patch(account, pair, {"display_name": None})
    assert r.status_code == 200, r.text
    assert (r.json()["display_name"], r.json()["bio"]) == (None, "Other")
    r = patch(account, pair, {"bio": None})
    assert r.status_code == 200, r.text
    assert r.json()["bio"] is None


def test_display_name_and_bio_limits_count_characters_not_bytes(stack):
    account, pair = verified_login(stack)
    r = patch(account, pair, {"display_name": "\u00e9" * 100, "bio": "\u4e16" * 1000})
    assert r.status_code == 200, r.text
    assert r.json()["display_name"] == "\u00e9" * 100
    assert r.json()["bio"] == "\u4e16" * 1000


INVALID_PATCHES = [
    ("a display name of 101 characters", {"display_name": "d" * 101}, "display_name"),
    ("a bio of 1001 characters", {"bio": "b" * 1001}, "bio"),
    ("a bell in the bio", {"bio": "ding\u0007"}, "bio"),
    ("an escape in the bio", {"bio": "\u001b[31mred"}, "bio"),
    ("a DEL in the bio", {"bio": "x\u007fy"}, "bio"),
    ("a lone CR in the bio", {"bio": "one\rtwo"}, "bio"),
    ("a NUL in the bio", {"bio": "a\u0000b"}, "bio"),
    ("a newline in the display name", {"display_name": "two\nlines"}, "display_name"),
    ("a tab in the display name", {"display_name": "a\tb"}, "display_name"),
    ("a NUL in the display name", {"display_name": "a\u0000b"}, "display_name"),
    ("a number for the display name", {"display_name": 7}, "display_name"),
    ("an object for the bio", {"bio": {"x": 1}}, "bio"),
]


def test_each_invalid_profile_field_is_a_400_naming_it_and_changes_nothing(stack):
    account, pair = verified_login(stack)
    assert patch(account, pair, {"display_name": "Kept", "bio": "Kept bio"}).status_code == 200
    failures = []
    for what, body, field in INVALID_PATCHES:
        try:
            problem = assert_problem(patch(account, pair, body), 400, "validation_failed")
            assert field in error_fields(problem), problem
        except AssertionError as e:
            failures.append("%s: %s" % (what, e))
    assert not failures, "\n".join(failures)
    user = account.client.get(ME, token=pair["access_token"]).json()
    assert (user["display_name"], user["bio"]) == ("Kept", "Kept bio")


def test_a_crlf_in_the_bio_is_stored_as_lf(stack):
    account, pair = verified_login(stack)
    r = patch(account, pair, {"bio": "one\r\ntwo\r\n"})
    assert r.status_code == 200, r.text
    assert r.json()["bio"] == "one\ntwo\n"


def test_patch_me_needs_a_token_and_a_json_body(stack):
    account, pair = verified_login(stack)
    c = account.client
    assert_problem(c.json("PATCH", ME, {"bio": "x"}), 401, "unauthorized")
    assert_problem(c.request("PATCH", ME, token=pair["access_token"], data=b'{"bio": "x"}',
                             headers={"Content-Type": "text/plain"}),
                   415, "unsupported_media_type")
    assert_problem(c.json("PATCH", ME, b'{"bio": ', token=pair["access_token"]), 400,
                   "invalid_json")
    assert_problem(c.json("PATCH", ME, b'{"bio": "\xff"}', token=pair["access_token"]), 400,
                   "invalid_json")


# --- DELETE /api/v1/me --------------------------------------------------------------------------

def test_deleting_me_with_a_wrong_password_is_a_403_and_keeps_the_account(stack):
    account, pair = verified_login(stack)
    r = account.client.json("DELETE", ME, {"password": new_password()},
                            token=pair["access_token"])
    assert_problem(r, 403, "invalid_credentials")
    login(account)


def test_deleting_me_with_the_password_ends_the_account_and_its_tokens(stack):
    account, pair = verified_login(stack)
    c = account.client
    r = c.json("DELETE", ME, {"password": account.password}, token=pair["access_token"])
    assert r.status_code == 204, r.text
    assert r.content == b""
    assert_problem(c.post("/api/v1/auth/login", {"login": account.username,
                                                 "password": account.password}),
                   401, "invalid_credentials")
    assert_problem(c.get(ME, token=pair["access_token"]), 401, "invalid_token")
    assert_problem(c.post("/api/v1/auth/refresh", {"refresh_token": pair["refresh_token"]}),
                   401, "invalid_token")


def test_deleting_me_without_a_password_is_a_400_naming_it(stack):
    account, pair = verified_login(stack)
    problem = assert_problem(account.client.json("DELETE", ME, {}, token=pair["access_token"]),
                             400, "validation_failed")
    assert "password" in error_fields(problem), problem


# --- POST /api/v1/me/password -------------------------------------------------------------------

def change_password(account, pair, current, new):
    return account.client.post(ME + "/password", {"current_password": current,
                                                  "new_password": new},
                               token=pair["access_token"])


def test_a_password_change_with_a_wrong_current_password_is_a_403(stack):
    account, pair = verified_login(stack)
    assert_problem(change_password(account, pair, new_password(), new_password()), 403,
                   "invalid_credentials")
    login(account)


def test_a_weak_new_password_is_a_400_naming_new_password(stack):
    account, pair = verified_login(stack)
    for weak in ("short", "password", "x" * 129, "Zz-" + account.username + "-9"):
        problem = assert_problem(change_password(account, pair, account.password, weak), 400,
                                 "validation_failed")
        assert "new_password" in error_fields(problem), (weak, problem)
    login(account)


def test_a_password_change_answers_204_and_mails_a_notice(stack):
    account, pair = verified_login(stack)
    before = mail_count(stack, account.email)
    new = new_password()
    r = change_password(account, pair, account.password, new)
    assert r.status_code == 204, r.text
    assert r.content == b""
    assert mail_count(stack, account.email) == before + 1
    subject, text = newest_mail(stack, account.email)
    assert "password" in subject.lower(), subject
    # A notice, not a link that changes the account.
    assert "token=" not in text, text[:500]
    assert_problem(account.client.post("/api/v1/auth/login",
                                       {"login": account.username,
                                        "password": account.password}),
                   401, "invalid_credentials")
    login(account, password=new)


def test_a_password_change_ends_the_users_browser_sessions(stack):
    account, pair = verified_login(stack)
    browser = browser_login(stack, account)
    assert browser.get("/auth/check").status_code == 204
    r = change_password(account, pair, account.password, new_password())
    assert r.status_code == 204, r.text
    assert browser.get("/auth/check").status_code == 401


# --- POST /api/v1/me/email and the confirm-email page -------------------------------------------

def request_email_change(account, pair, email, password=None):
    return account.client.post(ME + "/email", {"password": password or account.password,
                                               "email": email},
                               token=pair["access_token"])


def confirm(stack, token):
    """Follows a change-of-address link as a person would: GET the page, POST its form."""
    c = Client(stack)
    page = c.get("/confirm-email?token=" + token)
    assert page.status_code == 200, (page.status_code, page.text[:500])
    assert media_type(page) == "text/html"
    return c.form("/confirm-email", {"csrf_token": csrf_of(page.text), "token": token})


def test_a_change_of_address_completes_when_the_mailed_link_is_confirmed(stack):
    account, pair = verified_login(stack)
    new_email = unique_name("new") + "@example.org"
    old_before = mail_count(stack, account.email)
    r = request_email_change(account, pair, new_email)
    assert r.status_code == 202, r.text
    # The address does not change before the link is followed.
    assert account.client.get(ME, token=pair["access_token"]).json()["email"] == account.email
    # A notice goes to the old address (API.md §3).
    assert mail_count(stack, account.email) == old_before + 1
    token = link_token(stack, new_email, "/confirm-email")
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["aud"] == "usermgr:change_email", claims
    # The GET (a mail scanner) changes nothing.
    assert Client(stack).get("/confirm-email?token=" + token).status_code == 200
    assert account.client.get(ME, token=pair["access_token"]).json()["email"] == account.email
    done = confirm(stack, token)
    assert done.status_code == 200, done.text[:500]
    user = account.client.get(ME, token=pair["access_token"]).json()
    assert user["email"] == new_email
    assert user["email_verified"] is True
    r = account.client.post("/api/v1/auth/login", {"login": new_email,
                                                   "password": account.password})
    assert r.status_code == 200, r.text


def test_a_change_of_address_link_works_only_once(stack):
    account, pair = verified_login(stack)
    new_email = unique_name("new") + "@example.org"
    assert request_email_change(account, pair, new_email).status_code == 202
    token = link_token(stack, new_email, "/confirm-email")
    assert confirm(stack, token).status_code == 200
    assert Client(stack).get("/confirm-email?token=" + token).status_code == 400


def test_a_newer_change_of_address_request_kills_the_older_link(stack):
    account, pair = verified_login(stack)
    first = unique_name("first") + "@example.org"
    second = unique_name("second") + "@example.org"
    assert request_email_change(account, pair, first).status_code == 202
    old = link_token(stack, first, "/confirm-email")
    assert request_email_change(account, pair, second).status_code == 202
    new = link_token(stack, second, "/confirm-email")
    c = Client(stack)
    assert c.get("/confirm-email?token=" + old).status_code == 400
    assert confirm(stack, new).status_code == 200
    assert account.client.get(ME, token=pair["access_token"]).json()["email"] == second


def test_a_change_to_a_taken_address_is_a_409_naming_email(stack):
    account, pair = verified_login(stack)
    other = register(stack)
    problem = assert_problem(request_email_change(account, pair, other.email.upper()), 409,
                             "conflict")
    assert error_fields(problem) == {"email"}, problem


def test_a_change_of_address_with_a_wrong_password_is_a_403(stack):
    account, pair = verified_login(stack)
    new_email = unique_name("new") + "@example.org"
    r = request_email_change(account, pair, new_email, password=new_password())
    assert_problem(r, 403, "invalid_credentials")
    assert mail_count(stack, new_email) == 0


def test_a_change_to_a_malformed_address_is_a_400_naming_email(stack):
    account, pair = verified_login(stack)
    problem = assert_problem(request_email_change(account, pair, "not an address"), 400,
                             "validation_failed")
    assert "email" in error_fields(problem), problem


# --- sessions -----------------------------------------------------------------------------------

SESSION_KEYS = {"id", "kind", "created_at", "last_seen_at", "ip", "user_agent", "current"}


def sessions(account, pair):
    r = account.client.get(ME + "/sessions", token=pair["access_token"])
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"sessions"}, body
    return body["sessions"]


def test_the_session_list_shows_each_login_and_marks_the_current_one(stack):
    account, pair = verified_login(stack)
    other = login(account)
    browser_login(stack, account)
    listed = sessions(account, pair)
    assert len(listed) == 3, listed
    for s in listed:
        assert set(s) == SESSION_KEYS, sorted(s)
        assert isinstance(s["id"], str) and s["id"].isdigit(), s
        assert s["kind"] in ("api", "browser"), s
        assert isinstance(s["current"], bool)
    assert sorted(s["kind"] for s in listed) == ["api", "api", "browser"]
    current = [s for s in listed if s["current"]]
    assert len(current) == 1, listed
    assert current[0]["kind"] == "api"
    assert current[0]["ip"] == account.client.address
    # The other API login is the current one when asked through its own token.
    from_other = [s for s in sessions(account, other) if s["current"]]
    assert len(from_other) == 1 and from_other[0]["id"] != current[0]["id"]


def test_revoking_another_api_session_kills_its_refresh_and_access_tokens(stack):
    account, pair = verified_login(stack)
    other = login(account)
    victim = [s for s in sessions(account, other) if s["current"]][0]
    r = account.client.request("DELETE", ME + "/sessions/" + victim["id"],
                               token=pair["access_token"])
    assert r.status_code == 204, r.text
    c = account.client
    assert_problem(c.post("/api/v1/auth/refresh", {"refresh_token": other["refresh_token"]}),
                   401, "invalid_token")
    assert_problem(c.get(ME, token=other["access_token"]), 401, "invalid_token")
    assert c.get(ME, token=pair["access_token"]).status_code == 200
    assert victim["id"] not in {s["id"] for s in sessions(account, pair)}


def test_revoking_a_browser_session_logs_that_browser_out(stack):
    account, pair = verified_login(stack)
    browser = browser_login(stack, account)
    assert browser.get("/auth/check").status_code == 204
    victim = [s for s in sessions(account, pair) if s["kind"] == "browser"]
    assert len(victim) == 1, victim
    r = account.client.request("DELETE", ME + "/sessions/" + victim[0]["id"],
                               token=pair["access_token"])
    assert r.status_code == 204, r.text
    assert browser.get("/auth/check").status_code == 401


def test_revoking_an_unknown_or_foreign_session_is_a_404(stack):
    account, pair = verified_login(stack)
    stranger, stranger_pair = verified_login(stack)
    foreign = [s for s in sessions(stranger, stranger_pair) if s["current"]][0]["id"]
    c = account.client
    for sid in ("999999999", foreign, "0", "abc", "-1"):
        r = c.request("DELETE", ME + "/sessions/" + sid, token=pair["access_token"])
        assert_problem(r, 404, "not_found")
    # The stranger's session survived.
    assert c.get(ME, token=stranger_pair["access_token"]).status_code == 200


def test_the_session_routes_need_a_token(stack):
    c = Client(stack)
    assert_problem(c.get(ME + "/sessions"), 401, "unauthorized")
    assert_problem(c.request("DELETE", ME + "/sessions/1"), 401, "unauthorized")
