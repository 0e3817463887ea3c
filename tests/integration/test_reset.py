"""test_reset.py: resend, forgot-password and the reset link in the browser (API.md §3, §5, §7).

The answers of resend and forgot-password must not tell whether an account uses an address, so
each is compared byte for byte (token and request id aside) for a known and an unknown address.
"""

from accounts_lib import (CHANGED_SUBJECT, LOCKED_TEXT, RESET_SUBJECT, VERIFY_SUBJECT, Browser,
                          csrf_of, decode_link, field_error, field_errors, input_value,
                          link_in, link_path, logged_in, login, mail_count, mailed_token, mails,
                          new_password, normalised, register, sign, sql_one, unique_name,
                          with_cookie)

RESET_AUD = "usermgr:reset_password"


def unknown_address():
    return "%s@example.com" % unique_name("nobody")


def assert_same_answer(known, unknown):
    assert known.status_code == unknown.status_code == 200, (known.status_code,
                                                            unknown.status_code)
    assert normalised(known.text) == normalised(unknown.text), \
        "the answer differs for a known and an unknown address"


# --- POST /verify-email/resend ------------------------------------------------------------------

def test_resend_answers_the_same_for_a_known_and_an_unknown_address(stack):
    account = register(stack)
    b = Browser(stack)
    known = b.form("/verify-email/resend", {"email": account.email})
    unknown_email = unknown_address()
    unknown = b.form("/verify-email/resend", {"email": unknown_email})
    assert_same_answer(known, unknown)
    assert "we sent a new link" in known.text
    assert len(mails(stack, account.email, VERIFY_SUBJECT)) == 2, "no second verification mail"
    assert mail_count(stack, unknown_email) == 0


def test_the_resent_link_verifies_the_address(stack):
    account = register(stack)
    assert Browser(stack).form("/verify-email/resend", {"email": account.email}).status_code \
        == 200
    token = mailed_token(stack, account.email, "/verify-email")
    r = Browser(stack).get(link_path(token, "/verify-email"))
    assert r.status_code == 200, r.text[:500]
    assert "Your address is verified" in r.text


def test_resend_for_a_verified_address_answers_the_same_and_mails_nothing(stack):
    account = register(stack, verified=True)
    b = Browser(stack)
    known = b.form("/verify-email/resend", {"email": account.email})
    unknown = b.form("/verify-email/resend", {"email": unknown_address()})
    assert_same_answer(known, unknown)
    assert mail_count(stack, account.email) == 1, "a verified address got another link"


def test_resend_with_a_malformed_address_is_400_beside_the_field(stack):
    r = Browser(stack).form("/verify-email/resend", {"email": "not an address"})
    assert r.status_code == 400, r.text[:500]
    assert field_error(r.text, "email"), field_errors(r.text)
    assert input_value(r.text, "email") == "not an address"


# --- POST /forgot-password ----------------------------------------------------------------------

def test_forgot_password_answers_the_same_for_a_known_and_an_unknown_address(stack):
    account = register(stack, verified=True)
    b = Browser(stack)
    known = b.form("/forgot-password", {"email": account.email})
    unknown_email = unknown_address()
    unknown = b.form("/forgot-password", {"email": unknown_email})
    assert_same_answer(known, unknown)
    assert "If an account uses that address" in known.text
    found = mails(stack, account.email, RESET_SUBJECT)
    assert len(found) == 1, "expected one reset mail, got %d" % len(found)
    url, token = link_in(stack, found[0]["text_body"], "/reset-password")
    assert found[0]["html_body"].strip() and token in found[0]["html_body"]
    assert mail_count(stack, unknown_email) == 0


def test_forgot_password_with_a_malformed_address_is_400(stack):
    r = Browser(stack).form("/forgot-password", {"email": "a@b@example.com"})
    assert r.status_code == 400, r.text[:500]
    assert field_error(r.text, "email"), field_errors(r.text)


def test_forgot_password_without_a_csrf_token_is_403_and_mails_nothing(stack):
    account = register(stack, verified=True)
    b = Browser(stack)
    assert b.get("/forgot-password").status_code == 200
    r = b.post("/forgot-password", {"email": account.email})
    assert r.status_code == 403, r.text[:500]
    assert mails(stack, account.email, RESET_SUBJECT) == []


def test_the_reset_link_is_a_full_link_with_a_one_hour_token(stack):
    account = register(stack, verified=True)
    assert Browser(stack).form("/forgot-password", {"email": account.email}).status_code == 200
    claims = decode_link(stack, mailed_token(stack, account.email, "/reset-password"), RESET_AUD)
    assert claims["sub"] == str(account.id)
    assert claims["email"] == account.email
    assert claims["exp"] - claims["iat"] == 3600, claims


# --- /reset-password ----------------------------------------------------------------------------

def request_reset(stack, account):
    assert Browser(stack).form("/forgot-password", {"email": account.email}).status_code == 200
    return mailed_token(stack, account.email, "/reset-password")


def post_reset(b, token, password, confirm=None, page=None):
    """POSTs the reset form that GET /reset-password?token= shows (PAGE, fetched when None)."""
    if page is None:
        page = b.get(link_path(token, "/reset-password"))
        assert page.status_code == 200, page.text[:500]
    return b.post("/reset-password", {"csrf_token": csrf_of(page.text),
                                      "token": input_value(page.text, "token"),
                                      "password": password,
                                      "password_confirm": password if confirm is None else
                                      confirm})


def test_the_reset_link_shows_the_form_and_consumes_nothing(stack):
    account = register(stack, verified=True)
    token = request_reset(stack, account)
    for _ in range(3):  # a mail scanner, a preview, the person
        r = Browser(stack).get(link_path(token, "/reset-password"))
        assert r.status_code == 200, r.text[:500]
        assert input_value(r.text, "token") == token
        assert input_value(r.text, "password") == ""
    assert login(stack, account).status_code == 303, "the GET changed the password"
    r = post_reset(Browser(stack), token, new_password())
    assert r.status_code == 200, r.text[:500]


def test_a_reset_with_a_mismatched_confirmation_is_400_and_keeps_the_link(stack):
    account = register(stack, verified=True)
    token = request_reset(stack, account)
    b = Browser(stack)
    password = new_password()
    r = post_reset(b, token, password, confirm=password + "x")
    assert r.status_code == 400, r.text[:500]
    assert field_error(r.text, "password_confirm"), field_errors(r.text)
    assert input_value(r.text, "password") == ""
    assert input_value(r.text, "token") == token, "the refused form lost the token"
    assert login(stack, account).status_code == 303, "a refused reset changed the password"
    assert post_reset(b, token, password).status_code == 200


def test_a_reset_to_a_common_password_is_400(stack):
    account = register(stack, verified=True)
    token = request_reset(stack, account)
    r = post_reset(Browser(stack), token, "password123")
    assert r.status_code == 400, r.text[:500]
    assert field_error(r.text, "password"), field_errors(r.text)


def test_a_reset_changes_the_password_ends_every_session_and_mails_a_notice(stack):
    account, before = logged_in(stack)
    _, other = logged_in(stack, account)
    old_sessions = [before.cookie(), other.cookie()]
    token = request_reset(stack, account)
    b = Browser(stack)
    password = new_password()
    r = post_reset(b, token, password)
    assert r.status_code == 200, r.text[:500]
    assert "Password changed" in r.text
    assert b.cookie() is None, "the reset logged the browser in"
    assert b.get("/profile").status_code == 303
    for value in old_sessions:
        r = with_cookie(stack, value)
        assert r.status_code == 303, "a session from before the reset still opens /profile"
        assert r.headers["Location"] == "/login?next=%2Fprofile"
    r = login(stack, account)
    assert r.status_code == 400, "the old password still works: %d" % r.status_code
    account.password = password
    assert login(stack, account).status_code == 303
    notices = mails(stack, account.email, CHANGED_SUBJECT)
    assert len(notices) == 1, "expected one password-changed notice, got %d" % len(notices)
    assert notices[0]["text_body"].strip() and notices[0]["html_body"].strip()
    assert "token=" not in notices[0]["text_body"], "the notice holds a link that acts"


def test_a_reset_link_works_only_once(stack):
    account = register(stack, verified=True)
    token = request_reset(stack, account)
    b = Browser(stack)
    first = new_password()
    page = b.get(link_path(token, "/reset-password"))
    assert post_reset(b, token, first, page=page).status_code == 200
    r = Browser(stack).get(link_path(token, "/reset-password"))
    assert r.status_code == 400, r.text[:500]
    assert "This link is not valid" in r.text
    assert 'href="/forgot-password"' in r.text
    # The form fetched before the first POST, sent again: refused too.
    r = post_reset(b, token, new_password(), page=page)
    assert r.status_code == 400, r.text[:500]
    account.password = first
    assert login(stack, account).status_code == 303, "the second POST changed the password"


def test_a_post_to_the_links_own_url_takes_the_token_from_the_query(stack):
    """API.md §3 writes the route as `GET,POST /reset-password?token=`: a POST to the mailed URL
    with only the password fields (and the CSRF token) works too."""
    account = register(stack, verified=True)
    token = request_reset(stack, account)
    b = Browser(stack)
    page = b.get(link_path(token, "/reset-password"))
    password = new_password()
    r = b.post(link_path(token, "/reset-password"), {"csrf_token": csrf_of(page.text),
                                                     "password": password,
                                                     "password_confirm": password})
    assert r.status_code == 200, r.text[:500]
    account.password = password
    assert login(stack, account).status_code == 303


def test_a_tampered_reset_link_is_400(stack):
    account = register(stack, verified=True)
    token = request_reset(stack, account)
    head, payload, sig = token.split(".")
    bad = "%s.%s.%s" % (head, payload, sig[:10] + ("A" if sig[10] != "A" else "B") + sig[11:])
    r = Browser(stack).get(link_path(bad, "/reset-password"))
    assert r.status_code == 400, r.text[:500]
    assert "This link is not valid" in r.text


def test_an_expired_reset_link_is_400_with_a_page_saying_it_expired(stack):
    account = register(stack, verified=True)
    claims = decode_link(stack, request_reset(stack, account), RESET_AUD)
    claims["iat"] -= 2 * 3600
    claims["exp"] = claims["iat"] + 3600
    token = sign(stack, claims)
    r = Browser(stack).get(link_path(token, "/reset-password"))
    assert r.status_code == 400, r.text[:500]
    assert "This link has expired" in r.text
    assert 'href="/forgot-password"' in r.text


def test_a_verification_link_does_not_open_the_reset_form(stack):
    account = register(stack, verified=True)
    token = mailed_token(stack, account.email, "/verify-email")
    r = Browser(stack).get(link_path(token, "/reset-password"))
    assert r.status_code == 400, r.text[:500]
    assert "This link is not valid" in r.text


def test_a_reset_lifts_a_lockout(stack):
    account = register(stack, verified=True)
    for _ in range(5):
        login(stack, account, password="wrong-" + new_password())
    r = login(stack, account)
    assert r.status_code == 429, r.text[:500]
    assert LOCKED_TEXT in r.text
    token = request_reset(stack, account)
    password = new_password()
    assert post_reset(Browser(stack), token, password).status_code == 200
    account.password = password
    r = login(stack, account)
    assert r.status_code == 303, r.text[:500]
    assert sql_one(stack, "SELECT locked_until IS NULL FROM users WHERE id = %d"
                   % account.id) == "1"
