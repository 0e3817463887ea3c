/* jwt: HS256 on OpenSSL HMAC + jansson; signature checked in constant time before any claim. */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "arena.h"
#include "b64.h"
#include "buf.h"
#include "json.h"
#include "jwt.h"
#include "keys.h"

#define IAT_SKEW 60 /* seconds a clock ahead of ours is forgiven */

static int
hs256(const struct jwt_key *k, const char *msg, size_t len, unsigned char mac[32])
{
	return keys_hmac(k->key, k->len, msg, len, mac);
}

char *
jwt_encode_part(struct arena *a, const json_t *v)
{
	char  *s, *out;
	size_t n;

	if ((s = json_dumps(v, JSON_COMPACT)) == NULL)
		return NULL;
	n = strlen(s);
	out = arena_alloc(a, B64URL_LEN(n) + 1);
	(void)b64url_encode(out, (const unsigned char *)s, n);
	free(s);
	return out;
}

char *
jwt_sign(struct arena *a, const struct jwt_key *k, const json_t *claims)
{
	json_t       *hdr;
	char         *h, *p, sig[B64URL_LEN(32) + 1];
	unsigned char mac[32];
	struct buf    b;

	hdr = json_pack("{s:s, s:s}", "alg", "HS256", "typ", "JWT");
	if (k->kid != NULL)
		json_object_set_new(hdr, "kid", json_string(k->kid));
	h = jwt_encode_part(a, hdr);
	json_decref(hdr);
	p = jwt_encode_part(a, claims);
	if (h == NULL || p == NULL)
		return NULL;
	buf_init(&b, a);
	buf_puts(&b, h);
	buf_putc(&b, '.');
	buf_puts(&b, p);
	if (!hs256(k, b.data, b.len, mac))
		return NULL;
	(void)b64url_encode(sig, mac, sizeof(mac));
	buf_putc(&b, '.');
	buf_puts(&b, sig);
	return b.data;
}

json_t *
jwt_decode_part(struct arena *a, const char *s, size_t n)
{
	unsigned char *raw;
	long           len;
	json_t        *v = NULL;

	raw = arena_alloc(a, n);
	if ((len = b64url_decode(raw, s, n)) <= 0)
		return NULL;
	if (json_body_parse(a, (const char *)raw, (size_t)len, &v) != UM_OK ||
	    !json_is_object(v))
		return NULL;
	return v;
}

static int
aud_matches(const json_t *aud, const char *want)
{
	size_t  i;
	json_t *v;

	if (json_is_string(aud))
		return strcmp(json_string_value(aud), want) == 0;
	if (json_is_array(aud))
		json_array_foreach(aud, i, v) if (json_is_string(v) &&
		    strcmp(json_string_value(v), want) == 0) return 1;
	return 0;
}

enum um_err
jwt_verify(struct arena *a, const char *tok, const struct jwt_key *keys, size_t nkeys,
    const char *aud, long long now, json_t **claims)
{
	const char   *dot1, *dot2, *kid = NULL;
	json_t       *hdr, *body, *v;
	unsigned char mac[32], sig[48];
	size_t        n, i, signed_len;
	int           ok = 0;

	*claims = NULL;
	if (tok == NULL || (n = strlen(tok)) == 0 || n > JWT_MAX)
		return UM_ETOKEN;
	if ((dot1 = strchr(tok, '.')) == NULL || (dot2 = strchr(dot1 + 1, '.')) == NULL ||
	    strchr(dot2 + 1, '.') != NULL)
		return UM_ETOKEN;
	signed_len = (size_t)(dot2 - tok);
	/* An HS256 signature is 32 bytes: 43 base64url characters, nothing else. */
	if (strlen(dot2 + 1) != B64URL_LEN(32) ||
	    b64url_decode(sig, dot2 + 1, strlen(dot2 + 1)) != 32)
		return UM_ETOKEN;
	if ((hdr = jwt_decode_part(a, tok, (size_t)(dot1 - tok))) == NULL)
		return UM_ETOKEN;
	v = json_object_get(hdr, "alg");
	if (!json_is_string(v) || strcmp(json_string_value(v), "HS256") != 0)
		return UM_ETOKEN;
	v = json_object_get(hdr, "typ");
	if (v != NULL && (!json_is_string(v) || strcmp(json_string_value(v), "JWT") != 0))
		return UM_ETOKEN;
	/* RFC 7515 §4.1.11: we understand no extension, so any crit makes the token invalid. */
	if (json_object_get(hdr, "crit") != NULL)
		return UM_ETOKEN;
	if ((v = json_object_get(hdr, "kid")) != NULL) {
		if (!json_is_string(v))
			return UM_ETOKEN;
		kid = json_string_value(v);
	}

	for (i = 0; i < nkeys; i++) {
		if (kid != NULL && (keys[i].kid == NULL || strcmp(keys[i].kid, kid) != 0))
			continue;
		if (!hs256(&keys[i], tok, signed_len, mac))
			return UM_EINTERNAL;
		if (CRYPTO_memcmp(mac, sig, sizeof(mac)) == 0) {
			ok = 1;
			break;
		}
	}
	if (!ok)
		return UM_ETOKEN;

	if ((body = jwt_decode_part(a, dot1 + 1, (size_t)(dot2 - dot1 - 1))) == NULL)
		return UM_ETOKEN;
	v = json_object_get(body, "exp");
	if (!json_is_integer(v))
		return UM_ETOKEN;
	if ((v = json_object_get(body, "nbf")) != NULL &&
	    (!json_is_integer(v) || json_integer_value(v) > now + IAT_SKEW))
		return UM_ETOKEN;
	if ((v = json_object_get(body, "iat")) != NULL &&
	    (!json_is_integer(v) || json_integer_value(v) > now + IAT_SKEW))
		return UM_ETOKEN;
	if (aud != NULL && !aud_matches(json_object_get(body, "aud"), aud))
		return UM_ETOKEN;
	if (json_integer_value(json_object_get(body, "exp")) <= now)
		return UM_EEXPIRED;
	*claims = body;
	return UM_OK;
}

#define JTI_MAX 32 /* bytes of randomness a jti may ask for */

char *
jwt_sign_ring(struct arena *a, const struct keyring *r, json_t *claims, size_t n)
{
	const struct keyset *ks = &r->set[0];
	struct jwt_key       k = { ks->kid, ks->k[KEY_JWT], KEY_LEN };
	unsigned char        jti[JTI_MAX];
	char                 jtis[B64URL_LEN(JTI_MAX) + 1];

	if (n > sizeof(jti) || RAND_bytes(jti, (int)n) != 1)
		return NULL;
	(void)b64url_encode(jtis, jti, n);
	if (json_object_set_new(claims, "jti", json_string(jtis)) != 0)
		return NULL;
	return jwt_sign(a, &k, claims);
}

enum um_err
jwt_verify_ring(struct arena *a, const struct keyring *r, const char *tok, const char *aud,
    json_t **claims)
{
	struct jwt_key keys[1 + CONF_OLD_KEYS_MAX];
	size_t         i;

	for (i = 0; i < r->n; i++) {
		keys[i].kid = r->set[i].kid;
		keys[i].key = r->set[i].k[KEY_JWT];
		keys[i].len = KEY_LEN;
	}
	return jwt_verify(a, tok, keys, r->n, aud, (long long)time(NULL), claims);
}
