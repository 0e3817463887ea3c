/* import: one transaction per few thousand users, so a million seed-app users import in a minute. */
#include "config.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "arena.h"
#include "audit.h"
#include "counts.h"
#include "ctx.h"
#include "db.h"
#include "import.h"

/*
 * Rows per batch, and so per transaction: large enough that a statement's round trip and a
 * commit's flush are shared by thousands of rows (4096 imported a million 15% slower), small
 * enough for one statement (5 × 8192 placeholders, under MariaDB's 65 535) and a transaction
 * of a fraction of a second.  A power of two: statements come in sizes 1, 2, 4 ...
 * IMPORT_BATCH (IMPORT_SIZES of them).
 */
#define IMPORT_BATCH 8192
#define IMPORT_SIZES 14
/*
 * Seconds a lane waits for an answer (db.c's default is 3): a batch's INSERT may wait for the
 * other lane's commit (a row repeated across batches), and a statement of 8192 rows takes
 * longer than a request's on a busy server.
 */
#define IMPORT_READ_TIMEOUT 120

/* The statements of a batch, each made for n rows. */
enum query {
	Q_INSERT,   /* the accounts, as user_create() makes one, skipping the taken */
	Q_GRANT,    /* the role `user`, to each new account */
	Q_AUDIT,    /* user_imported, as audit_log() writes it, for each new account */
	Q_BY_NAME,  /* the accounts holding the usernames of skipped rows */
	Q_BY_EMAIL, /* the accounts holding their addresses */
	Q__MAX
};

/*
 * A statement for n rows is head, then group n times with commas between, then tail, with
 * per_row parameters a row.  In an IN list a value may repeat without changing the result,
 * so such a statement is padded to the next size with its last row (one statement a batch);
 * an INSERT cannot be, and runs in pieces of the sizes, largest first.
 */
static const struct shape {
	const char *head, *group, *tail;
	size_t      per_row;
	int         pad;
} shapes[Q__MAX] = {
	/*
	 * IGNORE skips a row whose username or address is taken — by an account from before, an
	 * earlier row, or a sign-up meanwhile — instead of failing the batch; the only error it
	 * can hide is that one, since every value was validated and fits its column.  RETURNING
	 * (MariaDB 10.5) names the rows created, in the order given: the others were skipped.
	 */
	[Q_INSERT] = { "INSERT IGNORE INTO users (username, email, password_hash,"
	               " email_verified_at) VALUES ",
	    "(?, ?, ?, IF(?, UTC_TIMESTAMP(6), NULL))", " RETURNING id, username, email", 4,
	    0 },
	[Q_GRANT] = { "INSERT INTO user_roles (user_id, role_id) VALUES ", "(?, ?)", "", 2, 0 },
	[Q_AUDIT] = { "INSERT INTO audit_events (user_id, actor_id, event, ip, details) VALUES ",
	    "(?, ?, ?, ?, ?)", "", 5, 0 },
	[Q_BY_NAME] = { "SELECT id, username, email FROM users WHERE username IN (", "?", ")",
	    1, 1 },
	[Q_BY_EMAIL] = { "SELECT id, username, email FROM users WHERE email IN (", "?", ")", 1,
	    1 },
};

/*
 * A map from usernames or addresses to account ids, for one batch (open addressing).  Keys
 * compare as the columns' _ci collation compares ASCII, and both are ASCII (validate.c).
 */
struct fold_map {
	size_t       mask;
	const char **keys;
	long long   *ids;
};

/* One row of a batch. */
struct irow {
	unsigned long       pos;
	const char         *username, *email, *hash; /* copies; NULL for a rejected row */
	const char         *message;                 /* a rejected row's */
	int                 verified;
	enum import_outcome outcome;
	long long           id; /* the new account's */
	int                 utaken, etaken;
};

/*
 * One batch: its rows, and the transaction that writes them on one of the two lanes
 * (connections).  The caller's thread fills it and runs the first stage (the accounts); the
 * helper thread runs the second (roles, events, the skipped rows' reasons) and commits.
 */
struct batch {
	unsigned long   seq;  /* its place among the batches */
	struct arena   *a;    /* its strings, maps and parameters */
	struct db      *db;   /* its lane */
	int             open; /* its transaction is open */
	enum um_err     rc;
	struct fold_map names, emails; /* the accounts that made rows of the batch skip */
	size_t          n;
	struct irow     rows[IMPORT_BATCH];
};

/*
 * Three batches are enough: one filling, one whose accounts the caller's thread inserts or
 * has queued, one the helper finishes — the two writing ones on different lanes.
 */
#define IMPORT_SLOTS 3

struct import {
	struct ctx       *ctx;
	import_report_fn *report;
	void             *arg;
	int               if_absent;
	long long         role_id; /* of `user` */
	long long         before;  /* the highest account id when the import began */
	char             *details; /* user_imported's details column */
	struct db        *lanes[2];
	struct batch     *slots[IMPORT_SLOTS];
	struct batch     *filling; /* slots[seq % IMPORT_SLOTS] */
	unsigned long     seq;     /* the batch being filled */
	unsigned long     counts[IMPORT__MAX];
	unsigned long     pending; /* the first row of the first batch not written */
	unsigned long     told;    /* batches reported */
	/* Shared with the helper, under mu. */
	pthread_mutex_t mu;
	pthread_cond_t  cv;
	pthread_t       helper;
	int             helper_on, stop;
	struct batch   *queued; /* its accounts inserted, for the helper */
	unsigned long   done;   /* batches the helper has ended: seq < done */
	enum um_err     failed; /* the first failure: the import is over */
};

/*
 * The text of every statement, for 1, 2, 4 ... IMPORT_BATCH rows, built by the first
 * import_start before any other thread runs, and kept for the life of the process: db.c
 * caches prepared statements by the SQL's address (db.h).
 */
static char *sqls[Q__MAX][IMPORT_SIZES];

/* The text of statement q for 2^order rows. */
static char *
build_sql(enum query q, unsigned order)
{
	const struct shape *sh = &shapes[q];
	size_t              n = (size_t)1 << order, i, hl, gl, tl;
	char               *s, *w;

	hl = strlen(sh->head);
	gl = strlen(sh->group);
	tl = strlen(sh->tail);
	if ((s = malloc(hl + n * (gl + 2) + tl + 1)) == NULL)
		abort(); /* STYLE.md: out of memory ends the process */
	memcpy(s, sh->head, hl);
	w = s + hl;
	for (i = 0; i < n; i++) {
		if (i > 0) {
			memcpy(w, ", ", 2);
			w += 2;
		}
		memcpy(w, sh->group, gl);
		w += gl;
	}
	memcpy(w, sh->tail, tl + 1);
	return s;
}

static void
build_all_sql(void)
{
	unsigned q, j;

	if (sqls[0][0] != NULL)
		return;
	for (q = 0; q < Q__MAX; q++)
		for (j = 0; j < IMPORT_SIZES; j++)
			sqls[q][j] = build_sql((enum query)q, j);
}

/* The smallest order whose size holds n rows (pad), or the largest that n fills (!pad). */
static unsigned
order_for(size_t n, int pad)
{
	unsigned j = 0;

	while (j + 1 < IMPORT_SIZES && ((size_t)1 << (j + 1)) <= n)
		j++;
	if (pad && ((size_t)1 << j) < n)
		j++;
	return j;
}

static unsigned char
fold(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? (unsigned char)(c - 'A' + 'a') : c;
}

static int
fold_eq(const char *x, const char *y)
{
	while (*x != '\0' && fold((unsigned char)*x) == fold((unsigned char)*y)) {
		x++;
		y++;
	}
	return fold((unsigned char)*x) == fold((unsigned char)*y);
}

/* The slot of key: where it is, or the empty one where it would go. */
static size_t
map_slot(const struct fold_map *m, const char *key)
{
	unsigned long long h = 14695981039346656037ULL; /* FNV-1a */
	const char        *k;
	size_t             i;

	for (k = key; *k != '\0'; k++)
		h = (h ^ fold((unsigned char)*k)) * 1099511628211ULL;
	for (i = (size_t)h & m->mask; m->keys[i] != NULL; i = (i + 1) & m->mask)
		if (fold_eq(m->keys[i], key))
			break;
	return i;
}

/* Room for n keys at most half full. */
static void
map_init(struct fold_map *m, struct arena *a, size_t n)
{
	size_t cap = 16;

	while (cap < 2 * n)
		cap *= 2;
	m->mask = cap - 1;
	m->keys = arena_calloc(a, cap, sizeof(*m->keys));
	m->ids = arena_calloc(a, cap, sizeof(*m->ids));
}

static void
map_put(struct fold_map *m, const char *key, long long id)
{
	size_t i = map_slot(m, key);

	m->keys[i] = key;
	m->ids[i] = id;
}

/* key's id, or 0 when absent. */
static long long
map_get(const struct fold_map *m, const char *key)
{
	size_t i = map_slot(m, key);

	return m->keys[i] != NULL ? m->ids[i] : 0;
}

/* Puts the accounts of a Q_BY_* result into the maps: id by username and by address. */
static void
map_accounts(struct fold_map *names, struct fold_map *emails, const struct db_res *res)
{
	size_t r;

	for (r = 0; r < res->nrows; r++) {
		map_put(names, DB_CELL(res, r, 1)->s, DB_CELL(res, r, 0)->i);
		map_put(emails, DB_CELL(res, r, 2)->s, DB_CELL(res, r, 0)->i);
	}
}

/* Row r's parameters for q: its values, or its new account's id and the import's constants. */
static void
row_params(const struct import *im, enum query q, const struct irow *r, struct db_val *p)
{
	switch (q) {
	case Q_INSERT:
		p[0] = dbv_text(r->username);
		p[1] = dbv_text(r->email);
		p[2] = dbv_text(r->hash);
		p[3] = DBV_INT(r->verified);
		break;
	case Q_GRANT:
		p[0] = DBV_INT(r->id);
		p[1] = DBV_INT(im->role_id);
		break;
	case Q_AUDIT: /* the values audit_log() would write */
		p[0] = DBV_INT(r->id);
		p[1] = im->ctx->actor > 0 ? DBV_INT(im->ctx->actor) : DBV_NULL;
		p[2] = dbv_text(audit_name(AUDIT_USER_IMPORTED));
		p[3] = im->ctx->ip != NULL ? dbv_text(im->ctx->ip) : DBV_NULL;
		p[4] = im->details != NULL ? dbv_text(im->details) : DBV_NULL;
		break;
	case Q_BY_NAME: p[0] = dbv_text(r->username); break;
	case Q_BY_EMAIL: p[0] = dbv_text(r->email); break;
	default: break;
	}
}

/*
 * Matches the rows idx[0..k) of one INSERT with the accounts its RETURNING named, in order:
 * a named row gets its new id, every other row was skipped (taken, until classify() tells
 * more).  Rows with the same username and address are skipped alike, so the first of them
 * that is named is the right one.  UM_EINTERNAL when the answer does not follow the rows.
 */
static enum um_err
created(struct batch *b, const size_t *idx, size_t k, const struct db_res *res)
{
	struct irow *r;
	size_t       i, j = 0;

	for (i = 0; i < k; i++) {
		r = &b->rows[idx[i]];
		if (j < res->nrows && strcmp(DB_CELL(res, j, 1)->s, r->username) == 0 &&
		    strcmp(DB_CELL(res, j, 2)->s, r->email) == 0)
			r->id = DB_CELL(res, j++, 0)->i;
		else
			r->outcome = IMPORT_TAKEN;
	}
	return j == res->nrows ? UM_OK : UM_EINTERNAL;
}

/*
 * Runs q over the rows idx[0..k) of b on its lane: what an INSERT created goes to created(),
 * the accounts a lookup found into the batch's maps.
 */
static enum um_err
run(const struct import *im, struct batch *b, enum query q, const size_t *idx, size_t k)
{
	const struct shape *sh = &shapes[q];
	struct db_res       res;
	struct db_val      *p;
	size_t              done = 0, size, cnt, i;
	unsigned            order;
	enum um_err         rc;

	while (done < k) {
		order = order_for(k - done, sh->pad);
		size = (size_t)1 << order;
		cnt = size < k - done ? size : k - done;
		p = arena_calloc(b->a, size * sh->per_row, sizeof(*p));
		for (i = 0; i < size; i++)
			row_params(im, q, &b->rows[idx[done + (i < cnt ? i : cnt - 1)]],
			    p + i * sh->per_row);
		if ((rc = db_exec(b->db, b->a, sqls[q][order], p, size * sh->per_row, &res)) !=
		    UM_OK)
			return rc;
		if (q == Q_INSERT && (rc = created(b, idx + done, cnt, &res)) != UM_OK)
			return rc;
		if (q == Q_BY_NAME || q == Q_BY_EMAIL)
			map_accounts(&b->names, &b->emails, &res);
		done += cnt;
	}
	return UM_OK;
}

/*
 * Says why the rows skip[0..k) were skipped: each is taken (by which of its fields), or,
 * with if_absent, present — one account from before the import holds its username and its
 * address.  Runs in the batch's transaction, after the batch before it committed, so an
 * account an earlier row made counts as taken: the first occurrence wins.
 */
static enum um_err
classify(const struct import *im, struct batch *b, const size_t *skip, size_t k)
{
	struct irow *r;
	size_t       i;
	long long    uid, eid;
	enum um_err  rc;

	map_init(&b->names, b->a, 2 * k);
	map_init(&b->emails, b->a, 2 * k);
	if ((rc = run(im, b, Q_BY_NAME, skip, k)) != UM_OK ||
	    (rc = run(im, b, Q_BY_EMAIL, skip, k)) != UM_OK)
		return rc;
	for (i = 0; i < k; i++) {
		r = &b->rows[skip[i]];
		uid = map_get(&b->names, r->username);
		eid = map_get(&b->emails, r->email);
		if (im->if_absent && uid != 0 && uid == eid && uid <= im->before)
			r->outcome = IMPORT_PRESENT;
		r->utaken = uid != 0;
		r->etaken = eid != 0;
	}
	return UM_OK;
}

/* The indexes of the batch's rows with outcome o, into out; how many there are. */
static size_t
rows_with(const struct batch *b, enum import_outcome o, size_t *out)
{
	size_t i, k = 0;

	for (i = 0; i < b->n; i++)
		if (b->rows[i].outcome == o)
			out[k++] = i;
	return k;
}

/*
 * The first stage, in the caller's thread: opens the batch's transaction on its lane and
 * creates the accounts (skipping the taken).  Runs only once the batch before it has created
 * its own, so of two rows that collide the earlier one wins; a row that collides with the
 * other lane's uncommitted account waits for its commit (InnoDB's lock), and is skipped then.
 */
static enum um_err
first_stage(const struct import *im, struct batch *b)
{
	size_t     *idx = arena_calloc(b->a, b->n, sizeof(*idx)), k;
	enum um_err rc;

	if ((k = rows_with(b, IMPORT_IMPORTED, idx)) == 0)
		return UM_OK;
	if ((rc = db_begin(b->db)) != UM_OK)
		return rc;
	b->open = 1;
	/*
	 * Set per batch, not once per lane: a lane that reconnected between batches has lost
	 * its session variables.  The batch adds its own totals (second_stage).
	 */
	if ((rc = counts_bulk(b->db, b->a, 1)) != UM_OK)
		return rc;
	return run(im, b, Q_INSERT, idx, k);
}

/*
 * What the batch adds to /metrics' totals, written in its transaction (sql/008_counts.sql:
 * the insert trigger leaves a bulk connection's rows to it).  Every new account is active,
 * and its hash bare: legacy_check let only 64 lowercase hex digits through.
 */
static enum um_err
count(struct batch *b)
{
	struct counts d = { 0 };
	size_t        i;

	for (i = 0; i < b->n; i++)
		if (b->rows[i].outcome == IMPORT_IMPORTED) {
			d.users_active++;
			d.legacy_bare++;
			d.users_unverified += !b->rows[i].verified;
		}
	return d.users_active > 0 ? counts_add(b->db, b->a, &d) : UM_OK;
}

/*
 * The second stage, in the helper: the role `user` and a user_imported event for each new
 * account, by the ids RETURNING gave — with innodb_autoinc_lock_mode=2 (Galera) one INSERT's
 * ids need not be consecutive, so none is computed from another — then the skipped rows'
 * reasons, and the commit.  Commits come in the order of the batches.
 */
static enum um_err
second_stage(const struct import *im, struct batch *b)
{
	size_t     *idx = arena_calloc(b->a, b->n, sizeof(*idx)), k;
	enum um_err rc;

	if (!b->open)
		return UM_OK;
	if ((k = rows_with(b, IMPORT_IMPORTED, idx)) > 0 &&
	    ((rc = run(im, b, Q_GRANT, idx, k)) != UM_OK ||
	        (rc = run(im, b, Q_AUDIT, idx, k)) != UM_OK))
		return rc;
	if ((rc = count(b)) != UM_OK)
		return rc;
	if ((k = rows_with(b, IMPORT_TAKEN, idx)) > 0 &&
	    (rc = classify(im, b, idx, k)) != UM_OK)
		return rc;
	b->open = 0;
	return db_commit(b->db);
}

/* Ends b's transaction without a trace (a failure in it, or in a batch before it). */
static void
abandon(struct batch *b)
{
	if (b->open)
		db_rollback(b->db);
	b->open = 0;
}

/* The helper thread: the second stage of each queued batch, in order, until told to stop. */
static void *
helper(void *arg)
{
	struct import *im = arg;
	struct batch  *b;
	enum um_err    rc;

	(void)pthread_mutex_lock(&im->mu);
	for (;;) {
		while (im->queued == NULL && !im->stop)
			(void)pthread_cond_wait(&im->cv, &im->mu);
		if ((b = im->queued) == NULL)
			break;
		im->queued = NULL;
		rc = im->failed;
		(void)pthread_mutex_unlock(&im->mu);
		if (rc == UM_OK)
			rc = second_stage(im, b);
		if (rc != UM_OK)
			abandon(b);
		(void)pthread_mutex_lock(&im->mu);
		b->rc = rc;
		if (rc != UM_OK && im->failed == UM_OK)
			im->failed = rc;
		im->done = b->seq + 1;
		(void)pthread_cond_broadcast(&im->cv);
	}
	(void)pthread_mutex_unlock(&im->mu);
	return NULL;
}

/*
 * Counts b's outcomes and reports its taken and invalid rows in order, in the caller's
 * thread.  After a failure only the invalid ones: nothing else was decided, and the first
 * row of the first such batch is where a re-run picks up.
 */
static void
tell(struct import *im, struct batch *b)
{
	struct import_report rep;
	struct irow         *r;
	size_t               i;

	if (b->rc != UM_OK && im->pending == 0 && b->n > 0)
		im->pending = b->rows[0].pos;
	for (i = 0; i < b->n; i++) {
		r = &b->rows[i];
		if (b->rc != UM_OK && r->outcome != IMPORT_INVALID)
			continue;
		im->counts[r->outcome]++;
		if (r->outcome != IMPORT_TAKEN && r->outcome != IMPORT_INVALID)
			continue;
		memset(&rep, 0, sizeof(rep));
		rep.pos = r->pos;
		rep.outcome = r->outcome;
		rep.username_taken = r->utaken;
		rep.email_taken = r->etaken;
		rep.message = r->message;
		im->report(im->arg, &rep);
	}
}

/*
 * Waits until the helper has ended every batch before upto, reports each ended batch not
 * reported yet, in order, and returns the import's failure, if any.  Batch s lives in slot
 * s % IMPORT_SLOTS, so the slot of a reported batch is free for the one three after it.
 */
static enum um_err
settle(struct import *im, unsigned long upto)
{
	struct batch *b;
	unsigned long done;
	enum um_err   rc;

	(void)pthread_mutex_lock(&im->mu);
	while (im->done < upto)
		(void)pthread_cond_wait(&im->cv, &im->mu);
	done = im->done;
	rc = im->failed;
	(void)pthread_mutex_unlock(&im->mu);
	for (; im->told < done; im->told++) {
		b = im->slots[im->told % IMPORT_SLOTS];
		tell(im, b);
		b->n = 0;
		arena_reset(b->a);
	}
	return rc;
}

/* Hands b, its first stage over (rc its outcome), to the helper. */
static void
queue(struct import *im, struct batch *b, enum um_err rc)
{
	(void)pthread_mutex_lock(&im->mu);
	while (im->queued != NULL)
		(void)pthread_cond_wait(&im->cv, &im->mu);
	if (rc != UM_OK && im->failed == UM_OK)
		im->failed = rc;
	im->queued = b;
	(void)pthread_cond_broadcast(&im->cv);
	(void)pthread_mutex_unlock(&im->mu);
}

/*
 * Writes the batch being filled: its first stage here while the helper finishes the batch
 * before it on the other lane, so that the two halves of the work use two connections (and
 * the server two cores) at once.  A failure, here or in the helper, ends the import once
 * every batch before has been reported.
 */
static enum um_err
flush(struct import *im)
{
	struct batch *b = im->filling;
	enum um_err   rc;

	if (b->n == 0)
		return settle(im, 0);
	/* b's lane was last used by the batch two before it. */
	rc = settle(im, b->seq > 0 ? b->seq - 1 : 0);
	b->db = im->lanes[b->seq % 2];
	if (rc == UM_OK && (rc = first_stage(im, b)) != UM_OK)
		abandon(b);
	queue(im, b, rc);
	im->seq++;
	im->filling = im->slots[im->seq % IMPORT_SLOTS];
	im->filling->seq = im->seq;
	return rc != UM_OK ? settle(im, im->seq) : UM_OK;
}

/* The batch's next row, zeroed. */
static struct irow *
next_row(struct import *im, unsigned long pos)
{
	struct irow *r = &im->filling->rows[im->filling->n++];

	memset(r, 0, sizeof(*r));
	r->pos = pos;
	return r;
}

enum um_err
import_add(struct import *im, unsigned long pos, const char *username, const char *email,
    const char *hash, int verified)
{
	struct arena *a = im->filling->a;
	struct irow  *r = next_row(im, pos);

	r->username = arena_strdup(a, username);
	r->email = arena_strdup(a, email);
	r->hash = arena_strdup(a, hash);
	r->verified = verified != 0;
	r->outcome = IMPORT_IMPORTED;
	return im->filling->n == IMPORT_BATCH ? flush(im) : UM_OK;
}

enum um_err
import_reject(struct import *im, unsigned long pos, const char *message)
{
	struct irow *r = next_row(im, pos);

	r->message = arena_strdup(im->filling->a, message);
	r->outcome = IMPORT_INVALID;
	return im->filling->n == IMPORT_BATCH ? flush(im) : UM_OK;
}

enum um_err
import_finish(struct import *im)
{
	enum um_err rc = flush(im);

	return rc != UM_OK ? rc : settle(im, im->seq);
}

const unsigned long *
import_counts(const struct import *im)
{
	return im->counts;
}

unsigned long
import_pending(const struct import *im)
{
	return im->pending;
}

/* The role and the highest account id before the first row, in one round trip. */
static const char sql_start[] = "SELECT (SELECT id FROM roles WHERE name = 'user'),"
                                " (SELECT COALESCE(MAX(id), 0) FROM users)";

/* The batches, the two lanes (connections of their own, patient ones) and the helper. */
static enum um_err
import_setup(struct import *im)
{
	size_t i;

	for (i = 0; i < IMPORT_SLOTS; i++)
		if ((im->slots[i] = calloc(1, sizeof(*im->slots[i]))) == NULL ||
		    (im->slots[i]->a = arena_new()) == NULL)
			abort(); /* STYLE.md: out of memory ends the process */
	im->filling = im->slots[0];
	for (i = 0; i < 2; i++) {
		if ((im->lanes[i] = db_open(im->ctx->conf)) == NULL)
			abort();
		db_set_timeout(im->lanes[i], IMPORT_READ_TIMEOUT);
	}
	(void)pthread_mutex_init(&im->mu, NULL);
	(void)pthread_cond_init(&im->cv, NULL);
	if (pthread_create(&im->helper, NULL, helper, im) != 0)
		return UM_EINTERNAL;
	im->helper_on = 1;
	return UM_OK;
}

enum um_err
import_start(struct ctx *ctx, int if_absent, import_report_fn *fn, void *arg,
    struct import **out)
{
	struct import *im;
	struct db_res  res;
	enum um_err    rc;

	*out = NULL;
	if ((rc = db_exec(ctx->db, ctx->arena, sql_start, NULL, 0, &res)) != UM_OK)
		return rc;
	/* sql/001_init.sql makes the role: without it the schema is not there. */
	if (res.nrows != 1 || DB_CELL(&res, 0, 0)->type == DB_NULL)
		return UM_EINTERNAL;
	build_all_sql();
	if ((im = calloc(1, sizeof(*im))) == NULL)
		abort();
	im->ctx = ctx;
	im->if_absent = if_absent;
	im->report = fn;
	im->arg = arg;
	im->role_id = DB_CELL(&res, 0, 0)->i;
	im->before = DB_CELL(&res, 0, 1)->i;
	/* directory_create's details for an account with no role but `user`. */
	im->details = audit_details(ctx, json_pack("{s:[s]}", "roles", "user"));
	if ((rc = import_setup(im)) != UM_OK) {
		import_free(im);
		return rc;
	}
	*out = im;
	return UM_OK;
}

void
import_free(struct import *im)
{
	size_t i;

	if (im == NULL)
		return;
	if (im->helper_on) {
		(void)pthread_mutex_lock(&im->mu);
		im->stop = 1;
		(void)pthread_cond_broadcast(&im->cv);
		(void)pthread_mutex_unlock(&im->mu);
		(void)pthread_join(im->helper, NULL);
		(void)pthread_cond_destroy(&im->cv);
		(void)pthread_mutex_destroy(&im->mu);
	}
	for (i = 0; i < IMPORT_SLOTS; i++) {
		if (im->slots[i] == NULL)
			continue;
		abandon(im->slots[i]);
		arena_free(im->slots[i]->a);
		free(im->slots[i]);
	}
	db_close(im->lanes[0]);
	db_close(im->lanes[1]);
	free(im->details);
	free(im);
}
