/* app: the worker's long-lived state and the front door every request passes (API.md §7 order). */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "access.h"
#include "app.h"
#include "arena.h"
#include "browser.h"
#include "csrf.h"
#include "db.h"
#include "fastpath.h"
#include "form.h"
#include "log.h"
#include "problem.h"
#include "ratelimit.h"
#include "request.h"
#include "response.h"
#include "revocation.h"
#include "router.h"
#include "routes.h"
#include "runtime.h"
#include "session.h"
#include "template.h"
#include "validate.h"

/* POST, PUT and PATCH carry a body; DELETE may (DELETE /api/v1/me takes the password), and
 * so may a POST to a ROUTE_OPTBODY route (the passkey options of issue 13: "no body"). */
static int
has_body(const struct request *req)
{
	if (req->method == HTTP_POST && (req->route->flags & ROUTE_OPTBODY))
		return req->body_len > 0;
	if (req->method & (HTTP_POST | HTTP_PUT | HTTP_PATCH))
		return 1;
	return req->method == HTTP_DELETE && req->body_len > 0;
}

#define CSRF_REFUSED \
	"The form has expired or did not come from this site. Reload the page and try again."

/*
 * Content type and input checks of the front door: 415 for a body of the wrong type, 400
 * for a body or query that does not parse.  Returns UM_OK when the handler may run.
 */
static enum um_err
check_input(struct request *req, struct response *resp)
{
	const struct route *rt = req->route;
	const char         *bad = NULL;
	enum um_err         rc;
	json_t             *errors;

	if (has_body(req) && (rt->flags & (ROUTE_JSON | ROUTE_FORM))) {
		/*
		 * A form route's POST that is not a urlencoded form carries no readable
		 * csrf_token: API.md §3 makes that a 403 (a forged or broken form), not a 415.
		 */
		if ((rt->flags & ROUTE_FORM) && (rt->flags & ROUTE_CSRF) &&
		    req->method == HTTP_POST &&
		    !request_is_type(req, "application/x-www-form-urlencoded")) {
			problem_send(req, resp, UM_EFORBIDDEN, 0, CSRF_REFUSED, NULL);
			return UM_EFORBIDDEN;
		}
		if (((rt->flags & ROUTE_JSON) && !request_is_type(req, "application/json")) ||
		    ((rt->flags & ROUTE_FORM) &&
		        !request_is_type(req, "application/x-www-form-urlencoded"))) {
			problem_send(req, resp, UM_EMEDIA, 0,
			    (rt->flags & ROUTE_JSON) ?
			        "Send the body as application/json." :
			        "Send the form as application/x-www-form-urlencoded.",
			    NULL);
			return UM_EMEDIA;
		}
	}
	if ((rc = request_parse_query(req, &bad)) != UM_OK)
		goto refuse;
	if (has_body(req) && (rt->flags & (ROUTE_JSON | ROUTE_FORM)) &&
	    (rc = request_parse_body(req, &bad)) != UM_OK)
		goto refuse;
	return UM_OK;
refuse:
	errors = NULL;
	if (bad != NULL)
		errors = json_pack("[{s:s, s:s}]", "field", bad, "message",
		    "is not valid: malformed encoding, invalid UTF-8 or a NUL character");
	problem_send(req, resp, rc, 0,
	    rc == UM_EJSON ? "The body is not valid JSON." :
	                     "The request holds malformed or invalid UTF-8 input.",
	    errors);
	return rc;
}

/*
 * Loads the browser session for every route but the operations and the JSON API (which
 * reads bearer tokens only, API.md §7).  Sends 303 to /login or 403 and answers 1 when the
 * route's session or role demand is not met.
 */
static int
check_session(struct request *req, struct response *resp)
{
	const struct route *rt = req->route;
	enum um_err         rc;
	const char         *next;

	if (rt->flags & (ROUTE_BARE | ROUTE_JSON))
		return 0;
	if ((rc = browser_session_load(req)) != UM_OK) {
		/* Pages that need no session still render, anonymously, while MariaDB is down. */
		if (!(rt->flags & (ROUTE_SESSION | ROUTE_ADMIN | ROUTE_FORM))) {
			req->session = NULL;
			return 0;
		}
		problem_send(req, resp, rc, 0, NULL, NULL);
		return 1;
	}
	if (!(rt->flags & (ROUTE_SESSION | ROUTE_ADMIN)))
		return 0;
	if (req->session == NULL || req->session->mfa_pending) {
		next = *req->query != '\0' ?
		    arena_printf(req->arena, "%s?%s", req->path, req->query) :
		    req->path;
		response_redirect(resp, 303,
		    arena_printf(req->arena, "/login?next=%s", form_escape(req->arena, next)));
		return 1;
	}
	if ((rt->flags & ROUTE_ADMIN) && !req->session->is_admin) {
		problem_send(req, resp, UM_EFORBIDDEN, 0, "This page is for administrators.",
		    NULL);
		return 1;
	}
	return 0;
}

/*
 * The JSON API's authentication: a valid bearer token or 401 with the code saying why
 * (API.md §7: unauthorized, invalid_token, token_expired).  Answers 1 when refused.
 */
static int
check_bearer(struct request *req, struct response *resp)
{
	enum um_err rc;

	if (!(req->route->flags & ROUTE_BEARER))
		return 0;
	req->auth = arena_calloc(req->arena, 1, sizeof(*req->auth));
	/* Only writes re-check a password (login_recheck): reads may be answered from the cache. */
	if ((rc = access_verify(&req->ctx, request_bearer(req),
	         (req->method & (HTTP_GET | HTTP_HEAD)) ? ACCESS_CHECK : ACCESS_FULL,
	         req->auth)) == UM_OK) {
		req->ctx.actor = req->auth->user.id;
		/* API.md §7 order: the role check (403) follows authentication (401). */
		if ((req->route->flags & ROUTE_ADMIN) && !access_has_role(req->auth, "admin")) {
			problem_send(req, resp, UM_EFORBIDDEN, 0, "This needs the admin role.",
			    NULL);
			return 1;
		}
		return 0;
	}
	req->auth = NULL;
	problem_send(req, resp, rc, 0,
	    rc == UM_EUNAUTH ? "Send an access token: "
	                       "Authorization: Bearer <token>." :
	                       NULL,
	    NULL);
	/* RFC 6750 §3: tell the client how to authenticate, and what was wrong. */
	response_header(resp, "WWW-Authenticate",
	    rc == UM_EUNAUTH ? "Bearer realm=\"usermgr\"" :
	                       "Bearer realm=\"usermgr\", error=\"invalid_token\"");
	return 1;
}

/*
 * CSRF (token and Origin) of form POSTs, and the per-IP limit of the routes that check a
 * password, for every method that changes something (DELETE /api/v1/me re-checks one).
 */
static int
check_post(struct request *req, struct response *resp)
{
	const struct route *rt = req->route;
	long long           retry = 0;
	enum um_err         rc;

	if (req->method & (HTTP_GET | HTTP_HEAD))
		return 0;
	if (req->method == HTTP_POST && (rt->flags & ROUTE_CSRF) &&
	    (!browser_same_origin(req) || !browser_csrf_ok(req))) {
		problem_send(req, resp, UM_EFORBIDDEN, 0, CSRF_REFUSED, NULL);
		return 1;
	}
	if (rt->flags & ROUTE_IPLIMIT) {
		rc = ratelimit_hit(req->rt->db, req->arena,
		    ratelimit_ip_key(req->arena, req->remote_addr),
		    req->rt->conf.rate_per_ip_per_min, 60, &retry);
		if (rc != UM_OK) {
			problem_send(req, resp, rc, 0,
			    rc == UM_ERATE ? "Too many attempts from "
			                     "your address. Wait a minute and try again." :
			                     NULL,
			    NULL);
			if (rc == UM_ERATE)
				response_header(resp, "Retry-After",
				    arena_printf(req->arena, "%lld", retry));
			return 1;
		}
	}
	return 0;
}

/* Routing, the checks of API.md §7 and the handler: the answer, not yet sent. */
static void
dispatch(struct request *req, struct response *resp)
{
	const struct route *rt = NULL;
	unsigned            allow;
	enum um_err         rc;

	if (req->method == HTTP_HEAD)
		resp->flags |= RESP_HEAD;
	switch (router_match(routes, nroutes, req->method, req->path, req->arena, &rt,
	    req->params, &req->nparams, &allow)) {
	case ROUTER_NOT_FOUND: problem_send(req, resp, UM_ENOTFOUND, 0, NULL, NULL); return;
	case ROUTER_BAD_METHOD:
		problem_send(req, resp, UM_EMETHOD, 0, NULL, NULL);
		response_header(resp, "Allow", router_allow(req->arena, allow));
		return;
	case ROUTER_FOUND: break;
	}
	req->route = rt;
	/*
	 * Before the checks and the handler, so a trusted cache is at most one poll interval
	 * behind.  Not for /healthz, which must answer while MariaDB hangs; not for a 404 or
	 * 405 either: those read nothing.
	 */
	if (!(rt->flags & ROUTE_NOSTORE))
		fastpath_poll(&req->ctx);
	/* API.md §7 order: route, method, authentication, role, content type, input. */
	if (check_session(req, resp) || check_bearer(req, resp) || check_input(req, resp) ||
	    check_post(req, resp))
		return;
	if ((rc = rt->handler(req, resp)) != UM_OK) {
		if (resp->status == 0)
			problem_send(req, resp, rc, 0, NULL, NULL);
		else
			log_err("handler for %s answered %d and failed: %s", rt->pattern,
			    resp->status, um_strerror(rc));
	}
	if (resp->status == 0) {
		log_err("handler for %s left no status", rt->pattern);
		problem_send(req, resp, UM_EINTERNAL, 0, NULL, NULL);
	}
}

void
app_handle(struct request *req, struct response *resp)
{
	/* Revocation notes are per request: none may reach the cache for another one. */
	revocation_notes_reset(&req->ctx);
	dispatch(req, resp);
	/*
	 * The caller (serve) sends the answer only after this: a revocation this request
	 * committed holds on this host before its client hears of it (API.md §7).
	 */
	fastpath_apply_notes(&req->ctx);
}
