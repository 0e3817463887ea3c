/* dsn: parses the MariaDB URL of `usermgr-admin import-legacy --dsn` strictly, naming what is wrong. */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "arena.h"
#include "dsn.h"
#include "form.h"
#include "kv.h"

static enum um_err
refuse(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return UM_EINVAL;
}

/* mariadb, mysql, or either followed by +DRIVER (SQLAlchemy's dialect+driver form). */
static int
scheme_ok(const char *s, size_t n)
{
	size_t base, i;

	if (n >= 7 && strncmp(s, "mariadb", 7) == 0)
		base = 7;
	else if (n >= 5 && strncmp(s, "mysql", 5) == 0)
		base = 5;
	else
		return 0;
	if (n == base)
		return 1;
	if (s[base] != '+' || n == base + 1)
		return 0;
	for (i = base + 1; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') ||
		        s[i] == '_'))
			return 0;
	return 1;
}

/* MariaDB's unquoted identifier characters; anything else would need escaping in SQL. */
static int
table_ok(const char *s)
{
	size_t n = strlen(s), i;

	if (n == 0 || n > 64)
		return 0;
	for (i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		        (s[i] >= '0' && s[i] <= '9') || s[i] == '_' || s[i] == '$'))
			return 0;
	return 1;
}

/* Decodes s[0..n) or NULL when it is empty; *bad set when it cannot be decoded. */
static const char *
part(struct arena *a, const char *s, size_t n, int *bad)
{
	const char *v;

	if (n == 0)
		return NULL;
	if ((v = form_unescape(a, s, n)) == NULL)
		*bad = 1;
	return v;
}

static enum um_err
parse_port(const char *s, size_t n, unsigned *port, char *err, size_t errlen)
{
	unsigned long v = 0;
	size_t        i;

	if (n == 0 || n > 5)
		return refuse(err, errlen, "the port must be a number from 1 to 65535");
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return refuse(err, errlen, "the port must be a number from 1 to 65535");
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	if (v < 1 || v > 65535)
		return refuse(err, errlen, "the port must be a number from 1 to 65535");
	*port = (unsigned)v;
	return UM_OK;
}

/* HOST[:PORT] or [V6][:PORT]; empty or localhost means the unix socket. */
static enum um_err
parse_host(struct arena *a, const char *s, size_t n, struct dsn *d, char *err, size_t errlen)
{
	const char *colon = NULL, *h = s;
	size_t      hn = n;
	int         bad = 0;

	if (n > 0 && s[0] == '[') {
		const char *close = memchr(s, ']', n);

		if (close == NULL)
			return refuse(err, errlen, "an IPv6 host must be written [address]");
		h = s + 1;
		hn = (size_t)(close - s) - 1;
		if (close + 1 < s + n) {
			if (close[1] != ':')
				return refuse(err, errlen, "junk after the IPv6 host");
			colon = close + 1;
		}
	} else if ((colon = memchr(s, ':', n)) != NULL)
		hn = (size_t)(colon - s);
	d->port = DSN_PORT_DEFAULT;
	if (colon != NULL &&
	    parse_port(colon + 1, (size_t)(s + n - colon - 1), &d->port, err, errlen) != UM_OK)
		return UM_EINVAL;
	d->host = part(a, h, hn, &bad);
	if (bad)
		return refuse(err, errlen, "the host holds a malformed %%-escape");
	if (d->host != NULL && strcmp(d->host, "localhost") == 0)
		d->host = NULL;
	return UM_OK;
}

static enum um_err
parse_query(struct arena *a, const char *q, struct dsn *d, char *err, size_t errlen)
{
	struct kvlist kv;
	size_t        i;

	if (form_parse(a, q, strlen(q), &kv, NULL) != UM_OK)
		return refuse(err, errlen, "the query part (after ?) is malformed");
	for (i = 0; i < kv.n; i++) {
		const char *k = kv.v[i].key, *v = kv.v[i].val;

		if (strcmp(k, "table") == 0)
			d->table = v;
		else if (strcmp(k, "unix_socket") == 0 || strcmp(k, "socket") == 0)
			d->socket = v[0] != '\0' ? v : NULL;
		else if (strcmp(k, "charset") == 0)
			continue;
		else
			return refuse(err, errlen,
			    "unknown parameter '%.40s' (known: table, unix_socket, charset)",
			    k);
	}
	return UM_OK;
}

enum um_err
dsn_parse(struct arena *a, const char *url, struct dsn *d, char *err, size_t errlen)
{
	const char *p, *auth, *slash, *q, *at, *colon;
	int         bad = 0;

	memset(d, 0, sizeof(*d));
	d->table = DSN_TABLE_DEFAULT;
	if ((p = strstr(url, "://")) == NULL || !scheme_ok(url, (size_t)(p - url)))
		return refuse(err, errlen,
		    "expected mariadb://USER:PASSWORD@HOST[:PORT]/DATABASE[?table=NAME]");
	auth = p + 3;
	if ((slash = strchr(auth, '/')) == NULL)
		return refuse(err, errlen, "the URL names no database (…/DATABASE)");
	/* The last '@' of the authority: a password may hold an unescaped '@'. */
	at = NULL;
	for (p = auth; p < slash; p++)
		if (*p == '@')
			at = p;
	if (at != NULL) {
		colon = memchr(auth, ':', (size_t)(at - auth));
		d->user = part(a, auth,
		    colon != NULL ? (size_t)(colon - auth) : (size_t)(at - auth), &bad);
		if (colon != NULL && colon + 1 < at)
			d->password = part(a, colon + 1, (size_t)(at - colon - 1), &bad);
		else if (colon != NULL)
			d->password = "";
		if (bad)
			return refuse(err, errlen,
			    "the user or password holds a malformed %%-escape");
		auth = at + 1;
	}
	if (parse_host(a, auth, (size_t)(slash - auth), d, err, errlen) != UM_OK)
		return UM_EINVAL;
	q = strchr(slash + 1, '?');
	d->database = part(a, slash + 1,
	    q != NULL ? (size_t)(q - slash - 1) : strlen(slash + 1), &bad);
	if (bad || d->database == NULL || strchr(d->database, '/') != NULL)
		return refuse(err, errlen, "the URL names no database (…/DATABASE)");
	if (q != NULL && parse_query(a, q + 1, d, err, errlen) != UM_OK)
		return UM_EINVAL;
	if (!table_ok(d->table))
		return refuse(err, errlen,
		    "the table name must be 1-64 characters of letters, digits, _ and $");
	if (d->host != NULL && d->socket != NULL)
		return refuse(err, errlen,
		    "unix_socket needs the host to be empty or localhost");
	return UM_OK;
}
