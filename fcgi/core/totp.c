/* totp: second-factor codes computed here, so the server needs no library beyond OpenSSL's HMAC. */
#include "config.h"

#include <stdint.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "arena.h"
#include "buf.h"
#include "totp.h"

static const char b32_alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

int
totp_hotp(const unsigned char *key, size_t keylen, uint64_t counter, unsigned digits,
    uint32_t *out)
{
	unsigned char msg[8], mac[EVP_MAX_MD_SIZE];
	unsigned int  maclen = 0;
	uint32_t      bin, mod = 1;
	unsigned      i, off;

	if (key == NULL || keylen == 0 || keylen > 64 || digits < 6 || digits > 8)
		return -1;
	/* RFC 4226 §5.2: the counter is an 8-byte big-endian value. */
	for (i = 0; i < 8; i++)
		msg[i] = (unsigned char)(counter >> (56 - 8 * i));
	if (HMAC(EVP_sha1(), key, (int)keylen, msg, sizeof(msg), mac, &maclen) == NULL ||
	    maclen != 20)
		return -1;
	/* RFC 4226 §5.3 dynamic truncation: 31 bits at the offset the last nibble names. */
	off = mac[19] & 0x0f;
	bin = ((uint32_t)(mac[off] & 0x7f) << 24) | ((uint32_t)mac[off + 1] << 16) |
	    ((uint32_t)mac[off + 2] << 8) | (uint32_t)mac[off + 3];
	for (i = 0; i < digits; i++)
		mod *= 10;
	*out = bin % mod;
	OPENSSL_cleanse(mac, sizeof(mac));
	return 0;
}

int64_t
totp_step(time_t t)
{
	/* Times before 1970 do not occur here; clamp rather than produce a negative counter. */
	return t < 0 ? 0 : (int64_t)(t / TOTP_STEP);
}

int
totp_code(const unsigned char *key, size_t keylen, time_t t, unsigned digits, uint32_t *out)
{
	return totp_hotp(key, keylen, (uint64_t)totp_step(t), digits, out);
}

int
totp_verify(const unsigned char *key, size_t keylen, const char *code, time_t now,
    int64_t last_step, int64_t *step)
{
	char     want[TOTP_DIGITS + 1];
	uint32_t v;
	int64_t  s, cur = totp_step(now), found = -1;
	size_t   i;

	if (code == NULL || strlen(code) != TOTP_DIGITS)
		return -1;
	for (i = 0; i < TOTP_DIGITS; i++)
		if (code[i] < '0' || code[i] > '9')
			return -1;
	/* Every step of the window is computed and compared, match or not: constant work. */
	for (s = cur - TOTP_WINDOW; s <= cur + TOTP_WINDOW; s++) {
		if (s < 0 || totp_hotp(key, keylen, (uint64_t)s, TOTP_DIGITS, &v) != 0)
			continue;
		for (i = TOTP_DIGITS; i > 0; i--) {
			want[i - 1] = (char)('0' + v % 10);
			v /= 10;
		}
		want[TOTP_DIGITS] = '\0';
		if (CRYPTO_memcmp(want, code, TOTP_DIGITS) == 0 && s > last_step && found < 0)
			found = s;
	}
	OPENSSL_cleanse(want, sizeof(want));
	if (found < 0)
		return -1;
	*step = found;
	return 0;
}

size_t
totp_b32_encode(const unsigned char *in, size_t n, char *out, size_t outlen)
{
	uint32_t acc = 0;
	unsigned bits = 0;
	size_t   i, o = 0;

	if ((n * 8 + 4) / 5 + 1 > outlen)
		return 0;
	for (i = 0; i < n; i++) {
		acc = (acc << 8) | in[i];
		bits += 8;
		while (bits >= 5) {
			out[o++] = b32_alphabet[(acc >> (bits - 5)) & 0x1f];
			bits -= 5;
		}
	}
	/* The last group is padded with zero bits on the right (RFC 4648 §6). */
	if (bits > 0)
		out[o++] = b32_alphabet[(acc << (5 - bits)) & 0x1f];
	out[o] = '\0';
	return o;
}

static int
b32_value(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a';
	if (c >= '2' && c <= '7')
		return c - '2' + 26;
	return -1;
}

long
totp_b32_decode(const char *in, unsigned char *out, size_t outlen)
{
	uint32_t    acc = 0;
	unsigned    bits = 0;
	size_t      o = 0, nchars = 0;
	const char *p;
	int         v, padding = 0;

	for (p = in; *p != '\0'; p++) {
		if (*p == ' ' || *p == '-')
			continue;
		if (*p == '=') {
			padding = 1;
			continue;
		}
		/* Nothing but padding may follow padding. */
		if (padding || (v = b32_value(*p)) < 0)
			return -1;
		nchars++;
		acc = (acc << 5) | (uint32_t)v;
		bits += 5;
		if (bits >= 8) {
			if (o >= outlen)
				return -1;
			out[o++] = (unsigned char)(acc >> (bits - 8));
			bits -= 8;
		}
		acc &= 0xff;
	}
	/* RFC 4648 §6: 1, 3 and 6 trailing characters never occur; leftover bits must be 0. */
	if (nchars % 8 == 1 || nchars % 8 == 3 || nchars % 8 == 6)
		return -1;
	if (bits > 0 && (acc & ((1u << bits) - 1)) != 0)
		return -1;
	return (long)o;
}

/* RFC 3986 §2.3: everything but unreserved characters is percent-encoded. */
static void
pct(struct buf *b, const char *s)
{
	static const char    hex[] = "0123456789ABCDEF";
	const unsigned char *p;

	for (p = (const unsigned char *)s; *p != '\0'; p++) {
		if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
		    (*p >= '0' && *p <= '9') || *p == '-' || *p == '.' || *p == '_' ||
		    *p == '~')
			buf_putc(b, (char)*p);
		else {
			buf_putc(b, '%');
			buf_putc(b, hex[*p >> 4]);
			buf_putc(b, hex[*p & 0x0f]);
		}
	}
}

char *
totp_uri(struct arena *a, const char *issuer, const char *account, const char *secret)
{
	struct buf b;

	buf_init(&b, a);
	buf_puts(&b, "otpauth://totp/");
	pct(&b, issuer);
	buf_putc(&b, ':');
	pct(&b, account);
	buf_puts(&b, "?secret=");
	buf_puts(&b, secret);
	buf_puts(&b, "&issuer=");
	pct(&b, issuer);
	buf_printf(&b, "&algorithm=SHA1&digits=%d&period=%d", TOTP_DIGITS, TOTP_STEP);
	return b.data;
}
