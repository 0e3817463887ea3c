/* arena: chunked bump allocator with deferred cleanups; one per request, freed at once. */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"

/* Big enough that a typical request (a rendered page, its JSON, its answer) fits in the one
 * chunk a worker keeps: no malloc/free per request in the steady state. */
#define ARENA_CHUNK (128 * 1024)
#define ARENA_ALIGN 16

struct chunk {
	struct chunk *next;
	size_t        size; /* usable bytes after the header */
	size_t        used;
	/* data follows, aligned */
};

struct deferred {
	struct deferred *next;
	void (*fn)(void *);
	void *arg;
};

struct arena {
	struct chunk    *head; /* current chunk first; the last one is the first ever made */
	struct deferred *cleanups;
	size_t           total;
};

#define CHUNK_HDR ((sizeof(struct chunk) + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1))

static void
oom(void)
{
	/* A worker out of memory dies; multiwatch starts a fresh one (STYLE.md). */
	fputs("usermgr: out of memory\n", stderr);
	abort();
}

static struct chunk *
chunk_new(size_t size)
{
	struct chunk *c;

	if (size > SIZE_MAX - CHUNK_HDR)
		oom();
	if ((c = malloc(CHUNK_HDR + size)) == NULL)
		oom();
	c->next = NULL;
	c->size = size;
	c->used = 0;
	return c;
}

struct arena *
arena_new(void)
{
	struct arena *a;

	if ((a = calloc(1, sizeof(*a))) == NULL)
		oom();
	a->head = chunk_new(ARENA_CHUNK);
	return a;
}

static void
run_cleanups(struct arena *a)
{
	struct deferred *d;

	/* Each cleanup record lives in the arena itself, so read next before running. */
	while ((d = a->cleanups) != NULL) {
		a->cleanups = d->next;
		d->fn(d->arg);
	}
}

void
arena_reset(struct arena *a)
{
	struct chunk *c, *next;

	if (a == NULL)
		return;
	run_cleanups(a);
	/* Keep only the oldest chunk: the steady state of a worker is one malloc'd chunk. */
	for (c = a->head; c->next != NULL; c = next) {
		next = c->next;
		free(c);
	}
	a->head = c;
	c->used = 0;
	a->total = 0;
}

void
arena_free(struct arena *a)
{
	struct chunk *c, *next;

	if (a == NULL)
		return;
	run_cleanups(a);
	for (c = a->head; c != NULL; c = next) {
		next = c->next;
		free(c);
	}
	free(a);
}

void *
arena_alloc(struct arena *a, size_t n)
{
	struct chunk *c;
	size_t        need;

	if (n > SIZE_MAX - ARENA_ALIGN)
		oom();
	need = (n + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
	if (need == 0)
		need = ARENA_ALIGN;
	c = a->head;
	if (c->size - c->used < need) {
		/* Large requests get a chunk of their own; the rest start a new standard chunk. */
		c = chunk_new(need > ARENA_CHUNK / 4 ? need : ARENA_CHUNK);
		c->next = a->head;
		a->head = c;
	}
	c->used += need;
	a->total += need;
	return (char *)c + CHUNK_HDR + c->used - need;
}

void *
arena_calloc(struct arena *a, size_t nmemb, size_t size)
{
	void *p;

	if (size != 0 && nmemb > SIZE_MAX / size)
		oom();
	p = arena_alloc(a, nmemb * size);
	memset(p, 0, nmemb * size);
	return p;
}

void *
arena_memdup(struct arena *a, const void *src, size_t n)
{
	void *p;

	p = arena_alloc(a, n);
	if (n > 0)
		memcpy(p, src, n);
	return p;
}

char *
arena_strndup(struct arena *a, const char *s, size_t n)
{
	char *p;

	p = arena_alloc(a, n + 1);
	if (n > 0)
		memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

char *
arena_strdup(struct arena *a, const char *s)
{
	return arena_strndup(a, s, strlen(s));
}

char *
arena_vprintf(struct arena *a, const char *fmt, va_list ap)
{
	va_list ap2;
	char   *p;
	int     n;

	va_copy(ap2, ap);
	n = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	if (n < 0)
		oom();
	p = arena_alloc(a, (size_t)n + 1);
	(void)vsnprintf(p, (size_t)n + 1, fmt, ap);
	return p;
}

char *
arena_printf(struct arena *a, const char *fmt, ...)
{
	va_list ap;
	char   *p;

	va_start(ap, fmt);
	p = arena_vprintf(a, fmt, ap);
	va_end(ap);
	return p;
}

void
arena_defer(struct arena *a, void (*fn)(void *), void *arg)
{
	struct deferred *d;

	d = arena_alloc(a, sizeof(*d));
	d->fn = fn;
	d->arg = arg;
	d->next = a->cleanups;
	a->cleanups = d;
}

size_t
arena_used(const struct arena *a)
{
	return a->total;
}

const char *
arena_ascii(struct arena *a, const char *s, size_t max)
{
	char  *out;
	size_t i, n;

	if (s == NULL)
		return "";
	n = strnlen(s, max);
	out = arena_strndup(a, s, n);
	for (i = 0; i < n; i++)
		if ((unsigned char)out[i] < 0x20 || (unsigned char)out[i] > 0x7e)
			out[i] = '?';
	return out;
}
