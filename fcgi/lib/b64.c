/* b64: strict base64url by libsodium — every token has exactly one accepted spelling. */
#include "config.h"

#include <sodium.h>

#include "b64.h"

#define VARIANT sodium_base64_VARIANT_URLSAFE_NO_PADDING

size_t
b64url_encode(char *dst, const unsigned char *src, size_t n)
{
	(void)sodium_bin2base64(dst, B64URL_LEN(n) + 1, src, n, VARIANT);
	return B64URL_LEN(n);
}

/*
 * No characters to ignore and no end pointer: libsodium then refuses ASCII outside the
 * alphabet, trailing characters, a length of 4k + 1 and non-zero leftover bits (RFC 4648
 * §3.5), as b64.h promises.  Bytes over 0x7f it decodes as letters (Debian 12's 1.0.18;
 * fuzz_device found one standing in for a MAC character), so they are refused first:
 * otherwise one value would have many spellings.
 */
long
b64url_decode(unsigned char *dst, const char *src, size_t n)
{
	size_t len, i;

	for (i = 0; i < n; i++)
		if ((unsigned char)src[i] > 0x7f)
			return -1;
	if (sodium_base642bin(dst, n / 4 * 3 + n % 4 * 3 / 4, src, n, NULL, &len, NULL,
	        VARIANT) != 0)
		return -1;
	return (long)len;
}
