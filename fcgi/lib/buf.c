/* buf: arena-backed growable string; doubling keeps appends amortised O(1). */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "buf.h"

void
buf_init_cap(struct buf *b, struct arena *a, size_t cap)
{
	b->arena = a;
	b->cap = cap > 0 ? cap : 1;
	b->data = arena_alloc(a, b->cap);
	b->data[0] = '\0';
	b->len = 0;
}

void
buf_init(struct buf *b, struct arena *a)
{
	buf_init_cap(b, a, 256);
}

static void
grow(struct buf *b, size_t extra)
{
	size_t ncap;
	char  *nd;

	if (b->len + extra + 1 <= b->cap)
		return;
	ncap = b->cap;
	while (ncap < b->len + extra + 1) {
		if (ncap > ((size_t)-1) / 2) {
			fputs("usermgr: buffer size overflow\n", stderr);
			abort();
		}
		ncap *= 2;
	}
	/* The old block stays in the arena until the request ends; bodies are small. */
	nd = arena_alloc(b->arena, ncap);
	memcpy(nd, b->data, b->len + 1);
	b->data = nd;
	b->cap = ncap;
}

void
buf_append(struct buf *b, const void *p, size_t n)
{
	if (n == 0)
		return;
	grow(b, n);
	memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
}

void
buf_puts(struct buf *b, const char *s)
{
	buf_append(b, s, strlen(s));
}

void
buf_putc(struct buf *b, char c)
{
	buf_append(b, &c, 1);
}

void
buf_put_decimal(struct buf *b, unsigned long long n)
{
	char  d[20]; /* 18446744073709551615 */
	char *p = d + sizeof(d);

	do
		*--p = (char)('0' + n % 10);
	while ((n /= 10) != 0);
	buf_append(b, p, (size_t)(d + sizeof(d) - p));
}

void
buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int     n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n <= 0)
		return;
	grow(b, (size_t)n);
	va_start(ap, fmt);
	(void)vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

void
buf_append_html(struct buf *b, const char *s, size_t n)
{
	size_t      i, start;
	const char *rep;

	for (start = i = 0; i < n; i++) {
		switch (s[i]) {
		case '&': rep = "&amp;"; break;
		case '<': rep = "&lt;"; break;
		case '>': rep = "&gt;"; break;
		case '"': rep = "&quot;"; break;
		case '\'': rep = "&#39;"; break;
		default: continue;
		}
		buf_append(b, s + start, i - start);
		buf_puts(b, rep);
		start = i + 1;
	}
	buf_append(b, s + start, n - start);
}

void
buf_truncate(struct buf *b, size_t len)
{
	if (len < b->len) {
		b->len = len;
		b->data[len] = '\0';
	}
}
