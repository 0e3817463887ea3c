"""test_mfa.py: TOTP two-step verification on the real stack (API.md §3 /login/mfa, /account/mfa;
§4 login `totp`; §7 "The session id is renewed ... after the MFA step").

Codes are computed here from the secret the setup page shows (RFC 6238, HMAC-SHA-1, 30 s, 6
digits). The server accepts one step either side of now and never a step twice per user, so a
Totp object hands out codes for increasing steps inside that window, starting from now.
"""

import base64
import hashlib
import hmac
import os
import re
import shutil
import struct
import subprocess
import tempfile
import time
import urllib.parse


from accounts_lib import (SESSION_COOKIE, Browser, audit_events, csrf_of, logged_in, login,
                          register, sql_one)
import api_lib

SECRET = re.compile(r'id="mfa-secret">([A-Z2-7]+)<')
URI = re.compile(r'href="(otpauth://[^"]+)"')
QR_IMAGE = re.compile(r'<img class="mfa-qr" id="mfa-qr" src="data:image/svg\+xml;base64,([A-Za-z0-9+/=]+)"')
QR_RECT = re.compile(r"M(\d+) (\d+)h(\d+)v1h-\3z")
RECOVERY = re.compile(r"<li><code>([a-z2-7]{5}-[a-z2-7]{5})</code></li>")


def hotp(key, counter):
    """RFC 4226 §5.3, 6 digits."""
    mac = hmac.new(key, struct.pack(">Q", counter), hashlib.sha1).digest()
    off = mac[-1] & 0x0F
    return "%06d" % ((struct.unpack(">I", mac[off:off + 4])[0] & 0x7FFFFFFF) % 1000000)


class Totp:
    """An authenticator app that never shows the server a step it has seen already."""

    def __init__(self, secret):
        self.key = base64.b32decode(secret + "=" * (-len(secret) % 8))
        self.last = None

    def code(self):
        """The code of the current step, or of the next unspent one.

        Never a step before now: the server reads its clock when the request arrives, and a
        request that crosses a 30 s boundary meets a server one step later, where `now` is still
        inside its window (now-1..now+1) but `now - 1` would be out.  A step ahead of now+1 is
        not in the window yet: then this waits for the clock to get there.
        """
        step = int(time.time() // 30)
        if self.last is not None:
            step = max(self.last + 1, step)
        while step > int(time.time() // 30) + 1:
            time.sleep(30 - time.time() % 30 + 0.1)
        self.last = step
        return hotp(self.key, step)

    def wrong(self):
        """A code that matches no step of the window."""
        now = int(time.time() // 30)
        near = {hotp(self.key, s) for s in range(now - 3, now + 4)}
        return next("%06d" % n for n in range(1000000) if "%06d" % n not in near)


def start_setup(browser, account):
    """Starts the setup with ACCOUNT's password (issue 10, item 9); returns (secret, page)."""
    r = browser.form("/account/mfa", {"action": "start", "password": account.password})
    assert r.status_code == 200, "start: %d %r" % (r.status_code, r.text[:500])
    m = SECRET.search(r.text)
    assert m, "no secret on the setup page: %r" % r.text[:2000]
    return m.group(1), r


def enable(stack):
    """A verified account with two-step verification on: (account, browser, Totp, codes)."""
    account, b = logged_in(stack)
    secret, _ = start_setup(b, account)
    totp = Totp(secret)
    r = b.form("/account/mfa", {"action": "confirm", "code": totp.code()})
    assert r.status_code == 200, "confirm: %d %r" % (r.status_code, r.text[:500])
    codes = RECOVERY.findall(r.text)
    assert len(codes) == 10, "expected 10 recovery codes, got %r" % codes
    return account, b, totp, codes


def password_step(stack, account, next_=None):
    """A fresh browser that gave the right password: (browser, response)."""
    b = Browser(stack)
    r = login(stack, account, b, next_=next_)
    return b, r


def code_step(browser, code):
    return browser.form("/login/mfa", {"code": code})


# --- turning it on ------------------------------------------------------------------------


def test_the_setup_page_offers_a_button_while_it_is_off(stack):
    _, b = logged_in(stack)
    r = b.get("/account/mfa")
    assert r.status_code == 200
    assert 'name="action" value="start"' in r.text
    assert "mfa-secret" not in r.text


def test_starting_shows_a_secret_and_an_otpauth_link_and_stores_the_secret_sealed(stack):
    account, b = logged_in(stack)
    secret, r = start_setup(b, account)
    assert len(secret) == 32, secret  # 20 bytes (RFC 4226 §4 R6) in base32
    uri = URI.search(r.text).group(1).replace("&amp;", "&")
    parts = urllib.parse.urlsplit(uri)
    assert parts.scheme == "otpauth" and parts.netloc == "totp", uri
    assert urllib.parse.unquote(parts.path) == "/usermgr:" + account.username, uri
    q = urllib.parse.parse_qs(parts.query)
    assert q["secret"] == [secret] and q["issuer"] == ["usermgr"], uri
    assert q.get("digits", ["6"]) == ["6"] and q.get("period", ["30"]) == ["30"], uri
    # Pending until a first code: not on yet, the user object says so.
    assert sql_one(stack, "SELECT mfa_enabled_at IS NULL FROM users WHERE id = %d"
                   % account.id) == "1"
    assert sql_one(stack, "SELECT mfa_key_id FROM users WHERE id = %d" % account.id) == "1"
    stored = bytes.fromhex(sql_one(stack, "SELECT HEX(mfa_secret_enc) FROM users WHERE id = %d"
                                   % account.id))
    raw = base64.b32decode(secret)
    assert len(stored) == 12 + len(raw) + 16, "expected nonce || ciphertext || tag"
    assert raw not in stored, "the secret is stored in the clear"
    # A reload shows the same pending secret, so the setup can be finished later.
    again = b.get("/account/mfa")
    assert SECRET.search(again.text).group(1) == secret


def qr_modules(svg):
    """The dark modules of the setup page's SVG (one path of 1-high runs): (size, set of (x, y))."""
    size = int(re.search(r'viewBox="0 0 (\d+) \1"', svg).group(1))
    path = re.search(r'<path fill="#000" d="([^"]*)"', svg).group(1)
    dark = set()
    for x, y, n, _ in re.findall(r"M(\d+) (\d+)h(\d+)v1h-(\d+)z", path):
        dark.update((int(x) + i, int(y)) for i in range(int(n)))
    assert QR_RECT.sub("", path) == "", "unexpected path commands: %r" % path[:200]
    return size, dark


def test_the_setup_page_shows_a_qr_code_of_the_otpauth_uri(stack):
    account, b = logged_in(stack)
    _, r = start_setup(b, account)
    m = QR_IMAGE.search(r.text)
    assert m, "no QR image on the setup page"
    svg = base64.b64decode(m.group(1)).decode()
    assert "<script" not in svg and "href" not in svg
    size, dark = qr_modules(svg)
    # A QR code: 4k + 17 modules plus a 4-module quiet zone each side; finder at the top left.
    assert (size - 8 - 17) % 4 == 0 and size > 25, size
    assert all((x, 4) in dark for x in range(4, 11)) and (11, 4) not in dark
    # tests/run installs zbar-tools (deploy/local/install-deps --tests).
    assert shutil.which("zbarimg"), "zbarimg (zbar-tools) is missing: the code cannot be decoded"
    scale = 4
    with tempfile.TemporaryDirectory() as d:
        pbm = os.path.join(d, "qr.pbm")
        with open(pbm, "w") as f:
            f.write("P1\n%d %d\n" % (size * scale, size * scale))
            for y in range(size * scale):
                f.write("".join("1" if (x // scale, y // scale) in dark else "0"
                                for x in range(size * scale)) + "\n")
        out = subprocess.run(["zbarimg", "-q", "--raw", pbm], capture_output=True, timeout=30)
    uri = URI.search(r.text).group(1).replace("&amp;", "&")
    assert out.stdout.decode().strip() == uri


def test_a_wrong_first_code_is_refused_and_leaves_it_off(stack):
    account, b = logged_in(stack)
    secret, _ = start_setup(b, account)
    r = b.form("/account/mfa", {"action": "confirm", "code": Totp(secret).wrong()})
    assert r.status_code == 400, r.text[:500]
    assert SECRET.search(r.text).group(1) == secret, "the re-rendered page lost the secret"
    assert sql_one(stack, "SELECT mfa_enabled_at IS NULL FROM users WHERE id = %d"
                   % account.id) == "1"


def test_the_first_code_turns_it_on_and_shows_ten_recovery_codes_once(stack):
    account, b, totp, codes = enable(stack)
    assert len(set(codes)) == 10
    assert sql_one(stack, "SELECT mfa_enabled_at IS NOT NULL FROM users WHERE id = %d"
                   % account.id) == "1"
    assert sql_one(stack, "SELECT COUNT(*) FROM mfa_recovery_codes WHERE user_id = %d"
                   % account.id) == "10"
    # Only hashes are stored.
    for c in codes:
        assert sql_one(stack, "SELECT COUNT(*) FROM mfa_recovery_codes WHERE user_id = %d AND "
                       "code_hash = UNHEX('%s')" % (account.id, hashlib.sha256(
                           c.replace("-", "").encode()).hexdigest())) == "1"
    assert "mfa_enabled" in audit_events(stack, account.id)
    r = b.get("/account/mfa")
    assert r.status_code == 200
    assert RECOVERY.findall(r.text) == [], "recovery codes shown a second time"
    assert 'name="action" value="disable"' in r.text
    assert "mfa-secret" not in r.text, "the secret is shown again once it is on"


# --- logging in in a browser ----------------------------------------------------------------


def test_the_password_leads_to_the_code_step_and_the_code_to_a_new_session(stack):
    account, _, totp, _ = enable(stack)
    logins_before = audit_events(stack, account.id).count("login_succeeded")
    b, r = password_step(stack, account)
    assert r.status_code == 303 and r.headers["Location"] == "/login/mfa", r.headers
    pending = b.cookie()
    assert pending is not None, "no session cookie after the password step"
    # Half-logged-in counts as logged out everywhere else.
    r = b.get("/profile")
    assert r.status_code == 303 and r.headers["Location"].startswith("/login"), r.headers
    assert audit_events(stack, account.id).count("login_succeeded") == logins_before
    r = code_step(b, totp.code())
    assert r.status_code == 303 and r.headers["Location"] == "/profile", r.text[:500]
    assert b.cookie() not in (None, pending), "the session id was not renewed at the MFA step"
    assert b.get("/profile").status_code == 200
    assert audit_events(stack, account.id).count("login_succeeded") == logins_before + 1
    # The half-way session is gone.
    b2 = Browser(stack)
    r = b2.get("/profile", headers={"Cookie": "%s=%s" % (SESSION_COOKIE, pending)})
    assert r.status_code == 303


def test_next_is_carried_through_the_code_step(stack):
    account, _, totp, _ = enable(stack)
    b, r = password_step(stack, account, next_="/account/sessions")
    assert r.status_code == 303
    loc = urllib.parse.urlsplit(r.headers["Location"])
    assert loc.path == "/login/mfa"
    assert urllib.parse.parse_qs(loc.query)["next"] == ["/account/sessions"]
    page = b.get(r.headers["Location"])
    assert 'name="next" value="/account/sessions"' in page.text
    r = b.post("/login/mfa", {"csrf_token": csrf_of(page.text), "code": totp.code(),
                              "next": "/account/sessions"})
    assert r.status_code == 303 and r.headers["Location"] == "/account/sessions", r.headers


def test_a_wrong_code_is_400_and_counts_as_a_failed_login(stack):
    account, _, totp, _ = enable(stack)
    b, r = password_step(stack, account)
    assert r.status_code == 303
    r = code_step(b, totp.wrong())
    assert r.status_code == 400, r.text[:500]
    assert sql_one(stack, "SELECT failed_logins FROM users WHERE id = %d" % account.id) == "1"
    assert "mfa_failed" in audit_events(stack, account.id)
    assert b.get("/profile").status_code == 303, "a wrong code logged the browser in"
    # The right one still works afterwards, and clears the count.
    r = code_step(b, totp.code())
    assert r.status_code == 303 and r.headers["Location"] == "/profile"
    assert sql_one(stack, "SELECT failed_logins FROM users WHERE id = %d" % account.id) == "0"


def test_the_code_step_without_a_waiting_session_sends_to_login(stack):
    r = Browser(stack).get("/login/mfa")
    assert r.status_code == 303 and r.headers["Location"] == "/login"
    _, b = logged_in(stack)
    r = b.get("/login/mfa")
    assert r.status_code == 303 and r.headers["Location"] == "/login"


def test_a_recovery_code_works_once(stack):
    account, _, _, codes = enable(stack)
    b, _ = password_step(stack, account)
    r = code_step(b, codes[3].upper())
    assert r.status_code == 303 and r.headers["Location"] == "/profile", r.text[:500]
    assert "recovery_code_used" in audit_events(stack, account.id)
    assert sql_one(stack, "SELECT COUNT(*) FROM mfa_recovery_codes WHERE user_id = %d AND "
                   "used_at IS NOT NULL" % account.id) == "1"
    b, _ = password_step(stack, account)
    r = code_step(b, codes[3])
    assert r.status_code == 400, "a recovery code worked twice"
    r = code_step(b, codes[4])
    assert r.status_code == 303


def test_a_totp_code_is_not_accepted_twice(stack):
    account, _, totp, _ = enable(stack)
    code = totp.code()
    b, _ = password_step(stack, account)
    assert code_step(b, code).status_code == 303
    b, _ = password_step(stack, account)
    assert code_step(b, code).status_code == 400, "a replayed code was accepted"


# --- logging in over the API ----------------------------------------------------------------


def api_login(stack, account, **extra):
    c = api_lib.Client(stack)
    body = {"login": account.username, "password": account.password}
    body.update(extra)
    return c.post("/api/v1/auth/login", body)


def test_the_api_login_needs_the_code_when_it_is_on(stack):
    account, _, totp, codes = enable(stack)
    r = api_login(stack, account)
    assert r.status_code == 401 and r.json()["code"] == "mfa_required", r.text
    assert "access_token" not in r.json()
    r = api_login(stack, account, totp=totp.wrong())
    assert r.status_code == 401 and r.json()["code"] == "mfa_required", r.text
    code = totp.code()
    r = api_login(stack, account, totp=code)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["token_type"] == "Bearer" and body["user"]["mfa_enabled"] is True
    # Replay of the same code: refused.
    r = api_login(stack, account, totp=code)
    assert r.status_code == 401 and r.json()["code"] == "mfa_required", r.text
    # A recovery code stands in for the app, once.
    r = api_login(stack, account, totp=codes[0])
    assert r.status_code == 200, r.text
    r = api_login(stack, account, totp=codes[0])
    assert r.status_code == 401 and r.json()["code"] == "mfa_required", r.text


def test_the_api_login_without_mfa_ignores_totp_and_says_mfa_is_off(stack):
    account = register(stack, verified=True)
    r = api_login(stack, account, totp="123456")
    assert r.status_code == 200, r.text
    assert r.json()["user"]["mfa_enabled"] is False


def test_a_wrong_password_is_invalid_credentials_even_with_mfa_on(stack):
    account, _, totp, _ = enable(stack)
    c = api_lib.Client(stack)
    r = c.post("/api/v1/auth/login", {"login": account.username, "password": "wrong-Pass-1x",
                                      "totp": totp.code()})
    assert r.status_code == 401 and r.json()["code"] == "invalid_credentials", r.text


# --- turning it off -----------------------------------------------------------------------


def test_turning_it_off_needs_the_password_and_a_code(stack):
    account, b, totp, _ = enable(stack)
    r = b.form("/account/mfa", {"action": "disable", "password": "wrong-Pass-1x",
                                "code": totp.code()})
    assert r.status_code == 403, r.text[:500]
    r = b.form("/account/mfa", {"action": "disable", "password": account.password,
                                "code": totp.wrong()})
    assert r.status_code == 400, r.text[:500]
    assert sql_one(stack, "SELECT mfa_enabled_at IS NOT NULL FROM users WHERE id = %d"
                   % account.id) == "1"
    r = b.form("/account/mfa", {"action": "disable", "password": account.password,
                                "code": totp.code()})
    assert r.status_code == 200, r.text[:500]
    assert 'name="action" value="start"' in r.text
    assert sql_one(stack, "SELECT mfa_secret_enc IS NULL AND mfa_enabled_at IS NULL FROM users "
                   "WHERE id = %d" % account.id) == "1"
    assert sql_one(stack, "SELECT COUNT(*) FROM mfa_recovery_codes WHERE user_id = %d"
                   % account.id) == "0"
    assert "mfa_disabled" in audit_events(stack, account.id)
    # The password alone logs in again.
    _, r = password_step(stack, account)
    assert r.status_code == 303 and r.headers["Location"] == "/profile", r.headers


def test_a_recovery_code_can_turn_it_off(stack):
    account, b, _, codes = enable(stack)
    r = b.form("/account/mfa", {"action": "disable", "password": account.password,
                                "code": codes[9]})
    assert r.status_code == 200, r.text[:500]
    assert sql_one(stack, "SELECT mfa_enabled_at IS NULL FROM users WHERE id = %d"
                   % account.id) == "1"


def test_the_mfa_page_needs_a_full_session(stack):
    r = Browser(stack).get("/account/mfa")
    assert r.status_code == 303 and r.headers["Location"].startswith("/login?next=")
    account, _, _, _ = enable(stack)
    b, _ = password_step(stack, account)
    r = b.get("/account/mfa")
    assert r.status_code == 303 and r.headers["Location"].startswith("/login"), r.headers
