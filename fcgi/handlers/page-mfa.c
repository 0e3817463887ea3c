/* page-mfa: GET,POST /login/mfa (the second login step) and GET,POST /account/mfa (turn TOTP on or off). */
#include "config.h"

#include <stddef.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <jansson.h>

#include "app.h"
#include "arena.h"
#include "audit.h"
#include "bounds.h"
#include "browser.h"
#include "device.h"
#include "handlers.h"
#include "kv.h"
#include "login.h"
#include "mfa.h"
#include "page.h"
#include "password.h"
#include "problem.h"
#include "qr.h"
#include "request.h"
#include "response.h"
#include "runtime.h"
#include "session.h"
#include "totp.h"
#include "user.h"
#include "validate.h"

#define M_WRONG_CODE     "is not correct"
#define M_WRONG_PASSWORD "is not correct"
#define M_LOCKED \
	"was wrong too many times: the account is locked for a while. Try again later or " \
	"reset your password."
#define CODE_HINT \
	"The 6-digit code your authenticator app shows, or one of your recovery codes."

/* --- /login/mfa -------------------------------------------------------------------------- */

enum { L_CODE, L__MAX };

/* The code is not echoed back: a near miss of a one-time code helps only a guesser. */
static const struct field_spec login_spec[L__MAX] = {
	[L_CODE] = { "code", NULL, MFA_CODE_MAX, VF_REQUIRED | VF_SECRET },
};

static const struct page_field login_view[L__MAX] = {
	[L_CODE] = { "code", "Verification code", "text", "one-time-code", CODE_HINT,
	    MFA_CODE_MAX, 1, 0 },
};

static void
show_login(struct request *req, struct response *resp, int status, const char *next,
    struct field_result *r, int locked)
{
	page_render(req, resp, status, "login-mfa",
	    json_pack("{s:s, s:o, s:o, s:s?, s:b}", "title", "Two-step verification", "fields",
	        page_fields(login_view, L__MAX, r), "errors",
	        page_errors(req, login_spec, L__MAX, r), "next", next, "locked", locked));
	/* Signing in for an OpenID Connect client ends at its redirect URI (oauth2.c). */
	response_csp_form_action(resp, req->arena, oauth2_next_origin(req, next));
}

/*
 * GET /login/mfa — 200, or 303 to /login without a session waiting for its second step.
 * POST — 303 to next or /profile with a new session id (API.md §7); 400 missing or wrong
 * code (counted towards the lockout, like a wrong password); 429 locked out; 403 CSRF; 503.
 */
enum um_err
page_login_mfa(struct request *req, struct response *resp)
{
	struct validate_ctx vctx = { 0, NULL };
	struct field_result r[L__MAX];
	struct device       dev = { .cookie = browser_device_cookie(req) };
	struct user         u;
	const char         *next;
	long long           retry;
	enum um_err         rc;

	if (req->session == NULL || !req->session->mfa_pending) {
		response_redirect(resp, 303, "/login");
		return UM_OK;
	}
	if (req->method != HTTP_POST) {
		show_login(req, resp, 200, page_safe_next(kv_get(&req->query_params, "next")),
		    NULL, 0);
		return UM_OK;
	}
	next = page_safe_next(kv_get(&req->form, "next"));
	if (validate_form(req->arena, &vctx, login_spec, L__MAX, &req->form, r) != UM_OK) {
		show_login(req, resp, 400, next, r, 0);
		return UM_OK;
	}
	/* The device judged at the password step is judged again: this is another request. */
	if ((rc = user_by_id(req->rt->db, req->arena, req->session->user_id, &u)) != UM_OK ||
	    (rc = device_judge(&req->ctx, u.id, &dev)) != UM_OK)
		return rc;
	switch ((rc = mfa_login(&req->ctx, &u, r[L_CODE].val, &dev, &retry))) {
	case UM_OK: break;
	case UM_EMFA:
		r[L_CODE].error = M_WRONG_CODE;
		show_login(req, resp, 400, next, r, 0);
		return UM_OK;
	case UM_ERATE:
		show_login(req, resp, 429, next, NULL, 1);
		response_header(resp, "Retry-After",
		    arena_printf(req->arena, "%lld", retry > 0 ? retry : 1));
		return UM_OK;
	default: return rc;
	}
	/* The login is complete only now: a fresh id for the full session, then the audit. */
	if ((rc = browser_session_start(req, resp, u.id, req->session->remember, 0)) != UM_OK ||
	    (rc = login_succeeded(&req->ctx, &u, &dev, "browser")) != UM_OK)
		return rc;
	browser_device_remember(req, resp, u.id);
	response_redirect(resp, 303, next != NULL ? next : "/profile");
	return UM_OK;
}

/* --- /account/mfa ------------------------------------------------------------------------ */

enum { C_CODE, C__MAX };

static const struct field_spec confirm_spec[C__MAX] = {
	[C_CODE] = { "code", NULL, MFA_CODE_MAX, VF_REQUIRED | VF_SECRET },
};

static const struct page_field confirm_view[C__MAX] = {
	[C_CODE] = { "code", "Code from the app", "text", "one-time-code",
	    "The 6-digit code the app shows now.", MFA_CODE_MAX, 1, 0 },
};

/* Starting the setup needs the password (page_recheck_spec): a stolen session alone cannot
 * enrol the thief's authenticator and lock the owner out (issue 10, item 9). */
enum { S_PASSWORD = PAGE_RECHECK_PASSWORD, S__MAX = PAGE_RECHECK__MAX };

enum { D_PASSWORD, D_CODE, D__MAX };

static const struct field_spec disable_spec[D__MAX] = {
	[D_PASSWORD] = PAGE_RECHECK_SPEC,
	[D_CODE] = { "code", NULL, MFA_CODE_MAX, VF_REQUIRED | VF_SECRET },
};

static const struct page_field disable_view[D__MAX] = {
	[D_PASSWORD] = PAGE_RECHECK_VIEW,
	[D_CODE] = { "code", "Verification code", "text", "one-time-code", CODE_HINT,
	    MFA_CODE_MAX, 1, 0 },
};

/*
 * The otpauth:// URI as a QR code image: an SVG made here, as a data: URI (the CSP allows
 * img-src data:, and no markup of ours is put into the page unescaped).  NULL on failure.
 */
static const char *
qr_data_uri(struct request *req, const char *uri)
{
	static const char prefix[] = "data:image/svg+xml;base64,";
	const char       *svg;
	char             *out;
	size_t            n;

	if (uri == NULL || (svg = qr_svg(req->arena, uri)) == NULL)
		return NULL;
	n = strlen(svg);
	out = arena_alloc(req->arena, sizeof(prefix) + (n + 2) / 3 * 4);
	memcpy(out, prefix, sizeof(prefix) - 1);
	/* EVP_EncodeBlock: standard base64 (RFC 2045, as data: URIs use), NUL-terminated. */
	(void)EVP_EncodeBlock((unsigned char *)out + sizeof(prefix) - 1,
	    (const unsigned char *)svg, (int)n);
	return out;
}

struct mfa_view {
	int            status;
	enum mfa_state state;
	const char    *secret; /* base32, while pending */
	const char    *username;
	json_t        *codes; /* recovery codes just made, shown once; or NULL */
	const char    *flash; /* success message, or NULL */
	const char    *error; /* a message not about one field, or NULL */
	long long      retry; /* Retry-After of a 429 */
};

static void
show_mfa(struct request *req, struct response *resp, struct mfa_view *v,
    struct field_result *rs, struct field_result *rc, struct field_result *rd)
{
	json_t     *errors;
	const char *uri;

	uri = v->secret != NULL ? totp_uri(req->arena, MFA_ISSUER, v->username, v->secret) :
	                          NULL;
	/* Only the form that was sent has errors to list; the page shows one form at a time. */
	if (v->state == MFA_PENDING)
		errors = page_errors(req, confirm_spec, C__MAX, rc);
	else if (v->state == MFA_ON)
		errors = page_errors(req, disable_spec, D__MAX, rd);
	else
		errors = page_errors(req, page_recheck_spec, S__MAX, rs);
	if (v->error != NULL)
		json_array_append_new(errors,
		    json_pack("{s:s, s:s}", "field", "action", "message", v->error));
	page_render(req, resp, v->status, "account-mfa",
	    json_pack("{s:s, s:b, s:b, s:b, s:s?,"
	              " s:s?, s:s?, s:o, s:b, s:o, s:o, s:o, s:o, s:o}",
	        "title", "Two-step verification", "off", v->state == MFA_OFF, "pending",
	        v->state == MFA_PENDING, "on", v->state == MFA_ON, "secret", v->secret,
	        "otpauth_uri", uri, "qr_image", qr_data_uri(req, uri), "recovery_codes",
	        v->codes != NULL ? v->codes : json_array(), "has_recovery_codes",
	        v->codes != NULL, "start_fields", page_fields(page_recheck_view, S__MAX, rs),
	        "confirm_fields", page_fields(confirm_view, C__MAX, rc), "disable_fields",
	        page_fields(disable_view, D__MAX, rd), "errors", errors, "flash",
	        v->flash != NULL ?
	            json_pack("[{s:s, s:s}]", "kind", "success", "message", v->flash) :
	            json_array()));
	if (v->status == 429)
		response_header(resp, "Retry-After",
		    arena_printf(req->arena, "%lld", v->retry > 0 ? v->retry : 1));
}

/*
 * The password re-check of starting and turning off (login_recheck): returns 0 when r
 * holds the password; otherwise sets v's status (403 wrong, 429 locked) and the message
 * beside the field and returns 1, or returns -1 with *err set when the database failed.
 */
static int
recheck(struct request *req, struct mfa_view *v, const struct user *u, struct field_result *r,
    enum um_err *err)
{
	enum um_err rc;

	switch ((rc = login_recheck(&req->ctx, u, r->val, r->len, &v->retry))) {
	case UM_OK: return 0;
	case UM_ECREDS:
		r->error = M_WRONG_PASSWORD;
		v->status = 403;
		return 1;
	case UM_ERATE:
		r->error = M_LOCKED;
		v->status = 429;
		return 1;
	default: *err = rc; return -1;
	}
}

/* action=start: with the password, a new pending secret, shown with its otpauth:// URI. */
static enum um_err
do_start(struct request *req, struct mfa_view *v, struct field_result *r, char *b32)
{
	struct validate_ctx vctx = { 0, NULL };
	struct user         u;
	int                 k;
	enum um_err         rc;

	if (v->state == MFA_ON) {
		v->status = 409;
		v->error = "Two-step verification is on already.";
		return UM_OK;
	}
	/* A restarted setup (pending) asks again, on the form of the off state. */
	v->state = MFA_OFF;
	v->secret = NULL;
	if (validate_form(req->arena, &vctx, page_recheck_spec, S__MAX, &req->form, r) !=
	    UM_OK) {
		v->status = 400;
		return UM_OK;
	}
	if ((rc = user_by_id(req->rt->db, req->arena, req->session->user_id, &u)) != UM_OK)
		return rc;
	if ((k = recheck(req, v, &u, &r[S_PASSWORD], &rc)) != 0)
		return k < 0 ? rc : UM_OK;
	if ((rc = mfa_start(&req->ctx, req->session->user_id, b32)) == UM_ECONFLICT) {
		v->state = MFA_ON;
		v->status = 409;
		v->error = "Two-step verification is on already.";
		return UM_OK;
	}
	if (rc != UM_OK)
		return rc;
	v->state = MFA_PENDING;
	v->secret = b32;
	return UM_OK;
}

/* action=confirm: the first code turns it on and makes the recovery codes. */
static enum um_err
do_confirm(struct request *req, struct mfa_view *v, struct field_result *r)
{
	struct validate_ctx vctx = { 0, NULL };
	char                codes[MFA_RECOVERY_CODES][MFA_RECOVERY_LEN + 1];
	size_t              i;
	enum um_err         rc;

	if (v->state != MFA_PENDING) {
		v->status = v->state == MFA_ON ? 409 : 400;
		v->error = v->state == MFA_ON ? "Two-step verification is on already." :
		                                "Start the setup first.";
		return UM_OK;
	}
	if (validate_form(req->arena, &vctx, confirm_spec, C__MAX, &req->form, r) != UM_OK) {
		v->status = 400;
		return UM_OK;
	}
	rc = mfa_confirm(&req->ctx, req->session->user_id, r[C_CODE].val, req->session->hash,
	    codes);
	if (rc == UM_ECREDS) {
		r[C_CODE].error = M_WRONG_CODE;
		v->status = 400;
		return UM_OK;
	}
	if (rc != UM_OK)
		return rc;
	v->state = MFA_ON;
	v->secret = NULL;
	v->codes = json_array();
	for (i = 0; i < MFA_RECOVERY_CODES; i++)
		json_array_append_new(v->codes, json_string(codes[i]));
	OPENSSL_cleanse(codes, sizeof(codes));
	v->flash = "Two-step verification is on. Save your recovery codes now.";
	return UM_OK;
}

/* action=disable: password and a second factor, so neither alone can turn it off. */
static enum um_err
do_disable(struct request *req, struct mfa_view *v, struct field_result *r)
{
	struct validate_ctx vctx = { 0, NULL };
	struct user         u;
	int                 invalid, k;
	enum um_err         rc;

	if (v->state != MFA_ON) {
		v->status = 400;
		v->error = "Two-step verification is not on.";
		return UM_OK;
	}
	if ((rc = user_by_id(req->rt->db, req->arena, req->session->user_id, &u)) != UM_OK)
		return rc;
	invalid = validate_form(req->arena, &vctx, disable_spec, D__MAX, &req->form, r) !=
	    UM_OK;
	/* API.md §7: a wrong password is 403 (429 locked), whatever else is wrong. */
	if (r[D_PASSWORD].val != NULL && (k = recheck(req, v, &u, &r[D_PASSWORD], &rc)) != 0)
		return k < 0 ? rc : UM_OK;
	if (invalid) {
		v->status = 400;
		return UM_OK;
	}
	if ((rc = mfa_verify(&req->ctx, u.id, r[D_CODE].val)) == UM_ECREDS) {
		(void)audit_log(&req->ctx, AUDIT_MFA_FAILED, u.id, u.id,
		    json_pack("{s:s}", "during", "disable"));
		r[D_CODE].error = M_WRONG_CODE;
		v->status = 400;
		return UM_OK;
	}
	if (rc != UM_OK || (rc = mfa_disable(&req->ctx, u.id)) != UM_OK)
		return rc;
	v->state = MFA_OFF;
	v->flash = "Two-step verification is off. Logging in needs only your password now.";
	return UM_OK;
}

/*
 * GET /account/mfa — 200: the setup form (password), the pending secret, or the disable
 * form.  POST action=start — 200 secret and otpauth:// URI; 400 no password; 403 wrong
 * password; 429 locked (a wrong password counts towards the lockout); 409 on already.  action=confirm — 200
 * on, with the ten recovery codes shown this once; 400 wrong or missing code.
 * action=disable — 200 off; 400 wrong or missing code; 403 wrong password; 429 locked.  400 unknown
 * action; 403 CSRF; 503.
 */
enum um_err
page_account_mfa(struct request *req, struct response *resp)
{
	struct field_result rs[S__MAX], rconf[C__MAX], rd[D__MAX];
	struct mfa_view     v;
	char                b32[TOTP_B32_MAX + 1];
	const char         *action;
	enum um_err         rc;

	memset(&v, 0, sizeof(v));
	memset(rs, 0, sizeof(rs));
	memset(rconf, 0, sizeof(rconf));
	memset(rd, 0, sizeof(rd));
	v.status = 200;
	v.username = req->session->username;
	if ((rc = mfa_status(&req->ctx, req->session->user_id, &v.state, b32)) != UM_OK)
		goto fail;
	if (v.state == MFA_PENDING)
		v.secret = b32;
	if (req->method == HTTP_POST) {
		action = kv_get(&req->form, "action");
		if (action != NULL && strcmp(action, "start") == 0)
			rc = do_start(req, &v, rs, b32);
		else if (action != NULL && strcmp(action, "confirm") == 0)
			rc = do_confirm(req, &v, rconf);
		else if (action != NULL && strcmp(action, "disable") == 0)
			rc = do_disable(req, &v, rd);
		else {
			v.status = 400;
			v.error = "Unknown action.";
		}
		if (rc != UM_OK)
			goto fail;
	}
	show_mfa(req, resp, &v, v.state == MFA_OFF ? rs : NULL,
	    v.state == MFA_PENDING ? rconf : NULL,
	    v.state == MFA_ON && v.codes == NULL ? rd : NULL);
	OPENSSL_cleanse(b32, sizeof(b32));
	return UM_OK;
fail:
	OPENSSL_cleanse(b32, sizeof(b32));
	return rc;
}
