"""cluster_lib.py: the cluster of deploy/cluster/run for the fault tests — start, stop, nodes, load.

One Cluster is deploy/cluster/run in a fresh state dir: three Galera nodes, two application hosts
("a" on node 1, "b" on node 2) and one nginx. The helpers observe and break it the way an
operator's machine would break (SIGKILL, SIGSTOP) and restart nodes with deploy/cluster/ctl.
"""

import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

import requests

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "tests", "integration"))

from peers import address_pool, bound_session  # noqa: E402
from stack import free_port, read_text, wait_until  # noqa: E402

OUT = os.path.join(REPO, "tests", "out", "cluster")
START_TIMEOUT = 420
ADMIN_PASSWORD = "Cluster-Admin-Pass-7361"
JSON = {"Content-Type": "application/json"}
PASSWORD = "Cluster-Load-Pass-%d" % random.randrange(10 ** 6)

next_address = address_pool(91)


def ports_free(base):
    """Whether the twelve ports of a cluster at BASE (deploy/cluster/lib.sh) are free."""
    for n in (1, 2, 3):
        for k in range(4):
            with socket.socket() as s:
                try:
                    s.bind(("127.0.0.1", base + 10 * n + k))
                except OSError:
                    return False
    return True


class Cluster:
    def __init__(self, env):
        os.makedirs(OUT, exist_ok=True)
        self.out_dir = tempfile.mkdtemp(prefix=time.strftime("%Y%m%d-%H%M%S-"), dir=OUT)
        self.state_dir = tempfile.mkdtemp(prefix="usermgr-cl-")
        for d in (self.out_dir, self.state_dir):
            os.chmod(d, 0o755)
        self.port = free_port()
        while True:
            # Below the kernel's ephemeral ports (32768-60999): a client socket must not take
            # a node's port between this check and the node's start (a joiner's SST port).
            self.base = random.randrange(20000, 32000, 100)
            if ports_free(self.base):
                break
        self.env = dict(os.environ)
        self.env.update({
            "USERMGR_STATE_DIR": self.state_dir, "USERMGR_HTTP_PORT": str(self.port),
            "USERMGR_CLUSTER_PORT": str(self.base), "USERMGR_WORKERS": "2",
            "USERMGR_BOOTSTRAP_ADMIN_PASSWORD": ADMIN_PASSWORD,
            "USERMGR_ARGON2_MEMORY_KIB": "8192", "USERMGR_ARGON2_ITERATIONS": "1",
        })
        self.env.update(env)
        self.base_url = None
        self.proc = None
        self.run_log = os.path.join(self.out_dir, "run.log")

    # --- life cycle ---------------------------------------------------------------------------

    def start(self):
        log = open(self.run_log, "wb")
        self.proc = subprocess.Popen([os.path.join(REPO, "deploy", "cluster", "run")], cwd=REPO,
                                     env=self.env, stdin=subprocess.DEVNULL, stdout=log,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            for line in read_text(self.run_log).splitlines():
                if line.startswith("http://"):
                    self.base_url = line.strip()
                    return
            if self.proc.poll() is not None:
                break
            time.sleep(0.5)
        raise RuntimeError("deploy/cluster/run did not start:\n" + read_text(self.run_log)[-4000:])

    def stop(self):
        """SIGTERM; returns the exit status.  The logs go to the output directory and the state
        dir (three datadirs and their Galera caches, about a gigabyte) is removed."""
        if self.proc is None or self.proc.poll() is not None:
            rc = self.proc.returncode if self.proc else 0
        else:
            self.proc.send_signal(signal.SIGTERM)
            try:
                rc = self.proc.wait(90)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                return "did not stop within 90 s"
        shutil.copytree(os.path.join(self.state_dir, "log"), os.path.join(self.out_dir, "log"),
                        dirs_exist_ok=True)
        shutil.rmtree(self.state_dir, ignore_errors=True)
        return rc

    # --- parts --------------------------------------------------------------------------------

    def run_file(self, name):
        return os.path.join(self.state_dir, "run", name)

    def pid(self, name):
        with open(self.run_file(name)) as f:
            return int(f.read().strip())

    def node_port(self, n):
        return self.base + 10 * n

    def node_pid(self, n):
        return self.pid("node%d.pid" % n)

    def ctl(self, action, n):
        out = subprocess.run([os.path.join(REPO, "deploy", "cluster", "ctl"), action, str(n)],
                             env=self.env, capture_output=True, timeout=300)
        return out.returncode, (out.stdout + out.stderr).decode("utf-8", "replace")

    def node_log(self, n):
        return read_text(os.path.join(self.state_dir, "log", "node%d.log" % n))

    def root_password(self):
        with open(os.path.join(self.state_dir, "db_root_password")) as f:
            return f.read().strip()

    def sql(self, statement, node=None):
        """Runs STATEMENT as root on NODE (default: the first that answers); rows as lists."""
        last = None
        for n in ([node] if node else [3, 1, 2]):
            out = subprocess.run(
                ["mariadb", "--no-defaults", "--socket=" + self.run_file("node%d.sock" % n),
                 "-u", "root", "--connect-timeout=3", "-N", "--batch", "usermgr", "-e",
                 # Causal reads: what any node committed before is visible here.
                 "SET SESSION wsrep_sync_wait = 7; " + statement],
                env=dict(os.environ, MYSQL_PWD=self.root_password()), capture_output=True,
                timeout=60)
            if out.returncode == 0:
                return [line.split("\t") for line in out.stdout.decode().splitlines()]
            last = out.stderr.decode()
        raise AssertionError("SQL failed on every node: %s\n%s" % (statement, last))

    def get(self, path, **kw):
        kw.setdefault("timeout", 15)
        return requests.get(self.base_url + path, **kw)


class Load:
    """Two clients in threads: sign-ups, logins of verified users and /api/v1/me, recorded.

    Every request leaves from a fresh source address (the per-IP limit is not under test here).
    results holds (monotonic time, what, status or exception text); signed_up the accounts that
    got 201.
    """

    def __init__(self, cluster, verified, clients=2, pause=0.05):
        self.cluster = cluster
        self.verified = verified  # [(username, password)] to log in with
        self.clients = clients
        self.pause = pause
        self.results = []
        self.signed_up = []
        self.attempted = []  # every username sent, whatever the answer
        self.lock = threading.Lock()
        self.stop_flag = threading.Event()
        self.threads = []
        self.tag = "l%06x" % random.randrange(16 ** 6)
        self.counter = 0

    def note(self, what, status):
        with self.lock:
            self.results.append((time.monotonic(), what, status))

    def call(self, what, method, path, **kw):
        s = bound_session(next_address())
        kw.setdefault("timeout", 20)
        try:
            r = s.request(method, self.cluster.base_url + path, **kw)
            self.note(what, r.status_code)
            return r
        except requests.RequestException as e:
            self.note(what, type(e).__name__)
            return None
        finally:
            s.close()

    def client(self, k):
        while not self.stop_flag.is_set():
            with self.lock:
                self.counter += 1
                name = "%s%dx%d" % (self.tag, k, self.counter)
                self.attempted.append(name)
            r = self.call("signup", "POST", "/api/v1/users", headers=JSON,
                          json={"username": name, "email": name + "@example.com",
                                "password": PASSWORD})
            if r is not None and r.status_code == 201:
                with self.lock:
                    self.signed_up.append(name)
            user, password = random.choice(self.verified)
            r = self.call("login", "POST", "/api/v1/auth/login", headers=JSON,
                          json={"login": user, "password": password})
            if r is not None and r.status_code == 200:
                self.call("me", "GET", "/api/v1/me", headers={
                    "Authorization": "Bearer " + r.json()["access_token"]})
            time.sleep(self.pause)

    def __enter__(self):
        for k in range(self.clients):
            t = threading.Thread(target=self.client, args=(k,), daemon=True)
            t.start()
            self.threads.append(t)
        return self

    def __exit__(self, *exc):
        self.stop_flag.set()
        for t in self.threads:
            t.join(60)

    def failures(self, since=None):
        """The results that are neither 2xx nor an expected 4xx (5xx, no answer at all)."""
        return [r for r in self.results if (since is None or r[0] >= since)
                and not (isinstance(r[2], int) and r[2] < 500)]

    def report(self, what, fault_at):
        """Prints and returns (window seconds, 5xx rate in the window, requests in it)."""
        bad = self.failures(fault_at)
        end = max((r[0] for r in bad), default=fault_at)
        window = end - fault_at
        inside = [r for r in self.results if fault_at <= r[0] <= end]
        rate = len(bad) / len(inside) if inside else 0.0
        line = ("FAULT %s: window %.1f s, %d of %d requests failed (%.1f%%), %d in the whole run;"
                " failures at %s" % (what, window, len(bad), len(inside), 100 * rate,
                                     len(self.results), ", ".join(
                                         "+%.1fs %s %s" % (r[0] - fault_at, r[1], r[2])
                                         for r in bad[:12])))
        print(line)
        with open(os.path.join(self.cluster.out_dir, "faults.txt"), "a") as f:
            f.write(line + "\n")
        return window, rate, len(inside)


def make_verified(cluster, n):
    """N accounts signed up over the API and marked verified in SQL (not what is under test)."""
    out = []
    tag = "v%06x" % random.randrange(16 ** 6)
    for i in range(n):
        name = "%s%d" % (tag, i)
        s = bound_session(next_address())
        r = s.post(cluster.base_url + "/api/v1/users", headers=JSON, timeout=20,
                   json={"username": name, "email": name + "@example.com", "password": PASSWORD})
        assert r.status_code == 201, r.text
        out.append((name, PASSWORD))
    cluster.sql("UPDATE users SET email_verified_at = UTC_TIMESTAMP(6) WHERE username LIKE '%s%%'"
                % tag)
    return out


def login_status(cluster, name, password=PASSWORD):
    s = bound_session(next_address())
    r = s.post(cluster.base_url + "/api/v1/auth/login", headers=JSON, timeout=20,
               json={"login": name, "password": password})
    return r.status_code


def wait_synced(cluster, n, timeout=120):
    return wait_until(lambda: cluster.ctl("status", n)[0] == 0, timeout, 1)
