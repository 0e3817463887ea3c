"""test_platform.py: the HTTP platform as API.md §2, §6 and §7 fix it — routes, errors, limits, headers.

Everything here runs against the real stack (nginx, the worker pool, MariaDB); no route needs a
login, so these tests hold from the first day the worker answers.
"""

import concurrent.futures
import json
import re
import socket

import requests

from stack import BODY_MAX, CSP, assert_problem, media_type

STYLESHEET = re.compile(
    r'<link\b[^>]*\brel="stylesheet"[^>]*\bhref="(/static/[^"?#]+\.css)[^"]*"'
    r'|<link\b[^>]*\bhref="(/static/[^"?#]+\.css)[^"]*"[^>]*\brel="stylesheet"')


def stylesheet_path(stack):
    r = stack.get("/")
    m = STYLESHEET.search(r.text)
    assert m, "GET / links no stylesheet under /static/: %r" % r.text[:500]
    return m.group(1) or m.group(2)


def allowed(r):
    return {m.strip().upper() for m in r.headers.get("Allow", "").split(",") if m.strip()}


# --- routes ---------------------------------------------------------------------------------

def test_the_home_page_is_html_that_links_a_stylesheet_under_static(stack):
    r = stack.get("/")
    assert r.status_code == 200
    assert media_type(r) == "text/html"
    assert STYLESHEET.search(r.text), r.text[:500]


def test_the_stylesheet_is_served_as_css_and_cached_for_at_least_a_day(stack):
    r = stack.get(stylesheet_path(stack))
    assert r.status_code == 200
    assert media_type(r) == "text/css"
    cc = [d.strip().lower() for d in r.headers.get("Cache-Control", "").split(",")]
    assert "public" in cc, cc
    ages = [int(d.split("=", 1)[1]) for d in cc if d.startswith("max-age=")]
    assert ages and ages[0] >= 86400, cc


def test_healthz_answers_200_with_status_ok_as_json(stack):
    r = stack.get("/healthz")
    assert r.status_code == 200
    assert media_type(r) == "application/json"
    assert r.json() == {"status": "ok"}


def test_readyz_answers_200_while_the_database_is_up(stack):
    r = stack.get("/readyz")
    assert r.status_code == 200, r.text


def test_an_unknown_page_is_a_404_problem_with_code_not_found(stack):
    assert_problem(stack.get("/no-such-page"), 404, "not_found")


def test_an_unknown_api_route_is_a_404_problem_that_is_not_cached(stack):
    r = stack.get("/api/v1/no-such-thing")
    assert_problem(r, 404, "not_found")
    assert "no-store" in r.headers.get("Cache-Control", ""), r.headers.get("Cache-Control")


def test_delete_on_healthz_is_a_405_whose_allow_header_lists_get_and_head(stack):
    r = stack.request("DELETE", "/healthz")
    assert_problem(r, 405, "method_not_allowed")
    assert {"GET", "HEAD"} <= allowed(r), r.headers.get("Allow")
    assert "DELETE" not in allowed(r)


def test_post_on_the_home_page_is_a_405_whose_allow_header_lists_get_and_head(stack):
    r = stack.post("/", data={"a": "b"})
    assert_problem(r, 405, "method_not_allowed")
    assert {"GET", "HEAD"} <= allowed(r), r.headers.get("Allow")
    assert "POST" not in allowed(r)


# --- input limits ---------------------------------------------------------------------------

def test_a_form_body_over_65536_bytes_is_refused_with_413(stack):
    r = stack.post("/", data=b"a=" + b"x" * BODY_MAX,
                   headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code == 413, (r.status_code, r.text[:300])


def test_a_json_body_over_65536_bytes_is_refused_with_413_and_not_cached(stack):
    body = b'{"username": "' + b"x" * BODY_MAX + b'"}'
    r = stack.post("/api/v1/users", data=body, headers={"Content-Type": "application/json"})
    assert r.status_code == 413, (r.status_code, r.text[:300])
    # nginx may answer before the worker (API.md §7); when its answer is JSON it is our problem.
    if "json" in media_type(r):
        assert_problem(r, 413, "payload_too_large")
    assert "no-store" in r.headers.get("Cache-Control", ""), r.headers.get("Cache-Control")


def test_invalid_utf8_in_the_query_string_is_a_400_validation_failed(stack):
    assert_problem(stack.get("/?q=%FF"), 400, "validation_failed")


def test_an_overlong_utf8_encoding_in_the_query_string_is_a_400(stack):
    # "/" encoded in two bytes: RFC 3629 §3 forbids overlong forms (a classic filter bypass).
    assert_problem(stack.get("/?q=%C0%AF"), 400, "validation_failed")


def test_a_nul_byte_in_the_query_string_is_a_400_validation_failed(stack):
    assert_problem(stack.get("/?q=a%00b"), 400, "validation_failed")


def test_a_64_kib_request_header_is_refused_with_a_4xx_and_never_a_5xx(stack):
    try:
        r = stack.get("/", headers={"X-Huge": "a" * 65536})
    except requests.ConnectionError as e:
        raise AssertionError("the server dropped the connection instead of answering 4xx: %r"
                             % e) from e
    assert r.status_code in (400, 431, 494), (r.status_code, r.text[:300])
    assert stack.get("/healthz").status_code == 200


def test_a_cookie_header_of_64_kib_is_refused_with_a_4xx_and_never_a_5xx(stack):
    cookie = "; ".join("c%d=%s" % (i, "v" * 1000) for i in range(64))
    try:
        r = stack.get("/", headers={"Cookie": cookie})
    except requests.ConnectionError as e:
        raise AssertionError("the server dropped the connection instead of answering 4xx: %r"
                             % e) from e
    assert 400 <= r.status_code < 500, (r.status_code, r.text[:300])


# --- headers on every response --------------------------------------------------------------

def raw_request(stack, data):
    """Sends DATA as it is (requests would refuse to send most of these) and reads until the
    server closes, as nginx does after each of these errors; returns (status, headers, body)."""
    host, port = stack.base_url.split("//")[1].rsplit(":", 1)
    reply = b""
    with socket.create_connection((host, int(port)), timeout=15) as s:
        s.sendall(data)
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            reply += chunk
    head, _, body = reply.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers.setdefault(name.strip().lower(), []).append(value.strip())
    return int(lines[0].split()[1]), headers, body


def assert_nginx_problem(status, headers, body, want_status, want_code):
    """An answer nginx wrote itself: the worker's problem shape and every security header, once."""
    assert status == want_status, (status, body[:300])
    assert headers.get("content-type") == ["application/problem+json"], headers
    assert json.loads(body)["code"] == want_code, body
    assert headers.get("x-content-type-options") == ["nosniff"], headers
    assert headers.get("referrer-policy") == ["same-origin"], headers
    assert headers.get("content-security-policy") == [CSP], headers
    assert headers.get("cache-control") == ["no-store"], headers


def test_a_request_line_nginx_cannot_parse_gets_a_400_problem_with_the_headers(stack):
    for data in (b"GARBAGE\r\n\r\n", b"GET /\x01 HTTP/1.1\r\nHost: x\r\n\r\n",
                 b"GET / HTTP/1.1\r\nHost: x\r\nNo colon here\r\n\r\n"):
        assert_nginx_problem(*raw_request(stack, data), 400, "validation_failed")


def test_a_uri_over_8_kib_gets_a_414_problem_with_the_headers(stack):
    data = b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n"
    assert_nginx_problem(*raw_request(stack, data), 414, "validation_failed")


def test_a_header_too_large_gets_a_400_problem_with_the_headers(stack):
    data = b"GET / HTTP/1.1\r\nHost: x\r\nX-Huge: " + b"a" * 20000 + b"\r\n\r\n"
    assert_nginx_problem(*raw_request(stack, data), 400, "validation_failed")


def test_trace_is_a_405_from_the_worker_with_the_routes_allow(stack):
    """nginx refuses TRACE itself; the answer must still be the contract's 405 with Allow."""
    r = stack.request("TRACE", "/healthz")
    assert_problem(r, 405, "method_not_allowed")
    assert allowed(r) == {"GET", "HEAD"}, r.headers
    assert_problem(stack.request("TRACE", "/no-such-page"), 404, "not_found")


def test_a_missing_static_file_is_a_404_problem_not_css(stack):
    status, headers, body = raw_request(
        stack, b"GET /static/no-such-file.css HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert_nginx_problem(status, headers, body, 404, "not_found")


def sample_responses(stack):
    """One response of each kind the platform produces: page, JSON, static, and each error."""
    return {
        "405 trace": stack.request("TRACE", "/"),
        "200 page": stack.get("/"),
        "200 json": stack.get("/healthz"),
        "200 static": stack.get(stylesheet_path(stack)),
        "400": stack.get("/?q=%FF"),
        "404": stack.get("/no-such-page"),
        "404 api": stack.get("/api/v1/no-such-thing"),
        "405": stack.request("DELETE", "/healthz"),
        "413": stack.post("/", data=b"x" * (BODY_MAX + 1),
                          headers={"Content-Type": "application/x-www-form-urlencoded"}),
    }


def test_every_response_says_nosniff_and_same_origin_referrers(stack):
    for kind, r in sample_responses(stack).items():
        assert r.headers.get("X-Content-Type-Options") == "nosniff", (kind, r.headers)
        assert r.headers.get("Referrer-Policy") == "same-origin", (kind, r.headers)


def test_every_response_carries_the_exact_content_security_policy(stack):
    for kind, r in sample_responses(stack).items():
        csp = r.headers.get("Content-Security-Policy")
        assert csp == CSP, (kind, csp)
        assert "frame-ancestors 'none'" in csp
        assert "unsafe-inline" not in csp


def test_each_response_from_the_worker_has_its_own_request_id(stack):
    ids = []
    for path in ("/", "/healthz", "/no-such-page", "/readyz"):
        rid = stack.get(path).headers.get("X-Request-Id")
        assert rid, "no X-Request-Id on %s" % path
        ids.append(rid)
    assert len(set(ids)) == len(ids), ids


def test_head_on_the_home_page_sends_the_headers_and_no_body(stack):
    host = stack.base_url.split("://", 1)[1]
    raw = stack.raw(("HEAD / HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n" % host).encode())
    head, sep, body = raw.partition(b"\r\n\r\n")
    assert sep, raw[:500]
    lines = head.decode("latin-1").split("\r\n")
    assert lines[0].startswith("HTTP/1.1 200"), lines[0]
    headers = {k.strip().lower(): v.strip() for k, v in
               (line.split(":", 1) for line in lines[1:] if ":" in line)}
    assert headers.get("content-type", "").startswith("text/html"), headers
    assert headers.get("x-content-type-options") == "nosniff", headers
    assert body == b"", body[:200]


# --- load -----------------------------------------------------------------------------------

def test_two_hundred_concurrent_requests_over_sixteen_connections_all_succeed(stack):
    paths = ["/", "/healthz", "/readyz", "/no-such-page"]
    expect = {"/": 200, "/healthz": 200, "/readyz": 200, "/no-such-page": 404}

    def one(i):
        path = paths[i % len(paths)]
        try:
            return path, stack.get(path).status_code
        except requests.RequestException as e:
            return path, repr(e)

    with concurrent.futures.ThreadPoolExecutor(max_workers=16) as pool:
        results = list(pool.map(one, range(200)))
    wrong = [(p, s) for p, s in results if s != expect[p]]
    assert not wrong, "%d of 200 went wrong, e.g. %r" % (len(wrong), wrong[:5])
