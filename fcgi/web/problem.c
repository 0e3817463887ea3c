/* problem: RFC 9457 problem details for the API and non-browser clients, an error page for people. */
#include "config.h"

#include <string.h>

#include <jansson.h>

#include "arena.h"
#include "json.h"
#include "page.h"
#include "problem.h"
#include "request.h"
#include "response.h"

json_t *
problem_new(enum um_err err, int status, const char *detail, json_t *errors)
{
	json_t *p;

	if (status == 0)
		status = um_errstatus(err);
	/* "about:blank": the status and our `code` extension member carry the meaning. */
	p = json_pack("{s:s, s:s, s:i, s:s}", "type", "about:blank", "title", um_strerror(err),
	    "status", status, "code", um_errcode(err));
	if (detail != NULL)
		json_object_set_new(p, "detail", json_string(detail));
	if (errors != NULL)
		json_object_set_new(p, "errors", errors);
	return p;
}

void
problem_send(struct request *req, struct response *resp, enum um_err err, int status,
    const char *detail, json_t *errors)
{
	json_t *p;

	if (status == 0)
		status = um_errstatus(err);
	if (strncmp(req->path, "/api/", 5) != 0 && request_wants_html(req)) {
		p = json_pack("{s:i, s:s, s:s}", "status", status, "title", um_strerror(err),
		    "code", um_errcode(err));
		if (detail != NULL)
			json_object_set_new(p, "detail", json_string(detail));
		json_decref(errors);
		page_render(req, resp, status, "error", p);
		return;
	}
	p = problem_new(err, status, detail, errors);
	response_json(resp, status, p);
	resp->content_type = "application/problem+json";
	json_decref(p);
}
