/* login: the password check shared by the HTML form and the JSON API — lockout, timing, re-hash, audit. */
#ifndef UM_LOGIN_H
#define UM_LOGIN_H

#include <stddef.h>

#include "error.h"
#include "user.h"

struct ctx;

/*
 * Checks login (username or address) and password.  UM_OK with *u filled when they match
 * an active, verified account (the hash is upgraded if it is legacy or of another cost).
 * Refusals, in this order: UM_ERATE (locked out, even with the right password; *retry_after
 * set), UM_ECREDS (unknown account — after a dummy verification of the same cost — or
 * wrong password, which counts towards the lockout and may start one: then UM_ERATE),
 * UM_EDISABLED, UM_EUNVERIFIED (only said once the password was right).  Failures are
 * audited here.  UM_EUNAVAIL when the database is down.
 */
enum um_err login_password(struct ctx *, const char *, const char *, size_t, struct user *,
    long long *);
/*
 * The password re-check before a signed-in user's sensitive change (password, address,
 * deletion, two-step verification): UM_OK when pw is u's password.  A wrong one counts
 * towards the same lockout as a wrong login (issue 10, item 7) and is audited:
 * UM_ECREDS, or UM_ERATE with *retry_after when it locked the account; a locked account is
 * UM_ERATE even with the right password.  The per-IP limit is the front door's
 * (ROUTE_IPLIMIT on every route that calls this).  UM_EUNAVAIL when the database is down.
 */
enum um_err login_recheck(struct ctx *, const struct user *, const char *, size_t, long long *);
/* Records a successful login: clears the failure count, stamps last_login_at, audits it. */
enum um_err login_succeeded(struct ctx *, struct user *, const char *);

#endif
