/* token: CSPRNG tokens and their hashes — the database never holds a usable secret. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

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

void
token_sha256(const void *p, size_t n, unsigned char out[32])
{
	unsigned int len = 32;

	if (EVP_Digest(p, n, out, &len, EVP_sha256(), NULL) != 1) {
		fputs("usermgr: SHA-256 failed\n", stderr);
		abort();
	}
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
