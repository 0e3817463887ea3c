/* migrate: applies sql/NNN_*.sql once each, in numeric order, recorded in schema_migrations. */
#include "config.h"

#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "arena.h"
#include "db.h"
#include "log.h"
#include "migrate.h"

#define MIGRATION_MAX_BYTES   (4 * 1024 * 1024) /* one script */
#define MIGRATION_VERSION_MAX 999999
#define MIGRATE_LOCK          "usermgr_migrate"

static const char sql_create[] =
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    " version INT UNSIGNED NOT NULL,"
    " name VARCHAR(255) NOT NULL,"
    " applied_at DATETIME(6) NOT NULL DEFAULT UTC_TIMESTAMP(6),"
    " PRIMARY KEY (version)"
    ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_520_ci";
static const char sql_autocommit_off[] = "SET autocommit = 0";
static const char sql_autocommit_on[] = "SET autocommit = 1";
static const char sql_wsrep[] = "SELECT @@wsrep_on";
static const char sql_lock[] = "SELECT GET_LOCK(?, 30)";
static const char sql_unlock[] = "SELECT RELEASE_LOCK(?)";
static const char sql_applied[] = "SELECT 1 FROM schema_migrations WHERE version = ?";
static const char sql_record[] =
    "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, UTC_TIMESTAMP(6))";

struct migration {
	unsigned long version;
	char         *name;
};

/*
 * Parses "NNN_anything.sql": the leading digits are the version.  Returns -1 for any other
 * name (editor backups, README) so they are ignored, not applied.
 */
static long
version_of(const char *name)
{
	const char   *p;
	size_t        n;
	unsigned long v = 0;

	for (p = name; *p >= '0' && *p <= '9'; p++) {
		v = v * 10 + (unsigned long)(*p - '0');
		if (v > MIGRATION_VERSION_MAX)
			return -1;
	}
	if (p == name || *p != '_')
		return -1;
	n = strlen(name);
	if (n < 5 || strcmp(name + n - 4, ".sql") != 0)
		return -1;
	return (long)v;
}

static int
by_version(const void *a, const void *b)
{
	const struct migration *x = a, *y = b;

	return (x->version > y->version) - (x->version < y->version);
}

/* Lists the migrations of dir, sorted; *out is malloc'd, names too. */
static enum um_err
list_dir(const char *dir, struct migration **out, size_t *nout)
{
	DIR              *d;
	struct dirent    *de;
	struct migration *m = NULL, *tmp;
	size_t            n = 0, cap = 0, i;
	long              v;
	enum um_err       rc = UM_EINTERNAL;

	if ((d = opendir(dir)) == NULL) {
		log_err("migrate: %s: %s", dir, strerror(errno));
		goto out;
	}
	while ((de = readdir(d)) != NULL) {
		if ((v = version_of(de->d_name)) < 0)
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			if ((tmp = reallocarray(m, cap, sizeof(*m))) == NULL)
				goto out;
			m = tmp;
		}
		m[n].version = (unsigned long)v;
		if ((m[n].name = strdup(de->d_name)) == NULL)
			goto out;
		n++;
	}
	if (n > 0)
		qsort(m, n, sizeof(*m), by_version);
	for (i = 1; i < n; i++)
		if (m[i].version == m[i - 1].version) {
			log_err("migrate: %s and %s have the same number", m[i - 1].name,
			    m[i].name);
			goto out;
		}
	rc = UM_OK;
out:
	if (d != NULL)
		(void)closedir(d);
	if (rc != UM_OK) {
		for (i = 0; i < n; i++)
			free(m[i].name);
		free(m);
		m = NULL;
		n = 0;
	}
	*out = m;
	*nout = n;
	return rc;
}

/*
 * rc, or UM_EFORBIDDEN when the call that just failed was refused a privilege: the workers'
 * account (DML only) running migrate gets a message naming the fix, not "internal error".
 */
static enum um_err
denied_or(struct db *db, enum um_err rc)
{
	return rc != UM_OK && rc != UM_EUNAVAIL && db_denied(db) ? UM_EFORBIDDEN : rc;
}

/* Reads dir/name whole into the arena. */
static enum um_err
read_script(struct arena *a, const char *dir, const char *name, char **out, size_t *len)
{
	struct stat st;
	char        path[4096];
	char       *buf;
	size_t      got = 0;
	ssize_t     r;
	int         fd = -1;
	enum um_err rc = UM_EINTERNAL;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, name) >= sizeof(path))
		goto out;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1 || fstat(fd, &st) == -1) {
		log_err("migrate: %s: %s", path, strerror(errno));
		goto out;
	}
	if (st.st_size <= 0 || st.st_size > MIGRATION_MAX_BYTES) {
		log_err("migrate: %s: empty or larger than %d bytes", path,
		    MIGRATION_MAX_BYTES);
		goto out;
	}
	buf = arena_alloc(a, (size_t)st.st_size + 1);
	while (got < (size_t)st.st_size) {
		r = read(fd, buf + got, (size_t)st.st_size - got);
		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0) {
			log_err("migrate: %s: short read", path);
			goto out;
		}
		got += (size_t)r;
	}
	buf[got] = '\0';
	*out = buf;
	*len = got;
	rc = UM_OK;
out:
	if (fd != -1)
		(void)close(fd);
	return rc;
}

/* Applies one script and records it, in one transaction as far as MariaDB allows. */
static enum um_err
apply(struct db *db, struct arena *a, const char *dir, const struct migration *m)
{
	struct db_val p[2];
	char         *sql;
	size_t        len;
	enum um_err   rc;

	if ((rc = read_script(a, dir, m->name, &sql, &len)) != UM_OK)
		goto out;
	/*
	 * Each DDL statement commits implicitly; with autocommit off the statements after it
	 * still run in a transaction, so a failing INSERT after a CREATE is undone with the
	 * rest of the DML instead of being committed on its own.
	 */
	if ((rc = db_exec_script(db, sql_autocommit_off, sizeof(sql_autocommit_off) - 1)) !=
	    UM_OK)
		goto out;
	if ((rc = db_begin(db)) != UM_OK)
		goto out;
	if ((rc = denied_or(db, db_exec_script(db, sql, len))) != UM_OK) {
		if (rc != UM_EFORBIDDEN)
			log_err("migrate: %s failed; fix it and run migrate again", m->name);
		goto fail;
	}
	p[0] = DBV_INT(m->version);
	p[1] = dbv_text(m->name);
	if ((rc = denied_or(db, db_exec(db, a, sql_record, p, 2, NULL))) != UM_OK)
		goto fail;
	if ((rc = db_commit(db)) != UM_OK)
		goto out;
	log_info("migrate: applied %s", m->name);
	goto out;
fail:
	db_rollback(db);
out:
	(void)db_exec_script(db, sql_autocommit_on, sizeof(sql_autocommit_on) - 1);
	return rc;
}

enum um_err
migrate_run(struct db *db, const char *sql_dir, int *applied)
{
	struct arena     *a = NULL;
	struct migration *m = NULL;
	struct db_res     res;
	struct db_val     p[1];
	size_t            n = 0, i;
	int               locked = 0, count = 0;
	enum um_err       rc = UM_EINTERNAL;

	if (applied != NULL)
		*applied = 0;
	if (sql_dir == NULL || sql_dir[0] == '\0') {
		log_err("migrate: no SQL directory configured");
		goto out;
	}
	a = arena_new();
	if ((rc = list_dir(sql_dir, &m, &n)) != UM_OK)
		goto out;
	if (n == 0) {
		log_err("migrate: no NNN_*.sql files in %s", sql_dir);
		rc = UM_EINTERNAL;
		goto out;
	}

	/*
	 * Two hosts starting at once must not both apply 001: MariaDB's named lock.  Galera
	 * refuses named locks (they are not replicated): there the DDL runs by TOI, in the
	 * same order on every node, and a second concurrent run fails on schema_migrations'
	 * key or on the DDL already done (docs/DEPLOY.md: migrate from one host).
	 */
	if ((rc = db_exec(db, a, sql_wsrep, NULL, 0, &res)) != UM_OK)
		goto out;
	if (res.nrows == 1 && DB_CELL(&res, 0, 0)->i == 1)
		goto create;
	p[0] = dbv_text(MIGRATE_LOCK);
	if ((rc = db_exec(db, a, sql_lock, p, 1, &res)) != UM_OK)
		goto out;
	if (res.nrows != 1 || DB_CELL(&res, 0, 0)->type != DB_INT ||
	    DB_CELL(&res, 0, 0)->i != 1) {
		log_err("migrate: another migration holds the lock " MIGRATE_LOCK);
		rc = UM_EUNAVAIL;
		goto out;
	}
	locked = 1;
create:
	if ((rc = denied_or(db, db_exec(db, a, sql_create, NULL, 0, NULL))) != UM_OK)
		goto out;

	for (i = 0; i < n; i++) {
		p[0] = DBV_INT(m[i].version);
		if ((rc = denied_or(db, db_exec(db, a, sql_applied, p, 1, &res))) != UM_OK)
			goto out;
		if (res.nrows > 0)
			continue;
		if ((rc = apply(db, a, sql_dir, &m[i])) != UM_OK)
			goto out;
		count++;
	}
	rc = UM_OK;
out:
	if (locked) {
		p[0] = dbv_text(MIGRATE_LOCK);
		(void)db_exec(db, a, sql_unlock, p, 1, NULL);
	}
	if (applied != NULL)
		*applied = count;
	for (i = 0; i < n; i++)
		free(m[i].name);
	free(m);
	arena_free(a);
	return rc;
}
