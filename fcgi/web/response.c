/* response: builds one answer and serialises it with the security headers of API.md §2 in one place. */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "arena.h"
#include "json.h"
#include "log.h"
#include "response.h"

/* API.md §7, to the letter: no inline script or style anywhere. */
#define CSP \
	"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " \
	"object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

static const struct {
	int         status;
	const char *reason;
} reasons[] = {
	{ 200, "OK" },
	{ 201, "Created" },
	{ 202, "Accepted" },
	{ 204, "No Content" },
	{ 301, "Moved Permanently" },
	{ 302, "Found" },
	{ 303, "See Other" },
	{ 304, "Not Modified" },
	{ 307, "Temporary Redirect" },
	{ 400, "Bad Request" },
	{ 401, "Unauthorized" },
	{ 403, "Forbidden" },
	{ 404, "Not Found" },
	{ 405, "Method Not Allowed" },
	{ 409, "Conflict" },
	{ 410, "Gone" },
	{ 413, "Content Too Large" },
	{ 415, "Unsupported Media Type" },
	{ 422, "Unprocessable Content" },
	{ 429, "Too Many Requests" },
	{ 431, "Request Header Fields Too Large" },
	{ 500, "Internal Server Error" },
	{ 502, "Bad Gateway" },
	{ 503, "Service Unavailable" },
	{ 504, "Gateway Timeout" },
};

const char *
response_reason(int status)
{
	size_t i;

	for (i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++)
		if (reasons[i].status == status)
			return reasons[i].reason;
	return "Unknown";
}

void
response_init(struct response *r, struct arena *a)
{
	memset(r, 0, sizeof(*r));
	/* Most pages fit: no regrowth while rendering. */
	buf_init_cap(&r->body, a, 8192);
}

static int
header_safe(const char *s)
{
	/* RFC 9110 §5.5: CR, LF and NUL are never allowed in a field; refusing them here
	 * makes header injection impossible whatever a handler passes in. */
	return s != NULL && strpbrk(s, "\r\n") == NULL;
}

void
response_header(struct response *r, const char *name, const char *value)
{
	if (!header_safe(name) || !header_safe(value) || *name == '\0') {
		log_err("response: refused a header with CR/LF (%s)",
		    name != NULL ? name : "?");
		return;
	}
	if (r->nheaders == UM_HEADERS_MAX) {
		log_err("response: too many headers, dropped %s", name);
		return;
	}
	r->headers[r->nheaders].name = name;
	r->headers[r->nheaders].value = value;
	r->nheaders++;
}

void
response_json(struct response *r, int status, const json_t *v)
{
	r->status = status;
	r->content_type = "application/json";
	buf_truncate(&r->body, 0);
	json_to_buf(&r->body, v);
}

void
response_html(struct response *r, int status)
{
	r->status = status;
	r->content_type = "text/html; charset=utf-8";
}

void
response_redirect(struct response *r, int status, const char *location)
{
	r->status = status;
	r->content_type = NULL;
	buf_truncate(&r->body, 0);
	response_header(r, "Location", location);
}

void
response_empty(struct response *r, int status)
{
	r->status = status;
	r->content_type = NULL;
	buf_truncate(&r->body, 0);
}

static int
has_header(const struct response *r, const char *name)
{
	size_t i;

	for (i = 0; i < r->nheaders; i++)
		if (strcasecmp(r->headers[i].name, name) == 0)
			return 1;
	return 0;
}

/* One "Name: value" line; plain appends, since this runs for every header of every answer. */
static void
header_line(struct buf *out, const char *name, const char *value)
{
	buf_puts(out, name);
	buf_append(out, ": ", 2);
	buf_puts(out, value);
	buf_append(out, "\r\n", 2);
}

void
response_serialize(const struct response *r, const char *request_id, struct buf *out)
{
	size_t i;
	int    status = r->status > 0 ? r->status : 500;
	int    body = status != 204 && status != 304;

	buf_puts(out, "Status: ");
	buf_put_decimal(out, (unsigned)status);
	buf_putc(out, ' ');
	buf_puts(out, response_reason(status));
	buf_append(out, "\r\n", 2);
	if (r->content_type != NULL && body)
		header_line(out, "Content-Type", r->content_type);
	/* RFC 9110 §8.6: never on a 204, and on a 304 it would have to be the 200's length. */
	if (body) {
		buf_puts(out, "Content-Length: ");
		buf_put_decimal(out, r->body.len);
		buf_append(out, "\r\n", 2);
	}
	for (i = 0; i < r->nheaders; i++)
		header_line(out, r->headers[i].name, r->headers[i].value);
	/*
	 * Dynamic answers are never stored: pages carry CSRF tokens and personal data, and
	 * the API is per-user (API.md §2).  Static files are nginx's and cache publicly.
	 */
	if (!has_header(r, "Cache-Control"))
		buf_puts(out, "Cache-Control: no-store\r\n");
	/*
	 * 503 is an outage the client should ride out (a database node failing over, a
	 * conflict rolled back): say when to come again unless the handler said it.
	 */
	if (status == 503 && !has_header(r, "Retry-After"))
		buf_puts(out, "Retry-After: 1\r\n");
	buf_puts(out,
	    "X-Content-Type-Options: nosniff\r\n"
	    "Referrer-Policy: same-origin\r\n"
	    "X-Frame-Options: DENY\r\n"
	    "Cross-Origin-Opener-Policy: same-origin\r\n");
	/* response_csp_form_action's wider policy, else the site's one. */
	if (!has_header(r, "Content-Security-Policy"))
		buf_puts(out, "Content-Security-Policy: " CSP "\r\n");
	if (request_id != NULL)
		header_line(out, "X-Request-Id", request_id);
	buf_append(out, "\r\n", 2);
	if (body && !(r->flags & RESP_HEAD))
		buf_append(out, r->body.data, r->body.len);
}

void
response_csp_form_action(struct response *r, struct arena *a, const char *origin)
{
	const char *p;

	/* An origin only: scheme, host, port.  Anything else could add a directive. */
	if (origin == NULL ||
	    (strncmp(origin, "http://", 7) != 0 && strncmp(origin, "https://", 8) != 0))
		return;
	for (p = strstr(origin, "://") + 3; *p != '\0'; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		        (*p >= '0' && *p <= '9') || *p == '.' || *p == '-' || *p == ':' ||
		        *p == '[' || *p == ']'))
			return;
	response_header(r, "Content-Security-Policy",
	    arena_printf(a,
	        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
	        "object-src 'none'; base-uri 'none'; form-action 'self' %s; "
	        "frame-ancestors 'none'",
	        origin));
}
