"""test_protect_app.py: deploy/nginx/protect-app.example.conf protects an application, for real.

A second nginx (own prefix directory, own loopback port) runs the example file, filled in with
the stack's worker socket and a tiny upstream application (upstream_app.py) that echoes the
X-User-* headers it receives.  The checks go through usermgr's /auth/check on the running stack,
so they prove the example and the product together: anonymous browsers are sent to the login
page and programs get a 401; a bearer token or a browser session cookie reaches the application
with the user's identity; a client cannot forge that identity; /app/admin/ needs the admin role.
"""

import os
import re

import pytest
import requests

from api_lib import Client, browser_login, login, register
from nginx_lib import ExtraNginx
from stack import ADMIN_PASSWORD, ADMIN_USERNAME, HTTP_TIMEOUT, REPO
from upstream_app import UpstreamApp

EXAMPLE = os.path.join(REPO, "deploy", "nginx", "protect-app.example.conf")
BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
IDENTITY = ("X-User-Id", "X-User-Name", "X-User-Email", "X-User-Roles")


class ProtectNginx(ExtraNginx):
    """The second nginx: the example file inside a server {} next to usermgr's own location /."""

    def __init__(self, stack, app):
        super().__init__(stack, "protect-app")
        self.app = app
        self.base_url = "http://127.0.0.1:%d" % self.port

    def start(self):
        sock = "unix:" + self.socket()
        with open(EXAMPLE) as f:
            example = f.read()
        filled = example.replace("@USERMGR_FASTCGI@", sock).replace("@APP_UPSTREAM@",
                                                                     self.app.address)
        left = re.findall(r"@[A-Z_]+@", filled)
        assert not left, "placeholders the test does not know: %s" % left
        included = self.write("protect-app.conf", filled)
        body = """	access_log "%(d)s/access.log";
	absolute_redirect off;
	server {
		listen 127.0.0.1:%(port)d;
		server_name localhost;
		include "%(included)s";
		location / {
			include "%(repo)s/deploy/nginx/fastcgi-usermgr.conf";
			fastcgi_pass %(sock)s;
		}
	}""" % {"d": self.dir, "port": self.port, "included": included, "repo": REPO, "sock": sock}
        return super().start(body, "test_protect_app.py: usermgr's server with the example "
                             "included.")

    def request(self, method, path, headers=None, token=None, **kw):
        h = dict(headers or {})
        if token is not None:
            h["Authorization"] = "Bearer " + token
        kw.setdefault("timeout", HTTP_TIMEOUT)
        kw.setdefault("allow_redirects", False)
        return requests.request(method, self.base_url + path, headers=h, **kw)

    def get(self, path, **kw):
        return self.request("GET", path, **kw)


@pytest.fixture(scope="module")
def protected(stack):
    app = UpstreamApp().start()
    ngx = ProtectNginx(stack, app)
    try:
        ngx.start()
        yield ngx
    finally:
        ngx.stop()
        app.stop()


class Admin:
    """The bootstrap admin, logged in over the API from a client address of its own."""

    def __init__(self, stack):
        self.client = Client(stack)
        self.username = ADMIN_USERNAME
        self.password = ADMIN_PASSWORD
        self.pair = login(self, client=self.client)
        self.token = self.pair["access_token"]
        self.user = self.pair["user"]


@pytest.fixture(scope="module")
def admin(stack):
    return Admin(stack)


@pytest.fixture(scope="module")
def member(stack):
    """A verified user with only the role `user`, and its access token."""
    account = register(stack, verified=True)
    account.token = login(account)["access_token"]
    return account


def echoed(r):
    """The X-User-* headers the application received, from its 200 answer."""
    assert r.status_code == 200, (r.status_code, r.headers.get("Location"), r.text[:300])
    assert r.headers.get("Content-Type") == "application/json", r.headers
    return r.json()


def roles(value):
    return sorted(x.strip() for x in value.split(",") if x.strip())


def assert_problem(r, status, code):
    assert r.status_code == status, (r.status_code, r.text[:300])
    assert r.headers.get("Content-Type", "").startswith("application/problem+json"), r.headers
    body = r.json()
    assert body["status"] == status and body["code"] == code, body


# --- nobody logged in --------------------------------------------------------------------------

def test_an_anonymous_browser_is_sent_to_the_login_page_and_back(protected):
    before = protected.app.count()
    r = protected.get("/app/reports/2026?year=2026", headers={"Accept": BROWSER})
    assert r.status_code == 303, (r.status_code, r.text[:300])
    assert r.headers.get("Location") == "/login?next=/app/reports/2026?year=2026", r.headers
    # The login page is served on the same host, by usermgr, with `next` carried in the form.
    page = protected.get(r.headers["Location"], headers={"Accept": BROWSER})
    assert page.status_code == 200, page.status_code
    assert 'name="next"' in page.text and "/app/reports/2026" in page.text, page.text[:800]
    assert protected.app.count() == before, "the application saw an anonymous request"


def test_a_next_with_several_query_parameters_keeps_only_the_path(protected):
    r = protected.get("/app/list?a=1&b=2", headers={"Accept": BROWSER})
    assert r.status_code == 303, r.status_code
    assert r.headers.get("Location") == "/login?next=/app/list", r.headers


def test_an_anonymous_program_gets_a_401_problem_not_a_redirect(protected):
    before = protected.app.count()
    for accept in ("application/json", "*/*"):
        r = protected.get("/app/data", headers={"Accept": accept})
        assert_problem(r, 401, "unauthorized")
        assert r.headers.get("WWW-Authenticate", "").startswith("Bearer"), r.headers
        assert "Location" not in r.headers
    # An invalid token is a program's request even when it accepts HTML.
    r = protected.get("/app/data", headers={"Accept": BROWSER}, token="garbage")
    assert_problem(r, 401, "unauthorized")
    assert protected.app.count() == before, "the application saw an unauthenticated request"


def test_a_client_sent_identity_header_does_not_get_anyone_in(protected, admin):
    before = protected.app.count()
    forged = {"X-User-Id": admin.user["id"], "X-User-Name": ADMIN_USERNAME,
              "X-User-Roles": "admin", "Accept": "application/json"}
    for path in ("/app/", "/app/admin/"):
        assert_problem(protected.get(path, headers=forged), 401, "unauthorized")
    assert protected.app.count() == before


# --- logged in ---------------------------------------------------------------------------------

def test_a_bearer_token_reaches_the_application_with_the_users_identity(protected, admin):
    seen = echoed(protected.get("/app/hello", token=admin.token))
    assert seen["path"] == "/app/hello"
    x = seen["x_user"]
    assert x.get("X-User-Id") == admin.user["id"], x
    assert x.get("X-User-Name") == ADMIN_USERNAME, x
    assert x.get("X-User-Email") == admin.user["email"], x
    assert roles(x.get("X-User-Roles", "")) == sorted(admin.user["roles"]), x
    assert "admin" in roles(x["X-User-Roles"])


def test_a_browser_session_cookie_reaches_the_application_with_the_users_identity(
        stack, protected):
    account = register(stack, verified=True)
    browser = browser_login(stack, account)
    cookie = browser.session.cookies.get("usermgr_session")
    # Cookies are per host, not per port (RFC 6265 §8.5): a browser sends this one here too.
    seen = echoed(protected.get("/app/profile", headers={
        "Accept": BROWSER, "Cookie": "usermgr_session=%s" % cookie}))
    x = seen["x_user"]
    assert x.get("X-User-Id") == account.id, x
    assert x.get("X-User-Name") == account.username, x
    assert x.get("X-User-Email") == account.email, x
    assert roles(x.get("X-User-Roles", "")) == ["user"], x


def test_a_logged_in_users_forged_identity_headers_are_replaced(protected, admin, member):
    seen = echoed(protected.get("/app/whoami", token=member.token, headers={
        "X-User-Id": admin.user["id"], "X-User-Name": ADMIN_USERNAME,
        "X-User-Email": admin.user["email"], "X-User-Roles": "admin"}))
    x = seen["x_user"]
    assert x == {"X-User-Id": member.id, "X-User-Name": member.username,
                 "X-User-Email": member.email, "X-User-Roles": "user"}, x


def test_a_post_with_a_body_is_checked_without_it_and_reaches_the_application_whole(
        protected, member):
    # The check must be a GET of /auth/check however the client called (a POST there is 405),
    # and the body goes to the application only.
    body = b"x" * 100000
    seen = echoed(protected.request("POST", "/app/upload", token=member.token, data=body,
                                    headers={"Content-Type": "application/octet-stream"}))
    assert seen["method"] == "POST" and seen["body_length"] == len(body), seen
    assert seen["x_user"].get("X-User-Id") == member.id, seen


# --- the role check ----------------------------------------------------------------------------

def test_the_admin_area_lets_an_admin_in(protected, admin):
    seen = echoed(protected.get("/app/admin/users", token=admin.token))
    assert seen["path"] == "/app/admin/users"
    assert seen["x_user"].get("X-User-Id") == admin.user["id"], seen


def test_the_admin_area_refuses_a_user_without_the_role_with_403(protected, member):
    before = protected.app.count()
    r = protected.get("/app/admin/users", token=member.token,
                      headers={"X-User-Roles": "admin", "Accept": BROWSER})
    assert_problem(r, 403, "forbidden")
    assert protected.app.count() == before, "the application saw a refused request"
    # The rest of the application is still theirs.
    assert echoed(protected.get("/app/", token=member.token))["x_user"]["X-User-Id"] == member.id


def test_a_logout_locks_the_application_at_once(stack, protected):
    account = register(stack, verified=True)
    pair = login(account)
    assert echoed(protected.get("/app/", token=pair["access_token"]))
    r = account.client.post("/api/v1/auth/logout", {"refresh_token": pair["refresh_token"]})
    assert r.status_code == 204, r.text
    assert_problem(protected.get("/app/", token=pair["access_token"]), 401, "unauthorized")
