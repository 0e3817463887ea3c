/* ops: the operations routes of API.md §6 — liveness and readiness for load balancers. */
#include "config.h"

#include <string.h>

#include <jansson.h>

#include "app.h"
#include "arena.h"
#include "browser.h"
#include "cache.h"
#include "counts.h"
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

/*
 * GET /readyz — 200 when MariaDB answers, 503 service_unavailable within 5 s otherwise.  On a
 * cluster (USERMGR_DB_HOSTS) the answer names the node this worker uses.  nginx sends
 * /readyz to workers of its own (deploy/nginx), so workers blocked on a hung node never
 * hold it up.
 */
enum um_err
ops_readyz(struct request *req, struct response *resp)
{
	const char *node;
	json_t     *v;

	if (db_ping(req->rt->db) != UM_OK) {
		problem_send(req, resp, UM_EUNAVAIL, 0, "The database does not answer.", NULL);
		return UM_OK;
	}
	if ((node = db_node(req->rt->db)) == NULL) {
		status_ok(resp);
		return UM_OK;
	}
	/* An IPv6 address in brackets, as USERMGR_DB_HOSTS spells it. */
	v = json_pack("{s:s, s:s}", "status", "ok", "database",
	    strchr(node, ':') != NULL ?
	        arena_printf(req->arena, "[%s]:%u", node, db_node_port(req->rt->db)) :
	        arena_printf(req->arena, "%s:%u", node, db_node_port(req->rt->db)));
	response_json(resp, 200, v);
	json_decref(v);
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

/*
 * What is not a kept count: sessions and API families live and die by time, so they are
 * counted, but as index ranges over the live ones (sql/008_counts.sql), never a table scan.
 */
static const char sql_metrics[] =
    "SELECT (SELECT COUNT(*) FROM sessions WHERE expires_at > UTC_TIMESTAMP(6)),"
    " (SELECT COUNT(*) FROM refresh_families WHERE revoked_at IS NULL),"
    " (SELECT IFNULL(TIMESTAMPDIFF(SECOND, MIN(created_at), UTC_TIMESTAMP(6)), 0)"
    "  FROM email_outbox WHERE status = 'queued')";

/* One gauge: its HELP and TYPE lines when help is not NULL, then the sample. */
static void
gauge(struct buf *b, const char *help, const char *name, long long v)
{
	if (help != NULL)
		buf_printf(b, "# HELP %.*s %s\n# TYPE %.*s gauge\n", (int)strcspn(name, "{"),
		    name, help, (int)strcspn(name, "{"), name);
	buf_printf(b, "%s %lld\n", name, v);
}

/*
 * GET /metrics — 200 Prometheus text format (0.0.4); 503 when the database is down.
 * Gauges come from MariaDB, so every worker answers the same: workers keep no state a
 * scrape could see only half of.  Totals are kept counts (counts.c): a scrape costs a few
 * row reads at a million users.  nginx serves it to loopback only (deploy/nginx/).
 */
enum um_err
ops_metrics(struct request *req, struct response *resp)
{
	struct buf   *b = &resp->body;
	struct counts c;
	struct db_res res;
	enum um_err   rc;

	if ((rc = counts_read(req->rt->db, req->arena, &c)) != UM_OK ||
	    (rc = db_exec(req->rt->db, req->arena, sql_metrics, NULL, 0, &res)) != UM_OK ||
	    res.nrows != 1) {
		problem_send(req, resp, rc != UM_OK ? rc : UM_EINTERNAL, 0, NULL, NULL);
		return UM_OK;
	}
	resp->status = 200;
	resp->content_type = "text/plain; version=0.0.4; charset=utf-8";
	gauge(b, "Accounts by status.", "usermgr_users{status=\"active\"}", c.users_active);
	gauge(b, NULL, "usermgr_users{status=\"disabled\"}", c.users_disabled);
	gauge(b, "Accounts whose address is not verified.", "usermgr_users_unverified",
	    c.users_unverified);
	gauge(b, "Unexpired browser sessions.", "usermgr_browser_sessions",
	    DB_CELL(&res, 0, 0)->i);
	gauge(b, "Refresh-token families not revoked.", "usermgr_api_sessions",
	    DB_CELL(&res, 0, 1)->i);
	gauge(b, "Mail in the outbox by status.", "usermgr_outbox_messages{status=\"queued\"}",
	    c.outbox_queued);
	gauge(b, NULL, "usermgr_outbox_messages{status=\"sent\"}", c.outbox_sent);
	gauge(b, NULL, "usermgr_outbox_messages{status=\"failed\"}", c.outbox_failed);
	gauge(b, "Age of the oldest undelivered mail.", "usermgr_outbox_oldest_queued_seconds",
	    DB_CELL(&res, 0, 2)->i);
	gauge(b,
	    "Imported seed-app password hashes still stored: bare SHA-256, or wrapped in "
	    "Argon2id until the user's next login.",
	    "usermgr_legacy_password_hashes{form=\"bare\"}", c.legacy_bare);
	gauge(b, NULL, "usermgr_legacy_password_hashes{form=\"wrapped\"}", c.legacy_wrapped);
	gauge(b, "The worker answers.", "usermgr_up", 1);
	cache_metrics(req, resp);
	return UM_OK;
}
