"""test_enumeration.py: with USERMGR_PREVENT_ENUMERATION=1 nothing tells which addresses exist.

API.md §1 and §7: a sign-up with a taken address answers exactly like one with a free address
(API and alias 202 {"status": "verification_sent"}, HTML the "check your inbox" page) and its owner
is mailed a notice; usernames stay visibly unique (409). Forgot-password and resend answer
"202, always" (HTML: the same page) whether or not an account has the address.

Answering alike is not enough when the time of the answer differs (hardening item 8): each pair
below is timed over 40 alternating requests (known, unknown, known, ...) after a warm-up, and the
medians must lie within 3 ms. Forgot-password and resend answered a known address about 1.7 ms
later than an unknown one before (a JWT, three renders and a commit), which that bound does not
see on a quiet machine; what does is that their answer leaves the same trace for every address
(one waiting request, nothing else) until the mailer runs. The stack of this module runs the default Argon2id cost (the shared stack's cheap one would hide a
skipped hash), a per-IP limit no burst here reaches, and a per-recipient limit of one mail an
hour: every timed request uses an address of its own, so that limit never stops one by accident,
and one earlier request puts an address over it on purpose. Mail follows a request within a
mailer poll; the outbox helpers wait for it (peers.requests_handled).
"""

import os
import re
import secrets
import signal
import statistics
import time

import pytest

from mail_lib import Client, module_stack, sql, sql_quote
from peers import bound_session, outbox_messages, requests_handled
from stack import HTTP_TIMEOUT

ROUNDS = 40          # timed requests of each kind
WARM_UP = 5          # untimed requests of each kind first (connections, caches, the dummy hash)
MAX_GAP_MS = 3.0     # the medians of two kinds may differ by less than this (hardening item 8)
ATTEMPTS = 4         # batches of ROUNDS at most, pooled (see assert_same_time)

TAKEN_SUBJECT = "Someone tried to sign up with your e-mail address"
RESET_SUBJECT = "Reset your usermgr password"
VERIFY_SUBJECT = "Verify your e-mail address"

CSRF_FIELD = re.compile(r'name="csrf_token"\s+value="([^"]*)"')
REQUEST_ID = re.compile(r'<span class="request-id">[^<]*</span>')
# Headers that differ between any two answers, whatever they say.
PER_ANSWER = {"date", "x-request-id"}


@pytest.fixture(scope="module")
def hiding():
    """The one stack of this module (see the module's docstring for its settings)."""
    yield from module_stack({
        "USERMGR_PREVENT_ENUMERATION": "1",
        "USERMGR_RATE_PER_IP_PER_MIN": "100000",
        "USERMGR_MAIL_PER_ADDRESS_PER_HOUR": "1",
        # API.md §1 defaults: the cost a real sign-up pays.
        "USERMGR_ARGON2_MEMORY_KIB": "19456",
        "USERMGR_ARGON2_ITERATIONS": "2",
    }, "enumeration-prevention")


def fresh(prefix="e"):
    return prefix + secrets.token_hex(6)


def new_password():
    return "Pw-" + secrets.token_urlsafe(12)


def make_users(stack, n, verified, prefix="u"):
    """N accounts made in the database (their sign-up is not what is tested); returns addresses.

    The hash '!' matches no password (sql/001_init.sql): these accounts are only mailed."""
    names = [fresh(prefix) for _ in range(n)]
    rows = ", ".join("(%s, %s, '!', %s)" % (
        sql_quote(u), sql_quote(u + "@example.com"),
        "UTC_TIMESTAMP(6)" if verified else "NULL") for u in names)
    sql(stack, "INSERT INTO users (username, email, password_hash, email_verified_at) VALUES "
        + rows)
    return [u + "@example.com" for u in names]


def user_count(stack, column, value):
    return int(sql(stack, "SELECT COUNT(*) FROM users WHERE %s = %s"
                   % (column, sql_quote(value)))[0][0])


def comparable(r):
    """Status, headers and body of R without what differs between any two answers."""
    headers = sorted((k.lower(), v) for k, v in r.headers.items() if k.lower() not in PER_ANSWER)
    return r.status_code, headers, REQUEST_ID.sub("", r.text)


def assert_same_answer(a, b, what):
    ca, cb = comparable(a), comparable(b)
    assert ca[0] == cb[0], "%s: status %d vs %d" % (what, ca[0], cb[0])
    assert ca[1] == cb[1], "%s: the headers differ:\n%r\n%r" % (what, ca[1], cb[1])
    assert ca[2] == cb[2], "%s: the bodies differ:\n%r\n%r" % (what, ca[2][:2000], cb[2][:2000])


class Visitor:
    """One client: its own source address and cookie jar, a kept-alive connection, and (for the
    HTML forms) the anonymous CSRF token, which stays valid for every later POST."""

    def __init__(self, stack):
        self.stack = stack
        self.session = bound_session(Client(stack).address)
        self.csrf = None

    def api(self, path, body):
        return self.session.post(self.stack.url(path), json=body, timeout=HTTP_TIMEOUT,
                                 allow_redirects=False, headers={"Accept": "application/json"})

    def form(self, path, fields):
        if self.csrf is None:
            r = self.session.get(self.stack.url(path), timeout=HTTP_TIMEOUT)
            assert r.status_code == 200, "GET %s: %d" % (path, r.status_code)
            self.csrf = CSRF_FIELD.search(r.text).group(1)
        data = dict(fields, csrf_token=self.csrf)
        return self.session.post(self.stack.url(path), data=data, timeout=HTTP_TIMEOUT,
                                 allow_redirects=False, headers={"Origin": self.stack.base_url})


def signup_api(v, path, email):
    return v.api(path, {"username": fresh("s"), "email": email, "password": new_password()})


def signup_html(v, email):
    pw = new_password()
    return v.form("/register", {"username": fresh("s"), "email": email, "password": pw,
                                "password_confirm": pw})


# --- functional: the same answer ------------------------------------------------------------

@pytest.mark.parametrize("path", ["/api/v1/users", "/register_user"])
def test_an_api_sign_up_with_a_taken_address_answers_like_a_free_one_and_mails_its_owner(
        hiding, path):
    v = Visitor(hiding)
    addr = fresh("free") + "@example.com"
    free = signup_api(v, path, addr)
    assert free.status_code == 202, (free.status_code, free.text[:300])
    assert free.json() == {"status": "verification_sent"}, free.text
    assert user_count(hiding, "email", addr) == 1, "the free sign-up made no account"
    intruder = fresh("s")
    # Addresses are unique case-insensitively (API.md §2): the local part in capitals is taken.
    taken = v.api(path, {"username": intruder, "email": addr.split("@")[0].upper() + "@example.com",
                         "password": new_password()})
    assert_same_answer(free, taken, "%s free vs taken address" % path)
    assert user_count(hiding, "username", intruder) == 0, "a taken address made an account"
    notice = outbox_messages(hiding, addr, TAKEN_SUBJECT)
    assert len(notice) == 1, "the owner of %s got %d notices, not one" % (addr, len(notice))
    assert "token=" not in notice[0]["text_body"], "the notice holds a link that acts"


def test_an_html_sign_up_with_a_taken_address_shows_the_same_check_your_mail_page(hiding):
    v = Visitor(hiding)
    addr = fresh("free") + "@example.com"
    free = signup_html(v, addr)
    assert free.status_code == 200, (free.status_code, free.text[:500])
    assert "Check your inbox" in free.text, free.text[:1000]
    taken = signup_html(v, addr)
    assert_same_answer(free, taken, "/register free vs taken address")
    assert user_count(hiding, "email", addr) == 1
    assert len(outbox_messages(hiding, addr, TAKEN_SUBJECT)) == 1, (
        "the owner of %s got no notice" % addr)


@pytest.mark.parametrize("path", ["/api/v1/users", "/register_user"])
def test_a_taken_username_is_still_a_visible_409_even_with_a_taken_address(hiding, path):
    v = Visitor(hiding)
    (addr,) = make_users(hiding, 1, verified=True)
    owner = addr.split("@")[0]
    for email in (addr, fresh("other") + "@example.com"):
        r = v.api(path, {"username": owner.upper(), "email": email, "password": new_password()})
        assert r.status_code == 409, (email, r.status_code, r.text[:300])
        assert r.json()["code"] == "conflict", r.text
        fields = {e["field"] for e in r.json().get("errors", [])}
        assert fields == {"username"}, "409 must name the username only: %r" % r.json()


def test_a_taken_username_is_still_a_visible_409_on_the_html_form(hiding):
    v = Visitor(hiding)
    (addr,) = make_users(hiding, 1, verified=True)
    r = signup_html_named(v, addr.split("@")[0], fresh("other") + "@example.com")
    assert r.status_code == 409, (r.status_code, r.text[:500])
    assert "is already taken" in r.text


def signup_html_named(v, username, email):
    pw = new_password()
    return v.form("/register", {"username": username, "email": email, "password": pw,
                                "password_confirm": pw})


MAIL_ROUTES = [
    ("api", "/api/v1/auth/password/forgot"),
    ("api", "/api/v1/auth/verify-email/resend"),
    ("html", "/forgot-password"),
    ("html", "/verify-email/resend"),
]


def ask(v, kind, path, email):
    return v.api(path, {"email": email}) if kind == "api" else v.form(path, {"email": email})


@pytest.mark.parametrize("kind,path", MAIL_ROUTES)
def test_forgot_password_and_resend_answer_alike_for_every_kind_of_address(hiding, kind, path):
    v = Visitor(hiding)
    unverified = make_users(hiding, 2, verified=False)
    verified = make_users(hiding, 1, verified=True)[0]
    over = unverified[1]
    first = ask(v, kind, path, over)  # the one mail this hour for that address
    answers = {
        "known": ask(v, kind, path, unverified[0]),
        "unknown": ask(v, kind, path, fresh("nobody") + "@example.com"),
        "verified": ask(v, kind, path, verified),
        "over the per-recipient limit": ask(v, kind, path, over),
    }
    for name, r in answers.items():
        assert_same_answer(first, r, "%s %s: a first request vs %s" % (kind, path, name))
    subject = RESET_SUBJECT if "forgot" in path else VERIFY_SUBJECT
    # outbox_messages reads the outbox once the mailer has handled every request.
    assert len(outbox_messages(hiding, unverified[0], subject)) == 1, (
        "%s: the known address got no mail" % path)
    assert len(outbox_messages(hiding, over, subject)) == 1, (
        "%s: an address over its limit got a second mail" % path)
    sent_verified = outbox_messages(hiding, verified, subject)
    if "resend" in path:
        assert sent_verified == [], "a verified account got a verification link"
    else:
        assert len(sent_verified) == 1, "%s: the verified account got no reset link" % path


def counts(stack, addresses):
    """What the database holds about ADDRESSES and their requests, table by table."""
    where = ", ".join(sql_quote(a) for a in addresses)
    return {t: int(sql(stack, q.format(where))[0][0]) for t, q in (
        ("mail_requests", "SELECT COUNT(*) FROM mail_requests WHERE email IN ({})"),
        ("email_outbox", "SELECT COUNT(*) FROM email_outbox WHERE to_email IN ({})"),
        ("audit_events", "SELECT COUNT(*) FROM audit_events a JOIN users u ON u.id = a.user_id "
                         "WHERE u.email IN ({})"),
        # The per-recipient buckets hold no address (a hash of it): count every recent one.
        ("rate_limits", "SELECT COUNT(*) FROM rate_limits WHERE bucket LIKE 'mail:%' AND "
                        "window_start >= UTC_TIMESTAMP() - INTERVAL 2 HOUR"))}


@pytest.mark.parametrize("kind,path", MAIL_ROUTES)
def test_the_answer_leaves_the_same_trace_for_a_known_and_an_unknown_address(hiding, kind, path):
    """Until the mailer runs, a request for a mailed address has written exactly what one for an
    unknown address has: one waiting request; no mail, no audit event, no per-recipient count.
    The address-dependent work comes after the answer, so the answer's time cannot carry it."""
    (known,) = make_users(hiding, 1, verified=False)
    nobody = fresh("nobody") + "@example.com"
    mailer = hiding.pid_from("mailer.pid")
    v = Visitor(hiding)
    ask(v, kind, path, fresh("warm") + "@example.com")  # the CSRF token, before the pause
    requests_handled(hiding)
    os.kill(mailer, signal.SIGSTOP)
    try:
        before = counts(hiding, [known, nobody])
        r1, a1 = ask(v, kind, path, known), counts(hiding, [known, nobody])
        r2, a2 = ask(v, kind, path, nobody), counts(hiding, [known, nobody])
    finally:
        os.kill(mailer, signal.SIGCONT)
    assert_same_answer(r1, r2, "%s %s known vs unknown" % (kind, path))
    step1 = {t: a1[t] - before[t] for t in before}
    step2 = {t: a2[t] - a1[t] for t in before}
    assert step1 == step2 == {"mail_requests": 1, "email_outbox": 0, "audit_events": 0,
                              "rate_limits": 0}, (
        "the known address's answer wrote %r, the unknown one's %r" % (step1, step2))
    subject = RESET_SUBJECT if "forgot" in path else VERIFY_SUBJECT
    assert len(outbox_messages(hiding, known, subject)) == 1, "the mail never followed"


# --- timing ---------------------------------------------------------------------------------

def timed(send):
    t0 = time.perf_counter()
    r = send()
    return (time.perf_counter() - t0) * 1000.0, r


def measure(kinds, times, first, rounds):
    """KINDS: {name: send(i)}. Sends ROUNDS requests of each kind, numbered from FIRST,
    alternating (the kind that goes first rotates every round); appends the times in ms to
    TIMES[name] unless TIMES is None (the warm-up)."""
    names = list(kinds)
    for i in range(first, first + rounds):
        order = names[i % len(names):] + names[:i % len(names)]
        for n in order:
            ms, r = timed(lambda: kinds[n](i))
            assert r.status_code in (200, 202), "%s #%d: %d %r" % (n, i, r.status_code,
                                                                   r.text[:300])
            if times is not None:
                times[n].append(ms)


def summary(times):
    return ", ".join("%s median %.2f ms (quartiles %.2f..%.2f)" % (
        n, statistics.median(t), *statistics.quantiles(t, n=4)[0::2]) for n, t in times.items())


def assert_same_time(kinds, what, bound=MAX_GAP_MS):
    """After a warm-up, ROUNDS alternating requests of each kind; the medians of every two kinds
    must lie within BOUND ms. When they do not, ROUNDS more are added to the same samples
    (ATTEMPTS batches at most) and the medians of all of them decide: a neighbour's burst of
    load blurs one batch, and more samples bring the medians back to what the paths cost,
    while a path that skips real work stays apart however many there are."""
    times = {n: [] for n in kinds}
    seen = []
    measure(kinds, None, 0, WARM_UP)
    for k in range(ATTEMPTS):
        measure(kinds, times, WARM_UP + k * ROUNDS, ROUNDS)
        medians = {n: statistics.median(t) for n, t in times.items()}
        gap = max(medians.values()) - min(medians.values())
        seen.append("%d rounds: gap %.2f ms: %s" % ((k + 1) * ROUNDS, gap, summary(times)))
        print("%s: %s" % (what, seen[-1]))
        if gap < bound:
            return
    pytest.fail("%s: the medians differ by %.1f ms or more, so the answer time tells the kinds "
                "apart:\n%s" % (what, bound, "\n".join(seen)), pytrace=False)


def pool(stack, n, verified, prefix):
    """An iterator over N fresh addresses of accounts made in the database."""
    return iter(make_users(stack, n, verified, prefix))


def unknown(_i):
    return fresh("nobody") + "@example.com"


NEEDED = WARM_UP + ATTEMPTS * ROUNDS


@pytest.mark.parametrize("path", ["/api/v1/users", "/register"])
def test_a_sign_up_with_a_taken_address_takes_as_long_as_one_with_a_free_address(hiding, path):
    v = Visitor(hiding)
    taken = pool(hiding, NEEDED, True, "t")
    if path == "/register":
        kinds = {"free address": lambda i: signup_html(v, unknown(i)),
                 "taken address": lambda i: signup_html(v, next(taken))}
    else:
        kinds = {"free address": lambda i: signup_api(v, path, unknown(i)),
                 "taken address": lambda i: signup_api(v, path, next(taken))}
    assert_same_time(kinds, "sign-up %s" % path)


@pytest.mark.parametrize("kind,path", MAIL_ROUTES)
def test_forgot_password_and_resend_take_as_long_for_every_kind_of_address(hiding, kind, path):
    """Forgot-password mails the first two kinds, resend the first only; none mails the rest."""
    v = Visitor(hiding)
    unverified = pool(hiding, NEEDED, False, "n")
    verified = pool(hiding, NEEDED, True, "y")
    over_list = make_users(hiding, NEEDED, False, "o")
    # One request each uses up the hour's one mail (USERMGR_MAIL_PER_ADDRESS_PER_HOUR=1).
    for a in over_list:
        r = ask(v, kind, path, a)
        assert r.status_code in (200, 202), r.status_code
    over = iter(over_list)
    kinds = {"known, unverified": lambda i: ask(v, kind, path, next(unverified)),
             "known, verified": lambda i: ask(v, kind, path, next(verified)),
             "unknown": lambda i: ask(v, kind, path, unknown(i)),
             "over the limit": lambda i: ask(v, kind, path, next(over))}
    assert_same_time(kinds, "%s %s" % (kind, path))
