/* page-admin: the /admin pages — user search, one user with its actions, the audit log, roles. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "app.h"
#include "arena.h"
#include "bounds.h"
#include "directory.h"
#include "form.h"
#include "handlers.h"
#include "mfa.h"
#include "passkey.h"
#include "kv.h"
#include "page.h"
#include "problem.h"
#include "request.h"
#include "response.h"
#include "runtime.h"
#include "session.h"
#include "user.h"
#include "validate.h"

#define PAGE_USERS  50 /* API.md §3: 50 per page */
#define PAGE_EVENTS 50
#define USER_EVENTS 20 /* the newest events shown on a user's page */
#define QUERY_MAX   254

/* An error flash in place of the one a page had so far (the last refusal is the one shown). */
static json_t *
refusal(json_t *before, const char *message)
{
	json_decref(before);
	return page_flash("error", message);
}

/* Flash messages for ?done=<action> after a POST (PRG). */
/* clang-format off: a table read by columns */
static const struct {
	const char *action;
	const char *message;
} done_messages[] = {
	{ "roles", "The roles were saved; the user's sessions and tokens ended." },
	{ "disable", "The account is disabled; its sessions and tokens ended." },
	{ "enable", "The account is enabled." },
	{ "verify", "The address is marked verified." },
	{ "resend-verification",
	    "A new verification link was sent (if the address is "
	    "unverified)." },
	{ "force-password-reset", "The password no longer works; a reset link was mailed." },
	{ "reset-mfa", "Two-step verification is off; the user was told by mail." },
	{ "remove-passkey", "The passkey was removed." },
	{ "deleted", "The account was deleted." },
};
/* clang-format on */

static json_t *
done_flash(const struct request *req)
{
	const char *done = kv_get(&req->query_params, "done");
	size_t      i;

	for (i = 0; done != NULL && i < sizeof(done_messages) / sizeof(done_messages[0]); i++)
		if (strcmp(done, done_messages[i].action) == 0)
			return page_flash("success", done_messages[i].message);
	return NULL;
}

/* --- /admin/users ------------------------------------------------------------------------ */

/*
 * GET /admin/users?q=&role=&status=&after= — 200 the matching users in id order, 50 a
 * page, with a link to the next page (keyset: after = the last id shown); 400 an unknown
 * status or an overlong search; 503.
 */
enum um_err
page_admin_users(struct request *req, struct response *resp)
{
	struct dir_query q;
	const char      *status = kv_get(&req->query_params, "status");
	const char      *after = kv_get(&req->query_params, "after");
	const char      *next_url = NULL;
	json_t          *users = NULL, *roles, *r, *u, *statuses, *f = NULL;
	struct dir_pos   next;
	size_t           i;
	int              st = DIR_ANY, code = 200;
	enum um_err      rc;

	memset(&q, 0, sizeof(q));
	f = done_flash(req); /* "deleted": the user's page is gone, so the list says it */
	q.q = kv_get(&req->query_params, "q");
	q.role = kv_get(&req->query_params, "role");
	q.limit = PAGE_USERS;
	if (q.q == NULL)
		q.q = "";
	if (q.role == NULL)
		q.role = "";
	if (status == NULL)
		status = "";
	if (*status != '\0' && (st = directory_status(status)) < 0) {
		code = 400;
		f = refusal(f, "Choose a status from the list.");
		st = DIR_ANY;
		status = "";
	}
	if (strlen(q.q) > QUERY_MAX || strlen(q.role) > QUERY_MAX) {
		code = 400;
		f = refusal(f, "The search is too long.");
		q.q = q.role = "";
	}
	q.status = (enum dir_status)st;
	/* after= is the last id shown (id order) or a cursor of the search's order. */
	if (after != NULL && *after != '\0') {
		if ((q.after.id = validate_id(after)) > 0)
			q.after.order = DIR_ORDER_ID;
		else if (directory_parse_page(req->arena, after, &q.after) != 0) {
			code = 400;
			f = refusal(f, "That page link is not valid.");
		}
	}
	if ((rc = directory_search(req->rt->db, req->arena, &q, &users, &next)) != UM_OK ||
	    (roles = directory_roles(req->rt->db, req->arena)) == NULL) {
		json_decref(users);
		json_decref(f);
		problem_send(req, resp, rc != UM_OK ? rc : UM_EUNAVAIL, 0, NULL, NULL);
		return UM_OK;
	}
	json_array_foreach(users, i, u)
	{
		json_object_set_new(u, "roles_text",
		    json_string(page_joined(req->arena, json_object_get(u, "roles"), ", ")));
		json_object_set_new(u, "disabled",
		    json_boolean(strcmp(json_string_value(json_object_get(u, "status")),
		                     "disabled") == 0));
	}
	json_array_foreach(roles, i, r) json_object_set_new(r, "selected",
	    json_boolean(strcmp(json_string_value(json_object_get(r, "name")), q.role) == 0));
	statuses = json_array();
	for (i = DIR_ACTIVE; i < DIR__MAX; i++) {
		const char *name = i == DIR_ACTIVE ? "active" :
		    i == DIR_DISABLED              ? "disabled" :
		                                     "unverified";

		json_array_append_new(statuses,
		    json_pack("{s:s, s:b}", "name", name, "selected",
		        strcmp(name, status) == 0));
	}
	if (next.order != 0)
		next_url = arena_printf(req->arena,
		    "/admin/users?q=%s&role=%s&status=%s&after=%s",
		    form_escape(req->arena, q.q), form_escape(req->arena, q.role),
		    form_escape(req->arena, status),
		    next.order == DIR_ORDER_ID ? arena_printf(req->arena, "%lld", next.id) :
		                                 directory_page_cursor(req->arena, &next));
	page_render(req, resp, code, "admin-users",
	    json_pack("{s:s, s:s, s:o, s:o, s:o, s:b,"
	              " s:s?, s:b, s:b, s:o, s:{s:b}}",
	        "title", "Users", "q", q.q, "roles", roles, "statuses", statuses, "users",
	        users, "has_users", json_array_size(users) > 0, "next_url", next_url,
	        "first_page", q.after.order == 0, "has_pages",
	        next_url != NULL || q.after.order != 0, "flash", f != NULL ? f : json_array(),
	        "nav", "admin", 1));
	return UM_OK;
}

/* --- /admin/users/{id} ------------------------------------------------------------------- */

/* One user's page; f (stolen, may be NULL) is the flash. */
static void
show_user(struct request *req, struct response *resp, int status, const struct user *u,
    json_t *f)
{
	json_t     *user, *roles, *mine, *r, *events = NULL, *passkeys = NULL;
	long long   next;
	size_t      i, j;
	int         has;
	enum um_err rc;

	user = user_json(req->rt->db, req->arena, u, NULL);
	mine = json_object_get(user, "roles");
	if ((roles = directory_roles(req->rt->db, req->arena)) == NULL ||
	    (rc = directory_audit(req->rt->db, req->arena,
	         &(struct audit_query){ .user_id = u->id, .limit = USER_EVENTS }, &events,
	         &next)) != UM_OK ||
	    (rc = passkey_list(&req->ctx, u->id, &passkeys)) != UM_OK) {
		json_decref(events);
		json_decref(roles);
		json_decref(user);
		json_decref(f);
		problem_send(req, resp, UM_EUNAVAIL, 0, NULL, NULL);
		return;
	}
	json_array_foreach(roles, i, r)
	{
		has = 0;
		for (j = 0; j < json_array_size(mine); j++)
			if (json_equal(json_array_get(mine, j), json_object_get(r, "name")))
				has = 1;
		json_object_set_new(r, "checked", json_boolean(has));
	}
	json_object_set_new(user, "disabled", json_boolean(strcmp(u->status, "disabled") == 0));
	json_object_set_new(user, "roles_text",
	    json_string(page_joined(req->arena, mine, ", ")));
	page_render(req, resp, status, "admin-user",
	    json_pack("{s:s, s:o, s:o, s:o, s:b, s:o, s:b, s:b,"
	              " s:o, s:{s:b}}",
	        "title", u->username, "account", user, "roles", roles, "events", events,
	        "has_events", json_array_size(events) > 0, "passkeys", passkeys, "has_passkeys",
	        json_array_size(passkeys) > 0, "self", u->id == req->session->user_id, "flash",
	        f != NULL ? f : json_array(), "nav", "admin", 1));
}

/* GET /admin/users/{id} — 200 the account, its roles, actions and newest events; 404; 503. */
enum um_err
page_admin_user(struct request *req, struct response *resp)
{
	struct user u;

	if (admin_target(req, resp, &u) != 0)
		return UM_OK;
	show_user(req, resp, 200, &u, done_flash(req));
	return UM_OK;
}

/* The `roles` checkboxes of the form (repeatable): every value, in order. */
static const char **
form_roles(struct request *req, size_t *n)
{
	const char **names;
	size_t       i;

	names = arena_calloc(req->arena, req->form.n + 1, sizeof(*names));
	*n = 0;
	for (i = 0; i < req->form.n; i++)
		if (strcmp(req->form.v[i].key, "roles") == 0)
			names[(*n)++] = req->form.v[i].val;
	return names;
}

/*
 * POST /admin/users/{id}/{action} — roles (field roles, repeatable), disable, enable,
 * verify, resend-verification, force-password-reset, reset-mfa (two-step verification
 * off, the user mailed), remove-passkey (field passkey_id; 404 when not the user's), delete.  Each is audited with the acting admin, then 303 back
 * to the user's page (to /admin/users after delete).  400 an unknown role; 404 no such
 * user or action; 409 an admin disabling, deleting or force-resetting their own account
 * or taking the admin role from themselves; 403 CSRF (front door); 503.
 */
enum um_err
page_admin_action(struct request *req, struct response *resp)
{
	const char *action = req->params[1], **names, *unknown = NULL;
	long long   actor = req->session->user_id;
	struct user u;
	size_t      n, i;
	int         keeps_admin = 0, changed;
	long long   id;
	enum um_err rc;

	if (admin_target(req, resp, &u) != 0)
		return UM_OK;
	if (strcmp(action, "roles") == 0) {
		names = form_roles(req, &n);
		for (i = 0; i < n; i++)
			if (strcmp(names[i], "admin") == 0)
				keeps_admin = 1;
		if (u.id == actor && !keeps_admin) {
			show_user(req, resp, 409, &u,
			    page_flash("error",
			        "You cannot take the admin role from yourself."));
			return UM_OK;
		}
		rc = directory_set_roles(&req->ctx, &u, names, n, &unknown);
		if (rc == UM_EINVAL && unknown != NULL) {
			show_user(req, resp, 400, &u,
			    page_flash("error",
			        arena_printf(req->arena, "There is no role named \"%s\".",
			            unknown)));
			return UM_OK;
		}
	} else if (strcmp(action, "disable") == 0 || strcmp(action, "delete") == 0 ||
	    strcmp(action, "force-password-reset") == 0) {
		/* Each would lock the acting admin out (DECISIONS.md, Admin area). */
		if (u.id == actor) {
			show_user(req, resp, 409, &u,
			    page_flash("error",
			        strcmp(action, "delete") == 0 ?
			            "You cannot delete your own account here." :
			            strcmp(action, "disable") == 0 ?
			            "You cannot disable your own account." :
			            "You cannot force a reset of your own password: change it on the "
			            "password page."));
			return UM_OK;
		}
		rc = strcmp(action, "delete") == 0 ? directory_delete(&req->ctx, &u) :
		    strcmp(action, "disable") == 0 ? directory_disable(&req->ctx, &u) :
		                                     directory_force_reset(&req->ctx, &u);
	} else if (strcmp(action, "enable") == 0)
		rc = directory_enable(&req->ctx, &u);
	else if (strcmp(action, "verify") == 0)
		rc = directory_set_verified(&req->ctx, &u, 1);
	else if (strcmp(action, "resend-verification") == 0)
		rc = directory_resend_verification(&req->ctx, &u);
	else if (strcmp(action, "reset-mfa") == 0)
		rc = mfa_reset(&req->ctx, u.id, &changed);
	else if (strcmp(action, "remove-passkey") == 0) {
		/* Audited as passkey_removed with the admin as the actor (ctx->actor). */
		id = validate_id(kv_get(&req->form, "passkey_id"));
		rc = id > 0 ? passkey_remove(&req->ctx, u.id, id) : UM_ENOTFOUND;
		if (rc == UM_ENOTFOUND) {
			show_user(req, resp, 404, &u,
			    page_flash("error", "This user has no such passkey."));
			return UM_OK;
		}
	} else {
		problem_send(req, resp, UM_ENOTFOUND, 0, "No such action.", NULL);
		return UM_OK;
	}
	if (rc != UM_OK)
		return rc;
	if (strcmp(action, "delete") == 0)
		response_redirect(resp, 303, "/admin/users?done=deleted");
	else
		response_redirect(resp, 303,
		    arena_printf(req->arena, "/admin/users/%lld?done=%s", u.id,
		        form_escape(req->arena, action)));
	return UM_OK;
}

/* --- /admin/audit ------------------------------------------------------------------------ */

/* The event filter's choices: every audit_name(), the one given marked selected. */
static json_t *
event_choices(const char *given, int *known)
{
	json_t *list = json_array();
	size_t  i;
	int     sel;

	*known = *given == '\0';
	for (i = 0; i < AUDIT__MAX; i++) {
		sel = strcmp(audit_name((enum audit_event)i), given) == 0;
		*known |= sel;
		json_array_append_new(list,
		    json_pack("{s:s, s:b}", "name", audit_name((enum audit_event)i), "selected",
		        sel));
	}
	return list;
}

/*
 * GET /admin/audit?user_id=&username=&event=&before= — 200 security events, newest first, 50
 * a page (before = the last id shown), each naming its user and actor by today's username
 * (linked), "deleted user #N" or "system"; 400 a malformed filter or an event name that is
 * not one of the list; 503.
 */
enum um_err
page_admin_audit(struct request *req, struct response *resp)
{
	const char        *uid = kv_get(&req->query_params, "user_id");
	const char        *uname = kv_get(&req->query_params, "username");
	const char        *event = kv_get(&req->query_params, "event");
	const char        *before = kv_get(&req->query_params, "before");
	const char        *next_url = NULL;
	json_t            *events, *e, *choices, *f = NULL;
	struct audit_query q = { .limit = PAGE_EVENTS };
	long long          next;
	size_t             i;
	int                code = 200, known;
	enum um_err        rc;

	if (uid == NULL)
		uid = "";
	if (uname == NULL)
		uname = "";
	if (event == NULL)
		event = "";
	if (*uid != '\0' && (q.user_id = validate_id(uid)) == 0) {
		code = 400;
		f = refusal(f, "A user id is a number.");
		uid = "";
	}
	if (strlen(uname) > UM_USERNAME_MAX) {
		code = 400;
		f = refusal(f, "A username has at most 32 characters.");
		uname = "";
	}
	if (strlen(event) > UM_EVENT_MAX) {
		code = 400;
		f = refusal(f, "The event name is too long.");
		event = "";
	}
	choices = event_choices(event, &known);
	if (!known) {
		code = 400;
		f = refusal(f, "Choose an event from the list.");
		event = "";
	}
	if (before != NULL && *before != '\0' && (q.before = validate_id(before)) == 0) {
		code = 400;
		f = refusal(f, "That page link is not valid.");
	}
	q.username = uname;
	q.event = event;
	if ((rc = directory_audit(req->rt->db, req->arena, &q, &events, &next)) != UM_OK) {
		json_decref(choices);
		json_decref(f);
		return rc;
	}
	json_array_foreach(events, i, e)
	{
		const json_t *d = json_object_get(e, "details");
		char         *text = NULL;

		if (!json_is_null(d))
			text = json_dumps(d, JSON_COMPACT | JSON_ENCODE_ANY);
		json_object_set_new(e, "details_text",
		    text != NULL ? json_string(text) : json_null());
		free(text);
	}
	if (next > 0)
		next_url = arena_printf(req->arena,
		    "/admin/audit?user_id=%s&username=%s&event=%s&before=%lld",
		    form_escape(req->arena, uid), form_escape(req->arena, uname),
		    form_escape(req->arena, event), next);
	page_render(req, resp, code, "admin-audit",
	    json_pack("{s:s, s:s, s:s, s:s, s:o, s:o, s:b, s:s?,"
	              " s:o, s:{s:b}}",
	        "title", "Audit log", "user_id", uid, "username", uname, "event", event,
	        "event_names", choices, "events", events, "has_events",
	        json_array_size(events) > 0, "next_url", next_url, "flash",
	        f != NULL ? f : json_array(), "nav", "admin", 1));
	return UM_OK;
}

/* --- /admin/roles ------------------------------------------------------------------------ */

enum { R_NAME, R_DESCRIPTION, R__MAX };

static const struct field_spec role_spec[R__MAX] = {
	[R_NAME] = { "name", validate_role_name, UM_ROLE_NAME_FIELD_MAX, VF_REQUIRED },
	[R_DESCRIPTION] = { "description", validate_line, UM_ROLE_DESCRIPTION_MAX, 0 },
};

static const struct page_field role_fields[R__MAX] = {
	[R_NAME] = { "name", "Name", "text", "off",
	    "a–z first, then a–z, 0–9, _ or -; "
	    "2 to 32 characters",
	    32, 1, 0 },
	[R_DESCRIPTION] = { "description", "Description", "text", "off", NULL, 255, 0, 0 },
};

static void
show_roles(struct request *req, struct response *resp, int status, const struct field_result *r,
    json_t *f)
{
	json_t *roles;

	if ((roles = directory_roles(req->rt->db, req->arena)) == NULL) {
		json_decref(f);
		problem_send(req, resp, UM_EUNAVAIL, 0, NULL, NULL);
		return;
	}
	page_render(req, resp, status, "admin-roles",
	    json_pack("{s:s, s:o, s:o, s:o, s:o,"
	              " s:{s:b}}",
	        "title", "Roles", "roles", roles, "fields", page_fields(role_fields, R__MAX, r),
	        "errors", page_errors(req, role_spec, R__MAX, r), "flash",
	        f != NULL ? f : json_array(), "nav", "admin", 1));
}

/*
 * GET /admin/roles — 200 every role and the form to add one.  POST {name, description} —
 * 303 back here with a message; 400 a bad name (form re-rendered); 409 the name is taken;
 * 403 CSRF (front door); 503.
 */
enum um_err
page_admin_roles(struct request *req, struct response *resp)
{
	struct validate_ctx vctx = { 0, NULL };
	struct field_result r[R__MAX];
	const char         *done = kv_get(&req->query_params, "done");
	enum um_err         rc;

	if (req->method != HTTP_POST) {
		show_roles(req, resp, 200, NULL,
		    done != NULL && strcmp(done, "created") == 0 ?
		        page_flash("success", "The role was created.") :
		        NULL);
		return UM_OK;
	}
	if (validate_form(req->arena, &vctx, role_spec, R__MAX, &req->form, r) != UM_OK) {
		show_roles(req, resp, 400, r, NULL);
		return UM_OK;
	}
	rc = directory_role_create(&req->ctx, r[R_NAME].val,
	    r[R_DESCRIPTION].val != NULL ? r[R_DESCRIPTION].val : "");
	if (rc == UM_ECONFLICT) {
		r[R_NAME].error = "is already taken";
		show_roles(req, resp, 409, r, NULL);
		return UM_OK;
	}
	if (rc != UM_OK)
		return rc;
	response_redirect(resp, 303, "/admin/roles?done=created");
	return UM_OK;
}
