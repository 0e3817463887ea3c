"""test_db_tls.py: TLS between usermgr and MariaDB over TCP (USERMGR_DB_SSL_MODE, USERMGR_DB_SSL_CA).

A private mariadbd of its own (not the stack's, which has no TCP at all) listens on a free port of
127.0.0.1 and 127.0.0.2 with a server certificate made here by `openssl` for 127.0.0.1 and
localhost, signed by a CA made here; a second CA signed nothing of it. usermgr-admin from the
stack's build connects as an operator would configure it, and one FastCGI worker under
spawn-fcgi shows what users see when TLS fails: the 503 of any database outage. The server is
stopped by PID at the end; its last test restarts it without TLS.
"""

import os
import pwd
import signal
import socket
import struct
import subprocess
import time

import pytest

from stack import REPO, free_port, read_text
from test_cli import ADMIN, cli_env

WORKER = os.path.join(REPO, "build", "usermgr.fcgi")
PASSWORD = "tls-test-password-31"


def openssl(*args, cwd):
    out = subprocess.run(["openssl"] + list(args), cwd=cwd, capture_output=True, timeout=60)
    assert out.returncode == 0, "openssl %s: %s" % (args[0], out.stderr.decode())


def make_certificates(d):
    """ca.pem signs server.pem (127.0.0.1 and localhost); other.pem is a CA that signed nothing."""
    for name, cn in (("ca", "usermgr test CA"), ("other", "another CA")):
        openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
                "/CN=" + cn, "-keyout", name + ".key", "-out", name + ".pem", cwd=d)
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1", "-keyout",
            "server.key", "-out", "server.csr", cwd=d)
    with open(os.path.join(d, "server.ext"), "w") as f:
        f.write("subjectAltName = IP:127.0.0.1, DNS:localhost\nbasicConstraints = CA:FALSE\n")
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
            "-CAcreateserial", "-days", "2", "-extfile", "server.ext", "-out", "server.pem",
            cwd=d)


class PrivateMariaDB:
    """A mariadbd with its own datadir, socket and pid file, on loopback TCP only."""

    def __init__(self, d):
        self.dir = d
        self.sock = os.path.join(d, "mysqld.sock")
        self.port = free_port()
        self.proc = None
        self.log = os.path.join(d, "mariadb.log")
        self.user = pwd.getpwuid(os.geteuid()).pw_name

    def install(self):
        out = subprocess.run(["mariadb-install-db", "--no-defaults",
                              "--datadir=" + os.path.join(self.dir, "data"),
                              "--auth-root-authentication-method=normal", "--user=" + self.user,
                              "--skip-test-db"], capture_output=True, timeout=180)
        assert out.returncode == 0, "mariadb-install-db: %s" % out.stderr.decode()[-2000:]

    def start(self, tls=True):
        # deploy/local/lib.sh's um_mariadbd_args, with TCP on two loopback addresses instead of
        # --skip-networking: 127.0.0.2 is a name the certificate does not carry.
        args = ["mariadbd", "--no-defaults", "--datadir=" + os.path.join(self.dir, "data"),
                "--socket=" + self.sock, "--pid-file=" + os.path.join(self.dir, "mysqld.pid"),
                "--port=%d" % self.port, "--bind-address=127.0.0.1,127.0.0.2",
                "--log-error=" + self.log, "--user=" + self.user,
                "--character-set-server=utf8mb4", "--collation-server=utf8mb4_unicode_ci",
                "--default-time-zone=+00:00", "--skip-name-resolve"]
        if tls:
            args += ["--ssl-ca=" + os.path.join(self.dir, "ca.pem"),
                     "--ssl-cert=" + os.path.join(self.dir, "server.pem"),
                     "--ssl-key=" + os.path.join(self.dir, "server.key")]
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + 60
        while subprocess.run(["mariadb-admin", "--no-defaults", "--socket=" + self.sock,
                              "--connect-timeout=2", "-u", "root", "ping"],
                             capture_output=True, timeout=30).returncode != 0:
            assert self.proc.poll() is None, "mariadbd exited: %s" % read_text(self.log)[-2000:]
            assert time.monotonic() < deadline, "mariadbd did not answer within 60 s"
            time.sleep(0.2)

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.proc = None

    def sql(self, statement):
        out = subprocess.run(["mariadb", "--no-defaults", "--socket=" + self.sock, "-u", "root",
                              "-N", "-B", "-e", statement], capture_output=True, timeout=30)
        assert out.returncode == 0, "mariadb: %s" % out.stderr.decode()
        return out.stdout.decode()


@pytest.fixture(scope="module")
def db(stack, tmp_path_factory):
    """The TLS server, with database usermgr and two accounts: `plain`, and `tls_only`, which
    MariaDB lets in over TLS only (REQUIRE SSL). Needs the stack for its build and its keys."""
    d = str(tmp_path_factory.mktemp("dbtls"))
    make_certificates(d)
    server = PrivateMariaDB(d)
    server.install()
    try:
        server.start(tls=True)
        server.sql("CREATE DATABASE usermgr CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;"
                   " CREATE USER 'plain'@'%%' IDENTIFIED BY '%(pw)s';"
                   " GRANT ALL PRIVILEGES ON usermgr.* TO 'plain'@'%%';"
                   " CREATE USER 'tls_only'@'%%' IDENTIFIED BY '%(pw)s' REQUIRE SSL;"
                   " GRANT ALL PRIVILEGES ON usermgr.* TO 'tls_only'@'%%';" % {"pw": PASSWORD})
        yield server
    finally:
        server.stop()


def env(stack, db, user="tls_only", host="127.0.0.1", **extra):
    """usermgr-admin's environment for the TLS server: TCP, the test's account, EXTRA on top."""
    settings = dict(USERMGR_DB_SOCKET=None, USERMGR_DB_HOST=host,
                    USERMGR_DB_PORT=str(db.port), USERMGR_DB_USER=user,
                    USERMGR_DB_PASSWORD=PASSWORD, USERMGR_DB_PASSWORD_FILE=None)
    settings.update(extra)
    return cli_env(stack, **settings)


def admin(stack, db, *args, **kw):
    """Runs usermgr-admin ARGS against the TLS server; returns (exit status, stderr + stdout)."""
    out = subprocess.run([ADMIN] + list(args), env=env(stack, db, **kw), capture_output=True,
                         timeout=120)
    assert PASSWORD not in (out.stderr + out.stdout).decode(), "the password was printed"
    return out.returncode, (out.stderr + out.stdout).decode("utf-8", "replace")


def ca(db, name="ca"):
    return os.path.join(db.dir, name + ".pem")


def tls_refusals(text):
    """The messages of the log lines about TLS refusals (fcgi/core/db.c tls_failed)."""
    return [line.split(" db: ", 1)[1] for line in text.splitlines()
            if " db: no connection to " in line]


def refused(db, mode, reason, host="127.0.0.1"):
    return "no connection to %s:%d (USERMGR_DB_SSL_MODE=%s): %s" % (host, db.port, mode, reason)


UNVERIFIED = ("the server's certificate was not verified: TLS/SSL error: self-signed "
              "certificate in certificate chain")


def test_verify_with_the_right_ca_connects_over_tls_and_migrates(stack, db):
    status, text = admin(stack, db, "migrate", USERMGR_DB_SSL_MODE="verify",
                         USERMGR_DB_SSL_CA=ca(db))
    assert status == 0, text
    n = len([f for f in os.listdir(os.path.join(REPO, "sql")) if f.endswith(".sql")])
    assert "usermgr-admin: migrate: %d migrations applied" % n in text, text
    assert db.sql("SELECT COUNT(*) FROM usermgr.schema_migrations").strip() == str(n)
    # The CA alone means verify; localhost is the certificate's other name.
    status, text = admin(stack, db, "check-config", host="localhost", USERMGR_DB_SSL_CA=ca(db))
    assert status == 0, text
    assert "\nUSERMGR_DB_SSL_MODE=verify\n" in text and "\nUSERMGR_DB_SSL_CA=%s\n" % ca(db) in text
    assert "usermgr-admin: check-config: ok\n" in text, text


def test_verify_refuses_a_certificate_the_ca_did_not_sign(stack, db):
    status, text = admin(stack, db, "check-config", USERMGR_DB_SSL_MODE="verify",
                         USERMGR_DB_SSL_CA=ca(db, "other"))
    assert status == 1, text
    assert tls_refusals(text) == [refused(db, "verify", UNVERIFIED)], text
    assert "usermgr-admin: database: the database cannot be reached\n" in text
    assert "usermgr-admin: check-config: FAILED\n" in text, text


def test_verify_refuses_a_host_name_the_certificate_does_not_carry(stack, db):
    status, text = admin(stack, db, "check-config", host="127.0.0.2",
                         USERMGR_DB_SSL_CA=ca(db))
    assert status == 1, text
    assert tls_refusals(text) == [refused(
        db, "verify", "the server's certificate was not verified: TLS/SSL error: Validation of "
        "SSL server certificate failed", host="127.0.0.2")], text
    assert "usermgr-admin: check-config: FAILED\n" in text, text


def test_required_encrypts_without_checking_the_certificate(stack, db):
    # tls_only gets in over TLS only, so success means the session was encrypted.
    status, text = admin(stack, db, "check-config", USERMGR_DB_SSL_MODE="required",
                         USERMGR_DB_SSL_CA=ca(db, "other"))
    assert status == 0, text
    assert "\nUSERMGR_DB_SSL_MODE=required\n" in text
    # Unset, the mode for a host that is not loopback is required, without a CA.
    status, text = admin(stack, db, "migrate", host="127.0.0.2")
    assert status == 0, text
    assert "usermgr-admin: migrate: 0 migrations applied" in text
    status, text = admin(stack, db, "check-config", host="127.0.0.2")
    assert status == 0 and "\nUSERMGR_DB_SSL_MODE=required\n" in text, text


def test_disabled_sends_in_clear_which_an_account_requiring_tls_refuses(stack, db):
    status, text = admin(stack, db, "check-config", user="plain", USERMGR_DB_SSL_MODE="disabled")
    assert status == 0, text
    # 127.0.0.1 is loopback: disabled is also the default there.
    status, text = admin(stack, db, "check-config")
    assert status == 1, text
    assert "\nUSERMGR_DB_SSL_MODE=disabled\n" in text
    assert ("db: cannot connect: 1045 Access denied for user 'tls_only'@'127.0.0.1' "
            "(using password: YES)\n") in text, text
    assert "usermgr-admin: check-config: FAILED\n" in text, text


def test_verify_without_a_ca_is_a_configuration_error_for_the_cli_and_the_worker(stack, db):
    message = ("USERMGR_DB_SSL_MODE=verify needs USERMGR_DB_SSL_CA: the CA certificate (PEM "
               "file) to check the database server's certificate by")
    for command in ("check-config", "migrate"):
        status, text = admin(stack, db, command, USERMGR_DB_SSL_MODE="verify")
        assert (status, text) == (1, "usermgr-admin: " + message + "\n")
    out = subprocess.run([WORKER], env=env(stack, db, USERMGR_DB_SSL_MODE="verify"),
                         stdin=subprocess.DEVNULL, capture_output=True, timeout=60)
    assert out.returncode == 1, out
    assert out.stderr.decode().rstrip("\n").endswith("cannot start: " + message), out.stderr


# --- one worker, as nginx talks to it --------------------------------------------------------

def fcgi_get(path, sock_path):
    """GET PATH from the FastCGI socket (FastCGI 1.0, one request); returns (status, body)."""
    def record(kind, content):
        return struct.pack(">BBHHBx", 1, kind, 1, len(content), 0) + content

    def pair(name, value):
        name, value = name.encode(), value.encode()
        return bytes([len(name), len(value)]) + name + value

    params = b"".join(pair(k, v) for k, v in (
        ("REQUEST_METHOD", "GET"), ("DOCUMENT_URI", path), ("REQUEST_URI", path),
        ("QUERY_STRING", ""), ("REMOTE_ADDR", "127.0.0.1"), ("SERVER_PROTOCOL", "HTTP/1.1"),
        ("HTTP_HOST", "127.0.0.1"), ("HTTP_ACCEPT", "application/json")))
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(30)
        s.connect(sock_path)
        s.sendall(record(1, struct.pack(">HB5x", 1, 0)) + record(4, params) + record(4, b"")
                  + record(5, b""))
        data, out = b"", b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    while len(data) >= 8:
        _, kind, _, length, padding = struct.unpack(">BBHHB", data[:7])
        if kind == 6:
            out += data[8:8 + length]
        data = data[8 + length + padding:]
    head, _, body = out.partition(b"\r\n\r\n")
    status = next(int(line.split()[1]) for line in head.decode().split("\r\n")
                  if line.lower().startswith("status:"))
    return status, body.decode()


def test_a_worker_answers_503_and_logs_the_refusal_once(stack, db, tmp_path):
    sock_path = str(tmp_path / "w.sock")
    log = str(tmp_path / "worker.log")
    with open(log, "wb") as f:
        proc = subprocess.Popen(["spawn-fcgi", "-n", "-s", sock_path, "--", WORKER],
                                env=env(stack, db, USERMGR_DB_SSL_CA=ca(db, "other")),
                                stdin=subprocess.DEVNULL, stdout=f, stderr=subprocess.STDOUT,
                                start_new_session=True)
    try:
        deadline = time.monotonic() + 30
        while "worker ready" not in read_text(log):
            assert proc.poll() is None, read_text(log)
            assert time.monotonic() < deadline, read_text(log)
            time.sleep(0.1)
        for _ in range(3):
            status, body = fcgi_get("/readyz", sock_path)
            assert status == 503 and '"code":"service_unavailable"' in body.replace(" ", ""), (
                status, body)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
    # Three requests, one line: a worker tries again at every request, and says it once.
    assert tls_refusals(read_text(log)) == [refused(db, "verify", UNVERIFIED)], read_text(log)


# Last: restarts the server without TLS.
def test_a_server_without_tls_is_refused_unless_disabled(stack, db):
    db.stop()
    db.start(tls=False)
    status, text = admin(stack, db, "check-config", user="plain", USERMGR_DB_SSL_MODE="required")
    assert status == 1, text
    assert tls_refusals(text) == [refused(
        db, "required", "the server has no TLS: the session is not encrypted")], text
    status, text = admin(stack, db, "check-config", user="plain", USERMGR_DB_SSL_CA=ca(db))
    assert status == 1, text
    assert tls_refusals(text) == [refused(
        db, "verify", "the server has no TLS: TLS/SSL error: SSL is required, but the server "
        "does not support it")], text
    status, text = admin(stack, db, "check-config", user="plain")
    assert status == 0, text
