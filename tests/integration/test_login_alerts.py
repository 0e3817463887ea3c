"""test_login_alerts.py: the new-device sign-in alert and its "This was not me" link (issue 13, item 5).

One module-scoped stack whose mailer sends through fake_mailjet.py, so an alert is read as the
provider receives it. A device is new to an account when it has no device cookie from an
earlier sign-in of that account and its (browser family, client network) pair was not seen in
90 days. The client address is nginx's $remote_addr (X-Forwarded-For is not trusted), and every
Browser here binds its own loopback source address, so the /24 rule is exercised with real
addresses: 127.140.N.x share a network for one N.
"""

import re
import secrets
import time

import pytest

import accounts_lib as al
import api_lib as apl
from fake_mailjet import FakeMailjet
from mail_lib import start_stack, stop_stack
from peers import sql
from stack import wait_until

FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
CHROME = ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
          "Chrome/131.0.0.0 Safari/537.36")
CHROME_NEWER = CHROME.replace("131.0.0.0", "132.0.0.0")
ALERT_SUBJECT = "New sign-in to your usermgr account"
RESET_SUBJECT = "Reset your usermgr password"
NOT_ME = "/account/not-me"
NOT_ME_AUD = "usermgr:not_me"
DELIVERY = 30

_net = iter(range(1, 250))


def network():
    """A fresh /24: a function giving addresses 127.140.N.1, .2, … of it."""
    n = next(_net)
    hosts = iter(range(1, 250))
    return lambda: "127.140.%d.%d" % (n, next(hosts))


@pytest.fixture(scope="module")
def mailjet():
    fake = FakeMailjet(api_key="mjkey-" + secrets.token_hex(8),
                       api_secret="mjsecret-" + secrets.token_hex(12)).start()
    try:
        yield fake
    finally:
        fake.stop()


@pytest.fixture(scope="module")
def stack(mailjet):
    """Overrides the shared stack for this module: mail goes to the fake Mailjet."""
    s = start_stack({"USERMGR_MAIL_TRANSPORT": "mailjet", "MAILJET_API_URL": mailjet.url,
                     "MAILJET_API_KEY": mailjet.api_key,
                     "MAILJET_API_SECRET": mailjet.api_secret})
    try:
        yield s
    finally:
        problems = stop_stack(s)
    if problems:
        pytest.fail("the alerts stack did not stop cleanly:\n" + "\n".join(problems),
                    pytrace=False)


def browser(stack, address, agent):
    b = al.Browser(stack, address=address)
    b.session.headers["User-Agent"] = agent
    return b


def sign_in(stack, account, b):
    r = al.login(stack, account, b)
    assert r.status_code == 303, "login failed: %d %r" % (r.status_code, r.text[:300])
    return r


def alerts_sent(stack, account):
    """How many alerts the account was sent (the audit row is written with the mail)."""
    return int(sql(stack, "SELECT COUNT(*) FROM audit_events WHERE user_id = %d AND event = "
                          "'login_alert_sent'" % account.id)[0][0])


def delivered(fake, account, subject):
    return [m for m in fake.messages
            if m["To"] and m["To"][0].get("Email") == account.email and m["Subject"] == subject]


def wait_mail(fake, account, subject, n=1):
    got = wait_until(lambda: len(delivered(fake, account, subject)) >= n, DELIVERY)
    assert got, "fake Mailjet got no %r for %s within %d s" % (subject, account.email, DELIVERY)
    return delivered(fake, account, subject)[-1]


def not_me_link(stack, message):
    text = message["TextPart"]
    m = re.search(re.escape(stack.base_url + NOT_ME) + r"\?token=([A-Za-z0-9_.\-]+)", text)
    assert m, "no %s link in %r" % (NOT_ME, text[:1000])
    assert m.group(0) in message["HTMLPart"], "the HTML part lacks the link"
    return m.group(1)


def owner_at_home(stack):
    """A verified account that signed in once (no alert: the first sign-in) from Firefox on
    its home network; returns (account, that browser, a function giving home addresses)."""
    home = network()
    account = al.register(stack, verified=True)
    b = browser(stack, home(), FIREFOX)
    sign_in(stack, account, b)
    return account, b, home


def alerted(stack, mailjet):
    """An owner, and a stranger's Chrome (new jar, new family) that signed in and was alerted
    about: (account, owner's browser, stranger's browser, the link's token)."""
    account, own, home = owner_at_home(stack)
    stranger = browser(stack, home(), CHROME)
    sign_in(stack, account, stranger)
    token = not_me_link(stack, wait_mail(mailjet, account, ALERT_SUBJECT))
    return account, own, stranger, token


def signed_in(stack, b):
    r = b.get("/profile")
    return r.status_code == 200


# --- when an alert is sent -----------------------------------------------------------------

def test_the_first_sign_in_of_an_account_sends_no_alert(stack, mailjet):
    account, b, _ = owner_at_home(stack)
    assert alerts_sent(stack, account) == 0
    assert sql(stack, "SELECT family, network FROM login_networks WHERE user_id = %d"
                      % account.id) == [["Firefox", "127.140.%s.0/24" % b.address.split(".")[2]]]


def test_a_new_browser_family_without_the_device_cookie_is_alerted_by_mail(stack, mailjet):
    account, own, stranger, token = alerted(stack, mailjet)
    message = wait_mail(mailjet, account, ALERT_SUBJECT)
    text = message["TextPart"]
    assert "Chrome" in text and stranger.address in text, text
    assert "127.140.%s.0/24" % stranger.address.split(".")[2] in text, text
    assert re.search(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", text), text
    claims = al.decode_link(stack, token, NOT_ME_AUD)
    assert claims["sub"] == str(account.id) and claims["exp"] - claims["iat"] == 7 * 86400
    assert alerts_sent(stack, account) == 1
    # Stored hashed: the token is nowhere in the database.
    assert sql(stack, "SELECT COUNT(*) FROM login_alerts WHERE user_id = %d AND token_hash = "
                      "UNHEX(SHA2('%s', 256))" % (account.id, token)) == [["1"]]


def test_the_same_family_from_another_network_is_alerted(stack, mailjet):
    account, _, _ = owner_at_home(stack)
    sign_in(stack, account, browser(stack, network()(), FIREFOX))
    wait_mail(mailjet, account, ALERT_SUBJECT)
    assert alerts_sent(stack, account) == 1


def test_a_new_jar_of_a_known_family_on_a_known_network_is_not_alerted(stack, mailjet):
    account, _, home = owner_at_home(stack)
    # A browser update changes the version, not the family.
    sign_in(stack, account, browser(stack, home(), FIREFOX.replace("128.0", "129.0")))
    assert alerts_sent(stack, account) == 0


def test_a_browser_with_the_accounts_device_cookie_is_not_alerted_anywhere(stack, mailjet):
    account, own, _ = owner_at_home(stack)
    travelling = browser(stack, network()(), CHROME)
    travelling.set_cookie("um_device", own.cookie("um_device"))
    sign_in(stack, account, travelling)
    assert alerts_sent(stack, account) == 0


def test_an_api_login_counts_by_family_and_network_only(stack, mailjet):
    account, _, _ = owner_at_home(stack)
    c = apl.Client(stack)  # another network, and the family of python-requests
    body = {"login": account.username, "password": account.password}
    r = c.post("/api/v1/auth/login", body)
    assert r.status_code == 200, r.text[:300]
    wait_mail(mailjet, account, ALERT_SUBJECT)
    assert alerts_sent(stack, account) == 1
    # An API client keeps no cookies: the same family and network again is not alerted.
    c.session.cookies.clear()
    r = c.post("/api/v1/auth/login", body)
    assert r.status_code == 200, r.text[:300]
    assert alerts_sent(stack, account) == 1


def test_with_alerts_turned_off_a_new_device_sends_no_mail(stack, mailjet):
    account, own, home = owner_at_home(stack)
    page = own.get("/account/security")
    assert page.status_code == 200 and 'name="login_alerts" value="1" checked' in page.text
    r = own.post("/account/security/alerts", {"csrf_token": al.csrf_of(page.text)})
    assert r.status_code == 200 and "alerts are off" in r.text, r.text[:500]
    assert 'name="login_alerts" value="1">' in r.text, "the box must show unchecked"
    sign_in(stack, account, browser(stack, home(), CHROME))
    assert alerts_sent(stack, account) == 0
    assert "login_alerts_changed" in al.audit_events(stack, account.id)
    # And on again: the next new device is alerted.
    r = own.post("/account/security/alerts", {"csrf_token": al.csrf_of(r.text),
                                              "login_alerts": "1"})
    assert r.status_code == 200 and "alerts are on" in r.text, r.text[:500]
    sign_in(stack, account, browser(stack, network()(), CHROME))
    assert alerts_sent(stack, account) == 1


def test_turning_alerts_off_needs_the_csrf_token(stack, mailjet):
    account, own, _ = owner_at_home(stack)
    assert own.get("/account/security").status_code == 200
    r = own.post("/account/security/alerts", {})
    assert r.status_code == 403, r.status_code
    assert sql(stack, "SELECT COUNT(*) FROM login_alerts_off WHERE user_id = %d"
                      % account.id) == [["0"]]


# --- "This was not me" ---------------------------------------------------------------------

def test_the_links_get_shows_a_confirmation_and_changes_nothing(stack, mailjet):
    account, own, stranger, token = alerted(stack, mailjet)
    for _ in range(2):  # a mail scanner, then the person
        r = al.Browser(stack).get(al.link_path(token, NOT_ME))
        assert r.status_code == 200, r.text[:300]
        assert 'name="token" value="%s"' % token in r.text and "Secure my account" in r.text
    assert signed_in(stack, stranger) and signed_in(stack, own)
    assert sql(stack, "SELECT used_at IS NULL FROM login_alerts WHERE user_id = %d"
                      % account.id) == [["1"]]
    assert "login_disowned" not in al.audit_events(stack, account.id)


def post_not_me(stack, token, b=None):
    b = b or al.Browser(stack)
    page = b.get(al.link_path(token, NOT_ME))
    if page.status_code != 200:
        # A dead link's page has no form: the visitor's token comes from another page.
        page = b.get("/login")
    return b.post(NOT_ME, {"csrf_token": al.csrf_of(page.text), "token": token})


def test_the_post_ends_that_session_and_every_refresh_family_and_mails_a_reset(stack, mailjet):
    account, own, stranger, token = alerted(stack, mailjet)
    # An API client of the account, signed in before the report.
    api = apl.Client(stack)
    pair = api.post("/api/v1/auth/login", {"login": account.username,
                                           "password": account.password}).json()
    assert "refresh_token" in pair, pair
    r = post_not_me(stack, token)
    assert r.status_code == 200 and "We signed that session out" in r.text, r.text[:500]
    assert not signed_in(stack, stranger), "the reported session still works"
    assert signed_in(stack, own), "only the reported browser session ends"
    refreshed = api.post("/api/v1/auth/refresh", {"refresh_token": pair["refresh_token"]})
    assert refreshed.status_code == 401 and refreshed.json()["code"] == "invalid_token"
    reset = wait_mail(mailjet, account, RESET_SUBJECT)
    assert stack.base_url + "/reset-password?token=" in reset["TextPart"]
    events = al.audit_events(stack, account.id)
    assert "login_disowned" in events and "password_reset_requested" in events, events


def test_the_link_works_once(stack, mailjet):
    account, _, _, token = alerted(stack, mailjet)
    assert post_not_me(stack, token).status_code == 200
    again = post_not_me(stack, token)
    assert again.status_code == 400, again.status_code
    assert "invalid_token" in again.text and "This link is not valid" in again.text
    assert 'name="token"' not in again.text
    get = al.Browser(stack).get(al.link_path(token, NOT_ME))
    assert get.status_code == 400 and "invalid_token" in get.text
    assert al.audit_events(stack, account.id).count("login_disowned") == 1


def test_a_tampered_link_is_refused_and_changes_nothing(stack, mailjet):
    account, _, stranger, token = alerted(stack, mailjet)
    bad = al.tampered(token)
    r = al.Browser(stack).get(al.link_path(bad, NOT_ME))
    assert r.status_code == 400 and "invalid_token" in r.text, r.status_code
    r = post_not_me(stack, bad)
    assert r.status_code == 400 and "invalid_token" in r.text, r.status_code
    assert signed_in(stack, stranger)


def test_a_link_of_another_purpose_is_refused(stack, mailjet):
    account, _, _, token = alerted(stack, mailjet)
    claims = al.decode_link(stack, token, NOT_ME_AUD)
    claims["aud"] = "usermgr:reset_password"
    r = al.Browser(stack).get(al.link_path(al.sign(stack, claims), NOT_ME))
    assert r.status_code == 400 and "invalid_token" in r.text


def test_an_expired_link_is_refused(stack, mailjet):
    account, _, stranger, token = alerted(stack, mailjet)
    # Its signed expiry passed: token_expired, whatever the row says.
    claims = al.decode_link(stack, token, NOT_ME_AUD)
    claims.update(iat=int(time.time()) - 8 * 86400, exp=int(time.time()) - 86400)
    r = al.Browser(stack).get(al.link_path(al.sign(stack, claims), NOT_ME))
    assert r.status_code == 400 and "token_expired" in r.text, r.text[:500]
    # The row's expiry passed (a clock set back, a retention that has not run yet).
    sql(stack, "UPDATE login_alerts SET expires_at = UTC_TIMESTAMP(6) - INTERVAL 1 SECOND "
               "WHERE user_id = %d" % account.id)
    r = post_not_me(stack, token)
    assert r.status_code == 400 and "token_expired" in r.text, r.text[:500]
    assert signed_in(stack, stranger)


def test_the_post_needs_the_csrf_token(stack, mailjet):
    account, _, stranger, token = alerted(stack, mailjet)
    b = al.Browser(stack)
    assert b.get(al.link_path(token, NOT_ME)).status_code == 200
    r = b.post(NOT_ME, {"token": token})
    assert r.status_code == 403, r.status_code
    assert signed_in(stack, stranger)


def test_a_sign_in_with_two_step_verification_is_alerted_only_once_the_code_is_given(stack,
                                                                                      mailjet):
    from test_mfa import enable
    account, _, _, codes = enable(stack)
    b = browser(stack, network()(), FIREFOX)
    r = al.login(stack, account, b)
    assert r.status_code == 303 and r.headers["Location"].startswith("/login/mfa"), r.status_code
    assert alerts_sent(stack, account) == 0, "a password waiting for its code is no sign-in"
    r = b.form("/login/mfa", {"code": codes[0]})
    assert r.status_code == 303, r.text[:300]
    wait_mail(mailjet, account, ALERT_SUBJECT)
    assert alerts_sent(stack, account) == 1
    # The link ends the session the second step made.
    token = not_me_link(stack, wait_mail(mailjet, account, ALERT_SUBJECT))
    assert signed_in(stack, b)
    assert post_not_me(stack, token).status_code == 200
    assert not signed_in(stack, b)


def test_the_prune_forgets_pairs_unseen_for_90_days_and_expired_alert_rows(stack, mailjet):
    from test_retention import prune_once
    account, _, _, _ = alerted(stack, mailjet)
    uid = account.id
    sql(stack, "INSERT INTO login_networks (user_id, family, network, last_seen) VALUES "
               "(%d, 'Opera', '198.51.100.0/24', UTC_TIMESTAMP(6) - INTERVAL 91 DAY), "
               "(%d, 'Safari', '198.51.100.0/24', UTC_TIMESTAMP(6) - INTERVAL 89 DAY)"
               % (uid, uid))
    sql(stack, "INSERT INTO login_alerts (user_id, token_hash, expires_at) VALUES "
               "(%d, UNHEX(SHA2('old-%s', 256)), UTC_TIMESTAMP(6) - INTERVAL 1 DAY)"
               % (uid, secrets.token_hex(4)))
    prune_once(stack, "mailer-prune-" + secrets.token_hex(3))
    families = {r[0] for r in sql(stack, "SELECT family FROM login_networks WHERE user_id = %d"
                                         % uid)}
    assert families == {"Firefox", "Chrome", "Safari"}, families
    live = sql(stack, "SELECT COUNT(*) FROM login_alerts WHERE user_id = %d" % uid)
    assert live == [["1"]], "the expired row stays, or the live one went: %r" % live
