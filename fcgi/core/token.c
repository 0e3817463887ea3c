/* token: CSPRNG tokens and their hashes — the database never holds a usable secret. */
#include "config.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>
#include <sodium.h>

#include "arena.h"
#include "b64.h"
#include "token.h"

char *
token_new(struct arena *a)
{
	unsigned char raw[TOKEN_BYTES];
	char         *s;

	if (RAND_bytes(raw, sizeof(raw)) != 1) {
		/* No randomness means no safe token: die, multiwatch restarts us. */
		fputs("usermgr: RAND_bytes failed\n", stderr);
		abort();
	}
	s = arena_alloc(a, TOKEN_LEN + 1);
	(void)b64url_encode(s, raw, sizeof(raw));
	return s;
}

/*
 * libsodium's SHA-256, not EVP_Digest(EVP_sha256()): OpenSSL 3 fetches the implementation
 * from its provider on every such call, which was an eighth of the worker's time on a cached
 * cookie /auth/check (perf, tests/bench/run BENCH_PROFILE=check-cookie).  Same digest.
 */
void
token_sha256(const void *p, size_t n, unsigned char out[32])
{
	static atomic_int ready; /* sodium_init is idempotent and thread-safe */

	if (!ready && sodium_init() < 0) {
		fputs("usermgr: sodium_init failed\n", stderr);
		abort();
	}
	ready = 1;
	(void)crypto_hash_sha256(out, p, n);
}

enum um_err
token_hash(const char *tok, unsigned char out[TOKEN_HASH_LEN])
{
	unsigned char raw[TOKEN_BYTES + 2];

	if (tok == NULL || strlen(tok) != TOKEN_LEN ||
	    b64url_decode(raw, tok, TOKEN_LEN) != TOKEN_BYTES)
		return UM_EINVAL;
	token_sha256(tok, TOKEN_LEN, out);
	return UM_OK;
}

char *
token_hex(struct arena *a, const unsigned char *p, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	char             *s;
	size_t            i;

	s = arena_alloc(a, n * 2 + 1);
	for (i = 0; i < n; i++) {
		s[i * 2] = hex[p[i] >> 4];
		s[i * 2 + 1] = hex[p[i] & 0xf];
	}
	s[n * 2] = '\0';
	return s;
}
