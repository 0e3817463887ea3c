"""test_oidc.py: usermgr as an OpenID Connect provider (issue 14), driven by Authlib — a client
library nobody here wrote — as a confidential client and as a public client with PKCE.

The browser side (login form, consent form) is an accounts_lib.Browser; the relying party's
side (authorization URL, code exchange, ID token validation against the JWKS, refresh,
userinfo, revocation, introspection) is Authlib's OAuth2Session and authlib.jose.  Clients are
registered through the admin API.  Every refusal of the issue has a test asserting the exact
status and RFC 6749 error.
"""

import base64
import os
import subprocess
import hashlib
import html
import json
import re
import secrets
import time
import urllib.parse

import pytest
import requests
from authlib.integrations.requests_client import OAuth2Session
from authlib.jose import JsonWebKey, jwt
from authlib.oidc.core import CodeIDToken

from accounts_lib import Browser, audit_events, logged_in, login, register, sql, sql_one
from api_lib import Client
from stack import ADMIN_PASSWORD, ADMIN_USERNAME, HTTP_TIMEOUT

REDIRECT = "http://127.0.0.1:9/callback"
LOGOUT_TO = "http://127.0.0.1:9/signed-out"
ALL_SCOPES = "openid profile email roles offline_access"
REQUEST_FIELD = re.compile(r'name="request" value="([^"]*)"')


class Admin:
    def __init__(self, stack):
        self.client = Client(stack)
        r = self.client.post("/api/v1/auth/login", {"login": ADMIN_USERNAME,
                                                    "password": ADMIN_PASSWORD})
        assert r.status_code == 200, r.text
        self.token = r.json()["access_token"]

    def send(self, method, path, body=None):
        if body is None:
            return self.client.request(method, path, token=self.token)
        return self.client.json(method, path, body, token=self.token)


@pytest.fixture(scope="module")
def admin(stack):
    return Admin(stack)


def new_client(admin, type_="confidential", **over):
    body = {"name": "Site %s" % secrets.token_hex(3), "redirect_uris": [REDIRECT],
            "post_logout_redirect_uris": [LOGOUT_TO], "type": type_,
            "scopes": ALL_SCOPES.split(), "skip_consent": False}
    body.update(over)
    r = admin.send("POST", "/api/v1/admin/clients", body)
    assert r.status_code == 201, r.text
    return r.json()


@pytest.fixture(scope="module")
def discovery(stack):
    r = requests.get(stack.url("/.well-known/openid-configuration"), timeout=HTTP_TIMEOUT)
    assert r.status_code == 200, r.text
    return r.json()


def session_for(client, scope=ALL_SCOPES, public=False):
    if public:
        return OAuth2Session(client["client_id"], scope=scope, redirect_uri=REDIRECT,
                             code_challenge_method="S256", token_endpoint_auth_method="none")
    return OAuth2Session(client["client_id"], client["client_secret"], scope=scope,
                         redirect_uri=REDIRECT, token_endpoint_auth_method="client_secret_basic")


def local(stack, url):
    assert url.startswith(stack.base_url), url
    return url[len(stack.base_url):]


def sign_in(stack, browser, account, auth_url, decision="allow"):
    """The user's side: authorize, log in when asked, consent when asked; the Location the
    browser is finally sent to (the client's redirect URI)."""
    r = browser.get(local(stack, auth_url))
    if r.status_code == 303 and r.headers["Location"].startswith("/login?"):
        nxt = urllib.parse.parse_qs(urllib.parse.urlsplit(r.headers["Location"]).query)["next"][0]
        r = login(stack, account, browser, next_=nxt)
        assert r.status_code == 303 and r.headers["Location"] == nxt, (r.status_code, r.text[:300])
        r = browser.get(nxt)
    if r.status_code == 200 and "/oauth2/consent" in r.text:
        req = html.unescape(REQUEST_FIELD.search(r.text).group(1))
        r = browser.post("/oauth2/consent", {"csrf_token": browser.csrf, "request": req,
                                             "decision": decision})
    assert r.status_code == 302, (r.status_code, r.text[:500])
    return r.headers["Location"]


def query_of(url):
    return {k: v[0] for k, v in urllib.parse.parse_qs(urllib.parse.urlsplit(url).query).items()}


def jwks(stack):
    r = requests.get(stack.url("/.well-known/jwks.json"), timeout=HTTP_TIMEOUT)
    assert r.status_code == 200
    return JsonWebKey.import_key_set(r.json())


def id_claims(stack, token, client_id, nonce=None):
    params = {"client_id": client_id}
    if nonce is not None:
        params["nonce"] = nonce
    claims = jwt.decode(token, jwks(stack), claims_cls=CodeIDToken,
                        claims_options={"iss": {"essential": True, "value": stack.base_url}},
                        claims_params=params)
    claims.validate()
    return claims


def full_flow(stack, admin, public=False, scope=ALL_SCOPES, account=None, client=None):
    client = client or new_client(admin, "public" if public else "confidential")
    account = account or register(stack, verified=True)
    oauth = session_for(client, scope, public)
    nonce = secrets.token_urlsafe(16)
    kw = {"nonce": nonce}
    verifier = None
    if public:
        verifier = secrets.token_urlsafe(48)
        kw["code_verifier"] = verifier
    url, state = oauth.create_authorization_url(stack.url("/oauth2/authorize"), **kw)
    b = Browser(stack)
    back = sign_in(stack, b, account, url)
    assert back.startswith(REDIRECT + "?"), back
    assert query_of(back)["state"] == state
    fetch = {"authorization_response": back}
    if verifier:
        fetch["code_verifier"] = verifier
    token = oauth.fetch_token(stack.url("/oauth2/token"), **fetch)
    return client, account, oauth, token, nonce, b, back


# --- discovery and keys -----------------------------------------------------------------------

def test_discovery_names_the_base_url_and_es256(stack, discovery):
    assert discovery["issuer"] == stack.base_url
    for key, path in (("authorization_endpoint", "/oauth2/authorize"),
                      ("token_endpoint", "/oauth2/token"),
                      ("userinfo_endpoint", "/oauth2/userinfo"),
                      ("jwks_uri", "/.well-known/jwks.json"),
                      ("revocation_endpoint", "/oauth2/revoke"),
                      ("introspection_endpoint", "/oauth2/introspect"),
                      ("end_session_endpoint", "/oauth2/logout")):
        assert discovery[key] == stack.base_url + path
    assert discovery["id_token_signing_alg_values_supported"] == ["ES256"]
    assert discovery["response_types_supported"] == ["code"]
    assert discovery["code_challenge_methods_supported"] == ["S256"]
    assert set(discovery["token_endpoint_auth_methods_supported"]) == {
        "client_secret_basic", "client_secret_post", "none"}
    assert discovery["request_uri_parameter_supported"] is False
    assert discovery["request_parameter_supported"] is False
    assert discovery["authorization_response_iss_parameter_supported"] is True
    assert discovery["grant_types_supported"] == ["authorization_code", "refresh_token"]


def test_jwks_kid_is_the_rfc7638_thumbprint(stack):
    keys = requests.get(stack.url("/.well-known/jwks.json"), timeout=HTTP_TIMEOUT).json()["keys"]
    assert keys, "no key published"
    for k in keys:
        assert k["kty"] == "EC" and k["crv"] == "P-256" and k["alg"] == "ES256"
        assert "d" not in k
        canon = json.dumps({"crv": k["crv"], "kty": k["kty"], "x": k["x"], "y": k["y"]},
                           separators=(",", ":"), sort_keys=True)
        kid = base64.urlsafe_b64encode(hashlib.sha256(canon.encode()).digest()).rstrip(b"=")
        assert k["kid"] == kid.decode()
        assert JsonWebKey.import_key(k).thumbprint() == k["kid"]


# --- the code flow with Authlib ---------------------------------------------------------------

def test_confidential_client_code_flow(stack, admin):
    client, account, oauth, token, nonce, _, _ = full_flow(stack, admin)
    assert token["token_type"] == "Bearer" and token["refresh_token"]
    claims = id_claims(stack, token["id_token"], client["client_id"], nonce)
    assert claims["sub"] == str(account.id)
    assert claims["aud"] == client["client_id"]
    assert claims["amr"] == ["pwd"] and claims["acr"] == "1"
    assert claims["preferred_username"] == account.username
    assert claims["email"] == account.email and claims["email_verified"] is True
    assert abs(claims["auth_time"] - time.time()) < 300
    # userinfo with the access token
    r = oauth.get(stack.url("/oauth2/userinfo"))
    assert r.status_code == 200, r.text
    info = r.json()
    assert info["sub"] == str(account.id) and info["email"] == account.email
    assert info["roles"] == ["user"]
    # refresh: a new pair, and a new ID token for the same user
    fresh = oauth.refresh_token(stack.url("/oauth2/token"), refresh_token=token["refresh_token"])
    assert fresh["refresh_token"] != token["refresh_token"]
    assert id_claims(stack, fresh["id_token"], client["client_id"])["sub"] == str(account.id)
    # introspection of both kinds
    introspect = stack.url("/oauth2/introspect")
    r = oauth.introspect_token(introspect, token=fresh["access_token"])
    assert r.status_code == 200 and r.json()["active"] is True
    assert r.json()["client_id"] == client["client_id"] and r.json()["sub"] == str(account.id)
    r = oauth.introspect_token(introspect, token=fresh["refresh_token"])
    assert r.json()["active"] is True and r.json()["token_type"] == "refresh_token"
    # the first refresh token was rotated: no longer active
    r = oauth.introspect_token(introspect, token=token["refresh_token"])
    assert r.json() == {"active": False}
    # revocation (RFC 7009): the family ends, access token included
    r = oauth.revoke_token(stack.url("/oauth2/revoke"), fresh["refresh_token"],
                           token_type_hint="refresh_token")
    assert r.status_code == 200
    r = oauth.introspect_token(introspect, token=fresh["access_token"])
    assert r.json() == {"active": False}
    r = requests.get(stack.url("/oauth2/userinfo"), timeout=HTTP_TIMEOUT,
                     headers={"Authorization": "Bearer " + fresh["access_token"]})
    assert r.status_code == 401 and r.json()["error"] == "invalid_token"
    assert 'error="invalid_token"' in r.headers["WWW-Authenticate"]
    events = audit_events(stack, account.id)
    for e in ("oauth_consent_granted", "oauth_code_issued", "oauth_token_issued",
              "oauth_token_revoked"):
        assert e in events, events


def test_public_client_with_pkce(stack, admin):
    client, account, oauth, token, nonce, _, _ = full_flow(stack, admin, public=True)
    assert "client_secret" not in client
    claims = id_claims(stack, token["id_token"], client["client_id"], nonce)
    assert claims["sub"] == str(account.id)
    r = oauth.get(stack.url("/oauth2/userinfo"))
    assert r.status_code == 200 and r.json()["preferred_username"] == account.username
    fresh = oauth.refresh_token(stack.url("/oauth2/token"), refresh_token=token["refresh_token"])
    assert fresh["access_token"]
    # introspection is for confidential clients only
    r = requests.post(stack.url("/oauth2/introspect"), timeout=HTTP_TIMEOUT,
                      data={"client_id": client["client_id"], "token": fresh["access_token"]})
    assert r.status_code == 401 and r.json()["error"] == "invalid_client"
    r = requests.post(stack.url("/oauth2/revoke"), timeout=HTTP_TIMEOUT,
                      data={"client_id": client["client_id"], "token": fresh["refresh_token"]})
    assert r.status_code == 200
    r = requests.post(stack.url("/oauth2/token"), timeout=HTTP_TIMEOUT,
                      data={"client_id": client["client_id"], "grant_type": "refresh_token",
                            "refresh_token": fresh["refresh_token"]})
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant"


def test_client_secret_post_and_no_refresh_without_offline_access(stack, admin):
    client = new_client(admin)
    account = register(stack, verified=True)
    oauth = OAuth2Session(client["client_id"], client["client_secret"], scope="openid email",
                          redirect_uri=REDIRECT, token_endpoint_auth_method="client_secret_post")
    url, _ = oauth.create_authorization_url(stack.url("/oauth2/authorize"), nonce="n1")
    back = sign_in(stack, Browser(stack), account, url)
    token = oauth.fetch_token(stack.url("/oauth2/token"), authorization_response=back)
    assert "refresh_token" not in token
    assert token["scope"] == "openid email"
    claims = id_claims(stack, token["id_token"], client["client_id"], "n1")
    assert "preferred_username" not in claims and claims["email"] == account.email
    r = oauth.get(stack.url("/oauth2/userinfo"))
    assert set(r.json()) == {"sub", "email", "email_verified"}


def test_client_tokens_are_refused_by_the_json_api(stack, admin):
    _, _, _, token, _, _, _ = full_flow(stack, admin)
    r = requests.get(stack.url("/api/v1/me"), timeout=HTTP_TIMEOUT,
                     headers={"Authorization": "Bearer " + token["access_token"]})
    assert r.status_code == 401 and r.json()["code"] == "invalid_token"
    r = requests.post(stack.url("/api/v1/auth/refresh"), timeout=HTTP_TIMEOUT,
                      json={"refresh_token": token["refresh_token"]})
    assert r.status_code == 401 and r.json()["code"] == "invalid_token"


def test_consent_is_remembered_and_skip_consent_skips_it(stack, admin):
    client = new_client(admin)
    account, b = logged_in(stack)
    oauth = session_for(client, "openid profile")
    url, _ = oauth.create_authorization_url(stack.url("/oauth2/authorize"))
    r = b.get(local(stack, url))
    assert r.status_code == 200 and client["name"] in r.text and "decision" in r.text
    sign_in(stack, b, account, url)
    url, state = oauth.create_authorization_url(stack.url("/oauth2/authorize"))
    r = b.get(local(stack, url))
    assert r.status_code == 302 and query_of(r.headers["Location"])["state"] == state
    assert "code" in query_of(r.headers["Location"])
    # prompt=consent asks again
    r = b.get(local(stack, url + "&prompt=consent"))
    assert r.status_code == 200 and "decision" in r.text
    first_party = new_client(admin, skip_consent=True)
    url, _ = session_for(first_party).create_authorization_url(stack.url("/oauth2/authorize"))
    r = b.get(local(stack, url))
    assert r.status_code == 302 and "code" in query_of(r.headers["Location"])


def test_consent_denied_sends_access_denied(stack, admin):
    client = new_client(admin)
    account = register(stack, verified=True)
    url, state = session_for(client).create_authorization_url(stack.url("/oauth2/authorize"))
    back = sign_in(stack, Browser(stack), account, url, decision="deny")
    q = query_of(back)
    assert back.startswith(REDIRECT + "?")
    assert q["error"] == "access_denied" and q["state"] == state and "code" not in q
    assert "oauth_consent_denied" in audit_events(stack, account.id)


def test_consent_post_needs_csrf(stack, admin):
    client = new_client(admin)
    account, b = logged_in(stack)
    url, _ = session_for(client).create_authorization_url(stack.url("/oauth2/authorize"))
    r = b.get(local(stack, url))
    req = html.unescape(REQUEST_FIELD.search(r.text).group(1))
    r = b.post("/oauth2/consent", {"csrf_token": "forged", "request": req, "decision": "allow"})
    assert r.status_code == 403


# --- refusals of the authorization request ------------------------------------------------------

def authorize_params(client, **over):
    p = {"client_id": client["client_id"], "redirect_uri": REDIRECT, "response_type": "code",
         "scope": "openid", "state": "s1"}
    p.update(over)
    return "/oauth2/authorize?" + urllib.parse.urlencode({k: v for k, v in p.items()
                                                          if v is not None})


def test_unknown_client_gets_a_page_not_a_redirect(stack, admin):
    client = new_client(admin)
    r = Browser(stack).get(authorize_params(dict(client, client_id="no-such-client")))
    assert r.status_code == 400 and "Location" not in r.headers
    assert "invalid_request" in r.text and "client_id" in r.text
    r = requests.post(stack.url("/oauth2/token"), timeout=HTTP_TIMEOUT,
                      auth=("no-such-client", "x"), data={"grant_type": "authorization_code",
                                                          "code": "x"})
    assert r.status_code == 401 and r.json()["error"] == "invalid_client"
    assert r.headers["WWW-Authenticate"].startswith("Basic")
    assert r.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize("uri", [REDIRECT + "/", REDIRECT + "?x=1", "http://127.0.0.1:9/other",
                                 REDIRECT.upper()])
def test_redirect_uri_must_match_exactly(stack, admin, uri):
    client = new_client(admin)
    r = Browser(stack).get(authorize_params(client, redirect_uri=uri))
    assert r.status_code == 400 and "Location" not in r.headers
    assert "redirect_uri" in r.text


def test_pkce_is_required_for_public_clients(stack, admin):
    client = new_client(admin, "public")
    r = Browser(stack).get(authorize_params(client))
    assert r.status_code == 302
    q = query_of(r.headers["Location"])
    assert r.headers["Location"].startswith(REDIRECT + "?")
    assert q["error"] == "invalid_request" and q["state"] == "s1"
    r = Browser(stack).get(authorize_params(client, code_challenge="a" * 43,
                                            code_challenge_method="plain"))
    assert query_of(r.headers["Location"])["error"] == "invalid_request"


def test_other_request_refusals_go_back_to_the_client(stack, admin):
    client = new_client(admin, scopes=["openid", "email"])
    for over, error in (({"response_type": "token"}, "unsupported_response_type"),
                        ({"scope": "profile"}, "invalid_scope"),
                        ({"scope": "openid roles"}, "invalid_scope"),
                        ({"prompt": "none login"}, "invalid_request"),
                        ({"prompt": "sometimes"}, "invalid_request"),
                        ({"max_age": "soon"}, "invalid_request"),
                        ({"max_age": "-1"}, "invalid_request")):
        r = Browser(stack).get(authorize_params(client, **over))
        assert r.status_code == 302, (over, r.text[:200])
        assert query_of(r.headers["Location"])["error"] == error, over


def test_prompt_none_without_a_session_is_login_required(stack, admin):
    client = new_client(admin)
    r = Browser(stack).get(authorize_params(client, prompt="none"))
    assert r.status_code == 302
    q = query_of(r.headers["Location"])
    assert q["error"] == "login_required" and q["state"] == "s1"


def test_prompt_none_without_consent_is_consent_required(stack, admin):
    client = new_client(admin)
    _, b = logged_in(stack)
    r = b.get(authorize_params(client, prompt="none"))
    assert query_of(r.headers["Location"])["error"] == "consent_required"


def test_prompt_login_asks_for_the_password_again(stack, admin):
    client = new_client(admin, skip_consent=True)
    account, b = logged_in(stack)
    r = b.get(authorize_params(client, prompt="login"))
    assert r.status_code == 303 and r.headers["Location"].startswith("/login?")
    nxt = query_of(r.headers["Location"])["next"]
    assert "prompt" not in query_of(nxt) and "um_after" in query_of(nxt)
    time.sleep(1.1)  # a new session must be newer than um_after, which has second precision
    r = login(stack, account, b, next_=nxt)
    r = b.get(nxt)
    assert r.status_code == 302 and "code" in query_of(r.headers["Location"])


# --- refusals of the code exchange --------------------------------------------------------------

def code_for(stack, admin, client, account=None, verifier=None, browser=None, scope=ALL_SCOPES):
    account = account or register(stack, verified=True)
    extra = {}
    if verifier:
        extra = {"code_challenge": base64.urlsafe_b64encode(
            hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode(),
            "code_challenge_method": "S256"}
    back = sign_in(stack, browser or Browser(stack), account,
                   stack.base_url + authorize_params(client, scope=scope, **extra))
    return query_of(back)["code"], account


def exchange(stack, client, code, **extra):
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT}
    data.update(extra)
    auth = (client["client_id"], client["client_secret"]) if "client_secret" in client else None
    if auth is None:
        data["client_id"] = client["client_id"]
    return requests.post(stack.url("/oauth2/token"), data=data, auth=auth, timeout=HTTP_TIMEOUT)


def test_token_response_is_not_cached(stack, admin):
    client = new_client(admin)
    code, _ = code_for(stack, admin, client)
    r = exchange(stack, client, code)
    assert r.status_code == 200
    assert r.headers["Cache-Control"] == "no-store" and r.headers["Pragma"] == "no-cache"


def test_pkce_wrong_or_missing_verifier(stack, admin):
    client = new_client(admin, "public")
    verifier = secrets.token_urlsafe(48)
    code, _ = code_for(stack, admin, client, verifier=verifier)
    r = exchange(stack, client, code, code_verifier=secrets.token_urlsafe(48))
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant"
    assert "code_verifier" in r.json()["error_description"]
    # a failed exchange spends the code
    r = exchange(stack, client, code, code_verifier=verifier)
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant"
    code, _ = code_for(stack, admin, client, verifier=verifier)
    r = exchange(stack, client, code)
    assert r.status_code == 400 and r.json()["error"] == "invalid_request"


def test_code_reuse_revokes_the_tokens_of_the_first_exchange(stack, admin):
    client = new_client(admin)
    code, account = code_for(stack, admin, client)
    first = exchange(stack, client, code)
    assert first.status_code == 200
    second = exchange(stack, client, code)
    assert second.status_code == 400 and second.json()["error"] == "invalid_grant"
    assert "already used" in second.json()["error_description"]
    r = requests.get(stack.url("/oauth2/userinfo"), timeout=HTTP_TIMEOUT,
                     headers={"Authorization": "Bearer " + first.json()["access_token"]})
    assert r.status_code == 401
    r = requests.post(stack.url("/oauth2/token"), timeout=HTTP_TIMEOUT,
                      auth=(client["client_id"], client["client_secret"]),
                      data={"grant_type": "refresh_token",
                            "refresh_token": first.json()["refresh_token"]})
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant"
    assert "oauth_code_reused" in audit_events(stack, account.id)


def test_expired_code(stack, admin):
    client = new_client(admin)
    code, _ = code_for(stack, admin, client)
    digest = hashlib.sha256(code.encode()).hexdigest()
    sql(stack, "UPDATE oauth_codes SET expires_at = UTC_TIMESTAMP(6) - INTERVAL 1 SECOND"
               " WHERE code_hash = UNHEX('%s')" % digest)
    r = exchange(stack, client, code)
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant"
    assert "expired" in r.json()["error_description"]


def test_code_of_another_client(stack, admin):
    client, other = new_client(admin), new_client(admin)
    code, _ = code_for(stack, admin, client)
    r = exchange(stack, other, code)
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant"
    assert "another client" in r.json()["error_description"]
    # its own client can still use it
    assert exchange(stack, client, code).status_code == 200


def test_wrong_secret_and_wrong_redirect_uri(stack, admin):
    client = new_client(admin)
    code, _ = code_for(stack, admin, client)
    r = exchange(stack, dict(client, client_secret="x" * 43), code)
    assert r.status_code == 401 and r.json()["error"] == "invalid_client"
    r = exchange(stack, client, code, redirect_uri=REDIRECT + "/")
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant"
    r = requests.post(stack.url("/oauth2/token"), timeout=HTTP_TIMEOUT,
                      auth=(client["client_id"], client["client_secret"]),
                      data={"grant_type": "password"})
    assert r.status_code == 400 and r.json()["error"] == "unsupported_grant_type"


# --- RP-initiated logout ------------------------------------------------------------------------

def b64(d):
    return base64.urlsafe_b64encode(d).rstrip(b"=").decode()


def test_rp_initiated_logout(stack, admin):
    client, account, _, token, _, b, _ = full_flow(stack, admin)
    assert b.get("/profile").status_code == 200
    q = urllib.parse.urlencode({"id_token_hint": token["id_token"],
                                "post_logout_redirect_uri": LOGOUT_TO, "state": "bye"})
    r = b.get("/oauth2/logout?" + q)
    assert r.status_code == 302 and r.headers["Location"] == LOGOUT_TO + "?state=bye"
    assert b.get("/profile").status_code == 303
    assert "oauth_logout" in audit_events(stack, account.id)


def test_logout_refuses_tampered_and_foreign_hints(stack, admin):
    client, account, _, token, _, b, _ = full_flow(stack, admin)
    h, p, s = token["id_token"].split(".")
    claims = json.loads(base64.urlsafe_b64decode(p + "=" * (-len(p) % 4)))
    claims["sub"] = "1"
    tampered = ".".join([h, b64(json.dumps(claims).encode()), s])
    hs = json.dumps({"alg": "HS256", "typ": "JWT",
                     "kid": json.loads(base64.urlsafe_b64decode(h + "=" * (-len(h) % 4)))["kid"]})
    hs256 = ".".join([b64(hs.encode()), p, s])
    none = ".".join([b64(b'{"alg":"none"}'), p, ""])
    for hint in (tampered, hs256, none):
        r = b.get("/oauth2/logout?" + urllib.parse.urlencode({"id_token_hint": hint,
                                                               "post_logout_redirect_uri":
                                                               LOGOUT_TO}))
        assert r.status_code == 400 and "Location" not in r.headers, hint
        assert "id_token_hint" in r.text
    r = b.get("/oauth2/logout?" + urllib.parse.urlencode({
        "id_token_hint": token["id_token"], "post_logout_redirect_uri": "http://evil.test/"}))
    assert r.status_code == 400 and "Location" not in r.headers
    assert b.get("/profile").status_code == 200, "a refused logout ended the session"


# --- the user's granted sites and the clients' administration ----------------------------------

def test_account_apps_lists_and_revokes(stack, admin):
    client, account, oauth, token, _, b, _ = full_flow(stack, admin)
    r = b.get("/account/apps")
    assert r.status_code == 200 and client["name"] in r.text
    r = b.post("/account/apps/revoke", {"csrf_token": b.csrf, "client_id": client["client_id"]})
    assert r.status_code == 303 and r.headers["Location"] == "/account/apps?done=1"
    assert client["name"] not in b.get("/account/apps").text
    r = requests.post(stack.url("/oauth2/token"), timeout=HTTP_TIMEOUT,
                      auth=(client["client_id"], client["client_secret"]),
                      data={"grant_type": "refresh_token", "refresh_token": token["refresh_token"]})
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant"
    r = oauth.get(stack.url("/oauth2/userinfo"))
    assert r.status_code == 401
    assert "oauth_consent_revoked" in audit_events(stack, account.id)
    r = b.post("/account/apps/revoke", {"csrf_token": "forged", "client_id": client["client_id"]})
    assert r.status_code == 403
    r = b.post("/account/apps/revoke", {"csrf_token": b.csrf, "client_id": client["client_id"]})
    assert r.status_code == 404


def test_admin_api_clients(stack, admin):
    c = new_client(admin)
    assert set(c) >= {"client_id", "client_secret", "name", "redirect_uris",
                      "post_logout_redirect_uris", "type", "scopes", "skip_consent"}
    r = admin.send("GET", "/api/v1/admin/clients/" + c["client_id"])
    assert r.status_code == 200 and "client_secret" not in r.json()
    assert r.json()["redirect_uris"] == [REDIRECT]
    r = admin.send("GET", "/api/v1/admin/clients")
    assert c["client_id"] in [x["client_id"] for x in r.json()["clients"]]
    r = admin.send("PATCH", "/api/v1/admin/clients/" + c["client_id"],
                   {"name": "Renamed", "skip_consent": True})
    assert r.status_code == 200 and r.json()["name"] == "Renamed" and r.json()["skip_consent"]
    r = admin.send("POST", "/api/v1/admin/clients/" + c["client_id"] + "/secret", {})
    assert r.status_code == 200 and r.json()["client_secret"] != c["client_secret"]
    code, _ = code_for(stack, admin, c)
    assert exchange(stack, c, code).status_code == 401  # the old secret died
    assert exchange(stack, r.json(), code).status_code == 200
    pub = new_client(admin, "public")
    r = admin.send("POST", "/api/v1/admin/clients/" + pub["client_id"] + "/secret", {})
    assert r.status_code == 400 and r.json()["code"] == "validation_failed"
    r = admin.send("DELETE", "/api/v1/admin/clients/" + c["client_id"])
    assert r.status_code == 204
    assert admin.send("GET", "/api/v1/admin/clients/" + c["client_id"]).status_code == 404
    assert admin.send("DELETE", "/api/v1/admin/clients/" + c["client_id"]).status_code == 404


@pytest.mark.parametrize("body,field", [
    ({"redirect_uris": [REDIRECT], "type": "public"}, "name"),
    ({"name": "x", "redirect_uris": [], "type": "public"}, "redirect_uris"),
    ({"name": "x", "redirect_uris": ["/relative"], "type": "public"}, "redirect_uris"),
    ({"name": "x", "redirect_uris": [REDIRECT + "#frag"], "type": "public"}, "redirect_uris"),
    ({"name": "x", "redirect_uris": [REDIRECT], "type": "secret"}, "type"),
    ({"name": "x", "redirect_uris": [REDIRECT], "type": "public", "scopes": ["email"]}, "scopes"),
    ({"name": "x", "redirect_uris": [REDIRECT], "type": "public", "scopes": ["openid", "admin"]},
     "scopes"),
    ({"name": "x", "redirect_uris": [REDIRECT], "type": "public", "skip_consent": "yes"},
     "skip_consent"),
    ({"name": "x", "redirect_uris": [REDIRECT], "type": "public", "color": "red"}, "color"),
])
def test_admin_api_refuses_bad_clients(stack, admin, body, field):
    r = admin.send("POST", "/api/v1/admin/clients", body)
    assert r.status_code == 400 and r.json()["code"] == "validation_failed"
    assert field in [e["field"] for e in r.json()["errors"]], r.json()


def test_admin_api_clients_needs_admin(stack):
    account = register(stack, verified=True)
    c = Client(stack)
    r = c.post("/api/v1/auth/login", {"login": account.username, "password": account.password})
    r = c.get("/api/v1/admin/clients", token=r.json()["access_token"])
    assert r.status_code == 403 and r.json()["code"] == "forbidden"
    assert Client(stack).get("/api/v1/admin/clients").status_code == 401


# --- usermgr-admin client ... and rotate-signing-key --------------------------------------------

def cli(stack, *args):
    from test_cli import ADMIN, cli_env
    env = cli_env(stack, USERMGR_SIGNING_KEY_DIR=os.path.join(stack.state_dir, "oidc-keys"))
    out = subprocess.run([ADMIN] + list(args), env=env, capture_output=True, timeout=120,
                         check=False)
    return out.returncode, out.stdout.decode(), out.stderr.decode()


def test_cli_client_commands(stack):
    rc, out, err = cli(stack, "client", "add", "--name", "CLI site", "--redirect-uri", REDIRECT,
                       "--post-logout-uri", LOGOUT_TO, "--scope", "openid", "--scope", "email")
    assert rc == 0, err
    c = json.loads(out)
    assert c["type"] == "confidential" and c["scopes"] == ["openid", "email"]
    assert len(c["client_secret"]) == 43
    rc, out, _ = cli(stack, "client", "show", c["client_id"])
    assert rc == 0 and "client_secret" not in json.loads(out)
    rc, out, _ = cli(stack, "client", "list")
    assert c["client_id"] in [x["client_id"] for x in json.loads(out)["clients"]]
    rc, out, _ = cli(stack, "client", "rotate-secret", c["client_id"])
    assert rc == 0 and json.loads(out)["client_secret"] != c["client_secret"]
    rc, _, err = cli(stack, "client", "add", "--name", "x", "--redirect-uri", "/relative")
    assert rc == 1 and "redirect_uris" in err
    rc, _, err = cli(stack, "client", "add", "--public", "--name", "P", "--redirect-uri", REDIRECT)
    assert rc == 0
    rc, _, err = cli(stack, "client", "remove", c["client_id"])
    assert rc == 0
    rc, _, err = cli(stack, "client", "show", c["client_id"])
    assert rc == 1 and "not_found" in err
    assert cli(stack, "client", "frobnicate", "x")[0] == 2
    rows = sql(stack, "SELECT event FROM audit_events WHERE JSON_VALUE(details, '$.client_id') = "
                      "'%s' ORDER BY id" % c["client_id"])
    assert [r[0] for r in rows] == ["oauth_client_created", "oauth_client_secret_rotated",
                                    "oauth_client_deleted"]


def test_rotate_signing_key_keeps_the_old_key_published(stack, admin):
    client, account, _, token, nonce, b, _ = full_flow(stack, admin)
    old_kid = json.loads(base64.urlsafe_b64decode(token["id_token"].split(".")[0] + "=="))["kid"]
    rc, out, err = cli(stack, "rotate-signing-key")
    assert rc == 0, err
    new_kid = out.strip()
    assert new_kid != old_kid
    assert os.stat(os.path.join(stack.state_dir, "oidc-keys", new_kid + ".pem")).st_mode & 0o777 \
        == 0o600
    kids = [k["kid"] for k in requests.get(stack.url("/.well-known/jwks.json"),
                                           timeout=HTTP_TIMEOUT).json()["keys"]]
    assert kids[0] == new_kid and old_kid in kids
    # the old ID token still verifies against the JWKS, and a new one names the new key
    assert id_claims(stack, token["id_token"], client["client_id"], nonce)["sub"] == str(account.id)
    fresh = requests.post(stack.url("/oauth2/token"), timeout=HTTP_TIMEOUT,
                          auth=(client["client_id"], client["client_secret"]),
                          data={"grant_type": "refresh_token",
                                "refresh_token": token["refresh_token"]}).json()
    head = fresh["id_token"].split(".")[0]
    assert json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))["kid"] == new_kid
    id_claims(stack, fresh["id_token"], client["client_id"])
    # once the old key's last token has expired, the next rotation drops it
    sql(stack, "UPDATE oauth_signing_keys SET expires_at = UTC_TIMESTAMP(6) - INTERVAL 1 SECOND"
               " WHERE kid = '%s'" % old_kid)
    rc, out, _ = cli(stack, "rotate-signing-key")
    kids = [k["kid"] for k in requests.get(stack.url("/.well-known/jwks.json"),
                                           timeout=HTTP_TIMEOUT).json()["keys"]]
    assert old_kid not in kids and new_kid in kids and out.strip() in kids
    assert not os.path.exists(os.path.join(stack.state_dir, "oidc-keys", old_kid + ".pem"))


# --- the admin pages ------------------------------------------------------------------------------

CLIENT_ID = re.compile(r'id="client-id"[^>]*>([^<]+)<')
CLIENT_SECRET = re.compile(r'id="client-secret"[^>]*>([^<]+)<')


@pytest.fixture(scope="module")
def admin_browser(stack):
    b = Browser(stack)
    r = b.form("/login", {"login": ADMIN_USERNAME, "password": ADMIN_PASSWORD})
    assert r.status_code == 303, r.text[:300]
    return b


def test_admin_pages_register_change_rotate_and_remove(stack, admin, admin_browser):
    b = admin_browser
    r = b.get("/admin/clients")
    assert r.status_code == 200 and "Register client" in r.text
    fields = [("csrf_token", b.csrf), ("name", "Page site"), ("redirect_uris", REDIRECT + "\r\n"),
              ("post_logout_redirect_uris", ""), ("type", "confidential"), ("scopes", "openid"),
              ("scopes", "email"), ("skip_consent", "1")]
    r = b.post("/admin/clients", fields)
    assert r.status_code == 201, r.text[:500]
    cid, secret = CLIENT_ID.search(r.text).group(1), CLIENT_SECRET.search(r.text).group(1)
    c = admin.send("GET", "/api/v1/admin/clients/" + cid).json()
    assert c["name"] == "Page site" and c["scopes"] == ["openid", "email"] and c["skip_consent"]
    assert c["redirect_uris"] == [REDIRECT]
    code, _ = code_for(stack, admin, dict(c, client_secret=secret), scope="openid email")
    assert exchange(stack, dict(c, client_secret=secret), code).status_code == 200
    # change: a bad URI is refused with the form again
    r = b.get("/admin/clients/" + cid)
    assert r.status_code == 200 and "Page site" in r.text
    r = b.post("/admin/clients/" + cid, [("csrf_token", b.csrf), ("action", "save"),
                                         ("name", "Page site 2"), ("redirect_uris", "nope"),
                                         ("scopes", "openid")])
    assert r.status_code == 400 and "redirect_uris" in r.text
    r = b.post("/admin/clients/" + cid, [("csrf_token", b.csrf), ("action", "save"),
                                         ("name", "Page site 2"), ("redirect_uris", REDIRECT),
                                         ("scopes", "openid")])
    assert r.status_code == 303
    c = admin.send("GET", "/api/v1/admin/clients/" + cid).json()
    assert c["name"] == "Page site 2" and c["scopes"] == ["openid"] and not c["skip_consent"]
    # a new secret, shown once; the old one dies
    r = b.post("/admin/clients/" + cid, {"csrf_token": b.csrf, "action": "secret"})
    assert r.status_code == 200
    new_secret = CLIENT_SECRET.search(r.text).group(1)
    assert new_secret != secret
    r = requests.post(stack.url("/oauth2/introspect"), auth=(cid, secret), data={"token": "x"},
                      timeout=HTTP_TIMEOUT)
    assert r.status_code == 401
    r = requests.post(stack.url("/oauth2/introspect"), auth=(cid, new_secret),
                      data={"token": "x"}, timeout=HTTP_TIMEOUT)
    assert r.status_code == 200 and r.json() == {"active": False}
    r = b.post("/admin/clients/" + cid, {"csrf_token": "forged", "action": "remove"})
    assert r.status_code == 403
    r = b.post("/admin/clients/" + cid, {"csrf_token": b.csrf, "action": "remove"})
    assert r.status_code == 303 and r.headers["Location"] == "/admin/clients?done=removed"
    assert b.get("/admin/clients/" + cid).status_code == 404


def test_admin_pages_refuse_bad_forms_and_non_admins(stack, admin_browser):
    b = admin_browser
    b.get("/admin/clients")
    r = b.post("/admin/clients", [("csrf_token", b.csrf), ("name", ""), ("redirect_uris", ""),
                                  ("type", "confidential"), ("scopes", "email")])
    assert r.status_code == 400
    for field in ("name", "redirect_uris", "scopes"):
        assert 'href="#f-%s"' % field in r.text, field
    _, user = logged_in(stack)
    assert user.get("/admin/clients").status_code == 403


# --- two-step verification and login_hint ---------------------------------------------------------

def test_a_two_step_sign_in_says_so_in_amr_and_acr(stack, admin):
    from test_mfa import enable
    account, _, totp, _ = enable(stack)
    client = new_client(admin)
    oauth = session_for(client, "openid email")
    url, _ = oauth.create_authorization_url(stack.url("/oauth2/authorize"), nonce="n2",
                                            login_hint=account.username)
    b = Browser(stack)
    r = b.get(local(stack, url))
    assert r.status_code == 303
    q = query_of(r.headers["Location"])
    assert q["login"] == account.username
    page = b.get(r.headers["Location"])
    assert 'value="%s"' % account.username in page.text, "login_hint fills the login field in"
    assert "form-action 'self' http://127.0.0.1:9;" in page.headers["Content-Security-Policy"]
    nxt = q["next"]
    r = login(stack, account, b, next_=nxt)
    assert r.status_code == 303 and r.headers["Location"].startswith("/login/mfa?")
    page = b.get(r.headers["Location"])
    assert "form-action 'self' http://127.0.0.1:9;" in page.headers["Content-Security-Policy"]
    r = b.post("/login/mfa", {"csrf_token": b.csrf, "code": totp.code(), "next": nxt})
    assert r.status_code == 303 and r.headers["Location"] == nxt
    back = sign_in(stack, b, account, stack.base_url + nxt)
    token = oauth.fetch_token(stack.url("/oauth2/token"), authorization_response=back)
    claims = id_claims(stack, token["id_token"], client["client_id"], "n2")
    assert claims["amr"] == ["pwd", "otp", "mfa"] and claims["acr"] == "2"


def test_max_age_past_sends_to_login_and_duplicates_are_refused(stack, admin):
    client = new_client(admin, skip_consent=True)
    account, b = logged_in(stack)
    sql(stack, "UPDATE sessions SET created_at = UTC_TIMESTAMP(6) - INTERVAL 2 HOUR"
               " WHERE user_id = %d" % account.id)
    r = b.get(authorize_params(client, max_age="3600"))
    assert r.status_code == 303 and r.headers["Location"].startswith("/login?")
    r = b.get(authorize_params(client, max_age="3600", prompt="none"))
    assert query_of(r.headers["Location"])["error"] == "login_required"
    r = b.get(authorize_params(client, max_age="86400"))
    assert r.status_code == 302 and "code" in query_of(r.headers["Location"])
    r = b.get(authorize_params(client) + "&state=again")
    assert r.status_code == 302
    assert query_of(r.headers["Location"])["error"] == "invalid_request"


# --- docs/OIDC.md against the live stack ----------------------------------------------------------

def oidc_md():
    from stack import REPO
    with open(os.path.join(REPO, "docs", "OIDC.md")) as f:
        return f.read()


def test_the_endpoints_docs_oidc_md_names_are_those_discovery_announces(stack, discovery):
    text = oidc_md()
    named = set(re.findall(r"`(?:GET|POST|GET`/`POST) (/(?:oauth2|\.well-known)/[a-z0-9_./-]+)`",
                           text))
    announced = {v[len(stack.base_url):] for k, v in discovery.items()
                 if isinstance(v, str) and v.startswith(stack.base_url + "/")}
    assert named, "no endpoint found in docs/OIDC.md"
    assert named == announced | {"/.well-known/openid-configuration"}, (named, announced)
    for scope in discovery["scopes_supported"]:
        assert "`%s`" % scope in text, scope


def test_the_registration_example_of_docs_oidc_md_is_accepted(stack, admin):
    m = re.search(r"-d '(\{.*?\})'", oidc_md(), flags=re.S)
    assert m, "no curl -d '{...}' example in docs/OIDC.md"
    r = admin.send("POST", "/api/v1/admin/clients", json.loads(m.group(1)))
    assert r.status_code == 201, r.text
    assert r.json()["client_secret"] and r.json()["name"] == "Wiki"
    m = re.search(r"usermgr-admin client add --name \"Wiki\" \\\n((?:.*\\\n)*.*)\n", oidc_md())
    assert m, "no usermgr-admin client add example"
    args = ["client", "add", "--name", "Wiki"] + m.group(1).replace("\\\n", " ").split()
    rc, out, err = cli(stack, *args)
    assert rc == 0, err
    assert json.loads(out)["scopes"] == ["openid", "profile", "email", "roles"]


# --- whose tokens are whose ---------------------------------------------------------------------

def test_a_client_cannot_use_or_see_tokens_it_was_not_given(stack, admin):
    client, account, _, token, _, _, _ = full_flow(stack, admin)
    other = new_client(admin)
    # another client's refresh token, and an API login's
    r = requests.post(stack.url("/oauth2/token"), timeout=HTTP_TIMEOUT,
                      auth=(other["client_id"], other["client_secret"]),
                      data={"grant_type": "refresh_token", "refresh_token": token["refresh_token"]})
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant"
    api = Client(stack).post("/api/v1/auth/login", {"login": account.username,
                                                    "password": account.password}).json()
    r = requests.post(stack.url("/oauth2/token"), timeout=HTTP_TIMEOUT,
                      auth=(client["client_id"], client["client_secret"]),
                      data={"grant_type": "refresh_token", "refresh_token": api["refresh_token"]})
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant"
    # introspection and revocation by another client see nothing and change nothing
    for t in (token["access_token"], token["refresh_token"]):
        r = requests.post(stack.url("/oauth2/introspect"), timeout=HTTP_TIMEOUT,
                          auth=(other["client_id"], other["client_secret"]), data={"token": t})
        assert r.json() == {"active": False}
        r = requests.post(stack.url("/oauth2/revoke"), timeout=HTTP_TIMEOUT,
                          auth=(other["client_id"], other["client_secret"]), data={"token": t})
        assert r.status_code == 200
    r = requests.get(stack.url("/oauth2/userinfo"), timeout=HTTP_TIMEOUT,
                     headers={"Authorization": "Bearer " + token["access_token"]})
    assert r.status_code == 200
    # the API's own token is no access token for userinfo
    r = requests.get(stack.url("/oauth2/userinfo"), timeout=HTTP_TIMEOUT,
                     headers={"Authorization": "Bearer " + api["access_token"]})
    assert r.status_code == 401 and r.json()["error"] == "invalid_token"
    r = requests.get(stack.url("/oauth2/userinfo"), timeout=HTTP_TIMEOUT)
    assert r.status_code == 401 and r.headers["WWW-Authenticate"] == 'Bearer realm="usermgr"'


def test_removing_a_client_revokes_its_tokens(stack, admin):
    client, account, _, token, _, _, _ = full_flow(stack, admin)
    assert admin.send("DELETE", "/api/v1/admin/clients/" + client["client_id"]).status_code == 204
    r = requests.get(stack.url("/oauth2/userinfo"), timeout=HTTP_TIMEOUT,
                     headers={"Authorization": "Bearer " + token["access_token"]})
    assert r.status_code == 401
    assert sql_one(stack, "SELECT COUNT(*) FROM refresh_families WHERE client_id = '%s'"
                          " AND revoked_at IS NULL" % client["client_id"]) == "0"
    assert sql_one(stack, "SELECT COUNT(*) FROM oauth_consents WHERE client_id = '%s'"
                          % client["client_id"]) == "0"


def test_disabling_the_user_ends_the_clients_tokens(stack, admin):
    client, account, _, token, _, _, _ = full_flow(stack, admin)
    r = admin.send("PATCH", "/api/v1/admin/users/%d" % account.id, {"status": "disabled"})
    assert r.status_code == 200, r.text
    r = requests.get(stack.url("/oauth2/userinfo"), timeout=HTTP_TIMEOUT,
                     headers={"Authorization": "Bearer " + token["access_token"]})
    assert r.status_code == 401
    r = requests.post(stack.url("/oauth2/token"), timeout=HTTP_TIMEOUT,
                      auth=(client["client_id"], client["client_secret"]),
                      data={"grant_type": "refresh_token", "refresh_token": token["refresh_token"]})
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant"
