/* router: one static table of {methods, pattern, handler, flags}; 404 and 405 come from it. */
#ifndef UM_ROUTER_H
#define UM_ROUTER_H

#include <stddef.h>

#include "error.h"

struct arena;
struct request;
struct response;

/*
 * A handler answers into the response and returns UM_OK, or returns an error for the front
 * door to answer with that error's problem (JSON or HTML page, problem.c) — so handlers do
 * not repeat the generic refusals.
 */
typedef enum um_err route_handler(struct request *, struct response *);

enum route_flag {
	ROUTE_SESSION = 1 << 0, /* needs a logged-in browser session (else 303 to /login) */
	ROUTE_ADMIN = 1 << 1,   /* needs the admin role (else 403) */
	ROUTE_FORM = 1 << 2,    /* POST body is an urlencoded form */
	ROUTE_JSON = 1 << 3,    /* body is JSON (415 otherwise), answers problem+json */
	ROUTE_CSRF = 1 << 4,    /* POST needs a valid csrf_token */
	ROUTE_BEARER = 1 << 5,  /* needs a bearer access token (401 otherwise) */
	ROUTE_IPLIMIT = 1 << 6, /* POSTs count against the per-IP limit (API.md §1) */
	ROUTE_BARE = 1 << 7,    /* operations: no session lookup, nothing but the handler */
	ROUTE_NOSTORE =
	    1 << 8, /* no revocation-log poll before it (fastpath.c); /readyz only pings */
	ROUTE_OPTBODY = 1 << 9, /* a POST may come without a body (and then a content type) */
};

struct route {
	unsigned       methods; /* enum http_method bits; GET implies HEAD */
	const char    *pattern; /* "/admin/users/{id}/{action}": {x} matches one segment */
	route_handler *handler;
	unsigned       flags; /* enum route_flag */
};

enum router_match {
	ROUTER_FOUND = 0,
	ROUTER_NOT_FOUND,  /* no pattern matches the path: 404 */
	ROUTER_BAD_METHOD, /* a pattern matches, not with this method: 405 + Allow */
};

/*
 * Finds the route for method + path.  On ROUTER_FOUND *out is the route and params[0..*np)
 * the {x} segments (arena copies).  On ROUTER_BAD_METHOD *allow holds the methods of every
 * matching pattern.  Segments are never empty and never cross '/'.
 */
enum router_match router_match(const struct route *, size_t, unsigned, const char *,
    struct arena *, const struct route **, const char **, size_t *, unsigned *);
/* "GET, HEAD, POST" for a method mask (arena string). */
const char *router_allow(struct arena *, unsigned);

#endif
