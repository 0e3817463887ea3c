/* fuzz_jwt: every byte string through the JWT verifier; nothing unsigned by the key passes, and what passes obeys its claims. */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "arena.h"
#include "jwt.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/*
 * The fuzz key, 32 bytes.  tests/fuzz/make-jwt-seeds signs the seed corpus with the same
 * bytes, so the seeds get past the signature and the fuzzer reaches the claims code.
 */
#define FUZZ_KEY  "fuzz-key-fuzz-key-fuzz-key-fuzz!"
#define FUZZ_AUD  "usermgr"
#define FUZZ_NOW  1700000000LL
#define LEEWAY    60  /* jwt.h: iat (and nbf) may be up to a minute ahead of now */
#define SIGN_MODE '!' /* first input byte: sign "header\npayload" here, then verify */

static const unsigned char  key[] = FUZZ_KEY;
static const struct jwt_key keys[2] = {
	{ "k1", key, sizeof(key) - 1 },
	{ NULL, key, sizeof(key) - 1 },
};

/* RFC 4648 §5 without padding; written here so the check does not trust the code under test. */
static char *
b64url(struct arena *a, const unsigned char *s, size_t n)
{
	static const char abc[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	char    *out = arena_alloc(a, (n * 4 + 2) / 3 + 1), *p = out;
	uint32_t v;
	size_t   i;

	for (i = 0; i + 2 < n; i += 3) {
		v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8 | s[i + 2];
		*p++ = abc[v >> 18 & 63];
		*p++ = abc[v >> 12 & 63];
		*p++ = abc[v >> 6 & 63];
		*p++ = abc[v & 63];
	}
	if (n - i == 1) {
		v = (uint32_t)s[i] << 16;
		*p++ = abc[v >> 18 & 63];
		*p++ = abc[v >> 12 & 63];
	} else if (n - i == 2) {
		v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8;
		*p++ = abc[v >> 18 & 63];
		*p++ = abc[v >> 12 & 63];
		*p++ = abc[v >> 6 & 63];
	}
	*p = '\0';
	return out;
}

/* The base64url HMAC-SHA256 of msg[0..n) under the fuzz key, computed with OpenSSL directly. */
static char *
mac_of(struct arena *a, const char *msg, size_t n)
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int  len = 0;

	if (HMAC(EVP_sha256(), key, sizeof(key) - 1, (const unsigned char *)msg, n, mac,
	        &len) == NULL ||
	    len != 32)
		abort();
	return b64url(a, mac, len);
}

/* A token the verifier did not refuse must carry the fuzz key's signature, exactly. */
static void
assert_signed(struct arena *a, const char *tok)
{
	const char *dot = strrchr(tok, '.');

	if (dot == NULL || strcmp(dot + 1, mac_of(a, tok, (size_t)(dot - tok))) != 0)
		abort();
}

static int
aud_ok(const json_t *aud)
{
	size_t  i;
	json_t *v;

	if (json_is_string(aud))
		return strcmp(json_string_value(aud), FUZZ_AUD) == 0;
	json_array_foreach(aud, i,
	    v) if (json_is_string(v) && strcmp(json_string_value(v), FUZZ_AUD) == 0) return 1;
	return 0;
}

/* RFC 7519 §4.1 as jwt.h promises it for an accepted token. */
static void
assert_claims(const json_t *claims)
{
	const json_t *v;

	if (!json_is_object(claims))
		abort();
	v = json_object_get(claims, "exp");
	if (!json_is_integer(v) || json_integer_value(v) <= FUZZ_NOW)
		abort();
	v = json_object_get(claims, "nbf");
	if (v != NULL && (!json_is_integer(v) || json_integer_value(v) > FUZZ_NOW + LEEWAY))
		abort();
	v = json_object_get(claims, "iat");
	if (v != NULL && (!json_is_integer(v) || json_integer_value(v) > FUZZ_NOW + LEEWAY))
		abort();
	if (!aud_ok(json_object_get(claims, "aud")))
		abort();
}

/* SIGN_MODE: "header-json\npayload-json" becomes a token signed with the fuzz key. */
static char *
sign_input(struct arena *a, const char *s, size_t n)
{
	const char *nl = memchr(s, '\n', n);
	char       *h, *p, *tok;
	size_t      hl, pl;

	if (nl == NULL)
		return NULL;
	h = b64url(a, (const unsigned char *)s, (size_t)(nl - s));
	p = b64url(a, (const unsigned char *)nl + 1, n - (size_t)(nl - s) - 1);
	hl = strlen(h);
	pl = strlen(p);
	tok = arena_alloc(a, hl + pl + 2 + 44);
	memcpy(tok, h, hl);
	tok[hl] = '.';
	memcpy(tok + hl + 1, p, pl);
	tok[hl + 1 + pl] = '\0';
	p = mac_of(a, tok, hl + 1 + pl);
	tok[hl + 1 + pl] = '.';
	memcpy(tok + hl + pl + 2, p, strlen(p) + 1);
	return tok;
}

/*
 * Input: a token as it would arrive in an Authorization header, or SIGN_MODE followed by a
 * header and a payload to sign here, so mutations of the claims keep a valid signature.
 */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct arena *a = arena_new();
	const char   *src = (const char *)data;
	char         *tok;
	json_t       *claims = (json_t *)1;
	enum um_err   rc;

	if (size > 0 && src[0] == SIGN_MODE)
		tok = sign_input(a, src + 1, size - 1);
	else
		tok = arena_strndup(a, src, size);
	if (tok == NULL)
		goto out;
	rc = jwt_verify(a, tok, keys, 2, FUZZ_AUD, FUZZ_NOW, &claims);
	if (rc != UM_OK && claims != NULL)
		abort();
	/* jwt.h: only an authentic token is UM_OK, or UM_EEXPIRED. */
	if (rc == UM_OK || rc == UM_EEXPIRED)
		assert_signed(a, tok);
	if (rc == UM_OK)
		assert_claims(claims);
out:
	arena_free(a);
	return 0;
}
