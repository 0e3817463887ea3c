/* qr: byte-mode QR codes up to version 10, level M — enough for an otpauth:// URI — after ISO/IEC 18004:2015. */
#include "config.h"

#include <stdint.h>
#include <string.h>

#include "arena.h"
#include "buf.h"
#include "qr.h"

/* ISO/IEC 18004 Table 9, level M, by version (index 0 unused). */
static const int ecc_per_block[QR_VERSION_MAX + 1] =
    { 0, 10, 16, 26, 18, 24, 16, 18, 22, 22, 26 };
static const int num_blocks[QR_VERSION_MAX + 1] = { 0, 1, 1, 1, 2, 2, 4, 4, 4, 5, 5 };

#define FORMAT_M	0	/* the level bits of M in the format information (Table 12) */

struct grid {
	struct qr	*q;
	unsigned char	 func[QR_SIZE_MAX][QR_SIZE_MAX];	/* 1: a function module */
};

static void
put(struct grid *g, int x, int y, int dark)
{
	g->q->dark[y][x] = dark != 0;
	g->func[y][x] = 1;
}

/* Modules left for data and error correction after the function patterns (§7.1). */
static int
raw_modules(int ver)
{
	int	 n = (16 * ver + 128) * ver + 64, na;

	if (ver >= 2) {
		na = ver / 7 + 2;
		n -= (25 * na - 10) * na - 55;
		if (ver >= 7)
			n -= 36;
	}
	return n;
}

static int
data_codewords(int ver)
{
	return raw_modules(ver) / 8 - ecc_per_block[ver] * num_blocks[ver];
}

/* Alignment pattern centres (Annex E), ascending; returns how many. */
static int
align_pos(int ver, int size, int pos[7])
{
	int	 n, step, i;

	if (ver == 1)
		return 0;
	n = ver / 7 + 2;
	step = (ver * 8 + n * 3 + 5) / (n * 4 - 4) * 2;
	pos[0] = 6;
	for (i = n - 1; i >= 1; i--)
		pos[i] = size - 7 - (n - 1 - i) * step;
	return n;
}

/* GF(2^8) with the QR polynomial x^8 + x^4 + x^3 + x^2 + 1 (§7.5.2). */
static uint8_t
gf_mul(uint8_t x, uint8_t y)
{
	unsigned	 z = 0;
	int		 i;

	for (i = 7; i >= 0; i--) {
		z = (z << 1) ^ ((z >> 7) * 0x11d);
		z ^= ((y >> i) & 1u) * x;
	}
	return (uint8_t)z;
}

/* The generator polynomial of degree n, leading 1 implied, highest term first. */
static void
rs_divisor(int n, uint8_t *div)
{
	uint8_t	 root = 1;
	int	 i, j;

	memset(div, 0, (size_t)n);
	div[n - 1] = 1;
	for (i = 0; i < n; i++) {
		for (j = 0; j < n; j++) {
			div[j] = gf_mul(div[j], root);
			if (j + 1 < n)
				div[j] ^= div[j + 1];
		}
		root = gf_mul(root, 0x02);
	}
}

static void
rs_remainder(const uint8_t *data, int len, const uint8_t *div, int n, uint8_t *rem)
{
	uint8_t	 f;
	int	 i, j;

	memset(rem, 0, (size_t)n);
	for (i = 0; i < len; i++) {
		f = data[i] ^ rem[0];
		memmove(rem, rem + 1, (size_t)(n - 1));
		rem[n - 1] = 0;
		for (j = 0; j < n; j++)
			rem[j] ^= gf_mul(div[j], f);
	}
}

static void
finder(struct grid *g, int cx, int cy)
{
	int	 dx, dy, d, x, y, size = g->q->size;

	/* The 7x7 pattern and its one-module light separator. */
	for (dy = -4; dy <= 4; dy++)
		for (dx = -4; dx <= 4; dx++) {
			x = cx + dx;
			y = cy + dy;
			if (x < 0 || x >= size || y < 0 || y >= size)
				continue;
			d = dx < 0 ? -dx : dx;
			if ((dy < 0 ? -dy : dy) > d)
				d = dy < 0 ? -dy : dy;
			put(g, x, y, d != 2 && d != 4);
		}
}

static void
format_bits(struct grid *g, int mask)
{
	int	 data = FORMAT_M << 3 | mask, rem = data, bits, i, size = g->q->size;

	/* BCH(15,5) code, then the fixed XOR mask (§7.9.1). */
	for (i = 0; i < 10; i++)
		rem = (rem << 1) ^ ((rem >> 9) * 0x537);
	bits = ((data << 10) | rem) ^ 0x5412;
	for (i = 0; i <= 5; i++)
		put(g, 8, i, (bits >> i) & 1);
	put(g, 8, 7, (bits >> 6) & 1);
	put(g, 8, 8, (bits >> 7) & 1);
	put(g, 7, 8, (bits >> 8) & 1);
	for (i = 9; i < 15; i++)
		put(g, 14 - i, 8, (bits >> i) & 1);
	for (i = 0; i < 8; i++)
		put(g, size - 1 - i, 8, (bits >> i) & 1);
	for (i = 8; i < 15; i++)
		put(g, 8, size - 15 + i, (bits >> i) & 1);
	put(g, 8, size - 8, 1);		/* the dark module */
}

static void
function_patterns(struct grid *g)
{
	int	 size = g->q->size, pos[7], n, i, j, dx, dy, rem, bits, a, b;

	for (i = 0; i < size; i++) {
		put(g, 6, i, i % 2 == 0);
		put(g, i, 6, i % 2 == 0);
	}
	finder(g, 3, 3);
	finder(g, size - 4, 3);
	finder(g, 3, size - 4);
	n = align_pos(g->q->version, size, pos);
	for (i = 0; i < n; i++)
		for (j = 0; j < n; j++) {
			/* Not where a finder pattern sits. */
			if ((i == 0 && j == 0) || (i == 0 && j == n - 1) || (i == n - 1 && j == 0))
				continue;
			/* Dark ring, light ring, dark centre: dark unless at distance 1. */
			for (dy = -2; dy <= 2; dy++)
				for (dx = -2; dx <= 2; dx++)
					put(g, pos[i] + dx, pos[j] + dy,
					    (dx < -1 || dx > 1 || dy < -1 || dy > 1) ||
					    (dx == 0 && dy == 0));
		}
	format_bits(g, 0);	/* reserved now, the real bits once the mask is chosen */
	if (g->q->version >= 7) {
		/* Version information, BCH(18,6) (§7.10). */
		rem = g->q->version;
		for (i = 0; i < 12; i++)
			rem = (rem << 1) ^ ((rem >> 11) * 0x1f25);
		bits = g->q->version << 12 | rem;
		for (i = 0; i < 18; i++) {
			a = size - 11 + i % 3;
			b = i / 3;
			put(g, a, b, (bits >> i) & 1);
			put(g, b, a, (bits >> i) & 1);
		}
	}
}

static int
mask_bit(int mask, int x, int y)
{
	switch (mask) {
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

static void
apply_mask(struct grid *g, int mask)
{
	int	 x, y;

	for (y = 0; y < g->q->size; y++)
		for (x = 0; x < g->q->size; x++)
			if (!g->func[y][x] && mask_bit(mask, x, y))
				g->q->dark[y][x] ^= 1;
}

/* Rules 1, 2 and 4 of §7.8.3 (the finder-like rule 3 only refines the choice further). */
static long
penalty(const struct qr *q)
{
	long	 p = 0;
	int	 x, y, run, dark = 0, k, total;

	for (y = 0; y < q->size; y++) {
		for (run = 1, x = 1; x <= q->size; x++) {
			if (x < q->size && q->dark[y][x] == q->dark[y][x - 1]) {
				run++;
				continue;
			}
			if (run >= 5)
				p += 3 + (run - 5);
			run = 1;
		}
	}
	for (x = 0; x < q->size; x++) {
		for (run = 1, y = 1; y <= q->size; y++) {
			if (y < q->size && q->dark[y][x] == q->dark[y - 1][x]) {
				run++;
				continue;
			}
			if (run >= 5)
				p += 3 + (run - 5);
			run = 1;
		}
	}
	for (y = 0; y + 1 < q->size; y++)
		for (x = 0; x + 1 < q->size; x++)
			if (q->dark[y][x] == q->dark[y][x + 1] &&
			    q->dark[y][x] == q->dark[y + 1][x] &&
			    q->dark[y][x] == q->dark[y + 1][x + 1])
				p += 3;
	for (y = 0; y < q->size; y++)
		for (x = 0; x < q->size; x++)
			dark += q->dark[y][x];
	total = q->size * q->size;
	/* 10 points for each full 5 % the dark share is away from 50 %. */
	k = (dark * 20 > total * 10 ? dark * 20 - total * 10 : total * 10 - dark * 20);
	p += (long)(k / total) * 10;
	return p;
}

int
qr_encode(const void *text, size_t n, int mask, struct qr *q)
{
	struct grid		 g;
	uint8_t			 data[256], all[512], div[32], ecc[32];
	const uint8_t		*t = text;
	int			 ver, cap, nbits = 0, cc, i, j, k, nb, ecl, raw, nshort, shortlen;
	int			 right, vert, x, y, up, bit, best, m;
	long			 pen, bestpen = -1;
	size_t			 o;
	struct qr		 tmp;

	for (ver = 1; ver <= QR_VERSION_MAX; ver++) {
		cc = ver <= 9 ? 8 : 16;
		if ((size_t)(4 + cc) + n * 8 <= (size_t)data_codewords(ver) * 8)
			break;
	}
	if (ver > QR_VERSION_MAX || mask < -1 || mask > 7)
		return -1;
	cap = data_codewords(ver);
	memset(data, 0, sizeof(data));
	/* Mode indicator 0100 (byte), the count, the bytes (§7.4). */
#define PUTBITS(v, len) do {						\
	for (k = (len) - 1; k >= 0; k--, nbits++)				\
		data[nbits >> 3] |= (uint8_t)((((unsigned)(v) >> k) & 1u) << (7 - (nbits & 7))); \
} while (0)
	PUTBITS(4, 4);
	PUTBITS(n, cc);
	for (o = 0; o < n; o++)
		PUTBITS(t[o], 8);
	/* Terminator (up to four 0 bits), byte boundary, then 0xEC 0x11 padding (§7.4.10). */
	nbits += cap * 8 - nbits < 4 ? cap * 8 - nbits : 4;
	nbits = (nbits + 7) / 8 * 8;
	for (i = nbits / 8, k = 0; i < cap; i++, k ^= 1)
		data[i] = k ? 0x11 : 0xec;
#undef PUTBITS

	/* Blocks, error correction, interleaving (§7.5, §7.6). */
	nb = num_blocks[ver];
	ecl = ecc_per_block[ver];
	raw = raw_modules(ver) / 8;
	nshort = nb - raw % nb;
	shortlen = raw / nb;
	rs_divisor(ecl, div);
	{
		uint8_t	 blocks[5][160];
		int	 off = 0, dlen;

		for (i = 0; i < nb; i++) {
			dlen = shortlen - ecl + (i < nshort ? 0 : 1);
			memcpy(blocks[i], data + off, (size_t)dlen);
			off += dlen;
			rs_remainder(blocks[i], dlen, div, ecl, ecc);
			if (i < nshort)
				blocks[i][dlen++] = 0;
			memcpy(blocks[i] + dlen, ecc, (size_t)ecl);
		}
		for (k = 0, i = 0; i < shortlen + 1; i++)
			for (j = 0; j < nb; j++)
				if (i != shortlen - ecl || j >= nshort)
					all[k++] = blocks[j][i];
	}

	memset(&g, 0, sizeof(g));
	memset(&tmp, 0, sizeof(tmp));
	g.q = &tmp;
	tmp.version = ver;
	tmp.size = ver * 4 + 17;
	function_patterns(&g);
	/* The zigzag of two-module columns, right to left, skipping the timing column (§7.7.3). */
	for (i = 0, right = tmp.size - 1; right >= 1; right -= 2) {
		if (right == 6)
			right = 5;
		for (vert = 0; vert < tmp.size; vert++)
			for (j = 0; j < 2; j++) {
				x = right - j;
				up = ((right + 1) & 2) == 0;
				y = up ? tmp.size - 1 - vert : vert;
				if (g.func[y][x] || i >= raw * 8)
					continue;
				bit = (all[i >> 3] >> (7 - (i & 7))) & 1;
				tmp.dark[y][x] = (unsigned char)bit;
				i++;
			}
	}
	best = mask;
	if (mask < 0) {
		for (m = 0; m < 8; m++) {
			apply_mask(&g, m);
			format_bits(&g, m);
			pen = penalty(&tmp);
			if (bestpen < 0 || pen < bestpen) {
				bestpen = pen;
				best = m;
			}
			apply_mask(&g, m);	/* XOR again: undone */
		}
	}
	apply_mask(&g, best);
	format_bits(&g, best);
	tmp.mask = best;
	memcpy(q, &tmp, sizeof(tmp));
	return 0;
}

char *
qr_svg(struct arena *a, const char *text)
{
	struct qr		*q = arena_calloc(a, 1, sizeof(*q));
	struct buf		 b;
	int			 x, y, dim, run;

	if (qr_encode(text, strlen(text), -1, q) != 0)
		return NULL;
	dim = q->size + 8;
	buf_init(&b, a);
	buf_printf(&b, "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %d %d\" "
	    "shape-rendering=\"crispEdges\" role=\"img\"><rect width=\"%d\" height=\"%d\" "
	    "fill=\"#fff\"/><path fill=\"#000\" d=\"", dim, dim, dim, dim);
	/* One rectangle per horizontal run of dark modules keeps the image small. */
	for (y = 0; y < q->size; y++)
		for (x = 0; x < q->size; x += run > 0 ? run : 1) {
			for (run = 0; x + run < q->size && q->dark[y][x + run]; run++)
				continue;
			if (run > 0)
				buf_printf(&b, "M%d %dh%dv1h-%dz", x + 4, y + 4, run, run);
		}
	buf_puts(&b, "\"/></svg>");
	return b.data;
}
