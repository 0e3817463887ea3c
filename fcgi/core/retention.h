/* retention: deletes what is kept only for a while (sent mail, old counters, old failed logins). */
#ifndef UM_RETENTION_H
#define UM_RETENTION_H

#include "error.h"

struct arena;
struct conf;
struct db;

#define RETENTION_INTERVAL 60    /* seconds between two prunes by the mailer */
#define RETENTION_BATCH    10000 /* rows per table per prune: no long lock on a big backlog */

/*
 * One prune, each table in its own statement: sent email_outbox rows whose sent_at is
 * more than USERMGR_OUTBOX_RETENTION_DAYS old, rate_limits windows that started more than
 * RATELIMIT_WINDOW_MAX ago, device_lockouts rows past their expires_at, revocations
 * rows more than REVOCATION_KEEP_DAYS old, and login_failed audit_events more than
 * USERMGR_AUDIT_RETENTION_DAYS old.  At most RETENTION_BATCH rows of each go per call; a
 * backlog goes over the next calls.  *deleted, when not NULL, gets the number of rows.
 */
enum um_err retention_prune(struct db *, struct arena *, const struct conf *,
    unsigned long long *);

#endif
