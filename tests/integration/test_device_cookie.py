"""test_device_cookie.py: device cookies keep the owner's browser in while strangers lock the
account (hardening item 16; OWASP "Slow Down Online Guessing Attacks with Device Cookies").

A browser (or JSON client keeping cookies) that completed a login to an account holds a signed
um_device entry for it. The account's lockout is the contract of API.md for every client: each
wrong password counts, USERMGR_LOGIN_MAX_FAILURES of them lock the account (the last answers 429
with Retry-After), and a successful login clears the count. A trusted browser's wrong passwords
also count against its own budget, USERMGR_DEVICE_MAX_FAILURES within
USERMGR_LOGIN_LOCKOUT_SECONDS, and that budget matters only while the account is locked: then
the trusted browser may go on until it is spent, and its successful login leaves the account's
count and lock alone. Every client here has a source address of its own (accounts_lib,
api_lib), so the per-IP limit never decides an answer.
"""

import base64
import hashlib
import hmac
import re
import time

from accounts_lib import (SESSION_COOKIE, Browser, audit_events, cookie_attributes, csrf_of,
                          input_value, link_path, login, mailed_token, new_password, register,
                          set_cookie_line, set_cookies, sql, sql_one)
from api_lib import Client
from peers import b64url, hkdf_sha256, secret
from stack import assert_problem

DEVICE_COOKIE = "um_device"    # http base URL: no __Host- prefix, like the session cookie
DEVICE_MAX_FAILURES = 3        # README default of USERMGR_DEVICE_MAX_FAILURES
MAX_FAILURES = 5               # API.md §1 default of USERMGR_LOGIN_MAX_FAILURES
LOCKOUT_SECONDS = 900          # API.md §1 default of USERMGR_LOGIN_LOCKOUT_SECONDS
DEVICE_LIFETIME = 365 * 86400  # the cookie's Max-Age and signed expiry
ENTRY = re.compile(r"^(\d+)\.(\d+)\.([A-Za-z0-9_-]{22})\.([A-Za-z0-9_-]{43})$")


def retry_after(r):
    value = r.headers.get("Retry-After")
    assert value is not None and value.isdigit(), "Retry-After is %r" % value
    return int(value)


def wrong():
    return "wrong-" + new_password()


def trusted_browser(stack, account):
    """A browser that logged in to ACCOUNT once (asserted) and so holds a device cookie."""
    b = Browser(stack)
    r = login(stack, account, b)
    assert r.status_code == 303, r.text[:500]
    assert b.cookie(DEVICE_COOKIE), "no %s cookie after a login" % DEVICE_COOKIE
    return b


def lock_account(stack, account):
    """MAX_FAILURES wrong passwords from a stranger without a device cookie: the last one is
    429 with Retry-After (API.md), and then the stranger gets 429 even with the right
    password."""
    attacker = Browser(stack)
    answers = [login(stack, account, attacker, password=wrong())
               for _ in range(MAX_FAILURES)]
    assert [r.status_code for r in answers] == [400] * (MAX_FAILURES - 1) + [429], \
        [r.status_code for r in answers]
    assert 0 < retry_after(answers[-1]) <= LOCKOUT_SECONDS
    r = login(stack, account, attacker)
    assert r.status_code == 429, r.text[:500]
    assert 0 < retry_after(r) <= LOCKOUT_SECONDS
    assert attacker.cookie(DEVICE_COOKIE) is None, "a refused login set a device cookie"
    return attacker


def assert_locked_for_a_fresh_client(stack, account):
    r = login(stack, account, Browser(stack))
    assert r.status_code == 429, "the account is not locked: %d" % r.status_code
    assert 0 < retry_after(r) <= LOCKOUT_SECONDS


def failed_logins(stack, account):
    return int(sql_one(stack, "SELECT failed_logins FROM users WHERE id = %d" % account.id))


def account_locked(stack, account):
    return sql_one(stack, "SELECT IFNULL(locked_until > UTC_TIMESTAMP(6), 0) FROM users "
                          "WHERE id = %d" % account.id) == "1"


def with_device_cookie(stack, value):
    b = Browser(stack)
    b.set_cookie(DEVICE_COOKIE, value)
    return b


def api_login(client, account, password=None):
    return client.post("/api/v1/auth/login", {"login": account.username,
                                              "password": password or account.password})


def device_key(stack):
    return hkdf_sha256(secret(stack), b"usermgr device", 32)


def signed_entry(stack, uid, exp, nonce=b"0123456789abcdef"):
    """An entry as the worker writes it, signed here with the derived device key."""
    text = "%d.%d.%s" % (uid, exp, b64url(nonce))
    mac = hmac.new(device_key(stack), text.encode(), hashlib.sha256).digest()
    return "%s.%s" % (text, b64url(mac))


def device_rows(stack, uid):
    return int(sql_one(stack, "SELECT COUNT(*) FROM device_lockouts WHERE user_id = %d" % uid))


def audit_details(stack, uid, event):
    return [r[0] for r in sql(stack, "SELECT IFNULL(JSON_VALUE(details, '$.device'), '-') "
                                     "FROM audit_events WHERE user_id = %d AND event = '%s' "
                                     "ORDER BY id" % (uid, event))]


# --- (a) the cookie, and the owner's browser while the account is locked ---------------------

def test_a_login_sets_a_signed_device_cookie_for_a_year(stack):
    account = register(stack, verified=True)
    b = Browser(stack)
    r = login(stack, account, b)
    assert r.status_code == 303, r.text[:500]
    value, attrs = cookie_attributes(set_cookie_line(r, DEVICE_COOKIE))
    m = ENTRY.match(value)
    assert m, "the device cookie is not one signed entry: %r" % value
    assert int(m.group(1)) == account.id
    assert abs(int(m.group(2)) - (time.time() + DEVICE_LIFETIME)) < 120, m.group(2)
    assert attrs.get("httponly") is True, attrs
    assert attrs.get("samesite", "").lower() == "lax", attrs
    assert attrs.get("path") == "/", attrs
    assert attrs.get("max-age") == str(DEVICE_LIFETIME), attrs
    assert "secure" not in attrs, "Secure on an http base URL: %r" % attrs
    nonce = base64.urlsafe_b64decode(m.group(3) + "==")
    assert value == signed_entry(stack, account.id, int(m.group(2)), nonce=nonce), \
        "the MAC is not HMAC-SHA256 under the HKDF 'usermgr device' key"


def test_the_owners_browser_logs_in_while_strangers_have_locked_the_account(stack):
    account = register(stack, verified=True)
    owner = trusted_browser(stack, account)
    lock_account(stack, account)
    # A fresh client with the right password is refused, as API.md has it.
    assert_locked_for_a_fresh_client(stack, account)
    failed = failed_logins(stack, account)
    r = login(stack, account, owner)
    assert r.status_code == 303, r.text[:500]
    assert r.headers["Location"] == "/profile"
    session, _ = cookie_attributes(set_cookie_line(r, SESSION_COOKIE))
    assert len(session) >= 32, session
    assert owner.get("/profile").status_code == 200
    # The trusted login left the account's count and lock alone: the lock keeps running.
    assert account_locked(stack, account), "the trusted login lifted the account's lock"
    assert failed_logins(stack, account) == failed, "the trusted login cleared the count"
    assert_locked_for_a_fresh_client(stack, account)
    assert "trusted" in audit_details(stack, account.id, "login_succeeded")


# --- (b) the device's own budget while the account is locked --------------------------------

def test_a_trusted_browser_gets_its_own_failures_and_then_429_while_another_still_works(stack):
    account = register(stack, verified=True)
    b1 = trusted_browser(stack, account)
    b2 = trusted_browser(stack, account)
    lock_account(stack, account)
    failed = failed_logins(stack, account)
    answers = [login(stack, account, b1, password=wrong()) for _ in range(DEVICE_MAX_FAILURES)]
    assert [r.status_code for r in answers] == \
        [400] * (DEVICE_MAX_FAILURES - 1) + [429], [r.status_code for r in answers]
    for r in answers[:-1]:
        assert "Retry-After" not in r.headers, r.headers
    assert 0 < retry_after(answers[-1]) <= LOCKOUT_SECONDS
    # Spent: even the right password is refused from that browser, and no session is made.
    r = login(stack, account, b1)
    assert r.status_code == 429, "a spent device logged in: %d" % r.status_code
    assert 0 < retry_after(r) <= LOCKOUT_SECONDS
    assert not any(c.startswith(SESSION_COOKIE + "=") for c in set_cookies(r)), set_cookies(r)
    r = login(stack, account, b2)
    assert r.status_code == 303, "the other trusted browser was locked too: %d" % r.status_code
    # Tries during the lock neither stretched nor cleared the account's lock.
    assert failed_logins(stack, account) == failed
    assert_locked_for_a_fresh_client(stack, account)
    assert "device_locked_out" in audit_events(stack, account.id)
    assert audit_details(stack, account.id, "device_locked_out") == ["trusted"]
    assert "locked_out" in audit_events(stack, account.id)
    assert audit_details(stack, account.id, "login_failed")[-(DEVICE_MAX_FAILURES - 1):] == \
        ["trusted"] * (DEVICE_MAX_FAILURES - 1)


def test_a_trusted_browsers_failures_before_the_lock_spend_its_budget(stack):
    account = register(stack, verified=True)
    owner = trusted_browser(stack, account)
    for _ in range(DEVICE_MAX_FAILURES - 1):
        assert login(stack, account, owner, password=wrong()).status_code == 400
    # The owner's typos counted against the account: a stranger needs only the rest.
    attacker = Browser(stack)
    rest = MAX_FAILURES - (DEVICE_MAX_FAILURES - 1)
    answers = [login(stack, account, attacker, password=wrong()).status_code
               for _ in range(rest)]
    assert answers == [400] * (rest - 1) + [429], answers
    r = login(stack, account, owner, password=wrong())
    assert r.status_code == 429, "the device had more than its budget: %d" % r.status_code
    assert 0 < retry_after(r) <= LOCKOUT_SECONDS
    assert login(stack, account, owner).status_code == 429


def test_a_trusted_login_during_the_lock_clears_only_the_devices_count(stack):
    account = register(stack, verified=True)
    owner = trusted_browser(stack, account)
    lock_account(stack, account)
    for _ in range(DEVICE_MAX_FAILURES - 1):
        assert login(stack, account, owner, password=wrong()).status_code == 400
    assert login(stack, account, owner).status_code == 303
    assert device_rows(stack, account.id) == 0, "a success left the device's failure count"
    answers = [login(stack, account, owner, password=wrong()).status_code
               for _ in range(DEVICE_MAX_FAILURES)]
    assert answers == [400] * (DEVICE_MAX_FAILURES - 1) + [429], answers
    assert_locked_for_a_fresh_client(stack, account)


# --- (c) a trusted browser while the account is not locked: exactly the contract ------------

def test_a_trusted_browsers_five_wrong_passwords_lock_the_account_as_the_contract_says(stack):
    account = register(stack, verified=True)
    owner = trusted_browser(stack, account)
    answers = [login(stack, account, owner, password=wrong()) for _ in range(MAX_FAILURES)]
    assert [r.status_code for r in answers] == [400] * (MAX_FAILURES - 1) + [429], \
        [r.status_code for r in answers]
    assert 0 < retry_after(answers[-1]) <= LOCKOUT_SECONDS
    assert failed_logins(stack, account) == MAX_FAILURES
    assert account_locked(stack, account)
    assert_locked_for_a_fresh_client(stack, account)
    # The owner's own typos locked it, so the device's budget is spent as well.
    r = login(stack, account, owner)
    assert r.status_code == 429, "the device logged in past its own typos: %d" % r.status_code
    assert 0 < retry_after(r) <= LOCKOUT_SECONDS
    events = audit_events(stack, account.id)
    assert "locked_out" in events and "device_locked_out" not in events, events
    assert audit_details(stack, account.id, "locked_out") == ["trusted"]


def test_an_api_client_that_logged_in_meets_the_contracts_lockout(stack):
    # What a black-box test written from API.md does: one cookie-keeping client logs in,
    # then sends wrong passwords.
    account = register(stack, verified=True)
    c = Client(stack)
    assert api_login(c, account).status_code == 200
    assert c.session.cookies.get(DEVICE_COOKIE), "no device cookie kept"
    answers = [api_login(c, account, wrong()) for _ in range(MAX_FAILURES)]
    for r in answers[:-1]:
        assert_problem(r, 401, "invalid_credentials")
    assert_problem(answers[-1], 429, "rate_limited")
    assert 0 < retry_after(answers[-1]) <= LOCKOUT_SECONDS
    for client in (Client(stack), c):
        r = api_login(client, account)
        assert_problem(r, 429, "rate_limited")
        assert 0 < retry_after(r) <= LOCKOUT_SECONDS


def test_a_trusted_login_while_not_locked_clears_the_failure_count(stack):
    account = register(stack, verified=True)
    owner = trusted_browser(stack, account)
    for _ in range(MAX_FAILURES - 1):
        assert login(stack, account, owner, password=wrong()).status_code == 400
    assert login(stack, account, owner).status_code == 303
    assert failed_logins(stack, account) == 0, "the login did not clear the account's count"
    assert device_rows(stack, account.id) == 0, "the login did not clear the device's count"
    answers = [login(stack, account, owner, password=wrong()).status_code
               for _ in range(MAX_FAILURES - 1)]
    assert answers == [400] * (MAX_FAILURES - 1), answers
    # The device's count is past its budget now, and refuses nothing while not locked.
    assert login(stack, account, owner).status_code == 303
    assert login(stack, account, Browser(stack)).status_code == 303


def test_a_trusted_wrong_password_counts_against_the_account_and_the_device(stack):
    account = register(stack, verified=True)
    owner = trusted_browser(stack, account)
    assert login(stack, account, owner, password=wrong()).status_code == 400
    assert failed_logins(stack, account) == 1
    assert device_rows(stack, account.id) == 1
    assert audit_details(stack, account.id, "login_failed") == ["trusted"]


# --- (d) cookies that do not make a browser trusted ----------------------------------------

def test_forged_foreign_and_expired_device_cookies_are_untrusted(stack):
    account = register(stack, verified=True)
    other = register(stack, verified=True)
    real = trusted_browser(stack, account).cookie(DEVICE_COOKIE)
    foreign = trusted_browser(stack, other).cookie(DEVICE_COOKIE)
    lock_account(stack, account)
    now = int(time.time())
    entry = ENTRY.match(real)
    mac = entry.group(4)
    i = len(mac) // 2
    tampered = real[:-len(mac)] + mac[:i] + ("A" if mac[i] != "A" else "B") + mac[i + 1:]
    moved = "%d.%d.%s.%s" % (account.id, int(entry.group(2)) + 1, entry.group(3), mac)
    cases = {
        "a changed MAC": tampered,
        "a changed expiry": moved,
        "another account's cookie": foreign,
        "an expired entry": signed_entry(stack, account.id, now - 10),
        "an entry under another key": "%d.%d.%s.%s" % (account.id, now + 3600,
                                                       b64url(b"0123456789abcdef"), "A" * 43),
        "garbage": "not-a-device-cookie",
    }
    for what, value in cases.items():
        r = login(stack, account, with_device_cookie(stack, value))
        assert r.status_code == 429, "%s made the browser trusted: %d" % (what, r.status_code)
    # The control: the same forging with a future expiry is trusted, so the cases above
    # failed for what they changed, not for how they were made.
    r = login(stack, account, with_device_cookie(stack, signed_entry(stack, account.id,
                                                                     now + 3600)))
    assert r.status_code == 303, "a well-signed entry was not trusted: %d" % r.status_code
    # And the real cookie, sent alone by another client, still is.
    assert login(stack, account, with_device_cookie(stack, real)).status_code == 303


def test_an_untrusted_cookies_wrong_passwords_count_against_the_account(stack):
    account = register(stack, verified=True)
    other = register(stack, verified=True)
    foreign = trusted_browser(stack, other).cookie(DEVICE_COOKIE)
    b = with_device_cookie(stack, foreign)
    assert login(stack, account, b, password=wrong()).status_code == 400
    assert sql_one(stack, "SELECT failed_logins FROM users WHERE id = %d" % account.id) == "1"
    assert device_rows(stack, other.id) == 0


def test_one_browser_keeps_device_cookies_for_several_accounts(stack):
    first = register(stack, verified=True)
    second = register(stack, verified=True)
    b = trusted_browser(stack, first)
    assert login(stack, second, b).status_code == 303
    entries = b.cookie(DEVICE_COOKIE).split("~")
    assert [int(ENTRY.match(e).group(1)) for e in entries] == [second.id, first.id], entries
    lock_account(stack, first)
    lock_account(stack, second)
    assert login(stack, first, b).status_code == 303
    assert login(stack, second, b).status_code == 303


# --- (e) the JSON API ------------------------------------------------------------------------

def test_an_api_client_that_keeps_cookies_gets_the_same_device_budget(stack):
    account = register(stack, verified=True)
    owner, second = Client(stack), Client(stack)
    for c in (owner, second):
        r = api_login(c, account)
        assert r.status_code == 200, r.text[:300]
        value, attrs = cookie_attributes(set_cookie_line(r, DEVICE_COOKIE))
        assert ENTRY.match(value) and attrs.get("httponly") is True, (value, attrs)
    attacker = Client(stack)
    answers = [api_login(attacker, account, wrong()) for _ in range(MAX_FAILURES)]
    for r in answers[:-1]:
        assert_problem(r, 401, "invalid_credentials")
    assert_problem(answers[-1], 429, "rate_limited")
    assert 0 < retry_after(answers[-1]) <= LOCKOUT_SECONDS
    r = api_login(Client(stack), account)
    assert_problem(r, 429, "rate_limited")
    r = api_login(owner, account)
    assert r.status_code == 200, r.text[:300]
    assert r.json()["access_token"] and r.json()["refresh_token"]
    answers = [api_login(owner, account, wrong()) for _ in range(DEVICE_MAX_FAILURES)]
    for r in answers[:-1]:
        assert_problem(r, 401, "invalid_credentials")
    assert_problem(answers[-1], 429, "rate_limited")
    assert 0 < retry_after(answers[-1]) <= LOCKOUT_SECONDS
    r = api_login(owner, account)
    assert_problem(r, 429, "rate_limited")
    assert 0 < retry_after(r) <= LOCKOUT_SECONDS
    assert api_login(second, account).status_code == 200
    assert_problem(api_login(Client(stack), account), 429, "rate_limited")


# --- (f) a reset lifts device lockouts -------------------------------------------------------

def test_a_password_reset_lifts_the_lockouts_of_the_users_devices(stack):
    account = register(stack, verified=True)
    b = trusted_browser(stack, account)
    lock_account(stack, account)
    for _ in range(DEVICE_MAX_FAILURES):
        login(stack, account, b, password=wrong())
    assert login(stack, account, b).status_code == 429
    assert device_rows(stack, account.id) == 1
    assert Browser(stack).form("/forgot-password", {"email": account.email}).status_code == 200
    token = mailed_token(stack, account.email, "/reset-password")
    rb = Browser(stack)
    page = rb.get(link_path(token, "/reset-password"))
    assert page.status_code == 200, page.text[:500]
    password = new_password()
    r = rb.post("/reset-password", {"csrf_token": csrf_of(page.text),
                                    "token": input_value(page.text, "token"),
                                    "password": password, "password_confirm": password})
    assert r.status_code == 200, r.text[:500]
    assert device_rows(stack, account.id) == 0, "the reset left a device lockout"
    account.password = password
    # A stranger locks the account again: the device's budget is whole, not still spent.
    lock_account(stack, account)
    r = login(stack, account, b)
    assert r.status_code == 303, "the device stayed locked after the reset: %d" % r.status_code
