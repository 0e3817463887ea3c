/* account: multi-step account changes, each one transaction with its mail and its audit event. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "account.h"
#include "arena.h"
#include "audit.h"
#include "conf.h"
#include "ctx.h"
#include "db.h"
#include "device.h"
#include "link.h"
#include "log.h"
#include "notify.h"
#include "password.h"
#include "ratelimit.h"
#include "revocation.h"
#include "session.h"
#include "token.h"
#include "user.h"

/* The name a mail is addressed to: the display name, or else the username (API.md §7). */
static const char *
to_name(const struct user *u)
{
	return u->display_name != NULL ? u->display_name : u->username;
}

/*
 * Counts one mail a requester asks for (forgot-password, resend, the "address taken"
 * notice) to email.  UM_OK while the address has had at most
 * USERMGR_MAIL_PER_ADDRESS_PER_HOUR of them this hour, UM_ERATE past it: the caller then
 * queues nothing, and the requester, answered alike either way (account_request_mail),
 * sees no difference; no address can be mail-bombed.  The bucket holds a SHA-256 of the lower-cased address, not
 * the address.
 */
static enum um_err
mail_budget(struct ctx *ctx, const char *email)
{
	unsigned char md[32];
	char         *low;
	long long     retry = 0;
	size_t        i;
	enum um_err   rc;

	if ((low = arena_strdup(ctx->arena, email)) == NULL)
		return UM_EINTERNAL;
	for (i = 0; low[i] != '\0'; i++)
		if (low[i] >= 'A' && low[i] <= 'Z')
			low[i] = (char)(low[i] - 'A' + 'a');
	token_sha256(low, i, md);
	rc = ratelimit_hit(ctx->db, ctx->arena,
	    arena_printf(ctx->arena, "mail:%s", token_hex(ctx->arena, md, sizeof(md))),
	    ctx->conf->mail_per_address_per_hour, 3600, &retry);
	if (rc == UM_ERATE)
		log_info("mail to one address held back: USERMGR_MAIL_PER_ADDRESS_PER_HOUR "
		         "reached");
	return rc;
}

/* Queues the verification mail for u's current address. */
static enum um_err
queue_verification(struct ctx *ctx, long long id, const char *username, const char *name,
    const char *email)
{
	char *tok;

	if ((tok = link_token(ctx, LINK_VERIFY_EMAIL, id, email, email)) == NULL)
		return UM_EINTERNAL;
	return notify_queue(ctx, "verify", email, name,
	    json_pack("{s:s, s:s, s:i}", "username", username, "url",
	        link_url(ctx, LINK_VERIFY_EMAIL, tok), "hours", 24));
}

/* A sign-up's rows, for db_transact: run again whole when a conflict rolls them back. */
struct create_tx {
	struct ctx *ctx;
	const char *username, *email, *hash;
	long long  *id;
};

static enum um_err
create_tx(void *arg)
{
	struct create_tx *t = arg;
	enum um_err       rc;

	if ((rc = user_create(t->ctx->db, t->ctx->arena, t->username, t->email, t->hash, 0,
	         t->id)) != UM_OK ||
	    (rc = queue_verification(t->ctx, *t->id, t->username, t->username, t->email)) !=
	        UM_OK)
		return rc;
	return audit_log(t->ctx, AUDIT_REGISTERED, *t->id, *t->id, NULL);
}

enum um_err
account_create(struct ctx *ctx, const char *username, const char *email, const char *hash,
    long long *id)
{
	struct create_tx t = { ctx, username, email, hash, id };

	return db_transact(ctx->db, create_tx, &t);
}

struct email_tx {
	struct ctx *ctx;
	enum um_err (*tx)(struct ctx *, const char *);
	const char *email;
};

static enum um_err
email_tx(void *arg)
{
	struct email_tx *t = arg;

	return t->tx(t->ctx, t->email);
}

/* Runs tx (one of the *_tx below) for email in a transaction of its own (db_transact). */
static enum um_err
in_tx(struct ctx *ctx, enum um_err (*tx)(struct ctx *, const char *), const char *email)
{
	struct email_tx t = { ctx, tx, email };

	return db_transact(ctx->db, email_tx, &t);
}

/*
 * A sign-up with a taken address (enumeration prevention), inside the caller's
 * transaction: the owner's notice, within the per-recipient limit.
 */
static enum um_err
taken_tx(struct ctx *ctx, const char *email)
{
	struct user u;
	enum um_err rc;

	if ((rc = user_by_email(ctx->db, ctx->arena, email, &u)) != UM_OK)
		return rc == UM_ENOTFOUND ? UM_OK : rc;
	if ((rc = mail_budget(ctx, u.email)) != UM_OK)
		return rc == UM_ERATE ? UM_OK : rc;
	return notify_queue(ctx, "email-taken", u.email, to_name(&u),
	    json_pack("{s:s}", "username", u.username));
}

enum um_err
account_register(struct ctx *ctx, const char *username, const char *email, const char *password,
    size_t len, struct signup *out)
{
	char        hash[PASSWORD_HASH_MAX];
	int         utaken, etaken, tries, hashed = 0;
	enum um_err rc = UM_ECONFLICT;

	memset(out, 0, sizeof(*out));
	/* A second look only after a concurrent sign-up won the race for the name or address. */
	for (tries = 0; tries < 2; tries++) {
		if ((rc = user_taken(ctx->db, ctx->arena, username, email, &utaken, &etaken)) !=
		    UM_OK)
			break;
		/* Usernames are public (API.md §7); addresses only without enumeration prevention. */
		out->username_taken = utaken;
		out->email_taken = etaken && !ctx->conf->prevent_enumeration;
		if (out->username_taken || out->email_taken) {
			rc = UM_ECONFLICT;
			break;
		}
		/*
		 * Hashed before the address decides anything: a taken address pays the same
		 * Argon2id as a free one, so the answer's time does not tell them apart.
		 */
		if (!hashed && (rc = password_hash(ctx->conf, password, len, hash)) != UM_OK)
			break;
		hashed = 1;
		/*
		 * The owner's notice takes the path of the verification mail of a free
		 * address: a transaction of a few statements, three renders and a commit, in
		 * the request, so the two answers cost alike (a mail request would be one
		 * INSERT against account_create's five round trips).
		 */
		if (etaken) {
			rc = in_tx(ctx, taken_tx, email);
			break;
		}
		if ((rc = account_create(ctx, username, email, hash, &out->id)) != UM_ECONFLICT)
			break;
	}
	explicit_bzero(hash, sizeof(hash));
	return rc;
}

/* A new verification link, inside the caller's transaction (account_resend_verification). */
static enum um_err
resend_tx(struct ctx *ctx, const char *email)
{
	struct user u;
	enum um_err rc;

	if ((rc = user_by_email(ctx->db, ctx->arena, email, &u)) != UM_OK)
		return rc == UM_ENOTFOUND ? UM_OK : rc;
	if (u.email_verified || strcmp(u.status, "active") != 0)
		return UM_OK;
	if ((rc = mail_budget(ctx, u.email)) != UM_OK)
		return rc == UM_ERATE ? UM_OK : rc;
	if ((rc = queue_verification(ctx, u.id, u.username, to_name(&u), u.email)) != UM_OK)
		return rc;
	return audit_log(ctx, AUDIT_VERIFICATION_RESENT, u.id, u.id, NULL);
}

/* A reset link bound to the current password, inside the caller's transaction. */
static enum um_err
reset_tx(struct ctx *ctx, const char *email)
{
	struct user u;
	char       *tok;
	enum um_err rc;

	if ((rc = user_by_email(ctx->db, ctx->arena, email, &u)) != UM_OK)
		return rc == UM_ENOTFOUND ? UM_OK : rc;
	if (strcmp(u.status, "active") != 0)
		return UM_OK;
	if ((rc = mail_budget(ctx, u.email)) != UM_OK)
		return rc == UM_ERATE ? UM_OK : rc;
	/* A locked-out account may still reset (API.md §5): no lock check here. */
	if ((tok = link_token(ctx, LINK_RESET_PASSWORD, u.id, u.email,
	         user_password_fingerprint(ctx->arena, &u))) == NULL)
		return UM_EINTERNAL;
	if ((rc = notify_queue(ctx, "reset", u.email, to_name(&u),
	         json_pack("{s:s, s:s, s:i}", "username", u.username, "url",
	             link_url(ctx, LINK_RESET_PASSWORD, tok), "minutes", 60))) != UM_OK)
		return rc;
	return audit_log(ctx, AUDIT_RESET_REQUESTED, u.id, u.id, NULL);
}

/* What each request kind does (mail_requests.kind, in the order of enum mail_request). */
static const struct {
	const char *kind;
	enum um_err (*tx)(struct ctx *, const char *); /* runs inside a transaction */
} requests[MAIL_REQ__MAX] = {
	[MAIL_REQ_RESET] = { "reset", reset_tx },
	[MAIL_REQ_VERIFY] = { "verify", resend_tx },
};

enum um_err
account_queue_reset(struct ctx *ctx, const char *email)
{
	return reset_tx(ctx, email);
}

enum um_err
account_resend_verification(struct ctx *ctx, const char *email)
{
	return in_tx(ctx, resend_tx, email);
}

enum um_err
account_send_reset(struct ctx *ctx, const char *email)
{
	return in_tx(ctx, reset_tx, email);
}

static const char sql_request_add[] =
    "INSERT INTO mail_requests (kind, email, ip) VALUES (?, ?, ?)";
/* SKIP LOCKED: several mailers each take another request instead of waiting in line. */
static const char sql_request_next[] = "SELECT id, kind, email, ip FROM mail_requests"
                                       " ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED";
static const char sql_request_done[] = "DELETE FROM mail_requests WHERE id = ?";

enum um_err
account_request_mail(struct ctx *ctx, enum mail_request kind, const char *email)
{
	struct db_val p[3] = { dbv_text(requests[kind].kind), dbv_text(email),
		ctx->ip != NULL ? dbv_text(ctx->ip) : DBV_NULL };

	return db_exec(ctx->db, ctx->arena, sql_request_add, p, 3, NULL);
}

/* The kind named k, or MAIL_REQ__MAX for a name this program does not know. */
static enum mail_request
request_kind(const char *k)
{
	size_t i;

	for (i = 0; i < MAIL_REQ__MAX; i++)
		if (k != NULL && strcmp(requests[i].kind, k) == 0)
			break;
	return (enum mail_request)i;
}

/*
 * Handles the oldest waiting request: its work and its deletion commit together.  On
 * failure nothing of it is kept and it still waits; *id is then its id when its own work
 * failed (the caller drops it), 0 when the database did.  UM_OK with *id 0: none waits.
 */
static enum um_err
handle_next(struct ctx *ctx, long long *id)
{
	struct db        *db = ctx->db;
	struct db_res     res;
	struct db_val     p[1];
	enum mail_request kind;
	const char       *ip = ctx->ip;
	enum um_err       rc;

	*id = 0;
	if ((rc = db_begin(db)) != UM_OK)
		return rc;
	if ((rc = db_exec(db, ctx->arena, sql_request_next, NULL, 0, &res)) != UM_OK ||
	    res.nrows == 0)
		goto out;
	*id = DB_CELL(&res, 0, 0)->i;
	if ((kind = request_kind(db_cell_text(DB_CELL(&res, 0, 1)))) == MAIL_REQ__MAX) {
		rc = UM_EINVAL;
		goto out;
	}
	/* The audit event names the requester's address, as when the worker wrote it. */
	ctx->ip = db_cell_text(DB_CELL(&res, 0, 3));
	rc = requests[kind].tx(ctx, DB_CELL(&res, 0, 2)->s);
	ctx->ip = ip;
	if (rc != UM_OK)
		goto out;
	p[0] = DBV_INT(*id);
	if ((rc = db_exec(db, ctx->arena, sql_request_done, p, 1, NULL)) == UM_OK &&
	    (rc = db_commit(db)) == UM_OK)
		return UM_OK;
	/* The database failed, not the request (a Galera certification, say): it waits. */
	*id = 0;
out:
	db_rollback(db);
	return rc;
}

enum um_err
account_handle_requests(struct ctx *ctx, size_t max, size_t *handled)
{
	struct db_val p[1];
	long long     id;
	enum um_err   rc = UM_OK;

	for (*handled = 0; *handled < max; (*handled)++) {
		rc = handle_next(ctx, &id);
		if (rc == UM_OK && id == 0)
			break;
		if (rc == UM_OK)
			continue;
		/* The database is away (or no request was read): the next poll tries again. */
		if (rc == UM_EUNAVAIL || id == 0)
			break;
		/* Left waiting, a request that cannot be handled would stop every later one. */
		log_err("mail request %lld dropped: %s", id, um_strerror(rc));
		p[0] = DBV_INT(id);
		if ((rc = db_exec(ctx->db, ctx->arena, sql_request_done, p, 1, NULL)) != UM_OK)
			break;
	}
	return rc;
}

enum um_err
account_verify_email(struct ctx *ctx, const char *token, long long *user_id)
{
	const char *email, *bind;
	int         ok = 0;
	enum um_err rc;

	if ((rc = link_verify(ctx, LINK_VERIFY_EMAIL, token, user_id, &email, &bind)) != UM_OK)
		return rc;
	if ((rc = db_begin(ctx->db)) != UM_OK)
		return rc;
	/*
	 * Bound to the address: after a change of address the old link finds no row.  The
	 * user object shows email_verified and updated_at: a `user` row.
	 */
	if ((rc = user_verify_email(ctx->db, ctx->arena, *user_id, bind, &ok)) == UM_OK && !ok)
		rc = UM_ETOKEN;
	if (rc != UM_OK || (rc = revocation_user(ctx, *user_id)) != UM_OK ||
	    (rc = audit_log(ctx, AUDIT_VERIFIED, *user_id, *user_id, NULL)) != UM_OK ||
	    (rc = db_commit(ctx->db)) != UM_OK)
		db_rollback(ctx->db);
	return rc;
}

/* The account still is what the link was made for: same password, same address, active. */
static enum um_err
reset_matches(struct ctx *ctx, const struct user *u, const char *email, const char *bind)
{
	if (strcmp(user_password_fingerprint(ctx->arena, u), bind) != 0 ||
	    strcmp(u->email, email) != 0 || strcmp(u->status, "active") != 0)
		return UM_ETOKEN;
	return UM_OK;
}

enum um_err
account_check_reset(struct ctx *ctx, const char *token, struct user *u)
{
	const char *email, *bind;
	long long   id;
	enum um_err rc;

	if ((rc = link_verify(ctx, LINK_RESET_PASSWORD, token, &id, &email, &bind)) != UM_OK)
		return rc;
	if ((rc = user_by_id(ctx->db, ctx->arena, id, u)) != UM_OK)
		return rc == UM_ENOTFOUND ? UM_ETOKEN : rc;
	return reset_matches(ctx, u, email, bind);
}

/* The writes of a new password, inside the caller's transaction (account_set_password). */
static enum um_err
set_password_tx(struct ctx *ctx, const struct user *u, const char *hash,
    const unsigned char *keep, enum audit_event event)
{
	struct db  *db = ctx->db;
	enum um_err rc;

	/*
	 * A new password lifts the account's lockout (user_set_password) and its devices'.
	 * session_end_all logs the change's `user` revocation row.
	 */
	if ((rc = user_set_password(db, ctx->arena, u->id, hash)) != UM_OK ||
	    (rc = device_forget(db, ctx->arena, u->id)) != UM_OK ||
	    (rc = session_end_all(ctx, u->id, keep)) != UM_OK ||
	    (rc = notify_queue(ctx, "password-changed", u->email, to_name(u),
	         json_pack("{s:s}", "username", u->username))) != UM_OK)
		return rc;
	return audit_log(ctx, event, u->id, u->id, NULL);
}

enum um_err
account_set_password(struct ctx *ctx, const struct user *u, const char *hash,
    const unsigned char *keep, enum audit_event event)
{
	struct db  *db = ctx->db;
	enum um_err rc;

	if ((rc = db_begin(db)) != UM_OK)
		return rc;
	if ((rc = set_password_tx(ctx, u, hash, keep, event)) != UM_OK ||
	    (rc = db_commit(db)) != UM_OK)
		db_rollback(db);
	return rc;
}

enum um_err
account_reset_password(struct ctx *ctx, const char *token, const char *hash, long long *user_id)
{
	struct db  *db = ctx->db;
	struct user u;
	const char *email, *bind;
	enum um_err rc;

	*user_id = 0;
	if ((rc = link_verify(ctx, LINK_RESET_PASSWORD, token, user_id, &email, &bind)) !=
	    UM_OK)
		return rc;
	if ((rc = db_begin(db)) != UM_OK)
		return rc;
	/*
	 * The row stays locked from this check to the commit, so of N requests with one link
	 * the first writes and the others, waiting on the lock, then read the new password's
	 * hash: the fingerprint no longer matches and the link is used (issue 10, item 12).
	 */
	if ((rc = user_lock(db, ctx->arena, *user_id, &u)) != UM_OK) {
		if (rc == UM_ENOTFOUND)
			rc = UM_ETOKEN;
		goto out;
	}
	if ((rc = reset_matches(ctx, &u, email, bind)) != UM_OK ||
	    (rc = set_password_tx(ctx, &u, hash, NULL, AUDIT_PASSWORD_RESET)) != UM_OK)
		goto out;
	rc = db_commit(db);
out:
	if (rc != UM_OK)
		db_rollback(db);
	return rc;
}

static const char sql_change_drop[] = "DELETE FROM email_changes WHERE user_id = ?";
static const char sql_change_add[] =
    "INSERT INTO email_changes (user_id, new_email, expires_at)"
    " VALUES (?, ?, UTC_TIMESTAMP(6) + INTERVAL 1 DAY)";

enum um_err
account_request_email_change(struct ctx *ctx, const struct user *u, const char *new_email)
{
	struct db    *db = ctx->db;
	struct db_val p[2] = { DBV_INT(u->id), dbv_text(new_email) };
	struct db_res res;
	char          bind[24], *tok;
	enum um_err   rc;

	if ((rc = db_begin(db)) != UM_OK)
		return rc;
	/* A newer request replaces the older one, and with its row goes its link. */
	if ((rc = db_exec(db, ctx->arena, sql_change_drop, p, 1, NULL)) != UM_OK ||
	    (rc = db_exec(db, ctx->arena, sql_change_add, p, 2, &res)) != UM_OK)
		goto out;
	(void)snprintf(bind, sizeof(bind), "%llu", res.insert_id);
	if ((tok = link_token(ctx, LINK_CHANGE_EMAIL, u->id, new_email, bind)) == NULL) {
		rc = UM_EINTERNAL;
		goto out;
	}
	if ((rc = notify_queue(ctx, "change-email", new_email, to_name(u),
	         json_pack("{s:s, s:s, s:i}", "username", u->username, "url",
	             link_url(ctx, LINK_CHANGE_EMAIL, tok), "hours", 24))) != UM_OK ||
	    (rc = notify_queue(ctx, "email-change-notice", u->email, to_name(u),
	         json_pack("{s:s, s:s}", "username", u->username, "new_email", new_email))) !=
	        UM_OK ||
	    (rc = audit_log(ctx, AUDIT_EMAIL_CHANGE_REQUESTED, u->id, u->id, NULL)) != UM_OK)
		goto out;
	rc = db_commit(db);
out:
	if (rc != UM_OK)
		db_rollback(db);
	return rc;
}

static const char sql_change_find[] =
    "SELECT new_email FROM email_changes WHERE id = ? AND user_id = ?"
    " AND expires_at > UTC_TIMESTAMP(6)";
static const char sql_change_lock[] =
    "SELECT new_email FROM email_changes WHERE id = ? AND user_id = ?"
    " AND expires_at > UTC_TIMESTAMP(6) FOR UPDATE";
static const char sql_change_done[] = "DELETE FROM email_changes WHERE id = ?";

/*
 * Verifies the token and finds its pending row and its user (both locked when lock is
 * set): UM_EDISABLED when the account is disabled.
 */
static enum um_err
find_change(struct ctx *ctx, const char *token, int lock, long long *user_id,
    long long *change_id, const char **new_email)
{
	const char   *sql = lock ? sql_change_lock : sql_change_find;
	struct user   u;
	struct db_val p[2];
	struct db_res res;
	const char   *email, *bind;
	char         *end;
	enum um_err   rc;

	if ((rc = link_verify(ctx, LINK_CHANGE_EMAIL, token, user_id, &email, &bind)) != UM_OK)
		return rc;
	errno = 0;
	*change_id = strtoll(bind, &end, 10);
	if (errno != 0 || *end != '\0' || *change_id <= 0)
		return UM_ETOKEN;
	p[0] = DBV_INT(*change_id);
	p[1] = DBV_INT(*user_id);
	if ((rc = db_exec(ctx->db, ctx->arena, sql, p, 2, &res)) != UM_OK)
		return rc;
	if (res.nrows != 1 || strcmp(DB_CELL(&res, 0, 0)->s, email) != 0)
		return UM_ETOKEN;
	*new_email = DB_CELL(&res, 0, 0)->s;
	/* A disabled account changes nothing, not even through a link mailed before. */
	rc = lock ? user_lock(ctx->db, ctx->arena, *user_id, &u) :
	            user_by_id(ctx->db, ctx->arena, *user_id, &u);
	if (rc != UM_OK)
		return rc == UM_ENOTFOUND ? UM_ETOKEN : rc;
	return strcmp(u.status, "active") == 0 ? UM_OK : UM_EDISABLED;
}

enum um_err
account_check_email_change(struct ctx *ctx, const char *token, const char **new_email)
{
	long long   uid, cid;
	const char *email;
	enum um_err rc;

	rc = find_change(ctx, token, 0, &uid, &cid, &email);
	if (rc == UM_OK && new_email != NULL)
		*new_email = email;
	return rc;
}

enum um_err
account_confirm_email_change(struct ctx *ctx, const char *token)
{
	struct db    *db = ctx->db;
	struct db_val p[1];
	long long     uid, cid;
	const char   *email;
	enum um_err   rc;

	if ((rc = db_begin(db)) != UM_OK)
		return rc;
	/* X-User-Email and the user object change: a `user` row. */
	if ((rc = find_change(ctx, token, 1, &uid, &cid, &email)) != UM_OK ||
	    (rc = user_set_email(db, ctx->arena, uid, email)) != UM_OK ||
	    (rc = revocation_user(ctx, uid)) != UM_OK)
		goto out;
	p[0] = DBV_INT(cid);
	if ((rc = db_exec(db, ctx->arena, sql_change_done, p, 1, NULL)) != UM_OK ||
	    (rc = audit_log(ctx, AUDIT_EMAIL_CHANGED, uid, uid, NULL)) != UM_OK)
		goto out;
	rc = db_commit(db);
out:
	if (rc != UM_OK)
		db_rollback(db);
	return rc;
}

enum um_err
account_delete(struct ctx *ctx, const struct user *u)
{
	struct db  *db = ctx->db;
	enum um_err rc;

	if ((rc = db_begin(db)) != UM_OK)
		return rc;
	/* The audit and revocation rows outlive the account on purpose: no foreign key. */
	if ((rc = audit_log(ctx, AUDIT_ACCOUNT_DELETED, u->id, u->id,
	         json_pack("{s:s}", "username", u->username))) != UM_OK ||
	    (rc = user_delete(db, ctx->arena, u->id)) != UM_OK ||
	    (rc = revocation_user(ctx, u->id)) != UM_OK || (rc = db_commit(db)) != UM_OK)
		db_rollback(db);
	return rc;
}

enum um_err
account_update_profile(struct ctx *ctx, long long id, const char *display_name, const char *bio)
{
	struct db  *db = ctx->db;
	enum um_err rc;

	if ((rc = db_begin(db)) != UM_OK)
		return rc;
	/* The user object shows both fields and updated_at: a `user` row. */
	if ((rc = user_update_profile(db, ctx->arena, id, display_name, bio)) != UM_OK ||
	    (rc = revocation_user(ctx, id)) != UM_OK || (rc = db_commit(db)) != UM_OK)
		db_rollback(db);
	return rc;
}

/*
 * Created more than ? days ago and never verified: an address held without proof.  Such an
 * account may still hold sessions (an admin can mark a verified address unverified), so
 * each deletion logs a `user` row: one batch per transaction, locked as it is read.
 */
static const char sql_prune_unverified[] =
    "SELECT id FROM users WHERE email_verified_at IS NULL"
    " AND created_at < UTC_TIMESTAMP(6) - INTERVAL ? DAY ORDER BY id LIMIT ? FOR UPDATE";
static const char sql_delete_user[] = "DELETE FROM users WHERE id = ?";

#define PRUNE_BATCH 500 /* accounts per transaction: no long lock on a big backlog */

/* Deletes one batch; *n gets how many went. */
static enum um_err
prune_batch(struct ctx *ctx, unsigned days, size_t *n)
{
	struct db    *db = ctx->db;
	struct db_val p[2] = { DBV_INT(days), DBV_INT(PRUNE_BATCH) };
	struct db_res res;
	size_t        i;
	enum um_err   rc;

	*n = 0;
	if ((rc = db_begin(db)) != UM_OK)
		return rc;
	if ((rc = db_exec(db, ctx->arena, sql_prune_unverified, p, 2, &res)) != UM_OK)
		goto out;
	for (i = 0; i < res.nrows; i++) {
		p[0] = DBV_INT(DB_CELL(&res, i, 0)->i);
		if ((rc = db_exec(db, ctx->arena, sql_delete_user, p, 1, NULL)) != UM_OK ||
		    (rc = revocation_user(ctx, DB_CELL(&res, i, 0)->i)) != UM_OK)
			goto out;
	}
	if ((rc = db_commit(db)) == UM_OK)
		*n = res.nrows;
	return rc;
out:
	db_rollback(db);
	return rc;
}

enum um_err
account_prune_unverified(struct ctx *ctx, unsigned days, unsigned long long *n)
{
	size_t      batch;
	enum um_err rc;

	*n = 0;
	do {
		if ((rc = prune_batch(ctx, days, &batch)) != UM_OK)
			return rc;
		*n += batch;
	} while (batch == PRUNE_BATCH);
	return UM_OK;
}
