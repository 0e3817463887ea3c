"""test_sessions.py: browser login, session cookie, lockout, per-IP limit, logout (API.md §3, §7).

Every test uses Browsers of its own source address (accounts_lib): the lockout is per account
and the per-IP limit per address, so no test can trip another's.
"""

import secrets

from accounts_lib import (BAD_LOGIN, LOCKED_TEXT, REMEMBER_SECONDS, SESSION_COOKIE, Browser,
                          audit_events, cookie_attributes, csrf_of, end_lockout, input_value,
                          logged_in, login, new_password, register, set_cookie_line, sql_one,
                          with_cookie)
from stack import burst_in_one_window

LOCKOUT_SECONDS = 900  # API.md §1 default of USERMGR_LOGIN_LOCKOUT_SECONDS
MAX_FAILURES = 5       # API.md §1 default of USERMGR_LOGIN_MAX_FAILURES
PER_IP_PER_MIN = 30    # API.md §1 default of USERMGR_RATE_PER_IP_PER_MIN


def assert_session_opens_profile(stack, value, account):
    r = with_cookie(stack, value)
    assert r.status_code == 200, "the session cookie does not open /profile: %d" % r.status_code
    assert account.username in r.text


def assert_session_dead(stack, value):
    r = with_cookie(stack, value)
    assert r.status_code == 303, "an ended session still opens /profile: %d" % r.status_code
    assert r.headers["Location"] == "/login?next=%2Fprofile", r.headers["Location"]


def retry_after(r):
    value = r.headers.get("Retry-After")
    assert value is not None and value.isdigit(), "Retry-After is %r" % value
    return int(value)


# --- success and the cookie -------------------------------------------------------------------

def test_the_login_form_has_its_fields_and_a_csrf_token(stack):
    r = Browser(stack).get("/login")
    assert r.status_code == 200
    assert input_value(r.text, "login") == ""
    assert input_value(r.text, "password") == ""
    assert 'name="remember"' in r.text
    assert csrf_of(r.text)


def test_a_login_redirects_to_the_profile_with_a_browser_session_cookie(stack):
    account = register(stack, verified=True)
    b = Browser(stack)
    r = login(stack, account, b)
    assert r.status_code == 303, r.text[:500]
    assert r.headers["Location"] == "/profile"
    value, attrs = cookie_attributes(set_cookie_line(r))
    assert len(value) >= 32, "a session id of %d characters" % len(value)
    assert attrs.get("httponly") is True, attrs
    assert attrs.get("samesite", "").lower() == "lax", attrs
    assert attrs.get("path") == "/", attrs
    assert "max-age" not in attrs and "expires" not in attrs, \
        "without remember the cookie must end with the browser: %r" % attrs
    assert "secure" not in attrs, "Secure on an http base URL: %r" % attrs
    assert_session_opens_profile(stack, value, account)


def test_a_login_by_email_address_in_other_case_works(stack):
    account = register(stack, verified=True)
    b = Browser(stack)
    r = b.form("/login", {"login": account.email.upper(), "password": account.password})
    assert r.status_code == 303, r.text[:500]
    assert r.headers["Location"] == "/profile"


def test_remember_me_makes_the_cookie_last_thirty_days(stack):
    account = register(stack, verified=True)
    r = login(stack, account, remember=True)
    assert r.status_code == 303, r.text[:500]
    value, attrs = cookie_attributes(set_cookie_line(r))
    assert attrs.get("max-age") == str(REMEMBER_SECONDS), attrs
    assert attrs.get("httponly") is True and attrs.get("path") == "/", attrs
    assert_session_opens_profile(stack, value, account)


def test_a_session_id_planted_before_the_login_is_not_the_one_after(stack):
    account = register(stack, verified=True)
    b = Browser(stack)
    planted = secrets.token_urlsafe(32)
    b.set_cookie(SESSION_COOKIE, planted)
    r = login(stack, account, b)
    assert r.status_code == 303, r.text[:500]
    value, _ = cookie_attributes(set_cookie_line(r))
    assert value != planted, "the login kept the session id the visitor came with"
    assert_session_dead(stack, planted)


def test_every_login_issues_a_new_session_id(stack):
    account, b = logged_in(stack)
    before = b.cookie()
    r = login(stack, account, b)
    assert r.status_code == 303, r.text[:500]
    after, _ = cookie_attributes(set_cookie_line(r))
    assert after != before, "a second login kept the session id"
    assert_session_opens_profile(stack, after, account)


def test_a_login_records_last_login_at(stack):
    account = register(stack, verified=True)
    assert sql_one(stack, "SELECT last_login_at IS NULL FROM users WHERE id = %d"
                   % account.id) == "1"
    assert login(stack, account).status_code == 303
    assert sql_one(stack, "SELECT last_login_at IS NOT NULL FROM users WHERE id = %d"
                   % account.id) == "1"


# --- next ---------------------------------------------------------------------------------------

def test_a_same_site_next_is_followed_after_the_login(stack):
    account = register(stack, verified=True)
    b = Browser(stack)
    r = b.get("/login?next=%2Fprofile%3Fx%3D1")
    assert r.status_code == 200
    assert input_value(r.text, "next") == "/profile?x=1", "next is not carried in the form"
    r = b.post("/login", {"csrf_token": csrf_of(r.text), "login": account.username,
                          "password": account.password, "next": "/profile?x=1"})
    assert r.status_code == 303, r.text[:500]
    assert r.headers["Location"] == "/profile?x=1"


def test_an_off_site_next_is_ignored(stack):
    account = register(stack, verified=True)
    for nxt in ("//evil.example", "https://evil.example", "/\\evil.example",
                "https:evil.example", "javascript:alert(1)"):
        r = login(stack, account, next_=nxt)
        assert r.status_code == 303, r.text[:500]
        assert r.headers["Location"] == "/profile", "next=%r led to %r" % (
            nxt, r.headers["Location"])


def test_the_login_form_does_not_carry_an_off_site_next(stack):
    r = Browser(stack).get("/login?next=%2F%2Fevil.example")
    assert r.status_code == 200
    assert "evil.example" not in r.text


# --- refusals ----------------------------------------------------------------------------------

def test_a_wrong_password_is_400_with_the_login_kept_and_no_session(stack):
    account = register(stack, verified=True)
    b = Browser(stack)
    wrong = "wrong-" + new_password()
    r = login(stack, account, b, password=wrong)
    assert r.status_code == 400, r.text[:500]
    assert BAD_LOGIN in r.text
    assert input_value(r.text, "login") == account.username
    assert input_value(r.text, "password") == ""
    assert wrong not in r.text
    assert b.cookie() is None


def test_an_unknown_user_gets_the_same_message_as_a_wrong_password(stack):
    account = register(stack, verified=True)
    wrong = login(stack, account, password="wrong-" + new_password())
    b = Browser(stack)
    unknown = b.form("/login", {"login": "nobody" + secrets.token_hex(4),
                                "password": new_password()})
    assert unknown.status_code == wrong.status_code == 400
    assert BAD_LOGIN in unknown.text and BAD_LOGIN in wrong.text


def test_a_password_in_the_query_string_is_never_used(stack):
    account = register(stack, verified=True)
    b = Browser(stack)
    token = csrf_of(b.get("/login").text)
    r = b.post("/login?password=%s&login=%s" % (account.password, account.username),
               {"csrf_token": token, "login": account.username})
    assert r.status_code == 400, r.text[:500]
    assert b.cookie() is None
    assert account.password not in r.text


def test_a_login_without_a_csrf_token_is_403(stack):
    account = register(stack, verified=True)
    b = Browser(stack)
    assert b.get("/login").status_code == 200
    r = b.post("/login", {"login": account.username, "password": account.password})
    assert r.status_code == 403, r.text[:500]
    assert b.cookie() is None


# --- lockout (API.md §1, §7) --------------------------------------------------------------------

def lock_out(stack, account):
    """MAX_FAILURES wrong passwords; the last may already answer 429. Returns the answers."""
    answers = []
    for i in range(MAX_FAILURES):
        r = login(stack, account, password="wrong-%d-%s" % (i, new_password()))
        answers.append(r.status_code)
    assert answers[:-1] == [400] * (MAX_FAILURES - 1), answers
    assert answers[-1] in (400, 429), answers
    return answers


def test_five_failures_lock_the_account_even_for_the_right_password(stack):
    account = register(stack, verified=True)
    lock_out(stack, account)
    b = Browser(stack)
    r = login(stack, account, b)
    assert r.status_code == 429, r.text[:500]
    assert 0 < retry_after(r) <= LOCKOUT_SECONDS
    assert LOCKED_TEXT in r.text
    assert 'href="/forgot-password"' in r.text, "the page offers no way out by reset"
    assert b.cookie() is None
    events = audit_events(stack, account.id)
    assert "locked_out" in events and "login_failed" in events, events


def test_the_right_password_works_again_once_the_lockout_is_over(stack):
    account = register(stack, verified=True)
    lock_out(stack, account)
    assert login(stack, account).status_code == 429
    end_lockout(stack, account.id)
    r = login(stack, account)
    assert r.status_code == 303, r.text[:500]
    assert sql_one(stack, "SELECT failed_logins FROM users WHERE id = %d" % account.id) == "0"


def test_a_successful_login_clears_the_failure_count(stack):
    account = register(stack, verified=True)
    for _ in range(MAX_FAILURES - 1):
        assert login(stack, account, password="wrong-" + new_password()).status_code == 400
    assert login(stack, account).status_code == 303
    for _ in range(MAX_FAILURES - 1):
        assert login(stack, account, password="wrong-" + new_password()).status_code == 400
    assert login(stack, account).status_code == 303, "failures before a success still count"


# --- the per-IP limit -------------------------------------------------------------------------

def test_the_thirty_first_post_a_minute_from_one_address_is_429(stack):
    b = Browser(stack)
    token = csrf_of(b.get("/forgot-password").text)
    answers = burst_in_one_window(
        lambda i: b.post("/forgot-password", {"csrf_token": token,
                                              "email": "nobody%d@example.com" % i}),
        PER_IP_PER_MIN + 1)
    statuses = [a.status_code for a in answers]
    assert statuses[:-1] == [200] * PER_IP_PER_MIN, statuses
    r = answers[-1]
    assert r.status_code == 429, r.text[:500]
    assert 0 < retry_after(r) <= 60
    # Another address is not affected.
    other = Browser(stack)
    r = other.form("/forgot-password", {"email": "someone@example.com"})
    assert r.status_code == 200, r.text[:500]


# --- logout -----------------------------------------------------------------------------------

def test_logout_ends_the_session_and_redirects_home(stack):
    account, b = logged_in(stack)
    value = b.cookie()
    token = csrf_of(b.get("/profile").text)
    r = b.post("/logout", {"csrf_token": token})
    assert r.status_code == 303, r.text[:500]
    assert r.headers["Location"] == "/"
    assert b.cookie() is None, "the logout did not clear the cookie"
    assert_session_dead(stack, value)
    assert "logout" in audit_events(stack, account.id)


def test_logout_without_a_csrf_token_is_403_and_keeps_the_session(stack):
    account, b = logged_in(stack)
    value = b.cookie()
    # What a browser sends for a form without the hidden field: an empty urlencoded body.
    r = b.post("/logout", "", headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code == 403, r.text[:500]
    assert_session_opens_profile(stack, value, account)


def test_a_form_post_that_is_not_a_form_is_403_not_415_and_keeps_the_session(stack):
    """API.md §3: without a readable csrf_token the answer is 403 — a bodiless POST or another
    content type cannot carry one (and the contract's order puts 403 before 415)."""
    account, b = logged_in(stack)
    value = b.cookie()
    for headers, body in (({}, None), ({"Content-Type": "application/json"},
                                       '{"csrf_token": "x"}'), ({"Content-Type": "text/plain"}, "")):
        r = b.request("POST", "/logout", headers={"Origin": stack.base_url, **headers},
                      data=body)
        assert r.status_code == 403, (headers, r.status_code, r.text[:300])
    assert_session_opens_profile(stack, value, account)


def test_get_logout_is_405(stack):
    account, b = logged_in(stack)
    r = b.get("/logout")
    assert r.status_code == 405, r.text[:300]
    assert "POST" in r.headers.get("Allow", ""), r.headers.get("Allow")
    assert_session_opens_profile(stack, b.cookie(), account)
