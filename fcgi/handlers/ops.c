/* ops: the operations routes of API.md §6 — liveness and readiness for load balancers. */
#include "config.h"

#include <jansson.h>

#include "app.h"
#include "browser.h"
#include "cache.h"
#include "db.h"
#include "handlers.h"
#include "problem.h"
#include "request.h"
#include "response.h"
#include "runtime.h"

static void
status_ok(struct response *resp)
{
	static const char body[] = "{\"status\":\"ok\"}";

	resp->status = 200;
	resp->content_type = "application/json";
	buf_append(&resp->body, body, sizeof(body) - 1);
}

/* GET /healthz — 200 while this worker can answer at all; touches nothing else. */
enum um_err
ops_healthz(struct request *req, struct response *resp)
{
	status_ok(resp);
	return UM_OK;
}

/* GET /readyz — 200 when MariaDB answers, 503 service_unavailable within 5 s otherwise. */
enum um_err
ops_readyz(struct request *req, struct response *resp)
{
	if (db_ping(req->rt->db) != UM_OK) {
		problem_send(req, resp, UM_EUNAVAIL, 0, "The database does not answer.", NULL);
		return UM_OK;
	}
	status_ok(resp);
	return UM_OK;
}

/*
 * The host's cache (fastpath.c): counters of the shared segment, so every worker of the
 * host answers the same.  The log lag is the time since the last successful poll of the
 * revocation log began (not the age of the newest row: an idle log would look behind).
 */
static void
cache_metrics(struct request *req, struct response *resp)
{
	struct cache_stats st;
	long long          ok;

	cache_stats(req->rt->cache, &st);
	buf_printf(&resp->body,
	    "# HELP usermgr_cache_enabled A cache segment is attached (USERMGR_CACHE_MB > 0).\n"
	    "# TYPE usermgr_cache_enabled gauge\nusermgr_cache_enabled %d\n",
	    st.enabled);
	if (!st.enabled)
		return;
	buf_printf(&resp->body,
	    "# HELP usermgr_cache_hits_total Cache lookups answered from the host's cache.\n"
	    "# TYPE usermgr_cache_hits_total counter\nusermgr_cache_hits_total %llu\n"
	    "# HELP usermgr_cache_misses_total Cache lookups that went to MariaDB.\n"
	    "# TYPE usermgr_cache_misses_total counter\nusermgr_cache_misses_total %llu\n"
	    "# HELP usermgr_cache_entries Valid entries in the cache (approximate).\n"
	    "# TYPE usermgr_cache_entries gauge\nusermgr_cache_entries %zu\n"
	    "# HELP usermgr_cache_fail_closed_total Turns to untrusted: the revocation log was not "
	    "read for 5 poll intervals.\n"
	    "# TYPE usermgr_cache_fail_closed_total counter\n"
	    "usermgr_cache_fail_closed_total %llu\n"
	    "# HELP usermgr_cache_rebuilds_total Segments rebuilt over a corrupt or foreign one.\n"
	    "# TYPE usermgr_cache_rebuilds_total counter\nusermgr_cache_rebuilds_total %llu\n",
	    st.hits, st.misses, st.entries, st.fail_closed, st.rebuilds);
	if ((ok = cache_poll_ok_ms(req->rt->cache)) < 0)
		return;
	buf_printf(&resp->body,
	    "# HELP usermgr_revocation_log_lag_seconds Time since the last successful read of "
	    "the revocation log began.\n"
	    "# TYPE usermgr_revocation_log_lag_seconds gauge\n"
	    "usermgr_revocation_log_lag_seconds %.3f\n",
	    (double)(cache_now_ms() - ok) / 1000.0);
}

static const char sql_metrics[] =
    "SELECT (SELECT COUNT(*) FROM users WHERE status = 'active'),"
    " (SELECT COUNT(*) FROM users WHERE status = 'disabled'),"
    " (SELECT COUNT(*) FROM users WHERE email_verified_at IS NULL),"
    " (SELECT COUNT(*) FROM sessions WHERE expires_at > UTC_TIMESTAMP(6)),"
    " (SELECT COUNT(*) FROM refresh_families WHERE revoked_at IS NULL),"
    " (SELECT COUNT(*) FROM email_outbox WHERE status = 'queued'),"
    " (SELECT COUNT(*) FROM email_outbox WHERE status = 'sent'),"
    " (SELECT COUNT(*) FROM email_outbox WHERE status = 'failed'),"
    " (SELECT IFNULL(TIMESTAMPDIFF(SECOND, MIN(created_at), UTC_TIMESTAMP(6)), 0)"
    "  FROM email_outbox WHERE status = 'queued')";

/*
 * GET /metrics — 200 Prometheus text format (0.0.4); 503 when the database is down.
 * Gauges come from MariaDB, so every worker answers the same: workers keep no state a
 * scrape could see only half of.  nginx serves it to loopback only (deploy/nginx/).
 */
enum um_err
ops_metrics(struct request *req, struct response *resp)
{
	static const char *const names[] = {
		"usermgr_users{status=\"active\"}",
		"usermgr_users{status=\"disabled\"}",
		"usermgr_users_unverified",
		"usermgr_browser_sessions",
		"usermgr_api_sessions",
		"usermgr_outbox_messages{status=\"queued\"}",
		"usermgr_outbox_messages{status=\"sent\"}",
		"usermgr_outbox_messages{status=\"failed\"}",
		"usermgr_outbox_oldest_queued_seconds",
	};
	static const char *const help[] = {
		"# HELP usermgr_users Accounts by status.\n# TYPE usermgr_users gauge\n",
		"",
		"# HELP usermgr_users_unverified Accounts whose address is not verified.\n"
		"# TYPE usermgr_users_unverified gauge\n",
		"# HELP usermgr_browser_sessions Unexpired browser sessions.\n"
		"# TYPE usermgr_browser_sessions gauge\n",
		"# HELP usermgr_api_sessions Refresh-token families not revoked.\n"
		"# TYPE usermgr_api_sessions gauge\n",
		"# HELP usermgr_outbox_messages Mail in the outbox by status.\n"
		"# TYPE usermgr_outbox_messages gauge\n",
		"",
		"",
		"# HELP usermgr_outbox_oldest_queued_seconds Age of the oldest undelivered mail.\n"
		"# TYPE usermgr_outbox_oldest_queued_seconds gauge\n",
	};
	struct db_res res;
	size_t        i;
	enum um_err   rc;

	if ((rc = db_exec(req->rt->db, req->arena, sql_metrics, NULL, 0, &res)) != UM_OK ||
	    res.nrows != 1) {
		problem_send(req, resp, rc != UM_OK ? rc : UM_EINTERNAL, 0, NULL, NULL);
		return UM_OK;
	}
	resp->status = 200;
	resp->content_type = "text/plain; version=0.0.4; charset=utf-8";
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		buf_printf(&resp->body, "%s%s %lld\n", help[i], names[i],
		    DB_CELL(&res, 0, i)->i);
	buf_puts(&resp->body,
	    "# HELP usermgr_up The worker answers.\n# TYPE usermgr_up gauge\n"
	    "usermgr_up 1\n");
	cache_metrics(req, resp);
	return UM_OK;
}
