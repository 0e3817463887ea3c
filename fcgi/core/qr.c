/* qr: byte-mode QR codes at level M, encoded by libqrencode, drawn as one SVG path. */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <qrencode.h>

#include "arena.h"
#include "buf.h"
#include "qr.h"

/*
 * libqrencode chooses the mask itself and its public API takes none; a forced mask (which the
 * known-answer tests use to compare with an independent encoder) is put over its choice.
 * The module flags are documented in qrencode.h: bit 0 dark, bit 7 not a data module.
 */
#define MODULE_DARK     0x01
#define MODULE_FUNCTION 0x80

/* The format information of level M for each mask, BCH-coded and masked (Annex C, Table C.1). */
static const unsigned format_m[8] = { 0x5412, 0x5125, 0x5e7c, 0x5b4b, 0x45f9, 0x40ce, 0x4f97,
	0x4aa0 };

/* Where bit i of the format information sits: two copies, as x, y, x, y (§7.9.1, Figure 25). */
static void
format_at(int size, int i, int xy[4])
{
	xy[0] = i < 8 ? 8 : i == 8 ? 7 : 14 - i;
	xy[1] = i < 6 ? i : i < 8 ? i + 1 : 8;
	xy[2] = i < 8 ? size - 1 - i : 8;
	xy[3] = i < 8 ? 8 : size - 15 + i;
}

/* The data mask conditions (§7.8.2, Table 10): 1 where mask m inverts the module at x, y. */
static int
mask_bit(int m, int x, int y)
{
	switch (m) {
	case 0: return (x + y) % 2 == 0;
	case 1: return y % 2 == 0;
	case 2: return x % 3 == 0;
	case 3: return (x + y) % 3 == 0;
	case 4: return (x / 3 + y / 2) % 2 == 0;
	case 5: return x * y % 2 + x * y % 3 == 0;
	case 6: return (x * y % 2 + x * y % 3) % 2 == 0;
	default: return ((x + y) % 2 + x * y % 3) % 2 == 0;
	}
}

/* The mask the code carries, read from its second copy of the format information; -1 if none. */
static int
mask_of(const QRcode *c)
{
	unsigned bits = 0;
	int      i, m, xy[4];

	for (i = 0; i < 15; i++) {
		format_at(c->width, i, xy);
		bits |= (c->data[xy[3] * c->width + xy[2]] & MODULE_DARK) << i;
	}
	for (m = 0; m < 8; m++)
		if (format_m[m] == bits)
			return m;
	return -1;
}

/* Replaces mask old by mask m: flips the data modules where they differ, rewrites the format. */
static void
remask(QRcode *c, int old, int m)
{
	unsigned char *d = c->data, bit;
	int            w = c->width, x, y, i, xy[4];

	for (y = 0; y < w; y++)
		for (x = 0; x < w; x++)
			if (!(d[y * w + x] & MODULE_FUNCTION) &&
			    mask_bit(old, x, y) != mask_bit(m, x, y))
				d[y * w + x] ^= MODULE_DARK;
	for (i = 0; i < 15; i++) {
		format_at(w, i, xy);
		bit = (format_m[m] >> i) & 1;
		d[xy[1] * w + xy[0]] = (unsigned char)((d[xy[1] * w + xy[0]] & ~MODULE_DARK) |
		    bit);
		d[xy[3] * w + xy[2]] = (unsigned char)((d[xy[3] * w + xy[2]] & ~MODULE_DARK) |
		    bit);
	}
}

int
qr_encode(const void *text, size_t n, int mask, struct qr *q)
{
	QRcode *c;
	int     old, x, y, rc = -1;

	if (mask < -1 || mask > 7 || n > INT_MAX)
		return -1;
	/* Version 0: the smallest that holds the bytes; 8-bit mode, as the text is (§7.4.5). */
	if ((c = QRcode_encodeData((int)n, text, 0, QR_ECLEVEL_M)) == NULL) {
		if (errno == ENOMEM)
			abort(); /* as arena_alloc does: the worker is restarted */
		return -1;
	}
	if (c->version > QR_VERSION_MAX || (old = mask_of(c)) < 0)
		goto out;
	if (mask >= 0 && mask != old)
		remask(c, old, mask);
	q->version = c->version;
	q->size = c->width;
	q->mask = mask >= 0 ? mask : old;
	for (y = 0; y < c->width; y++)
		for (x = 0; x < c->width; x++)
			q->dark[y][x] = c->data[y * c->width + x] & MODULE_DARK;
	rc = 0;
out:
	QRcode_free(c);
	return rc;
}

char *
qr_svg(struct arena *a, const char *text)
{
	struct qr *q = arena_calloc(a, 1, sizeof(*q));
	struct buf b;
	int        x, y, dim, run;

	if (qr_encode(text, strlen(text), -1, q) != 0)
		return NULL;
	dim = q->size + 8;
	buf_init(&b, a);
	buf_printf(&b,
	    "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %d %d\" "
	    "shape-rendering=\"crispEdges\" role=\"img\"><rect width=\"%d\" height=\"%d\" "
	    "fill=\"#fff\"/><path fill=\"#000\" d=\"",
	    dim, dim, dim, dim);
	/* One rectangle per horizontal run of dark modules keeps the image small. */
	for (y = 0; y < q->size; y++)
		for (x = 0; x<q->size; x += run> 0 ? run : 1) {
			for (run = 0; x + run < q->size && q->dark[y][x + run]; run++)
				continue;
			if (run > 0)
				buf_printf(&b, "M%d %dh%dv1h-%dz", x + 4, y + 4, run, run);
		}
	buf_puts(&b, "\"/></svg>");
	return b.data;
}
