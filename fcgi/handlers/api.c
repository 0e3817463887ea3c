/* api: what every JSON handler shares — body validation answers and the user and token replies. */
#include "config.h"

#include <jansson.h>

#include "access.h"
#include "api.h"
#include "app.h"
#include "arena.h"
#include "browser.h"
#include "db.h"
#include "json.h"
#include "login.h"
#include "problem.h"
#include "refresh.h"
#include "request.h"
#include "response.h"
#include "runtime.h"
#include "user.h"
#include "validate.h"

int
api_fields(struct request *req, struct response *resp, const struct validate_ctx *vctx,
    const struct field_spec *spec, size_t n, struct field_result *r)
{
	json_t     *errors;
	enum um_err rc;

	rc = validate_json(req->arena, vctx, spec, n, req->json, r);
	if (rc == UM_OK)
		return 0;
	if (rc == UM_EJSON) {
		problem_send(req, resp, UM_EJSON, 400, "The body must be a JSON object.", NULL);
		return -1;
	}
	errors = validate_errors(req->arena, spec, n, r);
	problem_send(req, resp, UM_EINVAL, 0, "Some fields are not valid.",
	    errors != NULL ? json_incref(errors) : NULL);
	return -1;
}

int
api_invalid(struct request *req, struct response *resp, const struct field_spec *spec, size_t n,
    struct field_result *r)
{
	json_t *errors = validate_errors(req->arena, spec, n, r);

	if (errors == NULL)
		return 0;
	problem_send(req, resp, UM_EINVAL, 0, "Some fields are not valid.",
	    json_incref(errors));
	return -1;
}

void
api_user(struct request *req, struct response *resp, int status, const struct user *u,
    json_t *roles)
{
	json_t *v = user_json(req->rt->db, req->arena, u, roles);

	response_json(resp, status, v);
	json_decref(v);
}

void
api_token_pair(struct request *req, struct response *resp, const struct user *u, long long sid,
    const char *refresh)
{
	json_t     *roles = user_roles(req->rt->db, req->arena, u->id), *v;
	const char *access;
	long long   ttl;

	if ((access = access_issue(&req->ctx, u, roles, sid, &ttl)) == NULL) {
		json_decref(roles);
		problem_send(req, resp, UM_EINTERNAL, 0, NULL, NULL);
		return;
	}
	v = json_pack("{s:s, s:s, s:I, s:s, s:o}", "access_token", access, "token_type",
	    "Bearer", "expires_in", (json_int_t)ttl, "refresh_token", refresh, "user",
	    user_json(req->rt->db, req->arena, u, roles));
	response_json(resp, 200, v);
	json_decref(v);
}

void
api_accepted(struct response *resp, const char *status)
{
	json_t *v = json_pack("{s:s}", "status", status);

	response_json(resp, 202, v);
	json_decref(v);
}

/*
 * The password re-check of sensitive API calls (login_recheck): 403 invalid_credentials
 * when wrong (API.md §7), 429 rate_limited with Retry-After when the account is locked or
 * this failure locked it.  Returns 0 when it matched; otherwise the answer is sent.
 */
int
api_recheck(struct request *req, struct response *resp, const struct field_result *pw)
{
	long long   retry = 0;
	enum um_err rc;

	rc = login_recheck(&req->ctx, &req->auth->user, pw->val, pw->len, &retry);
	switch (rc) {
	case UM_OK: return 0;
	case UM_ECREDS:
		problem_send(req, resp, UM_ECREDS, 403, "The password is not correct.", NULL);
		break;
	case UM_ERATE:
		problem_send(req, resp, rc, 0,
		    "Too many failed attempts; the account is locked for a while.", NULL);
		response_header(resp, "Retry-After",
		    arena_printf(req->arena, "%lld", retry > 0 ? retry : 1));
		break;
	default: problem_send(req, resp, rc, 0, NULL, NULL); break;
	}
	return -1;
}

/*
 * A successful sign-in's rows: the user's, the refresh family's.  Two sign-ins of one
 * account on two Galera nodes at once conflict at commit; db_transact runs the loser again,
 * from the user as it was read before.
 */
struct signed_in_tx {
	struct ctx          *ctx;
	struct user          read; /* the user as the credential check read it */
	struct user         *u;
	const struct device *dev;
	long long           *sid;
	char               **refresh;
};

static enum um_err
signed_in_tx(void *arg)
{
	struct signed_in_tx *t = arg;
	enum um_err          rc;

	*t->u = t->read;
	/*
	 * The user row is updated before the family is inserted: the insert's foreign-key
	 * check takes a shared lock on that row, and two logins of one account holding it
	 * would deadlock on the update.  Updating first makes the second login wait instead.
	 */
	if ((rc = login_succeeded(t->ctx, t->u, t->dev, "api")) != UM_OK)
		return rc;
	return refresh_start(t->ctx, t->u->id, NULL, t->sid, t->refresh);
}

enum um_err
api_signed_in(struct request *req, struct response *resp, struct user *u,
    const struct device *dev)
{
	long long           sid;
	char               *refresh;
	struct signed_in_tx t = { &req->ctx, *u, u, dev, &sid, &refresh };
	enum um_err         rc;

	if ((rc = db_transact(req->rt->db, signed_in_tx, &t)) != UM_OK)
		return rc;
	browser_device_remember(req, resp, u->id);
	api_token_pair(req, resp, u, sid, refresh);
	return UM_OK;
}
