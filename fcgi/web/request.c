/* request: the RFC 3875 meta-variables nginx sends, read once into struct request. */
#include "config.h"

#include <errno.h>
#include <stddef.h>
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

/* The meta-variables every request reads, by their offset in struct request_vars. */
#define ENV(name, field) \
	{ \
		name, sizeof(name) - 1, offsetof(struct request_vars, field) \
	}
static const struct {
	const char *name;
	size_t      len, off;
} wanted[] = {
	ENV("REQUEST_ID", request_id),
	ENV("REQUEST_METHOD", method),
	ENV("DOCUMENT_URI", document_uri),
	ENV("QUERY_STRING", query),
	ENV("CONTENT_TYPE", content_type),
	ENV("CONTENT_LENGTH", content_length),
	ENV("REMOTE_ADDR", remote_addr),
	ENV("HTTP_COOKIE", cookie),
	ENV("HTTP_USER_AGENT", user_agent),
	ENV("HTTP_AUTHORIZATION", authorization),
};
#undef ENV

/*
 * One pass over the parameters for all of the above, where a lookup each would read the
 * list ten times: this runs for every request, /auth/check's included.  As request_env,
 * the first of a repeated name counts.
 */
static void
read_env(char *const *env, struct request_vars *out)
{
	const char **slot;
	const char  *eq;
	size_t       i, n;

	memset(out, 0, sizeof(*out));
	for (; env != NULL && *env != NULL; env++) {
		if ((eq = strchr(*env, '=')) == NULL)
			continue;
		n = (size_t)(eq - *env);
		for (i = 0; i < sizeof(wanted) / sizeof(wanted[0]); i++) {
			if (wanted[i].len != n || memcmp(*env, wanted[i].name, n) != 0)
				continue;
			slot = (const char **)((char *)out + wanted[i].off);
			if (*slot == NULL)
				*slot = eq + 1;
			break;
		}
	}
}

/*
 * The request id: nginx's $request_id when it sent one (so its logs and ours agree), else
 * 16 hex characters of our own.  Only hex digits are taken from the header.
 */
static void
make_id(struct request *r)
{
	static const char hex[] = "0123456789abcdef";
	const char       *v = r->vars.request_id;
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
	read_env(env, &r->vars);
	make_id(r);

	r->method_name = (v = r->vars.method) != NULL ? v : "GET";
	r->method = HTTP_OTHER;
	for (i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
		if (strcmp(r->method_name, methods[i].name) == 0)
			r->method = methods[i].method;

	/* DOCUMENT_URI is the decoded, dot-segment-free path nginx routed on. */
	if ((v = r->vars.document_uri) == NULL || *v != '/')
		v = "/";
	r->path = v;
	r->query = (v = r->vars.query) != NULL ? v : "";
	r->content_type = r->vars.content_type;
	if (r->content_type != NULL && *r->content_type == '\0')
		r->content_type = NULL;
	r->content_length = -1;
	if ((v = r->vars.content_length) != NULL && *v != '\0') {
		errno = 0;
		len = strtoll(v, &end, 10);
		/* Garbage or a negative length reads as "too big": refused before any read. */
		r->content_length = (errno != 0 || *end != '\0' || len < 0) ?
		    (long long)1 << 62 :
		    len;
	}
	r->remote_addr = (v = r->vars.remote_addr) != NULL ? v : "-";
	cookie_parse(a, r->vars.cookie, &r->cookies);
	if (rt != NULL)
		runtime_ctx(rt, a, &r->ctx);
	r->ctx.arena = a;
	r->ctx.ip = r->remote_addr;
	r->ctx.user_agent = r->vars.user_agent;
}

const char *
request_bearer(const struct request *r)
{
	const char *h = r->vars.authorization;

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
