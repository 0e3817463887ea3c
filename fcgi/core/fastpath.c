/* fastpath: the request side of the fast path — the revocation log read into the host's cache, and when cached answers may be used. */
#include "config.h"

#include "cache.h"
#include "conf.h"
#include "ctx.h"
#include "fastpath.h"
#include "log.h"
#include "revocation.h"

#define DAY_MS (24LL * 60 * 60 * 1000)

/* Forgetting is idempotent: a row applied twice costs a second drop, nothing else. */
static void
apply(struct cache *c, const struct revocation *r, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		switch (r[i].kind) {
		case REVOCATION_FAMILY: cache_family_drop(c, r[i].family_id); break;
		case REVOCATION_SESSION: cache_session_drop(c, r[i].session_hash); break;
		case REVOCATION_USER:
		case REVOCATION__MAX: cache_user_drop(c, r[i].user_id); break;
		}
}

/*
 * Starts over at the log's end with everything forgotten: for a segment never polled, and
 * for one whose last read is older than the log's retention (rows it missed may be gone).
 */
static enum um_err
restart(struct ctx *ctx, struct cache *c, long long *last)
{
	cache_flush(c);
	return revocation_head(ctx->db, ctx->arena, last);
}

/* One poll: the new rows, then the recent ones again; *last gets the new position. */
static enum um_err
read_log(struct ctx *ctx, struct cache *c, long long now, long long *last)
{
	struct revocation *rows;
	long long          pos = cache_log_position(c), ok = cache_poll_ok_ms(c);
	size_t             n;
	int                i;
	enum um_err        rc;

	if (ok < 0 || now - ok > REVOCATION_KEEP_DAYS * DAY_MS) {
		if ((rc = restart(ctx, c, &pos)) != UM_OK)
			return rc;
	} else
		for (i = 0;; i++) {
			if ((rc = revocation_read(ctx->db, ctx->arena, pos, REVOCATION_READ_MAX,
			         &rows, &n)) != UM_OK)
				return rc;
			apply(c, rows, n);
			if (n > 0)
				pos = rows[n - 1].id;
			if (n < REVOCATION_READ_MAX)
				break;
			/* Far behind (a burst of thousands): forgetting all is cheaper. */
			if (i + 1 == FASTPATH_BATCHES) {
				if ((rc = restart(ctx, c, &pos)) != UM_OK)
					return rc;
				break;
			}
		}
	/*
	 * Ids are taken at INSERT and seen at COMMIT: a row below pos may have committed
	 * after an earlier poll passed it.  Transactions are short (statements time out after
	 * 3 s), so reading the last FASTPATH_RECENT_S seconds again finds it.  More than a
	 * read's worth of recent rows: forget everything rather than guess.
	 */
	if ((rc = revocation_read_recent(ctx->db, ctx->arena, FASTPATH_RECENT_S, pos,
	         REVOCATION_READ_MAX, &rows, &n)) != UM_OK)
		return rc;
	if (n == REVOCATION_READ_MAX)
		cache_flush(c);
	else
		apply(c, rows, n);
	*last = pos;
	return UM_OK;
}

void
fastpath_poll(struct ctx *ctx)
{
	static int    failing; /* this process logged a failed poll and no success since */
	struct cache *c = ctx->cache;
	long long     now, last = 0;
	enum um_err   rc;

	if (c == NULL)
		return;
	now = cache_now_ms();
	if (!cache_poll_claim(c, now, ctx->conf->revocation_poll_ms))
		return;
	/*
	 * The poll counts as of its start: a row committed while it ran is read next time,
	 * and the trust bound is measured from here.
	 */
	if ((rc = read_log(ctx, c, now, &last)) == UM_OK) {
		cache_poll_done(c, last, now);
		if (failing)
			log_info("fastpath: the revocation log is read again");
		failing = 0;
		return;
	}
	cache_poll_failed(c);
	/* Once per outage, not every interval: MariaDB being down is logged elsewhere too. */
	if (!failing)
		log_warn("fastpath: cannot read the revocation log: %s", um_strerror(rc));
	failing = 1;
}

void
fastpath_apply_notes(struct ctx *ctx)
{
	const struct revocation *r;
	size_t                   n;
	int                      flush;

	if (ctx->cache == NULL)
		return;
	r = revocation_notes(ctx, &n, &flush);
	if (flush)
		cache_flush(ctx->cache);
	else
		apply(ctx->cache, r, n);
}

struct cache *
fastpath_cache(struct ctx *ctx)
{
	long long bound;

	if (ctx->cache == NULL)
		return NULL;
	bound = (long long)FASTPATH_TRUST_POLLS * ctx->conf->revocation_poll_ms;
	return cache_trusted(ctx->cache, cache_now_ms(), bound) ? ctx->cache : NULL;
}
