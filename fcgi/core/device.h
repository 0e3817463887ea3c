/* device: OWASP device cookies — a browser that logged in to an account before keeps its own failure budget while the account is locked. */
#ifndef UM_DEVICE_H
#define UM_DEVICE_H

#include <stddef.h>

#include "b64.h"
#include "error.h"

struct arena;
struct ctx;
struct db;
struct keyring;

/*
 * The cookie is a list of entries separated by '~', newest first, one per account the
 * browser logged in to, at most DEVICE_ENTRIES of them (older ones drop off), so it stays
 * small whatever the browser does.  An entry is "UID.EXP.NONCE.MAC": the user id and the
 * expiry (Unix seconds) in canonical decimal, 16 random bytes and HMAC-SHA256 under the
 * device sub-key of "UID.EXP.NONCE", both base64url.
 */
#define DEVICE_ENTRIES     4
#define DEVICE_NONCE_BYTES 16
#define DEVICE_ENTRY_MAX   (19 + 1 + 19 + 1 + B64URL_LEN(DEVICE_NONCE_BYTES) + 1 + B64URL_LEN(32))
#define DEVICE_COOKIE_MAX  (DEVICE_ENTRIES * (DEVICE_ENTRY_MAX + 1))
#define DEVICE_LIFETIME    (365LL * 86400) /* seconds: the cookie's Max-Age and signed expiry */
#define DEVICE_ID_LEN      32              /* SHA-256 of the nonce: the key of its lockout */

/*
 * One login attempt's device.  cookie is the input (the cookie as the browser sent it, or
 * NULL); device_judge fills the rest.
 */
struct device {
	const char   *cookie;
	int           trusted;           /* cookie holds a valid entry for the account tried */
	unsigned char id[DEVICE_ID_LEN]; /* of that entry, when trusted */
	long long     locked_for;        /* seconds its budget stays spent; 0 when not */
};

/*
 * A new entry for user_id expiring at exp, with a fresh nonce from the OS CSPRNG, signed
 * with the current key, into out (DEVICE_ENTRY_MAX + 1 bytes).  Returns its length, 0 when
 * the MAC could not be made.
 */
size_t device_entry_sign(const struct keyring *, long long, long long, char *);
/*
 * 1 when cookie (a list as above; NULL counts as empty) holds an entry for user_id signed
 * under any key of the ring (rotation) and not expired at now; then id gets the SHA-256
 * of its nonce.  Anything malformed, a cookie over DEVICE_COOKIE_MAX and entries past the
 * first DEVICE_ENTRIES count as no entry.  The MAC is compared in constant time.
 */
int device_cookie_verify(const struct keyring *, const char *, long long, long long,
    unsigned char[DEVICE_ID_LEN]);
/*
 * The cookie value after a login of user_id at now: a fresh entry first, then the still
 * valid entries of other accounts from old (may be NULL), DEVICE_ENTRIES in all at most.
 * In the arena; NULL when the MAC could not be made.
 */
char *device_cookie_renew(struct arena *, const struct keyring *, const char *, long long,
    long long);

/*
 * Fills d for an attempt on user_id: trusted when d->cookie holds a valid entry for that
 * account, and then whether the device's budget is spent (which refuses it only while the
 * account is locked: login_gate).  UM_EUNAVAIL when the database is down.
 */
enum um_err device_judge(struct ctx *, long long, struct device *);
/*
 * A wrong password (or second factor) from the trusted device d of user_id: counts it
 * against the device (the account's count is login_count_failure's); the
 * USERMGR_DEVICE_MAX_FAILURES-th within USERMGR_LOGIN_LOCKOUT_SECONDS, and any after it,
 * marks the budget spent for that long from this failure and sets *locked.
 */
enum um_err device_failed(struct ctx *, long long, const struct device *, int *);
/* A login through the trusted device d succeeded: its failure count goes. */
enum um_err device_succeeded(struct ctx *, const struct device *);
/* Lifts every device lockout of a user (a new password, an admin enabling the account). */
enum um_err device_forget(struct db *, struct arena *, long long);

#endif
