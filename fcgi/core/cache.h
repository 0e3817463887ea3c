/* cache: the host-local cache the workers share — users, refresh families, browser sessions in one mapped file. */
#ifndef UM_CACHE_H
#define UM_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "bounds.h"

struct cache;
struct session;
struct user;

/*
 * The file format's stable prefix: the 8 bytes CACHE_MAGIC, then the layout version as a
 * 32-bit number in host order.  A segment with anything else there is foreign and rebuilt.
 * A change of any layout below takes a new version (docs/DECISIONS.md "Fast path: the
 * shared cache").
 */
#define CACHE_MAGIC          "UMCACHE" /* 8 bytes with the NUL */
#define CACHE_LAYOUT_VERSION 2

#define CACHE_TIME_MAX    32 /* bytes of an RFC 3339 time as MariaDB writes it, NUL included */
#define CACHE_PROFILE_MAX 1024 /* display name and bio of a user together, both NULs included */
#define CACHE_DISPLAY_MAX (UM_DISPLAY_NAME_MAX * 4 + 1) /* bytes: 100 code points of UTF-8 */
#define CACHE_ROLES_MAX   512 /* bytes of a session's comma-separated role names, NUL included */

/*
 * What the cache keeps of an account: what a bearer check needs and what GET /api/v1/me
 * answers — never the password hash.  has_profile 0 means display_name and bio did not fit
 * (CACHE_PROFILE_MAX) and are not here: /api/v1/me asks the database, a bearer check does not
 * need them.
 */
struct cache_user {
	long long id;
	long long token_version;
	int       active; /* status "active" */
	int       email_verified;
	int       mfa_enabled;
	int       has_last_login;   /* last_login_at is set; else it is NULL in the database */
	int       has_profile;      /* display_name and bio below are the account's */
	int       has_display_name; /* with has_profile: display_name is set, else NULL */
	int       has_bio;          /* with has_profile: bio is set, else NULL */
	char      username[UM_USERNAME_MAX + 1];
	char      email[UM_EMAIL_MAX + 1];
	char      created_at[CACHE_TIME_MAX];
	char      updated_at[CACHE_TIME_MAX];
	char      last_login_at[CACHE_TIME_MAX];
	char      display_name[CACHE_PROFILE_MAX];
	char      bio[CACHE_PROFILE_MAX];
};

/* A refresh-token family (an API session): whether it is still alive, and whose it is. */
struct cache_family {
	long long sid;
	long long user_id;
	int       alive;
};

/* A browser session by the SHA-256 of its cookie: what session_find returns, and its times. */
struct cache_session {
	unsigned char hash[32];
	long long     id;
	long long     user_id;
	int           remember;
	int           mfa_pending;
	int           has_display_name;
	unsigned char csrf_seed[32];
	char          username[UM_USERNAME_MAX + 1];
	char          email[UM_EMAIL_MAX + 1];
	char          display_name[CACHE_DISPLAY_MAX];
	char          roles[CACHE_ROLES_MAX];
	long long     expires_at;   /* epoch seconds */
	long long     last_seen_at; /* epoch seconds */
};

/* What a fill did; only CACHE_FILLED stored anything. */
enum cache_fill {
	CACHE_FILLED = 0, /* stored: readers hit until a drop */
	CACHE_OFF,        /* no cache (USERMGR_CACHE_MB=0, unusable file): nothing to do */
	CACHE_TOO_BIG, /* a value does not fit its fixed-size entry: take the database path */
	CACHE_STALE,   /* a drop happened since the caller's cache_epoch(): not stored */
	CACHE_BUSY,    /* another writer held the bucket: not stored (a fill is optional) */
	CACHE__MAX
};

/* Counters for /metrics; all zero with enabled 0 when there is no cache. */
struct cache_stats {
	int                enabled;        /* a segment is attached */
	unsigned long long hits;           /* gets that returned an entry */
	unsigned long long misses;         /* gets that did not */
	unsigned long long fills;          /* entries stored */
	unsigned long long drops;          /* invalidations (drops and flushes) */
	unsigned long long fill_conflicts; /* fills refused: stale epoch or busy bucket */
	unsigned long long fail_closed;    /* cache_trusted turning from 1 to 0 */
	unsigned long long rebuilds;       /* segments built over a corrupt or foreign one */
	size_t             entries;        /* valid entries, counted now (approximate) */
	long long          log_position;   /* cache_log_position() */
};

/*
 * A handle on the segment at path (USERMGR_CACHE_FILE) of about bytes (USERMGR_CACHE_MB).
 * bytes 0 is no cache: NULL is returned, and every function here takes NULL as a cache that
 * is off — every get misses, fills and drops do nothing, no file is made.  Nothing is opened
 * until the first call that needs the segment, so check-config, which loads the runtime as
 * whoever runs it, never creates a file the workers would then refuse as another user's.  A
 * file that cannot be used is logged once and the handle stays off: never fatal.  The caller
 * owns the handle and closes it with cache_close().
 */
struct cache *cache_open(const char *path, size_t bytes);
void          cache_close(struct cache *); /* accepts NULL; the file stays for the others */
/* 1 when a segment is attached (attaching now if needed), 0 when the cache is off. */
int cache_enabled(struct cache *);

/*
 * The global epoch, to read BEFORE the database read whose result is then filled: a fill
 * whose epoch moved meanwhile is refused (CACHE_STALE), so no fill racing a drop survives.
 */
uint64_t cache_epoch(struct cache *);

/* Gets: 1 and *out filled on a hit, 0 on a miss.  Lock-free; never wait for a writer. */
int cache_user_get(struct cache *, long long, struct cache_user *);
int cache_family_get(struct cache *, long long, struct cache_family *);
int cache_session_get(struct cache *, const unsigned char[32], struct cache_session *);

/*
 * Fills, with the epoch read before the database read: the user as user_by_id returned it;
 * the family (sid, user_id, alive); the session as session_find returned it, with its expiry
 * and last use (epoch seconds).  A family or session entry dies with any drop of its user.
 */
enum cache_fill cache_user_fill(struct cache *, uint64_t, const struct user *);
enum cache_fill cache_family_fill(struct cache *, uint64_t, long long, long long, int);
enum cache_fill cache_session_fill(struct cache *, uint64_t, const struct session *, long long,
    long long);

/*
 * Drops, after the database change is committed: never block, never fail.  Dropping a user
 * also drops every family and session entry filled for it.
 */
void cache_user_drop(struct cache *, long long);
void cache_family_drop(struct cache *, long long);
void cache_session_drop(struct cache *, const unsigned char[32]);
/* Drops everything. */
void cache_flush(struct cache *);

/* The counters, and the entries counted now. */
void cache_stats(struct cache *, struct cache_stats *);

/*
 * The revocation-log poll state, shared by the workers of the segment.  Times are
 * milliseconds of cache_now_ms(), a clock every process of the host shares.
 *
 * cache_poll_claim: 1 (and the claim is the caller's) when the last poll attempt started at
 * least interval ms ago and nobody holds a claim younger than 5 × interval (a worker that
 * died polling does not stop polling); else 0.  The claimant then calls cache_poll_done with
 * the last log id it applied, or cache_poll_failed.
 */
long long cache_now_ms(void);
int       cache_poll_claim(struct cache *, long long, long long);
void      cache_poll_done(struct cache *, long long, long long);
void      cache_poll_failed(struct cache *);
/* The last log id applied to this segment; 0 before the first poll. */
long long cache_log_position(struct cache *);
/* When the last successful poll started (cache_now_ms()); -1 before the first, or off. */
long long cache_poll_ok_ms(struct cache *);
/*
 * 1 when the last successful poll is at most bound ms old at now; 0 otherwise, and then
 * callers bypass the cache (fail closed).  Each turn from trusted to untrusted is counted.
 */
int cache_trusted(struct cache *, long long, long long);

/*
 * For tests only (tests/unit/test_cache.c).  cache_test_set_counters sets every bucket's
 * sequence word (even) and generation, and the epoch, flush and fill-stamp counters, of the
 * attached segment, to show wrap-around; nobody else may write meanwhile.
 * cache_test_retired says whether the segment the handle has mapped now is marked retired
 * (-1: none mapped), without re-attaching.  CACHE_TEST_HEADER_SIZE: where the buckets start.
 */
#define CACHE_TEST_HEADER_SIZE 4096
void cache_test_set_counters(struct cache *, uint32_t, uint64_t);
int  cache_test_retired(struct cache *);

#endif
