/* refresh: rotation as Auth0 and Supabase Auth do it — reuse revokes the family, a short grace forgives races. */
#include "config.h"

#include <string.h>

#include "arena.h"
#include "conf.h"
#include "ctx.h"
#include "db.h"
#include "log.h"
#include "refresh.h"
#include "revocation.h"
#include "token.h"

static const char sql_next_id[] = "SELECT NEXT VALUE FOR session_ids";
static const char sql_family[] =
    "INSERT INTO refresh_families (id, user_id, ip, user_agent, client_id, scopes, auth_time,"
    " amr) VALUES (?, ?, ?, ?, ?, ?, ?, ?)";
static const char sql_token[] =
    "INSERT INTO refresh_tokens (id_hash, family_id, user_id, parent_hash, expires_at)"
    " VALUES (?, ?, ?, ?, UTC_TIMESTAMP(6) + INTERVAL ? DAY)";

/* Adds a token to family sid, child of parent (NULL for the first). */
static enum um_err
add_token(struct ctx *ctx, long long user_id, long long sid, const unsigned char *parent,
    char **token)
{
	unsigned char hash[TOKEN_HASH_LEN];
	struct db_val p[5];
	char         *tok = token_new(ctx->arena);

	if (token_hash(tok, hash) != UM_OK)
		return UM_EINTERNAL;
	p[0] = DBV_BLOB(hash, sizeof(hash));
	p[1] = DBV_INT(sid);
	p[2] = DBV_INT(user_id);
	p[3] = parent != NULL ? DBV_BLOB(parent, TOKEN_HASH_LEN) : DBV_NULL;
	p[4] = DBV_INT(ctx->conf->refresh_token_days);
	*token = tok;
	return db_exec(ctx->db, ctx->arena, sql_token, p, 5, NULL);
}

enum um_err
refresh_start(struct ctx *ctx, long long user_id, const struct refresh_client *cl,
    long long *sid, char **token)
{
	struct db_res res;
	struct db_val p[8];
	enum um_err   rc;

	if ((rc = db_exec(ctx->db, ctx->arena, sql_next_id, NULL, 0, &res)) != UM_OK)
		return rc;
	*sid = DB_CELL(&res, 0, 0)->i;
	p[0] = DBV_INT(*sid);
	p[1] = DBV_INT(user_id);
	p[2] = dbv_text(arena_ascii(ctx->arena, ctx->ip, 45));
	p[3] = dbv_text(arena_ascii(ctx->arena, ctx->user_agent, 255));
	p[4] = cl != NULL ? dbv_text(cl->client_id) : DBV_NULL;
	p[5] = cl != NULL ? dbv_text(cl->scopes) : DBV_NULL;
	p[6] = cl != NULL ? DBV_INT(cl->auth_time) : DBV_NULL;
	p[7] = cl != NULL ? dbv_text(cl->amr) : DBV_NULL;
	if ((rc = db_exec(ctx->db, ctx->arena, sql_family, p, 8, NULL)) != UM_OK)
		return rc;
	return add_token(ctx, user_id, *sid, NULL, token);
}

/* The row is locked, so two refreshes of one token serialise instead of both rotating. */
static const char sql_lookup[] =
    "SELECT t.family_id, t.user_id, t.rotated_at IS NOT NULL,"
    " IFNULL(TIMESTAMPDIFF(MICROSECOND, t.rotated_at, UTC_TIMESTAMP(6)), 0),"
    " t.expires_at > UTC_TIMESTAMP(6), f.revoked_at IS NULL, u.status = 'active',"
    " f.client_id, f.scopes, f.auth_time, f.amr"
    " FROM refresh_tokens t JOIN refresh_families f ON f.id = t.family_id"
    " JOIN users u ON u.id = t.user_id WHERE t.id_hash = ? FOR UPDATE";
static const char sql_retire[] =
    "UPDATE refresh_tokens SET rotated_at = UTC_TIMESTAMP(6) WHERE id_hash = ?";
static const char sql_used[] =
    "UPDATE refresh_families SET last_used_at = UTC_TIMESTAMP(6) WHERE id = ?";
static const char sql_revoke[] =
    "UPDATE refresh_families SET revoked_at = UTC_TIMESTAMP(6), revoke_reason = ?"
    " WHERE id = ? AND revoked_at IS NULL";

/* 1 when the family's client (NULL: an API login) is the one asking (NULL: the API). */
static int
same_client(const struct db_val *family_client, const char *client_id)
{
	const char *fc = db_cell_text(family_client);

	if (fc == NULL || client_id == NULL)
		return fc == NULL && client_id == NULL;
	return strcmp(fc, client_id) == 0;
}

enum um_err
refresh_rotate(struct ctx *ctx, const char *presented, const char *client_id,
    long long *user_id, long long *sid, char **token, struct refresh_client *out)
{
	struct db    *db = ctx->db;
	unsigned char hash[TOKEN_HASH_LEN];
	struct db_val p[2];
	struct db_res res;
	enum um_err   rc;
	int           retired;

	if (token_hash(presented, hash) != UM_OK)
		return UM_ETOKEN;
	if ((rc = db_begin(db)) != UM_OK)
		return rc;
	p[0] = DBV_BLOB(hash, sizeof(hash));
	if ((rc = db_exec(db, ctx->arena, sql_lookup, p, 1, &res)) != UM_OK)
		goto out;
	/*
	 * A client's token is refused to the API and to every other client, and an API
	 * login's to every client: each would get tokens of another audience.
	 */
	if (res.nrows != 1 || DB_CELL(&res, 0, 4)->i == 0 || DB_CELL(&res, 0, 5)->i == 0 ||
	    DB_CELL(&res, 0, 6)->i == 0 || !same_client(DB_CELL(&res, 0, 7), client_id)) {
		rc = UM_ETOKEN;
		goto out;
	}
	if (out != NULL) {
		out->client_id = db_cell_text(DB_CELL(&res, 0, 7));
		out->scopes = db_cell_text(DB_CELL(&res, 0, 8));
		out->auth_time = DB_CELL(&res, 0, 9)->i;
		out->amr = db_cell_text(DB_CELL(&res, 0, 10));
	}
	*sid = DB_CELL(&res, 0, 0)->i;
	*user_id = DB_CELL(&res, 0, 1)->i;
	retired = DB_CELL(&res, 0, 2)->i != 0;
	if (retired && DB_CELL(&res, 0, 3)->i > (long long)REFRESH_GRACE * 1000000) {
		/* Reuse after the grace window: someone holds a stolen copy.  Kill it all. */
		p[0] = dbv_text("reuse");
		p[1] = DBV_INT(*sid);
		if ((rc = db_exec(db, ctx->arena, sql_revoke, p, 2, NULL)) == UM_OK &&
		    (rc = revocation_family(ctx, *user_id, *sid)) == UM_OK &&
		    (rc = db_commit(db)) == UM_OK) {
			log_warn("refresh: reuse of a retired token, family %lld revoked",
			    *sid);
			return UM_ETOKEN;
		}
		goto out;
	}
	if (!retired && (rc = db_exec(db, ctx->arena, sql_retire, p, 1, NULL)) != UM_OK)
		goto out;
	p[0] = DBV_INT(*sid);
	if ((rc = db_exec(db, ctx->arena, sql_used, p, 1, NULL)) != UM_OK ||
	    (rc = add_token(ctx, *user_id, *sid, hash, token)) != UM_OK)
		goto out;
	rc = db_commit(db);
out:
	if (rc != UM_OK)
		db_rollback(db);
	return rc;
}

static const char sql_revoke_own[] =
    "UPDATE refresh_families SET revoked_at = UTC_TIMESTAMP(6), revoke_reason = ?"
    " WHERE id = ? AND user_id = ? AND revoked_at IS NULL";
static const char sql_family_of[] =
    "SELECT family_id, user_id FROM refresh_tokens WHERE id_hash = ?";

/* Revokes family sid of user_id for reason, with its `family` row when it was live. */
static enum um_err
revoke_tx(struct ctx *ctx, long long user_id, long long sid, const char *reason, int *found)
{
	struct db_val p[3] = { dbv_text(reason), DBV_INT(sid), DBV_INT(user_id) };
	struct db_res res;
	enum um_err   rc;

	*found = 0;
	if ((rc = db_exec(ctx->db, ctx->arena, sql_revoke_own, p, 3, &res)) != UM_OK)
		return rc;
	/* A family that had ended already was logged when it ended. */
	*found = res.affected > 0;
	return *found ? revocation_family(ctx, user_id, sid) : UM_OK;
}

enum um_err
refresh_revoke_token(struct ctx *ctx, const char *presented)
{
	unsigned char hash[TOKEN_HASH_LEN];
	struct db_val p[1];
	struct db_res res;
	int           own, found;
	enum um_err   rc;

	if (token_hash(presented, hash) != UM_OK)
		return UM_OK;
	p[0] = DBV_BLOB(hash, sizeof(hash));
	if ((rc = db_join(ctx->db, &own)) != UM_OK)
		return rc;
	if ((rc = db_exec(ctx->db, ctx->arena, sql_family_of, p, 1, &res)) == UM_OK &&
	    res.nrows == 1)
		rc = revoke_tx(ctx, DB_CELL(&res, 0, 1)->i, DB_CELL(&res, 0, 0)->i, "logout",
		    &found);
	return db_leave(ctx->db, own, rc);
}

enum um_err
refresh_revoke_family(struct ctx *ctx, long long user_id, long long sid, const char *reason,
    int *found)
{
	int         own;
	enum um_err rc;

	*found = 0;
	if ((rc = db_join(ctx->db, &own)) != UM_OK)
		return rc;
	return db_leave(ctx->db, own, revoke_tx(ctx, user_id, sid, reason, found));
}

static const char sql_find[] =
    "SELECT t.family_id, t.user_id, f.client_id, IFNULL(f.scopes, ''),"
    " t.expires_at > UTC_TIMESTAMP(6) AND f.revoked_at IS NULL AND t.rotated_at IS NULL"
    " AND u.status = 'active', FLOOR(UNIX_TIMESTAMP(t.expires_at)),"
    " FLOOR(UNIX_TIMESTAMP(t.created_at))"
    " FROM refresh_tokens t JOIN refresh_families f ON f.id = t.family_id"
    " JOIN users u ON u.id = t.user_id WHERE t.id_hash = ?";

enum um_err
refresh_find(struct ctx *ctx, const char *presented, struct refresh_info *out)
{
	unsigned char hash[TOKEN_HASH_LEN];
	struct db_val p[1];
	struct db_res res;
	enum um_err   rc;

	memset(out, 0, sizeof(*out));
	if (token_hash(presented, hash) != UM_OK)
		return UM_ENOTFOUND;
	p[0] = DBV_BLOB(hash, sizeof(hash));
	if ((rc = db_exec(ctx->db, ctx->arena, sql_find, p, 1, &res)) != UM_OK)
		return rc;
	if (res.nrows != 1)
		return UM_ENOTFOUND;
	out->sid = DB_CELL(&res, 0, 0)->i;
	out->user_id = DB_CELL(&res, 0, 1)->i;
	out->client_id = db_cell_text(DB_CELL(&res, 0, 2));
	out->scopes = DB_CELL(&res, 0, 3)->s;
	out->live = DB_CELL(&res, 0, 4)->i != 0;
	out->exp = DB_CELL(&res, 0, 5)->i;
	out->iat = DB_CELL(&res, 0, 6)->i;
	return UM_OK;
}

static const char sql_client_families[] =
    "SELECT id, user_id FROM refresh_families WHERE client_id = ? AND revoked_at IS NULL"
    " AND (? = 0 OR user_id = ?)";

enum um_err
refresh_revoke_client(struct ctx *ctx, long long user_id, const char *client_id,
    const char *reason, size_t *n)
{
	struct db_val p[3] = { dbv_text(client_id), DBV_INT(user_id), DBV_INT(user_id) };
	struct db_res res;
	size_t        i;
	int           own, found;
	enum um_err   rc;

	*n = 0;
	if ((rc = db_join(ctx->db, &own)) != UM_OK)
		return rc;
	rc = db_exec(ctx->db, ctx->arena, sql_client_families, p, 3, &res);
	for (i = 0; rc == UM_OK && i < res.nrows; i++) {
		rc = revoke_tx(ctx, DB_CELL(&res, i, 1)->i, DB_CELL(&res, i, 0)->i, reason,
		    &found);
		*n += found != 0;
	}
	return db_leave(ctx->db, own, rc);
}
