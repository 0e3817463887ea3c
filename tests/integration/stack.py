"""stack.py: starts and stops the real local stack (deploy/local/run) for the integration tests.

One Stack is the whole product as an operator runs it: nginx, the FastCGI worker pool under
multiwatch, MariaDB and the mailer, in a fresh state directory. The helpers here only observe it
(HTTP, /proc, log files); they never reach into its internals.
"""

import datetime
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import requests

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(REPO, "tests", "out", "integration")

# The bootstrap admin of every test stack (API.md §1 USERMGR_BOOTSTRAP_ADMIN_PASSWORD).
ADMIN_USERNAME = "admin"
ADMIN_PASSWORD = "Integration-Admin-Pass-7361"

# A first run builds the tree and initialises MariaDB: allow that much before giving up.
START_TIMEOUT = 300
# API.md §7: a clean stop takes at most 30 s; a little slack for a loaded CI machine.
STOP_TIMEOUT = 40
HTTP_TIMEOUT = 15

# API.md §7: the request body limit and the exact Content-Security-Policy.
BODY_MAX = 65536
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")

URL_LINE = re.compile(r"^(https?://[^\s/]+)/?$")


class StackError(Exception):
    """The stack could not be started or did not stop cleanly."""


def free_port():
    """Returns a loopback TCP port that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def read_text(path):
    """Returns the file's text (invalid UTF-8 replaced), or "" if it does not exist."""
    try:
        with open(path, "rb") as f:
            return f.read().decode("utf-8", "replace")
    except FileNotFoundError:
        return ""


def proc_cmdline(pid):
    """Returns /proc/PID/cmdline with NULs as spaces, or None if the process is gone."""
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return f.read().replace(b"\0", b" ").decode("utf-8", "replace").strip()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None


def ensure_dir(path):
    os.makedirs(path, exist_ok=True)
    return path


def proc_stat(pid):
    """Returns (ppid, session id, start time) of PID from /proc/PID/stat, or None if it is gone."""
    try:
        with open("/proc/%d/stat" % pid, "rb") as f:
            data = f.read().decode("utf-8", "replace")
    except (FileNotFoundError, ProcessLookupError):
        return None
    # The command name is in parentheses and may itself hold spaces or parentheses.
    fields = data[data.rindex(")") + 2:].split()
    return int(fields[1]), int(fields[3]), int(fields[19])


def all_pids():
    return [int(d) for d in os.listdir("/proc") if d.isdigit()]


def children(pid):
    """Returns the pids of PID's children, from /proc/PID/task/*/children."""
    kids = []
    try:
        tasks = os.listdir("/proc/%d/task" % pid)
    except FileNotFoundError:
        return kids
    for tid in tasks:
        try:
            with open("/proc/%d/task/%s/children" % (pid, tid)) as f:
                kids.extend(int(p) for p in f.read().split())
        except FileNotFoundError:
            continue
    return sorted(set(kids))


def run_alive(run_dir):
    """True when a stack of that run directory still has a live process (any pid file)."""
    run = os.path.join(run_dir, "state", "run")
    try:
        names = os.listdir(run)
    except FileNotFoundError:
        return False
    for name in names:
        if not name.endswith(".pid"):
            continue
        try:
            with open(os.path.join(run, name)) as f:
                os.kill(int(f.read().strip()), 0)
            return True
        except (OSError, ValueError):
            continue
    return False


def prune_runs(keep=3):
    """Removes all but the KEEP newest run directories under tests/out/integration.

    Each holds a MariaDB datadir of about 100 MB; the newest stay for looking at failures.
    A directory whose stack still runs (another pytest session's) is never removed.
    """
    try:
        runs = sorted(d for d in os.listdir(OUT) if os.path.isdir(os.path.join(OUT, d)))
    except FileNotFoundError:
        return
    for d in runs[:-keep] if keep > 0 else runs:
        if not run_alive(os.path.join(OUT, d)):
            shutil.rmtree(os.path.join(OUT, d), ignore_errors=True)


class Stack:
    """One running deploy/local/run with its own port and state directory."""

    def __init__(self, workers=4):
        prune_runs(keep=2)
        stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
        self.out_dir = tempfile.mkdtemp(prefix=stamp + "-", dir=ensure_dir(OUT))
        self.state_dir = ensure_dir(os.path.join(self.out_dir, "state"))
        # Unix socket paths hold at most 107 bytes (unix(7)) and deploy/local/run puts its
        # sockets in $STATE/run: a deep checkout gets a state dir under /tmp instead.
        if len(self.state_dir) > 80:
            self.state_dir = tempfile.mkdtemp(prefix="usermgr-it-")
        # mkdtemp makes 0700 directories; nginx's unprivileged workers must pass through.
        for d in (self.out_dir, self.state_dir):
            os.chmod(d, 0o755)
        self.run_log = os.path.join(self.out_dir, "run.log")
        self.mail_dir = os.path.join(self.state_dir, "mail")  # the file transport's .eml files
        self.port = free_port()
        self.base_url = None
        self.admin_username = ADMIN_USERNAME
        self.admin_password = ADMIN_PASSWORD
        self.workers = workers
        self.proc = None
        self._log_file = None
        # pid -> start time of every process seen serving this stack; the pool and nginx run in
        # sessions of their own and workers name no path, so teardown looks for these too.
        self._known = {}

    # --- life cycle -----------------------------------------------------------------------

    def env(self):
        env = dict(os.environ)
        env.update({
            "USERMGR_HTTP_PORT": str(self.port),
            "USERMGR_STATE_DIR": self.state_dir,
            "USERMGR_WORKERS": str(self.workers),
            "USERMGR_BOOTSTRAP_ADMIN_PASSWORD": self.admin_password,
            # Cheap hashing: the tests log in often, and the cost is not what they check.
            "USERMGR_ARGON2_MEMORY_KIB": "8192",
            "USERMGR_ARGON2_ITERATIONS": "1",
            # Imported users keep their bare hash until a test wraps it: test_wrap.py runs
            # wrap-legacy, and a mailer of its own with the pace on.
            "USERMGR_LEGACY_WRAP_PER_SECOND": "0",
        })
        return env

    def start(self):
        """Starts deploy/local/run and returns once it printed its URL and /healthz is 200."""
        script = os.path.join(REPO, "deploy", "local", "run")
        if not os.access(script, os.X_OK):
            raise StackError("%s is missing or not executable" % script)
        self._log_file = open(self.run_log, "wb")
        # A session of its own: teardown can tell the stack's processes from everything else.
        self.proc = subprocess.Popen([script], cwd=REPO, env=self.env(),
                                     stdin=subprocess.DEVNULL, stdout=self._log_file,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + START_TIMEOUT
        while self.base_url is None:
            for line in read_text(self.run_log).splitlines():
                m = URL_LINE.match(line.strip())
                if m:
                    self.base_url = m.group(1)
                    break
            if self.base_url is not None:
                break
            if self.proc.poll() is not None:
                raise StackError("deploy/local/run exited with %d before printing its URL:\n%s"
                                 % (self.proc.returncode, self.log_tail()))
            if time.monotonic() > deadline:
                raise StackError("deploy/local/run printed no URL within %d s:\n%s"
                                 % (START_TIMEOUT, self.log_tail()))
            time.sleep(0.5)
        last = None
        while time.monotonic() < deadline:
            try:
                r = requests.get(self.base_url + "/healthz", timeout=5)
                if r.status_code == 200:
                    self.remember_processes()
                    return
                last = "status %d" % r.status_code
            except requests.RequestException as e:
                last = repr(e)
            if self.proc.poll() is not None:
                break
            time.sleep(0.5)
        raise StackError("%s/healthz never answered 200 (last: %s):\n%s"
                         % (self.base_url, last, self.log_tail()))

    def stop(self):
        """SIGTERMs deploy/local/run; returns a list of problems (empty when the stop was clean)."""
        problems = []
        if self.proc is None:
            return problems
        running = self.proc.poll() is None
        if running:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                problems.append("deploy/local/run did not exit within %d s of SIGTERM"
                                % STOP_TIMEOUT)
                self.proc.kill()
                self.proc.wait(10)
        if self.proc.returncode != 0:
            problems.append("deploy/local/run exited with %r %s" % (
                self.proc.returncode, "after SIGTERM" if running else "on its own"))
        left = self.leftovers()
        if left:
            problems.append("processes left behind after the stop: %s"
                            % "; ".join("%d %s" % (p, c) for p, c in left))
            for pid, _ in left:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        if self._log_file is not None:
            self._log_file.close()
        return problems

    def remember(self, pid):
        st = proc_stat(pid)
        if st is not None:
            self._known[pid] = st[2]

    def remember_processes(self):
        """Notes the pids of MariaDB, nginx, multiwatch and the workers as they are now."""
        for name in ("mysqld.pid", "nginx.pid", "fcgi.pid"):
            try:
                self.remember(self.pid_from(name))
            except (OSError, ValueError, IndexError):
                pass
        try:
            for pid in children(self.multiwatch_pid()):
                self.remember(pid)
        except (OSError, ValueError, IndexError):
            pass

    def leftovers(self):
        """Returns [(pid, cmdline)] of processes that still belong to this stack.

        A process belongs to it if its command line names the state directory, if it is in the
        session deploy/local/run was started in, if it was seen serving the stack (same pid and
        start time), or if it descends from any of those (nginx workers rename themselves).
        """
        me = os.getpid()
        stats = {}
        for pid in all_pids():
            st = proc_stat(pid)
            if st is not None:
                stats[pid] = st
        owned = set()
        for pid, (_, sid, start) in stats.items():
            if pid == me:
                continue
            cmd = proc_cmdline(pid) or ""
            if (self.state_dir in cmd or (self.proc is not None and sid == self.proc.pid)
                    or self._known.get(pid) == start):
                owned.add(pid)
        grew = True
        while grew:
            grew = False
            for pid, (ppid, _, _) in stats.items():
                if ppid in owned and pid not in owned and pid != me:
                    owned.add(pid)
                    grew = True
        result = []
        for pid in sorted(owned):
            cmd = proc_cmdline(pid)
            # Zombies have an empty command line and are gone once reaped; they hold nothing.
            if cmd:
                result.append((pid, cmd))
        return result

    def log_tail(self, lines=60):
        return "\n".join(read_text(self.run_log).splitlines()[-lines:])

    # --- HTTP -----------------------------------------------------------------------------

    def url(self, path):
        return self.base_url + path

    def request(self, method, path, **kw):
        """One request on a fresh connection; redirects are not followed."""
        kw.setdefault("timeout", HTTP_TIMEOUT)
        kw.setdefault("allow_redirects", False)
        return requests.request(method, self.url(path), **kw)

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, **kw):
        return self.request("POST", path, **kw)

    def raw(self, data, timeout=HTTP_TIMEOUT):
        """Sends bytes as they are on a new connection and returns everything read until EOF."""
        host, port = self.base_url.split("://", 1)[1].rsplit(":", 1)
        chunks = []
        with socket.create_connection((host, int(port)), timeout=timeout) as s:
            s.sendall(data)
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                chunks.append(chunk)
        return b"".join(chunks)

    # --- processes ------------------------------------------------------------------------

    def run_file(self, name):
        return os.path.join(self.state_dir, "run", name)

    def pid_from(self, name):
        """Returns the pid stored in $STATE/run/NAME."""
        with open(self.run_file(name)) as f:
            return int(f.read().split()[0])

    def multiwatch_pid(self):
        return self.pid_from("fcgi.pid")

    def mariadb_pid(self):
        return self.pid_from("mysqld.pid")

    def worker_pids(self):
        """Returns the pids of the usermgr.fcgi processes multiwatch currently supervises."""
        pids = [p for p in children(self.multiwatch_pid())
                if "usermgr.fcgi" in (proc_cmdline(p) or "")]
        for pid in pids:
            self.remember(pid)
        return pids

    def mariadb_ctl(self, action):
        """Runs deploy/local/mariadb-ctl ACTION for this stack; returns (exit status, output).

        The output goes through a file, not a pipe: a mariadbd started by the script inherits
        its stdout, and a pipe would then never reach end-of-file.
        """
        path = os.path.join(self.out_dir, "mariadb-ctl-%s.log" % action)
        with open(path, "wb") as out:
            rc = subprocess.run([os.path.join(REPO, "deploy", "local", "mariadb-ctl"), action],
                                cwd=REPO, env=self.env(), stdin=subprocess.DEVNULL,
                                stdout=out, stderr=subprocess.STDOUT, timeout=120).returncode
        self.remember_processes()
        return rc, read_text(path)

    # --- logs -----------------------------------------------------------------------------

    def log_path(self, name):
        """$STATE/log/NAME.log; NAME is usermgr, mariadb, nginx-error or nginx-access."""
        return os.path.join(self.state_dir, "log", name + ".log")

    def log_size(self, name):
        try:
            return os.path.getsize(self.log_path(name))
        except FileNotFoundError:
            return 0

    def read_log(self, name, since=0):
        """Returns the log's text from byte offset SINCE (see log_size) to its end."""
        try:
            with open(self.log_path(name), "rb") as f:
                f.seek(since)
                return f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""


def media_type(r):
    """The Content-Type without parameters, lower-cased ("" when absent)."""
    return r.headers.get("Content-Type", "").split(";")[0].strip().lower()


def assert_problem(r, status, code):
    """R is an RFC 9457 problem with STATUS and our CODE (API.md §2)."""
    assert r.status_code == status, "expected %d, got %d: %r" % (status, r.status_code, r.text[:300])
    assert media_type(r) == "application/problem+json", r.headers.get("Content-Type")
    body = r.json()
    for key in ("type", "title", "status", "code"):
        assert key in body, "problem body lacks %r: %r" % (key, body)
    assert body["status"] == status, body
    assert body["code"] == code, body
    return body


def wait_until(predicate, timeout, interval=0.2):
    """Calls PREDICATE until it returns a true value or TIMEOUT seconds pass; returns its value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(interval)


def burst_in_one_window(send, n, window=60, margin=10):
    """Calls send(i) for i in 0..n-1 inside one per-IP rate-limit window; returns the results.

    The server counts in windows of WINDOW seconds aligned to the Unix epoch (ratelimit.c:
    start = now - now % window), read from the same clock as ours. A burst starts at a window's
    start unless more than MARGIN seconds of the current one are left (31 requests take under a
    second here; waiting for every window start would cost half a minute per burst). The clock is
    read before the first request and after the last answer: if the two fall in different
    windows, the server counted the burst in two, so it is sent again from the start of the
    next window, where the count begins afresh.
    """
    for attempt in range(2):
        left = window - time.time() % window
        if attempt > 0 or left < margin:
            time.sleep(left + 0.2)
        first = time.time() // window
        results = [send(i) for i in range(n)]
        if time.time() // window == first:
            return results
    raise AssertionError("two bursts of %d requests each crossed a %d s rate-limit window"
                         % (n, window))
