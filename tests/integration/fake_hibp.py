"""fake_hibp.py: a Have I Been Pwned range API on loopback (GET /range/{5 hex}), for tests.

It answers like api.pwnedpasswords.com: "SUFFIX:COUNT" lines (CRLF), and with the request header
`Add-Padding: true` a few hundred extra entries of random suffixes with count 0. The breached
passwords are set with add(password, count). Every request is recorded (path and headers), so
a test can check that only five hex characters of the SHA-1 left the server and that padding
was asked for. Modes: "ok"; "slow" (sleeps slow_seconds before answering); "malformed" (200
with a body that is not the range format); "error" (503). stop() closes the port (the API is
down); start() opens it again on the same port.

    python3 fake_hibp.py [--port N]   # serves until interrupted
"""

import argparse
import hashlib
import secrets
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HEX = "0123456789ABCDEF"


def sha1_hex(password):
    return hashlib.sha1(password.encode("utf-8")).hexdigest().upper()


class FakeHibp:
    """The server; thread-safe. port=0 picks a free port on 127.0.0.1."""

    def __init__(self, host="127.0.0.1", port=0, slow_seconds=4.0, padding=300):
        self.host = host
        self.slow_seconds = slow_seconds
        self.padding = padding
        self._lock = threading.Lock()
        self._counts = {}      # full upper-case SHA-1 -> count
        self._requests = []    # {"path", "headers"}
        self._mode = "ok"
        self._httpd = None
        self._port = port
        self._thread = None

    # -- control ----------------------------------------------------------------------------

    @property
    def port(self):
        return self._port

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self._port

    def start(self):
        self._httpd = ThreadingHTTPServer((self.host, self._port), self._handler_class())
        self._httpd.daemon_threads = True
        self._port = self._httpd.server_address[1]
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="fake-hibp",
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self):
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def add(self, password, count):
        with self._lock:
            self._counts[sha1_hex(password)] = count

    def mode(self, mode):
        assert mode in ("ok", "slow", "malformed", "error"), mode
        with self._lock:
            self._mode = mode

    @property
    def requests(self):
        with self._lock:
            return list(self._requests)

    def reset(self):
        with self._lock:
            self._requests = []
            self._mode = "ok"

    # -- serving ----------------------------------------------------------------------------

    def _body(self, prefix, padded):
        with self._lock:
            lines = ["%s:%d" % (h[5:], c) for h, c in self._counts.items() if h[:5] == prefix]
        if padded:
            lines += ["%s:0" % "".join(secrets.choice(HEX) for _ in range(35))
                      for _ in range(self.padding)]
        return "\r\n".join(lines).encode("ascii")

    def _handler_class(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, fmt, *args):
                pass

            def _send(self, status, body, ctype="text/plain"):
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                with fake._lock:
                    fake._requests.append({"path": self.path,
                                           "headers": {k.lower(): v for k, v in
                                                       self.headers.items()}})
                    mode = fake._mode
                parts = self.path.split("/")
                if len(parts) != 3 or parts[1] != "range":
                    self._send(404, b"not found")
                    return
                prefix = parts[2].upper()
                if len(prefix) != 5 or any(ch not in HEX for ch in prefix):
                    self._send(400, b"The hash prefix was not in a valid format")
                    return
                if mode == "slow":
                    time.sleep(fake.slow_seconds)
                if mode == "error":
                    self._send(503, b"Service Unavailable")
                    return
                if mode == "malformed":
                    self._send(200, b"<html><body>Checking your browser...</body></html>",
                               "text/html")
                    return
                padded = self.headers.get("Add-Padding", "").lower() == "true"
                self._send(200, fake._body(prefix, padded))

        return Handler


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, default=0)
    args = ap.parse_args(argv)
    fake = FakeHibp(port=args.port).start()
    print(fake.url, flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        fake.stop()


if __name__ == "__main__":
    main()
