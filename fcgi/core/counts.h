/* counts: the totals /metrics reports, kept by the writes that change them (sql/008_counts.sql). */
#ifndef UM_COUNTS_H
#define UM_COUNTS_H

#include "error.h"

struct arena;
struct db;

/* Each a total (counts_read) or a change to one (counts_add). */
struct counts {
	long long users_active, users_disabled, users_unverified;
	long long legacy_bare, legacy_wrapped; /* stored hashes: bare SHA-256, wrapped */
	long long outbox_queued, outbox_sent, outbox_failed;
};

/* The totals: a sum over a few rows, never a count over the tables. */
enum um_err counts_read(struct db *, struct arena *, struct counts *);
/*
 * Bulk writes: with on set, the users insert trigger leaves this connection's inserts
 * uncounted, and the writer adds its batches' totals with counts_add, inside each batch's
 * transaction.  Always turned off again, on success or failure.
 */
enum um_err counts_bulk(struct db *, struct arena *, int on);
enum um_err counts_add(struct db *, struct arena *, const struct counts *);
/*
 * Folds the rows of connections idle for an hour into the base row, so the table stays
 * a few rows however many connections came and went (the mailer, with retention).
 */
enum um_err counts_fold(struct db *, struct arena *);

#endif
