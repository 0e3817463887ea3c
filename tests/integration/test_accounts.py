"""test_accounts.py: sign-up, e-mail verification, the profile and CSRF (API.md §2, §3, §5, §7).

Every test uses Browsers of its own source address (accounts_lib), so the per-IP limit on the
sign-up and login forms only ever counts one test's requests.
"""

import os

from accounts_lib import (BAD_LOGIN, SESSION_COOKIE, VERIFY_SUBJECT, Browser, audit_events,
                          csrf_of, decode_link, end_lockout, field_error, field_errors,
                          input_value, link_in, link_path, logged_in, login, mail_count,
                          mailed_token, mails, new_password, register, sign, signup_fields,
                          sql, sql_one, sql_quote, tampered, textarea_value, unique_name,
                          unsigned, user_count, user_id, verify_claims)
from stack import wait_until

XSS = "<script>alert(1)</script>"
XSS_ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"


def no_user_named(stack, username):
    return user_count(stack, "username = %s" % sql_quote(username)) == 0


# --- GET / and GET /register -------------------------------------------------------------------

def test_the_welcome_page_links_to_log_in_and_to_register(stack):
    r = Browser(stack).get("/")
    assert r.status_code == 200
    assert 'href="/login"' in r.text
    assert 'href="/register"' in r.text


def test_the_sign_up_form_has_every_field_and_a_csrf_token(stack):
    r = Browser(stack).get("/register")
    assert r.status_code == 200
    for name in ("username", "email", "password", "password_confirm"):
        assert input_value(r.text, name) == "", "field %s missing or not empty" % name
    assert csrf_of(r.text)


# --- POST /register: success ------------------------------------------------------------------

def test_a_sign_up_says_to_check_the_mail_and_queues_a_verification_link(stack):
    b = Browser(stack)
    fields = signup_fields()
    r = b.form("/register", fields)
    assert r.status_code == 200, r.text[:500]
    assert "Check your inbox" in r.text
    assert fields["email"] in r.text
    assert fields["password"] not in r.text
    uid = user_id(stack, fields["username"])
    assert uid is not None, "no users row for the new account"
    assert sql_one(stack, "SELECT email_verified_at IS NULL FROM users WHERE id = %d" % uid) == "1"
    found = mails(stack, fields["email"])
    assert len(found) == 1, "expected one mail to the new address, got %d" % len(found)
    mail = found[0]
    assert VERIFY_SUBJECT in mail["subject"], mail["subject"]
    url, token = link_in(stack, mail["text_body"], "/verify-email")
    assert url == stack.base_url + "/verify-email?token=" + token
    assert mail["html_body"].strip(), "the mail has no HTML part"
    assert "/verify-email?token=" + token in mail["html_body"], mail["html_body"][:800]


def test_a_sign_up_leaves_the_new_user_unable_to_log_in_until_verified(stack):
    account = register(stack)
    r = login(stack, account)
    assert r.status_code == 403, r.text[:500]
    assert 'href="/verify-email/resend"' in r.text, "the page offers no way to get a new link"
    assert SESSION_COOKIE not in r.headers.get("Set-Cookie", "")


def test_the_verification_mail_is_delivered_to_the_mail_directory(stack):
    account = register(stack)
    mail_id = mails(stack, account.email)[0]["id"]
    path = os.path.join(stack.mail_dir, "%d.eml" % mail_id)
    assert wait_until(lambda: os.path.exists(path), 30), "no %s within 30 s" % path
    with open(path, "rb") as f:
        eml = f.read().decode("utf-8", "replace")
    assert account.email in eml
    assert "text/plain" in eml and "text/html" in eml, eml[:1000]


# --- POST /register: validation ----------------------------------------------------------------

def assert_refused(stack, r, status, field):
    """R re-rendered the form with STATUS and an error beside FIELD, keeping no password."""
    assert r.status_code == status, "expected %d, got %d: %r" % (status, r.status_code,
                                                                r.text[:500])
    assert field_error(r.text, field), "no error beside %s; errors on %r" % (
        field, field_errors(r.text))
    assert input_value(r.text, "password") == "", "the password was sent back"
    assert input_value(r.text, "password_confirm") == "", "the confirmation was sent back"


def test_a_too_short_username_is_refused_beside_the_field_with_the_input_kept(stack):
    fields = signup_fields(username="ab", email=unique_name() + "@example.com")
    r = Browser(stack).form("/register", fields)
    assert_refused(stack, r, 400, "username")
    assert field_errors(r.text) == {"username"}, field_errors(r.text)
    assert input_value(r.text, "username") == "ab"
    assert input_value(r.text, "email") == fields["email"]
    assert fields["password"] not in r.text
    assert mail_count(stack, fields["email"]) == 0
    assert user_count(stack, "email = %s" % sql_quote(fields["email"])) == 0


def test_a_malformed_email_address_is_refused(stack):
    for email in ("no-at-sign.example.com", "two@@example.com", "sp ace@example.com",
                  "a@b@example.com", "name@-bad-.example"):
        fields = signup_fields(email=email)
        r = Browser(stack).form("/register", fields)
        assert_refused(stack, r, 400, "email")
        assert no_user_named(stack, fields["username"]), email


def test_a_password_shorter_than_eight_characters_is_refused(stack):
    fields = signup_fields(password="Ab1-xyz")
    r = Browser(stack).form("/register", fields)
    assert_refused(stack, r, 400, "password")
    assert no_user_named(stack, fields["username"])


def test_a_common_password_is_refused(stack):
    fields = signup_fields(password="password123")
    r = Browser(stack).form("/register", fields)
    assert_refused(stack, r, 400, "password")
    assert no_user_named(stack, fields["username"])


def test_a_common_password_in_other_case_is_refused(stack):
    fields = signup_fields(password="PassWord123")
    r = Browser(stack).form("/register", fields)
    assert_refused(stack, r, 400, "password")
    assert no_user_named(stack, fields["username"])


def test_a_password_holding_the_username_in_other_case_is_refused(stack):
    username = unique_name("Ann")
    fields = signup_fields(username=username, password="x-%s-long-enough" % username.upper())
    r = Browser(stack).form("/register", fields)
    assert_refused(stack, r, 400, "password")
    assert no_user_named(stack, username)


def test_a_confirmation_that_differs_from_the_password_is_refused(stack):
    fields = signup_fields()
    fields["password_confirm"] = fields["password"] + "x"
    r = Browser(stack).form("/register", fields)
    assert_refused(stack, r, 400, "password_confirm")
    assert no_user_named(stack, fields["username"])


def test_a_missing_field_is_refused_beside_it(stack):
    fields = signup_fields()
    del fields["email"]
    r = Browser(stack).form("/register", fields)
    assert_refused(stack, r, 400, "email")
    assert no_user_named(stack, fields["username"])


def test_a_taken_username_in_other_case_is_refused_with_409_and_no_new_user(stack):
    first = register(stack)
    fields = signup_fields(username=first.username.upper(),
                           email=unique_name() + "@example.com")
    r = Browser(stack).form("/register", fields)
    assert_refused(stack, r, 409, "username")
    assert input_value(r.text, "email") == fields["email"]
    assert user_count(stack, "email = %s" % sql_quote(fields["email"])) == 0
    assert mail_count(stack, fields["email"]) == 0


def test_a_taken_email_address_in_other_case_is_refused_with_409_and_no_new_user(stack):
    first = register(stack)
    local, domain = first.email.split("@")
    fields = signup_fields(email="%s@%s" % (local.upper(), domain.upper()))
    r = Browser(stack).form("/register", fields)
    assert_refused(stack, r, 409, "email")
    assert no_user_named(stack, fields["username"])
    assert mail_count(stack, first.email) == 1, "the owner got a second mail"


def test_an_xss_probe_as_username_is_refused_and_echoed_escaped(stack):
    fields = signup_fields(username=XSS, email=unique_name() + "@example.com")
    r = Browser(stack).form("/register", fields)
    assert_refused(stack, r, 400, "username")
    assert XSS not in r.text, "the probe came back unescaped"
    assert "&lt;script&gt;" in r.text, "the kept username is not in the page"
    assert no_user_named(stack, XSS)


def test_sql_looking_input_is_plain_data_to_sign_up_and_login(stack):
    probe = "x' OR '1'='1"
    fields = signup_fields(username=probe, email=unique_name() + "@example.com")
    r = Browser(stack).form("/register", fields)
    assert_refused(stack, r, 400, "username")
    assert input_value(r.text, "username") == probe
    assert no_user_named(stack, probe)
    b = Browser(stack)
    r = b.form("/login", {"login": probe, "password": probe})
    assert r.status_code == 400, r.text[:500]
    assert BAD_LOGIN in r.text
    assert b.cookie() is None
    assert input_value(r.text, "login") == probe


# --- CSRF (API.md §3, §7) ----------------------------------------------------------------------

def test_a_sign_up_without_a_csrf_token_is_403_and_writes_nothing(stack):
    b = Browser(stack)
    assert b.get("/register").status_code == 200
    fields = signup_fields()
    r = b.post("/register", fields)
    assert r.status_code == 403, r.text[:500]
    assert no_user_named(stack, fields["username"])
    assert mail_count(stack, fields["email"]) == 0


def test_a_sign_up_with_a_wrong_csrf_token_is_403(stack):
    b = Browser(stack)
    token = csrf_of(b.get("/register").text)
    fields = signup_fields()
    fields["csrf_token"] = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    r = b.post("/register", fields)
    assert r.status_code == 403, r.text[:500]
    assert no_user_named(stack, fields["username"])


def test_the_csrf_token_of_another_visitor_is_403(stack):
    other = Browser(stack)
    theirs = csrf_of(other.get("/register").text)
    b = Browser(stack)
    mine = csrf_of(b.get("/register").text)
    assert mine != theirs, "two visitors got the same CSRF token"
    fields = signup_fields()
    fields["csrf_token"] = theirs
    r = b.post("/register", fields)
    assert r.status_code == 403, r.text[:500]
    assert no_user_named(stack, fields["username"])


def test_a_csrf_token_without_its_cookie_is_403(stack):
    b = Browser(stack)
    token = csrf_of(b.get("/register").text)
    fields = signup_fields()
    fields["csrf_token"] = token
    r = Browser(stack).post("/register", fields)
    assert r.status_code == 403, r.text[:500]
    assert no_user_named(stack, fields["username"])


def test_a_cross_site_origin_is_403_even_with_a_valid_token(stack):
    b = Browser(stack)
    fields = signup_fields()
    fields["csrf_token"] = csrf_of(b.get("/register").text)
    r = b.post("/register", fields, origin="https://evil.example")
    assert r.status_code == 403, r.text[:500]
    assert no_user_named(stack, fields["username"])


def test_a_profile_edit_with_the_token_of_another_session_is_403(stack):
    _, mine = logged_in(stack)
    _, theirs = logged_in(stack)
    token = csrf_of(theirs.get("/profile").text)
    r = mine.post("/profile", {"csrf_token": token, "display_name": "Mallory", "bio": ""})
    assert r.status_code == 403, r.text[:500]


# --- GET /verify-email -------------------------------------------------------------------------

def test_the_mailed_link_verifies_the_address_and_a_second_visit_is_harmless(stack):
    account = register(stack)
    token = mailed_token(stack, account.email, "/verify-email")
    b = Browser(stack)
    r = b.get(link_path(token, "/verify-email"))
    assert r.status_code == 200, r.text[:500]
    assert "Your address is verified" in r.text
    assert sql_one(stack, "SELECT email_verified_at IS NOT NULL FROM users WHERE id = %d"
                   % account.id) == "1"
    r = b.get(link_path(token, "/verify-email"))
    assert r.status_code == 200, r.text[:500]
    assert "Your address is verified" in r.text
    r = login(stack, account)
    assert r.status_code == 303, r.text[:500]


def test_the_verify_email_alias_with_an_underscore_works_too(stack):
    account = register(stack)
    token = mailed_token(stack, account.email, "/verify-email")
    r = Browser(stack).get(link_path(token, "/verify_email"))
    assert r.status_code == 200, r.text[:500]
    assert "Your address is verified" in r.text
    assert sql_one(stack, "SELECT email_verified_at IS NOT NULL FROM users WHERE id = %d"
                   % account.id) == "1"


def assert_link_refused(stack, r, account, expired=False):
    assert r.status_code == 400, "expected 400, got %d: %r" % (r.status_code, r.text[:500])
    if expired:
        assert "This link has expired" in r.text, r.text[:1500]
    else:
        assert "This link is not valid" in r.text, r.text[:1500]
    assert 'href="/verify-email/resend"' in r.text, "the page offers no way to get a new link"
    if account is not None:
        assert sql_one(stack, "SELECT email_verified_at IS NULL FROM users WHERE id = %d"
                       % account.id) == "1", "a refused link verified the address"


def test_a_tampered_verification_link_is_400(stack):
    account = register(stack)
    token = mailed_token(stack, account.email, "/verify-email")
    r = Browser(stack).get(link_path(tampered(token), "/verify-email"))
    assert_link_refused(stack, r, account)


def test_a_verification_link_without_a_token_is_400(stack):
    for path in ("/verify-email", "/verify-email?token=", "/verify-email?token=abc"):
        r = Browser(stack).get(path)
        assert_link_refused(stack, r, None)


def test_an_expired_verification_link_is_400_with_a_page_saying_it_expired(stack):
    account = register(stack)
    real = decode_link(stack, mailed_token(stack, account.email, "/verify-email"),
                       "usermgr:verify_email")
    real["iat"] -= 25 * 3600
    real["exp"] = real["iat"] + 24 * 3600
    r = Browser(stack).get(link_path(sign(stack, real), "/verify-email"))
    assert_link_refused(stack, r, account, expired=True)


def test_a_verification_link_for_another_purpose_is_400(stack):
    account = register(stack)
    token = sign(stack, verify_claims(account, aud="usermgr:reset_password"))
    r = Browser(stack).get(link_path(token, "/verify-email"))
    assert_link_refused(stack, r, account)


def test_a_verification_link_with_alg_none_is_400(stack):
    account = register(stack)
    token = unsigned(verify_claims(account), {"alg": "none", "typ": "JWT"})
    r = Browser(stack).get(link_path(token, "/verify-email"))
    assert_link_refused(stack, r, account)


# --- /profile ---------------------------------------------------------------------------------

def test_the_profile_without_a_session_redirects_to_the_login(stack):
    r = Browser(stack).get("/profile")
    assert r.status_code == 303, r.text[:300]
    assert r.headers["Location"] == "/login?next=%2Fprofile", r.headers["Location"]


def test_the_profile_shows_the_own_username_and_address(stack):
    account, b = logged_in(stack)
    r = b.get("/profile")
    assert r.status_code == 200
    assert account.username in r.text
    assert account.email in r.text
    assert "no-store" in r.headers.get("Cache-Control", ""), r.headers.get("Cache-Control")


def test_a_profile_edit_saves_the_display_name_and_the_bio_with_crlf_as_lf(stack):
    account, b = logged_in(stack)
    token = csrf_of(b.get("/profile").text)
    r = b.post("/profile", {"csrf_token": token, "display_name": "Ada Lovelace",
                            "bio": "First line\r\nSecond line — ünïcode"})
    assert r.status_code == 200, r.text[:500]
    assert "Your profile was saved." in r.text
    row = sql(stack, "SELECT display_name, HEX(bio) FROM users WHERE id = %d" % account.id)[0]
    assert row[0] == "Ada Lovelace"
    assert bytes.fromhex(row[1]).decode() == "First line\nSecond line — ünïcode"
    r = b.get("/profile")
    assert r.status_code == 200
    assert input_value(r.text, "display_name") == "Ada Lovelace"
    assert textarea_value(r.text, "bio") == "First line\nSecond line — ünïcode"


def test_an_xss_probe_as_display_name_comes_back_escaped(stack):
    account, b = logged_in(stack)
    token = csrf_of(b.get("/profile").text)
    r = b.post("/profile", {"csrf_token": token, "display_name": XSS, "bio": XSS})
    assert r.status_code == 200, r.text[:500]
    for page in (r.text, b.get("/profile").text):
        assert XSS not in page, "the probe came back unescaped"
        assert XSS_ESCAPED in page
    assert sql_one(stack, "SELECT display_name FROM users WHERE id = %d" % account.id) == XSS


def test_a_lone_carriage_return_in_the_bio_is_refused(stack):
    account, b = logged_in(stack)
    token = csrf_of(b.get("/profile").text)
    r = b.post("/profile", {"csrf_token": token, "display_name": "Kept", "bio": "a\rb"})
    assert r.status_code == 400, r.text[:500]
    assert field_error(r.text, "bio"), field_errors(r.text)
    assert sql_one(stack, "SELECT display_name IS NULL FROM users WHERE id = %d"
                   % account.id) == "1", "a refused form changed the profile"


def test_a_too_long_display_name_is_refused_and_changes_nothing(stack):
    account, b = logged_in(stack)
    token = csrf_of(b.get("/profile").text)
    r = b.post("/profile", {"csrf_token": token, "display_name": "x" * 101, "bio": "kept"})
    assert r.status_code == 400, r.text[:500]
    assert field_error(r.text, "display_name"), field_errors(r.text)
    assert sql_one(stack, "SELECT bio IS NULL FROM users WHERE id = %d" % account.id) == "1"


# --- the audit trail ----------------------------------------------------------------------------

def test_the_account_life_cycle_leaves_an_audit_row_for_every_step(stack):
    b = Browser(stack)
    account = register(stack, b)
    token = mailed_token(stack, account.email, "/verify-email")
    assert b.get(link_path(token, "/verify-email")).status_code == 200
    r = login(stack, account, b)
    assert r.status_code == 303, r.text[:300]
    token = csrf_of(b.get("/profile").text)
    assert b.post("/logout", {"csrf_token": token}).status_code == 303
    for _ in range(5):
        r = login(stack, account, password="wrong-" + new_password())
        assert r.status_code in (400, 429), r.status_code
    end_lockout(stack, account.id)
    assert b.form("/forgot-password", {"email": account.email}).status_code == 200
    token = mailed_token(stack, account.email, "/reset-password")
    page = b.get(link_path(token, "/reset-password"))
    assert page.status_code == 200
    password = new_password()
    r = b.post("/reset-password", {"csrf_token": csrf_of(page.text), "token": token,
                                   "password": password, "password_confirm": password})
    assert r.status_code == 200, r.text[:500]
    events = audit_events(stack, account.id)
    for name in ("registered", "email_verified", "login_succeeded", "logout", "login_failed",
                 "locked_out", "password_reset_requested", "password_reset"):
        assert name in events, "no %s audit row; rows: %r" % (name, events)
    assert events.index("registered") < events.index("email_verified") < \
        events.index("login_succeeded") < events.index("logout") < events.index("login_failed") \
        < events.index("locked_out") < events.index("password_reset_requested") < \
        events.index("password_reset"), events
    assert events.count("login_failed") >= 4, events
    ip = sql_one(stack, "SELECT ip FROM audit_events WHERE user_id = %d AND event = "
                 "'login_succeeded'" % account.id)
    assert ip == b.address, "the audit row names %r, the client was %s" % (ip, b.address)
