/* test_conf: configuration defaults, X_FILE secrets, and refusals that name the variable. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "conf.h"
#include "unit.h"

#ifndef UM_SRCDIR
#define UM_SRCDIR "/work/main"
#endif

#define KEY64   "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define DATAKEY "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="

/* The fake environment the tests hand to conf_load: pairs, NULL-terminated. */
static const char *fake_env[32];

static const char *
fake_getenv(const char *name)
{
	size_t i;

	for (i = 0; fake_env[i] != NULL; i += 2)
		if (strcmp(fake_env[i], name) == 0)
			return fake_env[i + 1];
	return NULL;
}

static void
set_env(const char *const *pairs)
{
	size_t i;

	memset(fake_env, 0, sizeof(fake_env));
	for (i = 0; pairs[i] != NULL && i < 30; i++)
		fake_env[i] = pairs[i];
}

START_TEST(test_defaults_follow_api_md_section_1)
{
	static const char *const env[] = { "USERMGR_SECRET_KEY", KEY64, "USERMGR_DATA_KEY",
		DATAKEY, NULL };
	struct conf              c;
	char                     err[256];

	set_env(env);
	ck_assert_int_eq(conf_load(&c, fake_getenv, 1, err, sizeof(err)), UM_OK);
	ck_assert_str_eq(c.base_url, "http://localhost:8080");
	ck_assert_int_eq(c.https, 0);
	ck_assert_int_eq(c.mail_transport, MAIL_FILE);
	ck_assert_uint_eq(c.login_max_failures, 5);
	ck_assert_uint_eq(c.login_lockout_seconds, 900);
	ck_assert_uint_eq(c.rate_per_ip_per_min, 30);
	ck_assert_uint_eq(c.argon2_memory_kib, 19456);
	ck_assert_uint_eq(c.argon2_iterations, 2);
	ck_assert_uint_eq(c.argon2_parallelism, 1);
	ck_assert_uint_eq(c.password_min_length, 8);
	ck_assert_int_eq(c.prevent_enumeration, 0);
	ck_assert_uint_eq(c.access_token_seconds, 900);
	ck_assert_uint_eq(c.refresh_token_days, 30);
	ck_assert_uint_eq(c.mail_max_attempts, 40);
	ck_assert_str_eq(c.sender_email, "no-reply@localhost");
	ck_assert_str_eq(c.sender_name, "usermgr");
	ck_assert_str_eq(c.mailjet_url, "https://api.mailjet.com/v3.1/send");
	ck_assert_str_eq(c.bootstrap_admin_email, "admin@localhost");
	ck_assert_int_eq(c.have_data_key, 1);
	ck_assert_int_eq(c.data_key[0], 0);
	ck_assert_int_eq(c.data_key[31], 31);
	ck_assert_uint_eq(c.cache_mb, 16);
	ck_assert_uint_eq(c.revocation_poll_ms, 200);
	ck_assert_str_eq(c.cache_file, "/dev/shm/usermgr-cache-3c9ef3ada3007408");
	conf_free(&c);
}
END_TEST

START_TEST(test_a_secret_file_loses_exactly_one_trailing_newline)
{
	char        path[] = "/tmp/um-conf-XXXXXX";
	const char *env[] = { "USERMGR_SECRET_KEY_FILE", path, NULL };
	struct conf c;
	char        err[256];
	int         fd;

	ck_assert_int_ge(fd = mkstemp(path), 0);
	ck_assert_int_eq(write(fd, KEY64 "\n\n", 66), 66);
	close(fd);
	set_env(env);
	ck_assert_int_eq(conf_load(&c, fake_getenv, 0, err, sizeof(err)), UM_OK);
	ck_assert_str_eq(c.secret_key, KEY64 "\n");
	conf_free(&c);
	unlink(path);
}
END_TEST

START_TEST(test_the_variable_wins_over_its_file)
{
	static const char *const env[] = { "USERMGR_SECRET_KEY", KEY64,
		"USERMGR_SECRET_KEY_FILE", "/nonexistent", NULL };
	struct conf              c;
	char                     err[256];

	set_env(env);
	ck_assert_int_eq(conf_load(&c, fake_getenv, 0, err, sizeof(err)), UM_OK);
	ck_assert_str_eq(c.secret_key, KEY64);
	conf_free(&c);
}
END_TEST

/* Each bad setting is refused with a message naming the variable and never its value. */
static const struct {
	const char *var;
	const char *value;
} bad[] = {
	{ "USERMGR_SECRET_KEY", "tooshort-secret-value" },
	{ "USERMGR_DATA_KEY", "bm90IDMyIGJ5dGVz" },
	{ "USERMGR_HTTP_PORT", "0" },
	{ "USERMGR_HTTP_PORT", "80x" },
	{ "USERMGR_LOGIN_MAX_FAILURES", "-1" },
	{ "USERMGR_ARGON2_PARALLELISM", "4" },
	{ "USERMGR_ARGON2_ITERATIONS",
	    ""
	    "99999999999999999999" },
	{ "USERMGR_PASSWORD_MIN_LENGTH", "129" },
	{ "USERMGR_PREVENT_ENUMERATION", "yes" },
	{ "USERMGR_MAIL_TRANSPORT", "carrier-pigeon" },
	{ "USERMGR_MAIL_MAX_ATTEMPTS", "1001" },
	{ "USERMGR_LOG_LEVEL", "chatty" },
	{ "USERMGR_BASE_URL", "ftp://example.org" },
	{ "USERMGR_SECRET_KEY_OLD", "short-old-key" },
	{ "SENDER_NAME", "evil\r\nBcc: victim@example.org" },
	{ "USERMGR_DB_SSL_MODE", "preferred" },
	{ "USERMGR_DB_SSL_MODE", "VERIFY" },
	{ "USERMGR_DB_MIGRATE_PASSWORD", "a-password-without-its-account" },
	{ "USERMGR_CACHE_MB", "4097" },
	{ "USERMGR_CACHE_MB", "16M" },
	{ "USERMGR_CACHE_FILE", "var/cache" },
	{ "USERMGR_HIBP_URL", "file:///etc/passwd" },
	{ "USERMGR_HIBP_URL", "https://api.pwnedpasswords.com/range?x=1" },
	{ "USERMGR_HIBP_MIN_COUNT", "-3" },
	{ "USERMGR_HIBP_TIMEOUT_MS", "99" },
	{ "USERMGR_DB_HOSTS", "db1" },          /* no port */
	{ "USERMGR_DB_HOSTS", "db1:3306,db2" }, /* one without */
	{ "USERMGR_DB_HOSTS", "db1:0" },        /* port out of range */
	{ "USERMGR_DB_HOSTS", "db1:65536" },    /* port out of range */
	{ "USERMGR_DB_HOSTS", "db1:33o6" },     /* not a number */
	{ "USERMGR_DB_HOSTS", "db1:+3306" },    /* not digits only */
	{ "USERMGR_DB_HOSTS", ":3306" },        /* no host */
	{ "USERMGR_DB_HOSTS", "::1:3306" },     /* IPv6 without brackets */
	{ "USERMGR_DB_HOSTS", "[::1:3306" },    /* unclosed bracket */
	{ "USERMGR_DB_HOSTS", " , ," },         /* nothing in it */
	{ "USERMGR_DB_HOSTS", "a:1,b:1,c:1,d:1,e:1,f:1,g:1,h:1,i:1" }, /* more than 8 */
	{ "USERMGR_DB_TIMEOUT", "-1" },
	{ "USERMGR_DB_TIMEOUT", "3601" },
};

START_TEST(test_a_bad_setting_is_refused_naming_the_variable)
{
	const char *env[8];
	struct conf c;
	char        err[256];

	env[0] = "USERMGR_SECRET_KEY";
	env[1] = KEY64;
	env[2] = "USERMGR_DATA_KEY";
	env[3] = DATAKEY;
	env[4] = bad[_i].var;
	env[5] = bad[_i].value;
	env[6] = NULL;
	/* A row about a key replaces the valid one (lookups take the first match). */
	if (strcmp(bad[_i].var, env[0]) == 0 || strcmp(bad[_i].var, env[2]) == 0) {
		env[strcmp(bad[_i].var, env[0]) == 0 ? 1 : 3] = bad[_i].value;
		env[4] = NULL;
	}
	set_env(env);
	ck_assert_int_eq(conf_load(&c, fake_getenv, 1, err, sizeof(err)), UM_EINVAL);
	ck_assert_msg(strstr(err, bad[_i].var) != NULL, "message '%s' names %s", err,
	    bad[_i].var);
	ck_assert_msg(strstr(err, bad[_i].value) == NULL || *bad[_i].value == '\0',
	    "message '%s' repeats the value", err);
}
END_TEST

/* USERMGR_DB_SSL_MODE unset follows the host and the CA; set, it is taken as it is. */
static const struct {
	const char      *host, *ca, *mode; /* NULL: unset */
	enum db_ssl_mode want;
} ssl_cases[] = {
	{ NULL, NULL, NULL, DB_SSL_DISABLED },          /* the unix socket */
	{ "127.0.0.1", NULL, NULL, DB_SSL_DISABLED },   /* loopback */
	{ "::1", NULL, NULL, DB_SSL_DISABLED },         /* loopback */
	{ "localhost", NULL, NULL, DB_SSL_DISABLED },   /* loopback */
	{ "LocalHost", NULL, NULL, DB_SSL_DISABLED },   /* host names ignore case */
	{ "db.internal", NULL, NULL, DB_SSL_REQUIRED }, /* another machine */
	{ "10.0.0.5", NULL, NULL, DB_SSL_REQUIRED },    /* another machine */
	{ "127.0.0.2", NULL, NULL, DB_SSL_REQUIRED },   /* not one of the three */
	{ "db.internal", UM_SRCDIR "/README.md", NULL, DB_SSL_VERIFY }, /* a CA: verify */
	{ NULL, UM_SRCDIR "/README.md", NULL, DB_SSL_VERIFY },          /* even on the socket */
	{ "db.internal", NULL, "disabled", DB_SSL_DISABLED },           /* given: taken */
	{ "127.0.0.1", NULL, "required", DB_SSL_REQUIRED },             /* given: taken */
	{ "db.internal", UM_SRCDIR "/README.md", "required", DB_SSL_REQUIRED },
	{ "localhost", UM_SRCDIR "/README.md", "verify", DB_SSL_VERIFY },
};

START_TEST(test_the_database_tls_mode_defaults_from_the_host_and_the_ca)
{
	static const char *const names[DB_SSL__MAX] = { "disabled", "required", "verify" };
	const char              *env[12];
	struct conf              c;
	char                     err[256], buf[32];
	size_t                   n = 0, i;

	if (ssl_cases[_i].host != NULL) {
		env[n++] = "USERMGR_DB_HOST";
		env[n++] = ssl_cases[_i].host;
	}
	if (ssl_cases[_i].ca != NULL) {
		env[n++] = "USERMGR_DB_SSL_CA";
		env[n++] = ssl_cases[_i].ca;
	}
	if (ssl_cases[_i].mode != NULL) {
		env[n++] = "USERMGR_DB_SSL_MODE";
		env[n++] = ssl_cases[_i].mode;
	}
	env[n] = NULL;
	set_env(env);
	ck_assert_msg(conf_load(&c, fake_getenv, 0, err, sizeof(err)) == UM_OK, "%s", err);
	ck_assert_int_eq(c.db_ssl_mode, ssl_cases[_i].want);
	ck_assert_int_eq(c.db_ssl_mode_set, ssl_cases[_i].mode != NULL);
	/* The legacy import derives the mode for its own host with the same function. */
	if (ssl_cases[_i].mode == NULL)
		ck_assert_int_eq(conf_db_ssl_default(ssl_cases[_i].host, ssl_cases[_i].ca),
		    ssl_cases[_i].want);
	/* check-config shows the mode in force, derived or given. */
	for (i = 0; i < conf_nvars; i++)
		if (strcmp(conf_vars[i].name, "USERMGR_DB_SSL_MODE") == 0)
			ck_assert_str_eq(conf_show(&c, &conf_vars[i], buf, sizeof(buf)),
			    names[ssl_cases[_i].want]);
	ck_assert_str_eq(conf_db_ssl_name(ssl_cases[_i].want), names[ssl_cases[_i].want]);
	conf_free(&c);
}
END_TEST

/* USERMGR_DB_HOSTS: in order, IPv6 in brackets, commas or spaces; TLS for the strictest node. */
START_TEST(test_the_cluster_hosts_are_read_in_order)
{
	const char *env[] = { "USERMGR_DB_HOSTS",
		"127.0.0.1:3306, [::1]:3307 db3.internal:3308", "USERMGR_DB_TIMEOUT", "5",
		NULL };
	struct conf c;
	char        err[256];

	set_env(env);
	ck_assert_msg(conf_load(&c, fake_getenv, 0, err, sizeof(err)) == UM_OK, "%s", err);
	ck_assert_uint_eq(c.ndb_hosts, 3);
	ck_assert_str_eq(c.db_hosts[0].host, "127.0.0.1");
	ck_assert_uint_eq(c.db_hosts[0].port, 3306);
	ck_assert_str_eq(c.db_hosts[1].host, "::1");
	ck_assert_uint_eq(c.db_hosts[1].port, 3307);
	ck_assert_str_eq(c.db_hosts[2].host, "db3.internal");
	ck_assert_uint_eq(c.db_hosts[2].port, 3308);
	ck_assert_uint_eq(c.db_timeout, 5);
	/* db3.internal is another machine: the whole cluster gets TLS. */
	ck_assert_int_eq(c.db_ssl_mode, DB_SSL_REQUIRED);
	conf_free(&c);

	env[1] = "127.0.0.1:4001,127.0.0.1:4002";
	env[2] = NULL;
	set_env(env);
	ck_assert_msg(conf_load(&c, fake_getenv, 0, err, sizeof(err)) == UM_OK, "%s", err);
	ck_assert_uint_eq(c.ndb_hosts, 2);
	ck_assert_int_eq(c.db_ssl_mode, DB_SSL_DISABLED); /* loopback only */
	ck_assert_uint_eq(c.db_timeout, 2);               /* the default */
	conf_free(&c);
}
END_TEST

START_TEST(test_verify_without_a_ca_and_an_unreadable_ca_are_refused)
{
	static const char *const no_ca[] = { "USERMGR_DB_HOST", "db.internal",
		"USERMGR_DB_SSL_MODE", "verify", NULL };
	static const char *const bad_ca[] = { "USERMGR_DB_HOST", "db.internal",
		"USERMGR_DB_SSL_CA", "/nonexistent/ca.pem", NULL };
	struct conf              c;
	char                     err[256];

	set_env(no_ca);
	ck_assert_int_eq(conf_load(&c, fake_getenv, 0, err, sizeof(err)), UM_EINVAL);
	ck_assert_str_eq(err,
	    "USERMGR_DB_SSL_MODE=verify needs USERMGR_DB_SSL_CA: the CA certificate (PEM file) "
	    "to check the database server's certificate by");
	set_env(bad_ca);
	ck_assert_int_eq(conf_load(&c, fake_getenv, 0, err, sizeof(err)), UM_EINVAL);
	ck_assert_str_eq(err,
	    "USERMGR_DB_SSL_CA: cannot read /nonexistent/ca.pem: No such file or directory");
}
END_TEST

START_TEST(test_the_migration_account_is_read_apart_from_the_workers)
{
	char        path[] = "/tmp/um-conf-XXXXXX";
	const char *env[] = { "USERMGR_DB_USER", "usermgr", "USERMGR_DB_PASSWORD", "dml-only",
		"USERMGR_DB_MIGRATE_USER", "usermgr_migrate",
		"USERMGR_DB_MIGRATE_PASSWORD_FILE", path, NULL };
	struct conf c;
	char        err[256], buf[32];
	size_t      i;
	int         fd;

	ck_assert_int_ge(fd = mkstemp(path), 0);
	ck_assert_int_eq(write(fd, "ddl-too\n", 8), 8);
	close(fd);
	set_env(env);
	ck_assert_msg(conf_load(&c, fake_getenv, 0, err, sizeof(err)) == UM_OK, "%s", err);
	ck_assert_str_eq(c.db_user, "usermgr");
	ck_assert_str_eq(c.db_password, "dml-only");
	ck_assert_str_eq(c.db_migrate_user, "usermgr_migrate");
	ck_assert_str_eq(c.db_migrate_password, "ddl-too");
	for (i = 0; i < conf_nvars; i++)
		if (strcmp(conf_vars[i].name, "USERMGR_DB_MIGRATE_PASSWORD") == 0)
			ck_assert_str_eq(conf_show(&c, &conf_vars[i], buf, sizeof(buf)),
			    "(set)");
	conf_free(&c);
	unlink(path);
}
END_TEST

START_TEST(test_workers_refuse_to_start_without_keys)
{
	static const char *const env[] = { NULL };
	struct conf              c;
	char                     err[256];

	set_env(env);
	ck_assert_int_eq(conf_load(&c, fake_getenv, 1, err, sizeof(err)), UM_EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "USERMGR_SECRET_KEY"));
	ck_assert_int_eq(conf_load(&c, fake_getenv, 0, err, sizeof(err)), UM_OK);
	conf_free(&c);
}
END_TEST

START_TEST(test_old_keys_are_split_on_commas_and_mailjet_falls_back_to_the_seed_names)
{
	static const char *const env[] = { "USERMGR_SECRET_KEY_OLD", KEY64 "," KEY64 "X,",
		"API_KEY", "seed-key", "API_SECRET", "seed-secret", "USERMGR_BASE_URL",
		"https://id.example.org/", NULL };
	struct conf              c;
	char                     err[256];

	set_env(env);
	ck_assert_int_eq(conf_load(&c, fake_getenv, 0, err, sizeof(err)), UM_OK);
	ck_assert_uint_eq(c.nold_keys, 2);
	ck_assert_str_eq(c.old_keys[1], KEY64 "X");
	ck_assert_str_eq(c.mailjet_key, "seed-key");
	ck_assert_str_eq(c.mailjet_secret, "seed-secret");
	ck_assert_str_eq(c.base_url, "https://id.example.org");
	ck_assert_int_eq(c.https, 1);
	conf_free(&c);
}
END_TEST

START_TEST(test_uint_parsing_is_strict)
{
	unsigned v = 7;

	ck_assert_int_eq(conf_parse_uint("42", 1, 100, &v), 0);
	ck_assert_uint_eq(v, 42);
	ck_assert_int_eq(conf_parse_uint("", 0, 100, &v), -1);
	ck_assert_int_eq(conf_parse_uint(" 4", 0, 100, &v), -1);
	ck_assert_int_eq(conf_parse_uint("+4", 0, 100, &v), -1);
	ck_assert_int_eq(conf_parse_uint("4 ", 0, 100, &v), -1);
	ck_assert_int_eq(conf_parse_uint("101", 0, 100, &v), -1);
	ck_assert_int_eq(conf_parse_uint("18446744073709551617", 0, 100, &v), -1);
	ck_assert_int_eq(conf_parse_uint(NULL, 0, 100, &v), -1);
}
END_TEST

/*
 * The cache file is named after the database, so two stacks on one machine never share a
 * segment: a SHA-256 over "usermgr-cache <layout>\n" + "unix:<socket>" or
 * "tcp:<host>:<port>" + "\n<database>" (known answers from Python's hashlib).
 */
static const struct conf_var *find_var(const char *);

static const struct {
	const char *socket, *host, *name, *file, *mb; /* NULL: unset */
	const char *want_file, *want_mb;
} cache_cases[] = {
	{ NULL, NULL, NULL, NULL, NULL, "/dev/shm/usermgr-cache-3c9ef3ada3007408", "16" },
	{ NULL, NULL, "other", NULL, NULL, "/dev/shm/usermgr-cache-452eaa88ec5461ce", "16" },
	{ NULL, "db.internal", NULL, NULL, NULL, "/dev/shm/usermgr-cache-201f387ea53b8a98",
	    "16" },
	{ "/srv/a/mysqld.sock", NULL, NULL, NULL, "0", NULL, "0" }, /* another stack */
	{ NULL, NULL, NULL, "/srv/pool-b/cache", "64", "/srv/pool-b/cache", "64" },
};

START_TEST(test_the_cache_file_is_named_after_the_database_unless_given)
{
	const char            *env[16];
	struct conf            c;
	char                   err[256], buf[32];
	size_t                 n = 0;
	const struct conf_var *vf = find_var("USERMGR_CACHE_FILE");
	const struct conf_var *vm = find_var("USERMGR_CACHE_MB");

	if (cache_cases[_i].socket != NULL) {
		env[n++] = "USERMGR_DB_SOCKET";
		env[n++] = cache_cases[_i].socket;
	}
	if (cache_cases[_i].host != NULL) {
		env[n++] = "USERMGR_DB_HOST";
		env[n++] = cache_cases[_i].host;
	}
	if (cache_cases[_i].name != NULL) {
		env[n++] = "USERMGR_DB_NAME";
		env[n++] = cache_cases[_i].name;
	}
	if (cache_cases[_i].file != NULL) {
		env[n++] = "USERMGR_CACHE_FILE";
		env[n++] = cache_cases[_i].file;
	}
	if (cache_cases[_i].mb != NULL) {
		env[n++] = "USERMGR_CACHE_MB";
		env[n++] = cache_cases[_i].mb;
	}
	env[n] = NULL;
	set_env(env);
	ck_assert_msg(conf_load(&c, fake_getenv, 0, err, sizeof(err)) == UM_OK, "%s", err);
	ck_assert_ptr_nonnull(vf);
	ck_assert_ptr_nonnull(vm);
	if (cache_cases[_i].want_file != NULL)
		ck_assert_str_eq(c.cache_file, cache_cases[_i].want_file);
	else
		ck_assert_str_ne(c.cache_file, cache_cases[0].want_file);
	if (cache_cases[_i].file == NULL) {
		ck_assert_int_eq(strncmp(c.cache_file, "/dev/shm/usermgr-cache-", 23), 0);
		ck_assert_uint_eq(strlen(c.cache_file), 23 + 16);
		ck_assert_uint_eq(strspn(c.cache_file + 23, "0123456789abcdef"), 16);
	}
	/* check-config shows both as the programs use them. */
	ck_assert_str_eq(conf_show(&c, vf, buf, sizeof(buf)), c.cache_file);
	ck_assert_str_eq(conf_show(&c, vm, buf, sizeof(buf)), cache_cases[_i].want_mb);
	conf_free(&c);
}
END_TEST

/* A whole file, NUL-terminated, in a static buffer. */
static const char *
slurp(const char *path)
{
	static char buf[2][65536];
	static int  k;
	FILE       *f;
	size_t      n;

	k ^= 1;
	ck_assert_msg((f = fopen(path, "r")) != NULL, "cannot open %s", path);
	n = fread(buf[k], 1, sizeof(buf[k]) - 1, f);
	ck_assert_msg(feof(f), "%s is larger than the test's buffer", path);
	fclose(f);
	buf[k][n] = '\0';
	return buf[k];
}

/*
 * The `...` words of a README table cell, or (when it has none) the cell's text as one word.
 * Returns how many, at most max.
 */
static int
cell_words(const char *cell, size_t len, char words[][128], int max)
{
	const char *p = cell, *end = cell + len, *q;
	int         n = 0;

	while ((p = memchr(p, '`', (size_t)(end - p))) != NULL && n < max) {
		ck_assert_msg((q = memchr(p + 1, '`', (size_t)(end - p - 1))) != NULL,
		    "unbalanced ` in %.*s", (int)len, cell);
		(void)snprintf(words[n++], sizeof(words[0]), "%.*s", (int)(q - p - 1), p + 1);
		p = q + 1;
	}
	if (n == 0) {
		while (len > 0 && cell[len - 1] == ' ')
			len--;
		while (len > 0 && *cell == ' ')
			cell++, len--;
		(void)snprintf(words[n++], sizeof(words[0]), "%.*s", (int)len, cell);
	}
	return n;
}

/* What the README's default column says for v. */
static const char *
readme_wording(const struct conf_var *v)
{
	if (v->readme_default != NULL)
		return v->readme_default;
	return v->def != NULL ? v->def : "—";
}

/* Settings of the README's table that deploy/local/run reads and the C programs do not. */
static const char *const deploy_only[] = { "USERMGR_STATE_DIR", "USERMGR_WORKERS",
	"USERMGR_BOOTSTRAP_ADMIN_PASSWORD", "USERMGR_NGINX_AUTH_RATE",
	"USERMGR_NGINX_AUTH_BURST", "USERMGR_NGINX_USER", "USERMGR_BUILD_DIR",
	"USERMGR_CONFIGURE_FLAGS", "USERMGR_SKIP_BUILD", "USERMGR_WORKER_BIN",
	"USERMGR_ADMIN_BIN", "USERMGR_MAILER_BIN", NULL };

static const struct conf_var *
find_var(const char *name)
{
	size_t i;

	for (i = 0; i < conf_nvars; i++)
		if (strcmp(conf_vars[i].name, name) == 0)
			return &conf_vars[i];
	return NULL;
}

/* Checks one row of the README's table; marks the settings it names in seen[]. */
static void
check_row(const char *row, size_t len, const char *run, char *seen)
{
	char                   names[8][128], defs[8][128];
	const char            *c1, *c2, *c3;
	const struct conf_var *v;
	int                    nn, nd, i, j;

	ck_assert_msg((c1 = memchr(row + 1, '|', len - 1)) != NULL &&
	        (c2 = memchr(c1 + 1, '|', (size_t)(row + len - c1 - 1))) != NULL &&
	        (c3 = memchr(c2 + 1, '|', (size_t)(row + len - c2 - 1))) != NULL,
	    "README row without three cells: %.*s", (int)len, row);
	nn = cell_words(row + 1, (size_t)(c1 - row - 1), names, 8);
	nd = cell_words(c1 + 1, (size_t)(c2 - c1 - 1), defs, 8);
	ck_assert_msg(nd == nn || nd == 1, "README row with %d names and %d defaults: %.*s", nn,
	    nd, (int)len, row);
	for (i = 0; i < nn; i++) {
		j = nd == 1 ? 0 : i;
		if ((v = find_var(names[i])) == NULL) {
			for (j = 0; deploy_only[j] != NULL; j++)
				if (strcmp(deploy_only[j], names[i]) == 0)
					break;
			ck_assert_msg(deploy_only[j] != NULL,
			    "README lists %s, which no program "
			    "reads",
			    names[i]);
			ck_assert_msg(strstr(run, names[i]) != NULL,
			    "deploy/local/run does not "
			    "read %s",
			    names[i]);
			continue;
		}
		ck_assert_msg(!(v->flags & CONF_INTERNAL),
		    "README's table lists %s, which is "
		    "marked internal",
		    v->name);
		ck_assert_msg(strcmp(defs[j], readme_wording(v)) == 0,
		    "%s: README says %s, "
		    "conf.c %s",
		    v->name, defs[j], readme_wording(v));
		seen[v - conf_vars] = 1;
	}
}

START_TEST(test_the_readme_table_lists_every_setting_with_its_default)
{
	static const char header[] = "| variable | default | meaning |\n";
	const char       *readme = slurp(UM_SRCDIR "/README.md");
	const char       *run = slurp(UM_SRCDIR "/deploy/local/run");
	const char       *p, *eol;
	char              seen[64] = { 0 };
	size_t            i;

	ck_assert_uint_le(conf_nvars, sizeof(seen));
	ck_assert_msg((p = strstr(readme, header)) != NULL,
	    "README has no configuration table");
	p = strchr(p + sizeof(header) - 1, '\n') + 1; /* past the | --- | line */
	for (; *p == '|' && (eol = strchr(p, '\n')) != NULL; p = eol + 1)
		check_row(p, (size_t)(eol - p), run, seen);
	for (i = 0; i < conf_nvars; i++) {
		if (conf_vars[i].flags & CONF_INTERNAL)
			ck_assert_msg(strstr(readme, conf_vars[i].name) != NULL,
			    "README does not name %s", conf_vars[i].name);
		else
			ck_assert_msg(seen[i], "README's table lacks %s", conf_vars[i].name);
		if (conf_vars[i].fallback != NULL)
			ck_assert_msg(strstr(readme, conf_vars[i].fallback) != NULL,
			    "README does not name %s", conf_vars[i].fallback);
	}
}
END_TEST

/* Whether the first column of a row of the README's configuration table names `name`. */
static int
readme_table_names(const char *readme, const char *name)
{
	static const char header[] = "| variable | default | meaning |\n";
	const char       *p, *eol, *c1;
	char              words[8][128];
	int               n, i;

	ck_assert_msg((p = strstr(readme, header)) != NULL,
	    "README has no configuration table");
	p = strchr(p + sizeof(header) - 1, '\n') + 1; /* past the | --- | line */
	for (; *p == '|' && (eol = strchr(p, '\n')) != NULL; p = eol + 1) {
		ck_assert_msg((c1 = memchr(p + 1, '|', (size_t)(eol - p - 1))) != NULL,
		    "README row without cells: %.*s", (int)(eol - p), p);
		n = cell_words(p + 1, (size_t)(c1 - p - 1), words, 8);
		for (i = 0; i < n; i++)
			if (strcmp(words[i], name) == 0)
				return 1;
	}
	return 0;
}

/*
 * Every ${USERMGR_…} that deploy/local/run reads is in the README's table, or is one the
 * deployment sets (CONF_INTERNAL, named below the table), or is the X_FILE form of a secret X.
 */
START_TEST(test_the_readme_table_lists_every_variable_deploy_local_run_reads)
{
	const char            *readme = slurp(UM_SRCDIR "/README.md");
	const char            *run = slurp(UM_SRCDIR "/deploy/local/run");
	const struct conf_var *v;
	const char            *p = run;
	char                   name[128];
	size_t                 n, k;
	int                    found = 0;

	while ((p = strstr(p, "${USERMGR_")) != NULL) {
		p += 2;
		n = strspn(p, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_");
		ck_assert_uint_lt(n, sizeof(name));
		memcpy(name, p, n);
		name[n] = '\0';
		found++;
		k = strlen(name);
		/* A setting whose own name ends in _FILE (USERMGR_CACHE_FILE) is no secret's form. */
		if (k > 5 && strcmp(name + k - 5, "_FILE") == 0 && find_var(name) == NULL) {
			name[k - 5] = '\0';
			v = find_var(name);
			ck_assert_msg((v != NULL && (v->flags & CONF_SECRET)) ||
			        strcmp(name, "USERMGR_BOOTSTRAP_ADMIN_PASSWORD") == 0,
			    "deploy/local/run reads %s_FILE, but %s is no secret", name, name);
			continue;
		}
		if ((v = find_var(name)) != NULL && (v->flags & CONF_INTERNAL))
			continue;
		ck_assert_msg(readme_table_names(readme, name),
		    "deploy/local/run reads %s, which README's table does not list", name);
	}
	ck_assert_msg(found >= 10, "only %d variables found in deploy/local/run", found);
}
END_TEST

/* check-config prints every setting; a secret only as (set) or (not set). */
START_TEST(test_settings_show_their_values_and_secrets_only_whether_they_are_set)
{
	static const char *const env[] = { "USERMGR_SECRET_KEY", KEY64, "USERMGR_DATA_KEY",
		DATAKEY, "USERMGR_MAIL_TRANSPORT", "smtp", "USERMGR_DB_PORT", "3307", NULL };
	struct conf              c;
	char                     err[256], buf[32];
	size_t                   i;

	set_env(env);
	ck_assert_int_eq(conf_load(&c, fake_getenv, 1, err, sizeof(err)), UM_OK);
	for (i = 0; i < conf_nvars; i++) {
		const struct conf_var *v = &conf_vars[i];
		const char            *shown = conf_show(&c, v, buf, sizeof(buf));

		if (strcmp(v->name, "USERMGR_SECRET_KEY") == 0 ||
		    strcmp(v->name, "USERMGR_DATA_KEY") == 0)
			ck_assert_str_eq(shown, "(set)");
		else if (strcmp(v->name, "USERMGR_SMTP_PASSWORD") == 0 ||
		    strcmp(v->name, "USERMGR_DB_HOST") == 0)
			ck_assert_str_eq(shown, "(not set)");
		else if (strcmp(v->name, "USERMGR_MAIL_TRANSPORT") == 0)
			ck_assert_str_eq(shown, "smtp");
		else if (strcmp(v->name, "USERMGR_DB_PORT") == 0)
			ck_assert_str_eq(shown, "3307");
		else if (strcmp(v->name, "USERMGR_PREVENT_ENUMERATION") == 0)
			ck_assert_str_eq(shown, "0");
		else if (strcmp(v->name, "USERMGR_BASE_URL") == 0)
			ck_assert_str_eq(shown, "http://localhost:8080");
		else if (v->def != NULL && v->type != CONF_UINT)
			ck_assert_str_eq(shown, v->def);
		ck_assert_msg(strstr(shown, KEY64) == NULL && strstr(shown, DATAKEY) == NULL,
		    "%s shows a key", v->name);
	}
	conf_free(&c);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("conf");
	TCase *tc = tcase_create("load");

	tcase_add_test(tc, test_defaults_follow_api_md_section_1);
	tcase_add_test(tc, test_a_secret_file_loses_exactly_one_trailing_newline);
	tcase_add_test(tc, test_the_variable_wins_over_its_file);
	tcase_add_loop_test(tc, test_a_bad_setting_is_refused_naming_the_variable, 0,
	    sizeof(bad) / sizeof(bad[0]));
	tcase_add_loop_test(tc, test_the_database_tls_mode_defaults_from_the_host_and_the_ca, 0,
	    sizeof(ssl_cases) / sizeof(ssl_cases[0]));
	tcase_add_test(tc, test_the_cluster_hosts_are_read_in_order);
	tcase_add_test(tc, test_verify_without_a_ca_and_an_unreadable_ca_are_refused);
	tcase_add_test(tc, test_the_migration_account_is_read_apart_from_the_workers);
	tcase_add_test(tc, test_workers_refuse_to_start_without_keys);
	tcase_add_test(tc,
	    test_old_keys_are_split_on_commas_and_mailjet_falls_back_to_the_seed_names);
	tcase_add_test(tc, test_uint_parsing_is_strict);
	tcase_add_loop_test(tc, test_the_cache_file_is_named_after_the_database_unless_given, 0,
	    sizeof(cache_cases) / sizeof(cache_cases[0]));
	tcase_add_test(tc, test_the_readme_table_lists_every_setting_with_its_default);
	tcase_add_test(tc, test_the_readme_table_lists_every_variable_deploy_local_run_reads);
	tcase_add_test(tc,
	    test_settings_show_their_values_and_secrets_only_whether_they_are_set);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
