/* db: one persistent MariaDB connection per process, prepared statements only, reconnect on loss. */
#ifndef UM_DB_H
#define UM_DB_H

#include <stddef.h>
#include <string.h> /* strlen in dbv_text */

#include "error.h"

struct arena;
struct conf;
struct db;

enum db_type {
	DB_NULL = 0,
	DB_INT,  /* signed 64-bit */
	DB_TEXT, /* UTF-8 string, not NUL-containing */
	DB_BLOB, /* bytes */
	DB__MAX
};

struct db_val {
	enum db_type type;
	long long    i; /* DB_INT; also parsed from numeric result columns */
	const char  *s; /* DB_TEXT / DB_BLOB; result strings are NUL-terminated */
	size_t       len;
};

/* Parameter constructors. */
#define DBV_INT(x)      ((struct db_val){ .type = DB_INT, .i = (long long)(x) })
#define DBV_TEXTN(x, n) ((struct db_val){ .type = DB_TEXT, .s = (x), .len = (n) })
#define DBV_BLOB(x, n)  ((struct db_val){ .type = DB_BLOB, .s = (const char *)(x), .len = (n) })
#define DBV_NULL        ((struct db_val){ .type = DB_NULL })

/* A NUL-terminated string parameter; a function, so s is evaluated once. */
static inline struct db_val
dbv_text(const char *s)
{
	return (struct db_val){ .type = DB_TEXT, .s = s, .len = strlen(s) };
}

struct db_res {
	size_t             nrows, ncols;
	struct db_val     *cells;     /* row-major, arena-owned */
	unsigned long long affected;  /* rows changed (INSERT/UPDATE/DELETE) */
	unsigned long long insert_id; /* AUTO_INCREMENT of an INSERT */
};

#define DB_CELL(res, row, col) (&(res)->cells[(row) * (res)->ncols + (col)])

/* A text cell's string, or NULL for SQL NULL. */
static inline const char *
db_cell_text(const struct db_val *v)
{
	return v->type == DB_NULL ? NULL : v->s;
}

/*
 * Creates the handle; connecting happens on first use, so a worker starts even while
 * MariaDB is down.  The caller owns it; db_close() accepts NULL.
 */
struct db *db_open(const struct conf *);
void       db_close(struct db *);
/*
 * Seconds a read or a write may take on connections made from now on (default
 * USERMGR_DB_TIMEOUT, 2, so a hung
 * MariaDB fails a request quickly); a migration building an index on a large table needs
 * far longer, and so does a stream whose first rows come once a whole table is sorted.
 */
void db_set_timeout(struct db *, unsigned int);

/*
 * Runs one statement.  sql must be a string literal (or otherwise live as long as the
 * process): its prepared statement is cached per connection, keyed by the pointer.
 * Results are copied into the arena.  res may be NULL.  Errors: UM_ECONFLICT on a duplicate
 * key, UM_EUNAVAIL when the server cannot be reached (after one reconnect attempt; a
 * statement outside a transaction is sent again on the new connection only when it cannot
 * have run the first time, or is a SELECT — never a write the server may have applied),
 * UM_EINTERNAL otherwise, logged with the MariaDB error.
 */
enum um_err db_exec(struct db *, struct arena *, const char *, const struct db_val *, size_t,
    struct db_res *);
/*
 * A result too large to hold at once (a legacy table), read a batch at a time as the server
 * sends it: db_stream_open runs sql; db_stream_next copies the next rows, at most max, into
 * res from the arena (none at the end).  The stream holds the connection: until
 * db_stream_close, db_exec and db_begin on the handle fail, so give it a handle of its own.
 * A lost connection fails the stream (UM_EUNAVAIL), never re-run.  Closing before the end
 * drops the connection rather than read the rest; db_stream_close accepts a handle with no
 * stream.
 */
enum um_err db_stream_open(struct db *, const char *, const struct db_val *, size_t);
enum um_err db_stream_next(struct db *, struct arena *, size_t, struct db_res *);
void        db_stream_close(struct db *);
/* Transactions: a lost connection inside one fails the whole transaction (UM_EUNAVAIL). */
enum um_err db_begin(struct db *);
enum um_err db_commit(struct db *);
void        db_rollback(struct db *); /* safe to call after a failure */
/*
 * For a change that must commit with its revocation row whether or not its caller has a
 * transaction open: db_join opens one unless one is open (*own says whether it did);
 * db_leave, given the change's result, commits or rolls back what db_join opened and
 * returns the outcome, or returns rc as it is inside the caller's transaction, which the
 * caller ends.
 */
enum um_err db_join(struct db *, int *);
enum um_err db_leave(struct db *, int, enum um_err);
/*
 * Runs fn(arg) in a transaction of its own and commits it; when a deadlock or a Galera
 * certification conflict (1213, 1205) rolls it back, all of it runs again, at most 3 times
 * in all, then the answer is UM_EUNAVAIL.  fn must keep nothing but its database work from
 * one run to the next.
 */
enum um_err db_transact(struct db *, enum um_err (*)(void *), void *);
/*
 * The node of USERMGR_DB_HOSTS in use (its host and port), or NULL when none is configured or
 * no connection is open (/readyz shows it).
 */
const char  *db_node(const struct db *);
unsigned int db_node_port(const struct db *);
/*
 * Checks the server answers within the configured timeouts (for /readyz); on a cluster, that
 * the node is in the Primary component and ready, else the next node is tried.
 */
enum um_err db_ping(struct db *);
/* Runs a multi-statement SQL script (migrations only; no parameters). */
enum um_err db_exec_script(struct db *, const char *, size_t);
/*
 * Whether the last db_exec or db_exec_script failed because the account lacks a privilege
 * (MariaDB 1044, 1142, 1143, 1227, 1370): the account is wrong, not the server or the SQL.
 */
int db_denied(const struct db *);

#endif
