/* page-confirm-email: GET/POST /confirm-email — a change of address completes only on the POST. */
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

static void
show(struct request *req, struct response *resp, enum um_err rc, const char *token,
    const char *new_email, int done)
{
	page_render(req, resp,
	    rc == UM_OK            ? 200 :
	        rc == UM_ECONFLICT ? 409 :
	        rc == UM_EDISABLED ? 403 :
	                             400,
	    "confirm-email",
	    json_pack("{s:s, s:s?, s:s?, s:b, s:b, s:b, s:b, s:b, s:s?}", "title",
	        done ? "Address changed" : "Confirm your new address", "token", token,
	        "new_email", new_email, "done", done, "expired", rc == UM_EEXPIRED, "invalid",
	        rc == UM_ETOKEN, "taken", rc == UM_ECONFLICT, "disabled", rc == UM_EDISABLED,
	        "code", rc == UM_OK ? NULL : um_errcode(rc)));
}

/*
 * GET /confirm-email?token= — 200 a page whose button confirms; 400 invalid or expired;
 * 403 the account is disabled.  POST — 200 done; 400 invalid or expired; 403 disabled
 * (nothing changes) or CSRF; 409 the address was taken meanwhile; 503.  No login is needed (API.md §7); the GET changes nothing, since mail scanners fetch
 * every link (API.md §5).
 */
enum um_err
page_confirm_email(struct request *req, struct response *resp)
{
	const char *token, *new_email = NULL;
	enum um_err rc;

	if (req->method != HTTP_POST) {
		token = kv_get(&req->query_params, "token");
		rc = account_check_email_change(&req->ctx, token, &new_email);
		if (rc != UM_OK && rc != UM_ETOKEN && rc != UM_EEXPIRED && rc != UM_EDISABLED)
			return rc;
		show(req, resp, rc, rc == UM_OK ? token : NULL, new_email, 0);
		return UM_OK;
	}
	token = kv_get(&req->form, "token");
	rc = account_confirm_email_change(&req->ctx, token);
	if (rc != UM_OK && rc != UM_ETOKEN && rc != UM_EEXPIRED && rc != UM_ECONFLICT &&
	    rc != UM_EDISABLED)
		return rc;
	show(req, resp, rc, NULL, NULL, rc == UM_OK);
	return UM_OK;
}
