/* conf: reads API.md §1 configuration once — defaults, then X, then X_FILE — and checks ranges. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "conf.h"

#ifndef UM_DATADIR
#define UM_DATADIR "/usr/local/share/usermgr"
#endif

#define CONF_FILE_MAX	65536	/* a secret file larger than this is a mistake */

int
conf_parse_uint(const char *s, unsigned min, unsigned max, unsigned *out)
{
	unsigned long	 v;
	char		*end;

	if (s == NULL || *s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return -1;
	*out = (unsigned)v;
	return 0;
}

static char *
xstrdup(const char *s)
{
	char	*p;

	if ((p = strdup(s)) == NULL) {
		fputs("usermgr: out of memory\n", stderr);
		abort();
	}
	return p;
}

/* Reads a secret file: its content minus one trailing newline (API.md §7). */
static char *
read_file(const char *path, char *err, size_t errlen, const char *var)
{
	FILE	*f;
	char	*data = NULL;
	size_t	 n;

	if ((f = fopen(path, "re")) == NULL) {
		(void)snprintf(err, errlen, "%s_FILE: cannot open %s: %s", var, path,
		    strerror(errno));
		return NULL;
	}
	if ((data = malloc(CONF_FILE_MAX + 1)) == NULL) {
		fclose(f);
		fputs("usermgr: out of memory\n", stderr);
		abort();
	}
	n = fread(data, 1, CONF_FILE_MAX + 1, f);
	fclose(f);
	if (n > CONF_FILE_MAX) {
		(void)snprintf(err, errlen, "%s_FILE: %s is larger than %d bytes", var, path,
		    CONF_FILE_MAX);
		free(data);
		return NULL;
	}
	if (n > 0 && data[n - 1] == '\n')
		n--;
	if (memchr(data, '\0', n) != NULL) {
		(void)snprintf(err, errlen, "%s_FILE: %s holds a NUL byte", var, path);
		free(data);
		return NULL;
	}
	data[n] = '\0';
	return data;
}

/*
 * Looks up var, then var_FILE.  Returns 1 and sets *out (malloc'd) when set, 0 when
 * absent, -1 on error (message in err).
 */
static int
lookup(conf_getenv_fn *get, const char *var, char **out, char *err, size_t errlen)
{
	char		 name[128];
	const char	*v, *path;

	if ((v = get(var)) != NULL && *v != '\0') {
		*out = xstrdup(v);
		return 1;
	}
	(void)snprintf(name, sizeof(name), "%s_FILE", var);
	if ((path = get(name)) != NULL && *path != '\0') {
		if ((*out = read_file(path, err, errlen, var)) == NULL)
			return -1;
		return 1;
	}
	return 0;
}

/* A string setting with a default: returns -1 on error. */
static int
str_opt(conf_getenv_fn *get, const char *var, const char *def, char **out, char *err,
    size_t errlen)
{
	int	 rc;

	free(*out);
	*out = NULL;
	if ((rc = lookup(get, var, out, err, errlen)) < 0)
		return -1;
	if (rc == 0 && def != NULL)
		*out = xstrdup(def);
	return 0;
}

static int
uint_opt(conf_getenv_fn *get, const char *var, unsigned def, unsigned min, unsigned max,
    unsigned *out, char *err, size_t errlen)
{
	char	*s = NULL;
	int	 rc;

	*out = def;
	if ((rc = lookup(get, var, &s, err, errlen)) < 0)
		return -1;
	if (rc == 1 && conf_parse_uint(s, min, max, out) != 0) {
		(void)snprintf(err, errlen, "%s must be a whole number from %u to %u", var, min,
		    max);
		free(s);
		return -1;
	}
	free(s);
	return 0;
}

/* Decodes standard base64 of exactly 32 bytes (USERMGR_DATA_KEY). */
static int
decode_key(const char *b64, unsigned char out[32])
{
	unsigned char	 tmp[64];
	size_t		 len = strlen(b64);
	int		 n, pad = 0;

	if (len != 44)
		return -1;
	if (b64[43] == '=')
		pad++;
	if (b64[42] == '=')
		pad++;
	if (pad != 1)
		return -1;
	/* EVP_DecodeBlock counts padding as output bytes; a 44-char input yields 33. */
	if ((n = EVP_DecodeBlock(tmp, (const unsigned char *)b64, (int)len)) != 33)
		return -1;
	memcpy(out, tmp, 32);
	OPENSSL_cleanse(tmp, sizeof(tmp));
	return 0;
}

static int
split_old_keys(struct conf *c, char *list, char *err, size_t errlen)
{
	char	*p, *comma;

	for (p = list; p != NULL && *p != '\0'; p = comma) {
		if ((comma = strchr(p, ',')) != NULL)
			*comma++ = '\0';
		if (*p == '\0')
			continue;
		if (strlen(p) < 32) {
			(void)snprintf(err, errlen,
			    "USERMGR_SECRET_KEY_OLD: every key needs at least 32 characters");
			return -1;
		}
		if (c->nold_keys == CONF_OLD_KEYS_MAX) {
			(void)snprintf(err, errlen, "USERMGR_SECRET_KEY_OLD: more than %d keys",
			    CONF_OLD_KEYS_MAX);
			return -1;
		}
		c->old_keys[c->nold_keys++] = xstrdup(p);
	}
	return 0;
}

enum um_err
conf_load(struct conf *c, conf_getenv_fn *get, int require_keys, char *err, size_t errlen)
{
	char		*s = NULL, *def_url = NULL;
	unsigned	 httpport;
	enum um_err	 rc = UM_EINVAL;
	size_t		 n;

	memset(c, 0, sizeof(*c));
	err[0] = '\0';

	if (uint_opt(get, "USERMGR_HTTP_PORT", 8080, 1, 65535, &httpport, err, errlen) != 0)
		goto out;
	if ((n = (size_t)snprintf(NULL, 0, "http://127.0.0.1:%u", httpport)) == 0)
		goto out;
	def_url = malloc(n + 1);
	if (def_url == NULL)
		abort();
	(void)snprintf(def_url, n + 1, "http://127.0.0.1:%u", httpport);
	if (str_opt(get, "USERMGR_BASE_URL", def_url, &c->base_url, err, errlen) != 0)
		goto out;
	n = strlen(c->base_url);
	while (n > 0 && c->base_url[n - 1] == '/')
		c->base_url[--n] = '\0';
	if (strncmp(c->base_url, "https://", 8) == 0)
		c->https = 1;
	else if (strncmp(c->base_url, "http://", 7) != 0) {
		(void)snprintf(err, errlen, "USERMGR_BASE_URL must start with http:// or https://");
		goto out;
	}
	if (strpbrk(c->base_url, "\"'<> \t\r\n") != NULL) {
		(void)snprintf(err, errlen, "USERMGR_BASE_URL holds a character not allowed in a URL");
		goto out;
	}

	if (str_opt(get, "USERMGR_TEMPLATE_DIR", UM_DATADIR "/templates", &c->template_dir,
	    err, errlen) != 0 ||
	    str_opt(get, "USERMGR_SQL_DIR", UM_DATADIR "/sql", &c->sql_dir, err, errlen) != 0 ||
	    str_opt(get, "USERMGR_COMMON_PASSWORDS", UM_DATADIR "/common-passwords.txt",
	    &c->common_passwords, err, errlen) != 0 ||
	    str_opt(get, "USERMGR_DB_SOCKET", "/run/mysqld/mysqld.sock", &c->db_socket, err,
	    errlen) != 0 ||
	    str_opt(get, "USERMGR_DB_HOST", NULL, &c->db_host, err, errlen) != 0 ||
	    str_opt(get, "USERMGR_DB_NAME", "usermgr", &c->db_name, err, errlen) != 0 ||
	    str_opt(get, "USERMGR_DB_USER", "usermgr", &c->db_user, err, errlen) != 0 ||
	    str_opt(get, "USERMGR_DB_PASSWORD", NULL, &c->db_password, err, errlen) != 0)
		goto out;
	if (uint_opt(get, "USERMGR_DB_PORT", 3306, 1, 65535, &c->db_port, err, errlen) != 0)
		goto out;

	/* Keys. */
	if (str_opt(get, "USERMGR_SECRET_KEY", NULL, &c->secret_key, err, errlen) != 0)
		goto out;
	if (c->secret_key != NULL && strlen(c->secret_key) < 32) {
		(void)snprintf(err, errlen, "USERMGR_SECRET_KEY needs at least 32 characters");
		goto out;
	}
	if (c->secret_key == NULL && require_keys) {
		(void)snprintf(err, errlen, "USERMGR_SECRET_KEY (or USERMGR_SECRET_KEY_FILE) is not set");
		goto out;
	}
	if (str_opt(get, "USERMGR_SECRET_KEY_OLD", NULL, &s, err, errlen) != 0 ||
	    split_old_keys(c, s, err, errlen) != 0)
		goto out;
	free(s);
	s = NULL;
	if (str_opt(get, "USERMGR_DATA_KEY", NULL, &s, err, errlen) != 0)
		goto out;
	if (s != NULL) {
		if (decode_key(s, c->data_key) != 0) {
			(void)snprintf(err, errlen,
			    "USERMGR_DATA_KEY must be the base64 of exactly 32 bytes");
			goto out;
		}
		c->have_data_key = 1;
	} else if (require_keys) {
		(void)snprintf(err, errlen, "USERMGR_DATA_KEY (or USERMGR_DATA_KEY_FILE) is not set");
		goto out;
	}

	/* Mail. */
	free(s);
	s = NULL;
	if (str_opt(get, "USERMGR_MAIL_TRANSPORT", "file", &s, err, errlen) != 0)
		goto out;
	if (strcmp(s, "file") == 0)
		c->mail_transport = MAIL_FILE;
	else if (strcmp(s, "mailjet") == 0)
		c->mail_transport = MAIL_MAILJET;
	else if (strcmp(s, "smtp") == 0)
		c->mail_transport = MAIL_SMTP;
	else {
		(void)snprintf(err, errlen, "USERMGR_MAIL_TRANSPORT must be file, mailjet or smtp");
		goto out;
	}
	if (str_opt(get, "USERMGR_MAIL_DIR", "mail", &c->mail_dir, err, errlen) != 0 ||
	    str_opt(get, "MAILJET_API_URL", "https://api.mailjet.com/v3.1/send",
	    &c->mailjet_url, err, errlen) != 0 ||
	    str_opt(get, "MAILJET_API_KEY", NULL, &c->mailjet_key, err, errlen) != 0 ||
	    str_opt(get, "MAILJET_API_SECRET", NULL, &c->mailjet_secret, err, errlen) != 0 ||
	    str_opt(get, "SENDER_EMAIL", "no-reply@localhost", &c->sender_email, err,
	    errlen) != 0 ||
	    str_opt(get, "SENDER_NAME", "usermgr", &c->sender_name, err, errlen) != 0 ||
	    str_opt(get, "USERMGR_SMTP_URL", NULL, &c->smtp_url, err, errlen) != 0 ||
	    str_opt(get, "USERMGR_SMTP_USER", NULL, &c->smtp_user, err, errlen) != 0 ||
	    str_opt(get, "USERMGR_SMTP_PASSWORD", NULL, &c->smtp_password, err, errlen) != 0)
		goto out;
	/* The seed apps' variable names are accepted as fallbacks (API.md §1). */
	if (c->mailjet_key == NULL &&
	    str_opt(get, "API_KEY", NULL, &c->mailjet_key, err, errlen) != 0)
		goto out;
	if (c->mailjet_secret == NULL &&
	    str_opt(get, "API_SECRET", NULL, &c->mailjet_secret, err, errlen) != 0)
		goto out;
	if (strpbrk(c->sender_email, "\r\n") != NULL || strpbrk(c->sender_name, "\r\n") != NULL) {
		(void)snprintf(err, errlen, "SENDER_EMAIL and SENDER_NAME must be one line each");
		goto out;
	}

	/*
	 * Besides the 24 h of API.md §7: 40 attempts of the 30 s-doubling-to-1 h schedule take
	 * about 30 h, so by default the age rule decides; a smaller value gives up sooner.
	 */
	if (uint_opt(get, "USERMGR_MAIL_MAX_ATTEMPTS", 40, 1, 1000, &c->mail_max_attempts, err,
	    errlen) != 0)
		goto out;

	/* Policy. */
	if (uint_opt(get, "USERMGR_LOGIN_MAX_FAILURES", 5, 1, 1000, &c->login_max_failures,
	    err, errlen) != 0 ||
	    uint_opt(get, "USERMGR_LOGIN_LOCKOUT_SECONDS", 900, 1, 86400 * 30,
	    &c->login_lockout_seconds, err, errlen) != 0 ||
	    uint_opt(get, "USERMGR_RATE_PER_IP_PER_MIN", 30, 1, 1000000,
	    &c->rate_per_ip_per_min, err, errlen) != 0 ||
	    uint_opt(get, "USERMGR_ARGON2_MEMORY_KIB", 19456, 8, 4194304,
	    &c->argon2_memory_kib, err, errlen) != 0 ||
	    uint_opt(get, "USERMGR_ARGON2_ITERATIONS", 2, 1, 100, &c->argon2_iterations, err,
	    errlen) != 0 ||
	    /* libsodium's Argon2id is single-lane: any other parallelism cannot be honoured. */
	    uint_opt(get, "USERMGR_ARGON2_PARALLELISM", 1, 1, 1, &c->argon2_parallelism, err,
	    errlen) != 0 ||
	    uint_opt(get, "USERMGR_PASSWORD_MIN_LENGTH", 8, 1, 128, &c->password_min_length,
	    err, errlen) != 0 ||
	    uint_opt(get, "USERMGR_PREVENT_ENUMERATION", 0, 0, 1,
	    (unsigned *)&c->prevent_enumeration, err, errlen) != 0 ||
	    uint_opt(get, "USERMGR_ACCESS_TOKEN_SECONDS", 900, 10, 86400,
	    &c->access_token_seconds, err, errlen) != 0 ||
	    uint_opt(get, "USERMGR_REFRESH_TOKEN_DAYS", 30, 1, 3650, &c->refresh_token_days,
	    err, errlen) != 0 ||
	    str_opt(get, "USERMGR_BOOTSTRAP_ADMIN_EMAIL", "admin@localhost",
	    &c->bootstrap_admin_email, err, errlen) != 0)
		goto out;
	free(s);
	s = NULL;
	if (str_opt(get, "USERMGR_LOG_LEVEL", "info", &s, err, errlen) != 0)
		goto out;
	/* Parallel to enum log_level (log.h). */
	if (strcmp(s, "error") == 0)
		c->log_level = 0;
	else if (strcmp(s, "warn") == 0)
		c->log_level = 1;
	else if (strcmp(s, "info") == 0)
		c->log_level = 2;
	else if (strcmp(s, "debug") == 0)
		c->log_level = 3;
	else {
		(void)snprintf(err, errlen, "USERMGR_LOG_LEVEL must be error, warn, info or debug");
		goto out;
	}
	rc = UM_OK;
out:
	free(s);
	free(def_url);
	if (rc != UM_OK)
		conf_free(c);
	return rc;
}

static void
free_secret(char **p)
{
	if (*p != NULL) {
		OPENSSL_cleanse(*p, strlen(*p));
		free(*p);
		*p = NULL;
	}
}

void
conf_free(struct conf *c)
{
	size_t	 i;

	if (c == NULL)
		return;
	free(c->base_url);
	free(c->template_dir);
	free(c->sql_dir);
	free(c->common_passwords);
	free(c->db_socket);
	free(c->db_host);
	free(c->db_name);
	free(c->db_user);
	free_secret(&c->db_password);
	free_secret(&c->secret_key);
	for (i = 0; i < c->nold_keys; i++)
		free_secret(&c->old_keys[i]);
	OPENSSL_cleanse(c->data_key, sizeof(c->data_key));
	free(c->mail_dir);
	free(c->mailjet_url);
	free_secret(&c->mailjet_key);
	free_secret(&c->mailjet_secret);
	free(c->sender_email);
	free(c->sender_name);
	free(c->smtp_url);
	free(c->smtp_user);
	free_secret(&c->smtp_password);
	free(c->bootstrap_admin_email);
	memset(c, 0, sizeof(*c));
}
