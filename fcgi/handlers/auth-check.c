/* auth-check: GET /auth/check for nginx auth_request — who is calling, from a cookie or a bearer token. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "access.h"
#include "app.h"
#include "arena.h"
#include "browser.h"
#include "buf.h"
#include "handlers.h"
#include "kv.h"
#include "problem.h"
#include "request.h"
#include "response.h"
#include "session.h"

/*
 * GET /auth/check[?role=NAME] — 204 with X-User-Id, X-User-Name, X-User-Email and
 * X-User-Roles for a valid session cookie or bearer token; 401 without one (or with an
 * invalid one); 403 without the role; 503.  A bearer header wins over a cookie.
 */
enum um_err
auth_check(struct request *req, struct response *resp)
{
	struct auth auth;
	struct buf  uid;
	const char *role, *roles, *name, *email;
	long long   id;
	enum um_err rc;

	if (req->vars.authorization != NULL) {
		if ((rc = access_verify(&req->ctx, request_bearer(req), ACCESS_CHECK, &auth)) !=
		    UM_OK)
			return rc;
		id = auth.user.id;
		name = auth.user.username;
		email = auth.user.email;
		roles = auth.role_list;
	} else {
		if ((rc = browser_session_load(req)) != UM_OK)
			return rc;
		if (req->session == NULL || req->session->mfa_pending)
			return UM_EUNAUTH;
		id = req->session->user_id;
		name = req->session->username;
		email = req->session->email;
		roles = req->session->roles;
	}
	if ((role = kv_get(&req->query_params, "role")) != NULL && !role_listed(roles, role)) {
		problem_send(req, resp, UM_EFORBIDDEN, 0, "The role is missing.", NULL);
		return UM_OK;
	}
	response_empty(resp, 204);
	buf_init_cap(&uid, req->arena, 24);
	buf_put_decimal(&uid, (unsigned long long)id);
	response_header(resp, "X-User-Id", uid.data);
	/* Usernames and addresses are printable ASCII by validation: safe header values. */
	response_header(resp, "X-User-Name", name);
	response_header(resp, "X-User-Email", email);
	response_header(resp, "X-User-Roles", roles);
	return UM_OK;
}
