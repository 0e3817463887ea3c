/* browser: session cookies and CSRF tokens — the HTTP half of fcgi/core/session.c. */
#include "config.h"

#include <string.h>
#include <strings.h>
#include <time.h>

#include "arena.h"
#include "browser.h"
#include "conf.h"
#include "cookie.h"
#include "csrf.h"
#include "device.h"
#include "keys.h"
#include "kv.h"
#include "request.h"
#include "response.h"
#include "runtime.h"
#include "session.h"
#include "token.h"

/* The kinds keep a pre-session token from ever passing as a session one. */
#define CSRF_KIND_SESSION "session"
#define CSRF_KIND_PRE     "pre-session"

const char *
browser_cookie_name(const struct request *req)
{
	/* RFC 6265bis __Host- prefix: only over https, where it pins Secure, Path=/ and host. */
	return req->rt->conf.https ? "__Host-usermgr_session" : "usermgr_session";
}

const char *
browser_precookie_name(const struct request *req)
{
	return req->rt->conf.https ? "__Host-usermgr_csrf" : "usermgr_csrf";
}

const char *
browser_device_cookie_name(const struct request *req)
{
	return req->rt->conf.https ? "__Host-um_device" : "um_device";
}

const char *
browser_device_cookie(const struct request *req)
{
	return kv_get(&req->cookies, browser_device_cookie_name(req));
}

void
browser_device_remember(struct request *req, struct response *resp, long long user_id)
{
	const char *value;

	/* Without a MAC there is no cookie to give: the login itself still stands. */
	if ((value = device_cookie_renew(req->arena, &req->rt->keys, browser_device_cookie(req),
	         user_id, (long long)time(NULL))) == NULL)
		return;
	response_header(resp, "Set-Cookie",
	    cookie_set(req->arena, browser_device_cookie_name(req), value, DEVICE_LIFETIME,
	        req->rt->conf.https));
}

enum um_err
browser_session_load(struct request *req)
{
	enum um_err rc;

	rc = session_find(&req->ctx, kv_get(&req->cookies, browser_cookie_name(req)),
	    &req->session);
	if (rc == UM_OK && req->session != NULL && !req->session->mfa_pending)
		req->ctx.actor = req->session->user_id;
	if (rc == UM_OK && req->session != NULL)
		req->ctx.session = req->session->id;
	return rc;
}

enum um_err
browser_session_start(struct request *req, struct response *resp, long long user_id,
    int remember, int mfa_pending)
{
	const char *cookie;
	enum um_err rc;

	if (req->session != NULL) {
		if ((rc = session_delete(&req->ctx, req->session)) != UM_OK)
			return rc;
		req->session = NULL;
		req->ctx.session = 0;
	}
	if ((rc = session_create(&req->ctx, user_id, remember, mfa_pending, &req->session,
	         &cookie)) != UM_OK)
		return rc;
	req->ctx.session = req->session->id;
	/* Without "remember me" a browser-session cookie; with it, persistent (API.md §7). */
	response_header(resp, "Set-Cookie",
	    cookie_set(req->arena, browser_cookie_name(req), cookie,
	        remember ? SESSION_REMEMBER : -1, req->rt->conf.https));
	return UM_OK;
}

enum um_err
browser_session_end(struct request *req, struct response *resp)
{
	enum um_err rc = UM_OK;

	if (req->session != NULL) {
		rc = session_delete(&req->ctx, req->session);
		req->session = NULL;
	}
	req->ctx.session = 0;
	response_header(resp, "Set-Cookie",
	    cookie_set(req->arena, browser_cookie_name(req), "", 0, req->rt->conf.https));
	return rc;
}

const char *
browser_csrf_token(struct request *req, struct response *resp)
{
	const struct keyring *keys = &req->rt->keys;
	const char           *pre;

	if (req->session != NULL)
		return csrf_token(req->arena, keys, CSRF_KIND_SESSION, req->session->csrf_seed,
		    sizeof(req->session->csrf_seed));
	pre = req->precookie;
	if (pre == NULL)
		pre = kv_get(&req->cookies, browser_precookie_name(req));
	if (pre == NULL || strlen(pre) != TOKEN_LEN) {
		/* First visit: a random pre-session value, signed into the token, not stored. */
		pre = token_new(req->arena);
		response_header(resp, "Set-Cookie",
		    cookie_set(req->arena, browser_precookie_name(req), pre, -1,
		        req->rt->conf.https));
	}
	req->precookie = pre;
	return csrf_token(req->arena, keys, CSRF_KIND_PRE, pre, strlen(pre));
}

int
browser_csrf_ok(const struct request *req)
{
	const struct keyring *keys = &req->rt->keys;
	const char           *presented = kv_get(&req->form, CSRF_FIELD);
	const char           *pre;

	if (presented == NULL)
		return 0;
	if (req->session != NULL)
		return csrf_valid(keys, CSRF_KIND_SESSION, req->session->csrf_seed,
		    sizeof(req->session->csrf_seed), presented);
	pre = kv_get(&req->cookies, browser_precookie_name(req));
	return pre != NULL && strlen(pre) == TOKEN_LEN &&
	    csrf_valid(keys, CSRF_KIND_PRE, pre, strlen(pre), presented);
}

/* Length of the origin part (scheme://host[:port]) of a URL, 0 if it has none. */
static size_t
origin_len(const char *url)
{
	const char *p;

	if ((p = strstr(url, "://")) == NULL)
		return 0;
	p += 3;
	while (*p != '\0' && *p != '/' && *p != '?' && *p != '#')
		p++;
	return (size_t)(p - url);
}

int
browser_same_origin(const struct request *req)
{
	const char *base_url = req->rt->conf.base_url;
	const char *origin, *referer;
	size_t      n = origin_len(base_url);

	if ((origin = request_env(req, "HTTP_ORIGIN")) != NULL && *origin != '\0')
		return strlen(origin) == n && strncasecmp(origin, base_url, n) == 0;
	if ((referer = request_env(req, "HTTP_REFERER")) != NULL && *referer != '\0')
		return origin_len(referer) == n && strncasecmp(referer, base_url, n) == 0;
	return 1;
}
