/* qr: a QR code (ISO/IEC 18004) of a short text, drawn as SVG, so the MFA setup needs no script or image host. */
#ifndef UM_QR_H
#define UM_QR_H

#include <stddef.h>

struct arena;

#define QR_VERSION_MAX 10 /* 57 x 57 modules; 213 bytes at level M */
#define QR_SIZE_MAX    (QR_VERSION_MAX * 4 + 17)

struct qr {
	int           version;                        /* 1..QR_VERSION_MAX */
	int           size;                           /* modules per side: version * 4 + 17 */
	int           mask;                           /* 0..7 */
	unsigned char dark[QR_SIZE_MAX][QR_SIZE_MAX]; /* [row][column], 1 = dark */
};

/*
 * Encodes n bytes in byte mode at error-correction level M, in the smallest version that
 * holds them.  mask is 0..7, or -1 to pick the one of least penalty (ISO/IEC 18004 §7.8.3).
 * Returns 0, or -1 when the text is too long for QR_VERSION_MAX.
 */
int qr_encode(const void *, size_t, int, struct qr *);
/*
 * The code as an SVG image with a 4-module quiet zone: one path of unit squares, scaled by
 * the viewBox, no script or style.  NULL when the text does not fit.  In the arena.
 */
char *qr_svg(struct arena *, const char *);

#endif
