"""accounts_lib.py: helpers of the browser account-flow tests — browsers, forms, mail, users, JWTs.

A Browser is what one person's web browser is to the stack: a cookie jar of its own, the Origin
header a browser sends with a form, and its own loopback source address. The per-IP limit of
API.md §1 (USERMGR_RATE_PER_IP_PER_MIN) and nginx's flood limit count sign-up, login, resend and
forgot-password per client address; all of 127.0.0.0/8 is local on Linux, so every Browser takes
a fresh one and one test's attempts never eat another's budget.

Users are made through the HTML forms themselves; facts a test is not about (a verified address,
the lockout being over) are set in the database with the mariadb client, as root over the stack's
socket. Mail is read from the email_outbox table, which the product fills in the transaction of
the change that causes it (API.md §5) — for forgot-password and resend, the mailer's transaction
that handles the request (peers.requests_handled waits for it).
"""

import html
import json
import re
import secrets
import time

import jwt

from stack import HTTP_TIMEOUT
# hkdf_sha256 and secret are re-exported for test_tokens.py.
from peers import (address_pool, b64url, bound_session, hkdf_sha256, jwt_key, kid,  # noqa: F401
                   outbox_messages, requests_handled, secret, sql, sql_quote)

next_address = address_pool(33)

# Source addresses 127.33.0.1 onwards: a block of their own, apart from the blocks of the other
# integration helpers (127.0.0.1 for plain requests, 127.84.x.y for the JSON API tests).

SESSION_COOKIE = "usermgr_session"  # API.md §3: http base URL, so no __Host- prefix
CSRF_COOKIE = "usermgr_csrf"
REMEMBER_SECONDS = 30 * 24 * 3600  # API.md §7: "persistent for 30 days"

CSRF_FIELD = re.compile(r'name="csrf_token"\s+value="([^"]*)"')
TOKEN_VALUE = r"[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]*"
REQUEST_ID = re.compile(r'<span class="request-id">[^<]*</span>')

VERIFY_SUBJECT = "Verify your e-mail address"
RESET_SUBJECT = "Reset your usermgr password"
CHANGED_SUBJECT = "password was changed"

BAD_LOGIN = "The username, e-mail address or password is not correct."
LOCKED_TEXT = "Too many failed attempts"


class Browser:
    """One visitor: a cookie jar, a source address of its own, and the last CSRF token it saw."""

    def __init__(self, stack, address=None):
        self.stack = stack
        self.address = address or next_address()
        self.session = bound_session(self.address)
        self.csrf = None

    def request(self, method, path, **kw):
        """METHOD PATH; redirects are not followed; a page's csrf_token is remembered."""
        kw.setdefault("timeout", HTTP_TIMEOUT)
        kw.setdefault("allow_redirects", False)
        r = self.session.request(method, self.stack.url(path), **kw)
        m = CSRF_FIELD.search(r.text) if "html" in r.headers.get("Content-Type", "") else None
        if m and m.group(1):
            self.csrf = m.group(1)
        return r

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, fields, origin=True, headers=None, **kw):
        """A form POST as a browser sends it: urlencoded, with the site's Origin (unless
        ORIGIN is False, or a string to send instead). FIELDS are sent exactly as given."""
        h = dict(headers or {})
        if origin is True:
            h["Origin"] = self.stack.base_url
        elif origin:
            h["Origin"] = origin
        return self.request("POST", path, data=fields, headers=h, **kw)

    def form(self, path, fields, page=None, **kw):
        """GETs PAGE (default PATH) for a fresh csrf_token, then POSTs FIELDS with it to PATH."""
        r = self.get(page or path)
        assert r.status_code == 200, "GET %s: %d %r" % (page or path, r.status_code, r.text[:300])
        token = csrf_of(r.text)
        data = dict(fields)
        data["csrf_token"] = token
        return self.post(path, data, **kw)

    def cookie(self, name=SESSION_COOKIE):
        """The value of cookie NAME in the jar, or None."""
        for c in self.session.cookies:
            if c.name == name:
                return c.value
        return None

    def set_cookie(self, name, value):
        host = self.stack.base_url.split("://", 1)[1].rsplit(":", 1)[0]
        # http.cookiejar files a host without a dot ("localhost", the local stack's since
        # API.md §8) under its RFC 2965 effective name, host + ".local", and sends a cookie
        # set for plain "localhost" to no request.
        if "." not in host:
            host += ".local"
        self.session.cookies.set(name, value, domain=host, path="/")


def csrf_of(page):
    m = CSRF_FIELD.search(page)
    assert m and m.group(1), "the page has no filled csrf_token field: %r" % page[:500]
    return m.group(1)


def set_cookies(r):
    """The Set-Cookie header lines of response R, each as it was sent."""
    return r.raw.headers.getlist("Set-Cookie")


def set_cookie_line(r, name=SESSION_COOKIE):
    """The Set-Cookie line of R that sets NAME (asserted to be exactly one)."""
    lines = [c for c in set_cookies(r) if c.split("=", 1)[0].strip() == name]
    assert len(lines) == 1, "expected one Set-Cookie for %s, got %r" % (name, set_cookies(r))
    return lines[0]


def cookie_attributes(line):
    """(value, {attribute name lower-cased: value or True}) of one Set-Cookie line."""
    parts = [p.strip() for p in line.split(";")]
    value = parts[0].split("=", 1)[1]
    attrs = {}
    for p in parts[1:]:
        if not p:
            continue
        k, _, v = p.partition("=")
        attrs[k.strip().lower()] = v.strip() if _ else True
    return value, attrs


# --- HTML ------------------------------------------------------------------------------------

def input_value(page, name):
    """The value="" of the <input> whose name is NAME (HTML entities decoded), or None."""
    m = re.search(r'<input\b[^>]*\bname="%s"[^>]*>' % re.escape(name), page)
    if not m:
        return None
    v = re.search(r'\bvalue="([^"]*)"', m.group(0))
    return html.unescape(v.group(1)) if v else None


def textarea_value(page, name):
    m = re.search(r'<textarea\b[^>]*\bname="%s"[^>]*>(.*?)</textarea>' % re.escape(name), page,
                  re.S)
    return html.unescape(m.group(1)) if m else None


def field_error(page, name):
    """The message shown beside field NAME (partials/field: id f-NAME-error), or None."""
    m = re.search(r'<p class="field-error" id="f-%s-error">(.*?)</p>' % re.escape(name), page,
                  re.S)
    return html.unescape(m.group(1)) if m else None


def field_errors(page):
    """The names of every field that shows an error."""
    return set(re.findall(r'id="f-([A-Za-z_]+)-error"', page))


def normalised(page):
    """PAGE without what differs between two requests of one visitor: token and request id."""
    page = CSRF_FIELD.sub('name="csrf_token" value=""', page)
    return REQUEST_ID.sub("", page)


# --- the database ----------------------------------------------------------------------------


def sql_one(stack, statement):
    rows = sql(stack, statement)
    return rows[0][0] if rows else None


def user_count(stack, where):
    return int(sql_one(stack, "SELECT COUNT(*) FROM users WHERE " + where))


def user_id(stack, username):
    v = sql_one(stack, "SELECT id FROM users WHERE username = %s" % sql_quote(username))
    return int(v) if v is not None else None


def mark_verified(stack, uid):
    sql(stack, "UPDATE users SET email_verified_at = UTC_TIMESTAMP(6) WHERE id = %d" % uid)


def end_lockout(stack, uid):
    """What the passing of USERMGR_LOGIN_LOCKOUT_SECONDS does: locked_until is in the past."""
    sql(stack, "UPDATE users SET locked_until = UTC_TIMESTAMP(6) - INTERVAL 1 SECOND "
        "WHERE id = %d AND locked_until IS NOT NULL" % uid)


def audit_events(stack, uid):
    """The event names of every audit row about user UID, oldest first."""
    return [r[0] for r in sql(stack, "SELECT event FROM audit_events WHERE user_id = %d "
                                     "ORDER BY id" % uid)]


def mails(stack, address, subject_part=None):
    """Outbox messages for ADDRESS, newest first: dicts with id, subject, text_body, html_body."""
    return outbox_messages(stack, address, subject_part)


def mail_count(stack, address):
    requests_handled(stack)
    return int(sql_one(stack, "SELECT COUNT(*) FROM email_outbox WHERE to_email = %s"
                       % sql_quote(address)))


def link_in(stack, text, path):
    """The full $USERMGR_BASE_URL PATH?token= link in TEXT (asserted), as (url, token)."""
    m = re.search(r"(https?://[^\s/]+%s\?token=(%s))" % (re.escape(path), TOKEN_VALUE), text)
    assert m, "no %s?token= link in %r" % (path, text[:800])
    assert m.group(1).startswith(stack.base_url + path), (m.group(1), stack.base_url)
    return m.group(1), m.group(2)


def mailed_token(stack, address, path, subject_part=None):
    """The token of the newest mailed PATH link to ADDRESS."""
    found = mails(stack, address, subject_part)
    assert found, "no mail in the outbox for %s (subject like %r)" % (address, subject_part)
    return link_in(stack, found[0]["text_body"], path)[1]


def link_path(token, path):
    return "%s?token=%s" % (path, token)


# --- accounts --------------------------------------------------------------------------------

def unique_name(prefix="u"):
    return "%s%s" % (prefix, secrets.token_hex(5))


def new_password():
    """Long, random, never in a common-password list and never holding a username."""
    return "Pw-%s-Zq9" % secrets.token_hex(8)


class Account:
    def __init__(self, username, email, password, uid):
        self.username = username
        self.email = email
        self.password = password
        self.id = uid


def signup_fields(username=None, email=None, password=None, confirm=None):
    username = username if username is not None else unique_name()
    email = email if email is not None else "%s@example.com" % username.lower()
    password = password if password is not None else new_password()
    return {"username": username, "email": email, "password": password,
            "password_confirm": confirm if confirm is not None else password}


def register(stack, browser=None, verified=False, **over):
    """Signs a new user up through the HTML form (asserted 200); returns the Account."""
    b = browser or Browser(stack)
    fields = signup_fields(**over)
    r = b.form("/register", fields)
    assert r.status_code == 200, "sign-up failed: %d %r" % (r.status_code, r.text[:500])
    uid = user_id(stack, fields["username"])
    assert uid is not None, "no users row after a successful sign-up of %s" % fields["username"]
    account = Account(fields["username"], fields["email"], fields["password"], uid)
    if verified:
        mark_verified(stack, uid)
    return account


def login(stack, account, browser=None, password=None, remember=False, next_=None):
    """POST /login as a browser does (token from GET /login); returns the response."""
    b = browser or Browser(stack)
    fields = {"login": account.username,
              "password": password if password is not None else account.password}
    if remember:
        fields["remember"] = "1"
    if next_ is not None:
        fields["next"] = next_
    return b.form("/login", fields)


def logged_in(stack, account=None, browser=None):
    """A browser with a session of ACCOUNT (a new verified user when None)."""
    account = account or register(stack, verified=True)
    b = browser or Browser(stack)
    r = login(stack, account, b)
    assert r.status_code == 303, "login failed: %d %r" % (r.status_code, r.text[:500])
    assert b.cookie() is not None, "no %s cookie after the login" % SESSION_COOKIE
    return account, b


def with_cookie(stack, value, path="/profile"):
    """GET PATH from a fresh browser that sends only the session cookie VALUE."""
    b = Browser(stack)
    return b.get(path, headers={"Cookie": "%s=%s" % (SESSION_COOKIE, value)})


# --- keys and JWTs (API.md §1 USERMGR_SECRET_KEY, §5) --------------------------------------


def decode_link(stack, token, audience):
    """The claims of a mailed-link token, signature, exp and aud checked with the derived key."""
    return jwt.decode(token, jwt_key(stack), algorithms=["HS256"], audience=audience)


def sign(stack, claims, key=None, headers=None):
    h = {"kid": kid(stack)}
    h.update(headers or {})
    return jwt.encode(claims, key if key is not None else jwt_key(stack), algorithm="HS256",
                      headers=h)


def unsigned(claims, header):
    """A JWT with alg none (RFC 7519 §6): header.payload. and an empty signature."""
    return "%s.%s." % (b64url(json.dumps(header).encode()), b64url(json.dumps(claims).encode()))


def verify_claims(account, **over):
    """Claims of a verification link for ACCOUNT as API.md §5 describes them."""
    now = int(time.time())
    claims = {"aud": "usermgr:verify_email", "sub": str(account.id), "email": account.email,
              "bind": account.email, "iat": now, "exp": now + 3600}
    claims.update(over)
    return claims


def tampered(token):
    """TOKEN with one character in the middle of its signature changed.

    The middle, not the end: the last base64url character of a 32-byte MAC carries padding
    bits a decoder may ignore, so changing it might not change the signature at all.
    """
    head, payload, sig = token.split(".")
    i = len(sig) // 2
    c = "A" if sig[i] != "A" else "B"
    return "%s.%s.%s" % (head, payload, sig[:i] + c + sig[i + 1:])
