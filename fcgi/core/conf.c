/* conf: API.md §1 settings as one table — it drives loading (default, X, X_FILE), checks and listing. */
#include "config.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "cache.h"
#include "conf.h"
#include "log.h"

#ifndef UM_DATADIR
#define UM_DATADIR "/usr/local/share/usermgr"
#endif

#define CONF_FILE_MAX 65536 /* a secret file larger than this is a mistake */
#define KEY_MIN       32    /* characters of a secret key, current or old */

int
conf_parse_uint(const char *s, unsigned min, unsigned max, unsigned *out)
{
	unsigned long v;
	char         *end;

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
	char *p;

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
	FILE  *f;
	char  *data = NULL;
	size_t n;

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
	char        name[128];
	const char *v, *path;

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

/* Decodes standard base64 of exactly 32 bytes (USERMGR_DATA_KEY). */
static int
decode_key(const char *b64, unsigned char out[32])
{
	unsigned char tmp[64];
	size_t        len = strlen(b64);
	int           n, pad = 0;

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

static void
free_secret(char **p)
{
	if (*p != NULL) {
		OPENSSL_cleanse(*p, strlen(*p));
		free(*p);
		*p = NULL;
	}
}

/* USERMGR_DATA_KEY: the AES-256-GCM key of the sealed fields. */
static int
data_key(struct conf *c, char *err, size_t errlen)
{
	if (c->data_key_text == NULL)
		return 0;
	if (decode_key(c->data_key_text, c->data_key) != 0) {
		(void)snprintf(err, errlen,
		    "USERMGR_DATA_KEY must be the base64 of exactly 32 bytes");
		return -1;
	}
	c->have_data_key = 1;
	return 0;
}

/* USERMGR_SECRET_KEY_OLD: retired keys, comma-separated, empty items skipped. */
static int
old_keys(struct conf *c, char *err, size_t errlen)
{
	char *list, *p, *comma;
	int   rc = -1;

	if (c->old_keys_text == NULL)
		return 0;
	list = xstrdup(c->old_keys_text);
	for (p = list; p != NULL && *p != '\0'; p = comma) {
		if ((comma = strchr(p, ',')) != NULL)
			*comma++ = '\0';
		if (*p == '\0')
			continue;
		if (strlen(p) < KEY_MIN) {
			(void)snprintf(err, errlen,
			    "USERMGR_SECRET_KEY_OLD: every key needs at least %d characters",
			    KEY_MIN);
			goto out;
		}
		if (c->nold_keys == CONF_OLD_KEYS_MAX) {
			(void)snprintf(err, errlen, "USERMGR_SECRET_KEY_OLD: more than %d keys",
			    CONF_OLD_KEYS_MAX);
			goto out;
		}
		c->old_keys[c->nold_keys++] = xstrdup(p);
	}
	rc = 0;
out:
	free_secret(&list);
	return rc;
}

/* USERMGR_HIBP_URL: unset or empty is off; else an http(s) URL, its trailing "/" dropped. */
static int
hibp_url(struct conf *c, char *err, size_t errlen)
{
	size_t n;

	if (c->hibp_url == NULL || c->hibp_url[0] == '\0')
		return 0;
	n = strlen(c->hibp_url);
	while (n > 0 && c->hibp_url[n - 1] == '/')
		c->hibp_url[--n] = '\0';
	if ((strncmp(c->hibp_url, "https://", 8) != 0 &&
	        strncmp(c->hibp_url, "http://", 7) != 0) ||
	    strpbrk(c->hibp_url, "\"'<> \t\r\n?#") != NULL) {
		(void)snprintf(err, errlen,
		    "USERMGR_HIBP_URL must be an http:// or https:// URL without query");
		return -1;
	}
	return 0;
}

/* USERMGR_BASE_URL: http://localhost:USERMGR_HTTP_PORT by default (browsers refuse WebAuthn on
 * an IP address, API.md §8); https:// for Secure cookies. */
static int
base_url(struct conf *c, char *err, size_t errlen)
{
	char   def[sizeof("http://localhost:65535")];
	size_t n;

	if (c->base_url == NULL) {
		(void)snprintf(def, sizeof(def), "http://localhost:%u", c->http_port);
		c->base_url = xstrdup(def);
	}
	n = strlen(c->base_url);
	while (n > 0 && c->base_url[n - 1] == '/')
		c->base_url[--n] = '\0';
	c->https = strncmp(c->base_url, "https://", 8) == 0;
	if (!c->https && strncmp(c->base_url, "http://", 7) != 0) {
		(void)snprintf(err, errlen,
		    "USERMGR_BASE_URL must start with http:// or https://");
		return -1;
	}
	if (strpbrk(c->base_url, "\"'<> \t\r\n") != NULL) {
		(void)snprintf(err, errlen,
		    "USERMGR_BASE_URL holds a character not allowed in a URL");
		return -1;
	}
	return 0;
}

static int parse_enum(struct conf *, const struct conf_var *, const char *, char *, size_t);

/* Parallel to enum db_ssl_mode (conf.h). */
static const char *const ssl_modes[DB_SSL__MAX + 1] = {
	[DB_SSL_DISABLED] = "disabled",
	[DB_SSL_REQUIRED] = "required",
	[DB_SSL_VERIFY] = "verify",
};
_Static_assert(sizeof(enum db_ssl_mode) == sizeof(unsigned), "parse_enum stores an unsigned");

const char *
conf_db_ssl_name(enum db_ssl_mode m)
{
	return m < DB_SSL__MAX ? ssl_modes[m] : "?";
}

/*
 * Traffic that never leaves the machine needs no TLS: the socket, or TCP to loopback as a
 * configuration spells it.  Only these three spellings: another 127/8 address may be a proxy
 * or a tunnel whose far end is another machine, so it gets TLS unless told otherwise.
 */
enum db_ssl_mode
conf_db_ssl_default(const char *host, const char *ca)
{
	if (ca != NULL && ca[0] != '\0')
		return DB_SSL_VERIFY;
	if (host == NULL || host[0] == '\0' || strcmp(host, "127.0.0.1") == 0 ||
	    strcmp(host, "::1") == 0 || strcasecmp(host, "localhost") == 0)
		return DB_SSL_DISABLED;
	return DB_SSL_REQUIRED;
}

/*
 * USERMGR_DB_HOSTS: "host:port" items separated by commas or spaces, an IPv6 address in
 * brackets ("[::1]:3306").  Every item names its port: a cluster's nodes on one machine (the
 * tests, deploy/cluster/run) differ by port alone, and a forgotten one must not quietly be
 * 3306.
 */
static int
db_hosts(struct conf *c, char *err, size_t errlen)
{
	char         *list, *p, *end, *host, *colon;
	unsigned long port;
	int           rc = -1;

	if (c->db_hosts_text == NULL)
		return 0;
	list = xstrdup(c->db_hosts_text);
	for (p = list; *p != '\0'; p = end) {
		p += strspn(p, ", \t");
		if (*p == '\0')
			break;
		end = p + strcspn(p, ", \t");
		if (*end != '\0')
			*end++ = '\0';
		if (*p == '[') {
			host = p + 1;
			if ((colon = strstr(host, "]:")) == NULL)
				goto bad;
			*colon++ = '\0';
		} else {
			host = p;
			if ((colon = strrchr(host, ':')) == NULL || strchr(host, ':') != colon)
				goto bad;
		}
		*colon++ = '\0';
		errno = 0;
		port = strtoul(colon, &p, 10);
		if (host[0] == '\0' || *colon < '0' || *colon > '9' || *p != '\0' ||
		    errno != 0 || port < 1 || port > 65535)
			goto bad;
		if (c->ndb_hosts == CONF_DB_HOSTS_MAX) {
			(void)snprintf(err, errlen, "USERMGR_DB_HOSTS: more than %d hosts",
			    CONF_DB_HOSTS_MAX);
			goto out;
		}
		c->db_hosts[c->ndb_hosts].host = xstrdup(host);
		c->db_hosts[c->ndb_hosts++].port = (unsigned)port;
	}
	if (c->ndb_hosts == 0) {
		(void)snprintf(err, errlen, "USERMGR_DB_HOSTS: no host:port in it");
		goto out;
	}
	rc = 0;
	goto out;
bad:
	(void)snprintf(err, errlen,
	    "USERMGR_DB_HOSTS: each item is host:port or [IPv6]:port, separated by commas");
out:
	free(list);
	return rc;
}

/* USERMGR_DB_SSL_CA: a file the programs can read now, not a surprise at the first connect. */
static int
db_ssl_ca(struct conf *c, char *err, size_t errlen)
{
	if (c->db_ssl_ca != NULL && access(c->db_ssl_ca, R_OK) != 0) {
		(void)snprintf(err, errlen, "USERMGR_DB_SSL_CA: cannot read %s: %s",
		    c->db_ssl_ca, strerror(errno));
		return -1;
	}
	return 0;
}

/*
 * USERMGR_DB_SSL_MODE: one of ssl_modes, or derived (conf_db_ssl_default) and then stored as
 * its word, so check-config shows the mode in force.  verify without a CA has nothing to
 * verify by: refused rather than quietly weakened to required.
 */
static int
db_ssl_mode(struct conf *c, char *err, size_t errlen)
{
	const struct conf_var v = { .name = "USERMGR_DB_SSL_MODE",
		.type = CONF_ENUM,
		.offset = offsetof(struct conf, db_ssl_mode),
		.choices = ssl_modes };

	size_t i;

	if (c->db_ssl_mode_text == NULL) {
		c->db_ssl_mode = conf_db_ssl_default(c->db_host, c->db_ssl_ca);
		/* A cluster: the strictest mode any of its nodes would get on its own. */
		for (i = 0; i < c->ndb_hosts; i++)
			if (conf_db_ssl_default(c->db_hosts[i].host, c->db_ssl_ca) >
			    c->db_ssl_mode)
				c->db_ssl_mode = conf_db_ssl_default(c->db_hosts[i].host,
				    c->db_ssl_ca);
		c->db_ssl_mode_text = xstrdup(ssl_modes[c->db_ssl_mode]);
		return 0;
	}
	c->db_ssl_mode_set = 1;
	if (parse_enum(c, &v, c->db_ssl_mode_text, err, errlen) != 0)
		return -1;
	if (c->db_ssl_mode == DB_SSL_VERIFY && c->db_ssl_ca == NULL) {
		(void)snprintf(err, errlen,
		    "USERMGR_DB_SSL_MODE=verify needs USERMGR_DB_SSL_CA: the CA certificate "
		    "(PEM file) to check the database server's certificate by");
		return -1;
	}
	return 0;
}

/* A migration password without its account would be tried as the workers' account's. */
static int
db_migrate_password(struct conf *c, char *err, size_t errlen)
{
	if (c->db_migrate_password != NULL && c->db_migrate_user == NULL) {
		(void)snprintf(err, errlen,
		    "USERMGR_DB_MIGRATE_PASSWORD is set but USERMGR_DB_MIGRATE_USER is not");
		return -1;
	}
	return 0;
}

/*
 * Two stacks on one machine must never share a segment, and a stack is its database: the
 * name is a hash of where the database is and which one it is.  The layout version is hashed
 * too, so an upgrade that changes the layout starts on a new file instead of two builds
 * rebuilding each other's (docs/DECISIONS.md "Fast path: the shared cache").
 */
void
conf_cache_file_default(const struct conf *c, char *buf, size_t n)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int  mdlen = 0;
	char          in[4096];
	int           len, i;

	if (c->db_hosts_text != NULL)
		len = snprintf(in, sizeof(in), "usermgr-cache %d\nhosts:%s\n%s",
		    CACHE_LAYOUT_VERSION, c->db_hosts_text, c->db_name ? c->db_name : "");
	else if (c->db_host != NULL && c->db_host[0] != '\0')
		len = snprintf(in, sizeof(in), "usermgr-cache %d\ntcp:%s:%u\n%s",
		    CACHE_LAYOUT_VERSION, c->db_host, c->db_port, c->db_name ? c->db_name : "");
	else
		len = snprintf(in, sizeof(in), "usermgr-cache %d\nunix:%s\n%s",
		    CACHE_LAYOUT_VERSION, c->db_socket ? c->db_socket : "",
		    c->db_name ? c->db_name : "");
	if (len < 0 || (size_t)len >= sizeof(in))
		len = (int)strlen(in);
	(void)EVP_Digest(in, (size_t)len, md, &mdlen, EVP_sha256(), NULL);
	len = snprintf(buf, n, "/dev/shm/usermgr-cache-");
	for (i = 0; i < 8 && len > 0 && (size_t)len + 2 < n; i++)
		len += snprintf(buf + len, n - (size_t)len, "%02x", md[i]);
}

/* USERMGR_CACHE_FILE: derived from the database when unset; an absolute path when given. */
static int
cache_file(struct conf *c, char *err, size_t errlen)
{
	char def[64];

	if (c->cache_file == NULL) {
		conf_cache_file_default(c, def, sizeof(def));
		c->cache_file = xstrdup(def);
		return 0;
	}
	if (c->cache_file[0] != '/') {
		(void)snprintf(err, errlen, "USERMGR_CACHE_FILE must be an absolute path");
		return -1;
	}
	return 0;
}

/* Parallel to enum mail_transport (conf.h) and enum log_level (log.h). */
static const char *const transports[MAIL__MAX + 1] = {
	[MAIL_FILE] = "file",
	[MAIL_MAILJET] = "mailjet",
	[MAIL_SMTP] = "smtp",
};
static const char *const levels[LOG__MAX + 1] = {
	[LOG_ERR] = "error",
	[LOG_WARN] = "warn",
	[LOG_INFO] = "info",
	[LOG_DEBUG] = "debug",
};
_Static_assert(sizeof(enum mail_transport) == sizeof(unsigned), "CONF_ENUM stores an unsigned");

/* The settings of API.md §1, in the order they are read (base_url needs http_port). */
const struct conf_var conf_vars[] = {
	{ "USERMGR_HTTP_PORT", CONF_UINT, offsetof(struct conf, http_port), 1, 65535,
	    .def = "8080", .description = "nginx listens on 127.0.0.1 at this port" },
	{ "USERMGR_BASE_URL", CONF_STRING, offsetof(struct conf, base_url), .check = base_url,
	    .readme_default = "http://localhost:$USERMGR_HTTP_PORT",
	    .description =
	        "absolute URL used in mailed links; https:// turns on secure cookies" },
	{ "USERMGR_TEMPLATE_DIR", CONF_STRING, offsetof(struct conf, template_dir),
	    .def = UM_DATADIR "/templates", .flags = CONF_INTERNAL,
	    .description = "the page and mail templates" },
	{ "USERMGR_SQL_DIR", CONF_STRING, offsetof(struct conf, sql_dir),
	    .def = UM_DATADIR "/sql", .flags = CONF_INTERNAL,
	    .description = "the migrations usermgr-admin migrate applies" },
	{ "USERMGR_COMMON_PASSWORDS", CONF_STRING, offsetof(struct conf, common_passwords),
	    .def = UM_DATADIR "/common-passwords.txt", .flags = CONF_INTERNAL,
	    .description = "passwords refused as too common, one a line" },
	{ "USERMGR_DB_SOCKET", CONF_STRING, offsetof(struct conf, db_socket),
	    .def = "/run/mysqld/mysqld.sock", .flags = CONF_INTERNAL,
	    .description = "MariaDB's unix socket" },
	{ "USERMGR_DB_HOST", CONF_STRING, offsetof(struct conf, db_host),
	    .flags = CONF_INTERNAL, .description = "MariaDB over TCP instead of the socket" },
	{ "USERMGR_DB_NAME", CONF_STRING, offsetof(struct conf, db_name), .def = "usermgr",
	    .flags = CONF_INTERNAL, .description = "the database" },
	{ "USERMGR_DB_USER", CONF_STRING, offsetof(struct conf, db_user), .def = "usermgr",
	    .flags = CONF_INTERNAL, .description = "the database user" },
	{ "USERMGR_DB_PASSWORD", CONF_STRING, offsetof(struct conf, db_password),
	    .flags = CONF_INTERNAL | CONF_SECRET,
	    .description = "the database user's password" },
	{ "USERMGR_DB_PORT", CONF_UINT, offsetof(struct conf, db_port), 1, 65535, .def = "3306",
	    .flags = CONF_INTERNAL, .description = "MariaDB's TCP port" },
	{ "USERMGR_DB_HOSTS", CONF_STRING, offsetof(struct conf, db_hosts_text),
	    .check = db_hosts, .flags = CONF_INTERNAL,
	    .description =
	        "a cluster's nodes, host:port, tried in order (wins over the above)" },
	{ "USERMGR_DB_TIMEOUT", CONF_UINT, offsetof(struct conf, db_timeout), 1, 3600,
	    .def = "2", .flags = CONF_INTERNAL,
	    .description = "seconds a connect, a read or a write to MariaDB may take" },
	/* Read after the host: the mode's default depends on both. */
	{ "USERMGR_DB_SSL_CA", CONF_STRING, offsetof(struct conf, db_ssl_ca),
	    .check = db_ssl_ca,
	    .description =
	        "CA certificates (PEM file) that MariaDB's certificate must chain to" },
	{ "USERMGR_DB_SSL_MODE", CONF_STRING, offsetof(struct conf, db_ssl_mode_text),
	    .check = db_ssl_mode,
	    .readme_default =
	        "verify with a CA, else required over TCP off loopback, else disabled",
	    .description =
	        "TLS to MariaDB: disabled, required (certificate unchecked) or verify" },
	{ "USERMGR_DB_MIGRATE_USER", CONF_STRING, offsetof(struct conf, db_migrate_user),
	    .flags = CONF_INTERNAL,
	    .description = "the account of usermgr-admin migrate (default USERMGR_DB_USER)" },
	{ "USERMGR_DB_MIGRATE_PASSWORD", CONF_STRING,
	    offsetof(struct conf, db_migrate_password), .flags = CONF_INTERNAL | CONF_SECRET,
	    .check = db_migrate_password, .description = "that account's password" },
	{ "USERMGR_SECRET_KEY", CONF_STRING, offsetof(struct conf, secret_key), KEY_MIN,
	    .flags = CONF_SECRET | CONF_REQUIRED,
	    .readme_default = "generated into the state dir",
	    .description = "master key; HKDF sub-keys for JWT, CSRF, cookies" },
	{ "USERMGR_SECRET_KEY_OLD", CONF_STRING, offsetof(struct conf, old_keys_text),
	    .flags = CONF_SECRET, .check = old_keys,
	    .description = "comma-separated retired keys: still verify, never sign" },
	{ "USERMGR_DATA_KEY", CONF_STRING, offsetof(struct conf, data_key_text),
	    .flags = CONF_SECRET | CONF_REQUIRED, .check = data_key,
	    .readme_default = "generated into the state dir",
	    .description = "base64 of 32 bytes, AES-256-GCM key for sensitive fields" },
	{ "USERMGR_SIGNING_KEY_DIR", CONF_STRING, offsetof(struct conf, signing_key_dir),
	    .def = "oidc-keys", .readme_default = "$USERMGR_STATE_DIR/oidc-keys",
	    .description = "directory of the OpenID Connect ID token signing keys (ES256, PEM, "
	                   "0600; created at first use)" },
	{ "USERMGR_MAIL_TRANSPORT", CONF_ENUM, offsetof(struct conf, mail_transport),
	    .def = "file", .choices = transports, .description = "how mail leaves" },
	{ "USERMGR_MAIL_DIR", CONF_STRING, offsetof(struct conf, mail_dir), .def = "mail",
	    .readme_default = "$USERMGR_STATE_DIR/mail",
	    .description = "file transport: one .eml per message" },
	{ "MAILJET_API_URL", CONF_STRING, offsetof(struct conf, mailjet_url),
	    .def = "https://api.mailjet.com/v3.1/send",
	    .description = "Mailjet Send API v3.1 endpoint" },
	{ "MAILJET_API_KEY", CONF_STRING, offsetof(struct conf, mailjet_key),
	    .flags = CONF_SECRET, .fallback = "API_KEY", .description = "Mailjet basic auth" },
	{ "MAILJET_API_SECRET", CONF_STRING, offsetof(struct conf, mailjet_secret),
	    .flags = CONF_SECRET, .fallback = "API_SECRET",
	    .description = "Mailjet basic auth" },
	{ "SENDER_EMAIL", CONF_STRING, offsetof(struct conf, sender_email),
	    .def = "no-reply@localhost", .flags = CONF_ONE_LINE,
	    .description = "From address" },
	{ "SENDER_NAME", CONF_STRING, offsetof(struct conf, sender_name), .def = "usermgr",
	    .flags = CONF_ONE_LINE, .description = "From name" },
	{ "USERMGR_SMTP_URL", CONF_STRING, offsetof(struct conf, smtp_url),
	    .description =
	        "SMTP transport: smtp:// (STARTTLS; required with a user) or smtps://" },
	{ "USERMGR_SMTP_USER", CONF_STRING, offsetof(struct conf, smtp_user),
	    .description = "SMTP transport: user" },
	{ "USERMGR_SMTP_PASSWORD", CONF_STRING, offsetof(struct conf, smtp_password),
	    .flags = CONF_SECRET, .description = "SMTP transport: password" },
	{ "USERMGR_SMTP_CA", CONF_STRING, offsetof(struct conf, smtp_ca),
	    .description =
	        "SMTP transport: CA certificates (PEM file) instead of the system's" },
	/*
	 * Besides the 24 h of API.md §7: 40 attempts of the 30 s-doubling-to-1 h schedule take
	 * about 30 h, so by default the age rule decides; a smaller value gives up sooner.
	 */
	{ "USERMGR_MAIL_MAX_ATTEMPTS", CONF_UINT, offsetof(struct conf, mail_max_attempts), 1,
	    1000, .def = "40", .description = "a message fails after this many attempts" },
	{ "USERMGR_OUTBOX_RETENTION_DAYS", CONF_UINT,
	    offsetof(struct conf, outbox_retention_days), 1, 3650, .def = "7",
	    .description = "sent outbox rows are deleted after this many days" },
	/* Forgot-password, resend and the "address taken" notice: no mail-bombing an address. */
	{ "USERMGR_MAIL_PER_ADDRESS_PER_HOUR", CONF_UINT,
	    offsetof(struct conf, mail_per_address_per_hour), 1, 1000, .def = "5",
	    .description = "mails a requester can have sent to one address per hour" },
	{ "USERMGR_AUDIT_RETENTION_DAYS", CONF_UINT,
	    offsetof(struct conf, audit_retention_days), 1, 36500, .def = "365",
	    .description = "failed-login audit rows are deleted after this many days" },
	/*
	 * Imported users' bare SHA-256 hashes wrapped by the mailer (legacywrap.c): each costs
	 * one Argon2id hash, about 20 ms of one core at the default cost, so 5 is a tenth of a core
	 * at most; 0 leaves the wrapping to usermgr-admin wrap-legacy.
	 */
	{ "USERMGR_LEGACY_WRAP_PER_SECOND", CONF_UINT,
	    offsetof(struct conf, legacy_wrap_per_second), 0, 1000, .def = "5",
	    .description = "bare legacy hashes the mailer wraps in Argon2id per second" },
	{ "USERMGR_LOGIN_MAX_FAILURES", CONF_UINT, offsetof(struct conf, login_max_failures), 1,
	    1000, .def = "5", .description = "failed logins before the account locks" },
	{ "USERMGR_LOGIN_LOCKOUT_SECONDS", CONF_UINT,
	    offsetof(struct conf, login_lockout_seconds), 1, 86400 * 30, .def = "900",
	    .description = "how long a locked account stays locked" },
	/* OWASP device cookies: a browser that logged in before has a budget of its own, which
	 * lets it through a locked account (the lockout itself is unchanged: docs/DECISIONS.md). */
	{ "USERMGR_DEVICE_MAX_FAILURES", CONF_UINT, offsetof(struct conf, device_max_failures),
	    1, 1000, .def = "3",
	    .description = "failed logins a trusted browser may have in a locked account" },
	/*
	 * Breached passwords (issue 13, item 6): k-anonymity, only the first 5 hex of the
	 * SHA-1 leave the host; slow or down skips the check (breach.c, docs/DECISIONS.md).
	 */
	{ "USERMGR_HIBP_URL", CONF_STRING, offsetof(struct conf, hibp_url), .check = hibp_url,
	    .readme_default = "off",
	    .description = "Have I Been Pwned range API base URL; set: new passwords are "
	                   "checked against it" },
	{ "USERMGR_HIBP_MIN_COUNT", CONF_UINT, offsetof(struct conf, hibp_min_count), 1,
	    1000000000, .def = "1",
	    .description = "breach count from which a new password is refused" },
	{ "USERMGR_HIBP_TIMEOUT_MS", CONF_UINT, offsetof(struct conf, hibp_timeout_ms), 100,
	    60000, .def = "1500",
	    .description = "the range API's time limit; slower: the check is skipped" },
	{ "USERMGR_RATE_PER_IP_PER_MIN", CONF_UINT, offsetof(struct conf, rate_per_ip_per_min),
	    1, 1000000, .def = "30",
	    .description = "per-IP limit on login, register, forgot-password, resend" },
	{ "USERMGR_ARGON2_MEMORY_KIB", CONF_UINT, offsetof(struct conf, argon2_memory_kib), 8,
	    4194304, .def = "19456", .description = "password hashing memory" },
	{ "USERMGR_ARGON2_ITERATIONS", CONF_UINT, offsetof(struct conf, argon2_iterations), 1,
	    100, .def = "2", .description = "password hashing passes" },
	/* libsodium's Argon2id is single-lane: any other parallelism cannot be honoured. */
	{ "USERMGR_ARGON2_PARALLELISM", CONF_UINT, offsetof(struct conf, argon2_parallelism), 1,
	    1, .def = "1", .description = "password hashing lanes (must be 1)" },
	{ "USERMGR_PASSWORD_MIN_LENGTH", CONF_UINT, offsetof(struct conf, password_min_length),
	    1, 128, .def = "8", .description = "minimum password length in characters" },
	{ "USERMGR_PREVENT_ENUMERATION", CONF_BOOL, offsetof(struct conf, prevent_enumeration),
	    .def = "0",
	    .description = "1: a sign-up with a taken address looks like a success" },
	{ "USERMGR_ACCESS_TOKEN_SECONDS", CONF_UINT,
	    offsetof(struct conf, access_token_seconds), 10, 86400, .def = "900",
	    .description = "API access token lifetime" },
	{ "USERMGR_REFRESH_TOKEN_DAYS", CONF_UINT, offsetof(struct conf, refresh_token_days), 1,
	    3650, .def = "30", .description = "API refresh token lifetime" },
	{ "USERMGR_UNVERIFIED_DAYS", CONF_UINT, offsetof(struct conf, unverified_days), 1, 3650,
	    .def = "7",
	    .description = "usermgr-admin prune deletes accounts unverified for longer" },
	{ "USERMGR_BOOTSTRAP_ADMIN_EMAIL", CONF_STRING,
	    offsetof(struct conf, bootstrap_admin_email), .def = "admin@localhost",
	    .description = "the bootstrap admin's address" },
	{ "USERMGR_LOG_LEVEL", CONF_ENUM, offsetof(struct conf, log_level), .def = "info",
	    .choices = levels,
	    .description = "error, warn, info (refusals, failures) or debug" },
	/* Read after the database settings: the file's default name depends on them. */
	{ "USERMGR_CACHE_MB", CONF_UINT, offsetof(struct conf, cache_mb), 0, 4096, .def = "16",
	    .description = "MiB of the host-local cache the workers share; 0 turns it off" },
	{ "USERMGR_CACHE_FILE", CONF_STRING, offsetof(struct conf, cache_file),
	    .check = cache_file, .readme_default = "/dev/shm/usermgr-cache-<hash>",
	    .description = "the cache's shared file" },
	/* Also the bound of revocation across hosts; 5 × it unread and the cache is not trusted. */
	{ "USERMGR_REVOCATION_POLL_MS", CONF_UINT, offsetof(struct conf, revocation_poll_ms),
	    10, 60000, .def = "200",
	    .description = "milliseconds between reads of the revocation log" },
};
const size_t conf_nvars = sizeof(conf_vars) / sizeof(conf_vars[0]);

/* The field of c that setting v fills, as a pointer to type. */
#define FIELD(c, v, type)  ((type *)(void *)((char *)(c) + (v)->offset))
#define CFIELD(c, v, type) ((const type *)(const void *)((const char *)(c) + (v)->offset))

static int
parse_string(struct conf *c, const struct conf_var *v, const char *text, char *err,
    size_t errlen)
{
	if (text == NULL)
		return 0;
	if (strlen(text) < v->min) {
		(void)snprintf(err, errlen, "%s needs at least %u characters", v->name, v->min);
		return -1;
	}
	if ((v->flags & CONF_ONE_LINE) && strpbrk(text, "\r\n") != NULL) {
		(void)snprintf(err, errlen, "%s must be one line", v->name);
		return -1;
	}
	*FIELD(c, v, char *) = xstrdup(text);
	return 0;
}

static int
parse_uint(struct conf *c, const struct conf_var *v, const char *text, char *err, size_t errlen)
{
	if (conf_parse_uint(text, v->min, v->max, FIELD(c, v, unsigned)) != 0) {
		(void)snprintf(err, errlen, "%s must be a whole number from %u to %u", v->name,
		    v->min, v->max);
		return -1;
	}
	return 0;
}

static int
parse_bool(struct conf *c, const struct conf_var *v, const char *text, char *err, size_t errlen)
{
	unsigned b;

	if (conf_parse_uint(text, 0, 1, &b) != 0) {
		(void)snprintf(err, errlen, "%s must be 0 or 1", v->name);
		return -1;
	}
	*FIELD(c, v, int) = (int)b;
	return 0;
}

/* The message lists the words: "X must be a, b or c". */
static int
parse_enum(struct conf *c, const struct conf_var *v, const char *text, char *err, size_t errlen)
{
	unsigned i;
	size_t   n;

	for (i = 0; v->choices[i] != NULL; i++)
		if (strcmp(text, v->choices[i]) == 0) {
			memcpy(FIELD(c, v, unsigned), &i, sizeof(i));
			return 0;
		}
	(void)snprintf(err, errlen, "%s must be", v->name);
	for (i = 0; v->choices[i] != NULL && (n = strlen(err)) + 1 < errlen; i++)
		(void)snprintf(err + n, errlen - n, "%s %s",
		    i == 0                        ? "" :
		        v->choices[i + 1] != NULL ? "," :
		                                    " or",
		    v->choices[i]);
	return -1;
}

static int (*const parse[CONF__MAX])(struct conf *, const struct conf_var *, const char *,
    char *, size_t) = {
	[CONF_STRING] = parse_string,
	[CONF_UINT] = parse_uint,
	[CONF_BOOL] = parse_bool,
	[CONF_ENUM] = parse_enum,
};

/* One setting: X, else X_FILE, else the fallback's, else the default; then its check. */
static int
load_var(struct conf *c, const struct conf_var *v, conf_getenv_fn *get, int require_keys,
    char *err, size_t errlen)
{
	char *s = NULL;
	int   rc;

	if ((rc = lookup(get, v->name, &s, err, errlen)) == 0 && v->fallback != NULL)
		rc = lookup(get, v->fallback, &s, err, errlen);
	if (rc < 0)
		return -1;
	if (s == NULL && (v->flags & CONF_REQUIRED) && require_keys) {
		(void)snprintf(err, errlen, "%s (or %s_FILE) is not set", v->name, v->name);
		return -1;
	}
	rc = parse[v->type](c, v, s != NULL ? s : v->def, err, errlen);
	free_secret(&s);
	if (rc == 0 && v->check != NULL)
		rc = v->check(c, err, errlen);
	return rc;
}

enum um_err
conf_load(struct conf *c, conf_getenv_fn *get, int require_keys, char *err, size_t errlen)
{
	size_t i;

	memset(c, 0, sizeof(*c));
	err[0] = '\0';
	for (i = 0; i < conf_nvars; i++)
		if (load_var(c, &conf_vars[i], get, require_keys, err, errlen) != 0) {
			conf_free(c);
			return UM_EINVAL;
		}
	return UM_OK;
}

const char *
conf_show(const struct conf *c, const struct conf_var *v, char *buf, size_t n)
{
	const char *s;
	unsigned    u;

	switch (v->type) {
	case CONF_STRING:
		if ((s = *CFIELD(c, v, char *)) == NULL)
			return "(not set)";
		return v->flags & CONF_SECRET ? "(set)" : s;
	case CONF_BOOL: return *CFIELD(c, v, int) ? "1" : "0";
	case CONF_ENUM: memcpy(&u, CFIELD(c, v, unsigned), sizeof(u)); return v->choices[u];
	default: (void)snprintf(buf, n, "%u", *CFIELD(c, v, unsigned)); return buf;
	}
}

void
conf_free(struct conf *c)
{
	size_t i;

	if (c == NULL)
		return;
	for (i = 0; i < conf_nvars; i++)
		if (conf_vars[i].type == CONF_STRING && (conf_vars[i].flags & CONF_SECRET))
			free_secret(FIELD(c, &conf_vars[i], char *));
		else if (conf_vars[i].type == CONF_STRING)
			free(*FIELD(c, &conf_vars[i], char *));
	for (i = 0; i < c->nold_keys; i++)
		free_secret(&c->old_keys[i]);
	for (i = 0; i < c->ndb_hosts; i++)
		free(c->db_hosts[i].host);
	OPENSSL_cleanse(c->data_key, sizeof(c->data_key));
	memset(c, 0, sizeof(*c));
}
