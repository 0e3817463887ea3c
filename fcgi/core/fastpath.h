/* fastpath: the request side of the fast path — the revocation log read into the host's cache, and when cached answers may be used. */
#ifndef UM_FASTPATH_H
#define UM_FASTPATH_H

struct cache;
struct ctx;

/* Rows this young are read again at every poll: they may have committed after it passed. */
#define FASTPATH_RECENT_S 10
/* Full reads one poll makes before it gives up catching up, flushes and starts at the head. */
#define FASTPATH_BATCHES 10
/* Polls' worth of time the log may stay unread before cached answers are not trusted. */
#define FASTPATH_TRUST_POLLS 5

/*
 * At the start of a request (and of each unit of the mailer's work): when this process
 * wins the host's poll claim, reads what the revocation log gained and applies it to the
 * cache.  Never waits for another process's poll; a failed read only leaves the cache to
 * go untrusted.  Does nothing without a cache.
 */
void fastpath_poll(struct ctx *);
/*
 * Applies what the current request wrote to the log (revocation_notes) to the cache: after
 * the commit, before the answer is sent, so a revocation holds on this host before the
 * client hears of it.
 */
void fastpath_apply_notes(struct ctx *);
/*
 * The cache to read and fill, or NULL: off, or the log unread for longer than
 * FASTPATH_TRUST_POLLS × USERMGR_REVOCATION_POLL_MS (fail closed: the database path).
 */
struct cache *fastpath_cache(struct ctx *);

#endif
