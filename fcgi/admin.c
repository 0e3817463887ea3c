/* admin: usermgr-admin — migrations, config check, accounts, legacy import (API.md §6). */
#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "account.h"
#include "audit.h"
#include "arena.h"
#include "bounds.h"
#include "cache.h"
#include "conf.h"
#include "ctx.h"
#include "db.h"
#include "directory.h"
#include "fastpath.h"
#include "import.h"
#include "legacy.h"
#include "legacywrap.h"
#include "log.h"
#include "migrate.h"
#include "oidc.h"
#include "password.h"
#include "retention.h"
#include "revocation.h"
#include "runtime.h"
#include "signkey.h"
#include "user.h"
#include "utf8.h"
#include "validate.h"

#define MIGRATE_TIMEOUT_S 3600 /* seconds one migration statement may run */

#define EXIT_USAGE 2
#define SECRET_MAX 4096 /* bytes read from --password-file */

/*
 * The CLI's state: its configuration and database, and the service context over them —
 * the same services the admin API calls, acting as nobody (actor 0, no address), with
 * "via": "usermgr-admin" in every audit event.
 */
struct cli {
	struct conf   conf;
	struct conf   dbconf; /* conf, borrowed, with migrate's account in place for migrate */
	struct db    *db;
	struct arena *a;
	struct ctx    ctx;
	struct cache *cache; /* the workers' cache, when this user may write it; else NULL */
};

/*
 * The workers' cache, to apply this command's revocations to at once — only when its file
 * exists and is this user's: one run as root must neither create a file the workers would
 * refuse nor be refused loudly.  Otherwise the workers of this host read the change from the
 * log within USERMGR_REVOCATION_POLL_MS (docs/DECISIONS.md "Fast path: wiring").
 */
static struct cache *
workers_cache(const struct conf *c)
{
	struct stat st;

	if (c->cache_mb == 0 || c->cache_file == NULL || lstat(c->cache_file, &st) != 0 ||
	    !S_ISREG(st.st_mode) || st.st_uid != geteuid())
		return NULL;
	return cache_open(c->cache_file, (size_t)c->cache_mb << 20);
}

/*
 * A command that revoked something without reaching the workers' cache (another user, or no
 * USERMGR_CACHE_FILE of theirs) returns only after two poll intervals: by then any request a
 * worker of this host starts polls the log first or was preceded by a poll after the commit,
 * so "the command returned" still means "the change holds here", as README promises.
 */
static void
wait_for_workers(const struct cli *x)
{
	size_t          n = 0;
	int             flush = 0;
	long long       ms = 2LL * x->conf.revocation_poll_ms;
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };

	(void)revocation_notes(&x->ctx, &n, &flush);
	if (x->cache != NULL || x->conf.cache_mb == 0 || (n == 0 && !flush))
		return;
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static void
usage(void)
{
	fputs(
	    "usage: usermgr-admin migrate\n"
	    "       usermgr-admin check-config [--offline]\n"
	    "       usermgr-admin create-user --username U --email E [--password-file F]\n"
	    "                     [--role R]... [--verified] [--if-absent]\n"
	    "                     (without --password-file the password is $USERMGR_NEW_PASSWORD)\n"
	    "       usermgr-admin set-roles USERNAME ROLE...\n"
	    "       usermgr-admin disable USERNAME\n"
	    "       usermgr-admin enable USERNAME\n"
	    "       usermgr-admin import-legacy [--if-absent]\n"
	    "                     FILE.csv | --dsn mariadb://USER@HOST/DB[?table=T]\n"
	    "                     (a password not in the URL is $USERMGR_LEGACY_DB_PASSWORD;\n"
	    "                     --if-absent: a user already there, by username and address,\n"
	    "                     is skipped silently, so a stopped import can run again)\n"
	    "       usermgr-admin wrap-legacy [--limit N] [--per-second R]\n"
	    "       usermgr-admin prune\n"
	    "       usermgr-admin explain\n"
	    "       usermgr-admin client add --name N --redirect-uri URI... [--post-logout-uri URI]...\n"
	    "                     [--public] [--scope S]... [--skip-consent]\n"
	    "       usermgr-admin client list | show ID | rotate-secret ID | remove ID\n"
	    "                     (JSON on stdout; add and rotate-secret show the secret this once)\n"
	    "       usermgr-admin rotate-signing-key\n"
	    "Configuration comes from the USERMGR_* environment (API.md section 1).\n",
	    stderr);
}

/* conf_getenv_fn wants a const result; getenv's is not. */
static const char *
env(const char *name)
{
	return getenv(name);
}

/*
 * Checks one field with the API's validator.  Returns the validated value (an address
 * normalised), or NULL with *why set to the API's words for the refusal (API.md §7): the
 * label and the field's message, in the arena.
 */
static const char *
field_ok(struct cli *x, const char *label, validate_fn *fn, const char *in, const char **why)
{
	struct field_result r;

	memset(&r, 0, sizeof(r));
	if (in != NULL && fn(x->a, NULL, in, strlen(in), &r) == UM_OK)
		return r.val;
	*why = arena_printf(x->a, "%s %s", label, r.error != NULL ? r.error : "is required");
	return NULL;
}

/* field_ok, and a refusal said after prefix ("usermgr-admin: create-user") with its code. */
static const char *
check_field(struct cli *x, const char *prefix, const char *label, validate_fn *fn,
    const char *in)
{
	const char *val, *why;

	if ((val = field_ok(x, label, fn, in, &why)) == NULL)
		fprintf(stderr, "%s: %s: %s\n", prefix, um_errcode(UM_EINVAL), why);
	return val;
}

/* The API's answer to an unknown role (PUT /api/v1/admin/users/{id}/roles). */
static void
unknown_role(const char *cmd, const char *name)
{
	fprintf(stderr, "usermgr-admin: %s: %s: roles unknown role: %s\n", cmd,
	    um_errcode(UM_EINVAL), name);
}

/* Which of username (u) / email (e) is taken, for a conflict message. */
static const char *
taken_phrase(int u, int e)
{
	if (!u && !e)
		return "username or e-mail address is";
	if (u && e)
		return "username and e-mail address are";
	return e ? "e-mail address is" : "username is";
}

/* The same, asked of the database (values never printed). */
static const char *
taken_what(struct cli *x, const char *username, const char *email)
{
	int u = 0, e = 0;

	if (user_taken(x->db, x->a, username, email, &u, &e) != UM_OK)
		u = e = 0;
	return taken_phrase(u, e);
}

/*
 * The new account's password: --password-file's content minus one trailing newline (the
 * X_FILE rule of API.md §7), else $USERMGR_NEW_PASSWORD.  Returns a malloc'd copy or NULL
 * with a message; never prints the password.
 */
static char *
read_password(struct arena *a, const struct conf *c, const char *username, const char *file)
{
	struct validate_ctx vctx;
	struct field_result r;
	char               *pw = NULL;
	const char         *src;
	FILE               *f;
	size_t              n, cap;
	long                cp;

	if (file != NULL) {
		if ((f = fopen(file, "re")) == NULL) {
			fprintf(stderr, "usermgr-admin: %s: %s\n", file, strerror(errno));
			return NULL;
		}
		cap = SECRET_MAX + 1;
		if ((pw = calloc(1, cap)) == NULL)
			abort();
		n = fread(pw, 1, SECRET_MAX + 1, f);
		(void)fclose(f);
		if (n > SECRET_MAX) {
			fprintf(stderr, "usermgr-admin: %s is too long for a password\n", file);
			goto bad;
		}
		if (n > 0 && pw[n - 1] == '\n')
			n--;
		if (memchr(pw, '\0', n) != NULL) {
			fprintf(stderr, "usermgr-admin: %s holds a NUL byte\n", file);
			goto bad;
		}
		pw[n] = '\0';
	} else {
		if ((src = getenv("USERMGR_NEW_PASSWORD")) == NULL || src[0] == '\0') {
			fprintf(stderr,
			    "usermgr-admin: give --password-file or set "
			    "USERMGR_NEW_PASSWORD\n");
			return NULL;
		}
		if ((pw = strdup(src)) == NULL)
			abort();
		n = strlen(pw);
		cap = n + 1;
	}
	/* API.md §2: counted in code points, USERMGR_PASSWORD_MIN_LENGTH..128. */
	cp = utf8_count(pw, n);
	if (cp < 0 || cp < (long)c->password_min_length || cp > UM_PASSWORD_MAX) {
		fprintf(stderr,
		    "usermgr-admin: the password must be valid UTF-8 of %u to %d "
		    "characters\n",
		    c->password_min_length, UM_PASSWORD_MAX);
		goto bad;
	}
	/*
	 * The rest of the sign-up policy only warns: an operator chose this password (as with
	 * Django's createsuperuser from the environment), and refusing a bootstrap password
	 * would leave the stack without an admin.
	 */
	vctx.password_min = c->password_min_length;
	vctx.username = username;
	if (validate_load_common(c->common_passwords) == UM_OK &&
	    validate_password(a, &vctx, pw, n, &r) != UM_OK)
		fprintf(stderr, "usermgr-admin: warning: the password %s\n", r.error);
	return pw;
bad:
	explicit_bzero(pw, cap);
	free(pw);
	return NULL;
}

/* Looks up a user by name (or address): UM_ENOTFOUND, after a message, when absent. */
static enum um_err
find_user(struct cli *x, const char *cmd, const char *username, struct user *u)
{
	enum um_err rc;

	if ((rc = user_by_login(x->db, x->a, username, u)) == UM_ENOTFOUND)
		fprintf(stderr, "usermgr-admin: %s: %s: no user named %s\n", cmd,
		    um_errcode(rc), username);
	return rc;
}

static int
db_failed(const char *what, enum um_err e)
{
	fprintf(stderr, "usermgr-admin: %s: %s\n", what,
	    e == UM_EUNAVAIL ? "the database cannot be reached" : um_strerror(e));
	return EXIT_FAILURE;
}

static int
cmd_migrate(struct cli *x, int argc, char **argv)
{
	enum um_err rc;
	int         n = 0;

	if (argc != 1) {
		usage();
		return EXIT_USAGE;
	}
	if ((rc = migrate_run(x->db, x->conf.sql_dir, &n)) != UM_OK) {
		fprintf(stderr, "usermgr-admin: migrate: %d applied before the failure\n", n);
		if (rc == UM_EFORBIDDEN) {
			fprintf(stderr,
			    "usermgr-admin: migrate: the database account %s may not change the "
			    "schema; run migrate with the migration account "
			    "(USERMGR_DB_MIGRATE_USER, USERMGR_DB_MIGRATE_PASSWORD)\n",
			    x->dbconf.db_user != NULL ? x->dbconf.db_user : "(default)");
			return EXIT_FAILURE;
		}
		return db_failed("migrate", rc);
	}
	fprintf(stderr, "usermgr-admin: migrate: %d migration%s applied\n", n,
	    n == 1 ? "" : "s");
	return EXIT_SUCCESS;
}

static int
is_dir(const char *p)
{
	struct stat st;

	return p != NULL && stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static int
cmd_check_config(struct cli *x, int argc, char **argv)
{
	struct runtime rt;
	char           h[PASSWORD_HASH_MAX], err[512], num[16];
	int            offline = 0, ok = 1;
	enum um_err    rc;
	size_t         i;

	if (argc == 2 && strcmp(argv[1], "--offline") == 0)
		offline = 1;
	else if (argc != 1) {
		usage();
		return EXIT_USAGE;
	}
	if (!is_dir(x->conf.sql_dir)) {
		fprintf(stderr, "usermgr-admin: USERMGR_SQL_DIR %s is not a directory\n",
		    x->conf.sql_dir);
		ok = 0;
	}
	/* Everything a worker loads at start: keys, every template parsed, the password list. */
	if (runtime_load(&rt, env, err, sizeof(err)) != UM_OK) {
		fprintf(stderr, "usermgr-admin: a worker would not start: %s\n", err);
		ok = 0;
	} else
		runtime_free(&rt);
	/* A cost libsodium refuses would make every sign-up fail. */
	if (password_hash(&x->conf, "check", 5, h) != UM_OK) {
		fprintf(stderr, "usermgr-admin: the USERMGR_ARGON2_* cost is not usable\n");
		ok = 0;
	}
	if (!offline && (rc = db_ping(x->db)) != UM_OK) {
		(void)db_failed("database", rc);
		ok = 0;
	}
	/* Every setting as the programs see it; secrets only as (set) or (not set). */
	for (i = 0; i < conf_nvars; i++)
		printf("%s=%s\n", conf_vars[i].name,
		    conf_show(&x->conf, &conf_vars[i], num, sizeof(num)));
	fflush(stdout);
	fprintf(stderr, "usermgr-admin: check-config: %s\n", ok ? "ok" : "FAILED");
	return ok ? EXIT_SUCCESS : EXIT_FAILURE;
}

/* clang-format off: a table read by columns */
static const struct option create_opts[] = { { "username", required_argument, NULL, 'u' },
	{ "email", required_argument, NULL, 'e' },
	{ "password-file", required_argument, NULL, 'p' },
	{ "role", required_argument, NULL, 'r' }, { "verified", no_argument, NULL, 'v' },
	{ "if-absent", no_argument, NULL, 'i' }, { NULL, 0, NULL, 0 } };
/* clang-format on */

/* Adds r to the set unless present; -1 when the set is full. */
static int
add_role(const char **roles, size_t *n, const char *r)
{
	size_t i;

	for (i = 0; i < *n; i++)
		if (strcmp(roles[i], r) == 0)
			return 0;
	if (*n == UM_ROLES_MAX) {
		fprintf(stderr, "usermgr-admin: at most %d roles\n", UM_ROLES_MAX);
		return -1;
	}
	roles[(*n)++] = r;
	return 0;
}

/* create-user's command line. */
struct create_args {
	const char *username, *email, *pwfile;
	const char *roles[UM_ROLES_MAX];
	size_t      nroles;
	int         verified, if_absent;
};

/* Reads create-user's options into a; EXIT_USAGE (after the usage text) or 0. */
static int
create_args(int argc, char **argv, struct create_args *a)
{
	int ch;

	memset(a, 0, sizeof(*a));
	optind = 1;
	while ((ch = getopt_long(argc, argv, "", create_opts, NULL)) != -1) {
		switch (ch) {
		case 'u': a->username = optarg; break;
		case 'e': a->email = optarg; break;
		case 'p': a->pwfile = optarg; break;
		case 'r':
			if (add_role(a->roles, &a->nroles, optarg) != 0)
				return EXIT_USAGE;
			break;
		case 'v': a->verified = 1; break;
		case 'i': a->if_absent = 1; break;
		default: usage(); return EXIT_USAGE;
		}
	}
	if (optind != argc || a->username == NULL || a->email == NULL) {
		usage();
		return EXIT_USAGE;
	}
	return 0;
}

/* The --if-absent answer: the user exists, which is what the caller wanted. */
static int
exists(const char *username)
{
	fprintf(stderr, "usermgr-admin: user %s exists; nothing to do\n", username);
	puts("exists");
	return EXIT_SUCCESS;
}

/*
 * Every account holds the role `user`; --role adds more.  With --if-absent an existing
 * username is success (the bootstrap admin of deploy/local/run).  The one word on stdout,
 * `created` or `exists`, is for scripts; messages go to stderr.  Input is checked by the
 * API's validators and the account made by the admin API's service (directory_create).
 */
static int
cmd_create_user(struct cli *x, int argc, char **argv)
{
	struct create_args a;
	struct new_account na;
	struct user        u;
	char               hash[PASSWORD_HASH_MAX];
	const char        *unknown;
	char              *pw;
	long long          id;
	int                ret;
	enum um_err        rc;

	if ((ret = create_args(argc, argv, &a)) != 0)
		return ret;
	memset(&na, 0, sizeof(na));
	if ((na.username = check_field(x, "usermgr-admin: create-user", "username",
	         validate_username, a.username)) == NULL ||
	    (na.email = check_field(x, "usermgr-admin: create-user", "e-mail address",
	         validate_email, a.email)) == NULL)
		return EXIT_USAGE;
	if (a.if_absent) {
		if ((rc = user_by_login(x->db, x->a, na.username, &u)) == UM_OK)
			return exists(na.username);
		if (rc != UM_ENOTFOUND)
			return db_failed("create-user", rc);
	}
	if ((pw = read_password(x->a, &x->conf, na.username, a.pwfile)) == NULL)
		return EXIT_USAGE;
	rc = password_hash(&x->conf, pw, strlen(pw), hash);
	explicit_bzero(pw, strlen(pw));
	free(pw);
	if (rc != UM_OK) {
		fprintf(stderr,
		    "usermgr-admin: cannot hash the password "
		    "(check USERMGR_ARGON2_*)\n");
		return EXIT_FAILURE;
	}
	na.password_hash = hash;
	na.verified = a.verified;
	na.roles = a.roles;
	na.nroles = a.nroles;
	na.event = AUDIT_USER_CREATED;
	rc = directory_create(&x->ctx, &na, &id, &unknown);
	explicit_bzero(hash, sizeof(hash));
	switch (rc) {
	case UM_OK:
		fprintf(stderr, "usermgr-admin: created user %s (id %lld)\n", na.username, id);
		puts("created");
		return EXIT_SUCCESS;
	case UM_EINVAL: unknown_role("create-user", unknown); return EXIT_FAILURE;
	case UM_ECONFLICT:
		/* Another process may have created it between the check and the insert. */
		if (a.if_absent && user_by_login(x->db, x->a, na.username, &u) == UM_OK)
			return exists(na.username);
		fprintf(stderr, "usermgr-admin: create-user: %s: the %s taken\n",
		    um_errcode(rc), taken_what(x, na.username, na.email));
		return EXIT_FAILURE;
	default: return db_failed("create-user", rc);
	}
}

/*
 * Replaces the user's roles through the admin API's service: tokens issued with the old
 * roles die (token_version), and so do browser sessions and refresh families (DECISIONS.md,
 * Admin area).
 */
static int
cmd_set_roles(struct cli *x, int argc, char **argv)
{
	const char *roles[UM_ROLES_MAX], *unknown;
	struct user u;
	size_t      nroles = 0;
	int         i;
	enum um_err rc;

	if (argc < 3) {
		usage();
		return EXIT_USAGE;
	}
	for (i = 2; i < argc; i++)
		if (add_role(roles, &nroles, argv[i]) != 0)
			return EXIT_USAGE;
	if ((rc = find_user(x, "set-roles", argv[1], &u)) != UM_OK)
		return rc == UM_ENOTFOUND ? EXIT_FAILURE : db_failed("set-roles", rc);
	rc = directory_set_roles(&x->ctx, &u, roles, nroles, &unknown);
	if (rc == UM_EINVAL) {
		unknown_role("set-roles", unknown);
		return EXIT_FAILURE;
	}
	if (rc != UM_OK)
		return db_failed("set-roles", rc);
	fprintf(stderr, "usermgr-admin: roles of %s set\n", u.username);
	return EXIT_SUCCESS;
}

/*
 * disable: status, token_version, sessions and refresh families in one transaction, so
 * every session and token of the user dies at once (API.md §7).  enable: back to active.
 * Both are the admin API's services.
 */
static int
set_status(struct cli *x, int argc, char **argv, int disable)
{
	struct user u;
	const char *cmd = disable ? "disable" : "enable";
	int         was_disabled;
	enum um_err rc;

	if (argc != 2) {
		usage();
		return EXIT_USAGE;
	}
	if ((rc = find_user(x, cmd, argv[1], &u)) != UM_OK)
		return rc == UM_ENOTFOUND ? EXIT_FAILURE : db_failed(cmd, rc);
	was_disabled = strcmp(u.status, "disabled") == 0;
	rc = disable ? directory_disable(&x->ctx, &u) : directory_enable(&x->ctx, &u);
	if (rc != UM_OK)
		return db_failed(cmd, rc);
	fprintf(stderr, "usermgr-admin: %s %s%s\n", u.username,
	    disable ? "disabled" : "enabled",
	    was_disabled == disable ? " (it already was)" : "");
	return EXIT_SUCCESS;
}

static int
cmd_disable(struct cli *x, int argc, char **argv)
{
	return set_status(x, argc, argv, 1);
}

static int
cmd_enable(struct cli *x, int argc, char **argv)
{
	return set_status(x, argc, argv, 0);
}

#define PROGRESS_SECONDS 0.25 /* at most four progress lines a second */

/* The progress line of an import, drawn only when stderr is a terminal. */
struct progress {
	int             on;    /* stderr is a terminal */
	int             shown; /* a progress line is on the screen now */
	struct timespec start;
	double first;       /* seconds after start of the first row (a table is sorted first) */
	double last;        /* seconds after start of the line on the screen */
	unsigned long rows; /* read so far */
};

/* One import-legacy run: the source, the bulk writer, and what the operator sees. */
struct import_run {
	struct cli     *x;
	struct legacy  *src;
	struct import  *im;
	struct progress p;
};

static double
seconds_since(const struct timespec *t0)
{
	struct timespec now;

	(void)clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - t0->tv_sec) + (double)(now.tv_nsec - t0->tv_nsec) / 1e9;
}

/* Takes the progress line off the screen, so that a message or the summary takes its place. */
static void
progress_clear(struct progress *p)
{
	if (!p->shown)
		return;
	fputs("\r\033[K", stderr); /* to the start of the line, then erase it */
	p->shown = 0;
}

/*
 * Redraws the progress line in place: rows read, rows a second, and the time left by how
 * much of the source was read (legacy_done), both timed from the first row: a table's rows
 * come only after the server sorted it all.  At most every PROGRESS_SECONDS unless final.
 */
static void
progress_show(struct progress *p, const struct legacy *src, int final)
{
	double        t, done;
	unsigned long left;
	char          eta[32];

	if (!p->on)
		return;
	t = seconds_since(&p->start);
	if (p->rows == 1)
		p->first = p->last = t;
	if (t - p->last < PROGRESS_SECONDS && !final)
		return;
	p->last = t;
	t -= p->first;
	done = legacy_done(src);
	if (done <= 0 || t <= 0)
		(void)snprintf(eta, sizeof(eta), "?");
	else {
		left = (unsigned long)(t * (1 - done) / done + 0.5);
		(void)snprintf(eta, sizeof(eta), "%lu:%02lu:%02lu", left / 3600, left / 60 % 60,
		    left % 60);
	}
	fprintf(stderr, "\r\033[Kusermgr-admin: import-legacy: %lu rows, %.0f rows/s, %s left",
	    p->rows, t > 0 ? (double)p->rows / t : 0.0, eta);
	p->shown = 1;
}

/* import_report_fn: a taken or invalid row, by position (never its content). */
static void
report_row(void *arg, const struct import_report *r)
{
	struct import_run *run = arg;
	const char        *unit = legacy_unit(run->src);

	progress_clear(&run->p);
	if (r->outcome == IMPORT_INVALID)
		fprintf(stderr, "%s %lu: %s: %s\n", unit, r->pos, um_errcode(UM_EINVAL),
		    r->message);
	else
		fprintf(stderr, "%s %lu: %s: the %s taken\n", unit, r->pos,
		    um_errcode(UM_ECONFLICT), taken_phrase(r->username_taken, r->email_taken));
}

/*
 * Hands one seed-app user (API.md §6-7) to the bulk import, checked by the API's validators
 * as today: the SHA-256 hex becomes the stored hash as is, so password_verify() accepts the
 * old password once and the login re-hashes it with Argon2id.  A refused row is reported in
 * its turn and skipped.  Fails only when the database does.
 */
static enum um_err
import_row(struct cli *x, struct import *im, struct legacy_row *row)
{
	const char *username, *email, *why;

	if (row->error != NULL)
		return import_reject(im, row->pos, row->error);
	if ((username = field_ok(x, "username", validate_username, row->username, &why)) ==
	        NULL ||
	    (email = field_ok(x, "e-mail address", validate_email, row->email, &why)) == NULL ||
	    (why = legacy_check(row)) != NULL)
		return import_reject(im, row->pos, why);
	return import_add(im, row->pos, username, email, row->password_sha256, row->verified);
}

/* A batch could not be written: where a re-run picks up, and why. */
static int
import_failed(struct import_run *run, enum um_err rc)
{
	progress_clear(&run->p);
	fprintf(stderr,
	    "usermgr-admin: import-legacy: %s %lu and after not imported (run again with "
	    "--if-absent to go on)\n",
	    legacy_unit(run->src), import_pending(run->im));
	return db_failed("import-legacy", rc);
}

/*
 * Feeds every row of the source to the import, then writes the last batch — also when the
 * source failed half-way, so that what was read is not lost.  -1 when either failed.
 */
static int
import_all(struct import_run *run)
{
	struct legacy_row row;
	char              err[256];
	enum um_err       rc, src;

	while ((src = legacy_next(run->src, &row, err, sizeof(err))) == UM_OK) {
		arena_reset(run->x->a);
		run->p.rows++;
		if ((rc = import_row(run->x, run->im, &row)) != UM_OK) {
			(void)import_failed(run, rc);
			return -1;
		}
		progress_show(&run->p, run->src, 0);
	}
	/* The last line drawn is the whole count: a pty sees one line even of a short run. */
	if ((rc = import_finish(run->im)) != UM_OK)
		(void)import_failed(run, rc);
	else
		progress_show(&run->p, run->src, 1);
	if (src != UM_ENOTFOUND) {
		progress_clear(&run->p);
		fprintf(stderr, "usermgr-admin: %s\n", err);
	}
	return rc == UM_OK && src == UM_ENOTFOUND ? 0 : -1;
}

/* The last line, which scripts and tests read: the first three counts as before bulk import. */
static void
import_summary(struct import_run *run)
{
	const unsigned long *c = run->im != NULL ? import_counts(run->im) : NULL;
	unsigned long        n[IMPORT__MAX] = { 0 }, rows = 0;
	double               t = seconds_since(&run->p.start);
	int                  i;

	for (i = 0; c != NULL && i < IMPORT__MAX; i++)
		rows += n[i] = c[i];
	progress_clear(&run->p);
	fprintf(stderr,
	    "usermgr-admin: import-legacy: %lu imported, %lu taken, %lu invalid, %lu present; "
	    "%lu rows in %.1f s (%.0f rows/s)\n",
	    n[IMPORT_IMPORTED], n[IMPORT_TAKEN], n[IMPORT_INVALID], n[IMPORT_PRESENT], rows, t,
	    t > 0 ? (double)rows / t : 0.0);
}

/* clang-format off: a table read by columns */
static const struct option import_opts[] = { { "dsn", required_argument, NULL, 'd' },
	{ "if-absent", no_argument, NULL, 'i' }, { NULL, 0, NULL, 0 } };
/* clang-format on */

/* Opens the source named on import-legacy's command line; NULL after a message. */
static struct legacy *
import_source(struct cli *x, const char *file, const char *dsn)
{
	struct legacy *src;
	char           err[256];

	src = dsn != NULL ? legacy_open_dsn(dsn, getenv("USERMGR_LEGACY_DB_PASSWORD"), &x->conf,
	                        err, sizeof(err)) :
	                    legacy_open_csv(file, err, sizeof(err));
	/* Only a terminal shows the progress, and only the progress needs the size. */
	if (src != NULL && isatty(STDERR_FILENO) &&
	    legacy_measure(src, err, sizeof(err)) != UM_OK) {
		legacy_close(src);
		src = NULL;
	}
	if (src == NULL)
		fprintf(stderr, "usermgr-admin: %s%s\n", dsn != NULL ? "--dsn: " : "", err);
	return src;
}

/*
 * import-legacy [--if-absent] FILE.csv | --dsn URL (API.md §6-7), a batch of rows per
 * transaction (import.c).  A password not in the URL (so not in ps) comes from
 * $USERMGR_LEGACY_DB_PASSWORD.
 */
static int
cmd_import_legacy(struct cli *x, int argc, char **argv)
{
	struct import_run run;
	const char       *dsn = NULL, *file = NULL;
	int               ch, if_absent = 0, rc = -1;
	enum um_err       e;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "", import_opts, NULL)) != -1) {
		switch (ch) {
		case 'd': dsn = optarg; break;
		case 'i': if_absent = 1; break;
		default: usage(); return EXIT_USAGE;
		}
	}
	if (optind < argc)
		file = argv[optind++];
	if (optind != argc || (file == NULL) == (dsn == NULL)) {
		usage();
		return EXIT_USAGE;
	}
	memset(&run, 0, sizeof(run));
	run.x = x;
	run.p.on = isatty(STDERR_FILENO);
	(void)clock_gettime(CLOCK_MONOTONIC, &run.p.start);
	if ((run.src = import_source(x, file, dsn)) != NULL) {
		if ((e = import_start(&x->ctx, if_absent, report_row, &run, &run.im)) != UM_OK)
			(void)db_failed("import-legacy", e);
		else
			rc = import_all(&run);
	}
	import_summary(&run);
	import_free(run.im);
	legacy_close(run.src);
	return rc == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

#define WRAP_ARG_MAX 1000000000 /* wrap-legacy's --limit and --per-second */

/* clang-format off: a table read by columns */
static const struct option wrap_opts[] = { { "limit", required_argument, NULL, 'l' },
	{ "per-second", required_argument, NULL, 'r' }, { NULL, 0, NULL, 0 } };
/* clang-format on */

/* Reads wrap-legacy's options (0: no limit, no pace); EXIT_USAGE after a message, or 0. */
static int
wrap_args(int argc, char **argv, unsigned *limit, unsigned *rate)
{
	int ch;

	*limit = 0;
	*rate = 0;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "", wrap_opts, NULL)) != -1) {
		if (ch != 'l' && ch != 'r') {
			usage();
			return EXIT_USAGE;
		}
		if (conf_parse_uint(optarg, 1, WRAP_ARG_MAX, ch == 'l' ? limit : rate) != 0) {
			fprintf(stderr, "usermgr-admin: wrap-legacy: --%s must be 1 to %u\n",
			    ch == 'l' ? "limit" : "per-second", WRAP_ARG_MAX);
			return EXIT_USAGE;
		}
	}
	if (optind != argc) {
		usage();
		return EXIT_USAGE;
	}
	return 0;
}

/* Waits until the pace has a hash due; returns how many are, at most want. */
static size_t
paced(struct legacywrap_pace *pace, size_t want)
{
	struct timespec now, ts;
	size_t          due;

	for (;;) {
		(void)clock_gettime(CLOCK_MONOTONIC, &now);
		if ((due = legacywrap_pace_due(pace, &now)) > 0)
			return due < want ? due : want;
		/* Less than one hash of credit: at most 1/rate s until the next one. */
		ts.tv_sec = 0;
		ts.tv_nsec = 1000000000L / (long)pace->per_second;
		while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
			;
	}
}

/*
 * wrap-legacy: one pass over the users whose hash is still the seed app's bare SHA-256, in
 * id order, replacing each with its Argon2id wrapping (legacywrap.c; docs/DATABASE.md "Legacy
 * import"); --limit stops after N are wrapped, --per-second keeps to R hashes a second (by
 * default as fast as one core hashes).  The mailer does the same in the background at
 * USERMGR_LEGACY_WRAP_PER_SECOND.  Users mailed a reset link in the last hour stay bare
 * until a later run.
 */
static int
cmd_wrap_legacy(struct cli *x, int argc, char **argv)
{
	struct legacywrap_pace pace;
	unsigned long long     done = 0, left = 0;
	unsigned               limit, rate;
	long long              after = 0;
	size_t                 want, seen, n;
	int                    ret;
	enum um_err            rc;

	if ((ret = wrap_args(argc, argv, &limit, &rate)) != 0)
		return ret;
	legacywrap_pace_init(&pace, rate);
	do {
		arena_reset(x->a);
		want = LEGACYWRAP_BATCH;
		if (limit > 0 && limit - done < want)
			want = (size_t)(limit - done);
		if (want > 0 && rate > 0)
			want = paced(&pace, want);
		rc = legacywrap_batch(&x->ctx, &after, want, &seen, &n);
		legacywrap_pace_spend(&pace, seen);
		done += n;
	} while (rc == UM_OK && want > 0 && seen == want);
	if (rc == UM_OK)
		rc = legacywrap_left(&x->ctx, &left);
	fprintf(stderr, "usermgr-admin: wrap-legacy: %llu wrapped, %llu still bare\n", done,
	    left);
	/* password_wrap_legacy's answer to a cost libsodium refuses. */
	if (rc == UM_EINVAL) {
		fprintf(stderr,
		    "usermgr-admin: wrap-legacy: cannot hash (check USERMGR_ARGON2_*)\n");
		return EXIT_FAILURE;
	}
	return rc == UM_OK ? EXIT_SUCCESS : db_failed("wrap-legacy", rc);
}

/*
 * prune: deletes the accounts left unverified past USERMGR_UNVERIFIED_DAYS, so an address
 * signed up by someone who does not own it is free again (deploy/systemd/usermgr-prune.timer
 * runs it daily).
 */
static int
cmd_prune(struct cli *x, int argc, char **argv)
{
	unsigned long long n, old;
	enum um_err        rc;

	(void)argv;
	if (argc != 1) {
		usage();
		return EXIT_USAGE;
	}
	/* The mailer's periodic work too (DECISIONS.md, Pruning): one command does all of it. */
	if ((rc = retention_prune(x->db, x->a, &x->conf, &old)) != UM_OK ||
	    (rc = account_prune_unverified(&x->ctx, x->conf.unverified_days, &n)) != UM_OK) {
		fprintf(stderr, "usermgr-admin: prune: %s\n", um_errcode(rc));
		return EXIT_FAILURE;
	}
	fprintf(stderr,
	    "usermgr-admin: prune: %llu unverified account(s) older than %u days deleted, "
	    "%llu expired row(s) of mail, counters and failed logins\n",
	    n, x->conf.unverified_days, old);
	return EXIT_SUCCESS;
}

/*
 * explain: MariaDB's plan for every statement shape of the admin user search, as JSON on
 * stdout — what to look at when a list is slow on a large database (docs/DATABASE.md).
 */
static int
cmd_explain(struct cli *x, int argc, char **argv)
{
	json_t     *plans;
	enum um_err rc;

	(void)argv;
	if (argc != 1) {
		usage();
		return EXIT_USAGE;
	}
	if ((rc = directory_explain(x->db, x->a, &plans)) != UM_OK) {
		fprintf(stderr, "usermgr-admin: explain: %s\n", um_errcode(rc));
		return EXIT_FAILURE;
	}
	(void)json_dumpf(plans, stdout, JSON_INDENT(2));
	putchar('\n');
	json_decref(plans);
	return EXIT_SUCCESS;
}

/* Prints v (stolen) as indented JSON on stdout. */
static void
print_json(json_t *v)
{
	(void)json_dumpf(v, stdout, JSON_INDENT(2));
	putchar('\n');
	json_decref(v);
}

static const struct option client_opts[] = { { "name", required_argument, NULL, 'n' },
	{ "redirect-uri", required_argument, NULL, 'r' },
	{ "post-logout-uri", required_argument, NULL, 'l' },
	{ "public", no_argument, NULL, 'p' }, { "scope", required_argument, NULL, 's' },
	{ "skip-consent", no_argument, NULL, 'k' }, { NULL, 0, NULL, 0 } };

/* client add: the admin API's body built from options, checked by the same code. */
static int
client_add(struct cli *x, int argc, char **argv)
{
	json_t            *body = json_pack("{s:[], s:[], s:s}", "redirect_uris",
	               "post_logout_redirect_uris", "type", "confidential");
	json_t            *scopes = NULL, *errors, *e, *out;
	struct oidc_client c;
	const char        *secret;
	size_t             i;
	int                o;
	enum um_err        rc;

	optind = 1;
	while ((o = getopt_long(argc, argv, "", client_opts, NULL)) != -1) {
		switch (o) {
		case 'n': json_object_set_new(body, "name", json_string(optarg)); break;
		case 'r':
			json_array_append_new(json_object_get(body, "redirect_uris"),
			    json_string(optarg));
			break;
		case 'l':
			json_array_append_new(json_object_get(body,
			                          "post_logout_redirect_uris"),
			    json_string(optarg));
			break;
		case 'p': json_object_set_new(body, "type", json_string("public")); break;
		case 's':
			if (scopes == NULL)
				json_object_set_new(body, "scopes", scopes = json_array());
			json_array_append_new(scopes, json_string(optarg));
			break;
		case 'k': json_object_set_new(body, "skip_consent", json_true()); break;
		default:
			json_decref(body);
			usage();
			return EXIT_USAGE;
		}
	}
	if (optind != argc) {
		json_decref(body);
		usage();
		return EXIT_USAGE;
	}
	if (oidc_client_check(body, 0, &errors) != UM_OK) {
		json_array_foreach(errors, i, e)
		    fprintf(stderr, "usermgr-admin: client add: %s %s\n",
		        json_string_value(json_object_get(e, "field")),
		        json_string_value(json_object_get(e, "message")));
		json_decref(errors);
		json_decref(body);
		return EXIT_FAILURE;
	}
	rc = oidc_client_create(&x->ctx, body, &c, &secret);
	json_decref(body);
	if (rc != UM_OK)
		return db_failed("client add", rc);
	out = oidc_client_json(&c);
	if (secret != NULL)
		json_object_set_new(out, "client_secret", json_string(secret));
	print_json(out);
	return EXIT_SUCCESS;
}

/*
 * client: the OpenID Connect clients, as the admin API manages them (docs/OIDC.md).  A
 * missing client is exit status 1 with a message naming it.
 */
static int
cmd_client(struct cli *x, int argc, char **argv)
{
	struct oidc_client c;
	const char        *secret;
	json_t            *list, *out;
	enum um_err        rc;

	if (argc >= 2 && strcmp(argv[1], "add") == 0)
		return client_add(x, argc - 1, argv + 1);
	if (argc == 2 && strcmp(argv[1], "list") == 0) {
		if ((rc = oidc_client_list(&x->ctx, &list)) != UM_OK)
			return db_failed("client list", rc);
		print_json(json_pack("{s:o}", "clients", list));
		return EXIT_SUCCESS;
	}
	if (argc != 3 ||
	    (strcmp(argv[1], "show") != 0 && strcmp(argv[1], "rotate-secret") != 0 &&
	        strcmp(argv[1], "remove") != 0)) {
		usage();
		return EXIT_USAGE;
	}
	if (strcmp(argv[1], "show") == 0)
		rc = oidc_client_get(&x->ctx, argv[2], &c);
	else if (strcmp(argv[1], "remove") == 0)
		rc = oidc_client_delete(&x->ctx, argv[2]);
	else if ((rc = oidc_client_rotate_secret(&x->ctx, argv[2], &secret)) == UM_OK)
		rc = oidc_client_get(&x->ctx, argv[2], &c);
	if (rc == UM_ENOTFOUND) {
		fprintf(stderr, "usermgr-admin: client %s: not_found: no client %s\n", argv[1],
		    argv[2]);
		return EXIT_FAILURE;
	}
	if (rc == UM_EINVAL) {
		fprintf(stderr,
		    "usermgr-admin: client rotate-secret: %s is public: it has no "
		    "secret\n",
		    argv[2]);
		return EXIT_FAILURE;
	}
	if (rc != UM_OK)
		return db_failed("client", rc);
	if (strcmp(argv[1], "remove") == 0) {
		fprintf(stderr, "usermgr-admin: client %s removed; its tokens are revoked\n",
		    argv[2]);
		return EXIT_SUCCESS;
	}
	out = oidc_client_json(&c);
	if (strcmp(argv[1], "rotate-secret") == 0)
		json_object_set_new(out, "client_secret", json_string(secret));
	print_json(out);
	return EXIT_SUCCESS;
}

/*
 * rotate-signing-key: a new ES256 key signs ID tokens from now on; the old public key stays
 * in the JWKS for the lifetime of the last ID token it signed (USERMGR_ACCESS_TOKEN_SECONDS,
 * plus a minute of clock skew).
 */
static int
cmd_rotate_signing_key(struct cli *x, int argc, char **argv)
{
	const char *kid;
	enum um_err rc;

	(void)argv;
	if (argc != 1) {
		usage();
		return EXIT_USAGE;
	}
	if ((rc = signkey_rotate(&x->ctx, x->conf.access_token_seconds + 60, &kid)) != UM_OK)
		return db_failed("rotate-signing-key", rc);
	(void)audit_log(&x->ctx, AUDIT_SIGNING_KEY_ROTATED, 0, 0,
	    json_pack("{s:s}", "kid", kid));
	printf("%s\n", kid);
	fprintf(stderr, "usermgr-admin: ID tokens are signed with key %s from now on\n", kid);
	return EXIT_SUCCESS;
}

/* clang-format off: a table read by columns */
static const struct command {
	const char *name;
	int (*fn)(struct cli *, int, char **);
	int require_keys; /* conf_load's: only the check of the whole config */
} commands[] = {
	{ "migrate", cmd_migrate, 0 },
	{ "check-config", cmd_check_config, 1 },
	{ "create-user", cmd_create_user, 0 },
	{ "set-roles", cmd_set_roles, 0 },
	{ "disable", cmd_disable, 0 },
	{ "enable", cmd_enable, 0 },
	{ "import-legacy", cmd_import_legacy, 0 },
	{ "wrap-legacy", cmd_wrap_legacy, 0 },
	{ "prune", cmd_prune, 0 },
	{ "explain", cmd_explain, 0 },
	{ "client", cmd_client, 0 },
	{ "rotate-signing-key", cmd_rotate_signing_key, 0 },
};
/* clang-format on */

int
main(int argc, char *argv[])
{
	const struct command *cmd = NULL;
	struct cli            x;
	char                  err[512];
	size_t                i;
	int                   ret = EXIT_FAILURE;

	memset(&x, 0, sizeof(x));
	if (argc < 2) {
		usage();
		return EXIT_USAGE;
	}
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(argv[1], commands[i].name) == 0)
			cmd = &commands[i];
	if (cmd == NULL) {
		if (strcmp(argv[1], "-h") != 0 && strcmp(argv[1], "--help") != 0)
			fprintf(stderr, "usermgr-admin: unknown command %s\n", argv[1]);
		usage();
		return EXIT_USAGE;
	}
	if (conf_load(&x.conf, env, cmd->require_keys, err, sizeof(err)) != UM_OK) {
		fprintf(stderr, "usermgr-admin: %s\n", err);
		goto out;
	}
	/*
	 * Migrations alone connect with the migration account, when there is one: the workers'
	 * account may only read and write rows (docs/DEPLOY.md).
	 */
	x.dbconf = x.conf;
	if (cmd->fn == cmd_migrate && x.conf.db_migrate_user != NULL) {
		x.dbconf.db_user = x.conf.db_migrate_user;
		x.dbconf.db_password = x.conf.db_migrate_password;
	}
	if ((x.db = db_open(&x.dbconf)) == NULL)
		goto out;
	/* An index over a million users takes longer than a request may wait. */
	if (cmd->fn == cmd_migrate)
		db_set_timeout(x.db, MIGRATE_TIMEOUT_S);
	x.a = arena_new();
	x.ctx.arena = x.a;
	x.ctx.db = x.db;
	x.ctx.conf = &x.conf;
	x.ctx.via = "usermgr-admin";
	x.ctx.cache = x.cache = workers_cache(&x.conf);
	ret = cmd->fn(&x, argc - 1, argv + 1);
	/* What the command committed (a failed one's notes only cost a read again). */
	fastpath_apply_notes(&x.ctx);
	wait_for_workers(&x);
out:
	cache_close(x.cache);
	arena_free(x.a);
	db_close(x.db);
	conf_free(&x.conf);
	return ret;
}
