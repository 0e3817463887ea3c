/* page-register: GET/POST /register — sign-up with the verification mail queued in the same transaction. */
#include "config.h"

#include <jansson.h>

#include "account.h"
#include "app.h"
#include "bounds.h"
#include "breach.h"
#include "handlers.h"
#include "log.h"
#include "page.h"
#include "problem.h"
#include "request.h"
#include "response.h"
#include "runtime.h"
#include "validate.h"

enum { F_USERNAME, F_EMAIL, F_PASSWORD, F_CONFIRM, F__MAX };

static const struct field_spec spec[F__MAX] = {
	[F_USERNAME] = { "username", validate_username, 0, VF_REQUIRED },
	[F_EMAIL] = { "email", validate_email, 0, VF_REQUIRED },
	[F_PASSWORD] = { "password", validate_password, UM_PASSWORD_FIELD_MAX,
	    VF_REQUIRED | VF_SECRET },
	[F_CONFIRM] = { "password_confirm", NULL, UM_PASSWORD_FIELD_MAX,
	    VF_REQUIRED | VF_SECRET },
};

static const struct page_field view[F__MAX] = {
	[F_USERNAME] = { "username", "Username", "text", "username",
	    "3–32 characters: letters, digits, dot, underscore or hyphen.", 32, 1, 0 },
	[F_EMAIL] = { "email", "E-mail address", "email", "email",
	    "We send a link to confirm it.", 254, 1, 0 },
	[F_PASSWORD] = { "password", "Password", "password", "new-password",
	    "A long passphrase is best; common passwords are refused.", 128, 1, 0 },
	[F_CONFIRM] = { "password_confirm", "Repeat the password", "password", "new-password",
	    NULL, 128, 1, 0 },
};

static void
show_form(struct request *req, struct response *resp, int status, struct field_result *r)
{
	json_t *errors = r != NULL ? validate_errors(req->arena, spec, F__MAX, r) : NULL;

	page_render(req, resp, status, "register",
	    json_pack("{s:s, s:o, s:o, s:{s:b}}", "title", "Create your account", "fields",
	        page_fields(view, F__MAX, r), "errors",
	        errors != NULL ? json_incref(errors) : json_array(), "nav", "register", 1));
}

/* The "check your inbox" page: the same whether the address was free or (with enumeration
 * prevention) taken, so the page tells nothing about other people's accounts. */
static void
show_done(struct request *req, struct response *resp, const char *email)
{
	page_render(req, resp, 200, "register-done",
	    json_pack("{s:s, s:s}", "title", "Check your inbox", "email", email));
}

/* GET /register — 200.  POST — 200 (check your mail), 400 invalid input, 409 taken,
 * 403 CSRF, 429 per-IP limit, 503 database down. */
enum um_err
page_register(struct request *req, struct response *resp)
{
	struct validate_ctx vctx = { req->rt->conf.password_min_length, NULL };
	struct field_result r[F__MAX];
	struct signup       su;
	int                 invalid;
	enum um_err         rc;

	if (req->method != HTTP_POST) {
		show_form(req, resp, 200, NULL);
		return UM_OK;
	}
	invalid = validate_form(req->arena, &vctx, spec, F__MAX, &req->form, r) != UM_OK;
	invalid |= validate_same(r, F_CONFIRM, F_PASSWORD, "does not match the password") !=
	    UM_OK;
	if (r[F_USERNAME].val != NULL)
		invalid |= validate_password_username(r, F_PASSWORD, r[F_USERNAME].val) !=
		    UM_OK;
	/* Last, and only for an otherwise valid form: it asks a third party. */
	if (!invalid)
		invalid = breach_refuse(req->arena, &req->rt->conf, r, F_PASSWORD) != UM_OK;
	if (invalid) {
		show_form(req, resp, 400, r);
		return UM_OK;
	}
	rc = account_register(&req->ctx, r[F_USERNAME].val, r[F_EMAIL].val, r[F_PASSWORD].val,
	    r[F_PASSWORD].len, &su);
	if (rc == UM_ECONFLICT) {
		if (su.username_taken)
			r[F_USERNAME].error = "is already taken";
		/* Neither named: a concurrent sign-up took one of them twice over. */
		if (su.email_taken ||
		    (!su.username_taken && !req->rt->conf.prevent_enumeration))
			r[F_EMAIL].error =
			    "is already registered — log in or reset your password";
		show_form(req, resp, 409, r);
		return UM_OK;
	}
	if (rc != UM_OK)
		return rc;
	/* The same page for a new account and (enumeration prevention) a taken address. */
	if (su.id != 0)
		log_info("registered %s", r[F_USERNAME].val);
	show_done(req, resp, r[F_EMAIL].val);
	return UM_OK;
}
