/* csrf: HMAC-bound synchronizer tokens — nothing stored, nothing another session can reuse. */
#include "config.h"

#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "arena.h"
#include "b64.h"
#include "csrf.h"
#include "keys.h"

/* Returns 0 when the MAC could not be made; callers then refuse, never compare zeros. */
static int
mac(const unsigned char *key, const char *kind, const void *binding, size_t n,
    unsigned char out[32])
{
	unsigned char msg[128];
	size_t        k = strlen(kind) + 1;

	/* Bindings are session seeds or cookie values: far below the buffer. */
	if (k + n > sizeof(msg))
		return 0;
	memcpy(msg, kind, k);
	memcpy(msg + k, binding, n);
	return keys_hmac(key, KEY_LEN, msg, k + n, out);
}

char *
csrf_token(struct arena *a, const struct keyring *r, const char *kind, const void *binding,
    size_t n)
{
	unsigned char m[32];
	char         *s;

	if (!mac(r->set[0].k[KEY_CSRF], kind, binding, n, m))
		return NULL;
	s = arena_alloc(a, B64URL_LEN(32) + 1);
	(void)b64url_encode(s, m, sizeof(m));
	return s;
}

int
csrf_valid(const struct keyring *r, const char *kind, const void *binding, size_t n,
    const char *presented)
{
	unsigned char want[32], got[33];
	size_t        i;

	if (presented == NULL || strlen(presented) != B64URL_LEN(32) ||
	    b64url_decode(got, presented, B64URL_LEN(32)) != 32)
		return 0;
	for (i = 0; i < r->n; i++) {
		if (mac(r->set[i].k[KEY_CSRF], kind, binding, n, want) &&
		    CRYPTO_memcmp(want, got, 32) == 0)
			return 1;
	}
	return 0;
}
