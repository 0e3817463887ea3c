/* page-reset: GET/POST /forgot-password and GET/POST /reset-password — a link that works once. */
#include "config.h"

#include <string.h>

#include <jansson.h>

#include "account.h"
#include "app.h"
#include "audit.h"
#include "bounds.h"
#include "breach.h"
#include "browser.h"
#include "handlers.h"
#include "kv.h"
#include "page.h"
#include "password.h"
#include "problem.h"
#include "request.h"
#include "response.h"
#include "runtime.h"
#include "session.h"
#include "user.h"
#include "validate.h"

#define FORGOT_TITLE "Reset your password"

/* GET /forgot-password — 200.  POST — 200 always for a well-formed address; 400
 * malformed; 403 CSRF; 429 per-IP limit; 503. */
enum um_err
page_forgot_password(struct request *req, struct response *resp)
{
	const char *email;
	enum um_err rc;

	if (req->method != HTTP_POST) {
		page_email_form(req, resp, 200, "forgot", FORGOT_TITLE, 0, NULL);
		return UM_OK;
	}
	if ((email = page_email_field(req, resp, "forgot", FORGOT_TITLE)) == NULL)
		return UM_OK;
	if ((rc = account_request_mail(&req->ctx, MAIL_REQ_RESET, email)) != UM_OK)
		return rc;
	page_email_form(req, resp, 200, "forgot", FORGOT_TITLE, 1, NULL);
	return UM_OK;
}

enum { F_PASSWORD, F_CONFIRM, F__MAX };

static const struct field_spec spec[F__MAX] = {
	[F_PASSWORD] = { "password", validate_password, UM_PASSWORD_FIELD_MAX,
	    VF_REQUIRED | VF_SECRET },
	[F_CONFIRM] = { "password_confirm", NULL, UM_PASSWORD_FIELD_MAX,
	    VF_REQUIRED | VF_SECRET },
};

static const struct page_field view[F__MAX] = {
	[F_PASSWORD] = { "password", "New password", "password", "new-password",
	    "A long passphrase is best; common passwords are refused.", 128, 1, 0 },
	[F_CONFIRM] = { "password_confirm", "Repeat the new password", "password",
	    "new-password", NULL, 128, 1, 0 },
};

struct reset_view {
	int         status;
	enum um_err token_rc; /* UM_OK, UM_ETOKEN, UM_EEXPIRED */
	int         done;
	const char *token;
};

static void
show(struct request *req, struct response *resp, const struct reset_view *v,
    struct field_result *r)
{
	json_t *errors = r != NULL ? validate_errors(req->arena, spec, F__MAX, r) : NULL;

	page_render(req, resp, v->status, "reset",
	    json_pack("{s:s, s:s?, s:o, s:o, s:b, s:b,"
	              " s:b, s:s?}",
	        "title", v->done ? "Password changed" : "Choose a new password", "token",
	        v->token, "fields", page_fields(view, F__MAX, r), "errors",
	        errors != NULL ? json_incref(errors) : json_array(), "invalid",
	        v->token_rc == UM_ETOKEN, "expired", v->token_rc == UM_EEXPIRED, "done",
	        v->done, "code", v->token_rc != UM_OK ? um_errcode(v->token_rc) : NULL));
}

/* GET /reset-password?token= — 200 form; 400 invalid or expired link.  POST — 200 done;
 * 400 invalid input or link; 403 CSRF; 503.  The GET consumes nothing: mail scanners
 * fetch links (API.md §5). */
enum um_err
page_reset_password(struct request *req, struct response *resp)
{
	struct validate_ctx vctx = { req->rt->conf.password_min_length, NULL };
	struct field_result r[F__MAX];
	struct reset_view   v = { 200, UM_OK, 0, NULL };
	struct user         u;
	char                hash[PASSWORD_HASH_MAX];
	long long           uid;
	int                 invalid;
	enum um_err         rc;

	/* The form carries the token as a hidden field; a POST to the link's own URL (API.md §3
	 * `POST /reset-password?token=`) carries it in the query. */
	v.token = req->method == HTTP_POST ? kv_get(&req->form, "token") : NULL;
	if (v.token == NULL)
		v.token = kv_get(&req->query_params, "token");
	if ((rc = account_check_reset(&req->ctx, v.token, &u)) != UM_OK) {
		if (rc != UM_ETOKEN && rc != UM_EEXPIRED)
			return rc;
		v.status = 400;
		v.token_rc = rc;
		v.token = NULL;
		show(req, resp, &v, NULL);
		return UM_OK;
	}
	if (req->method != HTTP_POST) {
		show(req, resp, &v, NULL);
		return UM_OK;
	}
	vctx.username = u.username;
	invalid = validate_form(req->arena, &vctx, spec, F__MAX, &req->form, r) != UM_OK;
	invalid |= validate_same(r, F_CONFIRM, F_PASSWORD, "does not match the password") !=
	    UM_OK;
	/* Last, and only for an otherwise valid form: it asks a third party. */
	if (!invalid)
		invalid = breach_refuse(req->arena, &req->rt->conf, r, F_PASSWORD) != UM_OK;
	if (invalid) {
		v.status = 400;
		show(req, resp, &v, r);
		return UM_OK;
	}
	/* Argon2id before the transaction; the link is checked again inside it. */
	if ((rc = password_hash(&req->rt->conf, r[F_PASSWORD].val, r[F_PASSWORD].len, hash)) !=
	    UM_OK)
		return rc;
	rc = account_reset_password(&req->ctx, v.token, hash, &uid);
	explicit_bzero(hash, sizeof(hash));
	if (rc == UM_ETOKEN || rc == UM_EEXPIRED) {
		/* Used meanwhile by a concurrent request with the same link. */
		v.status = 400;
		v.token_rc = rc;
		v.token = NULL;
		show(req, resp, &v, NULL);
		return UM_OK;
	}
	if (rc != UM_OK)
		return rc;
	/* Never logged in by itself (API.md §5); this browser's session ended with the rest. */
	if (req->session != NULL && req->session->user_id == u.id)
		(void)browser_session_end(req, resp);
	v.done = 1;
	v.token = NULL;
	show(req, resp, &v, NULL);
	return UM_OK;
}
