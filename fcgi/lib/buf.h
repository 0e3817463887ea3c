/* buf: a growable byte string whose storage comes from an arena (response bodies, rendering). */
#ifndef UM_BUF_H
#define UM_BUF_H

#include <stdarg.h>
#include <stddef.h>

struct arena;

struct buf {
	struct arena *arena;
	char         *data; /* always NUL-terminated when len > 0 or after buf_init */
	size_t        len;
	size_t        cap;
};

void buf_init(struct buf *, struct arena *);
/* The same with room for n bytes up front, when the size is known or guessable. */
void buf_init_cap(struct buf *, struct arena *, size_t);
void buf_append(struct buf *, const void *, size_t);
void buf_puts(struct buf *, const char *);
void buf_putc(struct buf *, char);
/* Appends n in decimal: the hot paths' numbers (ids, lengths, statuses) without printf. */
void buf_put_decimal(struct buf *, unsigned long long);
void buf_printf(struct buf *, const char *, ...) __attribute__((format(printf, 2, 3)));
/* Appends with HTML escaping of & < > " ' (OWASP XSS rule #1; ' as &#39;). */
void buf_append_html(struct buf *, const char *, size_t);
void buf_truncate(struct buf *, size_t);

#endif
