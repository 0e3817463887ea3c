/* conf: the configuration of API.md §1, read once from the environment (X or X_FILE). */
#ifndef UM_CONF_H
#define UM_CONF_H

#include <stddef.h>

#include "error.h"

enum mail_transport {
	MAIL_FILE = 0,		/* .eml files in mail_dir */
	MAIL_MAILJET,		/* Mailjet Send API v3.1 */
	MAIL_SMTP,		/* libcurl SMTP */
	MAIL__MAX
};

#define CONF_OLD_KEYS_MAX	8

struct conf {
	/* where things are */
	char		*base_url;		/* USERMGR_BASE_URL, no trailing slash */
	int		 https;			/* base_url starts with https:// */
	char		*template_dir;		/* USERMGR_TEMPLATE_DIR, default UM_DATADIR/templates */
	char		*sql_dir;		/* USERMGR_SQL_DIR, default UM_DATADIR/sql */
	char		*common_passwords;	/* USERMGR_COMMON_PASSWORDS, default
						 * UM_DATADIR/common-passwords.txt */
	/* database (internal to the deployment; deploy/local/run sets them) */
	char		*db_socket;		/* USERMGR_DB_SOCKET */
	char		*db_host;		/* USERMGR_DB_HOST: TCP instead of the socket */
	unsigned	 db_port;		/* USERMGR_DB_PORT */
	char		*db_name;		/* USERMGR_DB_NAME, default usermgr */
	char		*db_user;		/* USERMGR_DB_USER, default usermgr */
	char		*db_password;		/* USERMGR_DB_PASSWORD(_FILE) */
	/* keys */
	char		*secret_key;		/* USERMGR_SECRET_KEY(_FILE), >= 32 characters */
	char		*old_keys[CONF_OLD_KEYS_MAX];	/* USERMGR_SECRET_KEY_OLD, comma-separated */
	size_t		 nold_keys;
	unsigned char	 data_key[32];		/* USERMGR_DATA_KEY(_FILE), base64 of 32 bytes */
	int		 have_data_key;
	/* mail */
	enum mail_transport mail_transport;
	char		*mail_dir;
	char		*mailjet_url, *mailjet_key, *mailjet_secret;
	char		*sender_email, *sender_name;
	char		*smtp_url, *smtp_user, *smtp_password;
	unsigned	 mail_max_attempts;	/* USERMGR_MAIL_MAX_ATTEMPTS, 40: then failed */
	/* policy */
	unsigned	 login_max_failures;	/* 5 */
	unsigned	 login_lockout_seconds;	/* 900 */
	unsigned	 rate_per_ip_per_min;	/* 30 */
	unsigned	 argon2_memory_kib;	/* 19456 */
	unsigned	 argon2_iterations;	/* 2 */
	unsigned	 argon2_parallelism;	/* 1 */
	unsigned	 password_min_length;	/* 8 */
	int		 prevent_enumeration;	/* 0 */
	unsigned	 access_token_seconds;	/* 900 */
	unsigned	 refresh_token_days;	/* 30 */
	char		*bootstrap_admin_email;	/* admin@localhost */
	unsigned	 log_level;		/* USERMGR_LOG_LEVEL: error, warn, info (default), debug */
};

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
enum um_err	conf_load(struct conf *, conf_getenv_fn *, int, char *, size_t);
void		conf_free(struct conf *);

/* Parses a decimal unsigned integer in [min, max] with nothing trailing; -1 on error. */
int		conf_parse_uint(const char *, unsigned, unsigned, unsigned *);

#endif
