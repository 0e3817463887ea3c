/* login: one implementation of "is this the right password", so the form and the API cannot drift. */
#include "config.h"

#include <string.h>

#include <jansson.h>

#include "audit.h"
#include "conf.h"
#include "ctx.h"
#include "device.h"
#include "login.h"
#include "password.h"
#include "user.h"

enum um_err
login_gate(const struct user *u, const struct device *dev, long long *retry_after)
{
	/* A trusted device ignores the account's lock (OWASP device cookies): only its own. */
	long long locked_for = dev != NULL && dev->trusted ? dev->locked_for : u->locked_for;

	*retry_after = locked_for;
	return locked_for > 0 ? UM_ERATE : UM_OK;
}

enum um_err
login_count_failure(struct ctx *ctx, const struct user *u, const struct device *dev,
    enum audit_event event, json_t *details, long long *retry_after)
{
	const struct conf *c = ctx->conf;
	int                trusted = dev != NULL && dev->trusted, locked = 0;
	enum um_err        rc;

	/* The owner's typos from a trusted device never lock the account for anyone else. */
	rc = trusted ? device_failed(ctx, u->id, dev, &locked) :
	               user_login_failed(ctx->db, ctx->arena, u->id, c->login_max_failures,
	                   c->login_lockout_seconds, &locked);
	if (rc != UM_OK) {
		json_decref(details);
		return rc;
	}
	if (trusted) {
		if (details == NULL)
			details = json_object();
		json_object_set_new(details, "device", json_string("trusted"));
	}
	if (locked)
		event = trusted ? AUDIT_DEVICE_LOCKED_OUT : AUDIT_LOCKED_OUT;
	(void)audit_log(ctx, event, u->id, u->id, details);
	if (locked) {
		*retry_after = c->login_lockout_seconds;
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
	/* A locked account is refused even with the right password (API.md §7). */
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
	int         trusted = dev != NULL && dev->trusted;
	enum um_err rc;

	/* An attacker still guessing from elsewhere stays locked out: see login.h. */
	if ((rc = user_login_succeeded(db, ctx->arena, u->id, !trusted)) != UM_OK ||
	    (trusted && (rc = device_succeeded(ctx, dev)) != UM_OK) ||
	    (rc = audit_log(ctx, AUDIT_LOGIN_SUCCEEDED, u->id, u->id,
	         json_pack("{s:s, s:s*}", "via", via, "device", trusted ? "trusted" : NULL))) !=
	        UM_OK)
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
