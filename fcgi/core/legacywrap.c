/* legacywrap: wraps imported users' bare SHA-256 hashes in Argon2id, in paced batches (issue 16). */
#include "config.h"

#include <stddef.h>

#include "audit.h"
#include "conf.h"
#include "ctx.h"
#include "db.h"
#include "legacywrap.h"
#include "link.h"
#include "password.h"

/*
 * Users mailed a reset link that may still be live: the link carries a fingerprint of the hash
 * it was made with (account.c), so wrapping the hash now would kill it.  They wait for a pass
 * after the link expired.  audit_events_user (user_id, id) makes this a short look-up.
 */
#define NO_LIVE_RESET_LINK \
	" AND NOT EXISTS (SELECT 1 FROM audit_events e WHERE e.user_id = users.id" \
	" AND e.event = ? AND e.created_at > UTC_TIMESTAMP(6) - INTERVAL ? SECOND)"

/* sql/007's index (legacy_bare, id): a batch reads its rows, not the table. */
static const char sql_batch[] =
    "SELECT id, password_hash FROM users WHERE legacy_bare = 1 AND id > ?" NO_LIVE_RESET_LINK
    " ORDER BY id LIMIT ?";
/* The old value in the WHERE: a login's re-hash, or a new password, since the read wins. */
static const char sql_wrap[] =
    "UPDATE users SET password_hash = ? WHERE id = ? AND password_hash = ?" NO_LIVE_RESET_LINK;
static const char sql_left[] = "SELECT COUNT(*) FROM users WHERE legacy_bare = 1";

/* Wraps one user's bare hash; *wrapped grows when the row was still as read. */
static enum um_err
wrap_one(struct ctx *ctx, long long id, const char *bare, size_t *wrapped)
{
	struct db_val p[5];
	struct db_res res;
	char          hash[PASSWORD_HASH_MAX];
	enum um_err   rc;

	if ((rc = password_wrap_legacy(ctx->conf, bare, hash)) != UM_OK)
		return rc;
	p[0] = dbv_text(hash);
	p[1] = DBV_INT(id);
	p[2] = dbv_text(bare);
	p[3] = dbv_text(audit_name(AUDIT_RESET_REQUESTED));
	p[4] = DBV_INT(link_lifetime(LINK_RESET_PASSWORD));
	if ((rc = db_exec(ctx->db, ctx->arena, sql_wrap, p, 5, &res)) != UM_OK)
		return rc;
	*wrapped += res.affected;
	return UM_OK;
}

enum um_err
legacywrap_batch(struct ctx *ctx, long long *after, size_t max, size_t *seen, size_t *wrapped)
{
	struct db_val p[4];
	struct db_res res;
	size_t        i;
	enum um_err   rc;

	*seen = 0;
	*wrapped = 0;
	if (max == 0)
		return UM_OK;
	p[0] = DBV_INT(*after);
	p[1] = dbv_text(audit_name(AUDIT_RESET_REQUESTED));
	p[2] = DBV_INT(link_lifetime(LINK_RESET_PASSWORD));
	p[3] = DBV_INT(max);
	if ((rc = db_exec(ctx->db, ctx->arena, sql_batch, p, 4, &res)) != UM_OK)
		return rc;
	for (i = 0; i < res.nrows; i++) {
		*after = DB_CELL(&res, i, 0)->i;
		(*seen)++;
		if ((rc = wrap_one(ctx, *after, DB_CELL(&res, i, 1)->s, wrapped)) != UM_OK)
			return rc;
	}
	return UM_OK;
}

enum um_err
legacywrap_left(struct ctx *ctx, unsigned long long *n)
{
	struct db_res res;
	enum um_err   rc;

	*n = 0;
	if ((rc = db_exec(ctx->db, ctx->arena, sql_left, NULL, 0, &res)) != UM_OK)
		return rc;
	if (res.nrows == 1 && DB_CELL(&res, 0, 0)->type == DB_INT)
		*n = (unsigned long long)DB_CELL(&res, 0, 0)->i;
	return UM_OK;
}

static double
seconds_between(const struct timespec *a, const struct timespec *b)
{
	return (double)(b->tv_sec - a->tv_sec) + (double)(b->tv_nsec - a->tv_nsec) / 1e9;
}

void
legacywrap_pace_init(struct legacywrap_pace *p, unsigned per_second)
{
	p->per_second = per_second;
	p->credit = 1;
	p->last.tv_sec = 0;
	p->last.tv_nsec = 0;
}

size_t
legacywrap_pace_due(struct legacywrap_pace *p, const struct timespec *now)
{
	double most = p->per_second > 1 ? (double)p->per_second : 1;
	double gap;

	if (p->last.tv_sec != 0 || p->last.tv_nsec != 0) {
		/* A clock that went back adds nothing. */
		if ((gap = seconds_between(&p->last, now)) > 0)
			p->credit += gap * p->per_second;
	}
	if (p->credit > most)
		p->credit = most;
	p->last = *now;
	return (size_t)p->credit;
}

void
legacywrap_pace_spend(struct legacywrap_pace *p, size_t n)
{
	p->credit -= (double)n;
}

void
legacywrap_job_init(struct legacywrap_job *j, unsigned per_second)
{
	legacywrap_pace_init(&j->pace, per_second);
	j->after = 0;
	j->rest_until.tv_sec = 0;
	j->rest_until.tv_nsec = 0;
}

enum um_err
legacywrap_job_step(struct ctx *ctx, struct legacywrap_job *j, const struct timespec *now,
    size_t *wrapped)
{
	size_t      due, seen = 0;
	enum um_err rc;

	*wrapped = 0;
	if (j->pace.per_second == 0 || seconds_between(now, &j->rest_until) > 0)
		return UM_OK;
	if ((due = legacywrap_pace_due(&j->pace, now)) == 0)
		return UM_OK;
	if (due > LEGACYWRAP_BATCH)
		due = LEGACYWRAP_BATCH;
	rc = legacywrap_batch(ctx, &j->after, due, &seen, wrapped);
	legacywrap_pace_spend(&j->pace, seen);
	if (rc != UM_OK || seen < due) {
		/* The next pass starts from the first id again, for users skipped in this one. */
		j->after = 0;
		j->rest_until = *now;
		j->rest_until.tv_sec += LEGACYWRAP_REST;
	}
	return rc;
}
