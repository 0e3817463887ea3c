/* session: browser sessions in MariaDB — a new id at every login, idle and absolute expiry, role copies. */
#include "config.h"

#include <string.h>
#include <time.h>

#include <openssl/rand.h>

#include "arena.h"
#include "cache.h"
#include "ctx.h"
#include "db.h"
#include "fastpath.h"
#include "log.h"
#include "revocation.h"
#include "session.h"
#include "token.h"

static const char sql_load[] =
    "SELECT s.id, s.csrf_seed, s.remember, s.mfa_pending, u.id, u.username, u.email,"
    " u.display_name,"
    " TIMESTAMPDIFF(SECOND, s.last_seen_at, UTC_TIMESTAMP(6)),"
    " s.roles, TIMESTAMPDIFF(SECOND, UTC_TIMESTAMP(6), s.expires_at)"
    " FROM sessions s JOIN users u ON u.id = s.user_id"
    " WHERE s.id_hash = ? AND s.expires_at > UTC_TIMESTAMP(6) AND u.status = 'active'";

/* Sliding idle expiry, never past the absolute lifetime from creation. */
static const char sql_touch[] =
    "UPDATE sessions SET last_seen_at = UTC_TIMESTAMP(6),"
    " expires_at = LEAST(created_at + INTERVAL ? SECOND, UTC_TIMESTAMP(6) + INTERVAL ? SECOND)"
    " WHERE id_hash = ?";

int
role_listed(const char *list, const char *role)
{
	size_t      n = strlen(role);
	const char *p;

	for (p = list; p != NULL && *p != '\0';
	     p = strchr(p, ','), p = p != NULL ? p + 1 : NULL)
		if (strncmp(p, role, n) == 0 && (p[n] == ',' || p[n] == '\0'))
			return 1;
	return 0;
}

/*
 * Seconds a session may live in all (idle 0) or past its last use (idle 1).  One that waits
 * for the second factor lives 10 minutes from its start, whatever remember says (issue 10,
 * item 17): a password alone must not keep a half-open door for 30 days.
 */
static long long
lifetime(int remember, int mfa_pending, int idle)
{
	if (mfa_pending)
		return SESSION_MFA_PENDING;
	if (remember)
		return SESSION_REMEMBER;
	return idle ? SESSION_IDLE : SESSION_ABSOLUTE;
}

/* The cached session as session_find gives it. */
static struct session *
session_of(struct arena *a, const struct cache_session *cs)
{
	struct session *s = arena_calloc(a, 1, sizeof(*s));

	s->id = cs->id;
	memcpy(s->hash, cs->hash, sizeof(s->hash));
	memcpy(s->csrf_seed, cs->csrf_seed, sizeof(s->csrf_seed));
	s->remember = cs->remember;
	s->mfa_pending = cs->mfa_pending;
	s->user_id = cs->user_id;
	s->username = arena_strdup(a, cs->username);
	s->email = arena_strdup(a, cs->email);
	s->display_name = cs->has_display_name ? arena_strdup(a, cs->display_name) : NULL;
	s->roles = arena_strdup(a, cs->roles);
	s->is_admin = role_listed(s->roles, "admin");
	return s;
}

/*
 * A cached session that may answer now: unexpired by its own copy of expires_at (sliding
 * expiry writes no log row; the copy is never later than the database's) and not due for
 * its last_seen write — that one takes the database path, which touches and refills.
 */
static struct session *
cached(struct ctx *ctx, struct cache *c, const unsigned char hash[32])
{
	struct cache_session cs;
	long long            now = (long long)time(NULL);

	if (c == NULL || !cache_session_get(c, hash, &cs) || cs.expires_at <= now ||
	    now - cs.last_seen_at >= SESSION_TOUCH_EVERY)
		return NULL;
	return session_of(ctx->arena, &cs);
}

enum um_err
session_find(struct ctx *ctx, const char *cookie, struct session **out)
{
	struct db_res   res;
	struct db_val   p[3];
	struct session *s;
	struct cache   *c;
	unsigned char   hash[32];
	long long       now, seen_ago;
	uint64_t        epoch;
	enum um_err     rc;

	*out = NULL;
	if (cookie == NULL || token_hash(cookie, hash) != UM_OK)
		return UM_OK;
	c = fastpath_cache(ctx);
	if ((*out = cached(ctx, c, hash)) != NULL)
		return UM_OK;
	/* Before the read: a drop between it and the fill makes the fill refuse (cache.h). */
	epoch = cache_epoch(c);
	p[0] = DBV_BLOB(hash, sizeof(hash));
	if ((rc = db_exec(ctx->db, ctx->arena, sql_load, p, 1, &res)) != UM_OK)
		return rc;
	if (res.nrows != 1)
		return UM_OK;
	s = arena_calloc(ctx->arena, 1, sizeof(*s));
	s->id = DB_CELL(&res, 0, 0)->i;
	if (DB_CELL(&res, 0, 1)->len != sizeof(s->csrf_seed))
		return UM_EINTERNAL;
	memcpy(s->csrf_seed, DB_CELL(&res, 0, 1)->s, sizeof(s->csrf_seed));
	memcpy(s->hash, hash, sizeof(hash));
	s->remember = DB_CELL(&res, 0, 2)->i != 0;
	s->mfa_pending = DB_CELL(&res, 0, 3)->i != 0;
	s->user_id = DB_CELL(&res, 0, 4)->i;
	s->username = DB_CELL(&res, 0, 5)->s;
	s->email = DB_CELL(&res, 0, 6)->s;
	s->display_name = DB_CELL(&res, 0, 7)->type == DB_NULL ? NULL : DB_CELL(&res, 0, 7)->s;
	s->roles = DB_CELL(&res, 0, 9)->type == DB_NULL ? "" : DB_CELL(&res, 0, 9)->s;
	s->is_admin = role_listed(s->roles, "admin");
	*out = s;

	now = (long long)time(NULL);
	seen_ago = DB_CELL(&res, 0, 8)->i;
	if (seen_ago >= SESSION_TOUCH_EVERY) {
		p[0] = DBV_INT(lifetime(s->remember, s->mfa_pending, 0));
		p[1] = DBV_INT(lifetime(s->remember, s->mfa_pending, 1));
		p[2] = DBV_BLOB(hash, sizeof(hash));
		/* A failed touch only shortens the session; the request goes on. */
		if (db_exec(ctx->db, ctx->arena, sql_touch, p, 3, NULL) != UM_OK) {
			log_warn("session: could not refresh last_seen_at");
			return UM_OK;
		}
		seen_ago = 0;
	}
	/*
	 * Half-open sessions (the second factor still to come) always take the database
	 * path, as before the cache.  The expiry kept is the one read before the touch: the
	 * touch only moves it later, and an earlier copy only costs a read.  Times are this
	 * host's, from the database's differences, so clock skew does not lengthen a session.
	 */
	if (c != NULL && !s->mfa_pending)
		(void)cache_session_fill(c, epoch, s, now + DB_CELL(&res, 0, 10)->i,
		    now - seen_ago);
	return UM_OK;
}

static const char sql_delete[] = "DELETE FROM sessions WHERE id_hash = ?";
static const char sql_set_amr[] = "UPDATE sessions SET amr = ? WHERE id = ?";

/*
 * The session keeps its user's role names (sql/003_session_roles.sql): every change of roles
 * ends the user's sessions, so the copy cannot go stale.
 */
static const char sql_insert[] =
    "INSERT INTO sessions (id_hash, user_id, csrf_seed, remember, mfa_pending, roles,"
    " expires_at, ip, user_agent) VALUES (?, ?, ?, ?, ?,"
    " IFNULL((SELECT GROUP_CONCAT(r.name ORDER BY r.name SEPARATOR ',') FROM user_roles ur"
    "  JOIN roles r ON r.id = ur.role_id WHERE ur.user_id = ?), ''),"
    " UTC_TIMESTAMP(6) + INTERVAL ? SECOND, ?, ?)";

static const char sql_id[] = "SELECT id FROM sessions WHERE id_hash = ?";

enum um_err
session_create(struct ctx *ctx, long long user_id, int remember, int mfa_pending,
    struct session **out, const char **cookie)
{
	struct session *s;
	struct db_val   p[9];
	struct db_res   res;
	const char     *tok;
	enum um_err     rc;

	s = arena_calloc(ctx->arena, 1, sizeof(*s));
	tok = token_new(ctx->arena);
	if (token_hash(tok, s->hash) != UM_OK || RAND_bytes(s->csrf_seed, 32) != 1)
		return UM_EINTERNAL;
	p[0] = DBV_BLOB(s->hash, 32);
	p[1] = DBV_INT(user_id);
	p[2] = DBV_BLOB(s->csrf_seed, 32);
	p[3] = DBV_INT(remember != 0);
	p[4] = DBV_INT(mfa_pending != 0);
	p[5] = DBV_INT(user_id);
	p[6] = DBV_INT(lifetime(remember, mfa_pending, 1));
	p[7] = dbv_text(arena_ascii(ctx->arena, ctx->ip, 45));
	p[8] = dbv_text(arena_ascii(ctx->arena, ctx->user_agent, 255));
	if ((rc = db_exec(ctx->db, ctx->arena, sql_insert, p, 9, NULL)) != UM_OK)
		return rc;
	p[0] = DBV_BLOB(s->hash, 32);
	if ((rc = db_exec(ctx->db, ctx->arena, sql_id, p, 1, &res)) != UM_OK)
		return rc;
	s->id = res.nrows == 1 ? DB_CELL(&res, 0, 0)->i : 0;
	s->user_id = user_id;
	s->remember = remember != 0;
	s->mfa_pending = mfa_pending != 0;
	*out = s;
	*cookie = tok;
	return UM_OK;
}

enum um_err
session_delete(struct ctx *ctx, const struct session *s)
{
	struct db_val p[1];
	struct db_res res;
	int           own;
	enum um_err   rc;

	p[0] = DBV_BLOB(s->hash, 32);
	if ((rc = db_join(ctx->db, &own)) != UM_OK)
		return rc;
	/* A session that had ended already was logged when it ended. */
	if ((rc = db_exec(ctx->db, ctx->arena, sql_delete, p, 1, &res)) == UM_OK &&
	    res.affected > 0)
		rc = revocation_session(ctx, s->user_id, s->hash);
	return db_leave(ctx->db, own, rc);
}

static const char sql_end_all[] = "DELETE FROM sessions WHERE user_id = ?";
static const char sql_end_others[] = "DELETE FROM sessions WHERE user_id = ? AND id_hash <> ?";

static const char sql_revoke_families[] =
    "UPDATE refresh_families SET revoked_at = UTC_TIMESTAMP(6), revoke_reason = 'sessions_ended'"
    " WHERE user_id = ? AND revoked_at IS NULL";

enum um_err
session_end_families(struct ctx *ctx, long long user_id)
{
	struct db_val p[1] = { DBV_INT(user_id) };
	int           own;
	enum um_err   rc;

	if ((rc = db_join(ctx->db, &own)) != UM_OK)
		return rc;
	if ((rc = db_exec(ctx->db, ctx->arena, sql_revoke_families, p, 1, NULL)) == UM_OK)
		rc = revocation_user(ctx, user_id);
	return db_leave(ctx->db, own, rc);
}

enum um_err
session_end_all(struct ctx *ctx, long long user_id, const unsigned char *keep)
{
	struct db    *db = ctx->db;
	struct db_val p[2];
	int           own;
	enum um_err   rc;

	p[0] = DBV_INT(user_id);
	p[1] = keep != NULL ? DBV_BLOB(keep, 32) : DBV_NULL;
	if ((rc = db_join(db, &own)) != UM_OK)
		return rc;
	/*
	 * One `user` row covers every session and family of the user, the kept one included:
	 * a cache forgets it too and reads it again, still live, from the database.
	 */
	if ((rc = db_exec(db, ctx->arena, sql_revoke_families, p, 1, NULL)) == UM_OK &&
	    (rc = db_exec(db, ctx->arena, keep == NULL ? sql_end_all : sql_end_others, p,
	         keep == NULL ? 1 : 2, NULL)) == UM_OK)
		rc = revocation_user(ctx, user_id);
	return db_leave(db, own, rc);
}

static const char sql_list[] =
    "SELECT id, 'browser', DATE_FORMAT(created_at, '%Y-%m-%dT%H:%i:%sZ'),"
    " DATE_FORMAT(last_seen_at, '%Y-%m-%dT%H:%i:%sZ'), ip, user_agent, created_at"
    " FROM sessions WHERE user_id = ? AND expires_at > UTC_TIMESTAMP(6)"
    " UNION ALL"
    " SELECT f.id, 'api', DATE_FORMAT(f.created_at, '%Y-%m-%dT%H:%i:%sZ'),"
    " DATE_FORMAT(f.last_used_at, '%Y-%m-%dT%H:%i:%sZ'), f.ip, f.user_agent, f.created_at"
    " FROM refresh_families f WHERE f.user_id = ? AND f.revoked_at IS NULL"
    " AND EXISTS (SELECT 1 FROM refresh_tokens t WHERE t.family_id = f.id"
    "  AND t.expires_at > UTC_TIMESTAMP(6))"
    " ORDER BY 7 DESC, 1 DESC";

json_t *
session_list(struct db *db, struct arena *a, long long user_id, long long current_id)
{
	struct db_val p[2] = { DBV_INT(user_id), DBV_INT(user_id) };
	struct db_res res;
	json_t       *list = json_array();
	size_t        i;

	if (db_exec(db, a, sql_list, p, 2, &res) != UM_OK) {
		json_decref(list);
		return NULL;
	}
	for (i = 0; i < res.nrows; i++)
		json_array_append_new(list,
		    json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:b}", "id",
		        DB_CELL(&res, i, 0)->s, "kind", DB_CELL(&res, i, 1)->s, "created_at",
		        DB_CELL(&res, i, 2)->s, "last_seen_at", DB_CELL(&res, i, 3)->s, "ip",
		        DB_CELL(&res, i, 4)->s, "user_agent", DB_CELL(&res, i, 5)->s, "current",
		        DB_CELL(&res, i, 0)->i == current_id));
	return list;
}

static const char sql_hash_of[] =
    "SELECT id_hash FROM sessions WHERE id = ? AND user_id = ? FOR UPDATE";
static const char sql_revoke_one[] =
    "UPDATE refresh_families SET revoked_at = UTC_TIMESTAMP(6), revoke_reason = 'revoked'"
    " WHERE id = ? AND user_id = ? AND revoked_at IS NULL";

/* The writes of session_revoke, inside its transaction. */
static enum um_err
revoke_tx(struct ctx *ctx, long long user_id, long long id, int *found)
{
	struct db_val p[2] = { DBV_INT(id), DBV_INT(user_id) };
	struct db_res res;
	unsigned char hash[32];
	enum um_err   rc;

	/* Ids come from one sequence (sql/001_init.sql), so at most one of these matches. */
	if ((rc = db_exec(ctx->db, ctx->arena, sql_hash_of, p, 2, &res)) != UM_OK)
		return rc;
	if (res.nrows == 1 && DB_CELL(&res, 0, 0)->len == sizeof(hash)) {
		/* The log names a browser session by its hash: the cache's key, as the cookie's. */
		memcpy(hash, DB_CELL(&res, 0, 0)->s, sizeof(hash));
		p[0] = DBV_BLOB(hash, sizeof(hash));
		if ((rc = db_exec(ctx->db, ctx->arena, sql_delete, p, 1, NULL)) != UM_OK)
			return rc;
		*found = 1;
		return revocation_session(ctx, user_id, hash);
	}
	if ((rc = db_exec(ctx->db, ctx->arena, sql_revoke_one, p, 2, &res)) != UM_OK)
		return rc;
	*found = res.affected > 0;
	return *found ? revocation_family(ctx, user_id, id) : UM_OK;
}

enum um_err
session_revoke(struct ctx *ctx, long long user_id, long long id, int *found)
{
	int         own;
	enum um_err rc;

	*found = 0;
	if ((rc = db_join(ctx->db, &own)) != UM_OK)
		return rc;
	rc = db_leave(ctx->db, own, revoke_tx(ctx, user_id, id, found));
	if (rc != UM_OK)
		*found = 0;
	return rc;
}

enum um_err
session_set_amr(struct ctx *ctx, long long id, const char *amr)
{
	struct db_val p[2] = { dbv_text(amr), DBV_INT(id) };

	return db_exec(ctx->db, ctx->arena, sql_set_amr, p, 2, NULL);
}
