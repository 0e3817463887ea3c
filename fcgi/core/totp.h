/* totp: RFC 6238 time-based one-time passwords (HMAC-SHA-1, 30 s, 6 digits) and RFC 4648 base32. */
#ifndef UM_TOTP_H
#define UM_TOTP_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct arena;

#define TOTP_SECRET_LEN 20 /* RFC 4226 §4 R6: 160 bits, the HMAC-SHA-1 block output */
#define TOTP_STEP       30 /* RFC 6238 §5.2: the recommended time step X */
#define TOTP_DIGITS     6  /* what authenticator apps show */
#define TOTP_WINDOW     1  /* RFC 6238 §5.2: one step either side for clock drift */
#define TOTP_B32_MAX    64 /* base32 characters of a secret we accept or print */

/*
 * RFC 4226 §5.3 HOTP: HMAC-SHA-1 of the big-endian counter, dynamic truncation, modulo
 * 10^digits (6..8).  Returns 0, or -1 on bad arguments or a crypto failure.
 */
int totp_hotp(const unsigned char *, size_t, uint64_t, unsigned, uint32_t *);
/* The RFC 6238 time step of t: floor(t / TOTP_STEP) (T0 = 0). */
int64_t totp_step(time_t);
/* The code of time t with the given number of digits (RFC 6238 §4). */
int totp_code(const unsigned char *, size_t, time_t, unsigned, uint32_t *);
/*
 * Checks a TOTP_DIGITS-digit code typed by a person against the steps within TOTP_WINDOW
 * of now.  Steps at or below last_step (-1: none) were used already and are refused, so a
 * code cannot be replayed inside its window.  Returns 0 with *step set to the step that
 * matched, or -1.  Every candidate is compared in constant time.
 */
int totp_verify(const unsigned char *, size_t, const char *, time_t, int64_t, int64_t *);

/*
 * RFC 4648 §6 base32, upper case, without "=" padding (as otpauth:// URIs carry it).
 * Writes a NUL-terminated string; returns its length, or 0 when out is too small.
 */
size_t totp_b32_encode(const unsigned char *, size_t, char *, size_t);
/*
 * Decodes base32, ignoring case, spaces and hyphens and trailing "=" padding.  Returns the
 * number of bytes written, or -1 for any other character, a length that no encoding has,
 * non-zero trailing bits, or too small an out.
 */
long totp_b32_decode(const char *, unsigned char *, size_t);

/*
 * The otpauth:// URI authenticator apps read (Google Authenticator "Key Uri Format"):
 * otpauth://totp/ISSUER:ACCOUNT?secret=B32&issuer=ISSUER&algorithm=SHA1&digits=6&period=30,
 * label and issuer percent-encoded (RFC 3986).  In the arena.
 */
char *totp_uri(struct arena *, const char *, const char *, const char *);

#endif
