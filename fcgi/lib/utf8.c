/* utf8: strict UTF-8 checks for every byte string that crosses the trust boundary. */
#include "config.h"

#include <stdint.h>
#include <string.h>

#include "utf8.h"

#define HIGH_BITS UINT64_C(0x8080808080808080)

/*
 * Walks s[0..n) and returns the number of code points, or -1 at the first ill-formed
 * sequence.  The byte ranges are those of RFC 3629 §4 (Unicode 15 table 3-7), which rule
 * out overlong forms (C0, C1, E0 80..9F, F0 80..8F), UTF-16 surrogates (ED A0..BF), code
 * points above U+10FFFF (F4 90..BF, F5..FF), stray continuation bytes and truncation.
 */
static long
scan(const unsigned char *s, size_t n)
{
	uint64_t      w;
	size_t        i = 0, need;
	long          count = 0;
	unsigned char c, lo, hi;

	while (i < n) {
		/* Most input is ASCII: test eight bytes at a time for a high bit. */
		while (n - i >= sizeof(w)) {
			memcpy(&w, s + i, sizeof(w));
			if ((w & HIGH_BITS) != 0)
				break;
			i += sizeof(w);
			count += sizeof(w);
		}
		if (i >= n)
			break;
		c = s[i];
		if (c < 0x80) {
			i++;
			count++;
			continue;
		}
		/* The first continuation byte's range depends on the lead; the rest are 80..BF. */
		lo = 0x80;
		hi = 0xbf;
		if (c >= 0xc2 && c <= 0xdf)
			need = 1;
		else if (c >= 0xe0 && c <= 0xef) {
			need = 2;
			if (c == 0xe0)
				lo = 0xa0;
			else if (c == 0xed)
				hi = 0x9f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			need = 3;
			if (c == 0xf0)
				lo = 0x90;
			else if (c == 0xf4)
				hi = 0x8f;
		} else
			return -1;
		if (n - i - 1 < need)
			return -1;
		if (s[i + 1] < lo || s[i + 1] > hi)
			return -1;
		for (i += 2, need--; need > 0; i++, need--)
			if (s[i] < 0x80 || s[i] > 0xbf)
				return -1;
		count++;
	}
	return count;
}

int
utf8_valid(const char *s, size_t n)
{
	return scan((const unsigned char *)s, n) >= 0;
}

long
utf8_count(const char *s, size_t n)
{
	return scan((const unsigned char *)s, n);
}
