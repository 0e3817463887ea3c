/* request: one HTTP request as nginx passed it over FastCGI (RFC 3875 meta-variables). */
#ifndef UM_REQUEST_H
#define UM_REQUEST_H

#include <stddef.h>

#include <jansson.h>

#include "bounds.h"
#include "ctx.h"
#include "error.h"
#include "kv.h"

struct auth;
struct arena;
struct runtime;
struct route;
struct session;

/* Methods as bits, so a route can list several and 405 can build `Allow`. */
enum http_method {
	HTTP_GET = 1 << 0,
	HTTP_HEAD = 1 << 1,
	HTTP_POST = 1 << 2,
	HTTP_PUT = 1 << 3,
	HTTP_PATCH = 1 << 4,
	HTTP_DELETE = 1 << 5,
	HTTP_OPTIONS = 1 << 6,
	HTTP_OTHER = 1 << 7
};

/* The meta-variables every request reads, found in one pass (NULL: not sent). */
struct request_vars {
	const char *request_id, *method, *document_uri, *query, *content_type, *content_length,
	    *remote_addr, *cookie, *user_agent, *authorization;
};

struct request {
	struct arena       *arena;  /* everything below lives in it */
	struct runtime     *rt;     /* worker-wide: conf, keys, db, templates (borrowed) */
	struct ctx          ctx;    /* for service calls: the stores, the client's
						 * address, the acting user once authenticated */
	char                id[33]; /* nginx's $request_id (32 hex), or our own 16;
						 * sent as X-Request-Id */
	char *const        *env;    /* FastCGI params, "NAME=value", borrowed */
	struct request_vars vars;   /* the common ones of env, read once */
	enum http_method    method;
	const char         *method_name;
	const char         *path;           /* DOCUMENT_URI: decoded, normalised by nginx */
	const char         *query;          /* QUERY_STRING, raw ("" when absent) */
	const char         *content_type;   /* CONTENT_TYPE or NULL */
	long long           content_length; /* -1 when absent */
	const char         *remote_addr;    /* REMOTE_ADDR as nginx set it (never a header) */
	const char         *body;           /* NUL-terminated copy; NULL when there is none */
	size_t              body_len;
	struct kvlist       query_params; /* filled by request_parse_query() */
	struct kvlist       form;         /* filled for urlencoded POSTs */
	struct kvlist       cookies;
	json_t             *json;                       /* filled for JSON bodies; arena-tied */
	const char         *params[UM_PATH_PARAMS_MAX]; /* {name} segments of the route */
	size_t              nparams;
	const struct route *route;
	struct session     *session;   /* logged-in browser session, or NULL */
	struct auth        *auth;      /* bearer token's user (ROUTE_BEARER), or NULL */
	const char         *precookie; /* pre-session CSRF cookie value, or NULL */
};

/* Sets up r from the FastCGI environment (no body yet): method, path, sizes, cookies. */
void request_init(struct request *, struct arena *, struct runtime *, char *const *);
/* A meta-variable such as "HTTP_USER_AGENT", or NULL. */
const char *request_env(const struct request *, const char *);
/* 1 when the media type of CONTENT_TYPE is type (parameters such as charset ignored). */
int request_is_type(const struct request *, const char *);
/* Parses QUERY_STRING into query_params (UM_EINVAL on malformed or invalid UTF-8). */
enum um_err request_parse_query(struct request *, const char **);
/* Parses the body as the content type says: urlencoded into form, JSON into json. */
enum um_err request_parse_body(struct request *, const char **);
/* The token of an `Authorization: Bearer <token>` header, or NULL when there is none (RFC 6750). */
const char *request_bearer(const struct request *);
/* 1 when the client prefers HTML (a browser): Accept names text/html. */
int request_wants_html(const struct request *);

#endif
