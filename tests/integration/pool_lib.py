"""pool_lib.py: a second worker pool on the stack's database, as a second application host would run.

It starts the stack's own worker binary with a running worker's environment (read from
/proc/PID/environ, so it holds exactly what deploy/local/run gave the pool: database, keys,
templates), under spawn-fcgi + multiwatch on a socket of its own, with a cache segment of its
own (USERMGR_CACHE_FILE), and a small nginx in front of it on a free loopback port.  What one
pool changes, the other learns only through MariaDB: the situation of two hosts.  Stopped by
PID (the pool's session, then nginx).
"""

import os
import shutil
import signal
import subprocess
import time

import requests

from nginx_lib import ExtraNginx
from stack import HTTP_TIMEOUT, REPO, wait_until

FASTCGI = os.path.join(REPO, "deploy", "nginx", "fastcgi-usermgr.conf")


def environ_of(pid):
    """The environment a process was started with, as a dict."""
    with open("/proc/%d/environ" % pid, "rb") as f:
        items = f.read().split(b"\0")
    env = {}
    for item in items:
        if b"=" in item:
            k, v = item.split(b"=", 1)
            env[k.decode()] = v.decode()
    return env


class SecondPool:
    """Workers of the stack's build on another socket, behind an nginx of their own."""

    def __init__(self, stack, name="second-pool", workers=2, env=None):
        self.stack = stack
        self.dir = os.path.join(stack.out_dir, name)
        os.makedirs(self.dir, exist_ok=True)
        os.chmod(self.dir, 0o755)
        self.sock = os.path.join(self.dir, "usermgr.sock")
        self.workers = workers
        self.extra_env = dict(env or {})
        self.proc = None
        self.nginx = ExtraNginx(stack, name + "-nginx")
        self.base_url = None

    def start(self):
        pids = self.stack.worker_pids()
        assert pids, "the stack has no worker to copy the environment of"
        env = environ_of(pids[0])
        binary = os.readlink("/proc/%d/exe" % pids[0])
        env["USERMGR_CACHE_FILE"] = os.path.join(self.dir, "cache")
        env.update(self.extra_env)
        log = open(os.path.join(self.dir, "pool.log"), "wb")
        self.proc = subprocess.Popen(
            [shutil.which("spawn-fcgi"), "-n", "-s", self.sock, "-M", "0666", "--",
             shutil.which("multiwatch"), "-f",
             str(self.workers), "--", binary],
            env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True)
        log.close()
        wait_until(lambda: os.path.exists(self.sock) or self.proc.poll() is not None, 15)
        assert self.proc.poll() is None, "the second pool exited at start"
        self.nginx.start("""
	server {
		listen 127.0.0.1:%d;
		location / {
			include "%s";
			fastcgi_pass unix:%s;
		}
	}""" % (self.nginx.port, FASTCGI, self.sock), "pool_lib.py: the second pool's nginx")
        self.base_url = "http://127.0.0.1:%d" % self.nginx.port
        wait_until(lambda: self.get("/healthz").status_code == 200, 15)
        return self

    def get(self, path, **kw):
        kw.setdefault("timeout", HTTP_TIMEOUT)
        kw.setdefault("allow_redirects", False)
        return requests.get(self.base_url + path, **kw)

    def stop(self):
        self.nginx.stop()
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        self.proc = None
        # Give multiwatch's children a moment to go with it; the stack's teardown checks
        # that nothing naming its state directory is left.
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and os.path.exists(self.sock):
            time.sleep(0.05)
