/* login: the password check shared by the HTML form and the JSON API — lockout, timing, re-hash, audit. */
#ifndef UM_LOGIN_H
#define UM_LOGIN_H

#include <stddef.h>

#include <jansson.h>

#include "audit.h"
#include "device.h"
#include "error.h"
#include "user.h"

struct ctx;

/*
 * Checks login (username or address) and password.  UM_OK with *u filled when they match
 * an active, verified account (the hash is upgraded if it is legacy or of another cost).
 * dev->cookie is the browser's device cookie (or NULL); dev is judged for the account
 * (device_judge) and says afterwards whether the attempt came from a trusted device.
 * Refusals, in this order: UM_ERATE (locked out, even with the right password; *retry_after
 * set), UM_ECREDS (unknown account — after a dummy verification of the same cost — or
 * wrong password, which counts towards the lockout and may start one: then UM_ERATE),
 * UM_EDISABLED, UM_EUNVERIFIED (only said once the password was right).  Every client meets
 * the account's lockout as API.md describes it, except that a trusted device may go on
 * while the account is locked until its own budget is spent (login_gate,
 * login_count_failure).  Failures are audited here.  UM_EUNAVAIL when the database is down.
 */
enum um_err login_password(struct ctx *, const char *, const char *, size_t, struct device *,
    struct user *, long long *);
/*
 * Whether an attempt on u may go on: always while the account is not locked (a device's
 * count refuses nothing then); while it is, only from a trusted device dev (may be NULL)
 * whose budget is not spent.  Else UM_ERATE with *retry_after: the account's lock, or for
 * a spent device the sooner end of its lock and the account's.
 */
enum um_err login_gate(const struct user *, const struct device *, long long *);
/*
 * A wrong secret (password or second factor) for u, which passed login_gate: counts it
 * against the account (not while the account is locked: then only a trusted device gets
 * here, and the lock is left as it is) and, when dev (may be NULL) is trusted, also against
 * that device; audits event with details (stolen; may be NULL), or the lockout it started
 * instead.  UM_ECREDS, or UM_ERATE with *retry_after when this failure locked the account,
 * or spent the device's budget while the account is locked.
 */
enum um_err login_count_failure(struct ctx *, const struct user *, const struct device *,
    enum audit_event, json_t *, long long *);
/*
 * The password re-check before a signed-in user's sensitive change (password, address,
 * deletion, two-step verification): UM_OK when pw is u's password.  A wrong one counts
 * towards the same lockout as a wrong login (issue 10, item 7) and is audited:
 * UM_ECREDS, or UM_ERATE with *retry_after when it locked the account; a locked account is
 * UM_ERATE even with the right password.  The per-IP limit is the front door's
 * (ROUTE_IPLIMIT on every route that calls this).  UM_EUNAVAIL when the database is down.
 */
enum um_err login_recheck(struct ctx *, const struct user *, const char *, size_t, long long *);
/*
 * Records a successful login: stamps last_login_at, audits it, clears the failure count of
 * the trusted device dev (may be NULL), and clears the account's as API.md says — unless
 * the account is locked (u->locked_for), which only a trusted device gets past: then the
 * account's count and lock stay as they are.  Logs a `user` revocation row (the user
 * object's last_login_at changes), and mails the new-device alert when this sign-in came
 * from a device the account has not used (alert_signin; u still as before the sign-in); all
 * of it in the caller's transaction, or in one of its own outside one.  Then reads u again.
 */
enum um_err login_succeeded(struct ctx *, struct user *, const struct device *, const char *);

#endif
