"""test_mail.py: mail leaves the outbox through each transport, survives outages, and is sent once (API.md §5, §7).

The file transport is tested on the shared stack (its default). Mailjet and SMTP each get a
stack of their own, started with the transport pointed at a fake provider on loopback
(fake_mailjet.py, fake_smtp.py): one module-scoped stack each, as every start costs seconds.
Retries are made due with SQL instead of waiting out the ~30 s backoff; the one wait that
cannot be shortened is the Mailjet client timeout (30 s) of the outage test.
"""

import base64
import collections
import datetime
import email.utils
import json
import os
import re
import secrets
import signal
import time

import pytest

from fake_mailjet import FakeMailjet
from fake_smtp import FakeSMTP, make_certificate
from mail_lib import (RESET_LINK, SENDER_EMAIL, SENDER_NAME, VERIFY_LINK, Client, Mailer,
                      body_columns, forgot_password, make_due, only_row, outbox_row, outbox_rows,
                      parse_eml, register, sql, sql_quote, start_stack, stop_stack,
                      verified_with_display_name, verify_with_link, wait_row)
from stack import read_text, wait_until

DELIVERY = 20  # seconds a due message may take to reach the provider (the mailer polls at 0.5 s)
MJ_TIMEOUT = 30  # the mailer's whole-exchange timeout for Mailjet (transport-mailjet.c)
TIMED_OUT = re.compile(r"tim(e|ed)[ -]?out", re.I)
# The outbox blanks a row's subject once it is sent, so the expected subject is the template's.
VERIFY_SUBJECT = "Verify your e-mail address for usermgr"

# fake_smtp.py asks for AUTH without TLS on purpose (loopback); aiosmtpd warns on every session.
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")


# --- fixtures -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def mailjet():
    """(stack, fake): a stack whose mailer sends through a fake Mailjet with known credentials."""
    fake = FakeMailjet(api_key="mjkey-" + secrets.token_hex(8),
                       api_secret="mjsecret-" + secrets.token_hex(12))
    fake.start()
    try:
        s = start_stack({
            "USERMGR_MAIL_TRANSPORT": "mailjet",
            "MAILJET_API_URL": fake.url,
            "MAILJET_API_KEY": fake.api_key,
            "MAILJET_API_SECRET": fake.api_secret,
            "SENDER_EMAIL": SENDER_EMAIL,
            "SENDER_NAME": SENDER_NAME,
        })
        try:
            yield s, fake
        finally:
            problems = stop_stack(s)
        if problems:
            pytest.fail("the Mailjet stack did not stop cleanly:\n" + "\n".join(problems),
                        pytrace=False)
    finally:
        fake.stop()


@pytest.fixture(scope="module")
def smtp(tmp_path_factory):
    """(stack, fake): a stack whose mailer sends through a fake SMTP server that wants STARTTLS
    and then AUTH, with a certificate the mailer is told to trust (USERMGR_SMTP_CA)."""
    cert, key = make_certificate(str(tmp_path_factory.mktemp("smtp-tls")))
    fake = FakeSMTP(user="smtp-user", password="smtp-pass-" + secrets.token_hex(8),
                    tls=(cert, key))
    fake.start()
    try:
        s = start_stack({
            "USERMGR_MAIL_TRANSPORT": "smtp",
            "USERMGR_SMTP_URL": fake.url,
            "USERMGR_SMTP_USER": fake.user,
            "USERMGR_SMTP_PASSWORD": fake.password,
            "USERMGR_SMTP_CA": cert,
            "SENDER_EMAIL": SENDER_EMAIL,
            "SENDER_NAME": SENDER_NAME,
        })
        try:
            yield s, fake
        finally:
            problems = stop_stack(s)
        if problems:
            pytest.fail("the SMTP stack did not stop cleanly:\n" + "\n".join(problems),
                        pytrace=False)
    finally:
        fake.stop()


def settle(stack):
    """Waits until nothing is queued, so a fake's failure mode hits only this test's mail.

    Rows an earlier, failed test left queued are marked failed rather than left to take the
    failure meant for the next message.
    """
    quiet = wait_until(lambda: sql(stack, "SELECT COUNT(*) FROM email_outbox "
                                   "WHERE status = 'queued'")[0][0] == "0", 10)
    if not quiet:
        sql(stack, "UPDATE email_outbox SET status = 'failed', "
            "last_error = 'test_mail: left over by an earlier test' WHERE status = 'queued'")


# --- Mailjet helpers ------------------------------------------------------------------------

def mj_messages_to(fake, addr):
    return [m for m in fake.messages if m["To"] and m["To"][0].get("Email") == addr]


def mj_requests_for(fake, custom_id):
    """Every send request (answered or not) that carried CUSTOM_ID."""
    found = []
    for r in fake.requests:
        try:
            body = json.loads(r["body"].decode("utf-8"))
            ids = [m.get("CustomID") for m in body["Messages"]]
        except (ValueError, KeyError, TypeError, AttributeError):
            continue
        if custom_id in ids:
            found.append(r)
    return found


def wait_mj_message(fake, addr, timeout=DELIVERY):
    got = wait_until(lambda: mj_messages_to(fake, addr), timeout)
    assert got, "fake Mailjet received nothing for %s within %d s (requests: %r)" % (
        addr, timeout, [(r["status"], r["body"][:200]) for r in fake.requests[-5:]])
    return got


def assert_no_credentials(text, fake):
    """TEXT (last_error, the mailer's log) holds neither key, secret nor the basic-auth pair."""
    pair = "%s:%s" % (fake.api_key, fake.api_secret)
    for secret in (fake.api_secret, fake.api_key, base64.b64encode(pair.encode()).decode()):
        assert secret not in text, "last_error reveals a credential: %r" % text


# --- file transport (the shared stack's default) --------------------------------------------

def test_the_file_transport_writes_a_parseable_eml_whose_link_verifies(stack):
    account = register(stack)
    row = only_row(stack, account.email)
    path = os.path.join(stack.mail_dir, "%d.eml" % row["id"])
    assert wait_until(lambda: os.path.exists(path), DELIVERY), (
        "%s was not written within %d s; the mail dir holds %r" % (
            path, DELIVERY, sorted(os.listdir(stack.mail_dir))[-10:]))
    with open(path, "rb") as f:
        data = f.read()
    msg = parse_eml(data)
    assert not msg.defects, "the parser found defects: %r" % msg.defects

    sender = msg["From"].addresses[0]
    assert sender.addr_spec == os.environ.get("SENDER_EMAIL", "no-reply@localhost"), msg["From"]
    assert sender.display_name == os.environ.get("SENDER_NAME", "usermgr"), msg["From"]
    to = msg["To"].addresses
    assert [a.addr_spec for a in to] == [account.email], msg["To"]
    assert to[0].display_name == account.username, "To names the username: %r" % msg["To"]
    assert msg["Subject"] == VERIFY_SUBJECT, msg["Subject"]
    date = email.utils.parsedate_to_datetime(msg["Date"])
    assert date.tzinfo is not None, msg["Date"]
    now = datetime.datetime.now(datetime.timezone.utc)
    assert abs((now - date).total_seconds()) < 300, "Date %s is not now (%s)" % (msg["Date"], now)
    assert re.fullmatch(r"<[^<>@\s]+@[^<>@\s]+>", msg["Message-ID"].strip()), msg["Message-ID"]
    assert msg.get_content_type() == "multipart/alternative", msg.get_content_type()
    types = [p.get_content_type() for p in msg.iter_parts()]
    assert types == ["text/plain", "text/html"], types

    text = msg.get_body(("plain",)).get_content()
    html = msg.get_body(("html",)).get_content()
    link = VERIFY_LINK.search(text)
    assert link, "no verification link in the text part: %r" % text[:1500]
    assert link.group(1).split("?", 1)[1] in html, "the HTML part lacks the token: %r" % html[:1500]
    verify_with_link(stack, account, text)


# --- Mailjet --------------------------------------------------------------------------------

def test_a_sign_up_reaches_mailjet_with_the_documented_body_and_its_link_verifies(mailjet):
    stack, fake = mailjet
    settle(stack)
    account = register(stack)
    row = only_row(stack, account.email)
    got = wait_mj_message(fake, account.email)
    assert len(got) == 1, "one sign-up, one message: %r" % got
    m = {k: v for k, v in got[0].items() if not k.startswith("_")}
    assert set(m) == {"From", "To", "Subject", "TextPart", "HTMLPart", "CustomID"}, sorted(m)
    assert m["From"] == {"Email": SENDER_EMAIL, "Name": SENDER_NAME}, m["From"]
    # API.md §7: To.Name is the display name or else the username (a new account has none).
    assert m["To"] == [{"Email": account.email, "Name": account.username}], m["To"]
    assert m["CustomID"] == str(row["id"]), "CustomID %r is not the outbox id %d" % (
        m["CustomID"], row["id"])
    assert m["Subject"] == VERIFY_SUBJECT, m["Subject"]
    link = VERIFY_LINK.search(m["TextPart"])
    assert link, "no verification link in TextPart: %r" % m["TextPart"][:1500]
    assert link.group(1).split("?", 1)[1] in m["HTMLPart"], m["HTMLPart"][:1500]
    # Basic auth was right on every request: the fake answers 401 otherwise.
    statuses = [r["status"] for r in mj_requests_for(fake, m["CustomID"])]
    assert statuses == [200], "requests for CustomID %s answered %r" % (m["CustomID"], statuses)
    wait_row(stack, row["id"], lambda r: r["status"] == "sent", 10, "sent")
    verify_with_link(stack, account, m["TextPart"])


def test_mailjet_to_name_is_the_display_name_when_the_user_has_one(mailjet):
    stack, fake = mailjet
    settle(stack)
    name = "Zoë Ångström-Łukasiewicz"
    account = verified_with_display_name(stack, name)
    before = {r["id"] for r in outbox_rows(stack, account.email)}
    forgot_password(account)
    rows = [r for r in outbox_rows(stack, account.email) if r["id"] not in before]
    assert len(rows) == 1, "expected one reset mail: %r" % outbox_rows(stack, account.email)

    def reset_message():
        return [m for m in mj_messages_to(fake, account.email)
                if m["CustomID"] == str(rows[0]["id"])]

    got = wait_until(reset_message, DELIVERY)
    assert got, "the reset mail did not reach fake Mailjet: %r" % (
        mj_messages_to(fake, account.email),)
    assert got[0]["To"] == [{"Email": account.email, "Name": name}], got[0]["To"]
    assert RESET_LINK.search(got[0]["TextPart"]), got[0]["TextPart"][:1500]


def test_a_mailjet_outage_delays_the_mail_but_loses_none_and_sends_it_once(mailjet):
    stack, fake = mailjet
    settle(stack)
    fake.fail("500")
    try:
        account = register(stack)
        row = only_row(stack, account.email)
        cid = str(row["id"])

        # First attempt: 500, queued for a retry, the reason recorded without credentials.
        r1 = wait_row(stack, row["id"], lambda r: r["attempts"] >= 1, DELIVERY, "attempted once")
        assert r1["status"] == "queued" and r1["attempts"] == 1, r1
        assert r1["last_error"] and "500" in r1["last_error"], r1
        assert_no_credentials(r1["last_error"], fake)

        # Second attempt, made due now instead of in ~30 s: 500 again.
        make_due(stack, row["id"])
        r2 = wait_row(stack, row["id"], lambda r: r["attempts"] >= 2, DELIVERY, "attempted twice")
        assert r2["status"] == "queued" and r2["attempts"] == 2, r2
        assert_no_credentials(r2["last_error"] or "", fake)

        # Third attempt: the provider accepts the connection and never answers.
        fake.fail("hang", count=1)
        make_due(stack, row["id"])
        assert wait_until(lambda: any(r["status"] == "hang" for r in mj_requests_for(fake, cid)),
                          DELIVERY), "the third attempt never reached the fake"
        r3 = wait_row(stack, row["id"], lambda r: r["attempts"] >= 3, MJ_TIMEOUT + 15,
                      "attempted a third time (client timeout)")
        assert r3["status"] == "queued" and r3["attempts"] == 3, r3
        assert r3["last_error"] and TIMED_OUT.search(r3["last_error"]), r3
        assert_no_credentials(r3["last_error"], fake)
        assert mj_messages_to(fake, account.email) == [], "accepted during the outage"
    finally:
        fake.succeed()

    make_due(stack, row["id"])
    got = wait_mj_message(fake, account.email)
    sent = wait_row(stack, row["id"], lambda r: r["status"] == "sent", 10, "sent")
    assert sent["status"] == "sent", sent
    time.sleep(1.5)  # three poll intervals: a second delivery would show by now
    got = mj_messages_to(fake, account.email)
    assert [m["CustomID"] for m in got] == [cid], "delivered %r, expected CustomID %s once" % (
        [m["CustomID"] for m in got], cid)
    tries = [r["status"] for r in mj_requests_for(fake, cid)]
    assert tries == [500, 500, "hang", 200], "every attempt carries CustomID %s: %r" % (cid, tries)
    assert_no_credentials(read_text(stack.log_path("mailer")), fake)
    verify_with_link(stack, account, got[0]["TextPart"])


@pytest.mark.parametrize("mode", ["400", "status_error"], ids=["http-400", "200-with-status-error"])
def test_a_permanent_mailjet_refusal_fails_the_message_at_once(mailjet, mode):
    stack, fake = mailjet
    settle(stack)
    fake.fail(mode, count=1)
    try:
        account = register(stack)
        row = only_row(stack, account.email)
        failed = wait_row(stack, row["id"], lambda r: r["status"] != "queued" or r["attempts"] > 0,
                          DELIVERY, "attempted")
    finally:
        fake.succeed()
    assert failed["status"] == "failed" and failed["attempts"] == 1, (
        "a Mailjet %s must fail the message at once (API.md §7): %r" % (mode, failed))
    assert failed["last_error"], failed
    assert_no_credentials(failed["last_error"], fake)
    # A message that will never leave keeps no live link in the database either.
    assert body_columns(stack, row["id"]) == ("", "", ""), body_columns(stack, row["id"])
    # Not retried: the fake, now healthy, never sees it again.
    time.sleep(1.5)
    tries = [r["status"] for r in mj_requests_for(fake, str(row["id"]))]
    assert len(tries) == 1, "a failed message was sent again: %r" % tries
    assert outbox_row(stack, row["id"])["status"] == "failed"


def test_two_mailers_at_once_deliver_200_queued_messages_exactly_once(mailjet):
    stack, fake = mailjet
    settle(stack)
    tag = "bulk-" + secrets.token_hex(4)
    extra = Mailer(stack, "mailer-second-" + tag)
    # Each send takes a little while, so both mailers are surely busy at the same time.
    fake.slow_seconds = 0.02
    fake.fail("slow")
    try:
        extra.start()
        values = []
        for i in range(200):
            addr = "%s-%03d@example.com" % (tag, i)
            values.append("(%s, %s, %s, %s, %s)" % (
                sql_quote(addr), sql_quote("Bulk %d" % i), sql_quote("%s message %d" % (tag, i)),
                sql_quote("Hello %d,\nthis is message %d of %s.\n" % (i, i, tag)),
                sql_quote("<p>Hello %d, this is message %d of %s.</p>" % (i, i, tag))))
        sql(stack, "INSERT INTO email_outbox (to_email, to_name, subject, text_body, html_body) "
            "VALUES " + ", ".join(values))
        ids = sorted(int(r[0]) for r in sql(stack, "SELECT id FROM email_outbox "
                                              "WHERE to_email LIKE %s"
                                              % sql_quote(tag + "-%")))
        assert len(ids) == 200, ids

        def sent_count():
            return int(sql(stack, "SELECT COUNT(*) FROM email_outbox WHERE status = 'sent' "
                           "AND to_email LIKE %s" % sql_quote(tag + "-%"))[0][0])

        assert wait_until(lambda: sent_count() == 200, 90, 0.5), (
            "only %d of 200 were sent; states: %r" % (sent_count(), sql(
                stack, "SELECT status, COUNT(*) FROM email_outbox WHERE to_email LIKE %s "
                "GROUP BY status" % sql_quote(tag + "-%"))))
        time.sleep(1)  # a duplicate in flight would arrive by now
        rc, took = extra.terminate()
    finally:
        fake.succeed()
        fake.slow_seconds = 3.0
        extra.kill()

    want = {str(i) for i in ids}
    seen = collections.Counter(m["CustomID"] for m in fake.messages if m["CustomID"] in want)
    dupes = {k: v for k, v in seen.items() if v > 1}
    assert not dupes, "sent more than once (CustomID: times): %r" % dupes
    assert set(seen) == want, "never received: %r" % sorted(want - set(seen))[:20]
    for m in fake.messages:
        if m["CustomID"] in want:
            i = int(m["Subject"].rsplit(" ", 1)[1])
            want_to = {"Email": "%s-%03d@example.com" % (tag, i), "Name": "Bulk %d" % i}
            assert m["To"] == [want_to], m
    # Both took part; otherwise this test could not have seen a duplicate.
    mine = {int(x) for x in re.findall(r"mail (\d+) sent", extra.output())} & set(ids)
    assert 0 < len(mine) < 200, "the second mailer delivered %d of the 200" % len(mine)
    assert rc == 0, "the second mailer exited %r on SIGTERM:\n%s" % (rc, extra.output()[-2000:])


def test_the_mailer_keeps_working_after_mariadb_restarts(mailjet):
    stack, fake = mailjet
    settle(stack)
    mailer_pid = stack.pid_from("mailer.pid")
    rc, out = stack.mariadb_ctl("stop")
    assert rc == 0, "mariadb-ctl stop failed: %s" % out
    try:
        time.sleep(3)
    finally:
        rc, out = stack.mariadb_ctl("start")
    assert rc == 0, "mariadb-ctl start failed: %s" % out

    def ready():
        return all(stack.get("/readyz").status_code == 200 for _ in range(8))

    assert wait_until(ready, 30, 0.5), "/readyz is not 200 again after MariaDB's restart"
    assert os.path.exists("/proc/%d" % mailer_pid) and stack.pid_from("mailer.pid") == mailer_pid, (
        "the mailer did not survive the restart: %s" % read_text(stack.log_path("mailer"))[-2000:])
    account = register(stack)
    row = only_row(stack, account.email)
    got = wait_mj_message(fake, account.email)
    assert got[0]["CustomID"] == str(row["id"]), got[0]
    wait_row(stack, row["id"], lambda r: r["status"] == "sent", 10, "sent")


def test_an_idle_mailer_exits_0_promptly_on_sigterm(mailjet):
    stack, _ = mailjet
    settle(stack)
    m = Mailer(stack, "mailer-sigterm-" + secrets.token_hex(4))
    try:
        m.start()
        time.sleep(1.2)  # past its first poll: idle, asleep between polls
        rc, took = m.terminate()
    finally:
        m.kill()
    assert rc == 0, "an idle mailer exited %r on SIGTERM:\n%s" % (rc, m.output()[-2000:])
    assert took < 3, "an idle mailer took %.1f s to stop" % took


# --- SMTP -----------------------------------------------------------------------------------

def smtp_to(fake, addr):
    return [d for d in fake.messages if addr in d.rcpt_tos]


def wait_smtp(fake, addr, n=1, timeout=DELIVERY):
    got = wait_until(lambda: len(smtp_to(fake, addr)) >= n and smtp_to(fake, addr), timeout)
    assert got, "fake SMTP received %d message(s) for %s within %d s (auth failures: %d)" % (
        len(smtp_to(fake, addr)), addr, timeout, fake.auth_failures)
    return got


def test_smtp_delivers_a_multipart_message_whose_link_verifies(smtp):
    stack, fake = smtp
    settle(stack)
    account = register(stack)
    row = only_row(stack, account.email)
    got = wait_smtp(fake, account.email)
    assert len(got) == 1, got
    d = got[0]
    assert d.mail_from == SENDER_EMAIL, d.mail_from
    assert d.rcpt_tos == [account.email], d.rcpt_tos
    assert d.auth_login == fake.user, "the mailer did not authenticate as %s: %r" % (
        fake.user, d.auth_login)
    raw = d.data
    assert b"\n" in raw and raw.count(b"\n") == raw.count(b"\r\n"), "bare LF line ends"
    assert max(len(l) for l in raw.split(b"\r\n")) <= 998, "a line exceeds RFC 5322's 998 octets"

    msg = d.message
    assert not msg.defects, msg.defects
    sender = msg["From"].addresses[0]
    assert (sender.addr_spec, sender.display_name) == (SENDER_EMAIL, SENDER_NAME), msg["From"]
    to = msg["To"].addresses
    assert [(a.addr_spec, a.display_name) for a in to] == [(account.email, account.username)], (
        msg["To"])
    assert msg["Subject"] == VERIFY_SUBJECT, msg["Subject"]
    assert email.utils.parsedate_to_datetime(msg["Date"]).tzinfo is not None, msg["Date"]
    assert re.fullmatch(r"<[^<>@\s]+@[^<>@\s]+>", (msg["Message-ID"] or "").strip()), (
        msg["Message-ID"])
    assert msg.get_content_type() == "multipart/alternative", msg.get_content_type()
    assert [p.get_content_type() for p in msg.iter_parts()] == ["text/plain", "text/html"]
    text = d.text()
    link = VERIFY_LINK.search(text)
    assert link, "no verification link in the text part: %r" % text[:1500]
    assert link.group(1).split("?", 1)[1] in d.html(), d.html()[:1500]
    wait_row(stack, row["id"], lambda r: r["status"] == "sent", 10, "sent")
    verify_with_link(stack, account, text)


def test_smtp_encodes_a_utf8_display_name_and_subject(smtp):
    stack, fake = smtp
    settle(stack)
    # Through the product: a reset mail to an account whose display name is not ASCII.
    name = "Zoë Ångström-Łukasiewicz"
    account = verified_with_display_name(stack, name)
    forgot_password(account)
    got = wait_until(lambda: [d for d in smtp_to(fake, account.email)
                              if RESET_LINK.search(d.text())], DELIVERY)
    assert got, "the reset mail did not arrive: %r" % smtp_to(fake, account.email)
    msg = got[0].message
    assert b"\xc3" not in got[0].data.split(b"\r\n\r\n", 1)[0], "raw 8-bit bytes in the header"
    to = msg["To"].addresses[0]
    assert (to.addr_spec, to.display_name) == (account.email, name), msg["To"]

    # A subject and a name of any script, queued the way the product queues mail.
    addr = "utf8-%s@example.com" % secrets.token_hex(4)
    subject = "Grüße — ünïcödé ✓ 日本語のテキスト, long enough to need folding into several encoded words"
    to_name = "Ōkubo \"Quoted\" Ærøskøbing, Jr."
    sql(stack, "INSERT INTO email_outbox (to_email, to_name, subject, text_body, html_body) "
        "VALUES (%s, %s, %s, %s, %s)" % (sql_quote(addr), sql_quote(to_name), sql_quote(subject),
                                         sql_quote("Text: ünïcödé ✓\nline two\n"),
                                         sql_quote("<p>HTML: ünïcödé ✓</p>")))
    d = wait_smtp(fake, addr)[0]
    head = d.data.split(b"\r\n\r\n", 1)[0]
    assert all(b < 0x80 for b in head), "8-bit bytes in the header section: %r" % head[:500]
    assert d.message["Subject"] == subject, d.message["Subject"]
    to = d.message["To"].addresses[0]
    assert (to.addr_spec, to.display_name) == (addr, to_name), d.message["To"]
    assert d.text().replace("\r\n", "\n") == "Text: ünïcödé ✓\nline two\n", repr(d.text())
    assert "ünïcödé ✓" in d.html(), d.html()


def test_smtp_with_credentials_sends_no_auth_to_a_server_without_starttls(smtp):
    # API.md §8: with SMTP credentials set, TLS is required.  A server that offers no STARTTLS
    # (or a man in the middle who strips it) must see neither AUTH nor the message; the row
    # records why and is retried as usual, and goes out once a server offers TLS again.
    stack, fake = smtp
    settle(stack)
    plain = FakeSMTP(user=fake.user, password=fake.password).start()
    own = stack.pid_from("mailer.pid")
    mailer = None
    os.kill(own, signal.SIGSTOP)  # the stack's mailer (STARTTLS fake) claims nothing meanwhile
    try:
        mailer = Mailer(stack, "plain-smtp-mailer", {"USERMGR_SMTP_URL": plain.url}).start()
        account = register(stack)
        row = only_row(stack, account.email)
        r = wait_row(stack, row["id"], lambda r: r["attempts"] >= 1, DELIVERY, "attempted")
        rc, _ = mailer.terminate()
        assert rc == 0, "the extra mailer did not stop cleanly: %r" % rc
    finally:
        if mailer is not None:
            mailer.kill()
        os.kill(own, signal.SIGCONT)
        plain.stop()
    assert plain.auth_attempts == 0, "credentials were sent over a connection without TLS"
    assert plain.messages == [], "the message was sent over a connection without TLS"
    assert r["status"] == "queued" and r["attempts"] == 1 and r["last_error"], r
    assert fake.password not in r["last_error"], r["last_error"]
    # Retried as usual, through the server that offers STARTTLS.
    make_due(stack, row["id"])
    assert wait_smtp(fake, account.email)[0].auth_login == fake.user
    wait_row(stack, row["id"], lambda r: r["status"] == "sent", 10, "sent")


def test_smtp_retries_a_451_and_fails_a_550_at_once(smtp):
    stack, fake = smtp
    settle(stack)
    fake.fail(451, count=1)
    try:
        account = register(stack)
        row = only_row(stack, account.email)
        r = wait_row(stack, row["id"], lambda r: r["attempts"] >= 1, DELIVERY, "attempted")
    finally:
        fake.fail(None)
    assert r["status"] == "queued" and r["attempts"] == 1 and r["last_error"], r
    assert fake.password not in r["last_error"], r["last_error"]
    assert fake.password not in read_text(stack.log_path("mailer")), "the password is logged"
    make_due(stack, row["id"])
    wait_smtp(fake, account.email)
    wait_row(stack, row["id"], lambda r: r["status"] == "sent", 10, "sent")

    settle(stack)
    fake.fail(550, count=1)
    try:
        other = register(stack, client=Client(stack))
        row = only_row(stack, other.email)
        r = wait_row(stack, row["id"], lambda r: r["status"] != "queued" or r["attempts"] > 0,
                     DELIVERY, "attempted")
    finally:
        fake.fail(None)
    assert r["status"] == "failed" and r["attempts"] == 1, "an SMTP 550 must fail at once: %r" % r
    assert smtp_to(fake, other.email) == []
