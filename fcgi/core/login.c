/* login: one implementation of "is this the right password", so the form and the API cannot drift. */
#include "config.h"

#include <string.h>

#include <jansson.h>

#include "audit.h"
#include "conf.h"
#include "ctx.h"
#include "login.h"
#include "password.h"
#include "user.h"

/*
 * A wrong password for an existing account: counts it (user_login_failed), audits it with
 * details (stolen; may be NULL).  UM_ECREDS, or UM_ERATE with *retry_after when this
 * failure reached the limit and locked the account.
 */
static enum um_err
count_failure(struct ctx *ctx, const struct user *u, json_t *details, long long *retry_after)
{
	const struct conf *c = ctx->conf;
	int                locked = 0;
	enum um_err        rc;

	if ((rc = user_login_failed(ctx->db, ctx->arena, u->id, c->login_max_failures,
	         c->login_lockout_seconds, &locked)) != UM_OK) {
		json_decref(details);
		return rc;
	}
	(void)audit_log(ctx, locked ? AUDIT_LOCKED_OUT : AUDIT_LOGIN_FAILED, u->id, u->id,
	    details);
	if (locked) {
		*retry_after = c->login_lockout_seconds;
		return UM_ERATE;
	}
	return UM_ECREDS;
}

enum um_err
login_password(struct ctx *ctx, const char *login, const char *pw, size_t len, struct user *u,
    long long *retry_after)
{
	const struct conf *c = ctx->conf;
	struct db         *db = ctx->db;
	char               hash[PASSWORD_HASH_MAX];
	int                rehash = 0;
	enum um_err        rc;

	*retry_after = 0;
	if ((rc = user_by_login(db, ctx->arena, login, u)) == UM_ENOTFOUND) {
		/* Same work as a real check, so the time does not tell the account is absent. */
		password_dummy_verify(c, pw, len);
		(void)audit_log(ctx, AUDIT_LOGIN_FAILED, 0, 0,
		    json_pack("{s:s}", "reason", "unknown_account"));
		return UM_ECREDS;
	}
	if (rc != UM_OK)
		return rc;
	/* A locked account is refused even with the right password (API.md §7). */
	if (u->locked_for > 0) {
		*retry_after = u->locked_for;
		return UM_ERATE;
	}
	if (password_verify(c, u->password_hash, pw, len, &rehash) != UM_OK)
		return count_failure(ctx, u, NULL, retry_after);
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
login_succeeded(struct ctx *ctx, struct user *u, const char *via)
{
	struct db  *db = ctx->db;
	enum um_err rc;

	if ((rc = user_login_succeeded(db, ctx->arena, u->id)) != UM_OK ||
	    (rc = audit_log(ctx, AUDIT_LOGIN_SUCCEEDED, u->id, u->id,
	         json_pack("{s:s}", "via", via))) != UM_OK)
		return rc;
	/* API.md §7: last_login_at in the answer is the time of this login. */
	return user_by_id(db, ctx->arena, u->id, u);
}

enum um_err
login_recheck(struct ctx *ctx, const struct user *u, const char *pw, size_t len,
    long long *retry_after)
{
	*retry_after = 0;
	/* As at login: a locked account is refused even with the right password. */
	if (u->locked_for > 0) {
		*retry_after = u->locked_for;
		return UM_ERATE;
	}
	if (password_verify(ctx->conf, u->password_hash, pw, len, NULL) == UM_OK)
		return UM_OK;
	return count_failure(ctx, u, json_pack("{s:s}", "during", "recheck"), retry_after);
}
