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
/* Records a successful login: clears the failure count, stamps last_login_at, audits it. */
enum um_err login_succeeded(struct ctx *, struct user *, const char *);

#endif
