/* page-profile: GET/POST /profile — the signed-in user's own details, display name and bio. */
#include "config.h"

#include <string.h>

#include <jansson.h>

#include "account.h"
#include "app.h"
#include "handlers.h"
#include "page.h"
#include "problem.h"
#include "request.h"
#include "response.h"
#include "runtime.h"
#include "session.h"
#include "user.h"
#include "validate.h"

enum { F_DISPLAY_NAME, F_BIO, F__MAX };

static const struct field_spec spec[F__MAX] = {
	[F_DISPLAY_NAME] = { "display_name", validate_display_name, 0, 0 },
	[F_BIO] = { "bio", validate_bio, 0, 0 },
};

static const struct page_field view[F__MAX] = {
	[F_DISPLAY_NAME] = { "display_name", "Display name", "text", "name",
	    "Shown instead of your username where others see you.", 100, 0, 0 },
	[F_BIO] = { "bio", "About you", "text", "off", NULL, 1000, 0, 1 },
};

static void
show(struct request *req, struct response *resp, int status, const struct user *u,
    struct field_result *r, int saved)
{
	struct field_result stored[F__MAX];
	json_t             *errors = NULL, *flash = json_array();

	if (r == NULL) {
		/* The form starts from what is stored. */
		memset(stored, 0, sizeof(stored));
		stored[F_DISPLAY_NAME].raw = u->display_name;
		stored[F_BIO].raw = u->bio;
		r = stored;
	} else
		errors = validate_errors(req->arena, spec, F__MAX, r);
	if (saved)
		json_array_append_new(flash,
		    json_pack("{s:s, s:s}", "kind", "success", "message",
		        "Your profile was saved."));
	page_render(req, resp, status, "profile",
	    json_pack("{s:s, s:{s:s, s:s, s:b, s:s, s:s?},"
	              " s:o, s:o, s:b, s:o, s:{s:b}}",
	        "title", "Your profile", "profile", "username", u->username, "email", u->email,
	        "email_verified", u->email_verified, "created_at", u->created_at,
	        "last_login_at", u->last_login_at, "fields", page_fields(view, F__MAX, r),
	        "errors", errors != NULL ? json_incref(errors) : json_array(), "saved", saved,
	        "flash", flash, "nav", "profile", 1));
}

/* GET /profile — 200 (303 to /login without a session).  POST — 200 saved; 400 invalid;
 * 403 CSRF; 503. */
enum um_err
page_profile(struct request *req, struct response *resp)
{
	struct validate_ctx vctx = { 0, NULL };
	struct field_result r[F__MAX];
	struct user         u;
	long long           id = req->session->user_id;
	enum um_err         rc;

	if ((rc = user_by_id(req->rt->db, req->arena, id, &u)) != UM_OK)
		return rc;
	if (req->method != HTTP_POST) {
		show(req, resp, 200, &u, NULL, 0);
		return UM_OK;
	}
	if (validate_form(req->arena, &vctx, spec, F__MAX, &req->form, r) != UM_OK) {
		show(req, resp, 400, &u, r, 0);
		return UM_OK;
	}
	if ((rc = account_update_profile(&req->ctx, id, r[F_DISPLAY_NAME].val, r[F_BIO].val)) !=
	        UM_OK ||
	    (rc = user_by_id(req->rt->db, req->arena, id, &u)) != UM_OK)
		return rc;
	show(req, resp, 200, &u, NULL, 1);
	return UM_OK;
}
