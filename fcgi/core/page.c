/* page: the shared context of every HTML page, then the named template, in one call. */
#include "config.h"

#include <jansson.h>

#include "app.h"
#include "buf.h"
#include "log.h"
#include "page.h"
#include "request.h"
#include "response.h"
#include "template.h"

void
page_render(struct request *req, struct response *resp, int status, const char *name,
    json_t *data)
{
	enum um_err	 rc;

	if (data == NULL)
		data = json_object();
	/* Keys a page did not set get their neutral value, so templates never see "missing". */
	if (json_object_get(data, "user") == NULL)
		json_object_set_new(data, "user", json_null());
	if (json_object_get(data, "flash") == NULL)
		json_object_set_new(data, "flash", json_array());
	if (json_object_get(data, "csrf_token") == NULL)
		json_object_set_new(data, "csrf_token", json_string(""));
	json_object_set_new(data, "request_id", json_string(req->id));

	buf_truncate(&resp->body, 0);
	rc = tmpl_render(req->app->tmpl, name, data, &resp->body);
	json_decref(data);
	if (rc != UM_OK) {
		log_err("page: rendering %s failed: %s", name, um_strerror(rc));
		buf_truncate(&resp->body, 0);
		buf_puts(&resp->body, "<!DOCTYPE html><title>Internal error</title>"
		    "<p>Something went wrong on our side. Please try again.</p>");
		status = 500;
	}
	response_html(resp, status);
}
