"""test_breached_passwords.py: new passwords checked against a Have I Been Pwned range API (issue 13, item 6).

One module-scoped stack with USERMGR_HIBP_URL pointing at fake_hibp.py on loopback,
USERMGR_HIBP_MIN_COUNT=3 and USERMGR_HIBP_TIMEOUT_MS=1000. Sign-up, password change and reset,
over HTML and the API, refuse a password the fake says was breached at least 3 times, with a
field error of code password_breached; only five hex characters of the SHA-1 are requested,
with padding asked for. A count below the minimum, an API that is down, slow, failing or
answering nonsense: the password is accepted (the check is skipped and logged).
"""

import secrets

import pytest

import accounts_lib as al
import api_lib as apl
from fake_hibp import FakeHibp, sha1_hex
from mail_lib import module_stack
from stack import assert_problem

TIMEOUT_MS = 1000
MIN_COUNT = 3


@pytest.fixture(scope="module")
def hibp():
    fake = FakeHibp(slow_seconds=4.0).start()
    try:
        yield fake
    finally:
        fake.stop()


@pytest.fixture(scope="module")
def stack(hibp):
    """Overrides the shared stack for this module: one that asks the fake range API."""
    yield from module_stack({"USERMGR_HIBP_URL": hibp.url,
                             "USERMGR_HIBP_MIN_COUNT": str(MIN_COUNT),
                             "USERMGR_HIBP_TIMEOUT_MS": str(TIMEOUT_MS)}, "HIBP")


@pytest.fixture
def fake(hibp):
    """The fake, back in "ok" mode, listening, with its request log cleared."""
    if hibp._httpd is None:
        hibp.start()
    hibp.reset()
    yield hibp
    if hibp._httpd is None:
        hibp.start()
    hibp.mode("ok")


def breached(fake, count=1000):
    """A fresh password (valid by every other rule) that the fake reports COUNT times."""
    pw = "Br-%s-Xq7" % secrets.token_hex(8)
    fake.add(pw, count)
    return pw


def assert_breached_problem(r):
    body = assert_problem(r, 400, "validation_failed")
    errs = [e for e in body.get("errors", []) if e.get("code") == "password_breached"]
    assert len(errs) == 1, body
    return errs[0]


def assert_only_prefix_asked(fake, password):
    """The fake saw exactly the 5-hex prefix of PASSWORD's SHA-1, with Add-Padding: true."""
    h = sha1_hex(password)
    asked = [r for r in fake.requests if r["path"] == "/range/" + h[:5]]
    assert asked, "no request for /range/%s; requests: %r" % (h[:5], fake.requests)
    for r in fake.requests:
        assert h[5:] not in r["path"].upper() and password not in r["path"], r
        assert len(r["path"].rsplit("/", 1)[1]) == 5, r["path"]
    assert all(r["headers"].get("add-padding") == "true" for r in asked), asked


def api_signup(stack, password):
    c = apl.Client(stack)
    name = apl.unique_name("hb")
    return c.post("/api/v1/users", {"username": name, "email": "%s@example.com" % name,
                                    "password": password})


# --- refused ---------------------------------------------------------------------------------

def test_an_api_sign_up_with_a_breached_password_is_refused_asking_only_a_5_hex_prefix(stack,
                                                                                      fake):
    pw = breached(fake)
    r = api_signup(stack, pw)
    err = assert_breached_problem(r)
    assert err["field"] == "password" and err["message"], err
    assert_only_prefix_asked(fake, pw)


def test_an_html_sign_up_with_a_breached_password_re_renders_with_the_field_error(stack, fake):
    pw = breached(fake)
    fields = al.signup_fields(password=pw)
    r = al.Browser(stack).form("/register", fields)
    assert r.status_code == 400, r.text[:300]
    assert "data breach" in (al.field_error(r.text, "password") or ""), r.text[:2000]
    assert al.user_id(stack, fields["username"]) is None
    assert_only_prefix_asked(fake, pw)


def test_an_api_password_change_to_a_breached_password_is_refused(stack, fake):
    account, body = apl.verified_login(stack)
    pw = breached(fake)
    r = account.client.post("/api/v1/me/password", {"current_password": account.password,
                                                    "new_password": pw},
                            token=body["access_token"])
    err = assert_breached_problem(r)
    assert err["field"] == "new_password", err
    apl.login(account)  # the old password still works


def test_an_html_password_change_to_a_breached_password_is_refused(stack, fake):
    account, b = al.logged_in(stack)
    pw = breached(fake)
    r = b.form("/account/password", {"current_password": account.password, "password": pw,
                                     "password_confirm": pw})
    assert r.status_code == 400, r.text[:300]
    assert "data breach" in (al.field_error(r.text, "password") or ""), r.text[:2000]
    assert al.login(stack, account).status_code == 303


def reset_token(stack, account):
    c = apl.Client(stack)
    assert c.post("/api/v1/auth/password/forgot", {"email": account.email}).status_code == 202
    return apl.link_token(stack, account.email, "/reset-password")


def test_an_api_reset_to_a_breached_password_is_refused_and_the_link_still_works(stack, fake):
    account = apl.register(stack, verified=True)
    token = reset_token(stack, account)
    r = apl.Client(stack).post("/api/v1/auth/password/reset",
                               {"token": token, "password": breached(fake)})
    assert_breached_problem(r)
    good = apl.new_password()
    r = apl.Client(stack).post("/api/v1/auth/password/reset", {"token": token, "password": good})
    assert r.status_code == 204, r.text[:300]


def test_an_html_reset_to_a_breached_password_is_refused(stack, fake):
    account = al.register(stack, verified=True)
    token = reset_token(stack, account)
    b = al.Browser(stack)
    page = b.get(al.link_path(token, "/reset-password"))
    assert page.status_code == 200, page.text[:300]
    pw = breached(fake)
    r = b.post("/reset-password", {"csrf_token": al.csrf_of(page.text), "token": token,
                                   "password": pw, "password_confirm": pw})
    assert r.status_code == 400, r.text[:300]
    assert "data breach" in (al.field_error(r.text, "password") or ""), r.text[:2000]
    assert al.login(stack, account).status_code == 303


# --- accepted --------------------------------------------------------------------------------

def test_a_count_below_the_minimum_is_accepted(stack, fake):
    pw = breached(fake, count=MIN_COUNT - 1)
    r = api_signup(stack, pw)
    assert r.status_code == 201, r.text[:300]
    assert_only_prefix_asked(fake, pw)


def test_a_password_not_in_the_answer_is_accepted(stack, fake):
    breached(fake)  # another password listed
    pw = apl.new_password()
    assert api_signup(stack, pw).status_code == 201


def skipped(stack, fake, expect_log, password=None):
    """Signs up with a breached password while the fake misbehaves: accepted, and the worker
    logs that it skipped the check, naming neither the password nor its hash."""
    pw = password or breached(fake)
    since = stack.log_size("usermgr")
    r = api_signup(stack, pw)
    assert r.status_code == 201, r.text[:300]
    log = stack.read_log("usermgr", since)
    assert "breach check skipped" in log and expect_log in log, log[-2000:]
    h = sha1_hex(pw)
    assert pw not in log and h[:5] not in log and h[5:] not in log, log[-2000:]


def test_an_api_that_is_down_is_skipped_and_the_password_accepted(stack, fake):
    fake.stop()
    skipped(stack, fake, "Couldn't connect")


def test_a_slow_api_is_skipped_within_the_timeout_and_the_password_accepted(stack, fake):
    fake.mode("slow")
    # The client's own timeout (HTTP_TIMEOUT) bounds the call: an answer at all means the
    # worker gave up on the fake instead of hanging on it.
    skipped(stack, fake, "Timeout")


def test_a_malformed_answer_is_skipped_and_logged_and_the_password_accepted(stack, fake):
    fake.mode("malformed")
    skipped(stack, fake, "malformed")


def test_a_failing_api_is_skipped_and_the_password_accepted(stack, fake):
    fake.mode("error")
    skipped(stack, fake, "answered 503")


def test_after_an_outage_the_check_works_again(stack, fake):
    fake.mode("error")
    assert api_signup(stack, breached(fake)).status_code == 201
    fake.mode("ok")
    assert_breached_problem(api_signup(stack, breached(fake)))
