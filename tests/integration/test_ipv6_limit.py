"""test_ipv6_limit.py: the per-IP limit counts an IPv6 client per /64 (hardening item 11).

One IPv6 host usually holds a whole /64 and may pick any address in it, so counting per full
address would give it 2^64 budgets.  The stack's nginx listens on IPv4 loopback only, so the
requests go straight to the worker pool's FastCGI socket with libfcgi's own client (`cgi-fcgi`
from Debian's libfcgi-bin), which lets each carry the REMOTE_ADDR nginx would have passed.
"""

import os
import shutil
import subprocess

import pytest

from stack import assert_problem, burst_in_one_window

PER_IP = 30  # USERMGR_RATE_PER_IP_PER_MIN, the default the test stack runs with


class Answer:
    """A CGI-style answer of cgi-fcgi: status, headers, JSON body."""

    def __init__(self, raw):
        head, _, body = raw.partition(b"\r\n\r\n")
        self.headers = {}
        for line in head.split(b"\r\n"):
            k, _, v = line.decode("latin-1").partition(":")
            self.headers[k.strip()] = v.strip()
        self.status_code = int(self.headers.get("Status", "200").split()[0])
        self.text = body.decode("utf-8", "replace")
        self.content = body

    def json(self):
        import json
        return json.loads(self.text)


def fastcgi(stack, method, path, body, remote_addr):
    """One request to the worker pool's socket as nginx would send it from REMOTE_ADDR."""
    tool = shutil.which("cgi-fcgi")
    if tool is None:
        subprocess.run(["apt-get", "install", "-y", "-q", "libfcgi-bin"], check=True,
                       stdout=subprocess.DEVNULL)
        tool = shutil.which("cgi-fcgi")
    # cgi-fcgi passes its whole environment as the request's parameters: only these.
    env = {
        "GATEWAY_INTERFACE": "CGI/1.1", "SERVER_SOFTWARE": "nginx", "REQUEST_METHOD": method,
        "REQUEST_URI": path, "DOCUMENT_URI": path, "SCRIPT_NAME": path, "QUERY_STRING": "",
        "CONTENT_TYPE": "application/json", "CONTENT_LENGTH": str(len(body)),
        "SERVER_PROTOCOL": "HTTP/1.1", "REQUEST_SCHEME": "http", "REMOTE_ADDR": remote_addr,
        "REMOTE_PORT": "50000", "SERVER_ADDR": "127.0.0.1", "SERVER_PORT": str(stack.port),
        "SERVER_NAME": "localhost", "HTTP_HOST": "127.0.0.1:%d" % stack.port,
        "REQUEST_ID": os.urandom(16).hex(),
    }
    out = subprocess.run([tool, "-bind", "-connect", stack.run_file("usermgr.sock")],
                         input=body, env=env, capture_output=True, timeout=30)
    assert out.returncode == 0, out.stderr.decode()
    return Answer(out.stdout)


def login_from(stack, address):
    body = b'{"login": "nobody-ipv6-test", "password": "Wrong-password-for-nobody-1"}'
    return fastcgi(stack, "POST", "/api/v1/auth/login", body, address)


@pytest.mark.parametrize("net", ["2001:db8:4:1", "2001:db8:4:2"])
def test_addresses_of_one_ipv6_64_share_one_budget_and_another_64_has_its_own(stack, net):
    # Every request from another address of the same /64.
    def send(i):
        return login_from(stack, "%s::%x" % (net, i + 1))

    results = burst_in_one_window(send, PER_IP + 1)
    for r in results[:PER_IP]:
        assert_problem(r, 401, "invalid_credentials")
    assert_problem(results[PER_IP], 429, "rate_limited")
    # The neighbouring /64 (another customer of the same provider) is not held back.
    other = net.rsplit(":", 1)[0] + ":%x" % (int(net.rsplit(":", 1)[1], 16) + 0x100)
    assert_problem(login_from(stack, other + "::1"), 401, "invalid_credentials")
