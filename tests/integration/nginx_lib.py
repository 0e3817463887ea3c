"""nginx_lib.py: a second nginx beside the stack's own, for tests of the shipped nginx files.

It runs as the stack's nginx does (same `user`, so it may open the worker pool's socket), from a
private prefix directory under the run's output, on loopback ports of its own; it is checked with
`nginx -t` first and stopped by PID.  Tests give it the text inside http {}.
"""

import os
import re
import signal
import socket
import subprocess
import time

from stack import free_port, read_text


class ExtraNginx:
    """One nginx master with a config of the test's making; ports are free loopback ports."""

    def __init__(self, stack, name, ports=1):
        self.stack = stack
        self.dir = os.path.join(stack.out_dir, name)
        self.ports = [free_port() for _ in range(ports)]
        self.port = self.ports[0]
        self.proc = None
        self.log = None

    def user_line(self):
        """The main stack's `user` line: its worker socket belongs to that user (mode 0660)."""
        if os.geteuid() != 0:
            return ""
        m = re.search(r"^\s*(user\s+[^;]+;)", read_text(os.path.join(self.stack.state_dir,
                                                                     "nginx.conf")), re.M)
        return m.group(1) if m else "user www-data www-data;"

    def socket(self):
        """The worker pool's FastCGI socket, as deploy/local/run places it."""
        return os.path.join(self.stack.state_dir, "run", "usermgr.sock")

    def write(self, name, text):
        """Writes a file of the prefix directory; returns its path."""
        path = os.path.join(self.dir, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(text)
        return path

    def start(self, http_body, comment):
        """Writes nginx.conf around HTTP_BODY (the inside of http {}), checks it, starts it."""
        d = self.dir
        os.makedirs(os.path.join(d, "tmp"), exist_ok=True)
        os.chmod(d, 0o755)
        conf = """# nginx.conf: %(comment)s
%(user)s
worker_processes 1;
error_log "%(d)s/error.log" info;
events { worker_connections 128; }
http {
	include /etc/nginx/mime.types;
	default_type application/octet-stream;
	client_body_temp_path "%(d)s/tmp/client_body";
	proxy_temp_path "%(d)s/tmp/proxy";
	fastcgi_temp_path "%(d)s/tmp/fastcgi";
	uwsgi_temp_path "%(d)s/tmp/uwsgi";
	scgi_temp_path "%(d)s/tmp/scgi";
%(body)s
}
""" % {"comment": comment, "user": self.user_line(), "d": d, "body": http_body}
        self.write("nginx.conf", conf)
        cmd = ["nginx", "-p", d + "/", "-c", os.path.join(d, "nginx.conf"), "-e",
               os.path.join(d, "error.log"), "-g", "daemon off; pid %s/nginx.pid;" % d]
        test = subprocess.run(cmd + ["-t"], capture_output=True, timeout=30)
        assert test.returncode == 0, "nginx -t refused the config: %s" % test.stderr.decode()
        self.log = open(os.path.join(d, "nginx.out"), "wb")
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=self.log,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 15
        for port in self.ports:
            while True:
                assert self.proc.poll() is None, "nginx exited: %s" % read_text(
                    os.path.join(d, "error.log"))[-2000:]
                try:
                    with socket.create_connection(("127.0.0.1", port), timeout=1):
                        break
                except OSError:
                    assert time.monotonic() < deadline, "nginx did not listen on %d" % port
                    time.sleep(0.1)
        return self

    def stop(self):
        """SIGQUIT (graceful) to the master by PID, SIGKILL if it lingers."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGQUIT)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.log.close()
        self.proc = None
