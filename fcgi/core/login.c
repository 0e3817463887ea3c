/* login: one implementation of "is this the right password", so the form and the API cannot drift. */
#include "config.h"

#include <string.h>

#include <jansson.h>

#include "alert.h"
#include "audit.h"
#include "conf.h"
#include "ctx.h"
#include "db.h"
#include "device.h"
#include "login.h"
#include "password.h"
#include "revocation.h"
#include "user.h"

static long long
sooner(long long a, long long b)
{
	return a < b ? a : b;
}

enum um_err
login_gate(const struct user *u, const struct device *dev, long long *retry_after)
{
	*retry_after = 0;
	/* Not locked: everyone is judged as before (API.md); a device's count refuses nothing. */
	if (u->locked_for <= 0)
		return UM_OK;
	/* Locked: the owner's browser goes on within its own budget (OWASP device cookies). */
	if (dev != NULL && dev->trusted) {
		if (dev->locked_for <= 0)
			return UM_OK;
		/* Either lock's end lets this device try again, so the sooner one is the answer. */
		*retry_after = sooner(dev->locked_for, u->locked_for);
		return UM_ERATE;
	}
	*retry_after = u->locked_for;
	return UM_ERATE;
}

enum um_err
login_count_failure(struct ctx *ctx, const struct user *u, const struct device *dev,
    enum audit_event event, json_t *details, long long *retry_after)
{
	const struct conf *c = ctx->conf;
	int                trusted = dev != NULL && dev->trusted, locked = 0, spent = 0;
	int                during_lock = trusted && u->locked_for > 0;
	enum um_err        rc = UM_OK;

	/*
	 * Every failure counts against the account, as API.md has it, so five from anywhere
	 * lock it — except while it is locked, when only a trusted device with budget left
	 * gets here (login_gate): the count has nothing left to decide then, and counting
	 * would only stretch a lock a stranger started by the owner's typos.
	 */
	if (!during_lock)
		rc = user_login_failed(ctx->db, ctx->arena, u->id, c->login_max_failures,
		    c->login_lockout_seconds, &locked);
	/* A trusted device's failures also spend its own budget, whether locked or not. */
	if (rc == UM_OK && trusted)
		rc = device_failed(ctx, u->id, dev, &spent);
	if (rc != UM_OK) {
		json_decref(details);
		return rc;
	}
	if (trusted) {
		if (details == NULL)
			details = json_object();
		json_object_set_new(details, "device", json_string("trusted"));
	}
	/* A spent budget refuses only while the account is locked (login_gate): not before. */
	spent = spent && during_lock;
	if (locked)
		event = AUDIT_LOCKED_OUT;
	else if (spent)
		event = AUDIT_DEVICE_LOCKED_OUT;
	(void)audit_log(ctx, event, u->id, u->id, details);
	if (locked) {
		*retry_after = c->login_lockout_seconds;
		return UM_ERATE;
	}
	if (spent) {
		*retry_after = sooner(c->login_lockout_seconds, u->locked_for);
		return UM_ERATE;
	}
	return UM_ECREDS;
}

enum um_err
login_password(struct ctx *ctx, const char *login, const char *pw, size_t len,
    struct device *dev, struct user *u, long long *retry_after)
{
	const struct conf *c = ctx->conf;
	struct db         *db = ctx->db;
	char               hash[PASSWORD_HASH_MAX];
	int                rehash = 0;
	enum um_err        rc;

	*retry_after = 0;
	if (dev != NULL)
		dev->trusted = 0;
	if ((rc = user_by_login(db, ctx->arena, login, u)) == UM_ENOTFOUND) {
		/* Same work as a real check, so the time does not tell the account is absent. */
		password_dummy_verify(c, pw, len);
		(void)audit_log(ctx, AUDIT_LOGIN_FAILED, 0, 0,
		    json_pack("{s:s}", "reason", "unknown_account"));
		return UM_ECREDS;
	}
	if (rc != UM_OK || (rc = device_judge(ctx, u->id, dev)) != UM_OK)
		return rc;
	/* A locked account is refused even with the right password (API.md §7), unless a
	 * trusted device with budget left asks. */
	if ((rc = login_gate(u, dev, retry_after)) != UM_OK)
		return rc;
	if (password_verify(c, u->password_hash, pw, len, &rehash) != UM_OK)
		return login_count_failure(ctx, u, dev, AUDIT_LOGIN_FAILED, NULL, retry_after);
	/* Only now, with the password right, may the answer say more about the account. */
	if (strcmp(u->status, "active") != 0)
		return UM_EDISABLED;
	if (!u->email_verified)
		return UM_EUNVERIFIED;
	if (rehash && password_hash(c, pw, len, hash) == UM_OK &&
	    (rc = user_rehash(db, ctx->arena, u->id, hash)) != UM_OK)
		return rc;
	return UM_OK;
}

enum um_err
login_succeeded(struct ctx *ctx, struct user *u, const struct device *dev, const char *via)
{
	struct db  *db = ctx->db;
	int         trusted = dev != NULL && dev->trusted, own;
	enum um_err rc;

	if ((rc = db_join(db, &own)) != UM_OK)
		return rc;
	/*
	 * A login while the account is locked (only a trusted device gets one: login_gate)
	 * leaves the count and the lock alone, so a stranger still guessing stays locked out.
	 * The user object shows last_login_at: a `user` revocation row.
	 */
	if ((rc = user_login_succeeded(db, ctx->arena, u->id, u->locked_for <= 0)) == UM_OK &&
	    (rc = revocation_user(ctx, u->id)) == UM_OK &&
	    (!trusted || (rc = device_succeeded(ctx, dev)) == UM_OK) &&
	    (rc = audit_log(ctx, AUDIT_LOGIN_SUCCEEDED, u->id, u->id,
	         json_pack("{s:s, s:s*}", "via", via, "device", trusted ? "trusted" : NULL))) ==
	        UM_OK)
		/* Every way in ends here (password, second factor, API): so does the alert. */
		rc = alert_signin(ctx, u, dev);
	if ((rc = db_leave(db, own, rc)) != UM_OK)
		return rc;
	/* API.md §7: last_login_at in the answer is the time of this login. */
	return user_by_id(db, ctx->arena, u->id, u);
}

enum um_err
login_recheck(struct ctx *ctx, const struct user *u, const char *pw, size_t len,
    long long *retry_after)
{
	enum um_err rc;

	/* As at login: a locked account is refused even with the right password. */
	if ((rc = login_gate(u, NULL, retry_after)) != UM_OK)
		return rc;
	if (password_verify(ctx->conf, u->password_hash, pw, len, NULL) == UM_OK)
		return UM_OK;
	return login_count_failure(ctx, u, NULL, AUDIT_LOGIN_FAILED,
	    json_pack("{s:s}", "during", "recheck"), retry_after);
}
