"""test_retention.py: what the database keeps, and for how long (issue 10, items 10 and 11).

A mail that has left keeps no subject or body in email_outbox, so no working link stays in the
database (a failed one neither: test_mail.py, fake Mailjet); sent rows, expired rate-limit windows and old failed-login audit events are deleted by
the mailer's periodic prune. The prune runs when a mailer starts and then once a minute; these
tests start a mailer of their own with -1 (prune, deliver what is due, exit) in the shared
stack's environment, so nothing waits for the minute. Ages are set with SQL.

The per-recipient limit: forgot-password, resend and the "address taken" notice mail one address
at most USERMGR_MAIL_PER_ADDRESS_PER_HOUR (default 5) times an hour, and the requester sees no
difference. The notice is only sent with USERMGR_PREVENT_ENUMERATION=1: its test has a stack of
its own (the "hiding" fixture).
"""

import os
import secrets
import subprocess

import pytest

from mail_lib import (VERIFY_LINK, Client, Mailer, body_columns, forgot_password, module_stack,
                      register, sql, sql_quote, wait_row)
from peers import requests_handled

DELIVERY = 20  # seconds a due message may take to leave (the mailer polls every 0.5 s)
MAIL_PER_ADDRESS_PER_HOUR = 5  # the default of USERMGR_MAIL_PER_ADDRESS_PER_HOUR
OUTBOX_RETENTION_DAYS = 7  # the default of USERMGR_OUTBOX_RETENTION_DAYS
AUDIT_RETENTION_DAYS = 365  # the default of USERMGR_AUDIT_RETENTION_DAYS


@pytest.fixture(scope="module")
def hiding():
    """A stack of its own with USERMGR_PREVENT_ENUMERATION=1 (the "address taken" notice)."""
    yield from module_stack({"USERMGR_PREVENT_ENUMERATION": "1"}, "enumeration-prevention")


def outbox_count(stack, address):
    requests_handled(stack)
    return int(sql(stack, "SELECT COUNT(*) FROM email_outbox WHERE to_email = %s"
                   % sql_quote(address))[0][0])


def prune_once(stack, name):
    """Runs a usermgr-mailer -1 with the stack mailer's environment; returns its output."""
    m = Mailer(stack, name)
    out = subprocess.run([m.binary, "-1"], env=m.env, stdin=subprocess.DEVNULL,
                         capture_output=True, timeout=60, check=False)
    text = (out.stdout + out.stderr).decode("utf-8", "replace")
    assert out.returncode == 0, "usermgr-mailer -1 exited %d: %s" % (out.returncode, text[-2000:])
    return text


def existing(stack, table, ids):
    if not ids:
        return set()
    return {int(r[0]) for r in sql(stack, "SELECT id FROM %s WHERE id IN (%s)"
                                          % (table, ", ".join(str(i) for i in ids)))}


def insert_outbox(stack, to_email, status, days_ago):
    """A row of STATUS created and (when sent) sent DAYS_AGO days ago; returns its id."""
    sent = "UTC_TIMESTAMP(6) - INTERVAL %d DAY" % days_ago if status == "sent" else "NULL"
    sql(stack, "INSERT INTO email_outbox (to_email, subject, text_body, html_body, status, "
               "attempts, created_at, sent_at) VALUES (%s, '', '', '', %s, 1, "
               "UTC_TIMESTAMP(6) - INTERVAL %d DAY, %s)"
        % (sql_quote(to_email), sql_quote(status), days_ago, sent))
    return int(sql(stack, "SELECT MAX(id) FROM email_outbox WHERE to_email = %s"
                   % sql_quote(to_email))[0][0])


def insert_audit(stack, event, days_ago, tag):
    sql(stack, "INSERT INTO audit_events (event, ip, details, created_at) VALUES (%s, "
               "'192.0.2.1', JSON_OBJECT('test', %s), UTC_TIMESTAMP(6) - INTERVAL %d DAY)"
        % (sql_quote(event), sql_quote(tag), days_ago))
    return int(sql(stack, "SELECT MAX(id) FROM audit_events")[0][0])


# --- item 10: no live link in the outbox ----------------------------------------------------

def test_a_delivered_mail_keeps_no_subject_body_or_link_in_the_outbox(stack):
    account = register(stack)
    row = [r for r in sql(stack, "SELECT id FROM email_outbox WHERE to_email = %s"
                                 % sql_quote(account.email))]
    assert len(row) == 1, row
    row_id = int(row[0][0])
    sent = wait_row(stack, row_id, lambda r: r["status"] == "sent", DELIVERY, "sent")
    # What an operator needs stays: recipient, status, attempts, times.
    assert sent["to_email"] == account.email and sent["attempts"] == 1, sent
    assert sql(stack, "SELECT sent_at IS NOT NULL AND created_at IS NOT NULL FROM email_outbox "
                      "WHERE id = %d" % row_id) == [["1"]]
    assert body_columns(stack, row_id) == ("", "", ""), (
        "a sent row keeps its subject or body: %r" % (body_columns(stack, row_id),))
    assert sql(stack, "SELECT COUNT(*) FROM email_outbox WHERE id = %d AND (text_body LIKE "
                      "'%%token=%%' OR html_body LIKE '%%token=%%')" % row_id) == [["0"]]
    # The mail itself left with its link: the .eml holds it.
    with open(os.path.join(stack.mail_dir, "%d.eml" % row_id), "rb") as f:
        assert VERIFY_LINK.search(f.read().decode("utf-8", "replace").replace("=\r\n", "")), (
            "the delivered mail has no verification link")


def test_sent_mail_older_than_the_retention_is_deleted_and_younger_mail_stays(stack):
    addr = "retention-%s@example.com" % secrets.token_hex(6)
    old = insert_outbox(stack, addr, "sent", OUTBOX_RETENTION_DAYS + 1)
    young = insert_outbox(stack, addr, "sent", OUTBOX_RETENTION_DAYS - 1)
    failed = insert_outbox(stack, addr, "failed", OUTBOX_RETENTION_DAYS + 30)
    assert existing(stack, "email_outbox", [old, young, failed]) == {old, young, failed}
    prune_once(stack, "mailer-prune-" + secrets.token_hex(3))
    left = existing(stack, "email_outbox", [old, young, failed])
    assert old not in left, "a row sent %d days ago is still there" % (OUTBOX_RETENTION_DAYS + 1)
    assert young in left, "a row sent %d days ago was deleted" % (OUTBOX_RETENTION_DAYS - 1)
    assert failed in left, "a failed row was deleted: an operator looks into those"


# --- item 11: limits an attacker can step around -------------------------------------------

def test_expired_rate_limit_windows_and_old_failed_logins_are_pruned_and_recent_ones_stay(stack):
    tag = secrets.token_hex(6)
    sql(stack, "INSERT INTO rate_limits (bucket, window_start, count) VALUES "
               "(%s, UTC_TIMESTAMP() - INTERVAL 2 DAY, 3), (%s, UTC_TIMESTAMP(), 3)"
        % (sql_quote("test-old:" + tag), sql_quote("test-new:" + tag)))
    old_fail = insert_audit(stack, "login_failed", AUDIT_RETENTION_DAYS + 1, tag)
    new_fail = insert_audit(stack, "login_failed", AUDIT_RETENTION_DAYS - 1, tag)
    old_other = insert_audit(stack, "login_succeeded", AUDIT_RETENTION_DAYS + 30, tag)
    prune_once(stack, "mailer-prune-" + secrets.token_hex(3))
    buckets = {r[0] for r in sql(stack, "SELECT bucket FROM rate_limits WHERE bucket LIKE %s"
                                        % sql_quote("test-%:" + tag))}
    assert buckets == {"test-new:" + tag}, "rate_limits after the prune: %r" % buckets
    left = existing(stack, "audit_events", [old_fail, new_fail, old_other])
    assert old_fail not in left, "a failed login older than the retention is still there"
    assert new_fail in left, "a failed login younger than the retention was deleted"
    assert old_other in left, "an old event that is not a failed login was deleted"


def one_more_than_the_mail_limit(stack, path, email):
    """Sends MAIL_PER_ADDRESS_PER_HOUR + 1 requests for EMAIL to PATH, each from an address of
    its own (so the per-IP limit is not what stops the last); asserts every answer is the
    first one (202) and that exactly the limit's worth of mail was queued."""
    before = outbox_count(stack, email)
    answers = []
    for _ in range(MAIL_PER_ADDRESS_PER_HOUR + 1):
        r = Client(stack).json("POST", path, {"email": email})
        answers.append((r.status_code, r.headers.get("Content-Type"), r.text))
    after = outbox_count(stack, email)
    assert answers[0][0] == 202, answers[0]
    assert all(a == answers[0] for a in answers), "the answers differ: %r" % answers
    assert after - before == MAIL_PER_ADDRESS_PER_HOUR, (
        "%d requests to %s queued %d mails; at most %d an hour may go to one address"
        % (len(answers), path, after - before, MAIL_PER_ADDRESS_PER_HOUR))
    return after


def test_the_sixth_forgot_password_for_one_address_in_an_hour_answers_the_same_but_queues_none(
        stack):
    account = register(stack)
    sql(stack, "UPDATE users SET email_verified_at = UTC_TIMESTAMP(6) WHERE id = %d"
        % int(account.user["id"]))
    after = one_more_than_the_mail_limit(stack, "/api/v1/auth/password/forgot", account.email)
    forgot_password(account)  # still 202 ...
    assert outbox_count(stack, account.email) == after  # ... and still no mail


def test_the_sixth_resend_for_one_address_in_an_hour_answers_the_same_but_queues_none(stack):
    account = register(stack)
    one_more_than_the_mail_limit(stack, "/api/v1/auth/verify-email/resend", account.email)


def test_the_sixth_taken_address_notice_in_an_hour_answers_the_same_but_queues_none(hiding):
    stack = hiding
    addr = "taken-%s@example.com" % secrets.token_hex(6)

    def sign_up():
        r = Client(stack).json("POST", "/api/v1/users", {
            "username": "t" + secrets.token_hex(6), "email": addr,
            "password": "Pw-" + secrets.token_urlsafe(12)})
        return r.status_code, r.headers.get("Content-Type"), r.text

    first = sign_up()  # creates the account (and its verification mail, which is not counted)
    assert first[0] == 202, first
    before = outbox_count(stack, addr)
    answers = [sign_up() for i in range(MAIL_PER_ADDRESS_PER_HOUR + 1)]
    assert all(a == first for a in answers), "a taken address answers differently: %r" % (
        answers,)
    assert outbox_count(stack, addr) - before == MAIL_PER_ADDRESS_PER_HOUR, (
        "%d sign-ups with a taken address queued %d notices; at most %d an hour"
        % (len(answers), outbox_count(stack, addr) - before, MAIL_PER_ADDRESS_PER_HOUR))


# --- the revocation log (sql/006_revocations.sql) -----------------------------------------------

def insert_revocation(stack, user_id, hours_ago):
    sql(stack, "INSERT INTO revocations (kind, user_id, created_at) VALUES ('user', %d, "
               "UTC_TIMESTAMP(6) - INTERVAL %d HOUR)" % (user_id, hours_ago))
    return int(sql(stack, "SELECT MAX(id) FROM revocations WHERE user_id = %d" % user_id)[0][0])


def test_revocation_rows_older_than_a_day_are_pruned_and_younger_ones_stay(stack):
    # An id no account has: the log keeps rows of deleted users, so none is needed.
    user_id = 9000000000 + secrets.randbelow(10 ** 9)
    old = insert_revocation(stack, user_id, 25)
    young = insert_revocation(stack, user_id, 23)
    fresh = insert_revocation(stack, user_id, 0)
    prune_once(stack, "mailer-prune-" + secrets.token_hex(3))
    left = existing(stack, "revocations", [old, young, fresh])
    assert old not in left, "a revocation row 25 hours old is still there"
    assert {young, fresh} <= left, "a revocation row younger than a day was deleted"
