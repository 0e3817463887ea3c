/* db: a process's one MariaDB connection — lazy connect, cached prepared statements, reconnect, failover. */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mysql.h>
#include <errmsg.h>
#include <mysqld_error.h>

#include "arena.h"
#include "conf.h"
#include "db.h"
#include "log.h"

/*
 * Prepared statements cached per connection, keyed by the SQL pointer (db.h: callers pass
 * string literals).  Open addressing with linear probing; the table is emptied and every
 * statement closed when it is half full, which a fixed set of literals never reaches.
 */
#define STMT_SLOTS      512
#define STMT_LOAD_MAX   (STMT_SLOTS / 2)
#define DB_PARAMS_STACK 64    /* placeholders bound from the stack: all but bulk statements */
#define DB_PARAMS_MAX   65535 /* MariaDB's limit on one statement's placeholders */
#define DB_COL_MIN_BUF  64    /* room for any number or datetime rendered as text */
#define DB_PING_FAST_MS 1000  /* a ping that failed faster than this did not time out */
/*
 * A node of USERMGR_DB_HOSTS that failed (lost, hung, refused, not ready) is passed over for
 * this long: the next connections go to the others at once instead of each paying the
 * connect timeout again (docs/DECISIONS.md "Cluster: failover in the client").
 */
#define DB_HOST_HOLD_MS 5000
#define DB_TX_TRIES     3    /* runs of a transaction that Galera's certification rolled back */
#define DB_IDLE_PING_MS 1000 /* on a cluster, an idle connection is pinged before use */

static const char sync_wait_sql[] = "SET SESSION wsrep_sync_wait = 1";

/* Galera's readiness (SHOW STATUS): no rows on a server without wsrep, which is ready. */
static const char ready_sql[] =
    "SHOW STATUS WHERE Variable_name IN ('wsrep_ready', 'wsrep_cluster_status')";

/*
 * Run at every (re)connect.  UTC so DATETIME(6) columns hold UTC (DESIGN.md "Data"); strict
 * mode so an over-long or invalid value is an error, never silently truncated.
 */
static const char init_sql[] =
    "SET time_zone = '+00:00', sql_mode = 'STRICT_ALL_TABLES,NO_ZERO_IN_DATE,"
    "NO_ZERO_DATE,ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION,NO_AUTO_VALUE_ON_ZERO'";

struct stream;

struct stmt_slot {
	const char *sql;
	MYSQL_STMT *stmt;
};

struct db {
	const struct conf *conf;       /* borrowed; outlives the handle */
	MYSQL             *my;         /* NULL while disconnected */
	int                in_tx;      /* between db_begin and commit/rollback */
	int                tx_broken;  /* the connection died inside the transaction */
	int                tls_logged; /* a TLS refusal is logged: quiet until a connect */
	int                conflict; /* the last failure was 1213/1205: the tx may run again */
	unsigned int       io_timeout; /* seconds per read or write; 0: USERMGR_DB_TIMEOUT */
	size_t             node;       /* USERMGR_DB_HOSTS: the index of the node in use */
	long long          used_ms;    /* when the connection was last asked for (monotonic) */
	long long          held[CONF_DB_HOSTS_MAX]; /* passed over until (CLOCK_MONOTONIC ms) */
	unsigned int       last_err;    /* MariaDB's number for the last failed statement */
	char               errmsg[256]; /* MariaDB's message for the last failure */
	struct stream     *stream;      /* the open db_stream, or NULL */
	size_t             nstmts;
	struct stmt_slot   stmts[STMT_SLOTS];
};

/* Errors after which the connection is unusable: drop it and connect afresh. */
static int
is_gone(unsigned int e)
{
	switch (e) {
	case CR_SERVER_GONE_ERROR:
	case CR_SERVER_LOST:
	case CR_SERVER_LOST_EXTENDED:
	case CR_CONNECTION_ERROR:
	case CR_CONN_HOST_ERROR:
	case CR_UNKNOWN_HOST:
	case ER_CONNECTION_KILLED:
	case ER_SERVER_SHUTDOWN:
	/* Galera: "WSREP has not yet prepared node for application use" (not in Primary). */
	case ER_UNKNOWN_COM_ERROR:
	case ER_CON_COUNT_ERROR: return 1;
	default: return 0;
	}
}

static void
stmts_clear(struct db *db)
{
	size_t i;

	for (i = 0; i < STMT_SLOTS; i++) {
		if (db->stmts[i].stmt != NULL)
			(void)mysql_stmt_close(db->stmts[i].stmt);
		db->stmts[i].sql = NULL;
		db->stmts[i].stmt = NULL;
	}
	db->nstmts = 0;
}

static void stream_free(struct db *);

static long long
now_ms(void)
{
	struct timespec t;

	(void)clock_gettime(CLOCK_MONOTONIC, &t);
	return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* The node in use failed: the next connections try the others first (cluster only). */
static void
hold_node(struct db *db)
{
	if (db->conf->ndb_hosts > 0)
		db->held[db->node] = now_ms() + DB_HOST_HOLD_MS;
}

/* Forgets the connection and everything prepared on it; the next use connects again. */
static void
disconnect(struct db *db)
{
	stmts_clear(db);
	if (db->my != NULL)
		mysql_close(db->my);
	db->my = NULL;
	/* After the close: a stream's statement, detached, no longer reads its unread rows. */
	stream_free(db);
	if (db->in_tx)
		db->tx_broken = 1;
}

/* The connection failed under us (lost, hung, refused by a node that left the cluster). */
static void
lost(struct db *db)
{
	hold_node(db);
	disconnect(db);
}

/*
 * TLS as USERMGR_DB_SSL_MODE asks (DECISIONS.md).  required hands the library no CA: given
 * one, Connector/C checks the chain, and required promises encryption only.  verify adds the
 * name check against the host connected to (MYSQL_OPT_SSL_VERIFY_SERVER_CERT), which is also
 * what makes Connector/C 3.3 refuse a server without TLS before it authenticates.
 */
static void
tls_options(MYSQL *my, const struct conf *c)
{
	my_bool on = 1;

	if (c->db_ssl_mode == DB_SSL_DISABLED)
		return;
	(void)mysql_optionsv(my, MYSQL_OPT_SSL_ENFORCE, &on);
	if (c->db_ssl_mode == DB_SSL_VERIFY) {
		(void)mysql_optionsv(my, MYSQL_OPT_SSL_CA, c->db_ssl_ca);
		(void)mysql_optionsv(my, MYSQL_OPT_SSL_VERIFY_SERVER_CERT, &on);
	}
}

/* Why a connection that had to be TLS is not; none of it is secret. */
static const char *
tls_reason(MYSQL *my, const struct conf *c)
{
	unsigned long caps = 0;

	if (mariadb_get_infov(my, MARIADB_CONNECTION_SERVER_CAPABILITIES, &caps) == 0 &&
	    !(caps & CLIENT_SSL))
		return "the server has no TLS";
	if (c->db_ssl_mode == DB_SSL_VERIFY)
		return "the server's certificate was not verified";
	return "the TLS handshake failed";
}

/*
 * Logs a TLS refusal once per outage: a worker tries again at every request, and one line
 * says all there is to say until a connection works again.
 */
static void
tls_failed(struct db *db, MYSQL *my, const char *detail)
{
	const struct conf *c = db->conf;

	if (db->tls_logged)
		return;
	db->tls_logged = 1;
	log_err("db: no connection to %s:%u (USERMGR_DB_SSL_MODE=%s): %s: %s",
	    c->db_host != NULL && c->db_host[0] != '\0' ? c->db_host : "localhost", c->db_port,
	    conf_db_ssl_name(c->db_ssl_mode), tls_reason(my, c), detail);
}

/*
 * Whether a Galera node may take work: wsrep_ready ON and part of the Primary component.
 * A node cut off from the others (or still joining) refuses most statements with 1047, but
 * asked first it is passed over before a request has done anything on it.  1 ready, 0 not,
 * -1 when the question itself failed (*err says why).
 */
static int
node_ready(MYSQL *my, unsigned int *err)
{
	MYSQL_RES *r;
	MYSQL_ROW  row;
	int        ready = 1;

	*err = 0;
	if (mysql_real_query(my, ready_sql, (unsigned long)strlen(ready_sql)) != 0 ||
	    (r = mysql_store_result(my)) == NULL) {
		*err = mysql_errno(my);
		return -1;
	}
	while ((row = mysql_fetch_row(r)) != NULL)
		if (row[0] != NULL && row[1] != NULL &&
		    ((strcmp(row[0], "wsrep_ready") == 0 && strcmp(row[1], "ON") != 0) ||
		        (strcmp(row[0], "wsrep_cluster_status") == 0 &&
		            strcmp(row[1], "Primary") != 0)))
			ready = 0;
	mysql_free_result(r);
	return ready;
}

/* Connects to one server: host and port over TCP, or the socket when host is NULL. */
static enum um_err
connect_one(struct db *db, const char *host, unsigned int port)
{
	const struct conf *c = db->conf;
	MYSQL             *my;
	unsigned int       ct = c->db_timeout > 0 ? c->db_timeout : 2;
	unsigned int       io = db->io_timeout > 0 ? db->io_timeout : ct;
	my_bool            off = 0;
	const char        *sock;
	unsigned int       e;
	enum um_err        rc = UM_EUNAVAIL;

	if ((my = mysql_init(NULL)) == NULL) {
		log_err("db: mysql_init failed");
		return UM_EINTERNAL;
	}
	(void)mysql_optionsv(my, MYSQL_OPT_CONNECT_TIMEOUT, &ct);
	(void)mysql_optionsv(my, MYSQL_OPT_READ_TIMEOUT, &io);
	(void)mysql_optionsv(my, MYSQL_OPT_WRITE_TIMEOUT, &io);
	/* Reconnecting is done here, where the statement cache is rebuilt, never by the library. */
	(void)mysql_optionsv(my, MYSQL_OPT_RECONNECT, &off);
	(void)mysql_optionsv(my, MYSQL_SET_CHARSET_NAME, "utf8mb4");
	(void)mysql_optionsv(my, MYSQL_INIT_COMMAND, init_sql);
	/*
	 * Causal reads on a cluster: a read waits until its node has applied every write the
	 * cluster committed before it, so a token issued through one node is found through
	 * another at once (a Galera node applies the others' writes a little later).
	 */
	if (c->ndb_hosts > 0)
		(void)mysql_optionsv(my, MYSQL_INIT_COMMAND, sync_wait_sql);
	tls_options(my, c);

	if (host != NULL) {
		sock = NULL;
		(void)mysql_optionsv(my, MYSQL_OPT_PROTOCOL,
		    &(unsigned int){ MYSQL_PROTOCOL_TCP });
	} else {
		host = "localhost";
		port = 0;
		sock = c->db_socket;
		(void)mysql_optionsv(my, MYSQL_OPT_PROTOCOL,
		    &(unsigned int){ MYSQL_PROTOCOL_SOCKET });
	}
	if (mysql_real_connect(my, host, c->db_user, c->db_password, c->db_name, port, sock,
	        0) == NULL) {
		/* Access denied or an unknown database are configuration faults, not outages. */
		if (mysql_errno(my) == CR_SSL_CONNECTION_ERROR)
			tls_failed(db, my, mysql_error(my));
		else if (is_gone(mysql_errno(my)))
			log_warn("db: cannot connect: %u %s", mysql_errno(my), mysql_error(my));
		else
			log_err("db: cannot connect: %u %s", mysql_errno(my), mysql_error(my));
		mysql_close(my);
		goto out;
	}
	/*
	 * Connector/C 3.3 falls back to plain text when a server offers no TLS and only
	 * MYSQL_OPT_SSL_ENFORCE is set (required): refuse the session before any statement.
	 */
	if (c->db_ssl_mode != DB_SSL_DISABLED && mysql_get_ssl_cipher(my) == NULL) {
		tls_failed(db, my, "the session is not encrypted");
		mysql_close(my);
		goto out;
	}
	if (c->ndb_hosts > 0 && node_ready(my, &e) != 1) {
		log_warn("db: %s:%u is not ready (%s), trying the next node", host, port,
		    e != 0 ? mysql_error(my) : "not in the Primary component");
		mysql_close(my);
		goto out;
	}
	db->tls_logged = 0;
	db->my = my;
	rc = UM_OK;
out:
	return rc;
}

/*
 * Connects unless connected.  With USERMGR_DB_HOSTS, the nodes in their order (the host's
 * own first), passing over those held after a failure; when every node is held the answer
 * is at once UM_EUNAVAIL (a 503 a client retries), never a wait for nodes known to be bad.
 */
static enum um_err
connect_db(struct db *db)
{
	const struct conf *c = db->conf;
	long long          now;
	size_t             i;
	enum um_err        rc;

	now = now_ms();
	/*
	 * A cluster's node may have restarted while this connection idled: a write sent on
	 * the dead connection would come back "lost" (2013) and could not be repeated, so an
	 * idle connection is pinged first, and a dead one replaced before anything is sent.
	 */
	if (db->my != NULL && c->ndb_hosts > 0 && !db->in_tx &&
	    now - db->used_ms > DB_IDLE_PING_MS && mysql_ping(db->my) != 0) {
		log_warn("db: the idle connection to %s:%u is gone, reconnecting",
		    c->db_hosts[db->node].host, c->db_hosts[db->node].port);
		lost(db);
	}
	db->used_ms = now;
	if (db->my != NULL)
		return UM_OK;
	if (c->ndb_hosts == 0)
		return connect_one(db,
		    c->db_host != NULL && c->db_host[0] != '\0' ? c->db_host : NULL,
		    c->db_port);
	for (i = 0; i < c->ndb_hosts; i++) {
		if (db->held[i] > now)
			continue;
		if ((rc = connect_one(db, c->db_hosts[i].host, c->db_hosts[i].port)) == UM_OK) {
			if (i != db->node)
				log_info("db: now using %s:%u", c->db_hosts[i].host,
				    c->db_hosts[i].port);
			db->node = i;
			return UM_OK;
		}
		if (rc != UM_EUNAVAIL)
			return rc;
		db->held[i] = now_ms() + DB_HOST_HOLD_MS;
	}
	return UM_EUNAVAIL;
}

const char *
db_node(const struct db *db)
{
	const struct conf *c = db->conf;

	if (c->ndb_hosts == 0 || db->my == NULL)
		return NULL;
	return mysql_get_host_info(db->my) != NULL ? c->db_hosts[db->node].host : NULL;
}

unsigned int
db_node_port(const struct db *db)
{
	return db->conf->ndb_hosts > 0 ? db->conf->db_hosts[db->node].port : 0;
}

struct db *
db_open(const struct conf *conf)
{
	struct db *db;

	if ((db = calloc(1, sizeof(*db))) == NULL)
		return NULL;
	db->conf = conf;
	return db;
}

void
db_set_timeout(struct db *db, unsigned int seconds)
{
	db->io_timeout = seconds;
}

void
db_close(struct db *db)
{
	if (db == NULL)
		return;
	if (db->my != NULL && db->in_tx && !db->tx_broken)
		(void)mysql_rollback(db->my);
	db->in_tx = 0;
	disconnect(db);
	free(db);
}

static size_t
slot_of(const char *sql)
{
	uintptr_t h = (uintptr_t)sql;

	/* Literals are at least 8-aligned often: mix the high bits down (Fibonacci hashing). */
	h = (h >> 3) * (uintptr_t)0x9E3779B97F4A7C15ULL;
	return (size_t)(h >> (sizeof(h) * 8 - 9)) & (STMT_SLOTS - 1);
}

/*
 * Returns the cached statement for sql, preparing it on a miss.  On failure *err holds the
 * MariaDB error number (0 when it is not a server error).
 */
static MYSQL_STMT *
stmt_get(struct db *db, const char *sql, unsigned int *err)
{
	MYSQL_STMT *st;
	size_t      i;
	my_bool     one = 1;

	*err = 0;
	for (i = slot_of(sql); db->stmts[i].sql != NULL; i = (i + 1) & (STMT_SLOTS - 1))
		if (db->stmts[i].sql == sql)
			return db->stmts[i].stmt;

	if ((st = mysql_stmt_init(db->my)) == NULL) {
		*err = mysql_errno(db->my);
		(void)snprintf(db->errmsg, sizeof(db->errmsg), "%s", mysql_error(db->my));
		return NULL;
	}
	if (mysql_stmt_prepare(st, sql, (unsigned long)strlen(sql)) != 0) {
		*err = mysql_stmt_errno(st);
		(void)snprintf(db->errmsg, sizeof(db->errmsg), "%s", mysql_stmt_error(st));
		(void)mysql_stmt_close(st);
		return NULL;
	}
	/* Makes mysql_stmt_store_result() compute each column's longest value. */
	(void)mysql_stmt_attr_set(st, STMT_ATTR_UPDATE_MAX_LENGTH, &one);

	if (db->nstmts >= STMT_LOAD_MAX) {
		log_warn("db: statement cache full, clearing it");
		stmts_clear(db);
	}
	for (i = slot_of(sql); db->stmts[i].sql != NULL; i = (i + 1) & (STMT_SLOTS - 1))
		continue;
	db->stmts[i].sql = sql;
	db->stmts[i].stmt = st;
	db->nstmts++;
	return st;
}

/* Integer-valued column types: they come back as DB_INT. */
static int
is_int_field(const MYSQL_FIELD *f)
{
	switch (f->type) {
	case MYSQL_TYPE_TINY:
	case MYSQL_TYPE_SHORT:
	case MYSQL_TYPE_INT24:
	case MYSQL_TYPE_LONG:
	case MYSQL_TYPE_LONGLONG:
	case MYSQL_TYPE_YEAR: return 1;
	case MYSQL_TYPE_DECIMAL:
	case MYSQL_TYPE_NEWDECIMAL:
		/* SUM() of integers is a DECIMAL with no fraction. */
		return f->decimals == 0;
	default: return 0;
	}
}

/* Binary columns (charset 63) are DB_BLOB; everything else textual is DB_TEXT. */
static int
is_blob_field(const MYSQL_FIELD *f)
{
	if (f->charsetnr != 63)
		return 0;
	switch (f->type) {
	case MYSQL_TYPE_TINY_BLOB:
	case MYSQL_TYPE_MEDIUM_BLOB:
	case MYSQL_TYPE_LONG_BLOB:
	case MYSQL_TYPE_BLOB:
	case MYSQL_TYPE_VAR_STRING:
	case MYSQL_TYPE_STRING:
	case MYSQL_TYPE_VARCHAR:
	case MYSQL_TYPE_BIT: return 1;
	default: return 0;
	}
}

/* Parses a decimal integer rendered by the server; out-of-range values saturate. */
static long long
parse_ll(const char *s)
{
	char     *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (end == s)
		return 0;
	return v;
}

/* The result buffers of one statement's columns, bound with mysql_stmt_bind_result(). */
struct binds {
	size_t         ncols;
	MYSQL_BIND    *b;
	unsigned long *lens;
	my_bool       *nulls, *errs;
	char         **bufs;
};

static void
binds_free(struct binds *bd)
{
	size_t c;

	if (bd->bufs != NULL)
		for (c = 0; c < bd->ncols; c++)
			free(bd->bufs[c]);
	free(bd->bufs);
	free(bd->errs);
	free(bd->nulls);
	free(bd->lens);
	free(bd->b);
}

/* Buffers sized by the stored result's longest value of each column; -1 when out of memory. */
static int
binds_init(struct binds *bd, const MYSQL_FIELD *fields, size_t ncols)
{
	size_t c, sz;

	memset(bd, 0, sizeof(*bd));
	bd->ncols = ncols;
	bd->b = calloc(ncols, sizeof(*bd->b));
	bd->lens = calloc(ncols, sizeof(*bd->lens));
	bd->nulls = calloc(ncols, sizeof(*bd->nulls));
	bd->errs = calloc(ncols, sizeof(*bd->errs));
	bd->bufs = calloc(ncols, sizeof(*bd->bufs));
	if (ncols == 0 || bd->b == NULL || bd->lens == NULL || bd->nulls == NULL ||
	    bd->errs == NULL || bd->bufs == NULL)
		return -1;
	for (c = 0; c < ncols; c++) {
		sz = fields[c].max_length + 1;
		if (sz < DB_COL_MIN_BUF)
			sz = DB_COL_MIN_BUF;
		if ((bd->bufs[c] = malloc(sz)) == NULL)
			return -1;
		bd->b[c].buffer_type = is_blob_field(&fields[c]) ? MYSQL_TYPE_BLOB :
		                                                   MYSQL_TYPE_STRING;
		bd->b[c].buffer = bd->bufs[c];
		bd->b[c].buffer_length = (unsigned long)sz;
		bd->b[c].length = &bd->lens[c];
		bd->b[c].is_null = &bd->nulls[c];
		bd->b[c].error = &bd->errs[c];
	}
	return 0;
}

/*
 * Column c of the row just fetched into *v, copied into the arena and typed by the field.
 * A value longer than its buffer (MYSQL_DATA_TRUNCATED) is read again whole.  -1 on error.
 */
static int
read_cell(MYSQL_STMT *st, const MYSQL_FIELD *field, const struct binds *bd, size_t c,
    struct arena *a, struct db_val *v)
{
	MYSQL_BIND one;
	char      *p;

	if (bd->nulls[c]) {
		v->type = DB_NULL;
		return 0;
	}
	p = arena_alloc(a, (size_t)bd->lens[c] + 1);
	if (bd->lens[c] <= bd->b[c].buffer_length)
		memcpy(p, bd->bufs[c], bd->lens[c]);
	else {
		memset(&one, 0, sizeof(one));
		one.buffer_type = bd->b[c].buffer_type;
		one.buffer = p;
		one.buffer_length = bd->lens[c];
		if (mysql_stmt_fetch_column(st, &one, (unsigned int)c, 0) != 0)
			return -1;
	}
	p[bd->lens[c]] = '\0';
	v->s = p;
	v->len = bd->lens[c];
	if (is_blob_field(field))
		v->type = DB_BLOB;
	else if (is_int_field(field)) {
		v->type = DB_INT;
		v->i = parse_ll(p);
	} else
		v->type = DB_TEXT;
	return 0;
}

/*
 * Fetches up to max rows of st into res->cells (room for max rows), each cell copied into
 * the arena; res->nrows says how many came.  -1 on error; *end set at the result's end.
 */
static int
fetch_rows(MYSQL_STMT *st, const MYSQL_FIELD *fields, const struct binds *bd, struct arena *a,
    struct db_res *res, size_t max, int *end)
{
	size_t r, c;
	int    f;

	*end = 0;
	for (r = 0; r < max; r++) {
		if ((f = mysql_stmt_fetch(st)) == MYSQL_NO_DATA) {
			*end = 1;
			break;
		}
		if (f == 1)
			return -1;
		for (c = 0; c < res->ncols; c++)
			if (read_cell(st, &fields[c], bd, c, a, DB_CELL(res, r, c)) != 0)
				return -1;
	}
	res->nrows = r;
	return 0;
}

/* Keeps the statement's error for map_err: *err and the message. */
static void
stmt_error(struct db *db, MYSQL_STMT *st, unsigned int *err)
{
	*err = mysql_stmt_errno(st);
	(void)snprintf(db->errmsg, sizeof(db->errmsg), "%s", mysql_stmt_error(st));
}

/*
 * Copies every row of the executed statement's result set into res, from the arena.
 * Columns are fetched as text (the server renders numbers and datetimes).
 */
static enum um_err
fetch_all(struct db *db, MYSQL_STMT *st, MYSQL_RES *meta, struct arena *a, struct db_res *res,
    unsigned int *err)
{
	MYSQL_FIELD *fields;
	struct binds bd;
	size_t       nrows;
	int          end;
	enum um_err  rc = UM_EINTERNAL;

	*err = 0;
	memset(&bd, 0, sizeof(bd));
	if (mysql_stmt_store_result(st) != 0)
		goto out;
	res->ncols = mysql_num_fields(meta);
	fields = mysql_fetch_fields(meta);
	nrows = (size_t)mysql_stmt_num_rows(st);
	if (binds_init(&bd, fields, res->ncols) != 0 || mysql_stmt_bind_result(st, bd.b) != 0)
		goto out;
	res->cells = arena_calloc(a, nrows * res->ncols + 1, sizeof(*res->cells));
	if (fetch_rows(st, fields, &bd, a, res, nrows, &end) != 0)
		goto out;
	rc = UM_OK;
out:
	if (rc != UM_OK && mysql_stmt_errno(st) != 0)
		stmt_error(db, st, err);
	(void)mysql_stmt_free_result(st);
	binds_free(&bd);
	return rc;
}

/* The parameters of one execution: on the stack for the usual few, else on the heap. */
struct params {
	MYSQL_BIND    *b;
	unsigned long *lens;
	long long     *ints;
	MYSQL_BIND     sb[DB_PARAMS_STACK];
	unsigned long  slens[DB_PARAMS_STACK];
	long long      sints[DB_PARAMS_STACK];
};

static void
params_free(struct params *pb)
{
	if (pb->b == pb->sb)
		return;
	free(pb->b);
	free(pb->lens);
	free(pb->ints);
}

/*
 * Binds params[0..n) to st.  The library reads the buffers at execution, so pb holds them
 * until params_free.  -1 when the library refuses them.
 */
static int
params_bind(struct params *pb, MYSQL_STMT *st, const struct db_val *params, size_t n)
{
	size_t i;

	pb->b = pb->sb;
	pb->lens = pb->slens;
	pb->ints = pb->sints;
	if (n > DB_PARAMS_STACK) {
		pb->b = calloc(n, sizeof(*pb->b));
		pb->lens = calloc(n, sizeof(*pb->lens));
		pb->ints = calloc(n, sizeof(*pb->ints));
		if (pb->b == NULL || pb->lens == NULL || pb->ints == NULL)
			abort(); /* STYLE.md: out of memory ends the process */
	} else
		memset(pb->sb, 0, n * sizeof(*pb->sb));
	for (i = 0; i < n; i++) {
		switch (params[i].type) {
		case DB_INT:
			pb->ints[i] = params[i].i;
			pb->b[i].buffer_type = MYSQL_TYPE_LONGLONG;
			pb->b[i].buffer = &pb->ints[i];
			break;
		case DB_TEXT:
		case DB_BLOB:
			pb->lens[i] = (unsigned long)params[i].len;
			pb->b[i].buffer_type = params[i].type == DB_TEXT ? MYSQL_TYPE_STRING :
			                                                   MYSQL_TYPE_BLOB;
			/* The library only reads parameter buffers. */
			pb->b[i].buffer = (void *)(uintptr_t)(params[i].s != NULL ?
			        params[i].s :
			        "");
			pb->b[i].buffer_length = pb->lens[i];
			pb->b[i].length = &pb->lens[i];
			break;
		case DB_NULL:
		default: pb->b[i].buffer_type = MYSQL_TYPE_NULL; break;
		}
	}
	return n > 0 && mysql_stmt_bind_param(st, pb->b) != 0 ? -1 : 0;
}

/*
 * One attempt at running sql on the current connection.  Returns UM_OK, or an error with
 * *err set to the MariaDB error number (0 for local faults such as a parameter mismatch).
 * *sent says whether the execution was asked of the server (so it may have run).
 */
static enum um_err
run_once(struct db *db, struct arena *a, const char *sql, const struct db_val *params, size_t n,
    struct db_res *res, unsigned int *err, int *sent)
{
	MYSQL_STMT   *st;
	MYSQL_RES    *meta = NULL;
	struct params pb;
	enum um_err   rc = UM_EINTERNAL;

	pb.b = pb.sb; /* nothing to free until params_bind */
	*err = 0;
	*sent = 0;
	if ((st = stmt_get(db, sql, err)) == NULL)
		goto out;
	if (n > DB_PARAMS_MAX || mysql_stmt_param_count(st) != n) {
		log_err("db: statement wants %lu parameters, got %zu: %.200s",
		    mysql_stmt_param_count(st), n, sql);
		goto out;
	}
	if (params_bind(&pb, st, params, n) != 0)
		goto stmt_fail;
	*sent = 1;
	if (mysql_stmt_execute(st) != 0)
		goto stmt_fail;
	meta = mysql_stmt_result_metadata(st);
	if (res != NULL) {
		memset(res, 0, sizeof(*res));
		res->affected = mysql_stmt_affected_rows(st);
		res->insert_id = mysql_stmt_insert_id(st);
	}
	if (meta != NULL) {
		if (res != NULL) {
			if (a == NULL) {
				log_err("db: a result set needs an arena: %.200s", sql);
				(void)mysql_stmt_free_result(st);
				goto out;
			}
			if (fetch_all(db, st, meta, a, res, err) != UM_OK)
				goto out;
			res->affected = 0;
		} else
			(void)mysql_stmt_free_result(st);
	}
	rc = UM_OK;
	goto out;
stmt_fail:
	stmt_error(db, st, err);
out:
	params_free(&pb);
	if (meta != NULL)
		mysql_free_result(meta);
	if (rc != UM_OK && st != NULL && !is_gone(*err))
		(void)mysql_stmt_reset(st);
	return rc;
}

/* Maps a failed attempt to the error db.h promises, logging what is not an outage. */
static enum um_err
map_err(struct db *db, unsigned int e, const char *what)
{
	db->last_err = e;
	db->conflict = e == ER_LOCK_DEADLOCK || e == ER_LOCK_WAIT_TIMEOUT;
	if (e == ER_DUP_ENTRY || e == ER_DUP_ENTRY_WITH_KEY_NAME)
		return UM_ECONFLICT;
	if (is_gone(e))
		return UM_EUNAVAIL;
	/*
	 * A deadlock, or on Galera a transaction that lost certification to another node's:
	 * rolled back whole, so nothing half-done remains; db_transact runs it again, other
	 * callers answer 503 with Retry-After (never a wrong answer).
	 */
	if (db->conflict) {
		log_warn("db: %u %s: %.200s", e, db->errmsg, what);
		return UM_EUNAVAIL;
	}
	if (e != 0)
		log_err("db: %u %s: %.200s", e, db->errmsg, what);
	return UM_EINTERNAL;
}

/*
 * Whether a statement whose connection died may be sent again on a new one: only when it
 * cannot have run — it was never sent (the prepare failed), or the command could not be
 * written (CR_SERVER_GONE_ERROR: libmariadb's answer to a failed write; a server never
 * runs a packet it did not receive whole) — or when running it twice changes nothing (a
 * SELECT).  A write whose answer was lost (CR_SERVER_LOST, a read timeout, a killed
 * connection) may have been applied already: repeating it would count a failed login
 * twice or queue a mail twice, so it fails with UM_EUNAVAIL instead (issue 10, item 17).
 */
static int
may_repeat(const char *sql, int sent, unsigned int e)
{
	if (!sent || e == CR_SERVER_GONE_ERROR)
		return 1;
	return strncmp(sql, "SELECT ", 7) == 0 && strstr(sql, " FOR UPDATE") == NULL;
}

enum um_err
db_exec(struct db *db, struct arena *a, const char *sql, const struct db_val *params, size_t n,
    struct db_res *res)
{
	unsigned int e = 0;
	int          attempt, sent = 0, conflicts = 0;
	enum um_err  rc = UM_EUNAVAIL;

	if (res != NULL)
		memset(res, 0, sizeof(*res));
	db->last_err = 0;
	if (db->stream != NULL) {
		log_err("db: a stream holds the connection: %.200s", sql);
		return UM_EINTERNAL;
	}
	if (db->tx_broken)
		goto out;
	for (attempt = 0; attempt < 2; attempt++) {
		if (connect_db(db) != UM_OK) {
			rc = UM_EUNAVAIL;
			goto out;
		}
		if ((rc = run_once(db, a, sql, params, n, res, &e, &sent)) == UM_OK)
			goto out;
		/*
		 * A statement of its own (autocommit) that lost a deadlock or Galera's
		 * certification was rolled back whole: it runs again, as db_transact would run
		 * a transaction (the server's wsrep_retry_autocommit covers only some cases).
		 */
		if (!db->in_tx && (e == ER_LOCK_DEADLOCK || e == ER_LOCK_WAIT_TIMEOUT) &&
		    ++conflicts < DB_TX_TRIES) {
			attempt--;
			continue;
		}
		if (!is_gone(e)) {
			rc = map_err(db, e, sql);
			goto out;
		}
		log_warn("db: connection lost (%u), reconnecting", e);
		lost(db);
		/* Inside a transaction the work so far is gone with the connection. */
		if (db->in_tx || !may_repeat(sql, sent, e)) {
			rc = UM_EUNAVAIL;
			goto out;
		}
	}
	rc = UM_EUNAVAIL;
out:
	return rc;
}

/* The rows of a statement, read as the server sends them (db_stream_open). */
struct stream {
	MYSQL_STMT  *st;
	MYSQL_RES   *meta;
	struct binds bd;
	int          end; /* every row was read */
};

static void
stream_free(struct db *db)
{
	struct stream *s = db->stream;

	if (s == NULL)
		return;
	if (s->meta != NULL)
		mysql_free_result(s->meta);
	if (s->st != NULL)
		(void)mysql_stmt_close(s->st);
	binds_free(&s->bd);
	free(s);
	db->stream = NULL;
}

/* Prepares, binds and executes s's statement; the MariaDB error in *err on failure. */
static enum um_err
stream_start(struct db *db, struct stream *s, const char *sql, const struct db_val *params,
    size_t n, unsigned int *err)
{
	struct params pb;
	enum um_err   rc = UM_EINTERNAL;

	pb.b = pb.sb;
	if ((s->st = mysql_stmt_init(db->my)) == NULL) {
		*err = mysql_errno(db->my);
		return rc;
	}
	if (mysql_stmt_prepare(s->st, sql, (unsigned long)strlen(sql)) != 0)
		goto fail;
	if (mysql_stmt_param_count(s->st) != n) {
		log_err("db: statement wants %lu parameters, got %zu: %.200s",
		    mysql_stmt_param_count(s->st), n, sql);
		goto out;
	}
	if (params_bind(&pb, s->st, params, n) != 0 || mysql_stmt_execute(s->st) != 0 ||
	    (s->meta = mysql_stmt_result_metadata(s->st)) == NULL)
		goto fail;
	s->bd.ncols = mysql_num_fields(s->meta);
	if (binds_init(&s->bd, mysql_fetch_fields(s->meta), s->bd.ncols) != 0 ||
	    mysql_stmt_bind_result(s->st, s->bd.b) != 0)
		goto fail;
	rc = UM_OK;
	goto out;
fail:
	stmt_error(db, s->st, err);
out:
	params_free(&pb);
	return rc;
}

enum um_err
db_stream_open(struct db *db, const char *sql, const struct db_val *params, size_t n)
{
	unsigned int e = 0;
	enum um_err  rc;

	db->last_err = 0;
	if (db->stream != NULL || db->in_tx || n > DB_PARAMS_MAX) {
		log_err("db: a stream needs a handle of its own: %.200s", sql);
		return UM_EINTERNAL;
	}
	if ((rc = connect_db(db)) != UM_OK)
		return UM_EUNAVAIL;
	if ((db->stream = calloc(1, sizeof(*db->stream))) == NULL)
		abort();
	if ((rc = stream_start(db, db->stream, sql, params, n, &e)) == UM_OK)
		return UM_OK;
	rc = map_err(db, e, sql);
	if (is_gone(e))
		lost(db);
	stream_free(db);
	return rc;
}

enum um_err
db_stream_next(struct db *db, struct arena *a, size_t max, struct db_res *res)
{
	struct stream *s = db->stream;
	unsigned int   e = 0;

	memset(res, 0, sizeof(*res));
	if (s == NULL || s->end)
		return UM_OK;
	res->ncols = s->bd.ncols;
	res->cells = arena_calloc(a, max * res->ncols + 1, sizeof(*res->cells));
	if (fetch_rows(s->st, mysql_fetch_fields(s->meta), &s->bd, a, res, max, &s->end) == 0)
		return UM_OK;
	stmt_error(db, s->st, &e);
	res->nrows = 0;
	if (is_gone(e)) {
		log_warn("db: connection lost during a stream (%u)", e);
		lost(db);
		return UM_EUNAVAIL;
	}
	return map_err(db, e, "a stream");
}

void
db_stream_close(struct db *db)
{
	if (db == NULL || db->stream == NULL)
		return;
	/* Rows still unread would all be read by the close: dropping the connection is quicker. */
	if (!db->stream->end)
		disconnect(db);
	stream_free(db);
}

/* Runs a statement without parameters or results (transaction control). */
static enum um_err
simple(struct db *db, const char *sql, unsigned int *err)
{
	*err = 0;
	if (mysql_real_query(db->my, sql, (unsigned long)strlen(sql)) != 0) {
		*err = mysql_errno(db->my);
		(void)snprintf(db->errmsg, sizeof(db->errmsg), "%s", mysql_error(db->my));
		return UM_EINTERNAL;
	}
	return UM_OK;
}

enum um_err
db_begin(struct db *db)
{
	unsigned int e;
	int          attempt;
	enum um_err  rc = UM_EINTERNAL;

	if (db->in_tx || db->stream != NULL) {
		log_err("db: nested transaction, or one beside a stream");
		goto out;
	}
	/* Nothing has happened yet, so a stale connection may be replaced once. */
	for (attempt = 0; attempt < 2; attempt++) {
		if (connect_db(db) != UM_OK) {
			rc = UM_EUNAVAIL;
			goto out;
		}
		if (simple(db, "START TRANSACTION", &e) == UM_OK) {
			db->conflict = 0;
			db->in_tx = 1;
			db->tx_broken = 0;
			rc = UM_OK;
			goto out;
		}
		if (!is_gone(e)) {
			rc = map_err(db, e, "START TRANSACTION");
			goto out;
		}
		lost(db);
	}
	rc = UM_EUNAVAIL;
out:
	return rc;
}

enum um_err
db_commit(struct db *db)
{
	unsigned int e;
	enum um_err  rc = UM_EINTERNAL;

	if (!db->in_tx) {
		log_err("db: commit outside a transaction");
		goto out;
	}
	if (db->tx_broken || db->my == NULL) {
		rc = UM_EUNAVAIL;
		goto out;
	}
	if (simple(db, "COMMIT", &e) != UM_OK) {
		if (is_gone(e)) {
			/* Whether it committed is unknown; the caller reports 503. */
			lost(db);
			rc = UM_EUNAVAIL;
		} else {
			rc = map_err(db, e, "COMMIT");
			(void)simple(db, "ROLLBACK", &e);
		}
		goto out;
	}
	rc = UM_OK;
out:
	db->in_tx = 0;
	db->tx_broken = 0;
	return rc;
}

enum um_err
db_join(struct db *db, int *own)
{
	*own = !db->in_tx;
	return *own ? db_begin(db) : UM_OK;
}

enum um_err
db_leave(struct db *db, int own, enum um_err rc)
{
	if (!own)
		return rc;
	if (rc == UM_OK)
		return db_commit(db);
	db_rollback(db);
	return rc;
}

enum um_err
db_transact(struct db *db, enum um_err (*fn)(void *), void *arg)
{
	enum um_err rc = UM_EINTERNAL;
	int         run;

	for (run = 0; run < DB_TX_TRIES; run++) {
		if ((rc = db_begin(db)) != UM_OK)
			return rc;
		if ((rc = fn(arg)) == UM_OK && (rc = db_commit(db)) == UM_OK)
			return UM_OK;
		db_rollback(db);
		if (!db->conflict)
			break;
		log_info("db: the transaction was rolled back by a conflict; running it again");
	}
	return rc;
}

void
db_rollback(struct db *db)
{
	unsigned int e;

	if (db == NULL || !db->in_tx)
		return;
	if (!db->tx_broken && db->my != NULL && simple(db, "ROLLBACK", &e) != UM_OK) {
		if (is_gone(e))
			lost(db);
		else
			log_err("db: rollback failed: %u %s", e, db->errmsg);
	}
	db->in_tx = 0;
	db->tx_broken = 0;
}

enum um_err
db_ping(struct db *db)
{
	struct timespec t0;
	unsigned int    e;
	enum um_err     rc = UM_EUNAVAIL;

	(void)clock_gettime(CLOCK_MONOTONIC, &t0);
	if (db->my != NULL) {
		/* On a cluster, answering is not enough: the node must be in the Primary one. */
		if (db->conf->ndb_hosts > 0 ? node_ready(db->my, &e) == 1 :
		                              mysql_ping(db->my) == 0) {
			rc = UM_OK;
			goto out;
		}
		e = mysql_errno(db->my);
		log_warn("db: ping failed: %u %s", e,
		    e != 0 ? mysql_error(db->my) : "the node is not in the Primary component");
		lost(db);
		/*
		 * A ping that timed out means a hung server: connecting again would add the
		 * connect timeout and break the 5 s promise of /readyz.  A quick failure (the
		 * server restarted) deserves one fresh connection; on a cluster the hung node is
		 * held now, so the fresh connection goes to the next node.
		 */
		if ((log_elapsed_ms(&t0) >= DB_PING_FAST_MS && db->conf->ndb_hosts == 0) ||
		    db->in_tx)
			goto out;
	}
	rc = connect_db(db);
	if (rc != UM_OK)
		rc = UM_EUNAVAIL;
out:
	return rc;
}

enum um_err
db_exec_script(struct db *db, const char *sql, size_t len)
{
	MYSQL_RES   *r;
	unsigned int e = 0;
	int          st, on = 0, nstmt = 1;
	enum um_err  rc = UM_EINTERNAL;

	db->last_err = 0;
	if (db->tx_broken) {
		rc = UM_EUNAVAIL;
		goto out;
	}
	if (connect_db(db) != UM_OK) {
		rc = UM_EUNAVAIL;
		goto out;
	}
	/* Multi-statements are on for the script only; prepared statements never need them. */
	if (mysql_set_server_option(db->my, MYSQL_OPTION_MULTI_STATEMENTS_ON) != 0) {
		e = mysql_errno(db->my);
		goto fail;
	}
	on = 1;
	if (mysql_real_query(db->my, sql, (unsigned long)len) != 0) {
		e = mysql_errno(db->my);
		goto fail;
	}
	/* Every result must be consumed, or the connection is out of sync. */
	do {
		if ((r = mysql_store_result(db->my)) != NULL)
			mysql_free_result(r);
		else if (mysql_field_count(db->my) != 0) {
			e = mysql_errno(db->my);
			goto fail;
		}
		if ((st = mysql_next_result(db->my)) > 0) {
			nstmt++;
			e = mysql_errno(db->my);
			goto fail;
		}
		nstmt++;
	} while (st == 0);
	rc = UM_OK;
	goto out;
fail:
	if (is_gone(e)) {
		log_warn("db: connection lost during a script (%u)", e);
		lost(db);
		on = 0;
		rc = UM_EUNAVAIL;
	} else {
		db->last_err = e;
		log_err("db: script failed at statement %d: %u %s", nstmt, e,
		    db->my != NULL ? mysql_error(db->my) : "");
		rc = e == ER_DUP_ENTRY ? UM_ECONFLICT : UM_EINTERNAL;
	}
out:
	if (on && db->my != NULL &&
	    mysql_set_server_option(db->my, MYSQL_OPTION_MULTI_STATEMENTS_OFF) != 0)
		disconnect(db);
	return rc;
}

int
db_denied(const struct db *db)
{
	switch (db->last_err) {
	case ER_DBACCESS_DENIED_ERROR:
	case ER_TABLEACCESS_DENIED_ERROR:
	case ER_COLUMNACCESS_DENIED_ERROR:
	case ER_SPECIFIC_ACCESS_DENIED_ERROR:
	case ER_PROCACCESS_DENIED_ERROR: return 1;
	default: return 0;
	}
}
