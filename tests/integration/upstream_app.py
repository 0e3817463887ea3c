"""upstream_app.py: a tiny HTTP application on loopback that echoes who nginx says is calling.

It stands for "another application behind the same nginx" (deploy/nginx/protect-app.example.conf):
every request is answered 200 with a JSON object holding the method, the path, the length of the
body it received and every X-User-* header, so a test can see exactly what reached it.  It also
remembers each request, so a test can tell that a refused one never got this far.

    /usr/bin/python3 upstream_app.py [PORT]    runs it in the foreground (PORT 0: any free one)
"""

import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class _Handler(BaseHTTPRequestHandler):
    server_version = "upstream-app"

    def _answer(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        seen = {
            "method": self.command,
            "path": self.path,
            "body_length": len(body),
            # Header names as nginx sent them; every X-User-* one, however many.
            "x_user": {k: v for k, v in self.headers.items() if k.lower().startswith("x-user")},
        }
        self.server.app.record(seen)
        out = json.dumps(seen).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(out)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _answer

    def log_message(self, fmt, *args):
        # Quiet: pytest shows what the tests assert, not an access log.
        pass


class UpstreamApp:
    """The application in a thread: start() binds 127.0.0.1:PORT, stop() shuts it down."""

    def __init__(self, port=0):
        self.port = port
        self.requests = []
        self._lock = threading.Lock()
        self._server = None
        self._thread = None

    def record(self, seen):
        with self._lock:
            self.requests.append(seen)

    def count(self):
        with self._lock:
            return len(self.requests)

    @property
    def address(self):
        return "127.0.0.1:%d" % self.port

    def start(self):
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), _Handler)
        self._server.daemon_threads = True
        self._server.app = self
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self):
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(10)
            self._server = None


if __name__ == "__main__":
    app = UpstreamApp(int(sys.argv[1]) if len(sys.argv) > 1 else 0).start()
    print("http://%s/" % app.address, flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        app.stop()
