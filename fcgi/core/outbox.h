/* outbox: the email_outbox table — queueing mail with the change that causes it, and delivery state. */
#ifndef UM_OUTBOX_H
#define UM_OUTBOX_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

struct arena;
struct db;

#define OUTBOX_BACKOFF_FIRST   30    /* seconds before the first retry (API.md §7) */
#define OUTBOX_BACKOFF_MAX     3600  /* the doubling stops at an hour */
#define OUTBOX_JITTER_PERMILLE 100   /* ±10 %, so mailers restarted together spread out */
#define OUTBOX_MAX_AGE         86400 /* seconds: a message this old that fails again fails */
#define OUTBOX_LEASE           300 /* seconds a claimed row stays invisible to other mailers */

/* A claimed row; strings are arena-owned. */
struct outbox_row {
	long long   id;
	const char *to_email;
	const char *to_name;
	const char *subject;
	const char *text_body;
	const char *html_body;
	unsigned    attempts; /* attempts made before this one */
	int         old;      /* created more than OUTBOX_MAX_AGE ago: no more retries */
};

/*
 * Queues a message.  Call it inside the caller's transaction (db_begin ... db_commit), so
 * the mail exists exactly when the change that causes it does (API.md §5).  Refuses with
 * UM_EINVAL an address mail_address_ok() refuses, and names or a subject that are not
 * valid UTF-8, hold a control character (CR/LF: header injection) or exceed the column
 * widths.  to_name may be NULL or "".  *id, when id is not NULL, gets the new row's id,
 * which is also its Mailjet CustomID.
 */
enum um_err outbox_enqueue(struct db *, struct arena *, const char *, const char *,
    const char *, const char *, const char *, long long *);

/*
 * Claims up to max due rows (status queued, next_attempt_at passed) in one short
 * transaction with FOR UPDATE SKIP LOCKED, and pushes their next_attempt_at OUTBOX_LEASE
 * seconds ahead before committing, so no lock is held while mail is sent and a mailer that
 * dies mid-send only delays its rows.  *rows (arena-owned) and *n get the claimed rows.
 */
enum um_err outbox_claim(struct db *, struct arena *, size_t, struct outbox_row **, size_t *);

/* Records a delivery: status sent, sent_at now. */
enum um_err outbox_mark_sent(struct db *, long long);
/*
 * Records a temporary failure: attempts + 1, last_error, next attempt delay_ms from now; a
 * message created more than OUTBOX_MAX_AGE ago is marked failed instead.
 */
enum um_err outbox_mark_retry(struct db *, long long, const char *, long long);
/* Records a permanent failure: status failed, attempts + 1, last_error. */
enum um_err outbox_mark_failed(struct db *, long long, const char *);
/* Gives a claimed but unsent row back (due now), e.g. when the mailer is told to stop. */
enum um_err outbox_release(struct db *, long long);

/*
 * The retry delay in milliseconds after the attempts-th failed attempt (1 = the first):
 * 30 s doubling up to 3600 s, then scaled by a jitter factor in [0.9, 1.1] taken from rnd
 * (uniform over its range).  Pure, for tests.
 */
long long outbox_backoff_ms(unsigned, uint32_t);
/* outbox_backoff_ms with rnd from RAND_bytes. */
long long outbox_backoff_random_ms(unsigned);

#endif
