"""peers.py: what every test client shares — its own loopback source address, SQL on the stack's
MariaDB, and the stack's JWT key derived as the worker derives it.

Per-IP limits (API.md §1) key on the TCP source address, so each test client connects from an
address of its own in 127.0.0.0/8; the helper libraries (accounts_lib, api_lib, mail_lib) each
draw from their own block so that no two tests share a bucket.
"""

import base64
import email
import email.policy
import hashlib
import hmac
import itertools
import json
import os
import shutil
import subprocess
import time

import requests
from requests.adapters import HTTPAdapter


def address_pool(block):
    """A function returning fresh addresses 127.BLOCK.x.y, one per call."""
    counter = itertools.count(1)

    def next_address():
        n = next(counter)
        return "127.%d.%d.%d" % (block, n // 250, n % 250 + 1)
    return next_address


class SourceAddressAdapter(HTTPAdapter):
    """An adapter whose connections all leave from one loopback address."""

    def __init__(self, address, **kw):
        self.address = address
        super().__init__(**kw)

    def init_poolmanager(self, *args, **kw):
        kw["source_address"] = (self.address, 0)
        return super().init_poolmanager(*args, **kw)


def bound_session(address):
    """A requests session (its own cookie jar) whose connections leave from ADDRESS."""
    session = requests.Session()
    adapter = SourceAddressAdapter(address)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


# --- the database ----------------------------------------------------------------------------

def sql_quote(value):
    return "'" + str(value).replace("\\", "\\\\").replace("'", "\\'") + "'"


def sql(stack, statement):
    """Runs STATEMENT as root on the stack's MariaDB; returns the rows as lists of strings.

    Batch mode escapes newlines and tabs inside values: select HEX() of text that may hold them.
    """
    out = subprocess.run(
        ["mariadb", "--socket=" + os.path.join(stack.state_dir, "run", "mysqld.sock"),
         "--default-character-set=utf8mb4", "-u", "root", "usermgr", "-N", "-B", "-e",
         statement],
        capture_output=True, timeout=30, check=False)
    assert out.returncode == 0, "mariadb failed on %r: %s" % (statement[:300], out.stderr.decode())
    text = out.stdout.decode("utf-8", "replace")
    return [line.split("\t") for line in text.splitlines() if line]


# --- mail ------------------------------------------------------------------------------------

REQUESTS_WAIT = 20  # seconds: the mailer handles mail requests at its next poll (every 0.5 s)


def requests_handled(stack, timeout=REQUESTS_WAIT):
    """Waits until the mailer has handled every waiting mail request (mail_requests is empty).

    Forgot-password, resend and the "address taken" notice are answered with one row in
    mail_requests; usermgr-mailer turns it into outbox mail (or nothing) shortly after the
    answer. A test that reads the outbox after such a request reads it once this holds."""
    def empty():
        return sql(stack, "SELECT COUNT(*) FROM mail_requests")[0][0] == "0"

    deadline = time.monotonic() + timeout
    while not empty():
        assert time.monotonic() < deadline, (
            "mail requests still waiting after %d s: is usermgr-mailer running?" % timeout)
        time.sleep(0.05)


def outbox_messages(stack, address, subject_part=None):
    """Messages queued for ADDRESS, newest first: dicts with id, status, subject, text_body, html_body.

    A row that has left keeps no subject or body (the outbox blanks them: no live link stays in
    the database), so those come from the file transport's STATE/mail/<id>.eml, which the mailer
    writes before it marks the row sent. SUBJECT_PART filters like SQL's case-insensitive LIKE.
    """
    requests_handled(stack)
    rows = sql(stack, "SELECT id, status, HEX(subject), HEX(text_body), HEX(html_body) "
                      "FROM email_outbox WHERE to_email = %s ORDER BY id DESC"
               % sql_quote(address))
    out = []
    for r in rows:
        m = {"id": int(r[0]), "status": r[1],
             "subject": bytes.fromhex(r[2]).decode("utf-8", "replace"),
             "text_body": bytes.fromhex(r[3]).decode("utf-8", "replace"),
             "html_body": bytes.fromhex(r[4]).decode("utf-8", "replace")}
        if m["status"] != "queued" and not m["subject"]:
            m.update(delivered_file(stack, m["id"]))
        if subject_part is None or subject_part.lower() in m["subject"].lower():
            out.append(m)
    return out


def delivered_file(stack, mail_id):
    """Subject and bodies of the file transport's <id>.eml (empty strings when there is none)."""
    path = os.path.join(stack.mail_dir, "%d.eml" % mail_id)
    if not os.path.exists(path):
        return {}
    with open(path, "rb") as f:
        msg = email.message_from_bytes(f.read(), policy=email.policy.default)
    parts = {}
    for kind in ("plain", "html"):
        body = msg.get_body(preferencelist=(kind,))
        parts[kind] = body.get_content() if body is not None else ""
    return {"subject": str(msg["Subject"] or ""), "text_body": parts["plain"],
            "html_body": parts["html"]}


# --- keys (API.md §1 USERMGR_SECRET_KEY: HKDF sub-keys per purpose) ---------------------------

def hkdf_sha256(ikm, info, length):
    """RFC 5869 HKDF with SHA-256 and no salt, which §2.2 says means HashLen zero octets."""
    prk = hmac.new(b"\0" * 32, ikm, hashlib.sha256).digest()
    okm, block, counter = b"", b"", 1
    while len(okm) < length:
        block = hmac.new(prk, block + info + bytes([counter]), hashlib.sha256).digest()
        okm += block
        counter += 1
    return okm[:length]


def secret(stack):
    """$STATE/secret_key without one trailing newline (API.md §7 X_FILE rule)."""
    with open(os.path.join(stack.state_dir, "secret_key"), "rb") as f:
        data = f.read()
    return data[:-1] if data.endswith(b"\n") else data


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def jwt_key(stack):
    return hkdf_sha256(secret(stack), b"usermgr jwt", 32)


def kid(stack):
    return b64url(hkdf_sha256(secret(stack), b"usermgr kid", 6))


# --- FastCGI without nginx -------------------------------------------------------------------

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
        return json.loads(self.text)


def fastcgi_request(sock, port, method, path, body, remote_addr):
    """One request to the FastCGI socket SOCK as nginx on PORT would send it from REMOTE_ADDR
    (libfcgi's own client, cgi-fcgi from Debian's libfcgi-bin); an Answer."""
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
        "REMOTE_PORT": "50000", "SERVER_ADDR": "127.0.0.1", "SERVER_PORT": str(port),
        "SERVER_NAME": "localhost", "HTTP_HOST": "127.0.0.1:%d" % port,
        "REQUEST_ID": os.urandom(16).hex(),
    }
    out = subprocess.run([tool, "-bind", "-connect", sock],
                         input=body, env=env, capture_output=True, timeout=30)
    assert out.returncode == 0, out.stderr.decode()
    return Answer(out.stdout)
