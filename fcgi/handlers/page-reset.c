/* page-reset: GET/POST /forgot-password and GET/POST /reset-password — a link that works once. */
#include "config.h"

#include <string.h>

#include <jansson.h>

#include "app.h"
#include "audit.h"
#include "db.h"
#include "handlers.h"
#include "kv.h"
#include "link.h"
#include "notify.h"
#include "page.h"
#include "password.h"
#include "problem.h"
#include "request.h"
#include "response.h"
#include "session.h"
#include "user.h"
#include "validate.h"

#define FORGOT_TITLE	"Reset your password"

/* Mails a reset link bound to the current password hash, if an active account has it. */
static enum um_err
send_reset(struct request *req, const char *email)
{
	struct db	*db = req->app->db;
	struct user	 u;
	char		*tok;
	enum um_err	 rc;

	if ((rc = user_by_email(db, req->arena, email, &u)) != UM_OK)
		return rc == UM_ENOTFOUND ? UM_OK : rc;
	if (strcmp(u.status, "active") != 0)
		return UM_OK;
	/* A locked-out account may still reset (API.md §5): no lock check here. */
	if ((tok = link_token(req, LINK_RESET_PASSWORD, u.id, u.email,
	    user_password_fingerprint(req->arena, &u))) == NULL)
		return UM_EINTERNAL;
	if ((rc = db_begin(db)) != UM_OK)
		return rc;
	if ((rc = notify_queue(req, "reset", u.email, u.display_name != NULL ? u.display_name :
	    u.username, json_pack("{s:s, s:s, s:i}", "username", u.username, "url",
	    link_url(req, LINK_RESET_PASSWORD, tok), "minutes", 60))) != UM_OK ||
	    (rc = audit_log(db, req->arena, AUDIT_RESET_REQUESTED, u.id, u.id, req->remote_addr,
	    NULL)) != UM_OK ||
	    (rc = db_commit(db)) != UM_OK)
		db_rollback(db);
	return rc;
}

/* GET /forgot-password — 200.  POST — 200 always for a well-formed address; 400
 * malformed; 403 CSRF; 429 per-IP limit; 503. */
void
page_forgot_password(struct request *req, struct response *resp)
{
	const char	*email;
	enum um_err	 rc;

	if (req->method != HTTP_POST) {
		page_email_form(req, resp, 200, "forgot", FORGOT_TITLE, 0, NULL);
		return;
	}
	if ((email = page_email_field(req, resp, "forgot", FORGOT_TITLE)) == NULL)
		return;
	if ((rc = send_reset(req, email)) != UM_OK) {
		problem_send(req, resp, rc, 0, NULL, NULL);
		return;
	}
	page_email_form(req, resp, 200, "forgot", FORGOT_TITLE, 1, NULL);
}

enum { F_PASSWORD, F_CONFIRM, F__MAX };

static const struct field_spec spec[F__MAX] = {
	[F_PASSWORD] = { "password", validate_password, 1024, VF_REQUIRED | VF_SECRET },
	[F_CONFIRM] = { "password_confirm", NULL, 1024, VF_REQUIRED | VF_SECRET },
};

static const struct page_field view[F__MAX] = {
	[F_PASSWORD] = { "password", "New password", "password", "new-password",
	    "A long passphrase is best; common passwords are refused.", 128, 1, 0 },
	[F_CONFIRM] = { "password_confirm", "Repeat the new password", "password",
	    "new-password", NULL, 128, 1, 0 },
};

struct reset_view {
	int		 status;
	enum um_err	 token_rc;	/* UM_OK, UM_ETOKEN, UM_EEXPIRED */
	int		 done;
	const char	*token;
};

static void
show(struct request *req, struct response *resp, const struct reset_view *v,
    struct field_result *r)
{
	json_t	*errors = r != NULL ? validate_errors(req->arena, spec, F__MAX, r) : NULL;

	page_render(req, resp, v->status, "reset", json_pack("{s:s, s:s?, s:o, s:o, s:b, s:b,"
	    " s:b, s:s?}", "title", v->done ? "Password changed" : "Choose a new password",
	    "token", v->token, "fields", page_fields(view, F__MAX, r),
	    "errors", errors != NULL ? json_incref(errors) : json_array(),
	    "invalid", v->token_rc == UM_ETOKEN, "expired", v->token_rc == UM_EEXPIRED,
	    "done", v->done, "code", v->token_rc != UM_OK ? um_errcode(v->token_rc) : NULL));
}

/*
 * Checks the token and that it still matches the password it was made for, so a used
 * link (the password changed) is dead.  Fills *u on success.
 */
static enum um_err
check_token(struct request *req, const char *token, struct user *u)
{
	const char	*email, *bind;
	long long	 id;
	enum um_err	 rc;

	if ((rc = link_verify(req, LINK_RESET_PASSWORD, token, &id, &email, &bind)) != UM_OK)
		return rc;
	if ((rc = user_by_id(req->app->db, req->arena, id, u)) != UM_OK)
		return rc == UM_ENOTFOUND ? UM_ETOKEN : rc;
	if (strcmp(user_password_fingerprint(req->arena, u), bind) != 0 ||
	    strcmp(u->email, email) != 0 || strcmp(u->status, "active") != 0)
		return UM_ETOKEN;
	return UM_OK;
}

/* Sets the password, ends every session and token, mails a notice: one transaction. */
static enum um_err
apply(struct request *req, const struct user *u, const char *hash)
{
	struct db	*db = req->app->db;
	enum um_err	 rc;

	if ((rc = db_begin(db)) != UM_OK)
		return rc;
	if ((rc = user_set_password(db, req->arena, u->id, hash)) != UM_OK ||
	    (rc = session_end_all(db, req->arena, u->id, NULL)) != UM_OK ||
	    (rc = notify_queue(req, "password-changed", u->email, u->display_name != NULL ?
	    u->display_name : u->username, json_pack("{s:s}", "username", u->username))) !=
	    UM_OK ||
	    (rc = audit_log(db, req->arena, AUDIT_PASSWORD_RESET, u->id, u->id,
	    req->remote_addr, NULL)) != UM_OK ||
	    (rc = db_commit(db)) != UM_OK)
		db_rollback(db);
	return rc;
}

/* GET /reset-password?token= — 200 form; 400 invalid or expired link.  POST — 200 done;
 * 400 invalid input or link; 403 CSRF; 503.  The GET consumes nothing: mail scanners
 * fetch links (API.md §5). */
void
page_reset_password(struct request *req, struct response *resp)
{
	struct validate_ctx	 vctx = { req->app->conf.password_min_length, NULL };
	struct field_result	 r[F__MAX];
	struct reset_view	 v = { 200, UM_OK, 0, NULL };
	struct user		 u;
	char			 hash[PASSWORD_HASH_MAX];
	int			 invalid;
	enum um_err		 rc;

	v.token = kv_get(req->method == HTTP_POST ? &req->form : &req->query_params, "token");
	if ((rc = check_token(req, v.token, &u)) != UM_OK) {
		if (rc != UM_ETOKEN && rc != UM_EEXPIRED) {
			problem_send(req, resp, rc, 0, NULL, NULL);
			return;
		}
		v.status = 400;
		v.token_rc = rc;
		v.token = NULL;
		show(req, resp, &v, NULL);
		return;
	}
	if (req->method != HTTP_POST) {
		show(req, resp, &v, NULL);
		return;
	}
	vctx.username = u.username;
	invalid = validate_form(req->arena, &vctx, spec, F__MAX, &req->form, r) != UM_OK;
	invalid |= validate_same(r, F_CONFIRM, F_PASSWORD, "does not match the password") !=
	    UM_OK;
	if (invalid) {
		v.status = 400;
		show(req, resp, &v, r);
		return;
	}
	if ((rc = password_hash(&req->app->conf, r[F_PASSWORD].val, r[F_PASSWORD].len, hash)) !=
	    UM_OK || (rc = apply(req, &u, hash)) != UM_OK) {
		problem_send(req, resp, rc, 0, NULL, NULL);
		return;
	}
	/* Never logged in by itself (API.md §5); this browser's session ended with the rest. */
	if (req->session != NULL && req->session->user_id == u.id)
		(void)session_end(req, resp);
	v.done = 1;
	v.token = NULL;
	show(req, resp, &v, NULL);
}
