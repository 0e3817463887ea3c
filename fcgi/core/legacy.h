/* legacy: the seed app's users, read row by row from its CSV export or from its MariaDB table. */
#ifndef UM_LEGACY_H
#define UM_LEGACY_H

#include <stddef.h>

#include "error.h"

struct arena;
struct conf;
struct legacy;

#define LEGACY_CSV_HEADER "username,email,password_sha256,verified"

/*
 * One seed-app user (API.md §6-7).  Strings stay valid until the next legacy_next(); any may
 * be NULL (a missing or non-text cell).  When error is set the row could not be read at all
 * and the other members mean nothing.
 */
struct legacy_row {
	unsigned long pos; /* line (CSV, header = 1) or row (table) number */
	const char   *username;
	const char   *email;
	char         *password_sha256;
	int           verified; /* 1, 0, or -1 when the cell is not a flag */
	const char   *error;    /* "not four CSV fields", "too long or holds a NUL byte" */
};

/*
 * Opens a CSV file whose first line is LEGACY_CSV_HEADER (a UTF-8 byte order mark before it
 * is skipped).  On failure writes why into err (the path, never the content) and returns NULL.
 */
struct legacy *legacy_open_csv(const char *, char *, size_t);
/*
 * Opens the seed app's table named by a mariadb:// URL (dsn.h), with base's connection
 * settings for everything the URL leaves out; a password not in the URL is password (may be
 * NULL).  Rows come ordered by username and email, from one statement read a batch at a time
 * (db_stream_open).  NULL with err on failure (never the password).
 */
struct legacy *legacy_open_dsn(const char *, const char *, const struct conf *, char *, size_t);
/* "line" or "row": what pos counts, for messages. */
const char *legacy_unit(const struct legacy *);
/*
 * The next row into *row: UM_OK, UM_ENOTFOUND at the end, UM_EUNAVAIL when the source cannot
 * be read (err says why).
 */
enum um_err legacy_next(struct legacy *, struct legacy_row *, char *, size_t);
void        legacy_close(struct legacy *); /* accepts NULL */
/*
 * Takes the source's size, for legacy_done: a file's bytes (none for a pipe), a table's rows
 * (a COUNT(*), so call it before the first legacy_next).  UM_EUNAVAIL with err on failure.
 */
enum um_err legacy_measure(struct legacy *, char *, size_t);
/* How much of a measured source was read, from 0 to 1; -1 when not known. */
double legacy_done(const struct legacy *);

/*
 * What is wrong with a row's hash or flag, or NULL; a valid hex digest is lower-cased in
 * place, so it is stored in the one spelling password_verify() compares with.
 */
const char *legacy_check(struct legacy_row *);

#endif
