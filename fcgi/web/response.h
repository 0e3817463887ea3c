/* response: status, headers and body of one answer, serialised in one place with the security headers. */
#ifndef UM_RESPONSE_H
#define UM_RESPONSE_H

#include <stddef.h>

#include <jansson.h>

#include "bounds.h"
#include "buf.h"

struct arena;

enum response_flag {
	RESP_HEAD = 1 << 0, /* HEAD request: headers only, Content-Length as for GET */
};

struct response_header {
	const char *name;
	const char *value;
};

struct response {
	int                    status; /* 0 until a handler sets it */
	const char            *content_type;
	struct response_header headers[UM_HEADERS_MAX];
	size_t                 nheaders;
	struct buf             body;
	unsigned               flags;
};

void response_init(struct response *, struct arena *);
/*
 * Adds a header.  Strings must outlive the response (static or arena).  A name or value
 * holding CR, LF or NUL is dropped and logged: header injection is never possible.
 */
void response_header(struct response *, const char *, const char *);
/* Sets status and a JSON body (application/json unless content_type is set after). */
void response_json(struct response *, int, const json_t *);
/* Sets status, text/html; charset=utf-8; the body is appended by the caller. */
void response_html(struct response *, int);
/* 303/302/301 with Location; the value must be a path or an absolute URL we built. */
void response_redirect(struct response *, int, const char *);
/* 204 or any status with no body. */
void response_empty(struct response *, int);
/*
 * Appends the CGI response (RFC 3875 §6: Status line, headers, blank line, body) to out,
 * adding Content-Length, the API.md §2 security headers and X-Request-Id.
 */
void response_serialize(const struct response *, const char *, struct buf *);
/*
 * Replaces the default Content-Security-Policy with one whose form-action also allows origin
 * ("http://host:port"; anything else is ignored): Chromium applies form-action to every
 * redirect after a form is sent, and the sign-in and consent forms of an OpenID Connect
 * request end at the client's redirect URI (docs/DECISIONS.md "OpenID Connect").
 */
void response_csp_form_action(struct response *, struct arena *, const char *);
/* Reason phrase for a status ("Not Found"). */
const char *response_reason(int);

#endif
