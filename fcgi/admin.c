/* admin: usermgr-admin — migrations, config check, accounts, legacy import (API.md §6). */
#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "app.h"
#include "arena.h"
#include "conf.h"
#include "db.h"
#include "dsn.h"
#include "bounds.h"
#include "log.h"
#include "migrate.h"
#include "password.h"
#include "session.h"
#include "utf8.h"
#include "validate.h"

#define EXIT_USAGE	2
#define ROLES_MAX	32		/* --role options / set-roles arguments */
#define SECRET_MAX	4096		/* bytes read from --password-file */
#define CSV_LINE_MAX	8192		/* one line of an import file */
#define CSV_HEADER	"username,email,password_sha256,verified"

static const char sql_user_id[] = "SELECT id, status FROM users WHERE username = ?";
static const char sql_user_lock[] = "SELECT id, status FROM users WHERE username = ? FOR UPDATE";
static const char sql_taken[] =
    "SELECT SUM(username = ?), SUM(email = ?) FROM users WHERE username = ? OR email = ?";
static const char sql_user_insert[] =
    "INSERT INTO users (username, email, password_hash, email_verified_at, created_at,"
    " updated_at, password_changed_at) VALUES (?, ?, ?, IF(? <> 0, UTC_TIMESTAMP(6), NULL),"
    " UTC_TIMESTAMP(6), UTC_TIMESTAMP(6), UTC_TIMESTAMP(6))";
static const char sql_grant[] =
    "INSERT INTO user_roles (user_id, role_id, granted_at)"
    " SELECT ?, id, UTC_TIMESTAMP(6) FROM roles WHERE name = ?";
static const char sql_revoke_roles[] = "DELETE FROM user_roles WHERE user_id = ?";
static const char sql_bump[] =
    "UPDATE users SET token_version = token_version + 1, updated_at = UTC_TIMESTAMP(6)"
    " WHERE id = ?";
static const char sql_disable[] =
    "UPDATE users SET status = 'disabled', token_version = token_version + 1,"
    " updated_at = UTC_TIMESTAMP(6) WHERE id = ?";
static const char sql_enable[] =
    "UPDATE users SET status = 'active', failed_logins = 0, locked_until = NULL,"
    " updated_at = UTC_TIMESTAMP(6) WHERE id = ?";
static const char sql_end_sessions[] = "DELETE FROM sessions WHERE user_id = ?";
static const char sql_end_families[] =
    "UPDATE refresh_families SET revoked_at = UTC_TIMESTAMP(6), revoke_reason = ?"
    " WHERE user_id = ? AND revoked_at IS NULL";
static const char sql_end_tokens[] =
    "UPDATE refresh_tokens SET revoked_at = UTC_TIMESTAMP(6)"
    " WHERE user_id = ? AND revoked_at IS NULL";
static const char sql_audit[] =
    "INSERT INTO audit_events (user_id, actor_id, event, ip, details, created_at)"
    " VALUES (?, NULL, ?, NULL, ?, UTC_TIMESTAMP(6))";

struct ctx {
	struct conf	 conf;
	struct db	*db;
	struct arena	*a;
};

static void
usage(void)
{
	fputs("usage: usermgr-admin migrate\n"
	    "       usermgr-admin check-config [--offline]\n"
	    "       usermgr-admin create-user --username U --email E [--password-file F]\n"
	    "                     [--role R]... [--verified] [--if-absent]\n"
	    "                     (without --password-file the password is $USERMGR_NEW_PASSWORD)\n"
	    "       usermgr-admin set-roles USERNAME ROLE...\n"
	    "       usermgr-admin disable USERNAME\n"
	    "       usermgr-admin enable USERNAME\n"
	    "       usermgr-admin import-legacy FILE.csv | --dsn mariadb://USER@HOST/DB[?table=T]\n"
	    "                     (a password not in the URL is $USERMGR_LEGACY_DB_PASSWORD)\n"
	    "Configuration comes from the USERMGR_* environment (API.md section 1).\n", stderr);
}

/* conf_getenv_fn wants a const result; getenv's is not. */
static const char *
env(const char *name)
{
	return getenv(name);
}

static int
is_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* API.md §2: 3–32 characters of A–Z a–z 0–9 . _ - */
static int
valid_username(const char *s)
{
	size_t	 n;

	for (n = 0; s[n] != '\0'; n++)
		if (!is_alnum(s[n]) && s[n] != '.' && s[n] != '_' && s[n] != '-')
			return 0;
	return n >= UM_USERNAME_MIN && n <= UM_USERNAME_MAX;
}

/* API.md §7: new role names match [a-z][a-z0-9_-]{1,31}. */
static int
valid_role(const char *s)
{
	size_t	 n;

	if (!(s[0] >= 'a' && s[0] <= 'z'))
		return 0;
	for (n = 1; s[n] != '\0'; n++)
		if (!((s[n] >= 'a' && s[n] <= 'z') || (s[n] >= '0' && s[n] <= '9') ||
		    s[n] == '_' || s[n] == '-'))
			return 0;
	return n >= 2 && n <= 32;
}

/* The address as sign-up takes it (validate_email: trimmed, checked, domain lower-cased), or NULL. */
static char *
normalise_email(struct arena *a, const char *in)
{
	struct field_result	 r;

	return validate_email(a, NULL, in, strlen(in), &r) == UM_OK ? (char *)r.val : NULL;
}

/*
 * The new account's password: --password-file's content minus one trailing newline (the
 * X_FILE rule of API.md §7), else $USERMGR_NEW_PASSWORD.  Returns a malloc'd copy or NULL
 * with a message; never prints the password.
 */
static char *
read_password(struct arena *a, const struct conf *c, const char *username, const char *file)
{
	struct validate_ctx	 vctx;
	struct field_result	 r;
	char		*pw = NULL;
	const char	*src;
	FILE		*f;
	size_t		 n, cap;
	long		 cp;

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
			fprintf(stderr, "usermgr-admin: give --password-file or set "
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
		fprintf(stderr, "usermgr-admin: the password must be valid UTF-8 of %u to %d "
		    "characters\n", c->password_min_length, UM_PASSWORD_MAX);
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

static enum um_err
audit(struct ctx *x, long long uid, const char *event, json_t *details)
{
	struct db_val	 p[3];
	char		*js;
	enum um_err	 rc;

	if (json_object_set_new(details, "via", json_string("usermgr-admin")) != 0 ||
	    (js = json_dumps(details, JSON_COMPACT)) == NULL) {
		json_decref(details);
		return UM_EINTERNAL;
	}
	json_decref(details);
	p[0] = DBV_INT(uid);
	p[1] = DBV_TEXT(event);
	p[2] = DBV_TEXT(js);
	rc = db_exec(x->db, x->a, sql_audit, p, 3, NULL);
	free(js);
	return rc;
}

/* Grants roles[0..n) to uid; UM_EINVAL (after a message) when one does not exist. */
static enum um_err
grant_roles(struct ctx *x, long long uid, char *const *roles, size_t n)
{
	struct db_val	 p[2];
	struct db_res	 res;
	size_t		 i;
	enum um_err	 rc = UM_OK;

	for (i = 0; i < n; i++) {
		p[0] = DBV_INT(uid);
		p[1] = DBV_TEXT(roles[i]);
		if ((rc = db_exec(x->db, x->a, sql_grant, p, 2, &res)) != UM_OK)
			break;
		if (res.affected == 0) {
			fprintf(stderr, "usermgr-admin: no role named %s\n", roles[i]);
			rc = UM_EINVAL;
			break;
		}
	}
	return rc;
}

static json_t *
roles_json(char *const *roles, size_t n)
{
	json_t	*arr = json_array();
	size_t	 i;

	for (i = 0; i < n; i++)
		(void)json_array_append_new(arr, json_string(roles[i]));
	return json_pack("{s:o}", "roles", arr);
}

/*
 * Creates one account with its roles and an audit event, all in one transaction.
 * UM_ECONFLICT when the username or address is taken.
 */
static enum um_err
insert_user(struct ctx *x, const char *username, const char *email, const char *hash,
    int verified, char *const *roles, size_t nroles, const char *event, long long *id)
{
	struct db_val	 p[4];
	struct db_res	 res;
	enum um_err	 rc;

	if ((rc = db_begin(x->db)) != UM_OK)
		goto out;
	p[0] = DBV_TEXT(username);
	p[1] = DBV_TEXT(email);
	p[2] = DBV_TEXT(hash);
	p[3] = DBV_INT(verified);
	if ((rc = db_exec(x->db, x->a, sql_user_insert, p, 4, &res)) != UM_OK)
		goto fail;
	*id = (long long)res.insert_id;
	if ((rc = grant_roles(x, *id, roles, nroles)) != UM_OK)
		goto fail;
	if ((rc = audit(x, *id, event, roles_json(roles, nroles))) != UM_OK)
		goto fail;
	rc = db_commit(x->db);
	goto out;
fail:
	db_rollback(x->db);
out:
	return rc;
}

/* Which of username / email is taken, for the message (values never printed). */
static const char *
taken_what(struct ctx *x, const char *username, const char *email)
{
	struct db_val	 p[4] = { DBV_TEXT(username), DBV_TEXT(email), DBV_TEXT(username),
			    DBV_TEXT(email) };
	struct db_res	 res;
	int		 u, e;

	if (db_exec(x->db, x->a, sql_taken, p, 4, &res) != UM_OK || res.nrows != 1)
		return "username or e-mail address is";
	u = DB_CELL(&res, 0, 0)->type == DB_INT && DB_CELL(&res, 0, 0)->i > 0;
	e = DB_CELL(&res, 0, 1)->type == DB_INT && DB_CELL(&res, 0, 1)->i > 0;
	if (u && e)
		return "username and e-mail address are";
	return e ? "e-mail address is" : "username is";
}

/* Looks up a user by name: UM_ENOTFOUND when absent; *disabled may be NULL. */
static enum um_err
find_user(struct ctx *x, const char *sql, const char *username, long long *id, int *disabled)
{
	struct db_val	 p[1] = { DBV_TEXT(username) };
	struct db_res	 res;
	enum um_err	 rc;

	if ((rc = db_exec(x->db, x->a, sql, p, 1, &res)) != UM_OK)
		return rc;
	if (res.nrows == 0)
		return UM_ENOTFOUND;
	*id = DB_CELL(&res, 0, 0)->i;
	if (disabled != NULL)
		*disabled = strcmp(DB_CELL(&res, 0, 1)->s, "disabled") == 0;
	return UM_OK;
}

static int
db_failed(const char *what, enum um_err e)
{
	fprintf(stderr, "usermgr-admin: %s: %s\n", what, e == UM_EUNAVAIL ?
	    "the database cannot be reached" : um_strerror(e));
	return EXIT_FAILURE;
}

static int
cmd_migrate(struct ctx *x, int argc, char **argv)
{
	enum um_err	 rc;
	int		 n = 0;

	if (argc != 1) {
		usage();
		return EXIT_USAGE;
	}
	if ((rc = migrate_run(x->db, x->conf.sql_dir, &n)) != UM_OK) {
		fprintf(stderr, "usermgr-admin: migrate: %d applied before the failure\n", n);
		return db_failed("migrate", rc);
	}
	fprintf(stderr, "usermgr-admin: migrate: %d migration%s applied\n", n, n == 1 ? "" : "s");
	return EXIT_SUCCESS;
}

static int
is_dir(const char *p)
{
	struct stat	 st;

	return p != NULL && stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static int
cmd_check_config(struct ctx *x, int argc, char **argv)
{
	struct app	 app;
	char		 h[PASSWORD_HASH_MAX], err[512], num[16];
	int		 offline = 0, ok = 1;
	enum um_err	 rc;
	size_t		 i;

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
	if (app_init(&app, env, err, sizeof(err)) != UM_OK) {
		fprintf(stderr, "usermgr-admin: a worker would not start: %s\n", err);
		ok = 0;
	} else
		app_free(&app);
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
		printf("%s=%s\n", conf_vars[i].name, conf_show(&x->conf, &conf_vars[i], num,
		    sizeof(num)));
	fflush(stdout);
	fprintf(stderr, "usermgr-admin: check-config: %s\n", ok ? "ok" : "FAILED");
	return ok ? EXIT_SUCCESS : EXIT_FAILURE;
}

static const struct option create_opts[] = {
	{ "username",		required_argument,	NULL,	'u' },
	{ "email",		required_argument,	NULL,	'e' },
	{ "password-file",	required_argument,	NULL,	'p' },
	{ "role",		required_argument,	NULL,	'r' },
	{ "verified",		no_argument,		NULL,	'v' },
	{ "if-absent",		no_argument,		NULL,	'i' },
	{ NULL,			0,			NULL,	0 }
};

/* Adds r to the set unless present; -1 when the name is invalid or the set full. */
static int
add_role(char **roles, size_t *n, char *r)
{
	size_t	 i;

	if (!valid_role(r)) {
		fprintf(stderr, "usermgr-admin: %s is not a role name\n", r);
		return -1;
	}
	for (i = 0; i < *n; i++)
		if (strcmp(roles[i], r) == 0)
			return 0;
	if (*n == ROLES_MAX) {
		fprintf(stderr, "usermgr-admin: too many roles\n");
		return -1;
	}
	roles[(*n)++] = r;
	return 0;
}

/*
 * Every account holds the role `user`; --role adds more.  With --if-absent an existing
 * username is success (the bootstrap admin of deploy/local/run).  The one word on stdout,
 * `created` or `exists`, is for scripts; messages go to stderr.
 */
static int
cmd_create_user(struct ctx *x, int argc, char **argv)
{
	char		*roles[ROLES_MAX];
	char		 user_role[] = "user";
	char		 hash[PASSWORD_HASH_MAX];
	const char	*username = NULL, *email_in = NULL, *pwfile = NULL;
	char		*email, *pw = NULL;
	size_t		 nroles = 0;
	long long	 id;
	int		 ch, verified = 0, if_absent = 0, ret = EXIT_FAILURE;
	enum um_err	 rc;

	roles[nroles++] = user_role;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "", create_opts, NULL)) != -1) {
		switch (ch) {
		case 'u':
			username = optarg;
			break;
		case 'e':
			email_in = optarg;
			break;
		case 'p':
			pwfile = optarg;
			break;
		case 'r':
			if (add_role(roles, &nroles, optarg) != 0)
				return EXIT_USAGE;
			break;
		case 'v':
			verified = 1;
			break;
		case 'i':
			if_absent = 1;
			break;
		default:
			usage();
			return EXIT_USAGE;
		}
	}
	if (optind != argc || username == NULL || email_in == NULL) {
		usage();
		return EXIT_USAGE;
	}
	if (!valid_username(username)) {
		fprintf(stderr, "usermgr-admin: a username is 3-32 characters of "
		    "A-Z a-z 0-9 . _ -\n");
		return EXIT_USAGE;
	}
	if ((email = normalise_email(x->a, email_in)) == NULL) {
		fprintf(stderr, "usermgr-admin: not a valid e-mail address\n");
		return EXIT_USAGE;
	}
	if (if_absent) {
		rc = find_user(x, sql_user_id, username, &id, NULL);
		if (rc == UM_OK) {
			fprintf(stderr, "usermgr-admin: user %s exists; nothing to do\n", username);
			puts("exists");
			return EXIT_SUCCESS;
		}
		if (rc != UM_ENOTFOUND)
			return db_failed("create-user", rc);
	}
	if ((pw = read_password(x->a, &x->conf, username, pwfile)) == NULL)
		return EXIT_USAGE;
	rc = password_hash(&x->conf, pw, strlen(pw), hash);
	explicit_bzero(pw, strlen(pw));
	free(pw);
	if (rc != UM_OK) {
		fprintf(stderr, "usermgr-admin: cannot hash the password "
		    "(check USERMGR_ARGON2_*)\n");
		goto out;
	}
	rc = insert_user(x, username, email, hash, verified, roles, nroles, "user_created", &id);
	if (rc == UM_ECONFLICT) {
		/* Another process may have created it between the check and the insert. */
		if (if_absent && find_user(x, sql_user_id, username, &id, NULL) == UM_OK) {
			fprintf(stderr, "usermgr-admin: user %s exists; nothing to do\n", username);
			puts("exists");
			ret = EXIT_SUCCESS;
			goto out;
		}
		fprintf(stderr, "usermgr-admin: create-user: the %s taken\n",
		    taken_what(x, username, email));
		goto out;
	}
	if (rc == UM_EINVAL)
		goto out;
	if (rc != UM_OK) {
		ret = db_failed("create-user", rc);
		goto out;
	}
	fprintf(stderr, "usermgr-admin: created user %s (id %lld)\n", username, id);
	puts("created");
	ret = EXIT_SUCCESS;
out:
	explicit_bzero(hash, sizeof(hash));
	return ret;
}

/*
 * Replaces the user's roles; tokens issued with the old roles die (token_version), and so do
 * browser sessions and refresh families, as with the admin API (DECISIONS.md, Admin area).
 */
static int
cmd_set_roles(struct ctx *x, int argc, char **argv)
{
	char		*roles[ROLES_MAX];
	struct db_val	 p[1];
	size_t		 nroles = 0;
	long long	 id;
	int		 i;
	enum um_err	 rc;

	if (argc < 3) {
		usage();
		return EXIT_USAGE;
	}
	for (i = 2; i < argc; i++)
		if (add_role(roles, &nroles, argv[i]) != 0)
			return EXIT_USAGE;
	if ((rc = db_begin(x->db)) != UM_OK)
		return db_failed("set-roles", rc);
	if ((rc = find_user(x, sql_user_lock, argv[1], &id, NULL)) != UM_OK)
		goto fail;
	p[0] = DBV_INT(id);
	if ((rc = db_exec(x->db, x->a, sql_revoke_roles, p, 1, NULL)) != UM_OK ||
	    (rc = grant_roles(x, id, roles, nroles)) != UM_OK ||
	    (rc = db_exec(x->db, x->a, sql_bump, p, 1, NULL)) != UM_OK ||
	    (rc = session_end_all(x->db, x->a, id, NULL)) != UM_OK ||
	    (rc = audit(x, id, "roles_changed", roles_json(roles, nroles))) != UM_OK)
		goto fail;
	if ((rc = db_commit(x->db)) != UM_OK)
		return db_failed("set-roles", rc);
	fprintf(stderr, "usermgr-admin: roles of %s set\n", argv[1]);
	return EXIT_SUCCESS;
fail:
	db_rollback(x->db);
	if (rc == UM_ENOTFOUND)
		fprintf(stderr, "usermgr-admin: no user named %s\n", argv[1]);
	else if (rc != UM_EINVAL)
		(void)db_failed("set-roles", rc);
	return EXIT_FAILURE;
}

/*
 * disable: status, token_version, sessions and refresh families in one transaction, so
 * every session and token of the user dies at once (API.md §7).  enable: back to active,
 * lockout lifted.
 */
static int
set_status(struct ctx *x, int argc, char **argv, int disable)
{
	struct db_val	 p[2];
	long long	 id;
	int		 was_disabled;
	const char	*cmd = disable ? "disable" : "enable";
	enum um_err	 rc;

	if (argc != 2) {
		usage();
		return EXIT_USAGE;
	}
	if ((rc = db_begin(x->db)) != UM_OK)
		return db_failed(cmd, rc);
	if ((rc = find_user(x, sql_user_lock, argv[1], &id, &was_disabled)) != UM_OK)
		goto fail;
	p[0] = DBV_INT(id);
	if (disable) {
		if ((rc = db_exec(x->db, x->a, sql_disable, p, 1, NULL)) != UM_OK ||
		    (rc = db_exec(x->db, x->a, sql_end_sessions, p, 1, NULL)) != UM_OK ||
		    (rc = db_exec(x->db, x->a, sql_end_tokens, p, 1, NULL)) != UM_OK)
			goto fail;
		p[0] = DBV_TEXT("disabled");
		p[1] = DBV_INT(id);
		if ((rc = db_exec(x->db, x->a, sql_end_families, p, 2, NULL)) != UM_OK)
			goto fail;
	} else if ((rc = db_exec(x->db, x->a, sql_enable, p, 1, NULL)) != UM_OK)
		goto fail;
	if ((rc = audit(x, id, disable ? "user_disabled" : "user_enabled", json_object())) !=
	    UM_OK)
		goto fail;
	if ((rc = db_commit(x->db)) != UM_OK)
		return db_failed(cmd, rc);
	fprintf(stderr, "usermgr-admin: %s %s%s\n", argv[1], disable ? "disabled" : "enabled",
	    was_disabled == disable ? " (it already was)" : "");
	return EXIT_SUCCESS;
fail:
	db_rollback(x->db);
	if (rc == UM_ENOTFOUND)
		fprintf(stderr, "usermgr-admin: no user named %s\n", argv[1]);
	else
		(void)db_failed(cmd, rc);
	return EXIT_FAILURE;
}

static int
cmd_disable(struct ctx *x, int argc, char **argv)
{
	return set_status(x, argc, argv, 1);
}

static int
cmd_enable(struct ctx *x, int argc, char **argv)
{
	return set_status(x, argc, argv, 0);
}

/*
 * Splits one CSV record (RFC 4180, without line breaks inside quoted fields) in place.
 * Returns the number of fields, or -1 when malformed or more than max.
 */
static int
csv_split(char *line, char **f, int max)
{
	char	*r = line, *w;
	int	 n = 0;

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
	size_t	 i;

	for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
		if (strcasecmp(s, yes[i]) == 0)
			return 1;
	for (i = 0; i < sizeof(no) / sizeof(no[0]); i++)
		if (strcasecmp(s, no[i]) == 0)
			return 0;
	return -1;
}

/* Lower-cases a 64-digit hex SHA-256 in place; -1 when it is not one. */
static int
legacy_hex(char *s)
{
	size_t	 i;

	for (i = 0; s[i] != '\0'; i++) {
		if (s[i] >= 'A' && s[i] <= 'F')
			s[i] = (char)(s[i] - 'A' + 'a');
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return -1;
	}
	return i == 64 ? 0 : -1;
}

static void
chomp(char *s)
{
	size_t	 n = strlen(s);

	while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r'))
		s[--n] = '\0';
}

/* What an import did, reported at the end and by row as it goes. */
struct tally {
	unsigned long	 imported, taken, invalid;
};

/*
 * Imports one seed-app user (API.md §6-7): the SHA-256 hex becomes the stored hash as is, so
 * password_verify() accepts the old password once and the login re-hashes it with Argon2id.
 * Invalid and taken rows are reported by position (never their content) and skipped.
 * fld holds username, email, password_sha256 and verified (0/1, or -1 when unreadable);
 * the hex is lower-cased in place.  -1 only when the database failed.
 */
static int
import_row(struct ctx *x, struct tally *t, const char *unit, unsigned long pos,
    const char *username, const char *raw_email, char *hex, int verified)
{
	char		*roles[1], user_role[] = "user", *email;
	long long	 id;
	enum um_err	 rc;

	roles[0] = user_role;
	if (username == NULL || !valid_username(username)) {
		fprintf(stderr, "%s %lu: invalid username\n", unit, pos);
		t->invalid++;
		return 0;
	}
	if (raw_email == NULL || (email = normalise_email(x->a, raw_email)) == NULL) {
		fprintf(stderr, "%s %lu: invalid e-mail address\n", unit, pos);
		t->invalid++;
		return 0;
	}
	if (hex == NULL || legacy_hex(hex) != 0) {
		fprintf(stderr, "%s %lu: password_sha256 is not 64 hex digits\n", unit, pos);
		t->invalid++;
		return 0;
	}
	if (verified < 0) {
		fprintf(stderr, "%s %lu: verified is not 0/1/true/false\n", unit, pos);
		t->invalid++;
		return 0;
	}
	rc = insert_user(x, username, email, hex, verified, roles, 1, "user_imported", &id);
	if (rc == UM_ECONFLICT) {
		fprintf(stderr, "%s %lu: the %s taken\n", unit, pos,
		    taken_what(x, username, email));
		t->taken++;
		return 0;
	}
	if (rc != UM_OK) {
		fprintf(stderr, "%s %lu: not imported\n", unit, pos);
		(void)db_failed("import-legacy", rc);
		return -1;
	}
	t->imported++;
	return 0;
}

/* import-legacy FILE.csv: RFC 4180 lines under the header CSV_HEADER. */
static int
import_csv(struct ctx *x, const char *path, struct tally *t)
{
	FILE		*f;
	char		*line = NULL, *fld[5];
	size_t		 cap = 0;
	ssize_t		 len;
	unsigned long	 lineno = 0;
	int		 ret = -1;

	if ((f = fopen(path, "re")) == NULL) {
		fprintf(stderr, "usermgr-admin: %s: %s\n", path, strerror(errno));
		return -1;
	}
	if ((len = getline(&line, &cap, f)) <= 0) {
		fprintf(stderr, "usermgr-admin: %s is empty\n", path);
		goto out;
	}
	lineno++;
	chomp(line);
	/* A UTF-8 byte order mark, as spreadsheets write it. */
	if (strncmp(line, "\xef\xbb\xbf", 3) == 0)
		memmove(line, line + 3, strlen(line + 3) + 1);
	if (strcmp(line, CSV_HEADER) != 0) {
		fprintf(stderr, "usermgr-admin: the first line must be " CSV_HEADER "\n");
		goto out;
	}
	while ((len = getline(&line, &cap, f)) > 0) {
		lineno++;
		arena_reset(x->a);
		if (len > CSV_LINE_MAX || memchr(line, '\0', (size_t)len) != NULL) {
			fprintf(stderr, "line %lu: too long or holds a NUL byte\n", lineno);
			t->invalid++;
			continue;
		}
		chomp(line);
		if (line[0] == '\0')
			continue;
		if (csv_split(line, fld, 5) != 4) {
			fprintf(stderr, "line %lu: not four CSV fields\n", lineno);
			t->invalid++;
			continue;
		}
		if (import_row(x, t, "line", lineno, fld[0], fld[1], fld[2],
		    parse_flag(fld[3])) != 0)
			goto out;
	}
	if (ferror(f)) {
		fprintf(stderr, "usermgr-admin: %s: read error\n", path);
		goto out;
	}
	ret = 0;
out:
	free(line);
	(void)fclose(f);
	return ret;
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

#define IMPORT_BATCH	500

/*
 * import-legacy --dsn URL: the same four columns from a table of the seed app's MariaDB,
 * read in batches so a large table never sits in memory whole.  The password may stay out of
 * the URL (and so out of ps) in $USERMGR_LEGACY_DB_PASSWORD.
 */
static int
import_dsn(struct ctx *x, const char *url, struct tally *t)
{
	static char	 sql[256];	/* db_exec caches statements by pointer: process-lived */
	struct arena	*da;
	struct conf	 lc;
	struct dsn	 d;
	struct db	*src = NULL;
	struct db_res	 res;
	struct db_val	 p[2];
	char		 err[256];
	unsigned long	 row = 0;
	size_t		 r;
	enum um_err	 rc;
	int		 ret = -1;

	if ((da = arena_new()) == NULL)
		return -1;
	if (dsn_parse(da, url, &d, err, sizeof(err)) != UM_OK) {
		fprintf(stderr, "usermgr-admin: --dsn: %s\n", err);
		arena_free(da);
		return -1;
	}
	if (d.password == NULL)
		d.password = getenv("USERMGR_LEGACY_DB_PASSWORD");
	/*
	 * An identifier cannot be a statement parameter: the table name is the one formatted
	 * part, and dsn_parse() let through only [A-Za-z0-9_$]{1,64}, which backquotes make inert.
	 */
	(void)snprintf(sql, sizeof(sql), "SELECT username, email, password_sha256, verified"
	    " FROM `%s` ORDER BY username, email LIMIT ? OFFSET ?", d.table);
	lc = x->conf;
	lc.db_host = (char *)d.host;
	lc.db_port = d.port;
	lc.db_socket = (char *)d.socket;
	lc.db_name = (char *)d.database;
	lc.db_user = (char *)d.user;
	lc.db_password = (char *)d.password;
	if ((src = db_open(&lc)) == NULL)
		goto out;
	for (;;) {
		arena_reset(x->a);
		p[0] = DBV_INT(IMPORT_BATCH);
		p[1] = DBV_INT(row);
		if ((rc = db_exec(src, x->a, sql, p, 2, &res)) != UM_OK) {
			fprintf(stderr, "usermgr-admin: cannot read `%s` from the legacy database"
			    " (the log line above says why)\n", d.table);
			goto out;
		}
		for (r = 0; r < res.nrows; r++) {
			row++;
			if (import_row(x, t, "row", row, db_text(DB_CELL(&res, r, 0)),
			    db_text(DB_CELL(&res, r, 1)), db_text(DB_CELL(&res, r, 2)),
			    db_flag(DB_CELL(&res, r, 3))) != 0)
				goto out;
		}
		if (res.nrows < IMPORT_BATCH)
			break;
	}
	ret = 0;
out:
	db_close(src);
	arena_free(da);
	return ret;
}

/* import-legacy FILE.csv | --dsn URL (API.md §6-7). */
static int
cmd_import_legacy(struct ctx *x, int argc, char **argv)
{
	struct tally	 t = { 0, 0, 0 };
	int		 rc;

	if (argc == 2 && strncmp(argv[1], "--dsn=", 6) == 0)
		rc = import_dsn(x, argv[1] + 6, &t);
	else if (argc == 3 && strcmp(argv[1], "--dsn") == 0)
		rc = import_dsn(x, argv[2], &t);
	else if (argc == 2 && argv[1][0] != '-')
		rc = import_csv(x, argv[1], &t);
	else {
		usage();
		return EXIT_USAGE;
	}
	fprintf(stderr, "usermgr-admin: import-legacy: %lu imported, %lu taken, %lu invalid\n",
	    t.imported, t.taken, t.invalid);
	return rc == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

static const struct command {
	const char	*name;
	int		(*fn)(struct ctx *, int, char **);
	int		 require_keys;	/* conf_load's: only the check of the whole config */
} commands[] = {
	{ "migrate",		cmd_migrate,		0 },
	{ "check-config",	cmd_check_config,	1 },
	{ "create-user",	cmd_create_user,	0 },
	{ "set-roles",		cmd_set_roles,		0 },
	{ "disable",		cmd_disable,		0 },
	{ "enable",		cmd_enable,		0 },
	{ "import-legacy",	cmd_import_legacy,	0 },
};

int
main(int argc, char *argv[])
{
	const struct command	*cmd = NULL;
	struct ctx		 x;
	char			 err[512];
	size_t			 i;
	int			 ret = EXIT_FAILURE;

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
	if ((x.db = db_open(&x.conf)) == NULL)
		goto out;
	x.a = arena_new();
	ret = cmd->fn(&x, argc - 1, argv + 1);
out:
	arena_free(x.a);
	db_close(x.db);
	conf_free(&x.conf);
	return ret;
}
