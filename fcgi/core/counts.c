/* counts: the totals /metrics reports, kept by the writes that change them (sql/008_counts.sql). */
#include "config.h"

#include <stddef.h>

#include "counts.h"
#include "db.h"

#define COUNTS_N    8
#define FOLD_IDLE_S 3600 /* a row untouched this long belongs to a connection long gone */
#define FOLD_BATCH  100

/* The columns in struct counts order. */
#define COUNTS_COLUMNS \
	"users_active, users_disabled, users_unverified, legacy_bare, legacy_wrapped," \
	" outbox_queued, outbox_sent, outbox_failed"

static const char sql_read[] =
    "SELECT SUM(users_active), SUM(users_disabled), SUM(users_unverified), SUM(legacy_bare),"
    " SUM(legacy_wrapped), SUM(outbox_queued), SUM(outbox_sent), SUM(outbox_failed)"
    " FROM counts";
static const char sql_bulk_on[] = "SET @usermgr_counted = 1";
static const char sql_bulk_off[] = "SET @usermgr_counted = NULL";
/*
 * Adds to the connection's own row (first parameters 1) or to the base row ('', 0): what
 * sql/008_counts.sql's usermgr_counts_add does for the triggers (a CALL would need EXECUTE,
 * which the workers' account does not have).
 */
static const char sql_add[] =
    "INSERT INTO counts (node, conn, " COUNTS_COLUMNS ") VALUES"
    " (IF(?, CONCAT(@@hostname, ':', @@port), ''), IF(?, CONNECTION_ID(), 0),"
    " ?, ?, ?, ?, ?, ?, ?, ?)"
    " ON DUPLICATE KEY UPDATE touched_at = UTC_TIMESTAMP(6),"
    " users_active = users_active + VALUES(users_active),"
    " users_disabled = users_disabled + VALUES(users_disabled),"
    " users_unverified = users_unverified + VALUES(users_unverified),"
    " legacy_bare = legacy_bare + VALUES(legacy_bare),"
    " legacy_wrapped = legacy_wrapped + VALUES(legacy_wrapped),"
    " outbox_queued = outbox_queued + VALUES(outbox_queued),"
    " outbox_sent = outbox_sent + VALUES(outbox_sent),"
    " outbox_failed = outbox_failed + VALUES(outbox_failed)";
/* Locked, so a connection waking up waits for the fold instead of being counted twice. */
static const char sql_idle[] =
    "SELECT node, conn, " COUNTS_COLUMNS " FROM counts WHERE node <> ''"
    " AND touched_at < UTC_TIMESTAMP(6) - INTERVAL ? SECOND LIMIT ? FOR UPDATE";
static const char sql_drop[] = "DELETE FROM counts WHERE node = ? AND conn = ?";

static long long *
field(struct counts *c, size_t i)
{
	long long *f[COUNTS_N] = { &c->users_active, &c->users_disabled, &c->users_unverified,
		&c->legacy_bare, &c->legacy_wrapped, &c->outbox_queued, &c->outbox_sent,
		&c->outbox_failed };

	return f[i];
}

enum um_err
counts_read(struct db *db, struct arena *a, struct counts *out)
{
	struct db_res res;
	size_t        i;
	enum um_err   rc;

	if ((rc = db_exec(db, a, sql_read, NULL, 0, &res)) != UM_OK)
		return rc;
	if (res.nrows != 1)
		return UM_EINTERNAL;
	/* SUM gives DECIMAL, which db.c parses into i too; NULL (no rows) reads 0. */
	for (i = 0; i < COUNTS_N; i++)
		*field(out, i) = DB_CELL(&res, 0, i)->type == DB_NULL ? 0 :
		                                                        DB_CELL(&res, 0, i)->i;
	return UM_OK;
}

enum um_err
counts_bulk(struct db *db, struct arena *a, int on)
{
	return db_exec(db, a, on ? sql_bulk_on : sql_bulk_off, NULL, 0, NULL);
}

/* The call adding c to the connection's own row (own) or to the base row. */
static enum um_err
add(struct db *db, struct arena *a, int own, struct counts *c)
{
	struct db_val p[2 + COUNTS_N];
	size_t        i;

	p[0] = p[1] = DBV_INT(own);
	for (i = 0; i < COUNTS_N; i++)
		p[2 + i] = DBV_INT(*field(c, i));
	return db_exec(db, a, sql_add, p, 2 + COUNTS_N, NULL);
}

enum um_err
counts_add(struct db *db, struct arena *a, const struct counts *delta)
{
	struct counts d = *delta;

	return add(db, a, 1, &d);
}

/* One batch of idle rows folded in one transaction; *n gets how many. */
static enum um_err
fold_batch(struct db *db, struct arena *a, size_t *n)
{
	struct db_val p[2], key[2];
	struct counts sum = { 0 };
	struct db_res res;
	size_t        i, j;
	enum um_err   rc;

	p[0] = DBV_INT(FOLD_IDLE_S);
	p[1] = DBV_INT(FOLD_BATCH);
	if ((rc = db_exec(db, a, sql_idle, p, 2, &res)) != UM_OK)
		return rc;
	for (i = 0; i < res.nrows; i++) {
		for (j = 0; j < COUNTS_N; j++)
			*field(&sum, j) += DB_CELL(&res, i, 2 + j)->i;
		key[0] = *DB_CELL(&res, i, 0);
		key[1] = *DB_CELL(&res, i, 1);
		if ((rc = db_exec(db, a, sql_drop, key, 2, NULL)) != UM_OK)
			return rc;
	}
	*n = res.nrows;
	if (res.nrows == 0)
		return UM_OK;
	return add(db, a, 0, &sum);
}

enum um_err
counts_fold(struct db *db, struct arena *a)
{
	size_t      n = FOLD_BATCH;
	enum um_err rc = UM_OK;

	while (rc == UM_OK && n == FOLD_BATCH) {
		if ((rc = db_begin(db)) != UM_OK)
			break;
		if ((rc = fold_batch(db, a, &n)) == UM_OK)
			rc = db_commit(db);
		else
			db_rollback(db);
	}
	return rc;
}
