/* page-login: GET/POST /login and POST /logout — password check, lockout, a fresh session id. */
#include "config.h"

#include <string.h>

#include <jansson.h>

#include "app.h"
#include "arena.h"
#include "audit.h"
#include "bounds.h"
#include "browser.h"
#include "device.h"
#include "form.h"
#include "handlers.h"
#include "kv.h"
#include "login.h"
#include "passkey.h"
#include "page.h"
#include "problem.h"
#include "request.h"
#include "response.h"
#include "session.h"
#include "user.h"
#include "validate.h"

enum { F_LOGIN, F_PASSWORD, F__MAX };

/* No format rules on login: any string up to the longest valid e-mail address. */
static const struct field_spec spec[F__MAX] = {
	[F_LOGIN] = { "login", NULL, UM_EMAIL_MAX, VF_REQUIRED },
	[F_PASSWORD] = { "password", NULL, UM_PASSWORD_FIELD_MAX, VF_REQUIRED | VF_SECRET },
};

static const struct page_field view[F__MAX] = {
	/* "webauthn" lets the browser offer passkeys in the field's autofill (conditional
	 * mediation, WebAuthn L3 §5.1.4.1). */
	[F_LOGIN] = { "login", "Username or e-mail address", "text", "username webauthn", NULL,
	    254, 1, 0 },
	[F_PASSWORD] = { "password", "Password", "password", "current-password", NULL, 128, 1,
	    0 },
};

/*
 * A `next` worth following: a same-site absolute path — "/" then no second "/" or "\"
 * (which browsers read as another host), no control characters.  Else NULL.
 */
const char *
page_safe_next(const char *next)
{
	const unsigned char *p;

	if (next == NULL || next[0] != '/' || next[1] == '/' || next[1] == '\\')
		return NULL;
	for (p = (const unsigned char *)next; *p != '\0'; p++)
		if (*p < 0x20 || *p == 0x7f || *p == '\\')
			return NULL;
	return next;
}

struct login_view {
	int         status;
	const char *notice; /* "unverified", "locked", "disabled" or NULL */
	const char *error;  /* summary message */
	const char *next;
	int         remember;
};

static void
show_form(struct request *req, struct response *resp, const struct login_view *v,
    struct field_result *r)
{
	json_t *errors = json_array();

	if (v->error != NULL)
		json_array_append_new(errors,
		    json_pack("{s:s, s:s}", "field", "login", "message", v->error));
	page_render(req, resp, v->status, "login",
	    json_pack("{s:s, s:o, s:o, s:b, s:s?, s:b,"
	              " s:b, s:b, s:{s:b}}",
	        "title", "Log in", "fields", page_fields(view, F__MAX, r), "errors", errors,
	        "remember", v->remember, "next", v->next, "unverified",
	        v->notice != NULL && strcmp(v->notice, "unverified") == 0, "locked",
	        v->notice != NULL && strcmp(v->notice, "locked") == 0, "disabled",
	        v->notice != NULL && strcmp(v->notice, "disabled") == 0, "nav", "login", 1));
	/* Signing in for an OpenID Connect client ends at its redirect URI (oauth2.c). */
	response_csp_form_action(resp, req->arena, oauth2_next_origin(req, v->next));
}

static void
locked_out(struct request *req, struct response *resp, struct login_view *v,
    struct field_result *r, long long seconds)
{
	v->status = 429;
	v->notice = "locked";
	v->error = "Too many failed attempts. Try again later or reset your password.";
	show_form(req, resp, v, r);
	response_header(resp, "Retry-After",
	    arena_printf(req->arena, "%lld", seconds > 0 ? seconds : 1));
}

/*
 * The refusals that come only once the credential was right (API.md §3): a disabled account,
 * an unverified address.  Shows the form and returns 1 for those; 0 for any other rc.
 */
static int
account_refused(struct request *req, struct response *resp, struct login_view *v,
    struct field_result *r, enum um_err rc)
{
	if (rc != UM_EDISABLED && rc != UM_EUNVERIFIED)
		return 0;
	v->status = 403;
	v->notice = rc == UM_EDISABLED ? "disabled" : "unverified";
	v->error = rc == UM_EDISABLED ? "This account is disabled." :
	                                "Your e-mail address is not verified yet.";
	show_form(req, resp, v, r);
	return 1;
}

/*
 * The end of every complete sign-in on this page, password or passkey: a new session id
 * (recording amr, the methods when not the password's), login_succeeded (audit, counters,
 * and what hangs on it), the device cookie, 303 to next.
 */
static enum um_err
signed_in(struct request *req, struct response *resp, struct user *u, struct device *dev,
    const struct login_view *v, const char *amr)
{
	enum um_err rc;

	if ((rc = browser_session_start(req, resp, u->id, v->remember, 0)) != UM_OK ||
	    (amr != NULL &&
	        (rc = session_set_amr(&req->ctx, req->session->id, amr)) != UM_OK) ||
	    (rc = login_succeeded(&req->ctx, u, dev, "browser")) != UM_OK)
		return rc;
	browser_device_remember(req, resp, u->id);
	response_redirect(resp, 303, v->next != NULL ? v->next : "/profile");
	return UM_OK;
}

/* GET /login — 200.  POST — 303 to next or /profile (to /login/mfa, next carried, when
 * two-step verification is on), with a renewed device cookie; 400 wrong credentials; 403
 * unverified or disabled; 429 locked out (the account; for a browser whose device cookie
 * trusts it, only once its own budget is spent too) or per-IP limit; 403 CSRF; 503. */
enum um_err
page_login(struct request *req, struct response *resp)
{
	struct validate_ctx vctx = { 0, NULL };
	struct field_result r[F__MAX];
	struct login_view   v = { 200, NULL, NULL, NULL, 0 };
	struct device       dev = { .cookie = browser_device_cookie(req) };
	struct user         u;
	long long           retry;
	enum um_err         rc;

	if (req->method != HTTP_POST) {
		v.next = page_safe_next(kv_get(&req->query_params, "next"));
		/* ?login= fills the field in (an OpenID Connect client's login_hint, oauth2.c). */
		memset(r, 0, sizeof(r));
		r[F_LOGIN].raw = kv_get(&req->query_params, "login");
		show_form(req, resp, &v, r[F_LOGIN].raw != NULL ? r : NULL);
		return UM_OK;
	}
	/* The password is read from the body only: a query-string one is never used. */
	v.next = page_safe_next(kv_get(&req->form, "next"));
	v.remember = kv_get(&req->form, "remember") != NULL;
	if (validate_form(req->arena, &vctx, spec, F__MAX, &req->form, r) != UM_OK) {
		v.status = 400;
		show_form(req, resp, &v, r);
		return UM_OK;
	}
	rc = login_password(&req->ctx, r[F_LOGIN].val, r[F_PASSWORD].val, r[F_PASSWORD].len,
	    &dev, &u, &retry);
	switch (rc) {
	case UM_OK: break;
	case UM_ERATE: locked_out(req, resp, &v, r, retry); return UM_OK;
	case UM_ECREDS:
		v.status = 400;
		v.error = "The username, e-mail address or password is not correct.";
		show_form(req, resp, &v, r);
		return UM_OK;
	default: return account_refused(req, resp, &v, r, rc) ? UM_OK : rc;
	}
	/*
	 * With two-step verification on, the password opens only a session that waits for
	 * the code (it counts as logged out everywhere else); the login is complete, and
	 * audited, at /login/mfa.
	 */
	if (u.mfa_enabled) {
		if ((rc = browser_session_start(req, resp, u.id, v.remember, 1)) != UM_OK)
			return rc;
		response_redirect(resp, 303,
		    v.next != NULL ? arena_printf(req->arena, "/login/mfa?next=%s",
		                         form_escape(req->arena, v.next)) :
		                     "/login/mfa");
		return UM_OK;
	}
	return signed_in(req, resp, &u, &dev, &v, NULL);
}

enum { K_CHALLENGE, K_CREDENTIAL, K__MAX };

/* What static/passkey.js posts: the options' challenge_id and credential.toJSON() as text. */
static const struct field_spec passkey_spec[K__MAX] = {
	[K_CHALLENGE] = { "challenge_id", NULL, 64, VF_REQUIRED },
	[K_CREDENTIAL] = { "credential", NULL, UM_FIELD_MAX, VF_REQUIRED },
};

/*
 * POST /login/passkey (static/passkey.js, after navigator.credentials.get) — 303 to next or
 * /profile with a new session, through the same login_succeeded as the password form (a
 * passkey with user verification is both factors: no /login/mfa step); the login page with
 * 400 (challenge or response refused), 401 (unknown passkey, bad signature), 403 disabled or
 * unverified; 429 per-IP limit; 403 CSRF; 503.
 */
enum um_err
page_login_passkey(struct request *req, struct response *resp)
{
	struct validate_ctx vctx = { 0, NULL };
	struct field_result r[K__MAX];
	struct login_view   v = { 200, NULL, NULL, NULL, 0 };
	struct device       dev = { .cookie = browser_device_cookie(req) };
	struct user         u;
	json_t             *cred = NULL;
	const char         *why = NULL;
	enum um_err         rc;

	v.next = page_safe_next(kv_get(&req->form, "next"));
	v.remember = kv_get(&req->form, "remember") != NULL;
	if (validate_form(req->arena, &vctx, passkey_spec, K__MAX, &req->form, r) != UM_OK ||
	    (cred = json_loads(r[K_CREDENTIAL].val, JSON_REJECT_DUPLICATES, NULL)) == NULL)
		rc = UM_EPASSKEY;
	else
		rc = passkey_login(&req->ctx, r[K_CHALLENGE].val, cred, &u, &why);
	json_decref(cred);
	if (rc == UM_OK)
		rc = device_judge(&req->ctx, u.id, &dev);
	switch (rc) {
	case UM_OK: break;
	case UM_ECHALLENGE:
	case UM_EPASSKEY:
	case UM_ECREDS:
		v.status = rc == UM_ECREDS ? 401 : 400;
		v.error = rc == UM_ECHALLENGE ?
		    "The passkey request expired. Try again." :
		    "That passkey was not accepted. Try again, or log in with your password.";
		show_form(req, resp, &v, NULL);
		return UM_OK;
	default: return account_refused(req, resp, &v, NULL, rc) ? UM_OK : rc;
	}
	/* The same completion as the password form's. */
	return signed_in(req, resp, &u, &dev, &v, PASSKEY_AMR);
}

/* POST /logout — 303 to /; 403 CSRF. */
enum um_err
page_logout(struct request *req, struct response *resp)
{
	long long   uid = req->session != NULL ? req->session->user_id : 0;
	enum um_err rc;

	if ((rc = browser_session_end(req, resp)) != UM_OK)
		return rc;
	if (uid > 0)
		(void)audit_log(&req->ctx, AUDIT_LOGOUT, uid, uid, NULL);
	response_redirect(resp, 303, "/");
	return UM_OK;
}
