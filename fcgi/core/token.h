/* token: 256-bit random tokens for cookies, links and refresh tokens; only their SHA-256 is stored. */
#ifndef UM_TOKEN_H
#define UM_TOKEN_H

#include <stddef.h>

#include "error.h"

struct arena;

#define TOKEN_BYTES    32
#define TOKEN_LEN      43 /* base64url characters of 32 bytes */
#define TOKEN_HASH_LEN 32

/* A fresh token from the OS CSPRNG (OpenSSL RAND_bytes), base64url, in the arena. */
char *token_new(struct arena *);
/*
 * SHA-256 of the token text into out: what the database keys on, so a leaked table
 * holds no usable token.  Returns UM_EINVAL for anything not shaped like a token.
 */
enum um_err token_hash(const char *, unsigned char[TOKEN_HASH_LEN]);
/* SHA-256 of arbitrary bytes (legacy password hashes, fingerprints). */
void token_sha256(const void *, size_t, unsigned char[32]);
/* Lower-case hex of n bytes into the arena. */
char *token_hex(struct arena *, const unsigned char *, size_t);

#endif
