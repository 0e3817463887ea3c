/* legacy: one reader for both import sources, so `import-legacy` handles rows the same either way. */
#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "arena.h"
#include "conf.h"
#include "db.h"
#include "dsn.h"
#include "legacy.h"

#define CSV_LINE_MAX 8192 /* bytes of one line of an export */
#define CSV_FIELDS   4
#define DSN_BATCH    4096 /* rows read at once: a large table never sits in memory whole */
#define DSN_SQL_MAX  256
/*
 * Seconds the legacy server may take to send the next rows (db_set_timeout): the first come
 * only once it has sorted the whole table (about 10 s for a million rows on a small machine).
 */
#define DSN_READ_TIMEOUT 600

struct legacy {
	/* CSV */
	FILE  *f;
	char  *line;
	size_t cap;
	char   path[256];
	double size; /* bytes (CSV) or rows (a table) in all, once measured; else 0 */
	/* a table */
	struct arena *url;  /* the parsed URL: the connection settings point into it */
	struct arena *a;    /* the current batch */
	struct conf   conn; /* db_open() keeps a pointer to it */
	struct db    *db;
	char          table[65];
	char          sql[DSN_SQL_MAX];   /* the rows, streamed (db_stream_open) */
	char          count[DSN_SQL_MAX]; /* db_exec caches by pointer: lives with the source */
	struct db_res res;
	size_t        next;    /* index in res of the next row */
	int           started; /* the stream is open */
	unsigned long pos;
};

/*
 * Splits one CSV record (RFC 4180, without line breaks inside quoted fields) in place.
 * Returns the number of fields, or -1 when malformed or more than max.
 */
static int
csv_split(char *line, char **f, int max)
{
	char *r = line, *w;
	int   n = 0;

	for (;;) {
		if (n == max)
			return -1;
		if (*r == '"') {
			w = ++r;
			f[n++] = w;
			for (;;) {
				if (*r == '\0')
					return -1;
				if (*r == '"' && r[1] == '"') {
					*w++ = '"';
					r += 2;
				} else if (*r == '"') {
					r++;
					break;
				} else
					*w++ = *r++;
			}
			if (*r != ',' && *r != '\0')
				return -1;
			if (*r == '\0') {
				*w = '\0';
				return n;
			}
			*w = '\0';
			r++;
		} else {
			f[n++] = r;
			while (*r != ',' && *r != '\0' && *r != '"')
				r++;
			if (*r == '"')
				return -1;
			if (*r == '\0')
				return n;
			*r++ = '\0';
		}
	}
}

/* 1 / 0 for the verified column; -1 when it is neither. */
static int
parse_flag(const char *s)
{
	static const char *const yes[] = { "1", "true", "t", "yes", "y" };
	static const char *const no[] = { "0", "false", "f", "no", "n", "" };
	size_t                   i;

	for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
		if (strcasecmp(s, yes[i]) == 0)
			return 1;
	for (i = 0; i < sizeof(no) / sizeof(no[0]); i++)
		if (strcasecmp(s, no[i]) == 0)
			return 0;
	return -1;
}

static void
chomp(char *s)
{
	size_t n = strlen(s);

	while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r'))
		s[--n] = '\0';
}

struct legacy *
legacy_open_csv(const char *path, char *err, size_t errlen)
{
	struct legacy *l;
	ssize_t        len;

	if ((l = calloc(1, sizeof(*l))) == NULL)
		abort();
	(void)snprintf(l->path, sizeof(l->path), "%s", path);
	if ((l->f = fopen(path, "re")) == NULL) {
		(void)snprintf(err, errlen, "%s: %s", path, strerror(errno));
		goto fail;
	}
	if ((len = getline(&l->line, &l->cap, l->f)) <= 0) {
		(void)snprintf(err, errlen, "%s is empty", path);
		goto fail;
	}
	l->pos = 1;
	chomp(l->line);
	/* A UTF-8 byte order mark, as spreadsheets write it. */
	if (strncmp(l->line, "\xef\xbb\xbf", 3) == 0)
		memmove(l->line, l->line + 3, strlen(l->line + 3) + 1);
	if (strcmp(l->line, LEGACY_CSV_HEADER) != 0) {
		(void)snprintf(err, errlen, "the first line must be " LEGACY_CSV_HEADER);
		goto fail;
	}
	return l;
fail:
	legacy_close(l);
	return NULL;
}

static enum um_err
next_csv(struct legacy *l, struct legacy_row *row, char *err, size_t errlen)
{
	char   *fld[CSV_FIELDS + 1];
	ssize_t len;

	do {
		if ((len = getline(&l->line, &l->cap, l->f)) <= 0) {
			if (!ferror(l->f))
				return UM_ENOTFOUND;
			(void)snprintf(err, errlen, "%s: read error", l->path);
			return UM_EUNAVAIL;
		}
		row->pos = ++l->pos;
		if (len > CSV_LINE_MAX || memchr(l->line, '\0', (size_t)len) != NULL) {
			row->error = "too long or holds a NUL byte";
			return UM_OK;
		}
		chomp(l->line);
	} while (l->line[0] == '\0');
	if (csv_split(l->line, fld, CSV_FIELDS + 1) != CSV_FIELDS) {
		row->error = "not four CSV fields";
		return UM_OK;
	}
	row->username = fld[0];
	row->email = fld[1];
	row->password_sha256 = fld[2];
	row->verified = parse_flag(fld[3]);
	return UM_OK;
}

/*
 * head, the table's name, tail into buf (DSN_SQL_MAX bytes).  An identifier cannot be a
 * statement parameter: the table name is the one formatted part of these statements, and
 * dsn_parse() let through only [A-Za-z0-9_$]{1,64}, which backquotes make inert.
 */
static void
table_sql(char *buf, const char *head, const char *table, const char *tail)
{
	(void)snprintf(buf, DSN_SQL_MAX, "%s`%s`%s", head, table, tail);
}

struct legacy *
legacy_open_dsn(const char *url, const char *password, const struct conf *base, char *err,
    size_t errlen)
{
	struct legacy *l;
	struct conf   *lc;
	struct dsn     d;

	if ((l = calloc(1, sizeof(*l))) == NULL || (l->url = arena_new()) == NULL ||
	    (l->a = arena_new()) == NULL)
		abort();
	if (dsn_parse(l->url, url, &d, err, errlen) != UM_OK)
		goto fail;
	if (d.password == NULL)
		d.password = password;
	(void)snprintf(l->table, sizeof(l->table), "%s", d.table);
	/*
	 * One statement streams every row: pages by LIMIT and OFFSET would sort the table again
	 * for each, and read the rows before the offset again (hours for a million rows).
	 */
	table_sql(l->sql, "SELECT username, email, password_sha256, verified FROM ", d.table,
	    " ORDER BY username, email");
	table_sql(l->count, "SELECT COUNT(*) FROM ", d.table, "");
	lc = &l->conn;
	*lc = *base;
	lc->db_host = (char *)d.host;
	lc->db_port = d.port;
	lc->db_socket = (char *)d.socket;
	lc->db_name = (char *)d.database;
	lc->db_user = (char *)d.user;
	lc->db_password = (char *)d.password;
	/* A derived TLS mode was derived for usermgr's own host: derive it for this one. */
	if (!lc->db_ssl_mode_set)
		lc->db_ssl_mode = conf_db_ssl_default(lc->db_host, lc->db_ssl_ca);
	if ((l->db = db_open(lc)) == NULL) {
		(void)snprintf(err, errlen,
		    "cannot set up a connection to the legacy database");
		goto fail;
	}
	db_set_timeout(l->db, DSN_READ_TIMEOUT);
	return l;
fail:
	legacy_close(l);
	return NULL;
}

/* A legacy verified column: TINYINT/BOOLEAN, BIT(1), or text; NULL counts as not verified. */
static int
db_flag(const struct db_val *v)
{
	if (v->type == DB_NULL)
		return 0;
	if (v->type == DB_INT)
		return v->i == 0 ? 0 : v->i == 1 ? 1 : -1;
	if (v->len == 1 && (v->s[0] == '\0' || v->s[0] == '\1'))
		return v->s[0];
	return v->len == strlen(v->s) ? parse_flag(v->s) : -1;
}

/* A text cell as a C string; NULL for SQL NULL or bytes with a NUL inside. */
static char *
db_text(const struct db_val *v)
{
	if (v->type == DB_NULL || v->s == NULL || strlen(v->s) != v->len)
		return NULL;
	return (char *)v->s;
}

static void
cannot_read(const struct legacy *l, char *err, size_t errlen)
{
	(void)snprintf(err, errlen,
	    "cannot read `%s` from the legacy database (the log line above says why)",
	    l->table);
}

static enum um_err
next_row(struct legacy *l, struct legacy_row *row, char *err, size_t errlen)
{
	size_t r;

	if (l->next == l->res.nrows) {
		if (!l->started && db_stream_open(l->db, l->sql, NULL, 0) != UM_OK) {
			cannot_read(l, err, errlen);
			return UM_EUNAVAIL;
		}
		l->started = 1;
		arena_reset(l->a);
		l->next = 0;
		if (db_stream_next(l->db, l->a, DSN_BATCH, &l->res) != UM_OK) {
			cannot_read(l, err, errlen);
			return UM_EUNAVAIL;
		}
		if (l->res.nrows == 0)
			return UM_ENOTFOUND;
	}
	r = l->next++;
	row->pos = ++l->pos;
	row->username = db_text(DB_CELL(&l->res, r, 0));
	row->email = db_text(DB_CELL(&l->res, r, 1));
	row->password_sha256 = db_text(DB_CELL(&l->res, r, 2));
	row->verified = db_flag(DB_CELL(&l->res, r, 3));
	return UM_OK;
}

enum um_err
legacy_measure(struct legacy *l, char *err, size_t errlen)
{
	struct db_res res;
	struct stat   st;

	if (l->f != NULL) {
		/* A pipe or a device has no size to go by: no estimate, no error. */
		if (fstat(fileno(l->f), &st) == 0 && S_ISREG(st.st_mode))
			l->size = (double)st.st_size;
		return UM_OK;
	}
	if (l->started || db_exec(l->db, l->a, l->count, NULL, 0, &res) != UM_OK ||
	    res.nrows != 1) {
		cannot_read(l, err, errlen);
		return UM_EUNAVAIL;
	}
	l->size = (double)DB_CELL(&res, 0, 0)->i;
	return UM_OK;
}

double
legacy_done(const struct legacy *l)
{
	double at;
	off_t  off;

	if (l->size <= 0)
		return -1;
	if (l->f != NULL)
		at = (off = ftello(l->f)) < 0 ? -1 : (double)off;
	else
		at = (double)l->pos;
	return at < 0 ? -1 : at > l->size ? 1 : at / l->size;
}

const char *
legacy_unit(const struct legacy *l)
{
	return l->f != NULL ? "line" : "row";
}

enum um_err
legacy_next(struct legacy *l, struct legacy_row *row, char *err, size_t errlen)
{
	memset(row, 0, sizeof(*row));
	return l->f != NULL ? next_csv(l, row, err, errlen) : next_row(l, row, err, errlen);
}

void
legacy_close(struct legacy *l)
{
	if (l == NULL)
		return;
	if (l->f != NULL)
		(void)fclose(l->f);
	free(l->line);
	db_close(l->db);
	arena_free(l->a);
	arena_free(l->url);
	free(l);
}

const char *
legacy_check(struct legacy_row *row)
{
	char  *s = row->password_sha256;
	size_t i;

	for (i = 0; s != NULL && s[i] != '\0'; i++) {
		if (s[i] >= 'A' && s[i] <= 'F')
			s[i] = (char)(s[i] - 'A' + 'a');
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			break;
	}
	if (s == NULL || s[i] != '\0' || i != 64)
		return "password_sha256 is not 64 hex digits";
	if (row->verified < 0)
		return "verified is not 0/1/true/false";
	return NULL;
}
