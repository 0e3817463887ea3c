/* api-me: the bearer-authenticated /api/v1/me routes — the caller's own account. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "access.h"
#include "account.h"
#include "api.h"
#include "app.h"
#include "arena.h"
#include "audit.h"
#include "bounds.h"
#include "breach.h"
#include "handlers.h"
#include "login.h"
#include "password.h"
#include "problem.h"
#include "request.h"
#include "response.h"
#include "runtime.h"
#include "session.h"
#include "user.h"
#include "validate.h"

/* GET /api/v1/me — 200 user; 401. */
enum um_err
api_me(struct request *req, struct response *resp)
{
	api_user(req, resp, 200, &req->auth->user, json_incref(req->auth->roles));
	return UM_OK;
}

enum { M_DISPLAY_NAME, M_BIO, M__MAX };

static const struct field_spec patch_spec[M__MAX] = {
	[M_DISPLAY_NAME] = { "display_name", validate_display_name, 0, VF_NULLABLE },
	[M_BIO] = { "bio", validate_bio, 0, VF_NULLABLE },
};

/* PATCH /api/v1/me — 200 user; 400 (a field too long, of the wrong type, with control
 * characters); 401; 415; 503.  Absent fields keep their value; null or "" clears. */
enum um_err
api_me_patch(struct request *req, struct response *resp)
{
	struct validate_ctx vctx = { 0, NULL };
	struct field_result r[M__MAX];
	struct user        *u = &req->auth->user;
	const char         *dn, *bio;
	enum um_err         rc;

	if (api_fields(req, resp, &vctx, patch_spec, M__MAX, r) != 0)
		return UM_OK;
	dn = r[M_DISPLAY_NAME].present ? r[M_DISPLAY_NAME].val : u->display_name;
	bio = r[M_BIO].present ? r[M_BIO].val : u->bio;
	if ((rc = account_update_profile(&req->ctx, u->id, dn, bio)) != UM_OK ||
	    (rc = user_by_id(req->rt->db, req->arena, u->id, u)) != UM_OK)
		return rc;
	api_user(req, resp, 200, u, json_incref(req->auth->roles));
	return UM_OK;
}

enum { D_PASSWORD, D__MAX };

static const struct field_spec delete_spec[D__MAX] = {
	[D_PASSWORD] = { "password", NULL, UM_PASSWORD_FIELD_MAX, VF_REQUIRED | VF_SECRET },
};

/* DELETE /api/v1/me — 204; 400; 401; 403 invalid_credentials; 415; 429; 503. */
enum um_err
api_me_delete(struct request *req, struct response *resp)
{
	struct validate_ctx vctx = { 0, NULL };
	struct field_result r[D__MAX];
	enum um_err         rc;

	if (api_fields(req, resp, &vctx, delete_spec, D__MAX, r) != 0 ||
	    api_recheck(req, resp, &r[D_PASSWORD]) != 0)
		return UM_OK;
	if ((rc = account_delete(&req->ctx, &req->auth->user)) != UM_OK)
		return rc;
	response_empty(resp, 204);
	return UM_OK;
}

enum { C_CURRENT, C_NEW, C__MAX };

static const struct field_spec password_spec[C__MAX] = {
	[C_CURRENT] = { "current_password", NULL, UM_PASSWORD_FIELD_MAX,
	    VF_REQUIRED | VF_SECRET },
	[C_NEW] = { "new_password", validate_password, UM_PASSWORD_FIELD_MAX,
	    VF_REQUIRED | VF_SECRET },
};

/* POST /api/v1/me/password — 204 (every refresh family and browser session ends); 400;
 * 401; 403 invalid_credentials; 415; 429 (locked, or the per-IP limit); 503. */
enum um_err
api_me_password(struct request *req, struct response *resp)
{
	struct validate_ctx vctx = { req->rt->conf.password_min_length,
		req->auth->user.username };
	struct field_result r[C__MAX];
	char                hash[PASSWORD_HASH_MAX];
	enum um_err         rc;

	if (api_fields(req, resp, &vctx, password_spec, C__MAX, r) != 0 ||
	    api_recheck(req, resp, &r[C_CURRENT]) != 0)
		return UM_OK;
	/* Last, once the current password is right: it asks a third party. */
	if (breach_refuse(req->arena, &req->rt->conf, r, C_NEW) != UM_OK &&
	    api_invalid(req, resp, password_spec, C__MAX, r) != 0)
		return UM_OK;
	if ((rc = password_hash(&req->rt->conf, r[C_NEW].val, r[C_NEW].len, hash)) != UM_OK ||
	    (rc = account_set_password(&req->ctx, &req->auth->user, hash, NULL,
	         AUDIT_PASSWORD_CHANGED)) != UM_OK)
		return rc;
	response_empty(resp, 204);
	return UM_OK;
}

enum { A_PASSWORD, A_EMAIL, A__MAX };

static const struct field_spec email_spec[A__MAX] = {
	[A_PASSWORD] = { "password", NULL, UM_PASSWORD_FIELD_MAX, VF_REQUIRED | VF_SECRET },
	[A_EMAIL] = { "email", validate_email, 0, VF_REQUIRED },
};

/* POST /api/v1/me/email — 202 (the change completes when the mailed link is followed);
 * 400; 401; 403 invalid_credentials; 409 taken (unless enumeration prevention); 415; 429;
 * 503. */
enum um_err
api_me_email(struct request *req, struct response *resp)
{
	struct validate_ctx vctx = { 0, NULL };
	struct field_result r[A__MAX];
	struct user         other;
	enum um_err         rc;

	if (api_fields(req, resp, &vctx, email_spec, A__MAX, r) != 0 ||
	    api_recheck(req, resp, &r[A_PASSWORD]) != 0)
		return UM_OK;
	rc = user_by_email(req->rt->db, req->arena, r[A_EMAIL].val, &other);
	if (rc == UM_OK && !req->rt->conf.prevent_enumeration) {
		problem_send(req, resp, UM_ECONFLICT, 0, "Already taken.",
		    json_pack("[{s:s, s:s}]", "field", "email", "message",
		        "is already registered"));
		return UM_OK;
	}
	/* With enumeration prevention a taken address answers 202 and nothing is sent. */
	if (rc == UM_ENOTFOUND)
		rc = account_request_email_change(&req->ctx, &req->auth->user, r[A_EMAIL].val);
	if (rc != UM_OK)
		return rc;
	api_accepted(resp, "verification_sent");
	return UM_OK;
}

/* GET /api/v1/me/sessions — 200 {sessions: [...]}; 401; 503. */
enum um_err
api_me_sessions(struct request *req, struct response *resp)
{
	json_t *list, *v;

	if ((list = session_list(req->rt->db, req->arena, req->auth->user.id,
	         req->auth->sid)) == NULL)
		return UM_EUNAVAIL;
	v = json_pack("{s:o}", "sessions", list);
	response_json(resp, 200, v);
	json_decref(v);
	return UM_OK;
}

/* DELETE /api/v1/me/sessions/{id} — 204; 401; 404 not one of the caller's sessions; 503. */
enum um_err
api_me_session_delete(struct request *req, struct response *resp)
{
	long long   id = validate_id(req->params[0]);
	int         found = 0;
	enum um_err rc;

	if (id == 0) {
		problem_send(req, resp, UM_ENOTFOUND, 0, "No such session.", NULL);
		return UM_OK;
	}
	if ((rc = session_revoke(&req->ctx, req->auth->user.id, id, &found)) != UM_OK)
		return rc;
	if (!found) {
		problem_send(req, resp, UM_ENOTFOUND, 0, "No such session.", NULL);
		return UM_OK;
	}
	(void)audit_log(&req->ctx, AUDIT_SESSION_REVOKED, req->auth->user.id,
	    req->auth->user.id, json_pack("{s:I}", "session_id", (json_int_t)id));
	response_empty(resp, 204);
	return UM_OK;
}
