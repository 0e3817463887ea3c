"""test_nginx_production.py: deploy/nginx/usermgr.conf, the production site, really serves usermgr.

The file is used as shipped, with only what a deployment fills in replaced (certificate, ports,
log directory, where the snippets, the worker socket and the static files are), each replacement
asserted to have matched so the test notices when the file changes shape.  A real nginx runs it
over TLS with a self-signed certificate in front of the test stack's worker pool.
"""

import json
import os
import socket
import ssl
import subprocess

import pytest
import requests

from nginx_lib import ExtraNginx
from stack import CSP, HTTP_TIMEOUT, REPO, assert_problem

SITE = os.path.join(REPO, "deploy", "nginx", "usermgr.conf")
HOST = "usermgr.example.com"
HSTS = "max-age=63072000; includeSubDomains"


class ProductionNginx(ExtraNginx):
    def __init__(self, stack):
        super().__init__(stack, "production-nginx", ports=2)
        self.http_port, self.https_port = self.ports
        self.cert = os.path.join(self.dir, "cert.pem")

    def site(self):
        """usermgr.conf with the deployment's own values put in."""
        with open(SITE) as f:
            text = f.read()
        nginx_dir = os.path.join(REPO, "deploy", "nginx")
        for old, new in (
                ("/etc/letsencrypt/live/%s/fullchain.pem" % HOST, self.cert),
                ("/etc/letsencrypt/live/%s/privkey.pem" % HOST, os.path.join(self.dir, "key.pem")),
                ("listen 80;", "listen 127.0.0.1:%d;" % self.http_port),
                ("listen 443 ssl http2;", "listen 127.0.0.1:%d ssl http2;" % self.https_port),
                ("listen [::]:80;", ""),
                ("listen [::]:443 ssl http2;", ""),
                ("/var/log/nginx/", self.dir + "/"),
                ("snippets/fastcgi-usermgr.conf", os.path.join(nginx_dir, "fastcgi-usermgr.conf")),
                ("snippets/usermgr-errors.conf", os.path.join(nginx_dir, "usermgr-errors.conf")),
                ("unix:/run/usermgr/usermgr.sock", "unix:" + self.socket()),
                ("/usr/local/share/usermgr/static/", os.path.join(REPO, "static") + "/"),
                # OCSP stapling asks the CA over the network, which this machine cannot reach.
                ("ssl_stapling on;", "ssl_stapling off;"),
                ("ssl_stapling_verify on;", "ssl_stapling_verify off;")):
            assert old in text, "deploy/nginx/usermgr.conf no longer holds %r" % old
            text = text.replace(old, new)
        return text

    def start(self):
        os.makedirs(self.dir, exist_ok=True)
        out = subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
             "-subj", "/CN=" + HOST, "-addext", "subjectAltName=DNS:%s,IP:127.0.0.1" % HOST,
             "-keyout", os.path.join(self.dir, "key.pem"), "-out", self.cert],
            capture_output=True, timeout=60)
        assert out.returncode == 0, out.stderr.decode()
        site = self.write("usermgr.conf", self.site())
        return super().start('\tinclude "%s";' % site,
                             "test_nginx_production.py: deploy/nginx/usermgr.conf, filled in.")

    def https(self, method, path, **kw):
        kw.setdefault("timeout", HTTP_TIMEOUT)
        kw.setdefault("allow_redirects", False)
        kw.setdefault("verify", self.cert)
        headers = dict(kw.pop("headers", None) or {})
        headers.setdefault("Host", HOST)
        return requests.request(method, "https://127.0.0.1:%d%s" % (self.https_port, path),
                                headers=headers, **kw)


@pytest.fixture(scope="module")
def site(stack):
    ngx = ProductionNginx(stack)
    try:
        yield ngx.start()
    finally:
        ngx.stop()


def assert_headers_once(r):
    """The security headers of API.md §2 and HSTS, each exactly once (not doubled by nginx)."""
    assert r.headers.get("Strict-Transport-Security") == HSTS, r.headers
    assert r.headers.get("X-Content-Type-Options") == "nosniff", r.headers
    assert r.headers.get("Referrer-Policy") == "same-origin", r.headers
    assert r.headers.get("Content-Security-Policy") == CSP, r.headers


def test_the_worker_answers_over_tls_with_hsts_and_each_security_header_once(site):
    r = site.https("GET", "/healthz")
    assert r.status_code == 200 and r.json() == {"status": "ok"}
    assert_headers_once(r)
    r = site.https("GET", "/login")
    assert r.status_code == 200 and "text/html" in r.headers["Content-Type"]
    assert_headers_once(r)


def test_plain_http_is_a_permanent_redirect_to_https(site):
    r = requests.get("http://127.0.0.1:%d/login?next=/profile" % site.http_port,
                     headers={"Host": HOST}, allow_redirects=False, timeout=HTTP_TIMEOUT)
    assert r.status_code == 301
    assert r.headers["Location"] == "https://%s/login?next=/profile" % HOST


def test_static_files_are_cached_a_day_and_carry_the_headers(site):
    r = site.https("GET", "/static/style.css")
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/css")
    assert r.headers.get("Cache-Control") == "public, max-age=86400"
    assert_headers_once(r)


def test_nginx_s_own_errors_are_problems_with_hsts(site):
    r = site.https("GET", "/static/no-such-file.css")
    assert_problem(r, 404, "not_found")
    assert_headers_once(r)
    r = site.https("POST", "/api/v1/users", data=b"x" * 70000,
                   headers={"Content-Type": "application/json"})
    assert_problem(r, 413, "payload_too_large")
    assert_headers_once(r)
    r = site.https("TRACE", "/healthz")
    assert_problem(r, 405, "method_not_allowed")
    assert r.headers.get("Allow") == "GET, HEAD"


def test_metrics_answer_on_loopback(site):
    r = site.https("GET", "/metrics")
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/plain")


@pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3])
def test_tls_1_2_and_1_3_are_offered_with_forward_secret_aead_suites(site, version):
    ctx = ssl.create_default_context(cafile=site.cert)
    ctx.minimum_version = ctx.maximum_version = version
    with socket.create_connection(("127.0.0.1", site.https_port), timeout=HTTP_TIMEOUT) as raw:
        with ctx.wrap_socket(raw, server_hostname=HOST) as tls:
            assert tls.version() == {ssl.TLSVersion.TLSv1_2: "TLSv1.2",
                                     ssl.TLSVersion.TLSv1_3: "TLSv1.3"}[version]
            cipher = tls.cipher()[0]
            assert "GCM" in cipher or "CHACHA20" in cipher, cipher
            if version == ssl.TLSVersion.TLSv1_2:
                assert cipher.startswith("ECDHE-"), cipher
            tls.sendall(b"GET /healthz HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n"
                        % HOST.encode())
            reply = b""
            while chunk := tls.recv(65536):
                reply += chunk
    assert reply.startswith(b"HTTP/1.1 200 ")
    assert json.loads(reply.split(b"\r\n\r\n", 1)[1]) == {"status": "ok"}
