"""test_api_input.py: how the JSON API front door treats bodies it must refuse (API.md §2, §7).

These go to POST /api/v1/users (sign-up) because it is the one JSON route that needs no login.
Every body here is refused before anything is stored, so the tests create no users and stay far
below the per-IP sign-up limit (API.md §1 USERMGR_RATE_PER_IP_PER_MIN).
"""

import json

from stack import BODY_MAX, assert_problem

ROUTE = "/api/v1/users"
JSON = "application/json"


def post(stack, body, content_type=JSON):
    headers = {} if content_type is None else {"Content-Type": content_type}
    return stack.post(ROUTE, data=body, headers=headers)


def error_fields(problem):
    return {e.get("field") for e in problem.get("errors", [])}


def test_a_text_plain_body_is_a_415_unsupported_media_type(stack):
    r = post(stack, b'{"username": "alice"}', "text/plain")
    assert_problem(r, 415, "unsupported_media_type")
    assert "no-store" in r.headers.get("Cache-Control", "")


def test_a_body_without_a_content_type_is_a_415(stack):
    assert_problem(post(stack, b'{"username": "alice"}', None), 415, "unsupported_media_type")


def test_a_form_encoded_body_is_a_415(stack):
    r = post(stack, b"username=alice", "application/x-www-form-urlencoded")
    assert_problem(r, 415, "unsupported_media_type")


def test_the_content_type_is_checked_before_the_body_is_parsed(stack):
    # API.md §7 order: content type (415) comes before input (400).
    assert_problem(post(stack, b"{not json", "text/plain"), 415, "unsupported_media_type")


def test_malformed_json_is_a_400_invalid_json(stack):
    assert_problem(post(stack, b'{"username": '), 400, "invalid_json")


def test_a_charset_parameter_on_the_content_type_is_accepted(stack):
    # Not 415: the parameter is allowed, so the (broken) body is what gets refused.
    r = post(stack, b"[1, 2", "application/json; charset=utf-8")
    assert_problem(r, 400, "invalid_json")


def test_json_that_is_not_valid_utf8_is_a_400_invalid_json(stack):
    body = b'{"username": "al\xffice", "email": "a@example.com", "password": "x"}'
    assert_problem(post(stack, body), 400, "invalid_json")


def test_a_lone_surrogate_escape_is_a_400_invalid_json(stack):
    body = b'{"username": "al\\ud800ice", "email": "a@example.com", "password": "x"}'
    assert_problem(post(stack, body), 400, "invalid_json")


def test_a_nul_escape_in_a_field_is_a_400_naming_that_field(stack):
    body = (b'{"username": "al\\u0000ice", "email": "alice@example.com", '
            b'"password": "correct horse battery staple"}')
    problem = assert_problem(post(stack, body), 400, "validation_failed")
    assert "username" in error_fields(problem), problem


def test_a_field_of_the_wrong_type_is_a_400_naming_that_field(stack):
    body = b'{"username": 12345, "email": "bob@example.com", "password": "correct horse battery"}'
    problem = assert_problem(post(stack, body), 400, "validation_failed")
    assert "username" in error_fields(problem), problem


def test_a_username_over_32_characters_is_a_400_naming_that_field(stack):
    body = ('{"username": "%s", "email": "carol@example.com", "password": "correct horse bat"}'
            % ("c" * 33)).encode()
    problem = assert_problem(post(stack, body), 400, "validation_failed")
    assert "username" in error_fields(problem), problem


def test_an_address_with_rfc_5322_specials_before_the_at_is_a_400_naming_email(stack):
    """Found by a black-box probe: such an address passed validation and then failed as a mail
    header (400 naming nothing; a forced reset half-done).  It is refused at the edge now."""
    for address in ('c"d@example.com', "q<y>@example.com", "q(z)@example.com",
                    "a,b@example.com", "a\\b@example.com"):
        body = ('{"username": "dave", "email": %s, "password": "correct horse bat"}'
                % json.dumps(address)).encode()
        problem = assert_problem(post(stack, body), 400, "validation_failed")
        assert error_fields(problem) == {"email"}, (address, problem)


def test_a_json_body_of_exactly_65536_bytes_is_not_refused_as_too_large(stack):
    head = b'{"username": "'
    tail = b'"}'
    body = head + b"d" * (BODY_MAX - len(head) - len(tail)) + tail
    assert len(body) == BODY_MAX
    r = post(stack, body)
    assert r.status_code != 413, r.text[:300]
    assert_problem(r, 400, "validation_failed")


def test_get_on_the_sign_up_route_is_a_405_that_allows_post(stack):
    r = stack.get(ROUTE)
    assert_problem(r, 405, "method_not_allowed")
    assert "POST" in {m.strip().upper() for m in r.headers.get("Allow", "").split(",")}
