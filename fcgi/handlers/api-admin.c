/* api-admin: the /api/v1/admin routes — user directory, roles and audit log for admin tokens. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "access.h"
#include "api.h"
#include "app.h"
#include "arena.h"
#include "bounds.h"
#include "directory.h"
#include "handlers.h"
#include "mfa.h"
#include "kv.h"
#include "problem.h"
#include "request.h"
#include "response.h"
#include "runtime.h"
#include "user.h"
#include "validate.h"

#define QUERY_MAX 254 /* q: an address prefix is at most an address (API.md §2) */

/* Answers 400 validation_failed naming field; returns -1 for `return bad(...)` chains. */
static int
bad(struct request *req, struct response *resp, const char *field, const char *message)
{
	problem_send(req, resp, UM_EINVAL, 0,
	    arena_printf(req->arena, "%s %s.", field, message),
	    json_pack("[{s:s, s:s}]", "field", field, "message", message));
	return -1;
}

/* limit= (API.md §7: an integer 1–100, default 50); -1 after answering 400. */
static int
query_limit(struct request *req, struct response *resp, unsigned *limit)
{
	const char *s = kv_get(&req->query_params, "limit");
	long long   n;

	*limit = DIRECTORY_LIMIT_DEFAULT;
	if (s == NULL)
		return 0;
	if ((n = validate_id(s)) < 1 || n > DIRECTORY_LIMIT_MAX)
		return bad(req, resp, "limit", "must be an integer from 1 to 100");
	*limit = (unsigned)n;
	return 0;
}

/* cursor= as directory_cursor made it, or 0 when absent; -1 after answering 400. */
static int
query_cursor(struct request *req, struct response *resp, long long *id)
{
	const char *s = kv_get(&req->query_params, "cursor");

	*id = 0;
	if (s == NULL || *s == '\0')
		return 0;
	if ((*id = directory_parse_cursor(s)) <= 0)
		return bad(req, resp, "cursor", "is not a cursor from an earlier answer");
	return 0;
}

/*
 * The account {id} of the path into *u; 404 (answered) when there is none.  The admin pages
 * (page-admin.c) use it too: the answer is problem+json or, for a browser, the error page.
 */
int
admin_target(struct request *req, struct response *resp, struct user *u)
{
	long long   id = validate_id(req->params[0]);
	enum um_err rc = UM_ENOTFOUND;

	if (id > 0)
		rc = user_by_id(req->rt->db, req->arena, id, u);
	if (rc == UM_OK)
		return 0;
	problem_send(req, resp, rc, 0, rc == UM_ENOTFOUND ? "No such user." : NULL, NULL);
	return -1;
}

/* A list page {key: list, next_cursor}; list stolen; next NULL on the last page. */
static void
send_page(struct request *req, struct response *resp, const char *key, json_t *list,
    const char *next)
{
	json_t *v;

	v = json_pack("{s:o, s:o}", key, list, "next_cursor",
	    next != NULL ? json_string(next) : json_null());
	response_json(resp, 200, v);
	json_decref(v);
}

/*
 * GET /api/v1/admin/users?q=&role=&status=&limit=&cursor= — 200 {users, next_cursor} in
 * id order, or for a selective q in name then address order (directory.h); 400 (limit,
 * cursor, status, q); 401; 403; 503.  An unknown role finds nobody.
 */
enum um_err
api_admin_users(struct request *req, struct response *resp)
{
	struct dir_query q;
	const char      *status = kv_get(&req->query_params, "status"), *cursor;
	json_t          *users;
	struct dir_pos   next;
	int              st = DIR_ANY;
	enum um_err      rc;

	memset(&q, 0, sizeof(q));
	q.q = kv_get(&req->query_params, "q");
	q.role = kv_get(&req->query_params, "role");
	if (query_limit(req, resp, &q.limit) != 0)
		return UM_OK;
	if ((cursor = kv_get(&req->query_params, "cursor")) != NULL && *cursor != '\0' &&
	    directory_parse_page(req->arena, cursor, &q.after) != 0) {
		(void)bad(req, resp, "cursor", "is not a cursor from an earlier answer");
		return UM_OK;
	}
	if (status != NULL && *status != '\0' && (st = directory_status(status)) < 0) {
		(void)bad(req, resp, "status", "must be active, disabled or unverified");
		return UM_OK;
	}
	q.status = (enum dir_status)st;
	if (q.q != NULL && strlen(q.q) > QUERY_MAX) {
		(void)bad(req, resp, "q", "is too long");
		return UM_OK;
	}
	if (q.role != NULL && strlen(q.role) > QUERY_MAX) {
		(void)bad(req, resp, "role", "is too long");
		return UM_OK;
	}
	if ((rc = directory_search(req->rt->db, req->arena, &q, &users, &next)) != UM_OK)
		return rc;
	send_page(req, resp, "users", users,
	    next.order != 0 ? directory_page_cursor(req->arena, &next) : NULL);
	return UM_OK;
}

/* GET /api/v1/admin/users/{id} — 200 user; 401; 403; 404; 503. */
enum um_err
api_admin_user(struct request *req, struct response *resp)
{
	struct user u;

	if (admin_target(req, resp, &u) != 0)
		return UM_OK;
	api_user(req, resp, 200, &u, NULL);
	return UM_OK;
}

enum { P_STATUS, P_DISPLAY_NAME, P__MAX };

static const struct field_spec patch_spec[P__MAX] = {
	[P_STATUS] = { "status", NULL, UM_STATUS_FIELD_MAX, 0 },
	[P_DISPLAY_NAME] = { "display_name", validate_display_name, 0, VF_NULLABLE },
};

/*
 * PATCH /api/v1/admin/users/{id} {status?, email_verified?, display_name?} — 200 user;
 * 400 (status not active/disabled, email_verified not a boolean, display_name); 401; 403;
 * 404; 409 an admin disabling their own account; 415; 503.  Disabling ends every session
 * and token of the user at once (API.md §7).
 */
enum um_err
api_admin_user_patch(struct request *req, struct response *resp)
{
	struct validate_ctx vctx = { 0, NULL };
	struct field_result r[P__MAX];
	struct user         u;
	const char         *status;
	json_t             *ev;
	long long           actor = req->auth->user.id;
	enum um_err         rc = UM_OK;

	if (admin_target(req, resp, &u) != 0 ||
	    api_fields(req, resp, &vctx, patch_spec, P__MAX, r) != 0)
		return UM_OK;
	ev = json_object_get(req->json, "email_verified");
	if (ev != NULL && !json_is_boolean(ev)) {
		(void)bad(req, resp, "email_verified", "must be true or false");
		return UM_OK;
	}
	status = r[P_STATUS].val;
	if (status != NULL && strcmp(status, "active") != 0 &&
	    strcmp(status, "disabled") != 0) {
		(void)bad(req, resp, "status", "must be active or disabled");
		return UM_OK;
	}
	if (status != NULL && strcmp(status, "disabled") == 0 && u.id == actor) {
		problem_send(req, resp, UM_ECONFLICT, 0, "You cannot disable your own account.",
		    NULL);
		return UM_OK;
	}
	if (status != NULL && strcmp(status, u.status) != 0)
		rc = strcmp(status, "disabled") == 0 ? directory_disable(&req->ctx, &u) :
		                                       directory_enable(&req->ctx, &u);
	if (rc == UM_OK && ev != NULL && json_is_true(ev) != u.email_verified)
		rc = directory_set_verified(&req->ctx, &u, json_is_true(ev));
	if (rc == UM_OK && r[P_DISPLAY_NAME].present)
		rc = directory_set_display_name(&req->ctx, &u, r[P_DISPLAY_NAME].val);
	if (rc == UM_OK)
		rc = user_by_id(req->rt->db, req->arena, u.id, &u);
	if (rc != UM_OK)
		return rc;
	api_user(req, resp, 200, &u, NULL);
	return UM_OK;
}

/* DELETE /api/v1/admin/users/{id} — 204; 401; 403; 404; 409 the admin's own account; 503. */
enum um_err
api_admin_user_delete(struct request *req, struct response *resp)
{
	struct user u;
	enum um_err rc;

	if (admin_target(req, resp, &u) != 0)
		return UM_OK;
	if (u.id == req->auth->user.id) {
		problem_send(req, resp, UM_ECONFLICT, 0,
		    "You cannot delete your own account "
		    "here; use DELETE /api/v1/me.",
		    NULL);
		return UM_OK;
	}
	if ((rc = directory_delete(&req->ctx, &u)) != UM_OK)
		return rc;
	response_empty(resp, 204);
	return UM_OK;
}

/*
 * DELETE /api/v1/admin/users/{id}/mfa — 204: two-step verification of the user is off (its
 * secret and recovery codes gone, audited as mfa_reset_by_admin, the user mailed a notice),
 * or was off already (nothing written); 401; 403; 404; 503.  For a user who lost the
 * authenticator, or whose account a thief enrolled (issue 10, item 9).
 */
enum um_err
api_admin_user_mfa_reset(struct request *req, struct response *resp)
{
	struct user u;
	int         changed;
	enum um_err rc;

	if (admin_target(req, resp, &u) != 0)
		return UM_OK;
	if ((rc = mfa_reset(&req->ctx, u.id, &changed)) != UM_OK)
		return rc;
	response_empty(resp, 204);
	return UM_OK;
}

/*
 * PUT /api/v1/admin/users/{id}/roles {roles: [names]} — 200 user; 400 (not an array of
 * strings, an unknown name — named in detail and errors); 401; 403; 404; 409 an admin
 * taking the admin role from themselves; 415; 503.  The user's sessions and tokens end so
 * the new roles apply at once (docs/DECISIONS.md).
 */
enum um_err
api_admin_user_roles(struct request *req, struct response *resp)
{
	struct user  u;
	json_t      *list, *v;
	const char **names, *unknown = NULL;
	size_t       i, n;
	int          keeps_admin = 0;
	enum um_err  rc;

	if (admin_target(req, resp, &u) != 0)
		return UM_OK;
	if (!json_is_object(req->json)) {
		problem_send(req, resp, UM_EJSON, 400, "The body must be a JSON object.", NULL);
		return UM_OK;
	}
	list = json_object_get(req->json, "roles");
	if (!json_is_array(list)) {
		(void)bad(req, resp, "roles", "must be an array of role names");
		return UM_OK;
	}
	if ((n = json_array_size(list)) > UM_ROLES_MAX) {
		(void)bad(req, resp, "roles", "holds too many names");
		return UM_OK;
	}
	names = arena_calloc(req->arena, n + 1, sizeof(*names));
	json_array_foreach(list, i, v)
	{
		if (!json_is_string(v) || json_string_length(v) == 0 ||
		    json_string_length(v) > QUERY_MAX ||
		    strlen(json_string_value(v)) != json_string_length(v)) {
			(void)bad(req, resp, "roles", "must be an array of role names");
			return UM_OK;
		}
		names[i] = json_string_value(v);
		if (strcmp(names[i], "admin") == 0)
			keeps_admin = 1;
	}
	if (u.id == req->auth->user.id && !keeps_admin) {
		problem_send(req, resp, UM_ECONFLICT, 0,
		    "You cannot take the admin role from "
		    "yourself.",
		    NULL);
		return UM_OK;
	}
	rc = directory_set_roles(&req->ctx, &u, names, n, &unknown);
	if (rc == UM_EINVAL && unknown != NULL) {
		problem_send(req, resp, UM_EINVAL, 0,
		    arena_printf(req->arena, "There is no role named \"%s\".", unknown),
		    json_pack("[{s:s, s:s}]", "field", "roles", "message",
		        arena_printf(req->arena, "unknown role: %s", unknown)));
		return UM_OK;
	}
	if (rc != UM_OK || (rc = user_by_id(req->rt->db, req->arena, u.id, &u)) != UM_OK)
		return rc;
	api_user(req, resp, 200, &u, NULL);
	return UM_OK;
}

/* GET /api/v1/admin/roles — 200 {roles: [{name, description, builtin}]}; 401; 403; 503. */
enum um_err
api_admin_roles(struct request *req, struct response *resp)
{
	json_t *list, *v;

	if ((list = directory_roles(req->rt->db, req->arena)) == NULL)
		return UM_EUNAVAIL;
	v = json_pack("{s:o}", "roles", list);
	response_json(resp, 200, v);
	json_decref(v);
	return UM_OK;
}

enum { R_NAME, R_DESCRIPTION, R__MAX };

static const struct field_spec role_spec[R__MAX] = {
	[R_NAME] = { "name", validate_role_name, UM_ROLE_NAME_FIELD_MAX, VF_REQUIRED },
	[R_DESCRIPTION] = { "description", validate_line, UM_ROLE_DESCRIPTION_MAX, 0 },
};

/*
 * POST /api/v1/admin/roles {name, description} — 201 {name, description, builtin: false};
 * 400 (name not `[a-z][a-z0-9_-]{1,31}`); 401; 403; 409 the name is taken; 415; 503.
 */
enum um_err
api_admin_role_create(struct request *req, struct response *resp)
{
	struct validate_ctx vctx = { 0, NULL };
	struct field_result r[R__MAX];
	const char         *desc;
	json_t             *v;
	enum um_err         rc;

	if (api_fields(req, resp, &vctx, role_spec, R__MAX, r) != 0)
		return UM_OK;
	desc = r[R_DESCRIPTION].val != NULL ? r[R_DESCRIPTION].val : "";
	rc = directory_role_create(&req->ctx, r[R_NAME].val, desc);
	if (rc == UM_ECONFLICT) {
		problem_send(req, resp, rc, 0, "A role with this name exists.",
		    json_pack("[{s:s, s:s}]", "field", "name", "message", "is already taken"));
		return UM_OK;
	}
	if (rc != UM_OK)
		return rc;
	v = json_pack("{s:s, s:s, s:b}", "name", r[R_NAME].val, "description", desc, "builtin",
	    0);
	response_json(resp, 201, v);
	json_decref(v);
	return UM_OK;
}

/*
 * GET /api/v1/admin/audit?user_id=&event=&limit=&cursor= — 200 {events, next_cursor},
 * newest first; 400 (user_id, event, limit, cursor); 401; 403; 503.
 */
enum um_err
api_admin_audit(struct request *req, struct response *resp)
{
	const char *uid = kv_get(&req->query_params, "user_id");
	const char *event = kv_get(&req->query_params, "event");
	json_t     *events;
	long long   user_id = 0, before, next;
	unsigned    limit;
	enum um_err rc;

	if (query_limit(req, resp, &limit) != 0 || query_cursor(req, resp, &before) != 0)
		return UM_OK;
	if (uid != NULL && *uid != '\0' && (user_id = validate_id(uid)) == 0) {
		(void)bad(req, resp, "user_id", "must be a user id");
		return UM_OK;
	}
	if (event != NULL && strlen(event) > UM_EVENT_MAX) {
		(void)bad(req, resp, "event", "is too long");
		return UM_OK;
	}
	if ((rc = directory_audit(req->rt->db, req->arena,
	         &(struct audit_query){ .user_id = user_id,
	             .event = event,
	             .before = before,
	             .limit = limit },
	         &events, &next)) != UM_OK)
		return rc;
	send_page(req, resp, "events", events,
	    next > 0 ? directory_cursor(req->arena, next) : NULL);
	return UM_OK;
}
