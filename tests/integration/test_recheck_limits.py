"""test_recheck_limits.py: password re-checks are limited like logins (issue 10, item 7; API.md §8).

A stolen access token or session must not allow unlimited guessing of the account's password
through the routes that ask for it again: a wrong current password counts toward the account's
lockout (USERMGR_LOGIN_MAX_FAILURES = 5 on the test stack, so the 5th wrong one may answer 429)
and, over the API, every re-check counts toward the per-IP limit (USERMGR_RATE_PER_IP_PER_MIN =
30). At the limit the answer is 429 rate_limited with Retry-After, HTML and API alike.
"""

from accounts_lib import Browser, csrf_of, field_error, logged_in, user_count
from api_lib import Client, new_password, register, login, verified_login
from stack import assert_problem, burst_in_one_window

MAX_FAILURES = 5
LOCKOUT = 900
PER_IP = 30


def retry_after(r):
    value = r.headers.get("Retry-After")
    assert value is not None and value.isdigit(), "no Retry-After in %r" % dict(r.headers)
    return int(value)


def assert_locked(r):
    assert_problem(r, 429, "rate_limited")
    assert 0 < retry_after(r) <= LOCKOUT, r.headers["Retry-After"]


# --- JSON API ----------------------------------------------------------------------------------

def wrong_change(account, token, route):
    """One re-check with a wrong password on ROUTE: "password", "email" or "delete"."""
    c = account.client
    bad = "Wrong-%s" % new_password()
    if route == "password":
        return c.post("/api/v1/me/password", {"current_password": bad,
                                              "new_password": new_password()}, token=token)
    if route == "email":
        return c.post("/api/v1/me/email", {"password": bad,
                                           "email": "n-%s" % account.email}, token=token)
    return c.json("DELETE", "/api/v1/me", {"password": bad}, token=token)


def test_wrong_current_passwords_over_the_api_lock_the_account_like_wrong_logins(stack):
    account, pair = verified_login(stack)
    token = pair["access_token"]
    routes = ["password", "email", "delete", "password"]
    for route in routes:
        assert_problem(wrong_change(account, token, route), 403, "invalid_credentials")
    assert_locked(wrong_change(account, token, "delete"))
    # Locked: even the right password is refused, on the re-check and at login alike.
    r = account.client.json("DELETE", "/api/v1/me", {"password": account.password}, token=token)
    assert_locked(r)
    r = Client(stack).post("/api/v1/auth/login", {"login": account.username,
                                                  "password": account.password})
    assert_locked(r)
    assert user_count(stack, "id = %d" % int(account.id)) == 1, "a locked re-check deleted"


def test_a_right_api_recheck_still_works_below_the_limit(stack):
    account, pair = verified_login(stack)
    token = pair["access_token"]
    for _ in range(MAX_FAILURES - 2):
        assert_problem(wrong_change(account, token, "email"), 403, "invalid_credentials")
    r = account.client.json("DELETE", "/api/v1/me", {"password": account.password},
                            token=token)
    assert r.status_code == 204, r.text[:300]


def test_api_rechecks_count_toward_the_per_ip_limit(stack):
    # Accounts that each stay below their own lockout, all guessed at from one address.
    per_account = MAX_FAILURES - 1
    n_accounts = PER_IP // per_account + 1
    tokens = []
    for _ in range(n_accounts):
        account = register(stack, verified=True)
        tokens.append((account, login(account)["access_token"]))
    attacker = Client(stack)
    bad = "Wrong-%s" % new_password()

    def send(i):
        account, token = tokens[i // per_account]
        return attacker.post("/api/v1/me/password", {"current_password": bad,
                                                     "new_password": new_password()},
                             token=token)
    results = burst_in_one_window(send, PER_IP + 1)
    for r in results[:PER_IP]:
        assert_problem(r, 403, "invalid_credentials")
    assert_problem(results[PER_IP], 429, "rate_limited")
    assert 0 < retry_after(results[PER_IP]) <= 60, results[PER_IP].headers["Retry-After"]


# --- HTML account pages ------------------------------------------------------------------------

def wrong_form(b, path, fields):
    page = b.get(path)
    assert page.status_code == 200, page.text[:300]
    data = dict(fields)
    data["csrf_token"] = csrf_of(page.text)
    return b.post(path, data)


def test_wrong_current_passwords_on_the_account_pages_lock_the_account(stack):
    account, b = logged_in(stack)
    bad = "Wrong-%s" % new_password()
    pw = new_password()
    attempts = [
        ("/account/password", {"current_password": bad, "password": pw, "password_confirm": pw},
         "current_password"),
        ("/account/email", {"password": bad, "email": "n-%s" % account.email}, "password"),
        ("/account/delete", {"password": bad}, "password"),
        ("/account/mfa", {"action": "start", "password": bad}, "password"),
    ]
    for path, fields, field in attempts:
        r = wrong_form(b, path, fields)
        assert r.status_code == 403, (path, r.status_code, r.text[:300])
        assert field_error(r.text, field) == "is not correct", (path, field_error(r.text, field))
    r = wrong_form(b, "/account/password", attempts[0][1])
    assert r.status_code == 429, r.text[:300]
    assert 0 < retry_after(r) <= LOCKOUT
    assert "locked" in (field_error(r.text, "current_password") or ""), r.text[:1500]
    # Locked: the right password is refused too, and nothing is deleted.
    r = wrong_form(b, "/account/delete", {"password": account.password})
    assert r.status_code == 429, r.text[:300]
    assert 0 < retry_after(r) <= LOCKOUT
    assert "locked" in (field_error(r.text, "password") or "")
    assert user_count(stack, "id = %d" % account.id) == 1
    # The lockout is the login's: a fresh browser cannot sign in either.
    r = Browser(stack).form("/login", {"login": account.username, "password": account.password})
    assert r.status_code == 429, r.text[:300]
