/* legacywrap: wraps imported users' bare SHA-256 hashes in Argon2id, so a dump holds none (issue 16). */
#ifndef UM_LEGACYWRAP_H
#define UM_LEGACYWRAP_H

#include <stddef.h>
#include <time.h>

#include "error.h"

struct ctx;

#define LEGACYWRAP_BATCH 50 /* hashes per batch: the mailer's mail waits behind one at most */
#define LEGACYWRAP_REST  60 /* seconds between the end of the mailer's pass and the next */

/*
 * Wraps up to max bare legacy hashes (sql/007 legacy_bare) of users with an id above *after,
 * in id order: each becomes password_wrap_legacy() of itself, written by
 *   UPDATE users SET password_hash = <wrapped> WHERE id = ? AND password_hash = <bare>
 * so a login that re-hashed the password meanwhile wins.  Nothing else changes (no
 * token_version, password_changed_at or revocation row): the password is the same.  A user
 * mailed a reset link within that link's lifetime is left for a later pass, because the link
 * is bound to the hash it was made with (user_password_fingerprint) and would die.  *after
 * moves to the last id looked at; *seen counts the hashes computed (fewer than max: no bare
 * hash is left above *after), *wrapped the rows changed.  Each UPDATE commits on its own, so
 * on failure what was done stays done and the counts say how much.
 */
enum um_err legacywrap_batch(struct ctx *, long long *, size_t, size_t *, size_t *);

/* Into *n, how many bare legacy hashes are left (the CLI's report). */
enum um_err legacywrap_left(struct ctx *, unsigned long long *);

/*
 * A pace of per_second hashes: each second adds per_second to the credit, which holds at most
 * one second's worth (at least one hash), so a pause is not made up by a burst.
 */
struct legacywrap_pace {
	unsigned        per_second;
	double          credit;
	struct timespec last; /* when credit was last topped up (CLOCK_MONOTONIC); 0: never */
};

/* A pace whose first hash is due at once. */
void legacywrap_pace_init(struct legacywrap_pace *, unsigned);
/* Hashes due at now (CLOCK_MONOTONIC); legacywrap_pace_spend() takes away those computed. */
size_t legacywrap_pace_due(struct legacywrap_pace *, const struct timespec *);
void   legacywrap_pace_spend(struct legacywrap_pace *, size_t);

/* The mailer's background job: a pace, where its pass is, and when the next pass may start. */
struct legacywrap_job {
	struct legacywrap_pace pace;
	long long              after;
	struct timespec        rest_until; /* CLOCK_MONOTONIC; 0: no rest */
};

/* A job at per_second hashes a second; 0 turns it off. */
void legacywrap_job_init(struct legacywrap_job *, unsigned);
/*
 * Wraps what the pace allows at now, at most LEGACYWRAP_BATCH, where the pass stopped last;
 * a pass that ran out of bare hashes, or a failure, makes the job rest LEGACYWRAP_REST
 * seconds, so an idle or failing job costs one query a minute.  *wrapped gets the rows
 * changed.  UM_OK also when the job is off or resting.
 */
enum um_err legacywrap_job_step(struct ctx *, struct legacywrap_job *, const struct timespec *,
    size_t *);

#endif
