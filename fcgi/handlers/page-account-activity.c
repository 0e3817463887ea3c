/* page-account-activity: /account/sessions, /account/security, /account/export — the account's sessions and events. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "alert.h"
#include "app.h"
#include "audit.h"
#include "bounds.h"
#include "browser.h"
#include "db.h"
#include "directory.h"
#include "handlers.h"
#include "kv.h"
#include "page.h"
#include "problem.h"
#include "request.h"
#include "response.h"
#include "runtime.h"
#include "session.h"
#include "user.h"
#include "validate.h"

#define SECURITY_EVENTS 50    /* events on /account/security, newest first */
#define EXPORT_EVENTS   10000 /* the export's bound: every event of any real account */

/*
 * The newest limit audit events about user_id in the API.md §7 shape (the admin audit's
 * query, directory_audit, filtered to the one user), without the accounts' names that the
 * admin views add: a user is not told which admin acted.  NULL when the database failed.
 */
static json_t *
events_of(struct db *db, struct arena *a, long long user_id, unsigned limit)
{
	json_t   *events, *e;
	long long next;
	size_t    i;

	if (directory_audit(db, a, &(struct audit_query){ .user_id = user_id, .limit = limit },
	        &events, &next) != UM_OK)
		return NULL;
	json_array_foreach(events, i, e)
	{
		(void)json_object_del(e, "username");
		(void)json_object_del(e, "actor_username");
	}
	return events;
}

/* details as [{key, value}] for a definition list; values that are not strings as JSON. */
static json_t *
details_view(const json_t *details)
{
	json_t     *out = json_array(), *v;
	const char *key;
	char       *text;

	if (json_is_string(details)) {
		json_array_append_new(out,
		    json_pack("{s:s, s:O}", "key", "details", "value", details));
		return out;
	}
	json_object_foreach((json_t *)details, key, v)
	{
		if (json_is_string(v)) {
			json_array_append_new(out,
			    json_pack("{s:s, s:O}", "key", key, "value", v));
			continue;
		}
		if ((text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY)) == NULL)
			continue;
		json_array_append_new(out, json_pack("{s:s, s:s}", "key", key, "value", text));
		free(text);
	}
	return out;
}

/* One event as the security page shows it. */
static json_t *
event_view(const json_t *e)
{
	const char *user = json_string_value(json_object_get(e, "user_id"));
	const char *actor = json_string_value(json_object_get(e, "actor_id"));

	return json_pack("{s:O, s:s, s:O, s:O, s:O, s:b, s:o}", "event",
	    json_object_get(e, "event"), "label",
	    audit_label(json_string_value(json_object_get(e, "event"))), "created_at",
	    json_object_get(e, "created_at"), "ip", json_object_get(e, "ip"), "id",
	    json_object_get(e, "id"),
	    /* Someone else acted on the account: an administrator. */
	    "by_other", actor != NULL && (user == NULL || strcmp(actor, user) != 0), "details",
	    details_view(json_object_get(e, "details")));
}

/* The security page; flash (stolen, may be NULL) says what the last POST did. */
static enum um_err
show_security(struct request *req, struct response *resp, json_t *flash)
{
	json_t     *events, *view, *e;
	size_t      i;
	int         alerts;
	enum um_err rc;

	if ((rc = alert_enabled(req->rt->db, req->arena, req->session->user_id, &alerts)) !=
	        UM_OK ||
	    (events = events_of(req->rt->db, req->arena, req->session->user_id,
	         SECURITY_EVENTS)) == NULL) {
		json_decref(flash);
		return UM_EUNAVAIL;
	}
	view = json_array();
	json_array_foreach(events, i, e) json_array_append_new(view, event_view(e));
	json_decref(events);
	page_render(req, resp, 200, "account-security",
	    json_pack("{s:s, s:o, s:b, s:i, s:b, s:o,"
	              " s:{s:b}}",
	        "title", "Security activity", "events", view, "has_events",
	        json_array_size(view) > 0, "limit", SECURITY_EVENTS, "login_alerts", alerts,
	        "flash", flash != NULL ? flash : json_array(), "nav", "security", 1));
	return UM_OK;
}

/* GET /account/security — 200 the newest 50 events about the account and the alert
 * setting; 503. */
enum um_err
page_account_security(struct request *req, struct response *resp)
{
	return show_security(req, resp, NULL);
}

/*
 * POST /account/security/alerts — field login_alerts (a checkbox: present means on);
 * 200 the security page saying what is set now; 403 CSRF; 503.
 */
enum um_err
page_account_alerts(struct request *req, struct response *resp)
{
	int         on = kv_get(&req->form, "login_alerts") != NULL;
	enum um_err rc;

	if ((rc = alert_set(&req->ctx, req->session->user_id, on)) != UM_OK)
		return rc;
	return show_security(req, resp,
	    page_flash("success",
	        on ? "New-device sign-in alerts are on." :
	             "New-device sign-in alerts are off."));
}

/* --- /account/sessions ------------------------------------------------------------------- */

/*
 * The sessions page; flash (stolen, may be NULL) says what the last POST did or why it
 * was refused.
 */
static void
show_sessions(struct request *req, struct response *resp, int status, json_t *flash)
{
	json_t     *list, *s;
	size_t      i;
	int         others = 0;
	const char *kind, *str;

	if ((list = session_list(req->rt->db, req->arena, req->session->user_id,
	         req->session->id)) == NULL) {
		json_decref(flash);
		problem_send(req, resp, UM_EUNAVAIL, 0, NULL, NULL);
		return;
	}
	json_array_foreach(list, i, s)
	{
		kind = json_string_value(json_object_get(s, "kind"));
		json_object_set_new(s, "api",
		    json_boolean(kind != NULL && strcmp(kind, "api") == 0));
		/* Empty columns become null: Mustache would not tell "" from a value. */
		str = json_string_value(json_object_get(s, "ip"));
		if (str == NULL || *str == '\0')
			json_object_set_new(s, "ip", json_null());
		str = json_string_value(json_object_get(s, "user_agent"));
		if (str == NULL || *str == '\0')
			json_object_set_new(s, "user_agent", json_null());
		if (!json_is_true(json_object_get(s, "current")))
			others = 1;
	}
	page_render(req, resp, status, "account-sessions",
	    json_pack("{s:s, s:o, s:b, s:o}", "title", "Where you are signed in", "sessions",
	        list, "others", others, "flash", flash != NULL ? flash : json_array()));
}

/*
 * GET /account/sessions — 200; ?done=one or ?done=others (where the revoke POST sends the
 * browser) adds the message saying what was done; 503.
 */
enum um_err
page_account_sessions(struct request *req, struct response *resp)
{
	const char *done = kv_get(&req->query_params, "done");
	json_t     *f = NULL;

	if (done != NULL && strcmp(done, "one") == 0)
		f = page_flash("success", "The session was signed out.");
	else if (done != NULL && strcmp(done, "others") == 0)
		f = page_flash("success", "All your other sessions were signed out.");
	show_sessions(req, resp, 200, f);
	return UM_OK;
}

enum { R_SESSION_ID, R_ALL, R__MAX };

static const struct field_spec revoke_spec[R__MAX] = {
	[R_SESSION_ID] = { "session_id", NULL, UM_ID_FIELD_MAX, 0 },
	[R_ALL] = { "all", NULL, 1, 0 },
};

/*
 * POST /account/sessions/revoke — all=1: every other browser session and every API
 * refresh family ends; session_id=N: that one ends.  303 back to /account/sessions (PRG);
 * revoking the session making the request is logging out: its cookie is cleared and the
 * answer is 303 to /.  400 no session named; 404 not one of the user's live sessions;
 * 403 CSRF; 503.
 */
enum um_err
page_account_revoke(struct request *req, struct response *resp)
{
	struct validate_ctx vctx = { 0, NULL };
	struct field_result r[R__MAX];
	long long           uid = req->session->user_id, id;
	int                 found = 0;
	enum um_err         rc;

	if (validate_form(req->arena, &vctx, revoke_spec, R__MAX, &req->form, r) == UM_OK &&
	    r[R_ALL].val != NULL && strcmp(r[R_ALL].val, "1") == 0) {
		if ((rc = session_end_all(&req->ctx, uid, req->session->hash)) != UM_OK)
			return rc;
		(void)audit_log(&req->ctx, AUDIT_SESSION_REVOKED, uid, uid,
		    json_pack("{s:b}", "all_others", 1));
		response_redirect(resp, 303, "/account/sessions?done=others");
		return UM_OK;
	}
	if ((id = validate_id(r[R_SESSION_ID].val)) == 0) {
		show_sessions(req, resp, 400,
		    page_flash("error", "Choose a session to sign out."));
		return UM_OK;
	}
	if (id == req->session->id) {
		/* This browser's own session: the same as the Log out button. */
		if ((rc = browser_session_end(req, resp)) != UM_OK)
			return rc;
		(void)audit_log(&req->ctx, AUDIT_LOGOUT, uid, uid, NULL);
		response_redirect(resp, 303, "/");
		return UM_OK;
	}
	if ((rc = session_revoke(&req->ctx, uid, id, &found)) != UM_OK)
		return rc;
	if (!found) {
		show_sessions(req, resp, 404,
		    page_flash("error", "That session has already ended."));
		return UM_OK;
	}
	(void)audit_log(&req->ctx, AUDIT_SESSION_REVOKED, uid, uid,
	    json_pack("{s:I}", "session_id", (json_int_t)id));
	response_redirect(resp, 303, "/account/sessions?done=one");
	return UM_OK;
}

/* --- /account/export --------------------------------------------------------------------- */

/*
 * GET /account/export — 200 application/json download {user, sessions, audit_events}
 * (API.md §7 "Export"); 503.  The user object holds no secret (API.md §4).
 */
enum um_err
page_account_export(struct request *req, struct response *resp)
{
	struct db  *db = req->rt->db;
	struct user u;
	json_t     *user = NULL, *sessions = NULL, *events = NULL, *v = NULL;
	enum um_err rc;

	if ((rc = user_by_id(db, req->arena, req->session->user_id, &u)) != UM_OK)
		goto out;
	rc = UM_EUNAVAIL;
	if ((user = user_json(db, req->arena, &u, NULL)) == NULL ||
	    (sessions = session_list(db, req->arena, u.id, req->session->id)) == NULL ||
	    (events = events_of(db, req->arena, u.id, EXPORT_EVENTS)) == NULL)
		goto out;
	v = json_pack("{s:O, s:O, s:O}", "user", user, "sessions", sessions, "audit_events",
	    events);
	if (v == NULL) {
		rc = UM_EINTERNAL;
		goto out;
	}
	response_json(resp, 200, v);
	response_header(resp, "Content-Disposition",
	    "attachment; filename=\"usermgr-export.json\"");
	rc = UM_OK;
out:
	json_decref(v);
	json_decref(events);
	json_decref(sessions);
	json_decref(user);
	return rc;
}
