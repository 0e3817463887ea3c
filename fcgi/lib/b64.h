/* b64: base64url without padding (RFC 4648 §5), the alphabet of JWTs and of our random tokens. */
#ifndef UM_B64_H
#define UM_B64_H

#include <stddef.h>

/* Encoded length of n bytes, without the NUL. */
#define B64URL_LEN(n) (((n)*4 + 2) / 3)

/* Encodes src[0..n) into dst, which holds B64URL_LEN(n) + 1 bytes; returns the length. */
size_t b64url_encode(char *, const unsigned char *, size_t);
/*
 * Decodes src[0..n) into dst (room for n * 3 / 4 bytes).  Strict: no padding, no other
 * characters, no non-zero trailing bits (so one token has exactly one spelling).  Returns
 * the decoded length, or -1.
 */
long b64url_decode(unsigned char *, const char *, size_t);

#endif
