/* page-passkeys: GET,POST /account/passkeys — list, add (after a password re-check), rename, remove. */
#include "config.h"

#include <string.h>

#include <jansson.h>

#include "app.h"
#include "arena.h"
#include "bounds.h"
#include "handlers.h"
#include "kv.h"
#include "login.h"
#include "page.h"
#include "passkey.h"
#include "request.h"
#include "response.h"
#include "runtime.h"
#include "session.h"
#include "user.h"
#include "validate.h"

/* Starting asks for the password (page_recheck_spec), as for two-step verification: a stolen
 * session alone cannot add the thief's passkey. */
enum { S_PASSWORD = PAGE_RECHECK_PASSWORD, S__MAX = PAGE_RECHECK__MAX };

enum { A_CHALLENGE, A_NAME, A_CREDENTIAL, A__MAX };

static const struct field_spec add_spec[A__MAX] = {
	[A_CHALLENGE] = { "challenge_id", NULL, 64, VF_REQUIRED },
	[A_NAME] = { "name", validate_line, PASSKEY_NAME_MAX, VF_REQUIRED },
	[A_CREDENTIAL] = { "credential", NULL, UM_FIELD_MAX, VF_REQUIRED },
};

enum { N_ID, N_NAME, N__MAX };

static const struct field_spec rename_spec[N__MAX] = {
	[N_ID] = { "id", NULL, UM_ID_FIELD_MAX, VF_REQUIRED },
	[N_NAME] = { "name", validate_line, PASSKEY_NAME_MAX, VF_REQUIRED },
};

struct pk_view {
	int         status;
	const char *flash;   /* success message, or NULL */
	const char *error;   /* a message for the summary, or NULL */
	json_t     *options; /* {challenge_id, publicKey} after the re-check, or NULL */
	long long   retry;   /* Retry-After of a 429 */
	int         recent;  /* this session's sign-in is under five minutes old */
};

static enum um_err
show(struct request *req, struct response *resp, struct pk_view *v, struct field_result *rs)
{
	json_t     *list, *errors;
	char       *opts = NULL;
	enum um_err rc;

	if ((rc = passkey_list(&req->ctx, req->session->user_id, &list)) != UM_OK) {
		json_decref(v->options);
		return rc;
	}
	errors = page_errors(req, page_recheck_spec, S__MAX, rs);
	if (v->error != NULL)
		json_array_append_new(errors,
		    json_pack("{s:s, s:s}", "field", "action", "message", v->error));
	if (v->options != NULL) {
		opts = json_dumps(v->options, JSON_COMPACT);
		json_decref(v->options);
	}
	page_render(req, resp, v->status, "account-passkeys",
	    json_pack("{s:s, s:o, s:b, s:o, s:b, s:s?, s:o, s:o, s:{s:b}}", "title", "Passkeys",
	        "passkeys", list, "has_passkeys", json_array_size(list) > 0, "start_fields",
	        v->recent ? json_array() : page_fields(page_recheck_view, S__MAX, rs), "recent",
	        v->recent, "options", opts != NULL ? arena_strdup(req->arena, opts) : NULL,
	        "errors", errors, "flash",
	        v->flash != NULL ?
	            json_pack("[{s:s, s:s}]", "kind", "success", "message", v->flash) :
	            json_array(),
	        "nav", "security", 1));
	free(opts);
	if (v->status == 429)
		response_header(resp, "Retry-After",
		    arena_printf(req->arena, "%lld", v->retry > 0 ? v->retry : 1));
	return UM_OK;
}

/*
 * action=start: the recent check — a sign-in (password or passkey) under five minutes ago, or
 * else the password — then registration options for static/passkey.js.
 */
static enum um_err
do_start(struct request *req, struct pk_view *v, struct field_result *r)
{
	struct validate_ctx    vctx = { 0, NULL };
	struct passkey_options o;
	struct user            u;
	enum um_err            rc;

	if ((rc = user_by_id(req->rt->db, req->arena, req->session->user_id, &u)) != UM_OK)
		return rc;
	if (v->recent)
		goto checked;
	if (validate_form(req->arena, &vctx, page_recheck_spec, S__MAX, &req->form, r) !=
	    UM_OK) {
		v->status = 400;
		return UM_OK;
	}
	switch ((rc = login_recheck(&req->ctx, &u, r[S_PASSWORD].val, r[S_PASSWORD].len,
	             &v->retry))) {
	case UM_OK: break;
	case UM_ECREDS:
		r[S_PASSWORD].error = "is not correct";
		v->status = 403;
		return UM_OK;
	case UM_ERATE:
		r[S_PASSWORD].error =
		    "was wrong too many times: the account is locked for a while.";
		v->status = 429;
		return UM_OK;
	default: return rc;
	}
checked:
	if ((rc = passkey_register_options(&req->ctx, &u, &o)) == UM_ECONFLICT) {
		v->status = 409;
		v->error = "This account holds the most passkeys it may. Remove one first.";
		return UM_OK;
	}
	if (rc != UM_OK)
		return rc;
	v->options = json_pack("{s:s, s:o}", "challenge_id", o.challenge_id, "publicKey",
	    o.public_key);
	return UM_OK;
}

/* action=add: what static/passkey.js sends after navigator.credentials.create. */
static enum um_err
do_add(struct request *req, struct pk_view *v)
{
	struct validate_ctx vctx = { 0, NULL };
	struct field_result r[A__MAX];
	json_t             *cred = NULL;
	const char         *why = NULL;
	long long           id;
	enum um_err         rc;

	if (validate_form(req->arena, &vctx, add_spec, A__MAX, &req->form, r) != UM_OK ||
	    (cred = json_loads(r[A_CREDENTIAL].val, JSON_REJECT_DUPLICATES, NULL)) == NULL) {
		v->status = 400;
		v->error = "The passkey could not be read; add it again.";
		return UM_OK;
	}
	rc = passkey_register(&req->ctx, req->session->user_id, r[A_CHALLENGE].val,
	    r[A_NAME].val, cred, &id, &why);
	json_decref(cred);
	switch (rc) {
	case UM_OK: v->flash = "Passkey added. You can sign in with it now."; return UM_OK;
	case UM_ECHALLENGE:
		v->status = 400;
		v->error = "The request to add a passkey expired; confirm your password again.";
		return UM_OK;
	case UM_EPASSKEY:
		v->status = 400;
		v->error = arena_printf(req->arena,
		    "The passkey was not accepted (%s check failed).",
		    why != NULL ? why : "format");
		return UM_OK;
	case UM_ECONFLICT:
		v->status = 409;
		v->error = "This passkey is registered already, or the account holds the most "
		           "it may.";
		return UM_OK;
	default: return rc;
	}
}

/* action=rename and action=remove: 404 for a passkey that is not the user's. */
static enum um_err
do_change(struct request *req, struct pk_view *v, int remove)
{
	struct validate_ctx vctx = { 0, NULL };
	struct field_result r[N__MAX];
	long long           id = validate_id(kv_get(&req->form, "id"));
	enum um_err         rc;

	if (!remove &&
	    validate_form(req->arena, &vctx, rename_spec, N__MAX, &req->form, r) != UM_OK) {
		v->status = 400;
		v->error = "A passkey's name is 1 to 64 characters of one line.";
		return UM_OK;
	}
	rc = id <= 0 ? UM_ENOTFOUND :
	    remove   ? passkey_remove(&req->ctx, req->session->user_id, id) :
	               passkey_rename(&req->ctx, req->session->user_id, id, r[N_NAME].val);
	if (rc == UM_ENOTFOUND) {
		v->status = 404;
		v->error = "No such passkey.";
		return UM_OK;
	}
	if (rc == UM_OK)
		v->flash = remove ? "Passkey removed." : "Passkey renamed.";
	return rc;
}

/*
 * GET /account/passkeys — 200 the list and the add form.  POST action=start — 200 with
 * registration options for static/passkey.js; the password is asked only when this
 * session's sign-in is over five minutes old: then 400 none; 403 wrong (counted towards the
 * lockout); 429 locked.  409 at the maximum.  action=add — 200 added; 400 refused or
 * expired; 409 registered already.  action=rename (id, name) — 200; 400; 404.
 * action=remove (id) — 200; 404.  400 unknown action; 403 CSRF; 503.
 */
enum um_err
page_account_passkeys(struct request *req, struct response *resp)
{
	struct field_result rs[S__MAX];
	struct pk_view      v;
	const char         *action;
	enum um_err         rc = UM_OK;

	memset(&v, 0, sizeof(v));
	memset(rs, 0, sizeof(rs));
	v.status = 200;
	if ((rc = passkey_recent_login(&req->ctx, req->session->user_id, 0, req->session->hash,
	         &v.recent)) != UM_OK)
		return rc;
	if (req->method == HTTP_POST) {
		action = kv_get(&req->form, "action");
		if (action != NULL && strcmp(action, "start") == 0)
			rc = do_start(req, &v, rs);
		else if (action != NULL && strcmp(action, "add") == 0)
			rc = do_add(req, &v);
		else if (action != NULL && strcmp(action, "rename") == 0)
			rc = do_change(req, &v, 0);
		else if (action != NULL && strcmp(action, "remove") == 0)
			rc = do_change(req, &v, 1);
		else {
			v.status = 400;
			v.error = "Unknown action.";
		}
		if (rc != UM_OK) {
			json_decref(v.options);
			return rc;
		}
	}
	return show(req, resp, &v, rs);
}
