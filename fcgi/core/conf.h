/* conf: the configuration of API.md §1, read once from the environment (X or X_FILE). */
#ifndef UM_CONF_H
#define UM_CONF_H

#include <stddef.h>

#include "error.h"

enum mail_transport {
	MAIL_FILE = 0, /* .eml files in mail_dir */
	MAIL_MAILJET,  /* Mailjet Send API v3.1 */
	MAIL_SMTP,     /* libcurl SMTP */
	MAIL__MAX
};

/*
 * TLS to MariaDB (USERMGR_DB_SSL_MODE).  Unset, it follows from the other settings: verify
 * with a CA, required over TCP to a host other than loopback, disabled otherwise.
 */
/* One node of USERMGR_DB_HOSTS. */
#define CONF_DB_HOSTS_MAX 8
struct conf_db_host {
	char    *host; /* a name, an IPv4 address or an IPv6 one (without brackets) */
	unsigned port;
};

enum db_ssl_mode {
	DB_SSL_DISABLED = 0, /* no TLS: a unix socket or loopback */
	DB_SSL_REQUIRED,     /* TLS or no connection; the certificate is not checked */
	DB_SSL_VERIFY,       /* TLS; chain checked against db_ssl_ca, name against db_host */
	DB_SSL__MAX
};

#define CONF_OLD_KEYS_MAX 8

struct conf {
	/* where things are */
	unsigned http_port;        /* USERMGR_HTTP_PORT: only for base_url's default */
	char    *base_url;         /* USERMGR_BASE_URL, no trailing slash */
	int      https;            /* base_url starts with https:// */
	char    *template_dir;     /* USERMGR_TEMPLATE_DIR, default UM_DATADIR/templates */
	char    *sql_dir;          /* USERMGR_SQL_DIR, default UM_DATADIR/sql */
	char    *common_passwords; /* USERMGR_COMMON_PASSWORDS, default
						 * UM_DATADIR/common-passwords.txt */
	/* database (internal to the deployment; deploy/local/run sets them) */
	char    *db_socket;   /* USERMGR_DB_SOCKET */
	char    *db_host;     /* USERMGR_DB_HOST: TCP instead of the socket */
	unsigned db_port;     /* USERMGR_DB_PORT */
	char    *db_name;     /* USERMGR_DB_NAME, default usermgr */
	char    *db_user;     /* USERMGR_DB_USER, default usermgr */
	char    *db_password; /* USERMGR_DB_PASSWORD(_FILE) */
	/* USERMGR_DB_HOSTS: nodes of a cluster, tried in order (db.c); unset, the above */
	char               *db_hosts_text;
	struct conf_db_host db_hosts[CONF_DB_HOSTS_MAX];
	size_t              ndb_hosts;
	unsigned db_timeout; /* USERMGR_DB_TIMEOUT: seconds to connect, read, write */

	/* TLS to the database (docs/DECISIONS.md, "Configuration") */
	char            *db_ssl_ca;        /* USERMGR_DB_SSL_CA: the server's CA (PEM) */
	char            *db_ssl_mode_text; /* USERMGR_DB_SSL_MODE, or the derived word */
	enum db_ssl_mode db_ssl_mode;      /* ... parsed */
	int              db_ssl_mode_set;  /* given, not derived: legacy import keeps it */

	/* only `usermgr-admin migrate`; unset, it uses db_user (one account for everything) */
	char *db_migrate_user;     /* USERMGR_DB_MIGRATE_USER */
	char *db_migrate_password; /* USERMGR_DB_MIGRATE_PASSWORD(_FILE) */

	/* keys */
	char         *secret_key;    /* USERMGR_SECRET_KEY(_FILE), >= 32 characters */
	char         *old_keys_text; /* USERMGR_SECRET_KEY_OLD, comma-separated, */
	char         *old_keys[CONF_OLD_KEYS_MAX]; /* ... split into these */
	size_t        nold_keys;
	char         *data_key_text; /* USERMGR_DATA_KEY(_FILE), base64 of 32 bytes, */
	unsigned char data_key[32];  /* ... decoded */
	int           have_data_key;
	char         *signing_key_dir; /* USERMGR_SIGNING_KEY_DIR: ES256 ID token keys (PEM) */
	/* mail */
	enum mail_transport mail_transport;
	char               *mail_dir;
	char               *mailjet_url, *mailjet_key, *mailjet_secret;
	char               *sender_email, *sender_name;
	char               *smtp_url, *smtp_user, *smtp_password;
	char               *smtp_ca; /* PEM bundle to verify the server by, or the system's */
	unsigned            mail_max_attempts; /* USERMGR_MAIL_MAX_ATTEMPTS, 40: then failed */
	unsigned outbox_retention_days;     /* USERMGR_OUTBOX_RETENTION_DAYS, 7: sent rows go */
	unsigned audit_retention_days;      /* USERMGR_AUDIT_RETENTION_DAYS, 365 */
	unsigned mail_per_address_per_hour; /* USERMGR_MAIL_PER_ADDRESS_PER_HOUR, 5 */
	unsigned legacy_wrap_per_second;    /* USERMGR_LEGACY_WRAP_PER_SECOND, 5; 0: off */
	/* policy */
	unsigned login_max_failures;    /* 5 */
	unsigned login_lockout_seconds; /* 900 */
	unsigned device_max_failures;   /* 3: its budget while the account is locked */
	unsigned rate_per_ip_per_min;   /* 30 */
	unsigned argon2_memory_kib;     /* 19456 */
	unsigned argon2_iterations;     /* 2 */
	unsigned argon2_parallelism;    /* 1 */
	unsigned password_min_length;   /* 8 */
	int      prevent_enumeration;   /* 0 */
	unsigned access_token_seconds;  /* 900 */
	unsigned refresh_token_days;    /* 30 */
	unsigned unverified_days;       /* 7: then usermgr-admin prune deletes the account */
	char    *bootstrap_admin_email; /* admin@localhost */
	/* breached passwords (breach.c): the Have I Been Pwned range API */
	char    *hibp_url;        /* USERMGR_HIBP_URL; NULL: the check is off */
	unsigned hibp_min_count;  /* USERMGR_HIBP_MIN_COUNT, 1: refused from this count */
	unsigned hibp_timeout_ms; /* USERMGR_HIBP_TIMEOUT_MS, 1500: then skipped */
	unsigned log_level;       /* USERMGR_LOG_LEVEL: error, warn, info (default), debug */
	/* the host-local cache (cache.h) */
	unsigned cache_mb;   /* USERMGR_CACHE_MB, 16; 0: no cache */
	char    *cache_file; /* USERMGR_CACHE_FILE, default derived from the database */
	unsigned
	    revocation_poll_ms; /* USERMGR_REVOCATION_POLL_MS, 200: the log's poll interval */
};

/* How a setting's text becomes its value; conf.c parses each type, check-config shows each. */
enum conf_type {
	CONF_STRING = 0, /* char *, malloc'd; min is its least length */
	CONF_UINT,       /* unsigned in [min, max] */
	CONF_BOOL,       /* int, 0 or 1 */
	CONF_ENUM,       /* an unsigned-sized enum: the index of the word among choices */
	CONF__MAX
};

#define CONF_SECRET   0x01 /* shown as (set) or (not set), wiped when freed */
#define CONF_REQUIRED 0x02 /* must be set when conf_load's require_keys is */
#define CONF_ONE_LINE 0x04 /* no CR or LF: it goes into a mail header */
#define CONF_INTERNAL 0x08 /* set by the deployment: named in the README, not in its table */

/*
 * One setting of API.md §1.  The README's configuration table is checked against these rows
 * (tests/unit/test_conf.c), so the loader, check-config and the README cannot drift apart.
 */
struct conf_var {
	const char        *name; /* X; X_FILE is read when X is unset or empty */
	enum conf_type     type;
	size_t             offset;   /* offsetof(struct conf, field) */
	unsigned           min, max; /* CONF_UINT bounds; CONF_STRING least length */
	const char        *def;      /* the default, parsed like a value; NULL: none */
	unsigned           flags;    /* CONF_SECRET, ... */
	const char *const *choices;  /* CONF_ENUM: the words, parallel to the enum */
	const char        *fallback; /* read when X and X_FILE are not (the seed apps' names) */
	/* Checks or derives more once the value is in place (base URL, keys); 0 or -1. */
	int (*check)(struct conf *, char *, size_t);
	const char *readme_default; /* the README's words for the default, if not def */
	const char *description;    /* one line, as in the README */
};

extern const struct conf_var conf_vars[]; /* in loading order */
extern const size_t          conf_nvars;

/*
 * Signature of the environment lookup, so tests can feed a table instead of getenv().
 */
typedef const char *conf_getenv_fn(const char *);

/*
 * Fills c from the environment: defaults, then X, then X_FILE (content minus one trailing
 * newline).  When require_keys is set, a missing or short secret key is an error (the worker
 * and mailer need it; `usermgr-admin migrate` does not).  On error returns UM_EINVAL and
 * writes a message naming the variable into err (never its value).  Strings are malloc'd;
 * conf_free() releases them.
 */
enum um_err conf_load(struct conf *, conf_getenv_fn *, int, char *, size_t);
void        conf_free(struct conf *);

/*
 * The value of the setting as check-config prints it: secrets only as "(set)" or "(not set)",
 * an unset string as "(not set)".  Returns buf (of size n) or a constant.
 */
const char *conf_show(const struct conf *, const struct conf_var *, char *, size_t);

/*
 * The TLS mode a connection to host gets when USERMGR_DB_SSL_MODE is unset: verify when a CA
 * is given, required over TCP to anything but loopback, else disabled (a NULL or empty host
 * is the unix socket).
 */
enum db_ssl_mode conf_db_ssl_default(const char *host, const char *ca);
/* The mode's word, as USERMGR_DB_SSL_MODE spells it. */
const char *conf_db_ssl_name(enum db_ssl_mode);

/*
 * The cache file of a database when USERMGR_CACHE_FILE is unset:
 * /dev/shm/usermgr-cache-<16 hex digits of a SHA-256 over the endpoint (host:port or socket
 * path), the database name and the cache's layout version>, into buf of size n.
 */
void conf_cache_file_default(const struct conf *, char *, size_t);

/* Parses a decimal unsigned integer in [min, max] with nothing trailing; -1 on error. */
int conf_parse_uint(const char *, unsigned, unsigned, unsigned *);

#endif
