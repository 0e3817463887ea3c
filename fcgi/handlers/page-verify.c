/* page-verify: GET /verify-email (and /verify_email) and GET/POST /verify-email/resend. */
#include "config.h"

#include <jansson.h>

#include "account.h"
#include "app.h"
#include "handlers.h"
#include "kv.h"
#include "page.h"
#include "problem.h"
#include "request.h"
#include "response.h"
#include "validate.h"

static void
show_result(struct request *req, struct response *resp, enum um_err rc)
{
	/* API.md §7: invalid 400 invalid_token, expired 400 token_expired, each its own page. */
	page_render(req, resp, rc == UM_OK ? 200 : 400, "verify-result",
	    json_pack("{s:s, s:b, s:b, s:b, s:s}", "title",
	        rc == UM_OK           ? "Address verified" :
	            rc == UM_EEXPIRED ? "Link expired" :
	                                "Link not valid",
	        "ok", rc == UM_OK, "expired", rc == UM_EEXPIRED, "invalid",
	        rc != UM_OK && rc != UM_EEXPIRED, "code",
	        rc == UM_OK ? "ok" : um_errcode(rc == UM_EEXPIRED ? UM_EEXPIRED : UM_ETOKEN)));
}

/* GET /verify-email?token= — 200 verified (again: harmless); 400 invalid or expired; 503.
 * Verifies at once on GET (API.md §5): the link only marks the address the user owns. */
enum um_err
page_verify_email(struct request *req, struct response *resp)
{
	long long   id;
	enum um_err rc;

	rc = account_verify_email(&req->ctx, kv_get(&req->query_params, "token"), &id);
	if (rc != UM_OK && rc != UM_ETOKEN && rc != UM_EEXPIRED)
		return rc;
	show_result(req, resp, rc);
	return UM_OK;
}

enum { F_EMAIL, F__MAX };

static const struct field_spec spec[F__MAX] = {
	[F_EMAIL] = { "email", validate_email, 0, VF_REQUIRED },
};

static const struct page_field view[F__MAX] = {
	[F_EMAIL] = { "email", "E-mail address", "email", "email", NULL, 254, 1, 0 },
};

/*
 * Shared by resend and forgot-password: both show one e-mail field and answer the same
 * whether or not an account uses the address.
 */
void
page_email_form(struct request *req, struct response *resp, int status, const char *tmpl,
    const char *title, int sent, struct field_result *r)
{
	json_t *errors = r != NULL ? validate_errors(req->arena, spec, F__MAX, r) : NULL;

	page_render(req, resp, status, tmpl,
	    json_pack("{s:s, s:o, s:o, s:b}", "title", title, "fields",
	        page_fields(view, F__MAX, r), "errors",
	        errors != NULL ? json_incref(errors) : json_array(), "sent", sent));
}

/* Validates the one e-mail field of resend/forgot; 400 re-render on failure, else 0. */
const char *
page_email_field(struct request *req, struct response *resp, const char *tmpl,
    const char *title)
{
	struct validate_ctx vctx = { 0, NULL };
	struct field_result r[F__MAX];

	if (validate_form(req->arena, &vctx, spec, F__MAX, &req->form, r) != UM_OK) {
		page_email_form(req, resp, 400, tmpl, title, 0, r);
		return NULL;
	}
	return r[F_EMAIL].val;
}

#define RESEND_TITLE "Resend verification e-mail"

/* GET /verify-email/resend — 200.  POST — 200 always for a well-formed address (sent or
 * not); 400 malformed address; 403 CSRF; 429 per-IP limit; 503. */
enum um_err
page_verify_resend(struct request *req, struct response *resp)
{
	const char *email;
	enum um_err rc;

	if (req->method != HTTP_POST) {
		page_email_form(req, resp, 200, "resend", RESEND_TITLE, 0, NULL);
		return UM_OK;
	}
	if ((email = page_email_field(req, resp, "resend", RESEND_TITLE)) == NULL)
		return UM_OK;
	if ((rc = account_request_mail(&req->ctx, MAIL_REQ_VERIFY, email)) != UM_OK)
		return rc;
	page_email_form(req, resp, 200, "resend", RESEND_TITLE, 1, NULL);
	return UM_OK;
}
