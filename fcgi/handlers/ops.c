/* ops: the operations routes of API.md §6 — liveness and readiness for load balancers. */
#include "config.h"

#include <jansson.h>

#include "app.h"
#include "db.h"
#include "handlers.h"
#include "problem.h"
#include "request.h"
#include "response.h"

static void
status_ok(struct response *resp)
{
	static const char	 body[] = "{\"status\":\"ok\"}";

	resp->status = 200;
	resp->content_type = "application/json";
	buf_append(&resp->body, body, sizeof(body) - 1);
}

/* GET /healthz — 200 while this worker can answer at all; touches nothing else. */
void
ops_healthz(struct request *req, struct response *resp)
{
	status_ok(resp);
}

/* GET /readyz — 200 when MariaDB answers, 503 service_unavailable within 5 s otherwise. */
void
ops_readyz(struct request *req, struct response *resp)
{
	if (db_ping(req->app->db) != UM_OK) {
		problem_send(req, resp, UM_EUNAVAIL, 0, "The database does not answer.", NULL);
		return;
	}
	status_ok(resp);
}
