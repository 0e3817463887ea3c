/* page-not-me: GET/POST /account/not-me — "This was not me" from a new-device sign-in alert. */
#include "config.h"

#include <jansson.h>

#include "alert.h"
#include "app.h"
#include "handlers.h"
#include "kv.h"
#include "page.h"
#include "problem.h"
#include "request.h"
#include "response.h"

static void
show(struct request *req, struct response *resp, enum um_err rc, const char *token, int done)
{
	page_render(req, resp, rc == UM_OK ? 200 : 400, "not-me",
	    json_pack("{s:s, s:s?, s:b, s:b, s:b, s:s?}", "title",
	        done ? "Sign-in reported" : "This was not me", "token", token, "done", done,
	        "expired", rc == UM_EEXPIRED, "invalid", rc == UM_ETOKEN, "code",
	        rc == UM_OK ? NULL : um_errcode(rc)));
}

/*
 * GET /account/not-me?token= — 200 a page whose button acts; 400 invalid (also used) or
 * expired.  POST (field token) — 200 done: the alerted sign-in's session and every refresh
 * family of the user ended, a reset link mailed; 400 invalid, used or expired; 403 CSRF;
 * 503.  No login is needed, since the person may have no session left; the GET changes
 * nothing, since mail scanners fetch every link (API.md §5).
 */
enum um_err
page_not_me(struct request *req, struct response *resp)
{
	const char *token;
	long long   uid;
	enum um_err rc;

	token = kv_get(req->method == HTTP_POST ? &req->form : &req->query_params, "token");
	if (req->method != HTTP_POST)
		rc = alert_check(&req->ctx, token, &uid);
	else
		rc = alert_disown(&req->ctx, token, &uid);
	if (rc != UM_OK && rc != UM_ETOKEN && rc != UM_EEXPIRED)
		return rc;
	show(req, resp, rc, rc == UM_OK && req->method != HTTP_POST ? token : NULL,
	    rc == UM_OK && req->method == HTTP_POST);
	return UM_OK;
}
