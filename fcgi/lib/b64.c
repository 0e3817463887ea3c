/* b64: strict base64url — every token has exactly one accepted spelling. */
#include "config.h"

#include "b64.h"

static const char	 alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

size_t
b64url_encode(char *dst, const unsigned char *src, size_t n)
{
	size_t		 i, o = 0;
	unsigned long	 v;

	for (i = 0; i + 2 < n; i += 3) {
		v = (unsigned long)src[i] << 16 | (unsigned long)src[i + 1] << 8 | src[i + 2];
		dst[o++] = alphabet[(v >> 18) & 63];
		dst[o++] = alphabet[(v >> 12) & 63];
		dst[o++] = alphabet[(v >> 6) & 63];
		dst[o++] = alphabet[v & 63];
	}
	if (n - i == 1) {
		v = (unsigned long)src[i] << 16;
		dst[o++] = alphabet[(v >> 18) & 63];
		dst[o++] = alphabet[(v >> 12) & 63];
	} else if (n - i == 2) {
		v = (unsigned long)src[i] << 16 | (unsigned long)src[i + 1] << 8;
		dst[o++] = alphabet[(v >> 18) & 63];
		dst[o++] = alphabet[(v >> 12) & 63];
		dst[o++] = alphabet[(v >> 6) & 63];
	}
	dst[o] = '\0';
	return o;
}

static int
value(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '-')
		return 62;
	if (c == '_')
		return 63;
	return -1;
}

long
b64url_decode(unsigned char *dst, const char *src, size_t n)
{
	size_t		 i, o = 0;
	unsigned long	 v = 0;
	int		 d, bits = 0;

	if (n % 4 == 1)
		return -1;
	for (i = 0; i < n; i++) {
		if ((d = value(src[i])) < 0)
			return -1;
		v = (v << 6) | (unsigned long)d;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			dst[o++] = (unsigned char)(v >> bits);
			v &= (1UL << bits) - 1;
		}
	}
	/* Leftover bits must be zero (RFC 4648 §3.5 canonical encoding). */
	if (v != 0)
		return -1;
	return (long)o;
}
