"""fake_smtp: a loopback SMTP server (aiosmtpd) that records what the mailer's smtp transport delivers.

Real SMTP on 127.0.0.1 stands in for a provider that cannot be reached here (STYLE.md "Tests").
Each delivery is kept with its envelope and the message parsed by the email package, so tests
can check headers, both MIME parts and the decoded link.  Optional AUTH (PLAIN/LOGIN), optional
STARTTLS (tls=(certfile, keyfile): offered and then required before AUTH and MAIL, as a real
provider does), and switchable failures: 451 (temporary: the mailer retries) or 550
(permanent: the mailer marks the message failed).  auth_attempts counts every AUTH the server
saw, so a test can tell that credentials never crossed a plain connection.

    with FakeSMTP(user="u", password="p") as smtp:
        env["USERMGR_SMTP_URL"] = smtp.url
        smtp.fail(451, count=1)
        ...
        msg = smtp.wait_for(1)[0]
        assert msg.message["Subject"] == "..."

Standalone: /usr/bin/python3 tests/integration/fake_smtp.py [--port N] [--user U --password P]
prints the smtp:// URL, then one line per delivery.
"""

import argparse
import email
import email.policy
import logging
import socket
import ssl
import subprocess
import sys
import threading
import time
import warnings

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

# AUTH without TLS is deliberate here: the server listens on loopback only.
warnings.filterwarnings("ignore", message="Requiring AUTH while not requiring TLS")
# aiosmtpd logs that same warning, and a deprecation of its own, on every session.
logging.getLogger("mail.log").setLevel(logging.ERROR)


def free_port(host="127.0.0.1"):
    """A port nothing listens on right now (aiosmtpd's Controller needs a fixed one)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


class Delivery:
    """One accepted message."""

    def __init__(self, mail_from, rcpt_tos, data, auth_login):
        self.mail_from = mail_from
        self.rcpt_tos = list(rcpt_tos)
        self.data = data                      # bytes, as received (dot-unstuffed)
        self.auth_login = auth_login
        self.received_at = time.time()
        self.message = email.message_from_bytes(data, policy=email.policy.default)

    def text(self):
        """The decoded text/plain part."""
        return self.message.get_body(("plain",)).get_content()

    def html(self):
        return self.message.get_body(("html",)).get_content()

    def __repr__(self):
        return "<Delivery from=%s to=%s subject=%r>" % (self.mail_from, self.rcpt_tos,
                                                         self.message["Subject"])


class _Handler:
    def __init__(self, fake):
        self.fake = fake

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        code = self.fake._take_failure()
        if code is not None:
            if code >= 500:
                return "550 5.1.1 <%s>: recipient rejected" % address
            return "451 4.3.0 temporary failure, try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        login = None
        if session.auth_data is not None:
            login = getattr(session.auth_data, "login", None)
            if isinstance(login, bytes):
                login = login.decode("utf-8", "replace")
        d = Delivery(envelope.mail_from, envelope.rcpt_tos, envelope.original_content or envelope.content,
                     login)
        self.fake._record(d)
        return "250 2.0.0 Message accepted for delivery"


class FakeSMTP:
    """The server; thread-safe.  With user set, AUTH is required before MAIL."""

    def __init__(self, host="127.0.0.1", port=0, user=None, password=None, echo=False,
                 tls=None):
        self.host = host
        self.port = port or free_port(host)
        self.user = user
        self.password = password
        self.echo = echo
        self._cond = threading.Condition()
        self._deliveries = []
        self._fail_code = None
        self._fail_count = None
        self.auth_failures = 0
        self.auth_attempts = 0
        kw = {}
        if user is not None:
            kw = dict(authenticator=self._authenticate, auth_required=True,
                      auth_require_tls=tls is not None)
        if tls is not None:
            ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            ctx.load_cert_chain(*tls)
            kw.update(tls_context=ctx, require_starttls=True)
        self._controller = Controller(_Handler(self), hostname=host, port=self.port, **kw)

    @property
    def url(self):
        return "smtp://127.0.0.1:%d" % self.port

    def _authenticate(self, server, session, envelope, mechanism, auth_data):
        with self._cond:
            self.auth_attempts += 1
        if isinstance(auth_data, LoginPassword):
            login = auth_data.login.decode("utf-8", "replace")
            pw = auth_data.password.decode("utf-8", "replace")
            if login == self.user and pw == self.password:
                return AuthResult(success=True, auth_data=auth_data)
        with self._cond:
            self.auth_failures += 1
        return AuthResult(success=False, handled=False)

    def start(self):
        self._controller.start()
        return self

    def stop(self):
        self._controller.stop()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def fail(self, code, count=None):
        """Refuses the next count recipients (all, when None) with code 451 or 550; None stops."""
        with self._cond:
            self._fail_code = code
            self._fail_count = count

    def _take_failure(self):
        with self._cond:
            code = self._fail_code
            if code is not None and self._fail_count is not None:
                self._fail_count -= 1
                if self._fail_count <= 0:
                    self._fail_code, self._fail_count = None, None
            return code

    def _record(self, d):
        with self._cond:
            self._deliveries.append(d)
            self._cond.notify_all()
        if self.echo:
            print("%s -> %s: %s" % (d.mail_from, ",".join(d.rcpt_tos), d.message["Subject"]), flush=True)

    @property
    def messages(self):
        with self._cond:
            return list(self._deliveries)

    def reset(self):
        with self._cond:
            self._deliveries.clear()
            self._fail_code = self._fail_count = None

    def wait_for(self, n, timeout=30.0):
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self._deliveries) < n:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError("fake SMTP got %d message(s), expected %d"
                                         % (len(self._deliveries), n))
                self._cond.wait(left)
            return list(self._deliveries)


def make_certificate(directory, host="127.0.0.1"):
    """A self-signed certificate for HOST (an IP address) and its key, made by openssl(1) in
    DIRECTORY; returns (certfile, keyfile).  The certificate is its own CA: a client that is
    given it as its CA file verifies the server, name included."""
    cert, key = directory + "/smtp-cert.pem", directory + "/smtp-key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=" + host, "-addext", "subjectAltName=IP:" + host,
                    "-keyout", key, "-out", cert], check=True, capture_output=True, timeout=60)
    return cert, key


def main(argv=None):
    p = argparse.ArgumentParser(description="A recording SMTP server on 127.0.0.1.")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--user")
    p.add_argument("--password")
    args = p.parse_args(argv)
    smtp = FakeSMTP(port=args.port, user=args.user, password=args.password, echo=True).start()
    print(smtp.url, flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        smtp.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
