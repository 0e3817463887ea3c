"""test_ipv6_limit.py: the per-IP limit counts an IPv6 client per /64 (hardening item 11).

One IPv6 host usually holds a whole /64 and may pick any address in it, so counting per full
address would give it 2^64 budgets.  The stack's nginx listens on IPv4 loopback only, so the
requests go straight to the worker pool's FastCGI socket with libfcgi's own client (`cgi-fcgi`
from Debian's libfcgi-bin), which lets each carry the REMOTE_ADDR nginx would have passed.
"""

import pytest

from peers import fastcgi_request
from stack import assert_problem, burst_in_one_window

PER_IP = 30  # USERMGR_RATE_PER_IP_PER_MIN, the default the test stack runs with


def fastcgi(stack, method, path, body, remote_addr):
    """One request to the worker pool's socket as nginx would send it from REMOTE_ADDR."""
    return fastcgi_request(stack.run_file("usermgr.sock"), stack.port, method, path, body,
                           remote_addr)


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
