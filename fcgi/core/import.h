/* import: seed-app accounts created in bulk, a batch of rows per transaction (import-legacy). */
#ifndef UM_IMPORT_H
#define UM_IMPORT_H

#include "error.h"

struct ctx;
struct import;

/* What became of a row. */
enum import_outcome {
	IMPORT_IMPORTED = 0, /* created with the role `user`, audited as user_imported */
	IMPORT_TAKEN,   /* its username or address belongs to an account or to an earlier row */
	IMPORT_PRESENT, /* if_absent: the very account (username and address) was there before */
	IMPORT_INVALID, /* refused by the caller (import_reject) */
	IMPORT__MAX
};

/* A row to tell the operator about: taken (and which fields) or invalid (and why). */
struct import_report {
	unsigned long       pos;     /* the caller's position of the row (its line or row) */
	enum import_outcome outcome; /* IMPORT_TAKEN or IMPORT_INVALID */
	int                 username_taken, email_taken; /* taken: both 0 when unknown */
	const char         *message;                     /* invalid: the caller's words */
};

typedef void import_report_fn(void *, const struct import_report *);

/*
 * Starts an import into *out, which the caller frees with import_free.  It asks ctx's
 * database for the role and the highest account id, then writes through two connections of
 * its own (ctx->conf's settings) and a helper thread, so that one batch's accounts are
 * inserted while the batch before gets its roles and events; ctx's via goes into the audit
 * details.  With if_absent, a row whose username and address both belong to one account that
 * existed before the import began counts as present, silently; without it such a row is
 * taken like any other.  Taken and invalid rows go to fn(arg, report) in the order they were
 * given, a batch at a time, always from the caller's thread.
 */
enum um_err import_start(struct ctx *, int, import_report_fn *, void *, struct import **);
/*
 * Adds a row at position pos: username as validate_username passed it, the address as
 * validate_email normalised it, the hash as legacy_check left it, verified 0 or 1 (all
 * copied).  Rows are written a batch at a time: a call that fills a batch starts writing it.
 * Only a database failure is an error (a taken row is reported), returned by the call that
 * meets it — a later one for a failure in the helper — and by every call after: nothing more
 * is written, and the rows of the batches not written are not reported but the invalid.
 */
enum um_err import_add(struct import *, unsigned long, const char *, const char *, const char *,
    int);
/* A row the caller refused, reported with message (copied) in its turn. */
enum um_err import_reject(struct import *, unsigned long, const char *);
/* Writes the rows still pending (the last, short batch) and waits for every batch. */
enum um_err import_finish(struct import *);
/* How many rows had each outcome so far: an array of IMPORT__MAX counts. */
const unsigned long *import_counts(const struct import *);
/*
 * After a failure: the position of the first row not written (nothing of its batch was), or
 * 0 when none is pending.
 */
unsigned long import_pending(const struct import *);
void          import_free(struct import *); /* accepts NULL */

#endif
