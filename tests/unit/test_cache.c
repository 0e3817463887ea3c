/* test_cache: the shared cache — semantics, several processes against a model, wrap-around, corruption, poll state. */
#include "config.h"

#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <check.h>
#include <sodium.h>

#include "cache.h"
#include "session.h"
#include "unit.h"
#include "user.h"

#define SMALL  (80 * 1024)       /* a few buckets per table: collisions and replacement */
#define ONE_MB (1024 * 1024)     /* 64 user buckets */
#define BIG    (8 * 1024 * 1024) /* 20 entries never fill one bucket's 4 ways */

/* A scratch directory per test, and the segment's path in it. */
struct scratch {
	char dir[64];
	char path[96];
};

static void
scratch_new(struct scratch *s)
{
	(void)snprintf(s->dir, sizeof(s->dir), "/tmp/um-cache-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(s->dir));
	(void)snprintf(s->path, sizeof(s->path), "%s/seg", s->dir);
}

static void
scratch_free(struct scratch *s)
{
	char cmd[128];

	(void)snprintf(cmd, sizeof(cmd), "rm -rf '%s'", s->dir);
	ck_assert_int_eq(system(cmd), 0);
}

/* A user as user_by_id would return it; strings in *buf. */
struct user_buf {
	char username[64], email[320];
};

static void
make_user(struct user *u, struct user_buf *b, long long id, long long version)
{
	memset(u, 0, sizeof(*u));
	(void)snprintf(b->username, sizeof(b->username), "u%lld-%lld", id, version);
	(void)snprintf(b->email, sizeof(b->email), "u%lld-%lld@example.org", id, version);
	u->id = id;
	u->username = b->username;
	u->email = b->email;
	u->password_hash = "$argon2id$never-cached";
	u->status = "active";
	u->email_verified = 1;
	u->token_version = version;
	u->created_at = "2026-12-01T10:00:00Z";
	u->updated_at = "2026-12-02T11:00:00Z";
}

/* Fills user id at version under a fresh epoch, as a caller with nothing racing it would. */
static enum cache_fill
fill_user(struct cache *c, long long id, long long version)
{
	struct user     u;
	struct user_buf b;

	make_user(&u, &b, id, version);
	return cache_user_fill(c, cache_epoch(c), &u);
}

static void
session_hash(long long k, unsigned char hash[32])
{
	crypto_generichash(hash, 32, (const unsigned char *)&k, sizeof(k), NULL, 0);
}

static void
make_session(struct session *s, struct user_buf *b, long long k, long long user_id,
    long long version)
{
	memset(s, 0, sizeof(*s));
	(void)snprintf(b->username, sizeof(b->username), "u%lld-%lld", user_id, version);
	(void)snprintf(b->email, sizeof(b->email), "u%lld@example.org", user_id);
	session_hash(k, s->hash);
	memset(s->csrf_seed, (int)(k & 0xff), sizeof(s->csrf_seed));
	s->id = k;
	s->user_id = user_id;
	s->username = b->username;
	s->email = b->email;
	s->roles = "admin,user";
	s->remember = 1;
}

START_TEST(test_a_user_reads_back_as_filled_until_it_is_dropped)
{
	struct scratch    sc;
	struct cache     *c;
	struct user       u;
	struct user_buf   b;
	struct cache_user cu;
	uint64_t          e;

	scratch_new(&sc);
	c = cache_open(sc.path, ONE_MB);
	ck_assert_int_eq(cache_user_get(c, 7, &cu), 0);
	make_user(&u, &b, 7, 3);
	u.mfa_enabled = 1;
	u.last_login_at = "2026-12-03T12:00:00Z";
	u.display_name = "Seven";
	e = cache_epoch(c);
	ck_assert_int_eq(cache_user_fill(c, e, &u), CACHE_FILLED);
	ck_assert_int_eq(cache_user_get(c, 7, &cu), 1);
	ck_assert_int_eq(cu.id, 7);
	ck_assert_int_eq(cu.token_version, 3);
	ck_assert_int_eq(cu.active, 1);
	ck_assert_int_eq(cu.email_verified, 1);
	ck_assert_int_eq(cu.mfa_enabled, 1);
	ck_assert_str_eq(cu.username, "u7-3");
	ck_assert_str_eq(cu.email, "u7-3@example.org");
	ck_assert_str_eq(cu.created_at, "2026-12-01T10:00:00Z");
	ck_assert_str_eq(cu.updated_at, "2026-12-02T11:00:00Z");
	ck_assert_int_eq(cu.has_last_login, 1);
	ck_assert_str_eq(cu.last_login_at, "2026-12-03T12:00:00Z");
	ck_assert_int_eq(cu.has_profile, 1);
	ck_assert_int_eq(cu.has_display_name, 1);
	ck_assert_str_eq(cu.display_name, "Seven");
	ck_assert_int_eq(cu.has_bio, 0);
	ck_assert_int_eq(cache_user_get(c, 8, &cu), 0);
	/* A disabled account is cached as such: the bearer check refuses it without the database. */
	u.id = 8;
	u.status = "disabled";
	ck_assert_int_eq(cache_user_fill(c, cache_epoch(c), &u), CACHE_FILLED);
	ck_assert_int_eq(cache_user_get(c, 8, &cu), 1);
	ck_assert_int_eq(cu.active, 0);
	cache_user_drop(c, 7);
	ck_assert_int_eq(cache_user_get(c, 7, &cu), 0);
	cache_close(c);
	scratch_free(&sc);
}
END_TEST

START_TEST(test_a_fill_with_an_epoch_read_before_a_drop_is_refused)
{
	struct scratch       sc;
	struct cache        *c;
	struct user          u;
	struct user_buf      b;
	struct session       s;
	struct cache_user    cu;
	struct cache_session cs;
	struct cache_stats   st;
	uint64_t             e;

	scratch_new(&sc);
	c = cache_open(sc.path, ONE_MB);
	make_user(&u, &b, 1, 1);
	e = cache_epoch(c);     /* the caller's database read would start here */
	cache_user_drop(c, 99); /* any drop, of anything, meanwhile */
	ck_assert_int_eq(cache_user_fill(c, e, &u), CACHE_STALE);
	ck_assert_int_eq(cache_user_get(c, 1, &cu), 0);
	make_session(&s, &b, 5, 1, 1);
	ck_assert_int_eq(cache_session_fill(c, e, &s, 100, 50), CACHE_STALE);
	ck_assert_int_eq(cache_family_fill(c, e, 9, 1, 1), CACHE_STALE);
	ck_assert_int_eq(cache_session_get(c, s.hash, &cs), 0);
	cache_stats(c, &st);
	ck_assert_uint_eq(st.fill_conflicts, 3);
	ck_assert_uint_eq(st.fills, 0);
	ck_assert_uint_eq(st.drops, 1);
	/* With the epoch read after the drop, the same fill is stored. */
	ck_assert_int_eq(cache_user_fill(c, cache_epoch(c), &u), CACHE_FILLED);
	ck_assert_int_eq(cache_user_get(c, 1, &cu), 1);
	cache_close(c);
	scratch_free(&sc);
}
END_TEST

/*
 * A user whose bucket is not id's (buckets hash under the segment's random key): a drop of
 * id leaves that user's entries alone.  Found by trying: fill both, drop id, see who stays.
 */
static long long
other_bucket_user(struct cache *c, long long id)
{
	struct cache_user cu;
	long long         x;

	for (x = id + 1; x < id + 100; x++) {
		ck_assert_int_eq(fill_user(c, x, 1), CACHE_FILLED);
		cache_user_drop(c, id);
		if (cache_user_get(c, x, &cu))
			return x;
	}
	ck_abort_msg("no user outside the bucket of %lld", id);
	return 0;
}

START_TEST(test_families_and_sessions_read_back_and_die_with_their_user)
{
	struct scratch       sc;
	struct cache        *c;
	struct session       s, s2;
	struct user_buf      b, b2;
	struct cache_session cs;
	struct cache_family  cf;
	unsigned char        seed[32];

	scratch_new(&sc);
	c = cache_open(sc.path, ONE_MB);
	make_session(&s, &b, 5, 42, 1);
	s.mfa_pending = 1;
	s.display_name = "Forty-two";
	make_session(&s2, &b2, 6, other_bucket_user(c, 42), 1);
	ck_assert_int_eq(cache_session_fill(c, cache_epoch(c), &s, 1800000000, 1700000000),
	    CACHE_FILLED);
	ck_assert_int_eq(cache_session_fill(c, cache_epoch(c), &s2, 1, 2), CACHE_FILLED);
	ck_assert_int_eq(cache_family_fill(c, cache_epoch(c), 900, 42, 1), CACHE_FILLED);
	ck_assert_int_eq(cache_family_fill(c, cache_epoch(c), 901, 42, 0), CACHE_FILLED);
	ck_assert_int_eq(cache_session_get(c, s.hash, &cs), 1);
	ck_assert_int_eq(cs.id, 5);
	ck_assert_int_eq(cs.user_id, 42);
	ck_assert_int_eq(cs.remember, 1);
	ck_assert_int_eq(cs.mfa_pending, 1);
	ck_assert_int_eq(cs.has_display_name, 1);
	ck_assert_str_eq(cs.display_name, "Forty-two");
	ck_assert_str_eq(cs.username, "u42-1");
	ck_assert_int_eq(cs.has_display_name, 1);
	ck_assert_str_eq(cs.email, "u42@example.org");
	ck_assert_str_eq(cs.roles, "admin,user");
	memset(seed, 5, sizeof(seed));
	ck_assert_mem_eq(cs.csrf_seed, seed, 32);
	ck_assert_mem_eq(cs.hash, s.hash, 32);
	ck_assert_int_eq(cs.expires_at, 1800000000);
	ck_assert_int_eq(cs.last_seen_at, 1700000000);
	ck_assert_int_eq(cache_family_get(c, 900, &cf), 1);
	ck_assert_int_eq(cf.sid, 900);
	ck_assert_int_eq(cf.user_id, 42);
	ck_assert_int_eq(cf.alive, 1);
	ck_assert_int_eq(cache_family_get(c, 901, &cf), 1);
	ck_assert_int_eq(cf.alive, 0);
	/* Dropping one family leaves the session; dropping the user ends all of its entries. */
	cache_family_drop(c, 900);
	ck_assert_int_eq(cache_family_get(c, 900, &cf), 0);
	ck_assert_int_eq(cache_session_get(c, s.hash, &cs), 1);
	cache_user_drop(c, 42);
	ck_assert_int_eq(cache_session_get(c, s.hash, &cs), 0);
	ck_assert_int_eq(cache_family_get(c, 901, &cf), 0);
	/* The session of a user of another bucket lives on. */
	ck_assert_int_eq(cache_session_get(c, s2.hash, &cs), 1);
	cache_session_drop(c, s2.hash);
	ck_assert_int_eq(cache_session_get(c, s2.hash, &cs), 0);
	cache_close(c);
	scratch_free(&sc);
}
END_TEST

START_TEST(test_a_flush_drops_everything)
{
	struct scratch       sc;
	struct cache        *c;
	struct user_buf      b;
	struct session       s;
	struct cache_user    cu;
	struct cache_session cs;
	struct cache_family  cf;
	struct cache_stats   st;
	long long            i;

	scratch_new(&sc);
	c = cache_open(sc.path, BIG);
	for (i = 1; i <= 20; i++) {
		ck_assert_int_eq(fill_user(c, i, 1), CACHE_FILLED);
	}
	make_session(&s, &b, 1, 1, 1);
	ck_assert_int_eq(cache_session_fill(c, cache_epoch(c), &s, 1, 1), CACHE_FILLED);
	ck_assert_int_eq(cache_family_fill(c, cache_epoch(c), 3, 1, 1), CACHE_FILLED);
	cache_stats(c, &st);
	ck_assert_uint_eq(st.entries, 22);
	cache_flush(c);
	for (i = 1; i <= 20; i++)
		ck_assert_int_eq(cache_user_get(c, i, &cu), 0);
	ck_assert_int_eq(cache_session_get(c, s.hash, &cs), 0);
	ck_assert_int_eq(cache_family_get(c, 3, &cf), 0);
	cache_stats(c, &st);
	ck_assert_uint_eq(st.entries, 0);
	ck_assert_int_eq(fill_user(c, 1, 2), CACHE_FILLED);
	ck_assert_int_eq(cache_user_get(c, 1, &cu), 1);
	ck_assert_int_eq(cu.token_version, 2);
	cache_close(c);
	scratch_free(&sc);
}
END_TEST

START_TEST(test_values_that_do_not_fit_are_not_cached)
{
	struct scratch       sc;
	struct cache        *c;
	struct user          u;
	struct user_buf      b;
	struct session       s;
	struct cache_user    cu;
	struct cache_session cs;
	char                 big[1200];

	scratch_new(&sc);
	c = cache_open(sc.path, ONE_MB);
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	make_user(&u, &b, 1, 1);
	big[UM_EMAIL_MAX + 1] = '\0'; /* one byte over RFC 5321's 254 */
	u.email = big;
	ck_assert_int_eq(cache_user_fill(c, cache_epoch(c), &u), CACHE_TOO_BIG);
	ck_assert_int_eq(cache_user_get(c, 1, &cu), 0);
	make_user(&u, &b, 1, 1);
	big[UM_EMAIL_MAX + 1] = 'a';
	big[UM_USERNAME_MAX + 1] = '\0';
	u.username = big;
	ck_assert_int_eq(cache_user_fill(c, cache_epoch(c), &u), CACHE_TOO_BIG);
	big[UM_USERNAME_MAX + 1] = 'a';
	make_session(&s, &b, 1, 1, 1);
	big[CACHE_ROLES_MAX] = '\0';
	s.roles = big;
	ck_assert_int_eq(cache_session_fill(c, cache_epoch(c), &s, 1, 1), CACHE_TOO_BIG);
	ck_assert_int_eq(cache_session_get(c, s.hash, &cs), 0);
	big[CACHE_ROLES_MAX - 1] = '\0'; /* 511 bytes and the NUL fit */
	ck_assert_int_eq(cache_session_fill(c, cache_epoch(c), &s, 1, 1), CACHE_FILLED);
	ck_assert_int_eq(cache_session_get(c, s.hash, &cs), 1);
	ck_assert_uint_eq(strlen(cs.roles), CACHE_ROLES_MAX - 1);
	cache_close(c);
	scratch_free(&sc);
}
END_TEST

START_TEST(test_the_profile_is_kept_only_when_display_name_and_bio_fit_together)
{
	struct scratch    sc;
	struct cache     *c;
	struct user       u;
	struct user_buf   b;
	struct cache_user cu;
	char              bio[3001];
	size_t            i;

	scratch_new(&sc);
	c = cache_open(sc.path, ONE_MB);
	/* 1000 code points of three bytes each: a valid bio that does not fit 1 KiB. */
	for (i = 0; i + 3 < sizeof(bio); i += 3)
		memcpy(bio + i, "\xe2\x82\xac", 3);
	bio[i] = '\0';
	make_user(&u, &b, 1, 1);
	u.display_name = "Name";
	u.bio = bio;
	ck_assert_int_eq(cache_user_fill(c, cache_epoch(c), &u), CACHE_FILLED);
	ck_assert_int_eq(cache_user_get(c, 1, &cu), 1);
	ck_assert_int_eq(cu.has_profile, 0); /* /api/v1/me asks the database */
	ck_assert_str_eq(cu.display_name, "");
	ck_assert_int_eq(cu.token_version, 1); /* the bearer check still hits */
	/* 1024 bytes of area: name and bio with their NULs, exactly. */
	bio[CACHE_PROFILE_MAX - 2 - 4] = '\0';
	ck_assert_int_eq(cache_user_fill(c, cache_epoch(c), &u), CACHE_FILLED);
	ck_assert_int_eq(cache_user_get(c, 1, &cu), 1);
	ck_assert_int_eq(cu.has_profile, 1);
	ck_assert_str_eq(cu.display_name, "Name");
	ck_assert_uint_eq(strlen(cu.bio), CACHE_PROFILE_MAX - 6);
	bio[CACHE_PROFILE_MAX - 2 - 4] = 'x';
	bio[CACHE_PROFILE_MAX - 2 - 3] = '\0';
	ck_assert_int_eq(cache_user_fill(c, cache_epoch(c), &u), CACHE_FILLED);
	ck_assert_int_eq(cache_user_get(c, 1, &cu), 1);
	ck_assert_int_eq(cu.has_profile, 0);
	/* NULL and "" stay apart. */
	u.display_name = NULL;
	u.bio = "";
	ck_assert_int_eq(cache_user_fill(c, cache_epoch(c), &u), CACHE_FILLED);
	ck_assert_int_eq(cache_user_get(c, 1, &cu), 1);
	ck_assert_int_eq(cu.has_profile, 1);
	ck_assert_int_eq(cu.has_display_name, 0);
	ck_assert_int_eq(cu.has_bio, 1);
	ck_assert_str_eq(cu.bio, "");
	cache_close(c);
	scratch_free(&sc);
}
END_TEST

/* More users than ways: replacement evicts, what stays reads back right, nothing else. */
START_TEST(test_a_full_table_replaces_old_entries_and_serves_the_rest)
{
	struct scratch     sc;
	struct cache      *c;
	struct cache_user  cu;
	struct cache_stats st;
	long long          i;
	int                hits = 0;

	scratch_new(&sc);
	c = cache_open(sc.path, SMALL);
	for (i = 1; i <= 200; i++) {
		ck_assert_int_eq(fill_user(c, i, i * 10), CACHE_FILLED);
	}
	for (i = 1; i <= 200; i++)
		if (cache_user_get(c, i, &cu)) {
			hits++;
			ck_assert_int_eq(cu.id, i);
			ck_assert_int_eq(cu.token_version, i * 10);
		}
	cache_stats(c, &st);
	ck_assert_int_gt(hits, 0);
	ck_assert_int_lt(hits, 200);
	ck_assert_uint_eq(st.entries, (size_t)hits);
	/* The newest fill of every bucket survives: the last one is always there. */
	ck_assert_int_eq(cache_user_get(c, 200, &cu), 1);
	cache_close(c);
	scratch_free(&sc);
}
END_TEST

/*
 * The model: db[k] is the "database" version of key k; done[k] the highest version whose
 * drop has completed.  Writers bump db, drop, then publish done.  Fillers read the epoch,
 * then db (their "database read"), then fill.  A reader reads done, then gets: a hit older
 * than that is a stale read the protocol promised away; a hit newer than db is garbage;
 * a username that does not spell its id and version is a torn copy.
 */
#define NPROC  4
#define NKEYS  24
#define RUN_MS 2000
struct model {
	_Atomic uint64_t db[NKEYS + 1], done[NKEYS + 1];
	_Atomic uint64_t ops, hits, session_hits, fills, stale, violations, torn, go;
};

static uint64_t
next(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

static void
publish(_Atomic uint64_t *done, uint64_t v)
{
	uint64_t cur = atomic_load(done);

	while (cur < v && !atomic_compare_exchange_weak(done, &cur, v))
		;
}

static void
check_hit(struct model *m, long long k, uint64_t before, uint64_t v, const char *name)
{
	char want[64];

	(void)snprintf(want, sizeof(want), "u%lld-%llu", k, (unsigned long long)v);
	if (v < before || v > atomic_load(&m->db[k]))
		atomic_fetch_add(&m->violations, 1);
	if (strcmp(name, want) != 0)
		atomic_fetch_add(&m->torn, 1);
}

static void
model_step(struct cache *c, struct model *m, uint64_t *x)
{
	unsigned             op = (unsigned)(next(x) % 100);
	long long            k = (long long)(next(x) % NKEYS) + 1;
	struct user          u;
	struct session       s;
	struct user_buf      b;
	struct cache_user    cu;
	struct cache_session cs;
	unsigned char        hash[32];
	uint64_t             e, v;

	if (op < 10) {
		v = atomic_fetch_add(&m->db[k], 1) + 1;
		cache_user_drop(c, k);
		publish(&m->done[k], v);
	} else if (op < 45) {
		e = cache_epoch(c);
		v = atomic_load(&m->db[k]);
		if (op < 35) {
			make_user(&u, &b, k, (long long)v);
			v = cache_user_fill(c, e, &u);
		} else {
			/* The session's last_seen_at carries the version its user had. */
			make_session(&s, &b, k, k, (long long)v);
			v = cache_session_fill(c, e, &s, 0, (long long)v);
		}
		atomic_fetch_add(v == CACHE_FILLED ? &m->fills : &m->stale, 1);
	} else if (op < 80) {
		v = atomic_load(&m->done[k]);
		if (cache_user_get(c, k, &cu)) {
			atomic_fetch_add(&m->hits, 1);
			check_hit(m, k, v, (uint64_t)cu.token_version, cu.username);
		}
	} else {
		v = atomic_load(&m->done[k]);
		session_hash(k, hash);
		if (cache_session_get(c, hash, &cs)) {
			atomic_fetch_add(&m->session_hits, 1);
			check_hit(m, k, v, (uint64_t)cs.last_seen_at, cs.username);
		}
	}
	atomic_fetch_add(&m->ops, 1);
}

static void
model_child(const char *path, struct model *m, int i)
{
	struct cache *c;
	uint64_t      x;
	long long     end;

	randombytes_buf(&x, sizeof(x));
	x |= 1;
	while (atomic_load(&m->go) == 0)
		;
	/* Every child opens the path at once: one creates the segment, the others attach. */
	c = cache_open(path, SMALL);
	end = cache_now_ms() + RUN_MS;
	while (cache_now_ms() < end)
		for (i = 0; i < 64; i++)
			model_step(c, m, &x);
	cache_close(c);
	_exit(0);
}

START_TEST(test_several_processes_never_read_an_entry_older_than_a_completed_drop)
{
	struct scratch     sc;
	struct model      *m;
	struct cache      *c;
	struct cache_stats st;
	pid_t              pid[NPROC];
	uint64_t           ops, hits, shits, fills, stale, bad, torn;
	int                i, status;

	scratch_new(&sc);
	m = mmap(NULL, sizeof(*m), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ck_assert_ptr_ne(m, MAP_FAILED);
	memset(m, 0, sizeof(*m));
	for (i = 0; i < NPROC; i++) {
		ck_assert_int_ge(pid[i] = fork(), 0);
		if (pid[i] == 0)
			model_child(sc.path, m, i);
	}
	atomic_store(&m->go, 1);
	for (i = 0; i < NPROC; i++) {
		ck_assert_int_eq(waitpid(pid[i], &status, 0), pid[i]);
		ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child %d failed",
		    i);
	}
	c = cache_open(sc.path, SMALL);
	cache_stats(c, &st);
	ops = atomic_load(&m->ops);
	hits = atomic_load(&m->hits);
	shits = atomic_load(&m->session_hits);
	fills = atomic_load(&m->fills);
	stale = atomic_load(&m->stale);
	bad = atomic_load(&m->violations);
	torn = atomic_load(&m->torn);
	printf("cache model: %llu operations, %llu user hits, %llu session hits, %llu fills, "
	       "%llu fills refused, %llu violations, %llu torn; segment: %llu drops, %llu "
	       "conflicts, %llu rebuilds\n",
	    (unsigned long long)ops, (unsigned long long)hits, (unsigned long long)shits,
	    (unsigned long long)fills, (unsigned long long)stale, (unsigned long long)bad,
	    (unsigned long long)torn, st.drops, st.fill_conflicts, st.rebuilds);
	ck_assert_uint_eq(bad, 0);
	ck_assert_uint_eq(torn, 0);
	ck_assert_uint_gt(hits, 1000);
	ck_assert_uint_gt(shits, 100);
	ck_assert_uint_gt(stale, 0); /* the race the protocol closes happened */
	/* One segment for all four: nothing was rebuilt, every fill and drop counted in it. */
	ck_assert_uint_eq(st.rebuilds, 0);
	ck_assert_uint_eq(st.fills, fills);
	cache_close(c);
	(void)munmap(m, sizeof(*m));
	scratch_free(&sc);
}
END_TEST

START_TEST(test_counters_near_their_maximum_wrap_without_harm)
{
	struct scratch       sc;
	struct cache        *c;
	struct user          u;
	struct user_buf      b;
	struct session       s;
	struct cache_user    cu;
	struct cache_session cs;
	uint64_t             e;
	long long            r;

	scratch_new(&sc);
	c = cache_open(sc.path, SMALL);
	ck_assert_int_eq(cache_enabled(c), 1);
	cache_test_set_counters(c, UINT32_MAX - 3, UINT64_MAX - 2);
	ck_assert_uint_eq(cache_epoch(c), UINT64_MAX - 2);
	/* Each round: 3 fills (sequence + 6), 1 drop (epoch and generation + 1). */
	for (r = 1; r <= 6; r++) {
		e = cache_epoch(c);
		make_user(&u, &b, 1, r);
		ck_assert_int_eq(cache_user_fill(c, e, &u), CACHE_FILLED);
		make_session(&s, &b, 1, 1, r);
		ck_assert_int_eq(cache_session_fill(c, e, &s, 1, r), CACHE_FILLED);
		ck_assert_int_eq(cache_family_fill(c, e, 1, 1, 1), CACHE_FILLED);
		ck_assert_int_eq(cache_user_get(c, 1, &cu), 1);
		ck_assert_int_eq(cu.token_version, r);
		ck_assert_int_eq(cache_session_get(c, s.hash, &cs), 1);
		ck_assert_int_eq(cs.last_seen_at, r);
		cache_user_drop(c, 1);
		ck_assert_int_eq(cache_user_get(c, 1, &cu), 0);
		ck_assert_int_eq(cache_session_get(c, s.hash, &cs), 0);
		ck_assert_int_eq(cache_user_fill(c, e, &u), CACHE_STALE);
	}
	ck_assert_uint_eq(cache_epoch(c), 3); /* UINT64_MAX - 2 + 6, modulo 2^64 */
	cache_close(c);
	scratch_free(&sc);
}
END_TEST

/* Writes n random bytes at off of the file. */
static void
scribble(const char *path, off_t off, size_t n)
{
	unsigned char buf[4096];
	size_t        k;
	int           fd;

	ck_assert_int_ge(fd = open(path, O_WRONLY), 0);
	for (; n > 0; n -= k, off += (off_t)k) {
		k = n < sizeof(buf) ? n : sizeof(buf);
		randombytes_buf(buf, k);
		ck_assert_int_eq(pwrite(fd, buf, k, off), (ssize_t)k);
	}
	close(fd);
}

static off_t
file_size(const char *path)
{
	struct stat st;

	ck_assert_int_eq(stat(path, &st), 0);
	return st.st_size;
}

static ino_t
file_ino(const char *path)
{
	struct stat st;

	ck_assert_int_eq(stat(path, &st), 0);
	return st.st_ino;
}

START_TEST(test_garbage_over_the_buckets_never_reads_as_a_hit)
{
	struct scratch    sc;
	struct cache     *c;
	struct cache_user cu;
	long long         i;

	scratch_new(&sc);
	c = cache_open(sc.path, ONE_MB);
	for (i = 1; i <= 100; i++) {
		ck_assert_int_eq(fill_user(c, i, 1), CACHE_FILLED);
		ck_assert_int_eq(cache_user_get(c, i, &cu), 1);
	}
	scribble(sc.path, CACHE_TEST_HEADER_SIZE,
	    (size_t)(file_size(sc.path) - CACHE_TEST_HEADER_SIZE));
	for (i = 1; i <= 100; i++)
		ck_assert_int_eq(cache_user_get(c, i, &cu), 0);
	/* Buckets whose lock word is now garbage are taken over: fills work again. */
	for (i = 1; i <= 100; i++) {
		ck_assert_int_eq(fill_user(c, i, 2), CACHE_FILLED);
		ck_assert_int_eq(cache_user_get(c, i, &cu), 1);
		ck_assert_int_eq(cu.token_version, 2);
	}
	cache_close(c);
	scratch_free(&sc);
}
END_TEST

START_TEST(test_garbage_over_the_header_is_rebuilt_and_attached_handles_follow)
{
	struct scratch     sc;
	struct cache      *a, *b2;
	struct cache_user  cu;
	struct cache_stats st;
	ino_t              old;

	scratch_new(&sc);
	a = cache_open(sc.path, ONE_MB);
	ck_assert_int_eq(fill_user(a, 1, 1), CACHE_FILLED);
	old = file_ino(sc.path);
	scribble(sc.path, 0, 128);
	/* The next open finds it foreign, builds a new file over it, and retires the old. */
	b2 = cache_open(sc.path, ONE_MB);
	ck_assert_int_eq(cache_enabled(b2), 1);
	cache_stats(b2, &st);
	ck_assert_uint_eq(st.rebuilds, 1);
	ck_assert_uint_eq(st.entries, 0);
	ck_assert_uint_ne(file_ino(sc.path), old);
	ck_assert_int_eq(cache_test_retired(a), 1);
	/* The attached handle misses, re-attaches, and shares the new segment. */
	ck_assert_int_eq(cache_user_get(a, 1, &cu), 0);
	ck_assert_int_eq(cache_test_retired(a), 0);
	ck_assert_int_eq(fill_user(a, 2, 1), CACHE_FILLED);
	ck_assert_int_eq(cache_user_get(b2, 2, &cu), 1);
	/* Garbage again, now found by an attached handle itself, which rebuilds. */
	scribble(sc.path, 0, 128);
	ck_assert_int_eq(cache_user_get(a, 2, &cu), 0);
	ck_assert_int_eq(cache_enabled(a), 1);
	ck_assert_int_eq(fill_user(a, 3, 1), CACHE_FILLED);
	ck_assert_int_eq(cache_user_get(b2, 3, &cu), 1);
	ck_assert_int_eq(cache_user_get(b2, 2, &cu), 0);
	cache_close(a);
	cache_close(b2);
	scratch_free(&sc);
}
END_TEST

START_TEST(test_a_segment_of_another_layout_version_is_rebuilt)
{
	struct scratch     sc;
	struct cache      *c;
	struct cache_stats st;
	struct cache_user  cu;
	uint32_t           v = CACHE_LAYOUT_VERSION + 1;
	int                fd;

	scratch_new(&sc);
	c = cache_open(sc.path, ONE_MB);
	ck_assert_int_eq(cache_enabled(c), 1);
	cache_close(c);
	ck_assert_int_ge(fd = open(sc.path, O_WRONLY), 0);
	ck_assert_int_eq(pwrite(fd, &v, sizeof(v), 8), (ssize_t)sizeof(v));
	close(fd);
	c = cache_open(sc.path, ONE_MB);
	ck_assert_int_eq(cache_enabled(c), 1);
	cache_stats(c, &st);
	ck_assert_uint_eq(st.rebuilds, 1);
	ck_assert_int_eq(fill_user(c, 1, 1), CACHE_FILLED);
	ck_assert_int_eq(cache_user_get(c, 1, &cu), 1);
	cache_close(c);
	/* A file too short to hold a header is rebuilt too. */
	ck_assert_int_eq(truncate(sc.path, 100), 0);
	c = cache_open(sc.path, ONE_MB);
	ck_assert_int_eq(cache_enabled(c), 1);
	ck_assert_int_eq(file_size(sc.path) > 100, 1);
	cache_close(c);
	scratch_free(&sc);
}
END_TEST

/* Refused: every call behaves as with no cache, and the file is left as it was. */
static void
assert_refused(const char *path)
{
	struct cache     *c = cache_open(path, ONE_MB);
	struct user       u;
	struct user_buf   b;
	struct cache_user cu;

	ck_assert_ptr_nonnull(c);
	ck_assert_int_eq(cache_enabled(c), 0);
	make_user(&u, &b, 1, 1);
	ck_assert_int_eq(cache_user_fill(c, cache_epoch(c), &u), CACHE_OFF);
	ck_assert_int_eq(cache_user_get(c, 1, &cu), 0);
	cache_user_drop(c, 1);
	ck_assert_int_eq(cache_trusted(c, cache_now_ms(), 1000), 0);
	cache_close(c);
}

START_TEST(test_a_file_open_to_others_or_of_another_owner_or_a_link_is_refused)
{
	struct scratch sc;
	struct cache  *c;
	char           link[128];
	ino_t          ino;

	scratch_new(&sc);
	c = cache_open(sc.path, ONE_MB);
	ck_assert_int_eq(cache_enabled(c), 1);
	cache_close(c);
	ino = file_ino(sc.path);
	ck_assert_int_eq(chmod(sc.path, 0644), 0);
	assert_refused(sc.path);
	ck_assert_uint_eq(file_ino(sc.path), ino);
	ck_assert_int_eq(chmod(sc.path, 0600), 0);
	(void)snprintf(link, sizeof(link), "%s/link", sc.dir);
	ck_assert_int_eq(symlink(sc.path, link), 0);
	assert_refused(link);
	if (geteuid() == 0) {
		/* Root: the file of another user (nobody), mode 0600, is refused too. */
		ck_assert_int_eq(chown(sc.path, 65534, 65534), 0);
		assert_refused(sc.path);
		ck_assert_uint_eq(file_ino(sc.path), ino);
	}
	scratch_free(&sc);
}
END_TEST

/* A bucket locked by a writer that died: readers miss, the next fill takes it over. */
START_TEST(test_a_bucket_left_locked_by_a_dead_writer_is_taken_over)
{
	struct scratch    sc;
	struct cache     *c;
	struct user       u;
	struct user_buf   b;
	struct cache_user cu;
	uint64_t          w;
	int               fd;

	scratch_new(&sc);
	/* So small that each table has one bucket: the user bucket is the first after the header. */
	c = cache_open(sc.path, 8192);
	ck_assert_int_eq(fill_user(c, 1, 1), CACHE_FILLED);
	ck_assert_int_eq(fd = open(sc.path, O_RDWR), fd < 0 ? -2 : fd);
	/* Locked now (sequence odd, stamp this second): a live writer, so wait and give up. */
	w = (uint64_t)(cache_now_ms() / 1000) << 32 | 7;
	ck_assert_int_eq(pwrite(fd, &w, sizeof(w), CACHE_TEST_HEADER_SIZE), (ssize_t)sizeof(w));
	ck_assert_int_eq(cache_user_get(c, 1, &cu), 0);
	make_user(&u, &b, 2, 1);
	ck_assert_int_eq(cache_user_fill(c, cache_epoch(c), &u), CACHE_BUSY);
	/* Locked five seconds ago: dead.  The fill takes over and clears what was there. */
	w = (uint64_t)(cache_now_ms() / 1000 - 5) << 32 | 7;
	ck_assert_int_eq(pwrite(fd, &w, sizeof(w), CACHE_TEST_HEADER_SIZE), (ssize_t)sizeof(w));
	ck_assert_int_eq(cache_user_fill(c, cache_epoch(c), &u), CACHE_FILLED);
	ck_assert_int_eq(cache_user_get(c, 2, &cu), 1);
	ck_assert_int_eq(cache_user_get(c, 1, &cu), 0);
	ck_assert_int_eq(pread(fd, &w, sizeof(w), CACHE_TEST_HEADER_SIZE), (ssize_t)sizeof(w));
	ck_assert_uint_eq(w & 1, 0); /* unlocked */
	close(fd);
	cache_close(c);
	scratch_free(&sc);
}
END_TEST

START_TEST(test_a_removed_file_is_noticed_and_replaced)
{
	struct scratch    sc;
	struct cache     *a, *b2;
	struct cache_user cu;

	scratch_new(&sc);
	a = cache_open(sc.path, ONE_MB);
	ck_assert_int_eq(fill_user(a, 1, 1), CACHE_FILLED);
	ck_assert_int_eq(unlink(sc.path), 0);
	/* A new process makes a new file; a's drop must reach it, not the orphan. */
	b2 = cache_open(sc.path, ONE_MB);
	ck_assert_int_eq(fill_user(b2, 1, 1), CACHE_FILLED);
	cache_user_drop(a, 1);
	ck_assert_int_eq(cache_user_get(b2, 1, &cu), 0);
	ck_assert_int_eq(cache_test_retired(a), 0); /* a is on the new one now */
	cache_close(a);
	cache_close(b2);
	scratch_free(&sc);
}
END_TEST

START_TEST(test_no_cache_means_every_get_misses_and_no_file_is_made)
{
	struct scratch       sc;
	struct cache        *c;
	struct user          u;
	struct user_buf      b;
	struct session       s;
	struct cache_user    cu;
	struct cache_session cs;
	struct cache_family  cf;
	struct cache_stats   st;
	struct stat          sb;

	scratch_new(&sc);
	c = cache_open(sc.path, 0); /* USERMGR_CACHE_MB=0 */
	ck_assert_ptr_null(c);
	make_user(&u, &b, 1, 1);
	make_session(&s, &b, 1, 1, 1);
	ck_assert_int_eq(cache_enabled(c), 0);
	ck_assert_int_eq(cache_user_fill(c, cache_epoch(c), &u), CACHE_OFF);
	ck_assert_int_eq(cache_session_fill(c, cache_epoch(c), &s, 1, 1), CACHE_OFF);
	ck_assert_int_eq(cache_family_fill(c, cache_epoch(c), 1, 1, 1), CACHE_OFF);
	ck_assert_int_eq(cache_user_get(c, 1, &cu), 0);
	ck_assert_int_eq(cache_session_get(c, s.hash, &cs), 0);
	ck_assert_int_eq(cache_family_get(c, 1, &cf), 0);
	cache_user_drop(c, 1);
	cache_family_drop(c, 1);
	cache_session_drop(c, s.hash);
	cache_flush(c);
	ck_assert_int_eq(cache_poll_claim(c, 1000, 100), 0);
	ck_assert_int_eq(cache_trusted(c, 1000, 100), 0);
	cache_stats(c, &st);
	ck_assert_int_eq(st.enabled, 0);
	cache_close(c);
	ck_assert_int_eq(stat(sc.path, &sb), -1);
	/* Opening alone touches nothing either: the file comes with the first use. */
	c = cache_open(sc.path, ONE_MB);
	ck_assert_int_eq(stat(sc.path, &sb), -1);
	ck_assert_int_eq(cache_enabled(c), 1);
	ck_assert_int_eq(stat(sc.path, &sb), 0);
	ck_assert_uint_eq(sb.st_mode & 0777, 0600);
	cache_close(c);
	scratch_free(&sc);
}
END_TEST

/* Each round, four processes claim at the same instant: exactly one wins. */
START_TEST(test_one_process_at_a_time_claims_the_poll)
{
	struct scratch sc;
	struct cache  *c;
	struct {
		_Atomic int round, ready, wins[32];
	} * m;
	pid_t pid[NPROC];
	int   i, r, status;

	scratch_new(&sc);
	c = cache_open(sc.path, SMALL);
	ck_assert_int_eq(cache_enabled(c), 1);
	m = mmap(NULL, sizeof(*m), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ck_assert_ptr_ne(m, MAP_FAILED);
	memset(m, 0, sizeof(*m));
	for (i = 0; i < NPROC; i++) {
		ck_assert_int_ge(pid[i] = fork(), 0);
		if (pid[i] != 0)
			continue;
		for (r = 1; r <= 32; r++) {
			while (atomic_load(&m->round) < r)
				;
			if (cache_poll_claim(c, 10000LL * r, 1000))
				atomic_fetch_add(&m->wins[r - 1], 1);
			atomic_fetch_add(&m->ready, 1);
		}
		_exit(0);
	}
	for (r = 1; r <= 32; r++) {
		atomic_store(&m->round, r);
		while (atomic_load(&m->ready) < NPROC * r)
			;
		ck_assert_int_eq(atomic_load(&m->wins[r - 1]), 1);
		/* The winner's poll went well or not; either way the next round may poll. */
		if (r % 2)
			cache_poll_done(c, r, 10000LL * r);
		else
			cache_poll_failed(c);
	}
	for (i = 0; i < NPROC; i++) {
		ck_assert_int_eq(waitpid(pid[i], &status, 0), pid[i]);
		ck_assert_int_eq(WIFEXITED(status) && WEXITSTATUS(status) == 0, 1);
	}
	ck_assert_int_eq(cache_log_position(c), 31);
	(void)munmap(m, sizeof(*m));
	cache_close(c);
	scratch_free(&sc);
}
END_TEST

START_TEST(test_a_claim_expires_after_five_intervals_and_polls_wait_an_interval)
{
	struct scratch sc;
	struct cache  *c;
	long long      t = 1000000;

	scratch_new(&sc);
	c = cache_open(sc.path, SMALL);
	ck_assert_int_eq(cache_log_position(c), 0);
	ck_assert_int_eq(cache_poll_claim(c, t, 1000), 1); /* never polled: go */
	ck_assert_int_eq(cache_poll_claim(c, t + 1, 1000), 0);
	ck_assert_int_eq(cache_poll_claim(c, t + 4999, 1000), 0); /* still held */
	ck_assert_int_eq(cache_poll_claim(c, t + 5000, 1000), 1); /* the holder died */
	t += 5000;
	cache_poll_done(c, 42, t + 100);
	ck_assert_int_eq(cache_log_position(c), 42);
	ck_assert_int_eq(cache_poll_claim(c, t + 999, 1000), 0); /* polled < 1 interval ago */
	ck_assert_int_eq(cache_poll_claim(c, t + 1000, 1000), 1);
	t += 1000;
	cache_poll_failed(c);
	ck_assert_int_eq(cache_log_position(c), 42);
	/* A failed attempt also waits an interval: one worker retries, not every request. */
	ck_assert_int_eq(cache_poll_claim(c, t + 10, 1000), 0);
	ck_assert_int_eq(cache_poll_claim(c, t + 1000, 1000), 1);
	/* A poller that overran its claim cannot move the position back. */
	cache_poll_done(c, 41, t + 1100);
	ck_assert_int_eq(cache_log_position(c), 42);
	cache_close(c);
	scratch_free(&sc);
}
END_TEST

START_TEST(test_trust_follows_the_last_successful_poll_and_fail_closed_turns_are_counted)
{
	struct scratch     sc;
	struct cache      *c;
	struct cache_stats st;
	long long          t = 5000000;

	scratch_new(&sc);
	c = cache_open(sc.path, SMALL);
	ck_assert_int_eq(cache_trusted(c, t, 500), 0); /* never polled */
	cache_stats(c, &st);
	ck_assert_uint_eq(st.fail_closed, 0); /* never trusted: no turn */
	ck_assert_int_eq(cache_poll_claim(c, t, 100), 1);
	cache_poll_done(c, 1, t);
	ck_assert_int_eq(cache_trusted(c, t + 500, 500), 1);
	ck_assert_int_eq(cache_trusted(c, t + 501, 500), 0);
	ck_assert_int_eq(cache_trusted(c, t + 700, 500), 0);
	cache_stats(c, &st);
	ck_assert_uint_eq(st.fail_closed, 1);
	ck_assert_int_eq(cache_poll_claim(c, t + 800, 100), 1);
	cache_poll_done(c, 2, t + 800);
	ck_assert_int_eq(cache_trusted(c, t + 900, 500), 1);
	ck_assert_int_eq(cache_trusted(c, t + 2000, 500), 0);
	/* A poll time ahead of now proves nothing. */
	ck_assert_int_eq(cache_trusted(c, t, 500), 0);
	cache_stats(c, &st);
	ck_assert_uint_eq(st.fail_closed, 2);
	cache_close(c);
	scratch_free(&sc);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("cache");
	TCase *tc = tcase_create("single");
	TCase *tm = tcase_create("processes");
	TCase *tb = tcase_create("damage");
	TCase *tp = tcase_create("poll");

	if (sodium_init() < 0)
		return EXIT_FAILURE;
	tcase_add_test(tc, test_a_user_reads_back_as_filled_until_it_is_dropped);
	tcase_add_test(tc, test_a_fill_with_an_epoch_read_before_a_drop_is_refused);
	tcase_add_test(tc, test_families_and_sessions_read_back_and_die_with_their_user);
	tcase_add_test(tc, test_a_flush_drops_everything);
	tcase_add_test(tc, test_values_that_do_not_fit_are_not_cached);
	tcase_add_test(tc,
	    test_the_profile_is_kept_only_when_display_name_and_bio_fit_together);
	tcase_add_test(tc, test_a_full_table_replaces_old_entries_and_serves_the_rest);
	tcase_add_test(tc, test_counters_near_their_maximum_wrap_without_harm);
	tcase_add_test(tc, test_no_cache_means_every_get_misses_and_no_file_is_made);
	suite_add_tcase(s, tc);
	tcase_set_timeout(tm, 60);
	tcase_add_test(tm,
	    test_several_processes_never_read_an_entry_older_than_a_completed_drop);
	suite_add_tcase(s, tm);
	tcase_add_test(tb, test_garbage_over_the_buckets_never_reads_as_a_hit);
	tcase_add_test(tb, test_garbage_over_the_header_is_rebuilt_and_attached_handles_follow);
	tcase_add_test(tb, test_a_segment_of_another_layout_version_is_rebuilt);
	tcase_add_test(tb, test_a_file_open_to_others_or_of_another_owner_or_a_link_is_refused);
	tcase_add_test(tb, test_a_bucket_left_locked_by_a_dead_writer_is_taken_over);
	tcase_add_test(tb, test_a_removed_file_is_noticed_and_replaced);
	suite_add_tcase(s, tb);
	tcase_set_timeout(tp, 30);
	tcase_add_test(tp, test_one_process_at_a_time_claims_the_poll);
	tcase_add_test(tp,
	    test_a_claim_expires_after_five_intervals_and_polls_wait_an_interval);
	tcase_add_test(tp,
	    test_trust_follows_the_last_successful_poll_and_fail_closed_turns_are_counted);
	suite_add_tcase(s, tp);
	return unit_run(s);
}
