/* page-apps: /account/apps — the sites a user let sign them in (OpenID Connect consents), and revoking one. */
#include "config.h"

#include <string.h>

#include <jansson.h>

#include "arena.h"
#include "handlers.h"
#include "kv.h"
#include "oidc.h"
#include "page.h"
#include "request.h"
#include "response.h"
#include "session.h"

static enum um_err
show_apps(struct request *req, struct response *resp, int status, json_t *flash)
{
	json_t     *apps;
	enum um_err rc;

	if ((rc = oidc_consent_list(&req->ctx, req->session->user_id, &apps)) != UM_OK) {
		json_decref(flash);
		return rc;
	}
	page_render(req, resp, status, "account-apps",
	    json_pack("{s:s, s:o, s:b, s:o?, s:{s:b}}", "title", "Sites you signed in to",
	        "apps", apps, "none", json_array_size(apps) == 0, "flash", flash, "nav",
	        "security", 1));
	return UM_OK;
}

/* GET /account/apps — 200 (?done=1 adds a success flash); 303 to /login without a session. */
enum um_err
page_account_apps(struct request *req, struct response *resp)
{
	const char *done = kv_get(&req->query_params, "done");

	return show_apps(req, resp, 200,
	    done != NULL ? page_flash("success", "The site's access was revoked.") : NULL);
}

/* POST /account/apps/revoke (csrf_token, client_id) — 303 back with a flash; 404 page when
 * nothing was granted to that client; 403 CSRF. */
enum um_err
page_account_apps_revoke(struct request *req, struct response *resp)
{
	const char *client = kv_get(&req->form, "client_id");
	int         found = 0;
	enum um_err rc;

	if (client != NULL && strlen(client) <= 64 &&
	    (rc = oidc_consent_revoke(&req->ctx, req->session->user_id, client, &found)) !=
	        UM_OK)
		return rc;
	if (!found)
		return show_apps(req, resp, 404,
		    page_flash("error", "That site has no access to take back."));
	response_redirect(resp, 303, "/account/apps?done=1");
	return UM_OK;
}
