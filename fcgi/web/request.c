/* request: the RFC 3875 meta-variables nginx sends, read once into struct request. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/rand.h>

#include "arena.h"
#include "cookie.h"
#include "form.h"
#include "json.h"
#include "request.h"
#include "runtime.h"

static const struct {
	const char      *name;
	enum http_method method;
} methods[] = {
	{ "GET", HTTP_GET },
	{ "HEAD", HTTP_HEAD },
	{ "POST", HTTP_POST },
	{ "PUT", HTTP_PUT },
	{ "PATCH", HTTP_PATCH },
	{ "DELETE", HTTP_DELETE },
	{ "OPTIONS", HTTP_OPTIONS },
};

const char *
request_env(const struct request *r, const char *name)
{
	size_t       len = strlen(name);
	char *const *e;

	if (r->env == NULL)
		return NULL;
	for (e = r->env; *e != NULL; e++)
		if (strncmp(*e, name, len) == 0 && (*e)[len] == '=')
			return *e + len + 1;
	return NULL;
}

/*
 * The request id: nginx's $request_id when it sent one (so its logs and ours agree), else
 * 16 hex characters of our own.  Only hex digits are taken from the header.
 */
static void
make_id(struct request *r)
{
	static const char hex[] = "0123456789abcdef";
	const char       *v = request_env(r, "REQUEST_ID");
	unsigned char     raw[8];
	size_t            i;

	if (v != NULL && strlen(v) == 32 && strspn(v, hex) == 32) {
		memcpy(r->id, v, 33);
		return;
	}
	if (RAND_bytes(raw, sizeof(raw)) != 1)
		memset(raw, 0, sizeof(raw));
	for (i = 0; i < sizeof(raw); i++) {
		r->id[i * 2] = hex[raw[i] >> 4];
		r->id[i * 2 + 1] = hex[raw[i] & 0xf];
	}
	r->id[16] = '\0';
}

void
request_init(struct request *r, struct arena *a, struct runtime *rt, char *const *env)
{
	const char *v;
	char       *end;
	long long   len;
	size_t      i;

	memset(r, 0, sizeof(*r));
	r->arena = a;
	r->rt = rt;
	r->env = env;
	make_id(r);

	r->method_name = (v = request_env(r, "REQUEST_METHOD")) != NULL ? v : "GET";
	r->method = HTTP_OTHER;
	for (i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
		if (strcmp(r->method_name, methods[i].name) == 0)
			r->method = methods[i].method;

	/* DOCUMENT_URI is the decoded, dot-segment-free path nginx routed on. */
	if ((v = request_env(r, "DOCUMENT_URI")) == NULL || *v != '/')
		v = "/";
	r->path = v;
	r->query = (v = request_env(r, "QUERY_STRING")) != NULL ? v : "";
	r->content_type = request_env(r, "CONTENT_TYPE");
	if (r->content_type != NULL && *r->content_type == '\0')
		r->content_type = NULL;
	r->content_length = -1;
	if ((v = request_env(r, "CONTENT_LENGTH")) != NULL && *v != '\0') {
		errno = 0;
		len = strtoll(v, &end, 10);
		/* Garbage or a negative length reads as "too big": refused before any read. */
		r->content_length = (errno != 0 || *end != '\0' || len < 0) ?
		    (long long)1 << 62 :
		    len;
	}
	r->remote_addr = (v = request_env(r, "REMOTE_ADDR")) != NULL ? v : "-";
	cookie_parse(a, request_env(r, "HTTP_COOKIE"), &r->cookies);
	if (rt != NULL)
		runtime_ctx(rt, a, &r->ctx);
	r->ctx.arena = a;
	r->ctx.ip = r->remote_addr;
	r->ctx.user_agent = request_env(r, "HTTP_USER_AGENT");
}

const char *
request_bearer(const struct request *r)
{
	const char *h = request_env(r, "HTTP_AUTHORIZATION");

	/* API.md §7: a header that is not "Bearer <token>", or an empty one, is no token. */
	if (h == NULL || strncasecmp(h, "Bearer ", 7) != 0)
		return NULL;
	h += 7;
	while (*h == ' ')
		h++;
	return *h != '\0' ? h : NULL;
}

int
request_is_type(const struct request *r, const char *type)
{
	const char *ct = r->content_type;
	size_t      n = strlen(type);

	if (ct == NULL)
		return 0;
	while (*ct == ' ' || *ct == '\t')
		ct++;
	if (strncasecmp(ct, type, n) != 0)
		return 0;
	ct += n;
	while (*ct == ' ' || *ct == '\t')
		ct++;
	return *ct == '\0' || *ct == ';';
}

enum um_err
request_parse_query(struct request *r, const char **bad)
{
	return form_parse(r->arena, r->query, strlen(r->query), &r->query_params, bad);
}

enum um_err
request_parse_body(struct request *r, const char **bad)
{
	*bad = NULL;
	if (request_is_type(r, "application/x-www-form-urlencoded"))
		return form_parse(r->arena, r->body != NULL ? r->body : "", r->body_len,
		    &r->form, bad);
	if (request_is_type(r, "application/json"))
		return json_body_parse(r->arena, r->body != NULL ? r->body : "", r->body_len,
		    &r->json);
	return UM_EMEDIA;
}

int
request_wants_html(const struct request *r)
{
	const char *accept = request_env(r, "HTTP_ACCEPT");

	return accept != NULL && strstr(accept, "text/html") != NULL;
}
