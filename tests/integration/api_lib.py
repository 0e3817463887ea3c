"""api_lib.py: JSON API test helpers — clients with their own source address, users, mail, JWTs.

The per-IP limit (API.md §1 USERMGR_RATE_PER_IP_PER_MIN, and nginx's flood limit) counts sign-up,
login, resend and forgot-password per client address, so every Client binds its own loopback
address (all of 127.0.0.0/8 is local on Linux): one test's attempts never eat another's budget.
Users are made through the API itself; only facts a test is not about (a verified address, a
disabled account) are set in the database, the way the admin code would set them.
"""

import calendar
import json
import os
import re
import secrets
import time

import jwt

from stack import HTTP_TIMEOUT
from peers import (address_pool, b64url, bound_session, jwt_key, kid, outbox_messages,
                   requests_handled, sql, sql_quote)

next_address = address_pool(84)

JSON = "application/json"

# Source addresses 127.84.0.1 onwards: a block of its own, so the addresses of other test
# helpers (127.0.0.N) never share a rate-limit bucket with these.

# API.md §4: the user object, exactly.
USER_KEYS = {"id", "username", "email", "email_verified", "display_name", "bio", "roles",
             "status", "mfa_enabled", "created_at", "updated_at", "last_login_at"}
RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")
TOKEN_IN_LINK = re.compile(r"[?&]token=([A-Za-z0-9_.\-]+)")
CSRF_FIELD = re.compile(r'name="csrf_token"\s+value="([^"]+)"|value="([^"]+)"\s+name="csrf_token"')


class Client:
    """A requests session of its own (cookie jar included) bound to a fresh source address."""

    def __init__(self, stack, address=None):
        self.stack = stack
        self.address = address or next_address()
        self.session = bound_session(self.address)

    def request(self, method, path, token=None, headers=None, **kw):
        h = dict(headers or {})
        if token is not None:
            h["Authorization"] = "Bearer " + token
        kw.setdefault("timeout", HTTP_TIMEOUT)
        kw.setdefault("allow_redirects", False)
        return self.session.request(method, self.stack.url(path), headers=h, **kw)

    def json(self, method, path, body, token=None, headers=None):
        """METHOD PATH with BODY (an object, sent as JSON, or bytes sent as they are)."""
        h = {"Content-Type": JSON}
        h.update(headers or {})
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        return self.request(method, path, token=token, headers=h, data=data)

    def get(self, path, token=None, **kw):
        return self.request("GET", path, token=token, **kw)

    def post(self, path, body, token=None, **kw):
        return self.json("POST", path, body, token=token, **kw)

    def form(self, path, fields):
        """A browser form POST: urlencoded, with the Origin a browser sends."""
        return self.request("POST", path, headers={"Origin": self.stack.base_url}, data=fields)


# --- names and passwords --------------------------------------------------------------------

def unique_name(prefix="u"):
    return "%s%s" % (prefix, secrets.token_hex(5))


def new_password():
    # Long, random, never in a common-password list and never holding a username.
    return "Pw-%s-Zq9" % secrets.token_hex(8)


# --- the database (facts the test is not about, and the mail outbox) -------------------------


def mark_verified(stack, user_id):
    sql(stack, "UPDATE users SET email_verified_at = UTC_TIMESTAMP(6) WHERE id = %d"
        % int(user_id))


# A change made in SQL, behind the services' back, reaches the workers' cache only through the
# revocation log, at their next poll (docs/DECISIONS.md "Fast path: wiring").  Helpers that
# change a user so write the row a service would, then wait out one poll interval: the next
# request then polls before it is answered.
POLL_WAIT = int(os.environ.get("USERMGR_REVOCATION_POLL_MS", "200")) / 1000 + 0.1


def user_changed_in_sql(stack, user_id):
    """Logs a `user` revocation row for USER_ID, as the services do, and waits out a poll."""
    sql(stack, "INSERT INTO revocations (kind, user_id, created_at)"
               " VALUES ('user', %d, UTC_TIMESTAMP(6))" % int(user_id))
    time.sleep(POLL_WAIT)


def disable_user(stack, user_id):
    """Only the status: a token must die on the status alone (API.md §4)."""
    sql(stack, "UPDATE users SET status = 'disabled' WHERE id = %d" % int(user_id))
    user_changed_in_sql(stack, user_id)


def newest_mail(stack, address, subject_part=None):
    """(subject, text body) of the newest outbox message for ADDRESS, or None."""
    found = outbox_messages(stack, address, subject_part)
    if not found:
        return None
    return found[0]["subject"], found[0]["text_body"]


def mail_count(stack, address):
    requests_handled(stack)
    return int(sql(stack, "SELECT COUNT(*) FROM email_outbox WHERE to_email = %s"
                   % sql_quote(address))[0][0])


def link_token(stack, address, path, subject_part=None):
    """The token= of the newest mailed link to PATH (e.g. "/verify-email") for ADDRESS."""
    mail = newest_mail(stack, address, subject_part)
    assert mail is not None, "no mail in the outbox for %s" % address
    m = re.search(re.escape(stack.base_url + path) + r"\?token=([A-Za-z0-9_.\-]+)", mail[1])
    assert m, "the newest mail to %s has no %s link: %r" % (address, path, mail[1][:600])
    return m.group(1)


# --- users -----------------------------------------------------------------------------------

class Account:
    """A user made through POST /api/v1/users, with the client that made it."""

    def __init__(self, client, username, email, password, user):
        self.client = client
        self.username = username
        self.email = email
        self.password = password
        self.user = user
        self.id = user["id"]


def register(stack, client=None, verified=False):
    client = client or Client(stack)
    username = unique_name()
    email = "%s@example.com" % username
    password = new_password()
    r = client.post("/api/v1/users", {"username": username, "email": email,
                                      "password": password})
    assert r.status_code == 201, "sign-up failed: %d %r" % (r.status_code, r.text[:300])
    account = Account(client, username, email, password, r.json())
    if verified:
        mark_verified(stack, account.id)
    return account


def login(account, password=None, client=None):
    """Logs ACCOUNT in over the API; returns the 200 body (asserted)."""
    c = client or account.client
    r = c.post("/api/v1/auth/login", {"login": account.username,
                                      "password": password or account.password})
    assert r.status_code == 200, "login failed: %d %r" % (r.status_code, r.text[:300])
    return r.json()


def verified_login(stack):
    """A fresh verified user and its login answer."""
    account = register(stack, verified=True)
    return account, login(account)


def error_fields(problem):
    return {e.get("field") for e in problem.get("errors", [])}


def parse_time(s):
    """An RFC 3339 UTC string as seconds since the epoch."""
    assert RFC3339.match(s), "not an RFC 3339 time: %r" % s
    return calendar.timegm(time.strptime(s[:19], "%Y-%m-%dT%H:%M:%S"))


# --- keys and JWTs (API.md §1 USERMGR_SECRET_KEY, §4 access tokens) -----------------------------


def decode_access(stack, token):
    """The claims of an access token, its signature and aud checked with the derived key."""
    return jwt.decode(token, jwt_key(stack), algorithms=["HS256"], audience="usermgr",
                      issuer="usermgr")


def sign(stack, claims, key=None, headers=None, algorithm="HS256"):
    h = {"kid": kid(stack)}
    h.update(headers or {})
    return jwt.encode(claims, key if key is not None else jwt_key(stack), algorithm=algorithm,
                      headers=h)


def unsigned(claims, header):
    """A JWT with alg none (RFC 7519 §6): header.payload. with an empty signature."""
    return "%s.%s." % (b64url(json.dumps(header).encode()), b64url(json.dumps(claims).encode()))


def csrf_of(page):
    m = CSRF_FIELD.search(page)
    assert m, "the page has no csrf_token field: %r" % page[:500]
    return m.group(1) or m.group(2)


def browser_login(stack, account, client=None):
    """Logs in through the HTML form (GET /login for the token, POST /login); returns the client."""
    c = client or Client(stack)
    r = c.get("/login")
    assert r.status_code == 200, r.status_code
    r = c.form("/login", {"csrf_token": csrf_of(r.text), "login": account.username,
                          "password": account.password})
    assert r.status_code == 303, "browser login failed: %d %r" % (r.status_code, r.text[:300])
    assert "usermgr_session" in c.session.cookies, c.session.cookies.keys()
    return c
