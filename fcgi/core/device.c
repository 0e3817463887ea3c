/* device: signed device cookies and their server-side lockouts (OWASP "Slow Down Online Guessing Attacks with Device Cookies"). */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "arena.h"
#include "b64.h"
#include "conf.h"
#include "ctx.h"
#include "db.h"
#include "device.h"
#include "keys.h"
#include "token.h"
#include "validate.h"

#define NONCE_LEN B64URL_LEN(DEVICE_NONCE_BYTES)
#define MAC_LEN   B64URL_LEN(32)

/* The canonical decimal in s[0..n) (validate_id's rules), or 0. */
static long long
number(const char *s, size_t n)
{
	char buf[20];

	if (n == 0 || n >= sizeof(buf))
		return 0;
	memcpy(buf, s, n);
	buf[n] = '\0';
	return validate_id(buf);
}

/*
 * Checks one entry s[0..n): well-formed, signed under a key of the ring, not expired at
 * now.  Returns 1 with *uid and id (SHA-256 of the nonce) set, else 0.
 */
static int
entry_check(const struct keyring *r, const char *s, size_t n, long long now, long long *uid,
    unsigned char id[DEVICE_ID_LEN])
{
	const char   *dot[3], *p, *end = s + n;
	unsigned char nonce[DEVICE_NONCE_BYTES + 1], got[33], want[32];
	long long     exp;
	size_t        k = 0, i;

	if (n > DEVICE_ENTRY_MAX)
		return 0;
	for (p = s; p < end; p++) {
		if (*p != '.')
			continue;
		if (k == 3)
			return 0;
		dot[k++] = p;
	}
	if (k != 3 || (size_t)(dot[2] - dot[1] - 1) != NONCE_LEN ||
	    (size_t)(end - dot[2] - 1) != MAC_LEN)
		return 0;
	if ((*uid = number(s, (size_t)(dot[0] - s))) == 0 ||
	    (exp = number(dot[0] + 1, (size_t)(dot[1] - dot[0] - 1))) == 0 || exp <= now)
		return 0;
	if (b64url_decode(nonce, dot[1] + 1, NONCE_LEN) != DEVICE_NONCE_BYTES ||
	    b64url_decode(got, dot[2] + 1, MAC_LEN) != 32)
		return 0;
	/* The key of a device is never recoverable from what is stored (its lockout row). */
	for (i = 0; i < r->n; i++)
		if (keys_hmac(r->set[i].k[KEY_DEVICE], KEY_LEN, s, (size_t)(dot[2] - s),
		        want) &&
		    CRYPTO_memcmp(want, got, 32) == 0) {
			token_sha256(nonce, DEVICE_NONCE_BYTES, id);
			return 1;
		}
	return 0;
}

/* The next '~'-separated entry from *p (before end) into *s, *n; 0 when none is left. */
static int
next_entry(const char **p, const char *end, const char **s, size_t *n)
{
	const char *tilde;

	if (*p > end)
		return 0;
	if ((tilde = memchr(*p, '~', (size_t)(end - *p))) == NULL)
		tilde = end;
	*s = *p;
	*n = (size_t)(tilde - *p);
	*p = tilde + 1;
	return 1;
}

size_t
device_entry_sign(const struct keyring *r, long long user_id, long long exp, char *out)
{
	unsigned char nonce[DEVICE_NONCE_BYTES], mac[32];
	char          b64[NONCE_LEN + 1];
	int           n;

	if (RAND_bytes(nonce, sizeof(nonce)) != 1) {
		/* No randomness means no safe nonce: die, multiwatch restarts us. */
		fputs("usermgr: RAND_bytes failed\n", stderr);
		abort();
	}
	(void)b64url_encode(b64, nonce, sizeof(nonce));
	n = snprintf(out, DEVICE_ENTRY_MAX + 1, "%lld.%lld.%s.", user_id, exp, b64);
	if (n <= 0 || (size_t)n + MAC_LEN > DEVICE_ENTRY_MAX ||
	    !keys_hmac(r->set[0].k[KEY_DEVICE], KEY_LEN, out, (size_t)n - 1, mac))
		return 0;
	return (size_t)n + b64url_encode(out + n, mac, sizeof(mac));
}

int
device_cookie_verify(const struct keyring *r, const char *cookie, long long user_id,
    long long now, unsigned char id[DEVICE_ID_LEN])
{
	const char *p, *end, *s;
	size_t      n, i;
	long long   uid;

	if (cookie == NULL || strlen(cookie) > DEVICE_COOKIE_MAX)
		return 0;
	end = cookie + strlen(cookie);
	for (p = cookie, i = 0; i < DEVICE_ENTRIES && next_entry(&p, end, &s, &n); i++)
		if (entry_check(r, s, n, now, &uid, id) && uid == user_id)
			return 1;
	return 0;
}

char *
device_cookie_renew(struct arena *a, const struct keyring *r, const char *old,
    long long user_id, long long now)
{
	unsigned char id[DEVICE_ID_LEN];
	const char   *p, *end, *s;
	char         *out;
	size_t        len, n, i, kept = 1;
	long long     uid;

	out = arena_alloc(a, DEVICE_COOKIE_MAX + 1);
	if ((len = device_entry_sign(r, user_id, now + DEVICE_LIFETIME, out)) == 0)
		return NULL;
	if (old == NULL || strlen(old) > DEVICE_COOKIE_MAX)
		return out;
	end = old + strlen(old);
	/* Entries are copied as they are: re-signing would extend a lifetime nobody renewed. */
	for (p = old, i = 0;
	     i < DEVICE_ENTRIES && kept < DEVICE_ENTRIES && next_entry(&p, end, &s, &n); i++) {
		if (!entry_check(r, s, n, now, &uid, id) || uid == user_id)
			continue;
		out[len++] = '~';
		memcpy(out + len, s, n);
		len += n;
		kept++;
	}
	out[len] = '\0';
	return out;
}

static const char sql_state[] =
    "SELECT GREATEST(1, TIMESTAMPDIFF(SECOND, UTC_TIMESTAMP(6), locked_until))"
    " FROM device_lockouts WHERE id = ? AND locked_until > UTC_TIMESTAMP(6)";

enum um_err
device_judge(struct ctx *ctx, long long user_id, struct device *d)
{
	struct db_val p[1];
	struct db_res res;
	enum um_err   rc;

	if (d == NULL)
		return UM_OK;
	d->trusted = 0;
	d->locked_for = 0;
	if (!device_cookie_verify(ctx->keys, d->cookie, user_id, (long long)time(NULL), d->id))
		return UM_OK;
	d->trusted = 1;
	p[0] = DBV_BLOB(d->id, DEVICE_ID_LEN);
	if ((rc = db_exec(ctx->db, ctx->arena, sql_state, p, 1, &res)) != UM_OK)
		return rc;
	if (res.nrows == 1)
		d->locked_for = DB_CELL(&res, 0, 0)->i;
	return UM_OK;
}

/*
 * The row counts failures within a window of USERMGR_LOGIN_LOCKOUT_SECONDS from the first
 * one (expires_at); a failure after the window or after a lockout ran out starts again at
 * one.  MariaDB applies the assignments of ON DUPLICATE KEY UPDATE left to right, each
 * seeing the ones before (as single-table UPDATE does, user.c), so locked_until reads the
 * new count and expires_at the new lock.  expires_at is what retention_prune deletes by.
 */
static const char sql_failed[] =
    "INSERT INTO device_lockouts (id, user_id, failures, locked_until, expires_at)"
    " VALUES (?, ?, 1, IF(? <= 1, UTC_TIMESTAMP(6) + INTERVAL ? SECOND, NULL),"
    "  UTC_TIMESTAMP(6) + INTERVAL ? SECOND)"
    " ON DUPLICATE KEY UPDATE"
    " failures = IF(expires_at <= UTC_TIMESTAMP(6), 0, failures) + 1,"
    " locked_until = IF(failures >= ?, UTC_TIMESTAMP(6) + INTERVAL ? SECOND, NULL),"
    " expires_at = IF(locked_until IS NOT NULL, locked_until,"
    "  IF(failures = 1, UTC_TIMESTAMP(6) + INTERVAL ? SECOND, expires_at))";
static const char sql_locked[] =
    "SELECT locked_until > UTC_TIMESTAMP(6) FROM device_lockouts WHERE id = ?";

enum um_err
device_failed(struct ctx *ctx, long long user_id, const struct device *d, int *locked)
{
	const struct conf *c = ctx->conf;
	struct db_val      p[8];
	struct db_res      res;
	enum um_err        rc;

	*locked = 0;
	p[0] = DBV_BLOB(d->id, DEVICE_ID_LEN);
	p[1] = DBV_INT(user_id);
	p[2] = DBV_INT(c->device_max_failures);
	p[3] = DBV_INT(c->login_lockout_seconds);
	p[4] = DBV_INT(c->login_lockout_seconds);
	p[5] = DBV_INT(c->device_max_failures);
	p[6] = DBV_INT(c->login_lockout_seconds);
	p[7] = DBV_INT(c->login_lockout_seconds);
	if ((rc = db_exec(ctx->db, ctx->arena, sql_failed, p, 8, NULL)) != UM_OK ||
	    (rc = db_exec(ctx->db, ctx->arena, sql_locked, p, 1, &res)) != UM_OK)
		return rc;
	*locked = res.nrows == 1 && DB_CELL(&res, 0, 0)->i == 1;
	return UM_OK;
}

static const char sql_succeeded[] = "DELETE FROM device_lockouts WHERE id = ?";

enum um_err
device_succeeded(struct ctx *ctx, const struct device *d)
{
	struct db_val p[1] = { DBV_BLOB(d->id, DEVICE_ID_LEN) };

	return db_exec(ctx->db, ctx->arena, sql_succeeded, p, 1, NULL);
}

static const char sql_forget[] = "DELETE FROM device_lockouts WHERE user_id = ?";

enum um_err
device_forget(struct db *db, struct arena *a, long long user_id)
{
	struct db_val p[1] = { DBV_INT(user_id) };

	return db_exec(db, a, sql_forget, p, 1, NULL);
}
