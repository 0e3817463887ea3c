/* revocation: the revocation log — a row per change that ends a token or session, written in that change's transaction. */
#include "config.h"

#include <string.h>

#include "arena.h"
#include "ctx.h"
#include "db.h"
#include "revocation.h"

/* The ENUM's words (sql/006_revocations.sql), in the order of enum revocation_kind. */
static const char *const kind_names[REVOCATION__MAX] = {
	[REVOCATION_USER] = "user",
	[REVOCATION_FAMILY] = "family",
	[REVOCATION_SESSION] = "session",
};

/* created_at is written by the server's clock, like every other time (DATABASE.md). */
static const char sql_insert[] =
    "INSERT INTO revocations (kind, user_id, family_id, session_hash, created_at)"
    " VALUES (?, ?, ?, ?, UTC_TIMESTAMP(6))";
static const char sql_read[] =
    "SELECT id, kind, user_id, family_id, session_hash FROM revocations"
    " WHERE id > ? ORDER BY id LIMIT ?";
/* The ids a poll has passed may still gain rows: ids are taken at INSERT, seen at COMMIT. */
static const char sql_recent[] =
    "SELECT id, kind, user_id, family_id, session_hash FROM revocations"
    " WHERE created_at >= UTC_TIMESTAMP(6) - INTERVAL ? SECOND AND id <= ?"
    " ORDER BY id LIMIT ?";
static const char sql_head[] = "SELECT IFNULL(MAX(id), 0) FROM revocations";

/* Keeps r for the cache; past the bound the request asks for a flush instead. */
static void
note(struct ctx *ctx, const struct revocation *r)
{
	struct revocation_notes *ns = &ctx->revoked;

	if (ns->n == REVOCATION_NOTES_MAX) {
		ns->flush = 1;
		return;
	}
	ns->v[ns->n++] = *r;
}

/* INSERTs r in the caller's transaction and, once the statement worked, notes it. */
static enum um_err
write_row(struct ctx *ctx, const struct revocation *r)
{
	struct db_val p[4];
	enum um_err   rc;

	p[0] = dbv_text(kind_names[r->kind]);
	p[1] = DBV_INT(r->user_id);
	p[2] = r->kind == REVOCATION_FAMILY ? DBV_INT(r->family_id) : DBV_NULL;
	p[3] = r->kind == REVOCATION_SESSION ?
	    DBV_BLOB(r->session_hash, sizeof(r->session_hash)) :
	    DBV_NULL;
	if ((rc = db_exec(ctx->db, ctx->arena, sql_insert, p, 4, NULL)) != UM_OK)
		return rc;
	note(ctx, r);
	return UM_OK;
}

enum um_err
revocation_user(struct ctx *ctx, long long user_id)
{
	struct revocation r = { .kind = REVOCATION_USER, .user_id = user_id };

	return write_row(ctx, &r);
}

enum um_err
revocation_family(struct ctx *ctx, long long user_id, long long family_id)
{
	struct revocation r = { .kind = REVOCATION_FAMILY,
		.user_id = user_id,
		.family_id = family_id };

	return write_row(ctx, &r);
}

enum um_err
revocation_session(struct ctx *ctx, long long user_id,
    const unsigned char hash[REVOCATION_HASH_LEN])
{
	struct revocation r = { .kind = REVOCATION_SESSION, .user_id = user_id };

	memcpy(r.session_hash, hash, sizeof(r.session_hash));
	return write_row(ctx, &r);
}

void
revocation_notes_reset(struct ctx *ctx)
{
	ctx->revoked.n = 0;
	ctx->revoked.flush = 0;
}

const struct revocation *
revocation_notes(const struct ctx *ctx, size_t *n, int *flush)
{
	*n = ctx->revoked.n;
	*flush = ctx->revoked.flush;
	return ctx->revoked.v;
}

/* The kind a row's word names; REVOCATION__MAX for a word this program does not know. */
static enum revocation_kind
kind_of(const char *s)
{
	int i;

	for (i = 0; s != NULL && i < REVOCATION__MAX; i++)
		if (strcmp(s, kind_names[i]) == 0)
			break;
	return s == NULL ? REVOCATION__MAX : (enum revocation_kind)i;
}

/* Runs a read of the log (sql, its first np of p bound) into an array in the arena. */
static enum um_err
read_rows(struct db *db, struct arena *a, const char *sql, struct db_val *p, size_t np,
    struct revocation **rows, size_t *n)
{
	struct db_res        res;
	struct revocation   *r;
	const struct db_val *h;
	size_t               i;
	enum um_err          rc;

	if ((rc = db_exec(db, a, sql, p, np, &res)) != UM_OK || res.nrows == 0)
		return rc;
	*rows = arena_calloc(a, res.nrows, sizeof(**rows));
	for (i = 0; i < res.nrows; i++) {
		r = &(*rows)[i];
		r->id = DB_CELL(&res, i, 0)->i;
		/*
		 * A word from a newer schema, or a session row without its hash, cannot be
		 * applied to one entry: forgetting the whole user is the safe reading.
		 */
		r->kind = kind_of(db_cell_text(DB_CELL(&res, i, 1)));
		r->user_id = DB_CELL(&res, i, 2)->i;
		h = DB_CELL(&res, i, 4);
		if (r->kind == REVOCATION_FAMILY && DB_CELL(&res, i, 3)->type == DB_INT)
			r->family_id = DB_CELL(&res, i, 3)->i;
		else if (r->kind == REVOCATION_SESSION && h->type == DB_BLOB &&
		    h->len == sizeof(r->session_hash))
			memcpy(r->session_hash, h->s, sizeof(r->session_hash));
		else
			r->kind = REVOCATION_USER;
	}
	*n = res.nrows;
	return UM_OK;
}

enum um_err
revocation_read(struct db *db, struct arena *a, long long after, size_t max,
    struct revocation **rows, size_t *n)
{
	struct db_val p[2];

	*rows = NULL;
	*n = 0;
	if (max == 0)
		return UM_OK;
	p[0] = DBV_INT(after);
	p[1] = DBV_INT(max < REVOCATION_READ_MAX ? max : REVOCATION_READ_MAX);
	return read_rows(db, a, sql_read, p, 2, rows, n);
}

enum um_err
revocation_read_recent(struct db *db, struct arena *a, long long seconds, long long upto,
    size_t max, struct revocation **rows, size_t *n)
{
	struct db_val p[3];

	*rows = NULL;
	*n = 0;
	if (max == 0)
		return UM_OK;
	p[0] = DBV_INT(seconds);
	p[1] = DBV_INT(upto);
	p[2] = DBV_INT(max < REVOCATION_READ_MAX ? max : REVOCATION_READ_MAX);
	return read_rows(db, a, sql_recent, p, 3, rows, n);
}

enum um_err
revocation_head(struct db *db, struct arena *a, long long *max_id)
{
	struct db_res res;
	enum um_err   rc;

	*max_id = 0;
	if ((rc = db_exec(db, a, sql_head, NULL, 0, &res)) != UM_OK)
		return rc;
	if (res.nrows == 1)
		*max_id = DB_CELL(&res, 0, 0)->i;
	return UM_OK;
}
