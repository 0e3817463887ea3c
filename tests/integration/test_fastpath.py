"""test_fastpath.py: the host-local cache in request handling (docs/DECISIONS.md "Fast path: wiring").

A cached bearer check asks MariaDB nothing; answers are those of the database path, byte for
byte (a second pool on the same MariaDB with USERMGR_CACHE_MB=0 answers the same); a segment
overwritten with garbage is rebuilt and never trusted; with MariaDB stopped, cached answers
stop after 5 poll intervals and the database path's 503 follows.  In LAST_FILES (conftest.py):
it stops MariaDB.
"""

import os
import re
import time

import pytest

from api_lib import Client, browser_login, login, register
from peers import sql
from pool_lib import SecondPool
from stack import REPO, assert_problem, ensure_dir, wait_until

POLL_MS = int(os.environ.get("USERMGR_REVOCATION_POLL_MS", "200"))
TRUST_MS = 5 * POLL_MS  # fastpath.h FASTPATH_TRUST_POLLS
SLACK_MS = 300  # one request's round trip and the poll that failed, on a busy 2-core machine
RECOVERY = 30  # seconds MariaDB may take to be ready again after a restart
REPORT = os.path.join(REPO, "tests", "out", "fail-closed.txt")


def metric(stack_or_pool, name):
    r = stack_or_pool.get("/metrics")
    assert r.status_code == 200, r.status_code
    m = re.search(r"^%s ([0-9.e+-]+)$" % re.escape(name), r.text, re.M)
    return float(m.group(1)) if m else None


def com_select(stack):
    return int(sql(stack, "SHOW GLOBAL STATUS LIKE 'Com_select'")[0][1])


def check(client, token=None, cookie=None, base=None):
    headers = {}
    if token is not None:
        headers["Authorization"] = "Bearer " + token
    if cookie is not None:
        headers["Cookie"] = "usermgr_session=" + cookie
    url = (base or client.stack.base_url) + "/auth/check"
    return client.session.get(url, headers=headers, timeout=10, allow_redirects=False)


COMPARED = ("Content-Type", "Cache-Control", "WWW-Authenticate", "X-User-Id", "X-User-Name",
            "X-User-Email", "X-User-Roles")


def answer(r):
    """What must be the same on both paths: status, the headers above, the body."""
    return (r.status_code, {h: r.headers.get(h) for h in COMPARED}, r.content)


def test_cached_checks_ask_mariadb_nothing(stack):
    account = register(stack, verified=True)
    token = login(account)["access_token"]
    browser = browser_login(stack, account)
    cookie = browser.session.cookies["usermgr_session"]
    c = Client(stack)
    # Every worker fills or hits once (4 workers): the next ones are hits.
    for _ in range(8):
        assert check(c, token=token).status_code == 204
        assert check(c, cookie=cookie).status_code == 204
    hits = metric(stack, "usermgr_cache_hits_total")
    before = com_select(stack)
    for _ in range(50):
        assert check(c, token=token).status_code == 204
    for _ in range(50):
        assert check(c, cookie=cookie).status_code == 204
    grown = com_select(stack) - before
    # The polls (two SELECTs each, every 200 ms) and the mailer's own go on meanwhile.
    assert grown < 50, "100 cached checks cost %d SELECTs" % grown
    assert metric(stack, "usermgr_cache_hits_total") - hits >= 100


@pytest.fixture(scope="module")
def nocache(stack):
    p = SecondPool(stack, name="nocache-pool", env={"USERMGR_CACHE_MB": "0"}).start()
    yield p
    p.stop()


def test_a_pool_without_the_cache_answers_byte_for_byte_the_same(stack, nocache):
    assert metric(nocache, "usermgr_cache_enabled") == 0
    assert not os.path.exists(os.path.join(nocache.dir, "cache"))
    plain = register(stack, verified=True)
    rich = register(stack, verified=True)
    pair = login(rich)
    r = rich.client.json("PATCH", "/api/v1/me", {"display_name": "Zoë Fast", "bio": "a bio"},
                         token=pair["access_token"])
    assert r.status_code == 200, r.text[:200]
    for account in (plain, rich):
        token = login(account)["access_token"]
        cookie = browser_login(stack, account).session.cookies["usermgr_session"]
        c = Client(stack)
        for _ in range(6):  # the stack's answers from the cache, after the first fill
            cached = [answer(check(c, token=token)), answer(check(c, cookie=cookie)),
                      answer(c.get("/api/v1/me", token=token)),
                      answer(check(c, token=token + "x"))]
            direct = [answer(check(c, token=token, base=nocache.base_url)),
                      answer(check(c, cookie=cookie, base=nocache.base_url)),
                      answer(c.session.get(nocache.base_url + "/api/v1/me", timeout=10,
                                           headers={"Authorization": "Bearer " + token})),
                      answer(check(c, token=token + "x", base=nocache.base_url))]
            assert cached == direct
        assert cached[0][0] == 204 and cached[2][0] == 200


def segment(stack):
    return os.path.join(stack.state_dir, "run", "cache")


def test_a_segment_overwritten_with_garbage_is_rebuilt_and_answers_stay_right(stack):
    path = segment(stack)
    assert os.path.exists(path), "deploy/local/run puts the segment in $STATE/run"
    valid = register(stack, verified=True)
    token = login(valid)["access_token"]
    gone = register(stack, verified=True)
    pair = login(gone)
    c = Client(stack)
    for _ in range(8):
        assert check(c, token=token).status_code == 204
        assert check(c, token=pair["access_token"]).status_code == 204
    r = gone.client.post("/api/v1/auth/logout", {"refresh_token": pair["refresh_token"]})
    assert r.status_code == 204, r.status_code
    rebuilds = metric(stack, "usermgr_cache_rebuilds_total") or 0
    size = os.path.getsize(path)
    with open(path, "r+b") as f:
        f.write(os.urandom(size))
    for _ in range(40):
        assert check(c, token=token).status_code == 204
        assert_problem(check(c, token=pair["access_token"]), 401, "invalid_token")
    assert wait_until(lambda: (metric(stack, "usermgr_cache_rebuilds_total") or 0) > rebuilds,
                      15), "the rebuild counter did not move"
    # Served from the new segment again once it is trusted.
    hits = metric(stack, "usermgr_cache_hits_total")
    for _ in range(20):
        assert check(c, token=token).status_code == 204
    assert metric(stack, "usermgr_cache_hits_total") > hits


def test_with_mariadb_stopped_cached_answers_stop_after_the_bound_then_503(stack):
    account = register(stack, verified=True)
    token = login(account)["access_token"]
    c = Client(stack)
    for _ in range(8):
        assert check(c, token=token).status_code == 204
    closed = metric(stack, "usermgr_cache_fail_closed_total")
    rc, out = stack.mariadb_ctl("stop")
    assert rc == 0, "mariadb-ctl stop failed:\n" + out
    try:
        stopped = time.monotonic()
        last_ok, first_503, cached = None, None, 0
        while time.monotonic() - stopped < (TRUST_MS + 2000) / 1000:
            r = check(c, token=token)
            now = time.monotonic()
            if r.status_code == 204:
                assert first_503 is None, "a cached answer came back after a 503"
                last_ok, cached = now, cached + 1
            else:
                assert_problem(r, 503, "service_unavailable")
                if first_503 is None:
                    first_503 = now
            time.sleep(0.02)
        assert first_503 is not None, "still answered from the cache %d ms after the stop" % (
            TRUST_MS + 2000)
        kept_ms = ((last_ok or stopped) - stopped) * 1000
        assert kept_ms <= TRUST_MS + SLACK_MS, "cached answers for %.0f ms" % kept_ms
    finally:
        rc, out = stack.mariadb_ctl("start")
    assert rc == 0, "mariadb-ctl start failed:\n" + out
    assert wait_until(lambda: check(c, token=token).status_code == 204, RECOVERY, 0.5), \
        "the token is not accepted again after MariaDB restarted"
    assert wait_until(lambda: all(check(c, token=token).status_code == 204 for _ in range(20)),
                      RECOVERY, 0.5)
    assert metric(stack, "usermgr_cache_fail_closed_total") > closed
    with open(os.path.join(ensure_dir(os.path.dirname(REPORT)), os.path.basename(REPORT)),
              "w") as f:
        f.write("MariaDB stopped: %d cached answers, the last %.0f ms after the stop returned, "
                "then 503 (bound: %d + %d ms)\n" % (cached, kept_ms, TRUST_MS, SLACK_MS))
