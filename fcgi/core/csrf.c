/* csrf: HMAC-bound synchronizer tokens — nothing stored, nothing another session can reuse. */
#include "config.h"

#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "arena.h"
#include "b64.h"
#include "csrf.h"
#include "keys.h"
#include "request.h"

/* Returns 0 when the MAC could not be made; callers then refuse, never compare zeros. */
static int
mac(const unsigned char *key, const char *kind, const void *binding, size_t n,
    unsigned char out[32])
{
	unsigned char	 msg[128];
	size_t		 k = strlen(kind) + 1;

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
	unsigned char	 m[32];
	char		*s;

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
	unsigned char	 want[32], got[33];
	size_t		 i;

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

/* Length of the origin part (scheme://host[:port]) of a URL, 0 if it has none. */
static size_t
origin_len(const char *url)
{
	const char	*p;

	if ((p = strstr(url, "://")) == NULL)
		return 0;
	p += 3;
	while (*p != '\0' && *p != '/' && *p != '?' && *p != '#')
		p++;
	return (size_t)(p - url);
}

int
csrf_same_origin(const struct request *req, const char *base_url)
{
	const char	*origin, *referer;
	size_t		 n = origin_len(base_url);

	if ((origin = request_env(req, "HTTP_ORIGIN")) != NULL && *origin != '\0')
		return strlen(origin) == n && strncasecmp(origin, base_url, n) == 0;
	if ((referer = request_env(req, "HTTP_REFERER")) != NULL && *referer != '\0')
		return origin_len(referer) == n && strncasecmp(referer, base_url, n) == 0;
	return 1;
}
