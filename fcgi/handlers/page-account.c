/* page-account: /account/password, /account/email, /account/delete — changes that need the password again. */
#include "config.h"

#include <stddef.h>
#include <string.h>

#include <jansson.h>

#include "account.h"
#include "app.h"
#include "arena.h"
#include "audit.h"
#include "bounds.h"
#include "breach.h"
#include "browser.h"
#include "handlers.h"
#include "login.h"
#include "page.h"
#include "password.h"
#include "problem.h"
#include "request.h"
#include "response.h"
#include "runtime.h"
#include "session.h"
#include "user.h"
#include "validate.h"

#define M_WRONG_PASSWORD "is not correct"
#define M_LOCKED \
	"was wrong too many times: the account is locked for a while. Try again later or " \
	"reset your password."

/*
 * The signed-in user, fresh from the database (the session row holds no password hash):
 * UM_OK, UM_EUNAVAIL, or UM_ENOTFOUND when the account went meanwhile.
 */
static enum um_err
load_user(struct request *req, struct user *u)
{
	return user_by_id(req->rt->db, req->arena, req->session->user_id, u);
}

/*
 * The password re-check of the pages below (login_recheck): a stolen session alone must
 * not be enough to take the account over, nor to guess its password without limit.
 * Returns 0 when r holds the account's password.  Otherwise puts the message beside the
 * field and returns the status to answer with: 403 wrong (API.md §7), 429 when the account
 * is locked or this failure locked it (*retry set; see retry_after()), or -1 with *err set
 * when the database failed.
 */
static int
recheck(struct request *req, const struct user *u, struct field_result *r, long long *retry,
    enum um_err *err)
{
	enum um_err rc;

	switch ((rc = login_recheck(&req->ctx, u, r->val, r->len, retry))) {
	case UM_OK: return 0;
	case UM_ECREDS: r->error = M_WRONG_PASSWORD; return 403;
	case UM_ERATE: r->error = M_LOCKED; return 429;
	default: *err = rc; return -1;
	}
}

/* The Retry-After of a 429 answer (API.md §2). */
static void
retry_after(struct request *req, struct response *resp, int status, long long retry)
{
	if (status == 429)
		response_header(resp, "Retry-After",
		    arena_printf(req->arena, "%lld", retry > 0 ? retry : 1));
}

/* --- /account/password ------------------------------------------------------------------ */

enum { P_CURRENT, P_PASSWORD, P_CONFIRM, P__MAX };

static const struct field_spec password_spec[P__MAX] = {
	[P_CURRENT] = { "current_password", NULL, UM_PASSWORD_FIELD_MAX,
	    VF_REQUIRED | VF_SECRET },
	[P_PASSWORD] = { "password", validate_password, UM_PASSWORD_FIELD_MAX,
	    VF_REQUIRED | VF_SECRET },
	[P_CONFIRM] = { "password_confirm", NULL, UM_PASSWORD_FIELD_MAX,
	    VF_REQUIRED | VF_SECRET },
};

static const struct page_field password_view[P__MAX] = {
	[P_CURRENT] = { "current_password", "Current password", "password", "current-password",
	    NULL, 128, 1, 0 },
	[P_PASSWORD] = { "password", "New password", "password", "new-password",
	    "A long passphrase is best; common passwords are refused.", 128, 1, 0 },
	[P_CONFIRM] = { "password_confirm", "Repeat the new password", "password",
	    "new-password", NULL, 128, 1, 0 },
};

static void
show_password(struct request *req, struct response *resp, int status, struct field_result *r,
    int changed)
{
	page_render(req, resp, status, "account-password",
	    json_pack("{s:s, s:o, s:o, s:b, s:o}", "title", "Change your password", "fields",
	        page_fields(password_view, P__MAX, r), "errors",
	        page_errors(req, password_spec, P__MAX, r), "changed", changed, "flash",
	        changed ? page_flash("success",
	                      "Your password was changed. Your other sessions "
	                      "and app sign-ins were signed out; this one stays signed in.") :
	                  json_array()));
}

/*
 * GET /account/password — 200.  POST — 200 changed (every other browser session and every
 * API refresh family ends, this session stays, a notice is mailed); 400 invalid new
 * password or confirmation, or no current password; 403 wrong current password (API.md
 * §7: whatever else is wrong, with every message shown) or CSRF; 503.
 */
enum um_err
page_account_password(struct request *req, struct response *resp)
{
	struct validate_ctx vctx = { req->rt->conf.password_min_length, NULL };
	struct field_result r[P__MAX];
	struct user         u;
	char                hash[PASSWORD_HASH_MAX];
	long long           retry = 0;
	int                 invalid, status;
	enum um_err         rc;

	if (req->method != HTTP_POST) {
		show_password(req, resp, 200, NULL, 0);
		return UM_OK;
	}
	if ((rc = load_user(req, &u)) != UM_OK)
		return rc;
	vctx.username = u.username;
	invalid = validate_form(req->arena, &vctx, password_spec, P__MAX, &req->form, r) !=
	    UM_OK;
	invalid |= validate_same(r, P_CONFIRM, P_PASSWORD, "does not match the password") !=
	    UM_OK;
	if (r[P_CURRENT].val != NULL &&
	    (status = recheck(req, &u, &r[P_CURRENT], &retry, &rc)) != 0) {
		if (status < 0)
			return rc;
		show_password(req, resp, status, r, 0);
		retry_after(req, resp, status, retry);
		return UM_OK;
	}
	/* Last, once the current password is right: it asks a third party. */
	if (!invalid)
		invalid = breach_refuse(req->arena, &req->rt->conf, r, P_PASSWORD) != UM_OK;
	if (invalid) {
		show_password(req, resp, 400, r, 0);
		return UM_OK;
	}
	if ((rc = password_hash(&req->rt->conf, r[P_PASSWORD].val, r[P_PASSWORD].len, hash)) !=
	        UM_OK ||
	    (rc = account_set_password(&req->ctx, &u, hash, req->session->hash,
	         AUDIT_PASSWORD_CHANGED)) != UM_OK)
		return rc;
	show_password(req, resp, 200, NULL, 1);
	return UM_OK;
}

/* --- /account/email ---------------------------------------------------------------------- */

enum { E_PASSWORD, E_EMAIL, E__MAX };

static const struct field_spec email_spec[E__MAX] = {
	[E_PASSWORD] = PAGE_RECHECK_SPEC,
	[E_EMAIL] = { "email", validate_email, 0, VF_REQUIRED },
};

static const struct page_field email_view[E__MAX] = {
	[E_PASSWORD] = PAGE_RECHECK_VIEW,
	[E_EMAIL] = { "email", "New e-mail address", "email", "email",
	    "We send a link there; your address changes when you follow it.", 254, 1, 0 },
};

static void
show_email(struct request *req, struct response *resp, int status, const struct user *u,
    struct field_result *r, const char *sent_to)
{
	page_render(req, resp, status, "account-email",
	    json_pack("{s:s, s:s, s:o, s:o, s:s?}", "title",
	        sent_to != NULL ? "Check your new address" : "Change your e-mail address",
	        "current_email", u->email, "fields", page_fields(email_view, E__MAX, r),
	        "errors", page_errors(req, email_spec, E__MAX, r), "sent_to", sent_to));
}

/*
 * GET /account/email — 200.  POST — 200 "we sent a link" (the address changes only when
 * the link is followed, API.md §3); 400 invalid address, or the current one; 403 wrong
 * password (whatever else is wrong) or CSRF; 409 the address belongs to another account,
 * except with enumeration prevention, which answers as for a free address and sends
 * nothing (DECISIONS.md); 503.
 */
enum um_err
page_account_email(struct request *req, struct response *resp)
{
	struct validate_ctx vctx = { 0, NULL };
	struct field_result r[E__MAX];
	struct user         u, other;
	long long           retry = 0;
	int                 invalid, status;
	enum um_err         rc;

	if ((rc = load_user(req, &u)) != UM_OK)
		return rc;
	if (req->method != HTTP_POST) {
		show_email(req, resp, 200, &u, NULL, NULL);
		return UM_OK;
	}
	invalid = validate_form(req->arena, &vctx, email_spec, E__MAX, &req->form, r) != UM_OK;
	if (r[E_PASSWORD].val != NULL &&
	    (status = recheck(req, &u, &r[E_PASSWORD], &retry, &rc)) != 0) {
		if (status < 0)
			return rc;
		show_email(req, resp, status, &u, r, NULL);
		retry_after(req, resp, status, retry);
		return UM_OK;
	}
	if (invalid) {
		show_email(req, resp, 400, &u, r, NULL);
		return UM_OK;
	}
	rc = user_by_email(req->rt->db, req->arena, r[E_EMAIL].val, &other);
	if (rc == UM_OK && other.id == u.id) {
		r[E_EMAIL].error = "is already your address";
		show_email(req, resp, 400, &u, r, NULL);
		return UM_OK;
	}
	if (rc == UM_OK && !req->rt->conf.prevent_enumeration) {
		r[E_EMAIL].error = "is already registered";
		show_email(req, resp, 409, &u, r, NULL);
		return UM_OK;
	}
	if (rc == UM_ENOTFOUND)
		rc = account_request_email_change(&req->ctx, &u, r[E_EMAIL].val);
	if (rc != UM_OK)
		return rc;
	show_email(req, resp, 200, &u, NULL, r[E_EMAIL].val);
	return UM_OK;
}

/* --- /account/delete --------------------------------------------------------------------- */

enum { D_PASSWORD = PAGE_RECHECK_PASSWORD, D__MAX = PAGE_RECHECK__MAX };

static void
show_delete(struct request *req, struct response *resp, int status, struct field_result *r,
    int deleted)
{
	page_render(req, resp, status, "account-delete",
	    json_pack("{s:s, s:o, s:o, s:b}", "title",
	        deleted ? "Your account was deleted" : "Delete your account", "fields",
	        page_fields(page_recheck_view, D__MAX, r), "errors",
	        page_errors(req, page_recheck_spec, D__MAX, r), "deleted", deleted));
}

/*
 * GET /account/delete — 200.  POST — 200 a goodbye page (the account, its sessions and
 * tokens are gone, the cookie is cleared; the audit events stay, DECISIONS.md); 400 no
 * password; 403 wrong password or CSRF; 503.
 */
enum um_err
page_account_delete(struct request *req, struct response *resp)
{
	struct validate_ctx vctx = { 0, NULL };
	struct field_result r[D__MAX];
	struct user         u;
	long long           retry = 0;
	int                 status;
	enum um_err         rc;

	if (req->method != HTTP_POST) {
		show_delete(req, resp, 200, NULL, 0);
		return UM_OK;
	}
	if ((rc = load_user(req, &u)) != UM_OK)
		return rc;
	if (validate_form(req->arena, &vctx, page_recheck_spec, D__MAX, &req->form, r) !=
	    UM_OK) {
		show_delete(req, resp, 400, r, 0);
		return UM_OK;
	}
	if ((status = recheck(req, &u, &r[D_PASSWORD], &retry, &rc)) != 0) {
		if (status < 0)
			return rc;
		show_delete(req, resp, status, r, 0);
		retry_after(req, resp, status, retry);
		return UM_OK;
	}
	if ((rc = account_delete(&req->ctx, &u)) != UM_OK)
		return rc;
	/* The row went with the account (ON DELETE CASCADE); this clears the cookie. */
	(void)browser_session_end(req, resp);
	show_delete(req, resp, 200, NULL, 1);
	return UM_OK;
}
