"""test_passkeys.py: passkeys (issue 13) on the real stack — a software authenticator
(webauthn_lib.py: real keys, real CBOR) registers and signs in through the JSON API and the HTML
routes, and every refusal answers its documented status and code.
"""
import html
import json
import re

import api_lib
from accounts_lib import audit_events, csrf_of, logged_in, sql
from stack import assert_problem
import webauthn_lib as w

OPTIONS_ATTR = re.compile(r'id="passkey-add"[^>]*data-options="([^"]*)"')


def origin(stack):
    return stack.base_url.rstrip("/")


def bearer(stack):
    """A verified account signed in over the API, with an authenticator for the stack."""
    account, pair = api_lib.verified_login(stack)
    return account, pair["access_token"], w.Authenticator(origin(stack))


def reg_options(account, token, body=None):
    r = account.client.post("/api/v1/me/passkeys/options", body, token=token) if body is not None \
        else account.client.request("POST", "/api/v1/me/passkeys/options", token=token)
    assert r.status_code == 200, r.text
    return r.json()


def add(account, token, auth, name="laptop", **kw):
    o = reg_options(account, token)
    cred = auth.create(o["publicKey"], **kw)
    return account.client.post("/api/v1/me/passkeys", {"challenge_id": o["challenge_id"],
                                                       "name": name, "credential": cred},
                               token=token)


def login_options(client, body=None):
    r = client.post("/api/v1/auth/passkey/options", body) if body is not None \
        else client.request("POST", "/api/v1/auth/passkey/options")
    assert r.status_code == 200, r.text
    return r.json()


def sign_in(client, auth, options=None, **kw):
    o = options or login_options(client)
    return client.post("/api/v1/auth/passkey", {"challenge_id": o["challenge_id"],
                                               "credential": auth.get(o["publicKey"], **kw)})


def test_a_passkey_registered_over_the_api_signs_in_without_a_username(stack):
    account, token, auth = bearer(stack)
    o = reg_options(account, token)
    pk = o["publicKey"]
    assert pk["rp"]["id"] == "localhost" and pk["challenge"] and pk["user"]["name"] == account.username
    assert pk["authenticatorSelection"]["userVerification"] == "required"
    assert {p["alg"] for p in pk["pubKeyCredParams"]} == {-7, -8, -257}
    r = account.client.post("/api/v1/me/passkeys", {"challenge_id": o["challenge_id"],
                                                     "name": "laptop",
                                                     "credential": auth.create(pk)}, token=token)
    assert r.status_code == 201, r.text
    assert r.json()["name"] == "laptop" and r.json()["last_used_at"] is None
    assert "passkey_added" in audit_events(stack, int(account.id))
    # The owner is told, with the passkey's name and where to remove it.
    subject, text = api_lib.newest_mail(stack, account.email, "passkey was added")
    assert subject == "A passkey was added to your usermgr account"
    assert '"laptop"' in text and stack.base_url + "/account/passkeys" in text
    # A fresh client, no username, no cookie: the discoverable sign-in.
    client = api_lib.Client(stack)
    o = login_options(client)
    assert o["publicKey"]["allowCredentials"] == [] and o["publicKey"]["rpId"] == "localhost"
    r = sign_in(client, auth, o)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["token_type"] == "Bearer" and body["refresh_token"]
    assert body["user"]["username"] == account.username
    me = client.get("/api/v1/me", token=body["access_token"])
    assert me.status_code == 200 and me.json()["id"] == account.id
    listed = account.client.get("/api/v1/me/passkeys", token=token).json()["passkeys"]
    assert len(listed) == 1 and listed[0]["last_used_at"] is not None


def test_every_algorithm_and_packed_self_attestation_register_and_sign_in(stack):
    for alg in (w.ES256, w.EDDSA, w.RS256):
        account, token, _ = bearer(stack)
        auth = w.Authenticator(origin(stack), alg=alg)
        r = add(account, token, auth, fmt="packed")
        assert r.status_code == 201, (alg, r.text)
        r = sign_in(api_lib.Client(stack), auth)
        assert r.status_code == 200, (alg, r.text)


def test_options_naming_a_login_list_only_that_accounts_passkeys(stack):
    account, token, auth = bearer(stack)
    assert add(account, token, auth).status_code == 201
    client = api_lib.Client(stack)
    o = login_options(client, {"login": account.username})
    assert [c["id"] for c in o["publicKey"]["allowCredentials"]] == [w.b64u(auth.credentials[0].id)]
    assert sign_in(client, auth, o).status_code == 200
    # An unknown login looks like a discoverable request.
    o = login_options(client, {"login": "nobody-" + account.username})
    assert o["publicKey"]["allowCredentials"] == []
    # Another account's passkey does not answer a challenge bound to this login.
    other, otoken, oauth = bearer(stack)
    assert add(other, otoken, oauth).status_code == 201
    o = login_options(client, {"login": account.username})
    assert_problem(sign_in(client, oauth, o, cred=oauth.credentials[0]), 400, "invalid_challenge")


def test_a_challenge_is_single_use_expires_and_is_bound_to_its_ceremony(stack):
    account, token, auth = bearer(stack)
    assert add(account, token, auth).status_code == 201
    client = api_lib.Client(stack)
    o = login_options(client)
    cred = auth.get(o["publicKey"])
    assert client.post("/api/v1/auth/passkey", {"challenge_id": o["challenge_id"],
                                                "credential": cred}).status_code == 200
    # Replayed: the same challenge and response again.
    assert_problem(client.post("/api/v1/auth/passkey", {"challenge_id": o["challenge_id"],
                                                        "credential": cred}),
                   400, "invalid_challenge")
    # Expired: five minutes passed (moved in the database, the clock is not waited for).
    o = login_options(client)
    sql(stack, "UPDATE webauthn_challenges SET expires_at = UTC_TIMESTAMP(6) - INTERVAL 1 SECOND")
    assert_problem(sign_in(client, auth, o), 400, "invalid_challenge")
    # A registration challenge does not sign in, and a sign-in one does not register.
    ro = reg_options(account, token)
    assert_problem(client.post("/api/v1/auth/passkey", {
        "challenge_id": ro["challenge_id"],
        "credential": auth.get({"challenge": ro["publicKey"]["challenge"], "rpId": "localhost"})}),
        400, "invalid_challenge")
    lo = login_options(client)
    assert_problem(account.client.post("/api/v1/me/passkeys", {
        "challenge_id": lo["challenge_id"], "name": "x",
        "credential": auth.create(dict(ro["publicKey"], challenge=lo["publicKey"]["challenge"]))},
        token=token), 400, "invalid_challenge")
    # Another user's registration challenge.
    other, otoken, _ = bearer(stack)
    oo = reg_options(other, otoken)
    assert_problem(account.client.post("/api/v1/me/passkeys", {
        "challenge_id": oo["challenge_id"], "name": "x",
        "credential": auth.create(oo["publicKey"])}, token=token), 400, "invalid_challenge")
    assert_problem(client.post("/api/v1/auth/passkey", {"challenge_id": "made-up",
                                                        "credential": cred}),
                   400, "invalid_challenge")


def test_refused_registrations_answer_invalid_passkey(stack):
    account, token, auth = bearer(stack)
    cases = [
        dict(origin="http://127.0.0.1:%d" % stack.port),
        dict(rp_id="127.0.0.1"),
        dict(flags=w.UV),  # user presence missing
        dict(flags=w.UP),  # user verification missing
        dict(cred=_es384()),  # unsupported algorithm
    ]
    for kw in cases:
        r = add(account, token, auth, **kw)
        assert_problem(r, 400, "invalid_passkey")
    o = reg_options(account, token)
    cred = auth.create(o["publicKey"])
    ao = w.unb64u(cred["response"]["attestationObject"])
    cred["response"]["attestationObject"] = w.b64u(ao[:-9])  # truncated CBOR
    r = account.client.post("/api/v1/me/passkeys", {"challenge_id": o["challenge_id"],
                                                     "name": "x", "credential": cred}, token=token)
    assert_problem(r, 400, "invalid_passkey")
    assert r.json()["errors"][0]["message"] == "malformed"
    assert account.client.get("/api/v1/me/passkeys", token=token).json()["passkeys"] == []


def _es384():
    import cbor2
    c = w.Credential(w.ES256)
    c.cose = cbor2.dumps({1: 2, 3: -35, -1: 2, -2: b"\1" * 48, -3: b"\2" * 48})
    return c


def test_refused_sign_ins_answer_their_codes(stack):
    account, token, auth = bearer(stack)
    assert add(account, token, auth).status_code == 201
    client = api_lib.Client(stack)
    assert_problem(sign_in(client, auth, origin="https://evil.example"), 400, "invalid_passkey")
    assert_problem(sign_in(client, auth, rp_id="evil.example"), 400, "invalid_passkey")
    assert_problem(sign_in(client, auth, flags=w.UV), 400, "invalid_passkey")
    assert_problem(sign_in(client, auth, flags=w.UP), 400, "invalid_passkey")
    assert_problem(sign_in(client, auth, tamper=True), 401, "invalid_credentials")
    stranger = w.Authenticator(origin(stack))
    stranger.create({"rp": {"id": "localhost"}, "user": {"id": w.b64u(b"x" * 32)},
                     "challenge": w.b64u(b"c" * 32)})
    assert_problem(sign_in(client, stranger), 401, "invalid_credentials")
    # A counter that goes backwards: refused and audited.
    assert sign_in(client, auth).status_code == 200
    cred = auth.credentials[0]
    assert_problem(sign_in(client, auth, count=1), 401, "invalid_credentials")
    assert "passkey_sign_count_regressed" in audit_events(stack, int(account.id))
    assert sign_in(client, auth, count=cred.count + 5).status_code == 200
    # Missing or malformed members.
    o = login_options(client)
    assert_problem(client.post("/api/v1/auth/passkey", {"challenge_id": o["challenge_id"]}),
                   400, "validation_failed")
    assert_problem(client.post("/api/v1/auth/passkey", {"challenge_id": o["challenge_id"],
                                                        "credential": {"id": 1}}),
                   400, "invalid_passkey")


def test_a_disabled_account_cannot_sign_in_with_its_passkey(stack):
    account, token, auth = bearer(stack)
    assert add(account, token, auth).status_code == 201
    api_lib.disable_user(stack, account.id)
    assert_problem(sign_in(api_lib.Client(stack), auth), 403, "account_disabled")


def test_adding_needs_a_recent_sign_in_or_the_password(stack):
    account, token, auth = bearer(stack)
    sql(stack, "UPDATE refresh_families SET created_at = created_at - INTERVAL 10 MINUTE "
               "WHERE user_id = %d" % int(account.id))
    r = account.client.request("POST", "/api/v1/me/passkeys/options", token=token)
    assert_problem(r, 403, "recent_login_required")
    assert_problem(account.client.post("/api/v1/me/passkeys/options", {"password": "wrong-pass"},
                                       token=token), 403, "invalid_credentials")
    o = reg_options(account, token, {"password": account.password})
    assert o["challenge_id"]
    assert_problem(account.client.request("POST", "/api/v1/me/passkeys/options"), 401,
                   "unauthorized")


def test_passkeys_are_listed_renamed_and_removed(stack):
    account, token, auth = bearer(stack)
    pid = int(add(account, token, auth).json()["id"])
    c = account.client
    r = c.request("PATCH", "/api/v1/me/passkeys/%d" % pid, token=token, json={"name": "phone"})
    assert r.status_code == 200 and r.json()["name"] == "phone", r.text
    assert_problem(c.request("PATCH", "/api/v1/me/passkeys/%d" % pid, token=token,
                             json={"name": ""}), 400, "validation_failed")
    other, otoken, _ = bearer(stack)
    assert_problem(other.client.request("PATCH", "/api/v1/me/passkeys/%d" % pid, token=otoken,
                                        json={"name": "mine"}), 404, "not_found")
    assert_problem(other.client.request("DELETE", "/api/v1/me/passkeys/%d" % pid, token=otoken),
                   404, "not_found")
    assert c.request("DELETE", "/api/v1/me/passkeys/%d" % pid, token=token).status_code == 204
    assert c.get("/api/v1/me/passkeys", token=token).json()["passkeys"] == []
    assert "passkey_removed" in audit_events(stack, int(account.id))
    # A removed passkey signs in no more.
    assert_problem(sign_in(api_lib.Client(stack), auth), 401, "invalid_credentials")
    # Registered twice: 409, and no second row, audit event or notice.
    assert add(account, token, auth, cred=auth.credentials[0]).status_code == 201
    mails = api_lib.mail_count(stack, account.email)
    assert_problem(add(account, token, auth, cred=auth.credentials[0]), 409, "conflict")
    assert len(c.get("/api/v1/me/passkeys", token=token).json()["passkeys"]) == 1
    assert audit_events(stack, int(account.id)).count("passkey_added") == 2
    assert api_lib.mail_count(stack, account.email) == mails


def test_html_routes_add_a_passkey_and_sign_in_with_it(stack):
    account, b = logged_in(stack)
    auth = w.Authenticator(origin(stack))
    page = b.get("/account/passkeys")
    assert page.status_code == 200 and 'id="no-passkeys"' in page.text
    # Signed in a moment ago: no password is asked.
    assert 'name="password"' not in page.text
    r = b.post("/account/passkeys", {"csrf_token": csrf_of(page.text), "action": "start"})
    assert r.status_code == 200 and OPTIONS_ATTR.search(r.text), r.text[:500]
    # Five minutes later the password is: missing, wrong, right.
    sql(stack, "UPDATE sessions SET created_at = created_at - INTERVAL 10 MINUTE "
               "WHERE user_id = %d" % int(account.id))
    page = b.get("/account/passkeys")
    assert 'name="password"' in page.text
    r = b.post("/account/passkeys", {"csrf_token": csrf_of(page.text), "action": "start"})
    assert r.status_code == 400 and not OPTIONS_ATTR.search(r.text)
    r = b.post("/account/passkeys", {"csrf_token": csrf_of(page.text), "action": "start",
                                     "password": "not the password"})
    assert r.status_code == 403 and not OPTIONS_ATTR.search(r.text)
    r = b.post("/account/passkeys", {"csrf_token": csrf_of(page.text), "action": "start",
                                     "password": account.password})
    assert r.status_code == 200, r.text[:500]
    m = OPTIONS_ATTR.search(r.text)
    assert m, r.text[:2000]
    o = json.loads(html.unescape(m.group(1)))
    cred = auth.create(o["publicKey"])
    r = b.post("/account/passkeys", {"csrf_token": csrf_of(r.text), "action": "add",
                                     "challenge_id": o["challenge_id"], "name": "my laptop",
                                     "credential": json.dumps(cred)})
    assert r.status_code == 200 and "my laptop" in r.text, r.text[:500]
    # Sign in on a fresh browser: options from the API, the assertion through the form.
    fresh = type(b)(stack)
    login_page = fresh.get("/login")
    assert 'id="passkey-login"' in login_page.text and "/static/passkey.js" in login_page.text
    lo = login_options(api_lib.Client(stack))
    r = fresh.post("/login/passkey", {"csrf_token": csrf_of(login_page.text),
                                      "challenge_id": lo["challenge_id"],
                                      "credential": json.dumps(auth.get(lo["publicKey"]))})
    assert r.status_code == 303 and r.headers["Location"] == "/profile", r.text[:500]
    assert fresh.get("/profile").status_code == 200
    # A refused one shows the login page again, on a browser of its own.
    other = type(b)(stack)
    page = other.get("/login")
    lo = login_options(api_lib.Client(stack))
    r = other.post("/login/passkey", {"csrf_token": csrf_of(page.text),
                                      "challenge_id": lo["challenge_id"],
                                      "credential": json.dumps(auth.get(lo["publicKey"],
                                                                        tamper=True))})
    assert r.status_code == 401 and 'id="passkey-login"' in r.text, r.status_code
    assert other.cookie() is None


def test_the_admin_user_page_lists_passkeys_and_removes_one_audited(stack):
    import types
    from stack import ADMIN_PASSWORD, ADMIN_USERNAME
    account, token, auth = bearer(stack)
    pid = add(account, token, auth, name="desk key").json()["id"]
    admin = api_lib.browser_login(stack, types.SimpleNamespace(username=ADMIN_USERNAME,
                                                               password=ADMIN_PASSWORD))
    admin_id = sql(stack, "SELECT id FROM users WHERE username = 'admin'")[0][0]
    page = admin.get("/admin/users/%s" % account.id)
    assert page.status_code == 200 and "desk key" in page.text
    assert 'action="/admin/users/%s/remove-passkey"' % account.id in page.text
    # Without the CSRF token: refused, nothing removed.
    r = admin.form("/admin/users/%s/remove-passkey" % account.id, {"passkey_id": pid})
    assert r.status_code == 403
    # Another user's id, or none: 404 on the page.
    r = admin.form("/admin/users/%s/remove-passkey" % account.id,
                   {"csrf_token": api_lib.csrf_of(page.text), "passkey_id": "999999999"})
    assert r.status_code == 404
    r = admin.form("/admin/users/%s/remove-passkey" % account.id,
                   {"csrf_token": api_lib.csrf_of(page.text), "passkey_id": pid})
    assert r.status_code == 303 and r.headers["Location"].endswith("?done=remove-passkey")
    assert account.client.get("/api/v1/me/passkeys", token=token).json()["passkeys"] == []
    rows = sql(stack, "SELECT actor_id FROM audit_events WHERE user_id = %d AND "
                      "event = 'passkey_removed'" % int(account.id))
    assert [str(r[0]) for r in rows] == [str(admin_id)]
    assert "No passkeys." in admin.get("/admin/users/%s" % account.id).text


def test_a_passkey_sign_in_skips_the_second_factor_of_a_totp_account(stack):
    account, token, auth = bearer(stack)
    assert add(account, token, auth).status_code == 201
    # Two-step verification on (set in the database: the TOTP setup is test_mfa.py's).
    sql(stack, "UPDATE users SET mfa_enabled_at = UTC_TIMESTAMP(6) WHERE id = %d" % int(account.id))
    api_lib.user_changed_in_sql(stack, account.id)
    client = api_lib.Client(stack)
    assert_problem(client.post("/api/v1/auth/login", {"login": account.username,
                                                      "password": account.password}),
                   401, "mfa_required")
    r = sign_in(client, auth)
    assert r.status_code == 200 and r.json()["user"]["mfa_enabled"] is True, r.text
    # The HTML sign-in lands on the profile, not on /login/mfa.
    b = api_lib.Client(stack)
    page = b.get("/login")
    lo = login_options(api_lib.Client(stack))
    r = b.form("/login/passkey", {"csrf_token": api_lib.csrf_of(page.text),
                                  "challenge_id": lo["challenge_id"],
                                  "credential": json.dumps(auth.get(lo["publicKey"]))})
    assert r.status_code == 303 and r.headers["Location"] == "/profile", r.text[:300]


def test_the_options_routes_take_no_body_or_json_only(stack):
    client = api_lib.Client(stack)
    # No body and no Content-Type at all: a sign-in challenge.
    r = client.request("POST", "/api/v1/auth/passkey/options")
    assert r.status_code == 200 and r.json()["challenge_id"], r.text
    # A body must be JSON, and a JSON object.
    r = client.request("POST", "/api/v1/auth/passkey/options", data="login=x",
                       headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert_problem(r, 415, "unsupported_media_type")
    r = client.request("POST", "/api/v1/auth/passkey/options", data="{",
                       headers={"Content-Type": "application/json"})
    assert_problem(r, 400, "invalid_json")
    assert_problem(client.post("/api/v1/auth/passkey/options", [1]), 400, "invalid_json")
    assert_problem(client.post("/api/v1/auth/passkey/options", {"login": 7}), 400,
                   "validation_failed")
    # The completing request always has a body.
    assert_problem(client.request("POST", "/api/v1/auth/passkey"), 415, "unsupported_media_type")
    assert_problem(client.post("/api/v1/auth/passkey", {"credential": {}}), 400,
                   "validation_failed")
    # Another method on the options path is 405 with only POST allowed (not the {id} routes').
    account, token, _ = bearer(stack)
    r = account.client.request("DELETE", "/api/v1/me/passkeys/options", token=token)
    assert r.status_code == 405 and r.headers["Allow"] == "POST", (r.status_code, r.headers)


def test_a_passkey_session_is_reported_to_openid_connect_clients_as_multi_factor(stack):
    """amr and acr of the ID token say how the browser session signed in: a passkey is
    "hwk mfa", acr 2, also for an account without two-step verification (RFC 8176)."""
    import secrets
    import urllib.parse
    import test_oidc as o
    admin = o.Admin(stack)
    client = o.new_client(admin)
    account, token, auth = bearer(stack)
    assert add(account, token, auth).status_code == 201
    oauth = o.session_for(client)
    nonce = secrets.token_urlsafe(16)
    url, _ = oauth.create_authorization_url(stack.url("/oauth2/authorize"), nonce=nonce)
    b = o.Browser(stack)
    r = b.get(o.local(stack, url))
    assert r.status_code == 303 and r.headers["Location"].startswith("/login?"), r.status_code
    nxt = urllib.parse.parse_qs(urllib.parse.urlsplit(r.headers["Location"]).query)["next"][0]
    page = b.get(r.headers["Location"])
    lo = login_options(api_lib.Client(stack))
    r = b.post("/login/passkey", {"csrf_token": csrf_of(page.text), "next": nxt,
                                  "challenge_id": lo["challenge_id"],
                                  "credential": json.dumps(auth.get(lo["publicKey"]))})
    assert r.status_code == 303 and r.headers["Location"] == nxt, (r.status_code, r.text[:300])
    r = b.get(nxt)
    assert r.status_code == 200 and "/oauth2/consent" in r.text, r.status_code
    req = html.unescape(o.REQUEST_FIELD.search(r.text).group(1))
    r = b.post("/oauth2/consent", {"csrf_token": b.csrf, "request": req, "decision": "allow"})
    assert r.status_code == 302, r.status_code
    tok = oauth.fetch_token(stack.url("/oauth2/token"), authorization_response=r.headers["Location"])
    claims = o.id_claims(stack, tok["id_token"], client["client_id"], nonce)
    assert claims["amr"] == ["hwk", "mfa"] and claims["acr"] == "2", dict(claims)
    assert sql(stack, "SELECT amr FROM sessions WHERE user_id = %d" % int(account.id))[0][0] \
        == "hwk mfa"
