"""fake_mailjet: a loopback HTTP server that answers like Mailjet's Send API v3.1, for the mailer's tests.

Mailjet cannot be reached from the test machines, so this stands in for it (STYLE.md "Tests"):
it checks HTTP basic auth, validates the v3.1 body shape, records every message it accepts,
and answers with Mailjet's success shape.  It can be told to fail in each way the mailer must
handle: 500 (retry), a hang past the client timeout (retry), 429 (retry), 400 with a
Mailjet-style error (permanent), or a 200 whose message status is "error" (permanent); "slow"
accepts the message after slow_seconds, to stop things (the mailer, MariaDB) mid-send.

As a module:

    with FakeMailjet(api_key="k", api_secret="s") as mj:
        env["MAILJET_API_URL"] = mj.url
        mj.fail("500", count=2)          # the next two requests answer 500
        ...
        assert mj.wait_for(1)[0]["CustomID"] == "1"

Standalone (for deploy/local/run or a shell):

    /usr/bin/python3 tests/integration/fake_mailjet.py --port 0 --key k --secret s

prints the URL on its first line and one JSON line per accepted message.  A standalone server
is steered over HTTP: POST /_control {"mode": "500", "count": 3}; GET /_messages lists what
it recorded; POST /_reset forgets it.
"""

import argparse
import base64
import json
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MODES = ("ok", "500", "hang", "400", "429", "status_error", "slow")


def _mailjet_error(status, message, related=None):
    """One Mailjet v3.1 error object."""
    err = {
        "ErrorIdentifier": str(uuid.uuid4()),
        "ErrorCode": "mj-0013" if status == 400 else "mj-0001",
        "StatusCode": status,
        "ErrorMessage": message,
    }
    if related:
        err["ErrorRelatedTo"] = related
    return err


def validate(body):
    """Returns a list of (message, related-field) problems with a v3.1 send body; [] when fine."""
    problems = []
    if not isinstance(body, dict) or not isinstance(body.get("Messages"), list):
        return [("Messages is missing or not an array", "Messages")]
    if not body["Messages"]:
        return [("Messages is empty", "Messages")]
    for i, m in enumerate(body["Messages"]):
        where = "Messages[%d]" % i
        if not isinstance(m, dict):
            problems.append(("message is not an object", where))
            continue
        frm = m.get("From")
        if not isinstance(frm, dict) or not isinstance(frm.get("Email"), str) or "@" not in frm["Email"]:
            problems.append(("From.Email is missing or invalid", where + ".From"))
        if "Name" in (frm or {}) and not isinstance(frm["Name"], str):
            problems.append(("From.Name is not a string", where + ".From.Name"))
        to = m.get("To")
        if not isinstance(to, list) or not to:
            problems.append(("To is missing or empty", where + ".To"))
        else:
            for j, r in enumerate(to):
                if not isinstance(r, dict) or not isinstance(r.get("Email"), str) or "@" not in r["Email"]:
                    problems.append(('"%s" is an invalid email address.' % (r.get("Email") if isinstance(r, dict) else r),
                                     "%s.To[%d].Email" % (where, j)))
                elif "Name" in r and not isinstance(r["Name"], str):
                    problems.append(("To.Name is not a string", "%s.To[%d].Name" % (where, j)))
        if not isinstance(m.get("Subject"), str) or not m["Subject"]:
            problems.append(("Subject is missing", where + ".Subject"))
        if not isinstance(m.get("TextPart", ""), str) or not isinstance(m.get("HTMLPart", ""), str):
            problems.append(("TextPart and HTMLPart must be strings", where))
        if not m.get("TextPart") and not m.get("HTMLPart"):
            problems.append(("a message needs TextPart or HTMLPart", where))
        if "CustomID" in m and not isinstance(m["CustomID"], str):
            problems.append(("CustomID must be a string", where + ".CustomID"))
        unknown = set(m) - {"From", "To", "Cc", "Bcc", "Subject", "TextPart", "HTMLPart", "CustomID",
                            "Headers", "ReplyTo", "Variables", "TemplateID", "TemplateLanguage"}
        if unknown:
            problems.append(("unknown properties: %s" % ", ".join(sorted(unknown)), where))
    return problems


class FakeMailjet:
    """The server; thread-safe.  port=0 picks a free port on 127.0.0.1."""

    def __init__(self, api_key="test-key", api_secret="test-secret", host="127.0.0.1", port=0,
                 hang_seconds=45.0, slow_seconds=3.0, echo=False):
        self.api_key = api_key
        self.api_secret = api_secret
        self.hang_seconds = hang_seconds
        self.slow_seconds = slow_seconds
        self.echo = echo
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._messages = []      # accepted messages, as sent, plus "_received_at"
        self._requests = []      # every POST to the send endpoint: {"status", "path", "body"}
        self._mode = "ok"
        self._mode_count = None  # None: until changed; n: the next n requests, then "ok"
        self._next_id = 576460752303423488
        self._stopping = threading.Event()
        self._httpd = ThreadingHTTPServer((host, port), self._handler_class())
        self._httpd.daemon_threads = True
        self._thread = None

    # -- control ----------------------------------------------------------------------------

    @property
    def port(self):
        return self._httpd.server_address[1]

    @property
    def url(self):
        return "http://127.0.0.1:%d/v3.1/send" % self.port

    def start(self):
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="fake-mailjet",
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self):
        self._stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def fail(self, mode, count=None):
        """Answers the next count requests (all, when None) in mode: one of MODES."""
        if mode not in MODES:
            raise ValueError("mode must be one of %s" % (MODES,))
        with self._lock:
            self._mode = mode
            self._mode_count = count

    def succeed(self):
        self.fail("ok")

    def reset(self):
        with self._lock:
            self._messages.clear()
            self._requests.clear()
            self._mode, self._mode_count = "ok", None

    @property
    def messages(self):
        """A copy of the accepted messages, oldest first."""
        with self._lock:
            return list(self._messages)

    @property
    def requests(self):
        """Every request to the send endpoint, oldest first: {"status", "path", "body"}."""
        with self._lock:
            return [dict(r) for r in self._requests]

    def wait_for(self, n, timeout=30.0):
        """Waits until at least n messages were accepted; returns them (AssertionError on timeout)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self._messages) < n:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError("fake Mailjet got %d message(s), expected %d"
                                         % (len(self._messages), n))
                self._cond.wait(left)
            return list(self._messages)

    # -- the HTTP side ----------------------------------------------------------------------

    def _take_mode(self):
        with self._lock:
            mode = self._mode
            if self._mode_count is not None:
                self._mode_count -= 1
                if self._mode_count <= 0:
                    self._mode, self._mode_count = "ok", None
            return mode

    def _auth_ok(self, header):
        if not header or not header.startswith("Basic "):
            return False
        try:
            user, _, pw = base64.b64decode(header[6:], validate=True).decode("utf-8").partition(":")
        except (ValueError, UnicodeDecodeError):
            return False
        return user == self.api_key and pw == self.api_secret

    def _handle_send(self, raw, auth_header):
        """Returns (status, body dict or None, hang)."""
        if not self._auth_ok(auth_header):
            return 401, _mailjet_error(401, "API key authentication/authorization failure. You may be "
                                       "unauthorized to access the API or your API key may be expired. "
                                       "Visit API keys management section to check your keys."), False
        try:
            body = json.loads(raw.decode("utf-8"))
        except (ValueError, UnicodeDecodeError):
            return 400, _mailjet_error(400, "Malformed JSON, please review the syntax and properties types."), False
        problems = validate(body)
        if problems:
            return 400, {"Messages": [{"Status": "error",
                                       "Errors": [_mailjet_error(400, msg, [rel]) for msg, rel in problems]}]}, False
        mode = self._take_mode()
        if mode == "hang":
            return 0, None, True
        if mode == "slow":
            self._stopping.wait(self.slow_seconds)
        if mode == "500":
            return 500, _mailjet_error(500, "Internal Server Error"), False
        if mode == "429":
            return 429, _mailjet_error(429, "Too many requests"), False
        if mode == "400":
            return 400, {"Messages": [{"Status": "error", "Errors": [
                _mailjet_error(400, '"%s" is an invalid email address.' % body["Messages"][0]["To"][0]["Email"],
                               ["To[0].Email"])]}]}, False
        if mode == "status_error":
            return 200, {"Messages": [{"Status": "error", "Errors": [
                _mailjet_error(400, "The recipient is blocked.", ["To[0].Email"])]}]}, False
        answer = {"Messages": []}
        with self._cond:
            for m in body["Messages"]:
                rec = dict(m)
                rec["_received_at"] = time.time()
                self._messages.append(rec)
                to = []
                for r in m["To"]:
                    self._next_id += 1
                    to.append({"Email": r["Email"], "MessageUUID": str(uuid.uuid4()),
                               "MessageID": self._next_id,
                               "MessageHref": "https://api.mailjet.com/v3/REST/message/%d" % self._next_id})
                res = {"Status": "success", "To": to, "Cc": [], "Bcc": []}
                if "CustomID" in m:
                    res["CustomID"] = m["CustomID"]
                answer["Messages"].append(res)
                if self.echo:
                    print(json.dumps(m, ensure_ascii=False), flush=True)
            self._cond.notify_all()
        return 200, answer, False

    def _handler_class(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            server_version = "fake-mailjet/1"

            def log_message(self, fmt, *args):
                pass

            def _read_body(self):
                n = int(self.headers.get("Content-Length") or 0)
                return self.rfile.read(n) if n > 0 else b""

            def _send_json(self, status, obj):
                data = json.dumps(obj).encode("utf-8")
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json; charset=UTF-8")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    # The client gave up (its timeout, or it was killed): nothing to answer.
                    self.close_connection = True

            def do_POST(self):
                raw = self._read_body()
                if self.path == "/_control":
                    try:
                        ctl = json.loads(raw.decode("utf-8") or "{}")
                        fake.fail(ctl.get("mode", "ok"), ctl.get("count"))
                    except (ValueError, UnicodeDecodeError) as e:
                        self._send_json(400, {"error": str(e)})
                        return
                    self._send_json(200, {"mode": ctl.get("mode", "ok")})
                    return
                if self.path == "/_reset":
                    fake.reset()
                    self._send_json(200, {})
                    return
                if self.path != "/v3.1/send":
                    self._send_json(404, _mailjet_error(404, "Not found"))
                    return
                # Recorded on arrival (status None until answered), so a test can act mid-send.
                req = {"status": None, "path": self.path, "body": raw}
                with fake._lock:
                    fake._requests.append(req)
                status, body, hang = fake._handle_send(raw, self.headers.get("Authorization"))
                with fake._lock:
                    req["status"] = "hang" if hang else status
                if hang:
                    # Past any sane client timeout; stop() cuts it short.
                    fake._stopping.wait(fake.hang_seconds)
                    self.close_connection = True
                    return
                self._send_json(status, body)

            def do_GET(self):
                if self.path == "/_messages":
                    self._send_json(200, {"messages": fake.messages, "requests": len(fake.requests)})
                    return
                self._send_json(404, _mailjet_error(404, "Not found"))

        return Handler


def main(argv=None):
    p = argparse.ArgumentParser(description="A fake Mailjet Send API v3.1 on 127.0.0.1.")
    p.add_argument("--port", type=int, default=0, help="0 picks a free port")
    p.add_argument("--key", default="test-key")
    p.add_argument("--secret", default="test-secret")
    p.add_argument("--mode", default="ok", choices=MODES)
    args = p.parse_args(argv)
    mj = FakeMailjet(api_key=args.key, api_secret=args.secret, port=args.port, echo=True)
    mj.fail(args.mode)
    mj.start()
    print(mj.url, flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        mj.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
