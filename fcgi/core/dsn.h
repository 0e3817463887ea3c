/* dsn: MariaDB connection URLs as SQLAlchemy (and so the seed Flask apps) write them. */
#ifndef UM_DSN_H
#define UM_DSN_H

#include <stddef.h>

#include "error.h"

struct arena;

#define DSN_PORT_DEFAULT  3306
#define DSN_TABLE_DEFAULT "users"

struct dsn {
	const char *user;     /* NULL: the client library's default (the OS user) */
	const char *password; /* NULL when the URL has none */
	const char *host;     /* NULL: unix socket */
	unsigned    port;     /* TCP only */
	const char *socket;   /* NULL with a NULL host: the client library's default */
	const char *database;
	const char *table; /* [A-Za-z0-9_$]{1,64}: safe inside backquotes */
};

/*
 * Parses SCHEME://[USER[:PASSWORD]@][HOST][:PORT]/DATABASE[?KEY=VALUE&...] into the arena.
 * SCHEME is mariadb or mysql, optionally with a SQLAlchemy driver suffix (mysql+pymysql).
 * HOST empty or `localhost` means the unix socket, anything else TCP ([v6] allowed).  Query
 * keys: table, unix_socket (or socket), charset (accepted and ignored: the connection is
 * always utf8mb4).  Every component is percent-decoded ('+' stays '+').
 * UM_EINVAL with a message in err when it is not such a URL; the message never holds the
 * password.
 */
enum um_err dsn_parse(struct arena *, const char *, struct dsn *, char *, size_t);

#endif
