/* retention: the periodic deletes that keep the outbox, counters, counts and audit log bounded. */
#include "config.h"

#include <stddef.h>

#include "alert.h"
#include "conf.h"
#include "counts.h"
#include "db.h"
#include "ratelimit.h"
#include "retention.h"
#include "revocation.h"

/*
 * Failed or queued outbox rows stay: an operator looks into what did not arrive.  Their
 * bodies are already blank once failed (outbox.c).
 */
static const char sql_outbox[] = "DELETE FROM email_outbox WHERE status = 'sent' "
                                 "AND sent_at < UTC_TIMESTAMP(6) - INTERVAL ? DAY LIMIT ?";
/* ratelimit.c writes window_start with FROM_UNIXTIME: compare in the same terms. */
static const char sql_rate[] =
    "DELETE FROM rate_limits "
    "WHERE window_start < FROM_UNIXTIME(UNIX_TIMESTAMP() - ?) LIMIT ?";
/* Only failed logins: the other events are the account's history (API.md §7). */
static const char sql_audit[] = "DELETE FROM audit_events WHERE event = 'login_failed' "
                                "AND created_at < UTC_TIMESTAMP(6) - INTERVAL ? DAY LIMIT ?";

/* Device lockouts (device.c) past their window or lock; age is 0: expires_at says when. */
static const char sql_device[] =
    "DELETE FROM device_lockouts "
    "WHERE expires_at < UTC_TIMESTAMP(6) - INTERVAL ? SECOND LIMIT ?";

/*
 * The revocation log only feeds the caches' polls, every USERMGR_REVOCATION_POLL_MS: a day
 * is far more than any live host lags.  A host further behind flushes its cache instead
 * (docs/DECISIONS.md "Fast path: the revocation log").
 */
static const char sql_revocations[] =
    "DELETE FROM revocations "
    "WHERE created_at < UTC_TIMESTAMP(6) - INTERVAL ? DAY LIMIT ?";

/*
 * The sign-in alert's known (browser family, network) pairs count for 90 days (alert.c), and
 * its "This was not me" rows for as long as their link lives.
 */
static const char sql_networks[] =
    "DELETE FROM login_networks "
    "WHERE last_seen < UTC_TIMESTAMP(6) - INTERVAL ? DAY LIMIT ?";
static const char sql_alerts[] =
    "DELETE FROM login_alerts "
    "WHERE expires_at < UTC_TIMESTAMP(6) - INTERVAL ? SECOND LIMIT ?";
/* WebAuthn challenges (passkey.c) live five minutes; age is 0: expires_at says when. */
static const char sql_challenges[] =
    "DELETE FROM webauthn_challenges "
    "WHERE expires_at < UTC_TIMESTAMP(6) - INTERVAL ? SECOND LIMIT ?";

/*
 * OpenID Connect authorization codes live 60 s; a spent or expired one is kept a day, so a
 * late second exchange still finds it and revokes what the first got (oidc.c).
 */
static const char sql_codes[] = "DELETE FROM oauth_codes "
                                "WHERE expires_at < UTC_TIMESTAMP(6) - INTERVAL ? DAY LIMIT ?";

static enum um_err
prune(struct db *db, struct arena *a, const char *sql, long long age,
    unsigned long long *deleted)
{
	struct db_val p[2];
	struct db_res res;
	enum um_err   rc;

	p[0] = DBV_INT(age);
	p[1] = DBV_INT(RETENTION_BATCH);
	if ((rc = db_exec(db, a, sql, p, 2, &res)) == UM_OK)
		*deleted += res.affected;
	return rc;
}

enum um_err
retention_prune(struct db *db, struct arena *a, const struct conf *c,
    unsigned long long *deleted)
{
	unsigned long long n = 0;
	enum um_err        rc;

	if ((rc = prune(db, a, sql_outbox, c->outbox_retention_days, &n)) == UM_OK &&
	    (rc = prune(db, a, sql_rate, RATELIMIT_WINDOW_MAX, &n)) == UM_OK &&
	    (rc = prune(db, a, sql_device, 0, &n)) == UM_OK &&
	    (rc = prune(db, a, sql_networks, ALERT_SEEN_DAYS, &n)) == UM_OK &&
	    (rc = prune(db, a, sql_alerts, 0, &n)) == UM_OK &&
	    (rc = prune(db, a, sql_challenges, 0, &n)) == UM_OK &&
	    (rc = prune(db, a, sql_revocations, REVOCATION_KEEP_DAYS, &n)) == UM_OK &&
	    (rc = prune(db, a, sql_codes, 1, &n)) == UM_OK)
		rc = prune(db, a, sql_audit, c->audit_retention_days, &n);
	if (rc == UM_OK)
		rc = counts_fold(db, a);
	if (deleted != NULL)
		*deleted = n;
	return rc;
}
