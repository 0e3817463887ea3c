/* revocation: the revocation log — a row per change that ends a token or session, written in that change's transaction. */
#ifndef UM_REVOCATION_H
#define UM_REVOCATION_H

#include <stddef.h>

#include "error.h"

struct arena;
struct ctx;
struct db;

/* What a cache forgets for a row (sql/006_revocations.sql), in the order of its ENUM. */
enum revocation_kind {
	REVOCATION_USER = 0, /* the user entry and every session and family of the user */
	REVOCATION_FAMILY,   /* one refresh family: access tokens whose sid it is die */
	REVOCATION_SESSION,  /* one browser session, by the SHA-256 of its cookie */
	REVOCATION__MAX
};

#define REVOCATION_HASH_LEN  32   /* sessions.id_hash */
#define REVOCATION_NOTES_MAX 16   /* notes a request keeps before it says "flush everything" */
#define REVOCATION_KEEP_DAYS 1    /* retention_prune deletes rows older than this */
#define REVOCATION_READ_MAX  1000 /* most rows one revocation_read returns */

/* One row of the log, or one note of a request (id 0: not read from the log). */
struct revocation {
	long long            id;
	enum revocation_kind kind;
	long long            user_id;
	long long            family_id;                  /* REVOCATION_FAMILY; else 0 */
	unsigned char session_hash[REVOCATION_HASH_LEN]; /* REVOCATION_SESSION; else 0s */
};

/*
 * What the current request wrote to the log, for the cache to apply once the change has
 * committed and before the answer goes out (so a revocation holds on this host before the
 * client hears of it).  Bounded: past REVOCATION_NOTES_MAX notes, flush is set and the
 * cache forgets everything instead; a note of a change that then rolled back only makes the
 * cache forget what was still true, which costs one database read.
 */
struct revocation_notes {
	struct revocation v[REVOCATION_NOTES_MAX];
	size_t            n;
	int               flush;
};

/*
 * Writers: each INSERTs one row inside the caller's transaction (the caller commits or
 * rolls back the change and its row together) and notes it in ctx.  UM_EUNAVAIL and
 * UM_EINTERNAL as db_exec.
 */
enum um_err revocation_user(struct ctx *, long long);
enum um_err revocation_family(struct ctx *, long long, long long);
enum um_err revocation_session(struct ctx *, long long,
    const unsigned char[REVOCATION_HASH_LEN]);

/* Forgets the notes: the front door calls it as each request starts. */
void revocation_notes_reset(struct ctx *);
/*
 * The notes of the request so far: *n of them (the array is ctx's, valid until the next
 * reset) and *flush, set when more changed than the notes could hold.
 */
const struct revocation *revocation_notes(const struct ctx *, size_t *, int *);

/*
 * The poller's reader: up to max (at most REVOCATION_READ_MAX) rows with an id above after,
 * in id order, into an array in the arena (*rows; NULL when *n is 0).
 */
enum um_err revocation_read(struct db *, struct arena *, long long, size_t,
    struct revocation **, size_t *);
/*
 * Its sibling for the rows a poll may have passed: up to max rows created in the last
 * seconds (by the server's clock) with an id of at most upto, in id order.  Commit order is
 * not id order (docs/DECISIONS.md "Fast path: the revocation log"): a row with an id below
 * the poll's position can become visible after the poll, and this finds it again.
 */
enum um_err revocation_read_recent(struct db *, struct arena *, long long, long long, size_t,
    struct revocation **, size_t *);
/* The highest id in the log (0 when empty): where a fresh cache starts reading. */
enum um_err revocation_head(struct db *, struct arena *, long long *);

#endif
