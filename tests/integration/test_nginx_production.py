"""test_nginx_production.py: deploy/nginx/usermgr.conf, the production site, really serves usermgr.

The file is used as shipped, with only what a deployment fills in replaced (certificate, ports,
log directory, where the snippets, the worker socket and the static files are), each replacement
asserted to have matched so the test notices when the file changes shape.  A real nginx runs it
over TLS with a self-signed certificate for usermgr.example.com in front of the test stack's
worker pool.  Clients connect to 127.0.0.1 but send usermgr.example.com as SNI and Host and verify
the certificate against that name (it names no IP address), as a browser on the real host would.
Every test connects from a loopback address of its own, so nginx's per-address flood limit and
the worker's per-IP limits never mix with other tests' budgets.
"""

import json
import os
import re
import socket
import ssl
import subprocess
import time

import pytest
import requests
from requests.adapters import HTTPAdapter

from nginx_lib import ExtraNginx
from peers import address_pool, bound_session
from stack import BODY_MAX, CSP, HTTP_TIMEOUT, REPO, assert_problem, media_type, wait_until

NGINX_DIR = os.path.join(REPO, "deploy", "nginx")
SITE = os.path.join(NGINX_DIR, "usermgr.conf")
ERRORS = os.path.join(NGINX_DIR, "usermgr-errors.conf")
HOST = "usermgr.example.com"
HSTS = "max-age=63072000; includeSubDomains"
# API.md §2: what every answer carries, worker's or nginx's; HSTS on top over TLS.
SECURITY_HEADERS = {"X-Content-Type-Options": "nosniff", "Referrer-Policy": "same-origin",
                    "Content-Security-Policy": CSP, "Strict-Transport-Security": HSTS}
# The site's flood limit on authentication POSTs: limit_req ... burst=60 nodelay (10 r/s), twice
# the default USERMGR_RATE_PER_IP_PER_MIN (API.md §8: never stricter than the worker's limit).
BURST = 60

# Source addresses 127.47.x.y: a block apart from those of accounts_lib, api_lib and mail_lib.
next_address = address_pool(47)


class ProductionNginx(ExtraNginx):
    def __init__(self, stack):
        super().__init__(stack, "production-nginx", ports=2)
        self.http_port, self.https_port = self.ports
        self.cert = os.path.join(self.dir, "cert.pem")
        self.key = os.path.join(self.dir, "key.pem")

    def site(self):
        """usermgr.conf with the deployment's own values put in, nothing else touched."""
        with open(SITE) as f:
            text = f.read()
        for old, new in (
                ("/etc/letsencrypt/live/%s/fullchain.pem" % HOST, self.cert),
                ("/etc/letsencrypt/live/%s/privkey.pem" % HOST, self.key),
                ("listen 80;", "listen 127.0.0.1:%d;" % self.http_port),
                ("listen 443 ssl http2;", "listen 127.0.0.1:%d ssl http2;" % self.https_port),
                ("listen [::]:80;", ""),
                ("listen [::]:443 ssl http2;", ""),
                ("/var/log/nginx/", self.dir + "/"),
                ("include snippets/fastcgi-usermgr.conf;",
                 'include "%s";' % os.path.join(NGINX_DIR, "fastcgi-usermgr.conf")),
                ("include snippets/usermgr-errors.conf;", 'include "%s";' % ERRORS),
                ("unix:/run/usermgr/usermgr.sock", "unix:" + self.socket()),
                # /readyz's own workers, which deploy/local/run starts beside the pool.
                ("unix:/run/usermgr/usermgr-ops.sock",
                 "unix:" + os.path.join(os.path.dirname(self.socket()), "usermgr-ops.sock")),
                ("alias /usr/local/share/usermgr/static/;",
                 'alias "%s/";' % os.path.join(REPO, "static")),
                # OCSP stapling fetches the responder's answer over the network, which the test
                # machine has none of (and a self-signed certificate has no responder anyway).
                ("ssl_stapling on;", "ssl_stapling off;"),
                ("ssl_stapling_verify on;", "ssl_stapling_verify off;")):
            assert old in text, "deploy/nginx/usermgr.conf no longer holds %r" % old
            text = text.replace(old, new)
        directives = re.sub(r"#[^\n]*", "", text)
        left = re.findall(r"(?:(?<=\s)|(?<=unix:))(?:/etc/|/run/|/var/log/|snippets/)\S*"
                          r"|listen (?!127\.0\.0\.1:)\S*", directives)
        assert not left, "deployment-specific values the test does not fill in: %s" % left
        return text

    def start(self):
        os.makedirs(self.dir, exist_ok=True)
        # The name only, no IP address: verification passes only if the client really asks
        # for usermgr.example.com.
        out = subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
             "-subj", "/CN=" + HOST, "-addext", "subjectAltName=DNS:" + HOST,
             "-keyout", self.key, "-out", self.cert],
            capture_output=True, timeout=60)
        assert out.returncode == 0, out.stderr.decode()
        site = self.write("usermgr.conf", self.site())
        return super().start('\tinclude "%s";' % site,
                             "test_nginx_production.py: deploy/nginx/usermgr.conf, filled in.")

    def https_session(self, address=None):
        """A requests session to https://usermgr.example.com on this nginx, from ADDRESS."""
        session = requests.Session()
        session.mount("https://", HostAdapter(address or next_address()))
        return session

    def https(self, method, path, session=None, **kw):
        kw.setdefault("timeout", HTTP_TIMEOUT)
        kw.setdefault("allow_redirects", False)
        # Per request: a session's `verify` loses to REQUESTS_CA_BUNDLE in the environment.
        kw.setdefault("verify", self.cert)
        session = session or self.https_session()
        return session.request(method, "https://127.0.0.1:%d%s" % (self.https_port, path),
                               headers={"Host": HOST, **kw.pop("headers", {})}, **kw)

    def tls(self, context, address=None):
        """A TLS socket to the HTTPS port with SNI usermgr.example.com."""
        raw = socket.create_connection(("127.0.0.1", self.https_port), timeout=HTTP_TIMEOUT,
                                       source_address=(address or next_address(), 0))
        try:
            return context.wrap_socket(raw, server_hostname=HOST)
        except BaseException:
            raw.close()
            raise


class HostAdapter(HTTPAdapter):
    """Connections from one loopback address to 127.0.0.1 with SNI and certificate check for
    usermgr.example.com (no resolver entry needed)."""

    def __init__(self, address, **kw):
        self.address = address
        super().__init__(**kw)

    def init_poolmanager(self, *args, **kw):
        kw["source_address"] = (self.address, 0)
        kw["server_hostname"] = HOST
        super().init_poolmanager(*args, **kw)


@pytest.fixture(scope="module")
def site(stack):
    ngx = ProductionNginx(stack)
    try:
        yield ngx.start()
    finally:
        ngx.stop()


def assert_headers_once(r):
    """The security headers of API.md §2 and HSTS, each exactly once (not doubled by nginx)."""
    for name, value in SECURITY_HEADERS.items():
        seen = r.raw.headers.getlist(name)
        assert seen == [value], "%s: %r (all headers: %r)" % (name, seen, r.raw.headers.items())


def rate_limited_body():
    """The exact body of nginx's own 429 (usermgr-errors.conf, location @rate_limited)."""
    with open(ERRORS) as f:
        m = re.search(r"location @rate_limited \{.*?return 429 '([^']*)';", f.read(), re.S)
    assert m, "usermgr-errors.conf no longer answers 429 with a fixed body"
    body = m.group(1)
    assert json.loads(body)["code"] == "rate_limited"
    return body


# --- the worker behind TLS ---------------------------------------------------------------------

def test_the_worker_answers_over_tls_with_hsts_and_each_security_header_once(site):
    r = site.https("GET", "/healthz")
    assert r.status_code == 200 and r.json() == {"status": "ok"}, (r.status_code, r.text[:300])
    assert_headers_once(r)
    r = site.https("GET", "/login")
    assert r.status_code == 200 and media_type(r) == "text/html", r.status_code
    assert_headers_once(r)


def test_readyz_is_answered_by_its_own_workers_with_the_headers(site):
    """/readyz goes only to the workers of usermgr-ops.sock (usermgr-ops.service): a 200 here
    means the production site reaches them, not the main pool."""
    r = site.https("GET", "/readyz")
    assert r.status_code == 200 and r.json() == {"status": "ok"}, (r.status_code, r.text[:300])
    assert_headers_once(r)


def test_the_certificate_is_checked_against_the_host_name(site):
    ctx = ssl.create_default_context(cafile=site.cert)
    with site.tls(ctx) as tls:
        assert tls.getpeercert()["subject"] == ((("commonName", HOST),),)
    # The same certificate does not pass for another name: the clients above really used SNI.
    raw = socket.create_connection(("127.0.0.1", site.https_port), timeout=HTTP_TIMEOUT,
                                   source_address=(next_address(), 0))
    with raw, pytest.raises(ssl.SSLCertVerificationError):
        ctx.wrap_socket(raw, server_hostname="127.0.0.1")


def test_plain_http_is_a_permanent_redirect_to_https(site):
    session = bound_session(next_address())
    for path in ("/login", "/login?next=/profile"):
        r = session.get("http://127.0.0.1:%d%s" % (site.http_port, path),
                        headers={"Host": HOST}, allow_redirects=False, timeout=HTTP_TIMEOUT)
        assert r.status_code == 301, r.status_code
        assert r.headers["Location"] == "https://%s%s" % (HOST, path), r.headers


# --- what nginx answers itself -----------------------------------------------------------------

def test_static_files_are_cached_a_day_and_carry_the_headers(site):
    r = site.https("GET", "/static/style.css")
    assert r.status_code == 200 and media_type(r) == "text/css", (r.status_code, r.headers)
    assert r.raw.headers.getlist("Cache-Control") == ["public, max-age=86400"], r.headers
    assert_headers_once(r)


def test_a_missing_static_file_is_a_404_problem(site):
    r = site.https("GET", "/static/nope.css")
    assert_problem(r, 404, "not_found")
    assert_headers_once(r)


def test_a_body_over_64_kib_is_a_413_problem(site):
    r = site.https("POST", "/api/v1/users", data=b"x" * (BODY_MAX + 1),
                   headers={"Content-Type": "application/json"})
    assert_problem(r, 413, "payload_too_large")
    assert_headers_once(r)


def test_trace_goes_to_the_worker_for_its_allow(site):
    r = site.https("TRACE", "/healthz")
    assert_problem(r, 405, "method_not_allowed")
    assert r.headers.get("Allow") == "GET, HEAD"
    assert_headers_once(r)


def test_metrics_answer_on_loopback(site):
    """API.md §6: loopback only — all of 127.0.0.0/8 (and ::1), nothing else."""
    for address in ("127.0.0.1", next_address()):
        r = site.https("GET", "/metrics", session=site.https_session(address))
        assert r.status_code == 200, (address, r.status_code, r.text[:300])
        assert media_type(r) == "text/plain", r.headers
        assert_headers_once(r)
    with open(SITE) as f:
        rules = re.findall(r"location = /metrics \{(.*?)\}", f.read(), re.S)
    assert len(rules) == 1
    assert re.findall(r"(allow|deny) ([^;]+);", rules[0]) == [
        ("allow", "127.0.0.0/8"), ("allow", "::1"), ("deny", "all")], rules[0]


# --- TLS ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3])
def test_tls_1_2_and_1_3_are_offered_with_forward_secret_aead_suites(site, version):
    ctx = ssl.create_default_context(cafile=site.cert)
    ctx.minimum_version = ctx.maximum_version = version
    ctx.set_alpn_protocols(["h2", "http/1.1"])
    with site.tls(ctx) as tls:
        assert tls.version() == {ssl.TLSVersion.TLSv1_2: "TLSv1.2",
                                 ssl.TLSVersion.TLSv1_3: "TLSv1.3"}[version]
        assert tls.selected_alpn_protocol() == "h2"  # listen ... http2
        cipher = tls.cipher()[0]
        assert "GCM" in cipher or "CHACHA20" in cipher, cipher
        if version == ssl.TLSVersion.TLSv1_2:
            assert cipher.startswith("ECDHE-"), cipher
    ctx.set_alpn_protocols(["http/1.1"])
    with site.tls(ctx) as tls:
        tls.sendall(b"GET /healthz HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n"
                    % HOST.encode())
        reply = b""
        while chunk := tls.recv(65536):
            reply += chunk
    assert reply.startswith(b"HTTP/1.1 200 "), reply[:200]
    assert json.loads(reply.split(b"\r\n\r\n", 1)[1]) == {"status": "ok"}


@pytest.mark.filterwarnings("ignore:ssl.TLSVersion.TLSv1:DeprecationWarning")
@pytest.mark.parametrize("version", ["TLSv1", "TLSv1_1"])
def test_tls_1_0_and_1_1_are_refused_by_the_server(site, version):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(site.cert)
    ctx.minimum_version = ctx.maximum_version = getattr(ssl.TLSVersion, version)
    # OpenSSL 3's default security level forbids these versions in the client already; level 0
    # lets it offer them, so the refusal seen is the server's.
    ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
    with pytest.raises(ssl.SSLError) as e:
        site.tls(ctx).close()
    # The server's alert, not "no protocols available" on the client's side.
    assert e.value.reason == "TLSV1_ALERT_PROTOCOL_VERSION", e.value


# --- the flood limit ---------------------------------------------------------------------------

def test_the_flood_limit_answers_429_after_the_burst(site):
    # POST /api/v1/auth/refresh is under nginx's limit but not under the worker's per-IP limit
    # (API.md §1: login, register, forgot-password, resend), and a junk token is the worker's
    # 401: every 429 here is nginx's.
    expected = rate_limited_body()
    address = next_address()
    session = site.https_session(address)
    statuses, limited = [], None
    for _ in range(400):
        r = site.https("POST", "/api/v1/auth/refresh", session=session,
                       json={"refresh_token": "junk"})
        statuses.append(r.status_code)
        if r.status_code == 429:
            limited = r
            break
        assert_problem(r, 401, "invalid_token")  # the worker's answer to a junk token
    assert limited is not None, "no 429 after %d rapid POSTs from one address" % len(statuses)
    # 1 + burst pass at once (nodelay); time only adds to that.
    assert len(statuses) > BURST + 1, statuses
    assert limited.text == expected, limited.text
    assert media_type(limited) == "application/problem+json"
    assert limited.raw.headers.getlist("Retry-After") == ["1"], limited.headers
    assert_headers_once(limited)
    # Only POSTs count, and only per address.
    r = site.https("GET", "/api/v1/auth/refresh", session=session)
    assert_problem(r, 405, "method_not_allowed")  # the worker's answer, not nginx's 429
    r = site.https("POST", "/api/v1/auth/refresh", json={"refresh_token": "junk"})
    assert_problem(r, 401, "invalid_token")
    # 10 r/s: a moment later that address is let through again.
    time.sleep(1)
    r = site.https("POST", "/api/v1/auth/refresh", session=session,
                   json={"refresh_token": "junk"})
    assert_problem(r, 401, "invalid_token")


def test_the_error_log_never_holds_a_token_from_a_mailed_link(site):
    """nginx writes the request line into every error it logs about a request; the mailed-link
    paths carry their token in the query string (API.md §5), so their errors are not logged
    (issue 10, item 17).  The same error elsewhere is, which shows the log works."""
    log = os.path.join(site.dir, "usermgr-error.log")

    def text():
        try:
            with open(log, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""
    secret = "SECRET%s" % os.urandom(8).hex()
    big = b"x" * (BODY_MAX + 1)
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    for path in ("/reset-password", "/confirm-email", "/verify-email", "/verify_email",
                 "/account/not-me"):
        r = site.https("POST", "%s?token=%s" % (path, secret), data=big, headers=form)
        assert_problem(r, 413, "payload_too_large")
    marker = "MARKER%s" % os.urandom(8).hex()
    r = site.https("POST", "/profile?next=%s" % marker, data=big, headers=form)
    assert_problem(r, 413, "payload_too_large")
    assert wait_until(lambda: marker in text(), 10), "nginx logged no error for a 413"
    assert secret not in text(), "a link token is in the production error log"
