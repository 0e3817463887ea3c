/* arena: a per-request bump allocator, freed in one call when the response is sent. */
#ifndef UM_ARENA_H
#define UM_ARENA_H

#include <stdarg.h>
#include <stddef.h>

struct arena;

/* Creates an arena; the caller owns it and frees it with arena_free(). */
struct arena *arena_new(void);
/* Runs every deferred cleanup, frees every chunk.  Accepts NULL. */
void arena_free(struct arena *);
/* Runs the deferred cleanups and forgets every allocation, keeping the first chunk. */
void arena_reset(struct arena *);

/*
 * Allocations live until the next arena_reset()/arena_free().  Out of memory aborts the
 * process: a worker that cannot allocate is replaced by multiwatch (STYLE.md).
 */
void *arena_alloc(struct arena *, size_t);
void *arena_calloc(struct arena *, size_t, size_t);
char *arena_strdup(struct arena *, const char *);
char *arena_strndup(struct arena *, const char *, size_t);
/*
 * At most max bytes of s with every byte outside printable ASCII replaced by '?', for
 * columns and logs that hold what a client sent (User-Agent); "" when s is NULL.
 */
const char *arena_ascii(struct arena *, const char *, size_t);
void       *arena_memdup(struct arena *, const void *, size_t);
char *arena_printf(struct arena *, const char *, ...) __attribute__((format(printf, 2, 3)));
char *arena_vprintf(struct arena *, const char *, va_list)
    __attribute__((format(printf, 2, 0)));

/*
 * Registers fn(arg) to run at the next reset/free, newest first: how objects allocated
 * elsewhere (json_t, MYSQL_RES) are tied to the request's lifetime.
 */
void arena_defer(struct arena *, void (*)(void *), void *);

/* Bytes handed out since the last reset (for tests and metrics). */
size_t arena_used(const struct arena *);

#endif
