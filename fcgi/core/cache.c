/* cache: a seqlocked, set-associative table in a MAP_SHARED file — lock-free reads, drops that never wait. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "cache.h"
#include "log.h"
#include "session.h"
#include "user.h"

/*
 * The segment (docs/DECISIONS.md "Fast path: the shared cache"):
 *
 *   header page (HDR_SIZE): struct hdr — immutable part, then atomic counters
 *   users:    nbuckets × bucket    each bucket: lock word, generation, WAYS ways
 *   families: nbuckets × bucket    each way: struct meta + the table's record,
 *   sessions: nbuckets × bucket    as 64-bit words
 *
 * Every word another process may write at the same time is an _Atomic; the immutable part
 * of the header is written once, before the file is linked into place.
 */
#define HDR_SIZE       CACHE_TEST_HEADER_SIZE
#define WAYS           4                       /* ways per bucket */
#define READ_TRIES     8                       /* seqlock retries before a get says miss */
#define LOCK_TRIES     64                      /* spins before a fill gives up */
#define DEAD_WRITER_S  2                       /* lock stamps are whole seconds: > 1 s */
#define NLINK_EVERY_MS 100                     /* how often a reader checks the link count */
#define RETRY_EVERY_MS 10000                   /* attach attempts after a failure */
#define SEGMENT_MAX    (4097ull * 1024 * 1024) /* USERMGR_CACHE_MB's bound, and the header */
#define WAY_USED       0x55534544574159ull     /* "USEDWAY": a filled way's tag */
#define NEVER          INT64_MIN               /* a poll time that has not happened */

enum table { T_USER = 0, T_FAMILY, T_SESSION, T__MAX };

/* Shares of the space after the header, in eighths (docs/DECISIONS.md: the split). */
static const unsigned eighths[T__MAX] = { [T_USER] = 3, [T_FAMILY] = 2, [T_SESSION] = 3 };

/* Flags of the records. */
#define F_ACTIVE     0x01
#define F_VERIFIED   0x02
#define F_MFA        0x04
#define F_LAST_LOGIN 0x08
#define F_PROFILE    0x10
#define F_DISPLAY    0x20
#define F_BIO        0x40
#define F_REMEMBER   0x80
#define F_MFA_WAIT   0x100

/* The records as stored: fixed size, strings NUL-terminated inside their arrays. */
struct user_rec {
	int64_t  id, token_version;
	uint32_t flags;
	char     username[UM_USERNAME_MAX + 1];
	char     email[UM_EMAIL_MAX + 1];
	char     created_at[CACHE_TIME_MAX], updated_at[CACHE_TIME_MAX];
	char     last_login_at[CACHE_TIME_MAX];
	char     profile[CACHE_PROFILE_MAX]; /* display name NUL bio NUL */
};
struct family_rec {
	int64_t  sid, user_id;
	uint32_t alive;
};
struct session_rec {
	int64_t       id, user_id, expires_at, last_seen_at;
	uint32_t      flags;
	unsigned char csrf_seed[32];
	char          username[UM_USERNAME_MAX + 1];
	char          email[UM_EMAIL_MAX + 1];
	char          display_name[CACHE_DISPLAY_MAX];
	char          roles[CACHE_ROLES_MAX];
};

/*
 * Every way starts with this.  gen: the bucket generation it was filled under; ugen: the
 * generation of its user's bucket in the user table (families and sessions); flush: the
 * header's flush generation; stamp: fill order, for replacement; sum: keyed SipHash of the
 * whole way with sum zero.  KEY_WORD: where key starts, in words.
 */
struct meta {
	uint64_t      tag, gen, ugen, flush, stamp, sum;
	unsigned char key[32];
};
#define KEY_WORD 6
_Static_assert(offsetof(struct meta, key) == KEY_WORD * 8, "the key starts at word 6");

union rec {
	struct user_rec    u;
	struct family_rec  f;
	struct session_rec s;
};

/* One way as this process handles it: a private copy, as words or as fields. */
union image {
	uint64_t w[(sizeof(struct meta) + sizeof(union rec) + 7) / 8];
	struct {
		struct meta m;
		union rec   r;
	} v;
};

#define WAY_WORDS(rec) ((sizeof(struct meta) + sizeof(rec) + 7) / 8)
static const uint64_t way_words[T__MAX] = {
	[T_USER] = WAY_WORDS(struct user_rec),
	[T_FAMILY] = WAY_WORDS(struct family_rec),
	[T_SESSION] = WAY_WORDS(struct session_rec),
};

/* lock: sequence in the low 32 bits (odd: a write is in progress), the writer's stamp above. */
struct bucket {
	_Atomic uint64_t lock;
	_Atomic uint64_t gen;
	_Atomic uint64_t w[]; /* WAYS × way_words */
};

struct geom {
	uint64_t off, nbuckets, bucket_bytes, way_words;
};

/* Written once before the file is linked into place; every operation compares it. */
struct fixed {
	char          magic[8];
	uint32_t      version, ways;
	uint64_t      hdr_size, total;
	struct geom   t[T__MAX];
	unsigned char key[32];    /* 0..15: bucket hash; 16..31: way checksums */
	unsigned char digest[16]; /* BLAKE2b of the above: a half-written header is foreign */
};

/* The header's statistics, parallel to struct cache_stats. */
enum counter {
	S_HITS = 0,
	S_MISSES,
	S_FILLS,
	S_DROPS,
	S_CONFLICTS,
	S_FAIL_CLOSED,
	S_REBUILDS,
	S__MAX
};

struct hdr {
	struct fixed f;
	_Alignas(64) _Atomic uint32_t retired; /* replaced: attached handles re-attach */
	_Atomic uint64_t epoch;                /* moves first at every drop */
	_Atomic uint64_t flush;                /* cache_flush: ways of another flush are dead */
	_Atomic uint64_t stamp;                /* fill order */
	_Alignas(64) _Atomic int64_t log_id;   /* last revocation-log id applied */
	_Atomic int64_t  poll_ok_ms;           /* last successful poll; NEVER */
	_Atomic int64_t  poll_at_ms;           /* start of the last finished attempt; NEVER */
	_Atomic int64_t  claim_ms;             /* start of the running attempt; NEVER: none */
	_Atomic uint32_t trusted;              /* what cache_trusted said last */
	_Alignas(64) _Atomic uint64_t st[S__MAX];
};
_Static_assert(sizeof(struct hdr) <= HDR_SIZE, "the header fits its page");
_Static_assert(ATOMIC_LLONG_LOCK_FREE == 2 && ATOMIC_INT_LOCK_FREE == 2,
    "atomics in shared memory must be lock-free to be address-free");

struct cache {
	char        *path;
	size_t       bytes;      /* what this process creates */
	int          fd;         /* the mapped file, for its link count; -1 */
	struct hdr  *h;          /* NULL: nothing attached */
	size_t       size;       /* of the mapping */
	struct fixed f;          /* private copy: geometry is never read back from the file */
	int          refused;    /* a file we must not trust: off for good */
	long long    retry_ms;   /* no attach attempt before (monotonic) */
	long long    nlink_ms;   /* next link-count check (monotonic) */
	long long    rebuilt_ms; /* last rebuild by this handle (monotonic); 0: none */
	int          logged;     /* an unusable file was logged */
};

static long long
clock_ms(clockid_t id)
{
	struct timespec ts;

	(void)clock_gettime(id, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * CLOCK_BOOTTIME: one clock for every process of the host (it does not jump with the wall
 * clock as CLOCK_REALTIME does, and counts suspended time, which a poll bound must).
 */
long long
cache_now_ms(void)
{
	return clock_ms(CLOCK_BOOTTIME);
}

static long long
mono_ms(void)
{
	return clock_ms(CLOCK_MONOTONIC_COARSE);
}

/* now - then without overflow, whatever garbage then holds. */
static int64_t
age(int64_t now, int64_t then)
{
	return (int64_t)((uint64_t)now - (uint64_t)then);
}

static void
cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#endif
}

static void
count(struct hdr *h, enum counter s)
{
	atomic_fetch_add_explicit(&h->st[s], 1, memory_order_relaxed);
}

/* Once per handle: the path is configuration, never user data. */
static void
unusable(struct cache *c, const char *why)
{
	if (!c->logged)
		log_warn("cache: %s %s; running without the cache", c->path, why);
	c->logged = 1;
}

/* --- layout ----------------------------------------------------------------------------- */

static void
digest(const struct fixed *f, unsigned char out[16])
{
	crypto_generichash(out, 16, (const unsigned char *)f, offsetof(struct fixed, digest),
	    NULL, 0);
}

/* The geometry of a segment of about bytes: each table its share, at least one bucket. */
static void
plan(size_t bytes, struct fixed *f)
{
	uint64_t avail = bytes > HDR_SIZE ? bytes - HDR_SIZE : 0, off = HDR_SIZE;
	int      t;

	memset(f, 0, sizeof(*f));
	memcpy(f->magic, CACHE_MAGIC, sizeof(f->magic));
	f->version = CACHE_LAYOUT_VERSION;
	f->ways = WAYS;
	f->hdr_size = HDR_SIZE;
	for (t = 0; t < T__MAX; t++) {
		f->t[t].way_words = way_words[t];
		f->t[t].bucket_bytes = sizeof(struct bucket) + WAYS * way_words[t] * 8;
		f->t[t].nbuckets = avail / 8 * eighths[t] / f->t[t].bucket_bytes;
		if (f->t[t].nbuckets == 0)
			f->t[t].nbuckets = 1;
		f->t[t].off = off;
		off += f->t[t].nbuckets * f->t[t].bucket_bytes;
	}
	f->total = off;
}

/* Whether a mapping of size bytes holds a segment this build can use; its header in *f. */
static int
valid(const struct hdr *h, size_t size, struct fixed *f)
{
	unsigned char d[16];
	uint64_t      off = HDR_SIZE;
	int           t;

	if (size < HDR_SIZE)
		return 0;
	memcpy(f, &h->f, sizeof(*f));
	if (memcmp(f->magic, CACHE_MAGIC, sizeof(f->magic)) != 0 ||
	    f->version != CACHE_LAYOUT_VERSION || f->ways != WAYS || f->hdr_size != HDR_SIZE ||
	    f->total != size)
		return 0;
	digest(f, d);
	if (memcmp(d, f->digest, sizeof(d)) != 0)
		return 0;
	for (t = 0; t < T__MAX; t++) {
		if (f->t[t].way_words != way_words[t] ||
		    f->t[t].bucket_bytes != sizeof(struct bucket) + WAYS * way_words[t] * 8 ||
		    f->t[t].off != off || f->t[t].nbuckets == 0 ||
		    f->t[t].nbuckets > (size - off) / f->t[t].bucket_bytes)
			return 0;
		off += f->t[t].nbuckets * f->t[t].bucket_bytes;
	}
	return off == size && atomic_load(&h->retired) == 0;
}

static struct bucket *
bucket_at(const struct cache *c, enum table t, uint64_t i)
{
	return (
	    struct bucket *)(void *)((char *)c->h + c->f.t[t].off + i * c->f.t[t].bucket_bytes);
}

static _Atomic uint64_t *
way_at(const struct cache *c, enum table t, struct bucket *b, int i)
{
	return &b->w[(uint64_t)i * c->f.t[t].way_words];
}

/* SipHash-2-4 under the segment's key: an attacker-chosen id cannot aim at one bucket. */
static struct bucket *
bucket_of(const struct cache *c, enum table t, const unsigned char key[32])
{
	unsigned char h[crypto_shorthash_BYTES];
	uint64_t      v;

	crypto_shorthash(h, key, 32, c->f.key);
	memcpy(&v, h, sizeof(v));
	return bucket_at(c, t, v % c->f.t[t].nbuckets);
}

static void
id_key(long long id, unsigned char key[32])
{
	int64_t v = id;

	memset(key, 0, 32);
	memcpy(key, &v, sizeof(v));
}

static struct bucket *
user_bucket(const struct cache *c, long long user_id)
{
	unsigned char key[32];

	id_key(user_id, key);
	return bucket_of(c, T_USER, key);
}

static uint64_t
checksum(const struct cache *c, enum table t, union image *img)
{
	unsigned char h[crypto_shorthash_BYTES];
	uint64_t      saved = img->v.m.sum, v, n = way_words[t];

	img->v.m.sum = 0;
	/*
	 * Up to the last word that is not zero: most of a record is the unused rest of its
	 * string arrays, zero because every fill starts from a zeroed image, and hashing it
	 * was most of what a hit cost.  Nothing is left unchecked: a way with anything but
	 * zeros past that point hashes another length here, so gets another sum.
	 */
	while (n > 1 && img->w[n - 1] == 0)
		n--;
	crypto_shorthash(h, (const unsigned char *)img->w, n * 8, c->f.key + 16);
	img->v.m.sum = saved;
	memcpy(&v, h, sizeof(v));
	return v;
}

/* --- attaching -------------------------------------------------------------------------- */

static void
detach(struct cache *c)
{
	if (c->h != NULL)
		(void)munmap(c->h, c->size);
	if (c->fd >= 0)
		(void)close(c->fd);
	c->h = NULL;
	c->fd = -1;
}

static void
adopt(struct cache *c, int fd, struct hdr *h, size_t size, const struct fixed *f)
{
	c->fd = fd;
	c->h = h;
	c->size = size;
	memcpy(&c->f, f, sizeof(*f));
	c->nlink_ms = mono_ms() + NLINK_EVERY_MS;
}

/*
 * A new segment under a temporary name in the file's directory, fully initialised: only then
 * is it linked (first start) or renamed (rebuild) into place, so nobody ever maps half of
 * one.  mkostemp opens with O_CREAT|O_EXCL and mode 0600.  posix_fallocate reserves the
 * pages: a full /dev/shm is an error here, not SIGBUS at some later write.
 */
static int
build(struct cache *c, char *tmp, size_t tmplen, int *fdp, struct hdr **hp, struct fixed *f)
{
	struct hdr *h;
	uint64_t    epoch;
	int         fd, e;

	plan(c->bytes, f);
	randombytes_buf(f->key, sizeof(f->key));
	digest(f, f->digest);
	(void)snprintf(tmp, tmplen, "%s.XXXXXX", c->path);
	if ((fd = mkostemp(tmp, O_CLOEXEC)) < 0)
		return -1;
	if ((e = posix_fallocate(fd, 0, (off_t)f->total)) != 0) {
		errno = e;
		goto fail;
	}
	h = mmap(NULL, f->total, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (h == MAP_FAILED)
		goto fail;
	/*
	 * The file is zeroed: generations 0, no way tagged.  The epoch starts at random: an
	 * epoch a caller read from a segment that was replaced before its fill must not match
	 * this one's by coincidence of counts.
	 */
	memcpy(&h->f, f, sizeof(*f));
	randombytes_buf(&epoch, sizeof(epoch));
	atomic_store(&h->epoch, epoch);
	atomic_store(&h->log_id, 0);
	atomic_store(&h->poll_ok_ms, NEVER);
	atomic_store(&h->poll_at_ms, NEVER);
	atomic_store(&h->claim_ms, NEVER);
	*fdp = fd;
	*hp = h;
	return 0;
fail:
	e = errno;
	(void)close(fd);
	(void)unlink(tmp);
	errno = e;
	return -1;
}

/*
 * The file is ours alone: a regular file of this effective uid, no group or other access.
 * A file another local user made could hold forged entries.
 */
static const char *
foreign(const struct stat *st)
{
	if (!S_ISREG(st->st_mode))
		return "is not a regular file";
	if (st->st_uid != geteuid())
		return "belongs to another user";
	if (st->st_mode & 077)
		return "is open to group or others (mode must be 0600)";
	return NULL;
}

/* First start: link the new segment into place; EEXIST: another process won, use theirs. */
static int
create(struct cache *c)
{
	char         tmp[PATH_MAX];
	struct hdr  *h;
	struct fixed f;
	int          fd, rc;

	if (build(c, tmp, sizeof(tmp), &fd, &h, &f) != 0)
		return -1;
	rc = link(tmp, c->path) == 0 ? 0 : errno;
	(void)unlink(tmp);
	if (rc != 0) {
		(void)munmap(h, f.total);
		(void)close(fd);
		errno = rc;
		return -1;
	}
	adopt(c, fd, h, f.total, &f);
	return 0;
}

/*
 * Replaces the corrupt or foreign file open as fd (mapped at old, or NULL) by a new segment.
 * Under flock on the old file, and only while the path still names it: of two processes
 * that found the same bad file, the second sees the first's replacement and uses it.  The
 * old mapping is marked retired after the rename, so every handle still attached to it
 * re-attaches at its next operation.  Returns 0 attached, 1 try again, -1 failed.
 */
static int
rebuild(struct cache *c, int fd, struct hdr *old, size_t oldsize)
{
	char         tmp[PATH_MAX];
	struct stat  a, b;
	struct hdr  *h;
	struct fixed f;
	int          nfd, rc = -1;

	if (c->rebuilt_ms != 0 && mono_ms() - c->rebuilt_ms < RETRY_EVERY_MS) {
		/* Two builds of other layouts sharing a path would rebuild each other for ever. */
		unusable(c, "was rebuilt moments ago and is foreign again");
		return -1;
	}
	if (flock(fd, LOCK_EX) != 0)
		return -1;
	if (fstat(fd, &a) != 0 || stat(c->path, &b) != 0 || a.st_dev != b.st_dev ||
	    a.st_ino != b.st_ino) {
		rc = 1;
		goto out;
	}
	if (build(c, tmp, sizeof(tmp), &nfd, &h, &f) != 0)
		goto out;
	if (rename(tmp, c->path) != 0) {
		(void)munmap(h, f.total);
		(void)close(nfd);
		(void)unlink(tmp);
		goto out;
	}
	if (old != NULL && oldsize >= HDR_SIZE)
		atomic_store(&old->retired, 1);
	count(h, S_REBUILDS);
	c->rebuilt_ms = mono_ms();
	log_info("cache: %s was corrupt or of another layout; rebuilt", c->path);
	adopt(c, nfd, h, f.total, &f);
	rc = 0;
out:
	(void)flock(fd, LOCK_UN);
	return rc;
}

/* One attempt: 0 attached, 1 try again (a race with another process), -1 unusable. */
static int
attach_once(struct cache *c)
{
	struct stat  st;
	struct fixed f;
	struct hdr  *h = NULL;
	size_t       size = 0;
	const char  *why;
	int          fd, rc;

	if ((fd = open(c->path, O_RDWR | O_NOFOLLOW | O_CLOEXEC)) < 0) {
		if (errno == ENOENT)
			return create(c) == 0 ? 0 : errno == EEXIST ? 1 : -1;
		if (errno == ELOOP) {
			c->refused = 1;
			unusable(c, "is a symbolic link");
		}
		return -1;
	}
	if (fstat(fd, &st) != 0)
		goto fail;
	if ((why = foreign(&st)) != NULL) {
		c->refused = 1;
		unusable(c, why);
		goto fail;
	}
	if (st.st_size >= HDR_SIZE && (uint64_t)st.st_size <= SEGMENT_MAX) {
		size = (size_t)st.st_size;
		h = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		if (h == MAP_FAILED)
			goto fail;
		if (valid(h, size, &f)) {
			adopt(c, fd, h, size, &f);
			return 0;
		}
	}
	rc = rebuild(c, fd, h, size);
	if (h != NULL)
		(void)munmap(h, size);
	(void)close(fd);
	return rc;
fail:
	(void)close(fd);
	return -1;
}

static int
attach(struct cache *c)
{
	int i, rc = -1;

	for (i = 0; i < 4 && (rc = attach_once(c)) == 1; i++)
		;
	if (rc != 0 && !c->refused)
		unusable(c, "cannot be used now");
	return rc == 0 ? 0 : -1;
}

/*
 * Unlinked or replaced under us (st_nlink 0): an admin removed the file, or a rebuild by a
 * process that could not mark this mapping.  Marked retired so every handle on it leaves.
 */
static int
orphaned(struct cache *c, int now)
{
	struct stat st;

	if (!now && mono_ms() < c->nlink_ms)
		return 0;
	c->nlink_ms = mono_ms() + NLINK_EVERY_MS;
	if (fstat(c->fd, &st) != 0 || st.st_nlink > 0)
		return 0;
	atomic_store(&c->h->retired, 1);
	return 1;
}

/*
 * Every operation starts here: the segment's immutable header must still be byte for byte
 * what was validated at attach (garbage written over a live segment shows at once) and not
 * retired; else the handle re-attaches.  drop: also check the link count now and retry an
 * attach even inside the back-off, since a drop that reaches no segment is lost.
 */
static struct hdr *
live(struct cache *c, int drop)
{
	if (c == NULL || c->refused)
		return NULL;
	if (c->h != NULL) {
		if (memcmp(&c->h->f, &c->f, sizeof(c->f)) == 0 &&
		    atomic_load_explicit(&c->h->retired, memory_order_acquire) == 0 &&
		    !orphaned(c, drop))
			return c->h;
		detach(c);
	}
	if (!drop && mono_ms() < c->retry_ms)
		return NULL;
	if (attach(c) != 0) {
		c->retry_ms = mono_ms() + RETRY_EVERY_MS;
		return NULL;
	}
	return c->h;
}

struct cache *
cache_open(const char *path, size_t bytes)
{
	struct cache *c;

	if (bytes == 0 || path == NULL)
		return NULL;
	if (sodium_init() < 0)
		return NULL;
	if ((c = calloc(1, sizeof(*c))) == NULL || (c->path = strdup(path)) == NULL) {
		fputs("usermgr: out of memory\n", stderr);
		abort();
	}
	c->bytes = bytes < SEGMENT_MAX ? bytes : SEGMENT_MAX;
	c->fd = -1;
	return c;
}

void
cache_close(struct cache *c)
{
	if (c == NULL)
		return;
	detach(c);
	free(c->path);
	free(c);
}

int
cache_enabled(struct cache *c)
{
	return live(c, 0) != NULL;
}

uint64_t
cache_epoch(struct cache *c)
{
	struct hdr *h = live(c, 0);

	return h != NULL ? atomic_load(&h->epoch) : 0;
}

/* --- reading ---------------------------------------------------------------------------- */

/*
 * Copies the way holding key out of its bucket under the seqlock.  Why this is not a data
 * race (and so not undefined behaviour) where the Linux seqlock has one: every word of a way
 * is an _Atomic read with a relaxed load — a plain load on x86-64 and arm64, so the copy costs
 * what memcpy would.  The acquire fence after the copy pairs with the writer's release fence
 * after it made the sequence odd (H.-J. Boehm, "Can seqlocks get along with programming
 * language memory models?", 2012): if any word came from a write in progress, the second
 * read of the sequence sees that write's odd value or a later one, and the copy is retried.
 * A copy that passes is then checked on its own (key, checksum, generations) before use.
 */
static int
copy_way(const struct cache *c, enum table t, struct bucket *b, const unsigned char key[32],
    union image *img)
{
	uint64_t          k[4], s0, n = c->f.t[t].way_words, j;
	int               try, i, found;
	_Atomic uint64_t *w;

	memcpy(k, key, sizeof(k));
	for (try = 0; try < READ_TRIES; try++) {
		s0 = atomic_load_explicit(&b->lock, memory_order_acquire);
		if (s0 & 1) {
			cpu_relax();
			continue;
		}
		for (i = 0, found = 0; i < WAYS && !found; i++) {
			w = way_at(c, t, b, i);
			found = atomic_load_explicit(&w[0], memory_order_relaxed) == WAY_USED;
			for (j = 0; j < 4 && found; j++)
				found = atomic_load_explicit(&w[KEY_WORD + j],
				            memory_order_relaxed) == k[j];
			for (j = 0; j < n && found; j++)
				img->w[j] = atomic_load_explicit(&w[j], memory_order_relaxed);
		}
		atomic_thread_fence(memory_order_acquire);
		if (atomic_load_explicit(&b->lock, memory_order_relaxed) != s0)
			continue;
		return found;
	}
	return 0;
}

/* Strings read back must end inside their arrays, whatever the checksum said. */
static int
terminated(const char *s, size_t n)
{
	return memchr(s, '\0', n) != NULL;
}
#define TERMINATED(a) terminated((a), sizeof(a))

/*
 * The way for key if it is a hit: tagged, the key, its checksum, filled under the bucket's
 * and the flush's current generations, and (user_id >= 0) its user's bucket generation.
 */
static int
lookup(struct cache *c, enum table t, const unsigned char key[32], union image *img)
{
	struct hdr    *h = c->h;
	struct bucket *b = bucket_of(c, t, key);
	long long      uid;

	if (!copy_way(c, t, b, key, img))
		return 0;
	if (img->v.m.tag != WAY_USED || memcmp(img->v.m.key, key, 32) != 0 ||
	    img->v.m.sum != checksum(c, t, img) || img->v.m.gen != atomic_load(&b->gen) ||
	    img->v.m.flush != atomic_load(&h->flush))
		return 0;
	if (t == T_USER)
		return 1;
	uid = t == T_FAMILY ? img->v.r.f.user_id : img->v.r.s.user_id;
	return img->v.m.ugen == atomic_load(&user_bucket(c, uid)->gen);
}

/* A get's common part: attached, found, counted. */
static int
get(struct cache *c, enum table t, const unsigned char key[32], union image *img)
{
	struct hdr *h = live(c, 0);
	int         hit;

	if (h == NULL)
		return 0;
	hit = lookup(c, t, key, img);
	count(h, hit ? S_HITS : S_MISSES);
	return hit;
}

/* The profile area holds "display name\0bio\0"; the flags say which are NULL. */
static int
unpack_profile(const struct user_rec *r, struct cache_user *u)
{
	size_t n;

	if (!(r->flags & F_PROFILE))
		return 1;
	n = strnlen(r->profile, sizeof(r->profile));
	if (n + 1 >= sizeof(r->profile) ||
	    !terminated(r->profile + n + 1, sizeof(r->profile) - n - 1))
		return 0;
	memcpy(u->display_name, r->profile, n + 1);
	memcpy(u->bio, r->profile + n + 1, strlen(r->profile + n + 1) + 1);
	u->has_profile = 1;
	u->has_display_name = (r->flags & F_DISPLAY) != 0;
	u->has_bio = (r->flags & F_BIO) != 0;
	return 1;
}

int
cache_user_get(struct cache *c, long long id, struct cache_user *out)
{
	union image            img;
	const struct user_rec *r = &img.v.r.u;
	unsigned char          key[32];

	memset(out, 0, sizeof(*out));
	id_key(id, key);
	if (!get(c, T_USER, key, &img))
		return 0;
	if (r->id != id || !TERMINATED(r->username) || !TERMINATED(r->email) ||
	    !TERMINATED(r->created_at) || !TERMINATED(r->updated_at) ||
	    !TERMINATED(r->last_login_at) || !unpack_profile(r, out)) {
		memset(out, 0, sizeof(*out));
		return 0;
	}
	out->id = r->id;
	out->token_version = r->token_version;
	out->active = (r->flags & F_ACTIVE) != 0;
	out->email_verified = (r->flags & F_VERIFIED) != 0;
	out->mfa_enabled = (r->flags & F_MFA) != 0;
	out->has_last_login = (r->flags & F_LAST_LOGIN) != 0;
	memcpy(out->username, r->username, sizeof(out->username));
	memcpy(out->email, r->email, sizeof(out->email));
	memcpy(out->created_at, r->created_at, sizeof(out->created_at));
	memcpy(out->updated_at, r->updated_at, sizeof(out->updated_at));
	memcpy(out->last_login_at, r->last_login_at, sizeof(out->last_login_at));
	return 1;
}

int
cache_family_get(struct cache *c, long long sid, struct cache_family *out)
{
	union image   img;
	unsigned char key[32];

	memset(out, 0, sizeof(*out));
	id_key(sid, key);
	if (!get(c, T_FAMILY, key, &img) || img.v.r.f.sid != sid)
		return 0;
	out->sid = img.v.r.f.sid;
	out->user_id = img.v.r.f.user_id;
	out->alive = img.v.r.f.alive != 0;
	return 1;
}

int
cache_session_get(struct cache *c, const unsigned char hash[32], struct cache_session *out)
{
	union image               img;
	const struct session_rec *r = &img.v.r.s;

	memset(out, 0, sizeof(*out));
	if (!get(c, T_SESSION, hash, &img))
		return 0;
	if (!TERMINATED(r->username) || !TERMINATED(r->email) || !TERMINATED(r->display_name) ||
	    !TERMINATED(r->roles))
		return 0;
	memcpy(out->hash, hash, sizeof(out->hash));
	out->id = r->id;
	out->user_id = r->user_id;
	out->remember = (r->flags & F_REMEMBER) != 0;
	out->mfa_pending = (r->flags & F_MFA_WAIT) != 0;
	out->has_display_name = (r->flags & F_DISPLAY) != 0;
	memcpy(out->csrf_seed, r->csrf_seed, sizeof(out->csrf_seed));
	memcpy(out->username, r->username, sizeof(out->username));
	memcpy(out->email, r->email, sizeof(out->email));
	memcpy(out->display_name, r->display_name, sizeof(out->display_name));
	memcpy(out->roles, r->roles, sizeof(out->roles));
	out->expires_at = r->expires_at;
	out->last_seen_at = r->last_seen_at;
	return 1;
}

/* --- writing ---------------------------------------------------------------------------- */

static uint32_t
boot_s(void)
{
	return (uint32_t)(cache_now_ms() / 1000);
}

/*
 * Takes the bucket's write lock: the sequence from even s to s + 1 and the stamp, in one CAS,
 * so no live writer ever looks unstamped.  A bucket held for DEAD_WRITER_S (its writer died
 * between lock and unlock, or the stamp is garbage from the future) is taken over with the
 * sequence kept odd, and its ways are cleared: what the dead writer left is not trusted.
 * Returns the odd sequence held, or 0 after LOCK_TRIES (a fill is optional; odd is never 0).
 */
static uint32_t
lock(const struct cache *c, enum table t, struct bucket *b)
{
	uint64_t w, nw;
	uint32_t seq, now;
	int      i, taken, dead;

	for (i = 0; i < LOCK_TRIES; i++) {
		w = atomic_load_explicit(&b->lock, memory_order_relaxed);
		seq = (uint32_t)w;
		now = boot_s();
		dead = (seq & 1) && (uint32_t)(now - (uint32_t)(w >> 32)) >= DEAD_WRITER_S;
		if ((seq & 1) && !dead) {
			cpu_relax();
			continue;
		}
		seq += dead ? 2 : 1;
		nw = (uint64_t)now << 32 | seq;
		if (!atomic_compare_exchange_strong_explicit(&b->lock, &w, nw,
		        memory_order_acquire, memory_order_relaxed))
			continue;
		/* Orders the odd sequence before every word written next (see copy_way). */
		atomic_thread_fence(memory_order_release);
		for (taken = 0; dead && taken < WAYS; taken++)
			atomic_store_explicit(way_at(c, t, b, taken), 0, memory_order_relaxed);
		return seq;
	}
	return 0;
}

static void
unlock(struct bucket *b, uint32_t seq)
{
	atomic_store_explicit(&b->lock, (uint64_t)(uint32_t)(seq + 1), memory_order_release);
}

/* Whether way i could serve a hit now (checksum aside): replacement spares these first. */
static int
way_live(const struct cache *c, enum table t, struct bucket *b, int i)
{
	_Atomic uint64_t *w = way_at(c, t, b, i);

	return atomic_load_explicit(&w[0], memory_order_relaxed) == WAY_USED &&
	    atomic_load_explicit(&w[1], memory_order_relaxed) == atomic_load(&b->gen) &&
	    atomic_load_explicit(&w[3], memory_order_relaxed) == atomic_load(&c->h->flush);
}

/* The way to write: key's own, else a dead one, else the oldest fill (stamps may wrap). */
static int
victim(const struct cache *c, enum table t, struct bucket *b, const unsigned char key[32])
{
	uint64_t k[4], s, oldest = 0;
	int      i, j, same, pick = 0;

	memcpy(k, key, sizeof(k));
	for (i = 0; i < WAYS; i++) {
		_Atomic uint64_t *w = way_at(c, t, b, i);

		for (j = 0, same = 1; j < 4 && same; j++)
			same = atomic_load_explicit(&w[KEY_WORD + j], memory_order_relaxed) ==
			    k[j];
		if (same)
			return i;
	}
	for (i = 0; i < WAYS; i++) {
		if (!way_live(c, t, b, i))
			return i;
		s = atomic_load_explicit(&way_at(c, t, b, i)[4], memory_order_relaxed);
		if (i == 0 || (int64_t)(s - oldest) < 0)
			oldest = s, pick = i;
	}
	return pick;
}

/*
 * The fill protocol.  The caller read e = cache_epoch() before its database read.  Here,
 * holding the bucket: read the bucket's generation (and the user bucket's, and the flush
 * generation), THEN compare the epoch with e.  A drop increments the epoch FIRST, then the
 * generation, all sequentially consistent.  Take any drop D racing this fill: if our epoch
 * read still sees e, it came before D's epoch increment in the single total order, so our
 * generation read came before D's generation increment too, and the way is written with a
 * generation D has already left behind: it never reads as valid.  If the epoch moved, we do
 * not write.  And a drop whose epoch increment came before the caller's cache_epoch()
 * committed its change before that, so the database read saw the change.  Either way no
 * entry older than a completed drop survives it.
 */
static enum cache_fill
store(struct cache *c, enum table t, uint64_t epoch, union image *img, long long user_id)
{
	struct hdr    *h = live(c, 0);
	struct bucket *b, *ub = NULL;
	uint32_t       seq;
	uint64_t       j;
	int            i;

	if (h == NULL)
		return CACHE_OFF;
	b = bucket_of(c, t, img->v.m.key);
	if (t != T_USER)
		ub = user_bucket(c, user_id);
	if ((seq = lock(c, t, b)) == 0) {
		count(h, S_CONFLICTS);
		return CACHE_BUSY;
	}
	img->v.m.gen = atomic_load(&b->gen);
	img->v.m.ugen = ub != NULL ? atomic_load(&ub->gen) : 0;
	img->v.m.flush = atomic_load(&h->flush);
	if (atomic_load(&h->epoch) != epoch) {
		unlock(b, seq);
		count(h, S_CONFLICTS);
		return CACHE_STALE;
	}
	img->v.m.tag = WAY_USED;
	img->v.m.stamp = atomic_fetch_add_explicit(&h->stamp, 1, memory_order_relaxed);
	img->v.m.sum = checksum(c, t, img);
	i = victim(c, t, b, img->v.m.key);
	for (j = 0; j < c->f.t[t].way_words; j++)
		atomic_store_explicit(&way_at(c, t, b, i)[j], img->w[j], memory_order_relaxed);
	unlock(b, seq);
	count(h, S_FILLS);
	return CACHE_FILLED;
}

/* Copies s into dst of n bytes when it fits with its NUL; 0 when it does not. */
static int
put(char *dst, size_t n, const char *s)
{
	size_t len;

	if (s == NULL)
		s = "";
	if ((len = strlen(s)) >= n)
		return 0;
	memcpy(dst, s, len + 1);
	return 1;
}

/* "display\0bio\0" when both fit the profile area; else no profile (has_profile 0). */
static void
pack_profile(struct user_rec *r, const struct user *u)
{
	const char *dn = u->display_name != NULL ? u->display_name : "";
	const char *bio = u->bio != NULL ? u->bio : "";
	size_t      a = strlen(dn), b = strlen(bio);

	if (a + 1 + b + 1 > sizeof(r->profile))
		return;
	memcpy(r->profile, dn, a + 1);
	memcpy(r->profile + a + 1, bio, b + 1);
	r->flags |= F_PROFILE | (u->display_name != NULL ? F_DISPLAY : 0) |
	    (u->bio != NULL ? F_BIO : 0);
}

enum cache_fill
cache_user_fill(struct cache *c, uint64_t epoch, const struct user *u)
{
	union image      img;
	struct user_rec *r = &img.v.r.u;

	if (c == NULL)
		return CACHE_OFF;
	memset(&img, 0, sizeof(img));
	id_key(u->id, img.v.m.key);
	r->id = u->id;
	r->token_version = u->token_version;
	r->flags = (u->status != NULL && strcmp(u->status, "active") == 0 ? F_ACTIVE : 0) |
	    (u->email_verified ? F_VERIFIED : 0) | (u->mfa_enabled ? F_MFA : 0) |
	    (u->last_login_at != NULL ? F_LAST_LOGIN : 0);
	if (u->username == NULL || u->email == NULL || u->created_at == NULL ||
	    u->updated_at == NULL || !put(r->username, sizeof(r->username), u->username) ||
	    !put(r->email, sizeof(r->email), u->email) ||
	    !put(r->created_at, sizeof(r->created_at), u->created_at) ||
	    !put(r->updated_at, sizeof(r->updated_at), u->updated_at) ||
	    !put(r->last_login_at, sizeof(r->last_login_at), u->last_login_at))
		return CACHE_TOO_BIG;
	pack_profile(r, u);
	return store(c, T_USER, epoch, &img, -1);
}

enum cache_fill
cache_family_fill(struct cache *c, uint64_t epoch, long long sid, long long user_id, int alive)
{
	union image img;

	if (c == NULL)
		return CACHE_OFF;
	memset(&img, 0, sizeof(img));
	id_key(sid, img.v.m.key);
	img.v.r.f.sid = sid;
	img.v.r.f.user_id = user_id;
	img.v.r.f.alive = alive != 0;
	return store(c, T_FAMILY, epoch, &img, user_id);
}

enum cache_fill
cache_session_fill(struct cache *c, uint64_t epoch, const struct session *s,
    long long expires_at, long long last_seen_at)
{
	union image         img;
	struct session_rec *r = &img.v.r.s;

	if (c == NULL)
		return CACHE_OFF;
	memset(&img, 0, sizeof(img));
	memcpy(img.v.m.key, s->hash, sizeof(s->hash));
	r->id = s->id;
	r->user_id = s->user_id;
	r->expires_at = expires_at;
	r->last_seen_at = last_seen_at;
	r->flags = (s->remember ? F_REMEMBER : 0) | (s->mfa_pending ? F_MFA_WAIT : 0) |
	    (s->display_name != NULL ? F_DISPLAY : 0);
	memcpy(r->csrf_seed, s->csrf_seed, sizeof(r->csrf_seed));
	if (s->username == NULL || s->email == NULL ||
	    !put(r->username, sizeof(r->username), s->username) ||
	    !put(r->email, sizeof(r->email), s->email) ||
	    !put(r->display_name, sizeof(r->display_name), s->display_name) ||
	    !put(r->roles, sizeof(r->roles), s->roles))
		return CACHE_TOO_BIG;
	return store(c, T_SESSION, epoch, &img, s->user_id);
}

/* --- dropping --------------------------------------------------------------------------- */

/* The epoch first, then the generation: the order store()'s comment depends on. */
static void
drop(struct cache *c, enum table t, const unsigned char key[32])
{
	struct hdr *h = live(c, 1);

	if (h == NULL)
		return;
	atomic_fetch_add(&h->epoch, 1);
	atomic_fetch_add(&bucket_of(c, t, key)->gen, 1);
	count(h, S_DROPS);
}

void
cache_user_drop(struct cache *c, long long id)
{
	unsigned char key[32];

	id_key(id, key);
	drop(c, T_USER, key);
}

void
cache_family_drop(struct cache *c, long long sid)
{
	unsigned char key[32];

	id_key(sid, key);
	drop(c, T_FAMILY, key);
}

void
cache_session_drop(struct cache *c, const unsigned char hash[32])
{
	drop(c, T_SESSION, hash);
}

void
cache_flush(struct cache *c)
{
	struct hdr *h = live(c, 1);

	if (h == NULL)
		return;
	atomic_fetch_add(&h->epoch, 1);
	atomic_fetch_add(&h->flush, 1);
	count(h, S_DROPS);
}

/* --- counting --------------------------------------------------------------------------- */

/* Ways that are tagged and of current generations; no checksum, no user check: approximate. */
static size_t
entries(struct cache *c)
{
	size_t   n = 0;
	uint64_t i;
	int      t, k;

	for (t = 0; t < T__MAX; t++)
		for (i = 0; i < c->f.t[t].nbuckets; i++)
			for (k = 0; k < WAYS; k++)
				n += way_live(c, (enum table)t, bucket_at(c, (enum table)t, i),
				    k);
	return n;
}

void
cache_stats(struct cache *c, struct cache_stats *out)
{
	struct hdr *h = live(c, 0);

	memset(out, 0, sizeof(*out));
	if (h == NULL)
		return;
	out->enabled = 1;
	out->hits = atomic_load(&h->st[S_HITS]);
	out->misses = atomic_load(&h->st[S_MISSES]);
	out->fills = atomic_load(&h->st[S_FILLS]);
	out->drops = atomic_load(&h->st[S_DROPS]);
	out->fill_conflicts = atomic_load(&h->st[S_CONFLICTS]);
	out->fail_closed = atomic_load(&h->st[S_FAIL_CLOSED]);
	out->rebuilds = atomic_load(&h->st[S_REBUILDS]);
	out->entries = entries(c);
	out->log_position = atomic_load(&h->log_id);
}

/* --- the revocation-log poll state ------------------------------------------------------ */

int
cache_poll_claim(struct cache *c, long long now, long long interval)
{
	struct hdr *h = live(c, 0);
	int64_t     at, claim;

	if (h == NULL)
		return 0;
	at = atomic_load(&h->poll_at_ms);
	if (at != NEVER && age(now, at) < interval)
		return 0;
	claim = atomic_load(&h->claim_ms);
	if (claim != NEVER && age(now, claim) < 5 * interval)
		return 0;
	/* Of several workers that got here, the CAS lets one through. */
	return atomic_compare_exchange_strong(&h->claim_ms, &claim, (int64_t)now);
}

/* The attempt that started at the claim is over: the next one waits a full interval. */
static void
release_claim(struct hdr *h)
{
	int64_t claim = atomic_exchange(&h->claim_ms, NEVER);

	if (claim != NEVER)
		atomic_store(&h->poll_at_ms, claim);
}

void
cache_poll_done(struct cache *c, long long last_id, long long now)
{
	struct hdr *h = live(c, 0);
	int64_t     cur;

	if (h == NULL)
		return;
	/* Log ids only grow; a poller that overran its claim must not move the position back. */
	cur = atomic_load(&h->log_id);
	while (cur < last_id && !atomic_compare_exchange_weak(&h->log_id, &cur, last_id))
		;
	atomic_store(&h->poll_ok_ms, now);
	release_claim(h);
}

void
cache_poll_failed(struct cache *c)
{
	struct hdr *h = live(c, 0);

	if (h != NULL)
		release_claim(h);
}

long long
cache_log_position(struct cache *c)
{
	struct hdr *h = live(c, 0);

	return h != NULL ? atomic_load(&h->log_id) : 0;
}

long long
cache_poll_ok_ms(struct cache *c)
{
	struct hdr *h = live(c, 0);
	int64_t     ok = h != NULL ? atomic_load(&h->poll_ok_ms) : NEVER;

	return ok == NEVER ? -1 : ok;
}

/*
 * A poll time in the future is no proof of freshness (a clock of another namespace, or
 * garbage): untrusted, like one too old.
 */
int
cache_trusted(struct cache *c, long long now, long long bound)
{
	struct hdr *h = live(c, 0);
	int64_t     ok;
	int         trusted;

	if (h == NULL)
		return 0;
	ok = atomic_load(&h->poll_ok_ms);
	trusted = ok != NEVER && ok <= now && age(now, ok) <= bound;
	if (trusted)
		atomic_store(&h->trusted, 1);
	else if (atomic_exchange(&h->trusted, 0) == 1)
		count(h, S_FAIL_CLOSED);
	return trusted;
}

/* --- for tests -------------------------------------------------------------------------- */

void
cache_test_set_counters(struct cache *c, uint32_t seq, uint64_t gen)
{
	struct hdr *h = live(c, 0);
	uint64_t    i;
	int         t;

	if (h == NULL)
		return;
	for (t = 0; t < T__MAX; t++)
		for (i = 0; i < c->f.t[t].nbuckets; i++) {
			atomic_store(&bucket_at(c, (enum table)t, i)->lock, seq & ~1u);
			atomic_store(&bucket_at(c, (enum table)t, i)->gen, gen);
		}
	atomic_store(&h->epoch, gen);
	atomic_store(&h->flush, gen);
	atomic_store(&h->stamp, gen);
}

int
cache_test_retired(struct cache *c)
{
	if (c == NULL || c->h == NULL)
		return -1;
	return (int)atomic_load(&c->h->retired);
}
