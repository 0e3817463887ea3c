/* alert: new-device sign-in alerts (issue 13, item 5) — device cookie, then family and network, then mail. */
#include "config.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <openssl/crypto.h>

#include "account.h"
#include "alert.h"
#include "arena.h"
#include "audit.h"
#include "ctx.h"
#include "db.h"
#include "device.h"
#include "link.h"
#include "notify.h"
#include "session.h"
#include "token.h"
#include "user.h"

/*
 * First match wins, so the engines that others' strings also name come after them: Edge
 * and Opera say "Chrome/" too, and every Chromium says "Safari/".
 */
static const struct {
	const char *needle;
	const char *family;
} families[] = {
	{ "Edg/", "Edge" },
	{ "EdgA/", "Edge" },
	{ "EdgiOS/", "Edge" },
	{ "OPR/", "Opera" },
	{ "Opera", "Opera" },
	{ "SamsungBrowser/", "Samsung Internet" },
	{ "Firefox/", "Firefox" },
	{ "FxiOS/", "Firefox" },
	{ "CriOS/", "Chrome" },
	{ "Chrome/", "Chrome" },
	{ "Chromium/", "Chrome" },
	{ "Safari/", "Safari" },
	{ "curl/", "curl" },
	{ "Wget/", "Wget" },
	{ "python-requests/", "Python" },
	{ "Python-urllib/", "Python" },
	{ "okhttp/", "OkHttp" },
	{ "Go-http-client/", "Go" },
	{ "node", "Node.js" },
};

const char *
alert_family(const char *ua)
{
	size_t i;

	for (i = 0; ua != NULL && i < sizeof(families) / sizeof(families[0]); i++)
		if (strstr(ua, families[i].needle) != NULL)
			return families[i].family;
	return "Other";
}

int
alert_network(const char *ip, char *out)
{
	unsigned char              a[16];
	char                       txt[INET6_ADDRSTRLEN];
	static const unsigned char mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

	(void)snprintf(out, ALERT_NETWORK_MAX, "unknown");
	if (ip == NULL)
		return -1;
	if (inet_pton(AF_INET, ip, a) == 1) {
		(void)snprintf(out, ALERT_NETWORK_MAX, "%u.%u.%u.0/24", a[0], a[1], a[2]);
		return 0;
	}
	if (inet_pton(AF_INET6, ip, a) != 1)
		return -1;
	if (memcmp(a, mapped, sizeof(mapped)) == 0) {
		(void)snprintf(out, ALERT_NETWORK_MAX, "%u.%u.%u.0/24", a[12], a[13], a[14]);
		return 0;
	}
	/* A /48 is one site's allocation (RFC 6177), as a /24 is one IPv4 network's. */
	memset(a + 6, 0, sizeof(a) - 6);
	if (inet_ntop(AF_INET6, a, txt, sizeof(txt)) == NULL)
		return -1;
	(void)snprintf(out, ALERT_NETWORK_MAX, "%s/48", txt);
	return 0;
}

static const char sql_seen[] =
    "SELECT last_seen >= UTC_TIMESTAMP(6) - INTERVAL ? DAY FROM login_networks"
    " WHERE user_id = ? AND family = ? AND network = ?";
static const char sql_saw[] =
    "INSERT INTO login_networks (user_id, family, network) VALUES (?, ?, ?)"
    " ON DUPLICATE KEY UPDATE last_seen = UTC_TIMESTAMP(6)";
static const char sql_off[] = "SELECT 1 FROM login_alerts_off WHERE user_id = ?";
static const char sql_add[] =
    "INSERT INTO login_alerts (user_id, token_hash, session_id,"
    " expires_at) VALUES (?, ?, ?, UTC_TIMESTAMP(6) + INTERVAL ? SECOND)";

/* Records the pair; *known says whether it was seen within ALERT_SEEN_DAYS before. */
static enum um_err
saw(struct ctx *ctx, long long uid, const char *family, const char *net, int *known)
{
	struct db_val p[4] = { DBV_INT(ALERT_SEEN_DAYS), DBV_INT(uid), dbv_text(family),
		dbv_text(net) };
	struct db_res res;
	enum um_err   rc;

	if ((rc = db_exec(ctx->db, ctx->arena, sql_seen, p, 4, &res)) != UM_OK)
		return rc;
	*known = res.nrows == 1 && DB_CELL(&res, 0, 0)->i == 1;
	return db_exec(ctx->db, ctx->arena, sql_saw, p + 1, 3, NULL);
}

enum um_err
alert_enabled(struct db *db, struct arena *a, long long uid, int *on)
{
	struct db_val p[1] = { DBV_INT(uid) };
	struct db_res res;
	enum um_err   rc;

	*on = 1;
	if ((rc = db_exec(db, a, sql_off, p, 1, &res)) == UM_OK)
		*on = res.nrows == 0;
	return rc;
}

/* The time now as RFC 3339 UTC (API.md §2), in the arena. */
static char *
now_text(struct arena *a)
{
	time_t    t = time(NULL);
	struct tm tm;
	char      s[32];

	if (gmtime_r(&t, &tm) == NULL || strftime(s, sizeof(s), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		return arena_strdup(a, "");
	return arena_strdup(a, s);
}

/* Queues the alert for u: the row that makes its link work once, the mail, the audit. */
static enum um_err
send_alert(struct ctx *ctx, const struct user *u, const char *family, const char *net)
{
	unsigned char h[32];
	struct db_val p[4];
	char         *tok;
	enum um_err   rc;

	/* bind: the session the link ends, so the claim says what the token acts on. */
	if ((tok = link_token(ctx, LINK_NOT_ME, u->id, u->email,
	         arena_printf(ctx->arena, "%lld", ctx->session))) == NULL)
		return UM_EINTERNAL;
	token_sha256(tok, strlen(tok), h);
	p[0] = DBV_INT(u->id);
	p[1] = DBV_BLOB(h, sizeof(h));
	p[2] = ctx->session > 0 ? DBV_INT(ctx->session) : DBV_NULL;
	p[3] = DBV_INT(link_lifetime(LINK_NOT_ME));
	if ((rc = db_exec(ctx->db, ctx->arena, sql_add, p, 4, NULL)) != UM_OK)
		return rc;
	if ((rc = notify_queue(ctx, "new-device", u->email,
	         u->display_name != NULL ? u->display_name : u->username,
	         json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:I}", "username", u->username,
	             "when", now_text(ctx->arena), "ip", ctx->ip != NULL ? ctx->ip : "unknown",
	             "network", net, "family", family, "url", link_url(ctx, LINK_NOT_ME, tok),
	             "days", (json_int_t)(link_lifetime(LINK_NOT_ME) / 86400)))) != UM_OK)
		return rc;
	return audit_log(ctx, AUDIT_LOGIN_ALERT_SENT, u->id, u->id,
	    json_pack("{s:s, s:s}", "family", family, "network", net));
}

enum um_err
alert_signin(struct ctx *ctx, const struct user *u, const struct device *dev)
{
	const char *family = alert_family(ctx->user_agent);
	char        net[ALERT_NETWORK_MAX];
	int         known = 0, on = 1;
	enum um_err rc;

	(void)alert_network(ctx->ip, net);
	if ((rc = saw(ctx, u->id, family, net, &known)) != UM_OK)
		return rc;
	/*
	 * A browser with this account's device cookie signed in to it before; a known pair is
	 * the owner's usual browser on the usual network; the first sign-in ever has nothing
	 * to compare with (docs/DECISIONS.md "New-device sign-in alerts").
	 */
	if ((dev != NULL && dev->trusted) || known || u->last_login_at == NULL)
		return UM_OK;
	if ((rc = alert_enabled(ctx->db, ctx->arena, u->id, &on)) != UM_OK || !on)
		return rc;
	return send_alert(ctx, u, family, net);
}

static const char sql_find[] = "SELECT id, user_id, COALESCE(session_id, 0),"
                               " used_at IS NULL, expires_at > UTC_TIMESTAMP(6)"
                               " FROM login_alerts WHERE token_hash = ?";
static const char sql_lock[] = "SELECT id, user_id, COALESCE(session_id, 0),"
                               " used_at IS NULL, expires_at > UTC_TIMESTAMP(6)"
                               " FROM login_alerts WHERE token_hash = ? FOR UPDATE";
static const char sql_use[] = "UPDATE login_alerts SET used_at = UTC_TIMESTAMP(6) WHERE id = ?";

/* What a token's row says. */
struct alert_row {
	long long id, user_id, session;
};

/*
 * The token's signature and purpose, then its row (sql: sql_find, or sql_lock inside a
 * transaction): UM_OK with *row, UM_ETOKEN, UM_EEXPIRED.
 */
static enum um_err
lookup(struct ctx *ctx, const char *sql, const char *token, struct alert_row *row)
{
	const char   *email, *bind;
	unsigned char h[32];
	struct db_val p[1];
	struct db_res res;
	long long     uid;
	enum um_err   rc;

	if (token == NULL || token[0] == '\0')
		return UM_ETOKEN;
	if ((rc = link_verify(ctx, LINK_NOT_ME, token, &uid, &email, &bind)) != UM_OK)
		return rc;
	/* The row is found by the token's hash: the token itself is never stored. */
	token_sha256(token, strlen(token), h);
	p[0] = DBV_BLOB(h, sizeof(h));
	if ((rc = db_exec(ctx->db, ctx->arena, sql, p, 1, &res)) != UM_OK)
		return rc;
	if (res.nrows != 1 || DB_CELL(&res, 0, 1)->i != uid || DB_CELL(&res, 0, 3)->i != 1)
		return UM_ETOKEN; /* unknown, or used: a link works once */
	if (DB_CELL(&res, 0, 4)->i != 1)
		return UM_EEXPIRED;
	row->id = DB_CELL(&res, 0, 0)->i;
	row->user_id = uid;
	row->session = DB_CELL(&res, 0, 2)->i;
	return UM_OK;
}

enum um_err
alert_check(struct ctx *ctx, const char *token, long long *user_id)
{
	struct alert_row row;
	enum um_err      rc;

	*user_id = 0;
	if ((rc = lookup(ctx, sql_find, token, &row)) == UM_OK)
		*user_id = row.user_id;
	return rc;
}

/* The writes of alert_disown, inside its transaction. */
static enum um_err
disown_tx(struct ctx *ctx, const char *token, long long *user_id)
{
	struct alert_row row;
	struct db_val    p[1];
	struct user      u;
	int              found = 0;
	enum um_err      rc;

	if ((rc = lookup(ctx, sql_lock, token, &row)) != UM_OK)
		return rc;
	p[0] = DBV_INT(row.id);
	if ((rc = db_exec(ctx->db, ctx->arena, sql_use, p, 1, NULL)) != UM_OK ||
	    (rc = user_by_id(ctx->db, ctx->arena, row.user_id, &u)) != UM_OK)
		return rc == UM_ENOTFOUND ? UM_ETOKEN : rc;
	if ((row.session > 0 &&
	        (rc = session_revoke(ctx, row.user_id, row.session, &found)) != UM_OK) ||
	    (rc = session_end_families(ctx, row.user_id)) != UM_OK ||
	    (rc = account_queue_reset(ctx, u.email)) != UM_OK)
		return rc;
	*user_id = row.user_id;
	return audit_log(ctx, AUDIT_LOGIN_DISOWNED, row.user_id, row.user_id,
	    json_pack("{s:b}", "session_ended", found));
}

enum um_err
alert_disown(struct ctx *ctx, const char *token, long long *user_id)
{
	enum um_err rc;

	*user_id = 0;
	if ((rc = db_begin(ctx->db)) != UM_OK)
		return rc;
	if ((rc = disown_tx(ctx, token, user_id)) != UM_OK ||
	    (rc = db_commit(ctx->db)) != UM_OK) {
		db_rollback(ctx->db);
		*user_id = 0;
	}
	return rc;
}

static const char sql_turn_off[] = "INSERT IGNORE INTO login_alerts_off (user_id) VALUES (?)";
static const char sql_turn_on[] = "DELETE FROM login_alerts_off WHERE user_id = ?";

enum um_err
alert_set(struct ctx *ctx, long long uid, int on)
{
	struct db_val p[1] = { DBV_INT(uid) };
	struct db_res res;
	enum um_err   rc;

	if ((rc = db_begin(ctx->db)) != UM_OK)
		return rc;
	if ((rc = db_exec(ctx->db, ctx->arena, on ? sql_turn_on : sql_turn_off, p, 1, &res)) ==
	        UM_OK &&
	    res.affected > 0)
		rc = audit_log(ctx, AUDIT_LOGIN_ALERTS_CHANGED, uid, uid,
		    json_pack("{s:b}", "enabled", on));
	if (rc != UM_OK || (rc = db_commit(ctx->db)) != UM_OK)
		db_rollback(ctx->db);
	return rc;
}
