/* keys: HKDF sub-keys, so one leaked purpose key (say CSRF) forges nothing else. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>

#include "b64.h"
#include "keys.h"
#include "log.h"

static const char *const purpose_info[KEY__MAX] = {
	[KEY_JWT] = "jwt",       /* HS256 signing */
	[KEY_CSRF] = "csrf",     /* synchronizer tokens */
	[KEY_COOKIE] = "cookie", /* signed cookies */
	[KEY_DEVICE] =
	    "device", /* device cookies: a key of their own, so no other MAC passes */
};

enum um_err
keys_hkdf(const char *master, const char *purpose, unsigned char *out, size_t len)
{
	EVP_KDF     *kdf = NULL;
	EVP_KDF_CTX *ctx = NULL;
	OSSL_PARAM   params[4];
	char         info[64];
	enum um_err  rc = UM_EINTERNAL;
	size_t       n;

	n = (size_t)snprintf(info, sizeof(info), "usermgr %s", purpose);
	if ((kdf = EVP_KDF_fetch(NULL, "HKDF", NULL)) == NULL ||
	    (ctx = EVP_KDF_CTX_new(kdf)) == NULL)
		goto out;
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)"SHA256",
	    0);
	params[1] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)master,
	    strlen(master));
	params[2] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, info, n);
	params[3] = OSSL_PARAM_construct_end();
	if (EVP_KDF_derive(ctx, out, len, params) != 1)
		goto out;
	rc = UM_OK;
out:
	if (rc != UM_OK)
		log_err("keys: HKDF failed");
	EVP_KDF_CTX_free(ctx);
	EVP_KDF_free(kdf);
	return rc;
}

static enum um_err
derive_set(struct keyset *s, const char *master)
{
	unsigned char kid[6];
	int           p;

	for (p = 0; p < KEY__MAX; p++)
		if (keys_hkdf(master, purpose_info[p], s->k[p], KEY_LEN) != UM_OK)
			return UM_EINTERNAL;
	/* The kid is derived too: it names a key without revealing anything about it. */
	if (keys_hkdf(master, "kid", kid, sizeof(kid)) != UM_OK)
		return UM_EINTERNAL;
	(void)b64url_encode(s->kid, kid, sizeof(kid));
	return UM_OK;
}

enum um_err
keys_init(struct keyring *r, const struct conf *c)
{
	size_t i;

	memset(r, 0, sizeof(*r));
	if (c->secret_key == NULL)
		return UM_EINVAL;
	if (derive_set(&r->set[0], c->secret_key) != UM_OK)
		return UM_EINTERNAL;
	r->n = 1;
	for (i = 0; i < c->nold_keys; i++, r->n++)
		if (derive_set(&r->set[r->n], c->old_keys[i]) != UM_OK)
			return UM_EINTERNAL;
	return UM_OK;
}

void
keys_wipe(struct keyring *r)
{
	OPENSSL_cleanse(r, sizeof(*r));
}

#define HMAC_CACHE   8
#define HMAC_KEY_MAX 128

static struct {
	unsigned char key[HMAC_KEY_MAX];
	size_t        len;
	EVP_MAC_CTX  *ctx; /* initialised with key; re-initialised per use */
} hmac_cache[HMAC_CACHE];
static size_t hmac_next;

/* A context holding key, from the cache or newly made (evicting the oldest). */
static EVP_MAC_CTX *
hmac_ctx(const unsigned char *key, size_t len)
{
	static EVP_MAC *mac;
	OSSL_PARAM      params[2];
	size_t          i;

	for (i = 0; i < HMAC_CACHE; i++)
		if (hmac_cache[i].ctx != NULL && hmac_cache[i].len == len &&
		    CRYPTO_memcmp(hmac_cache[i].key, key, len) == 0)
			return hmac_cache[i].ctx;
	if (len > HMAC_KEY_MAX)
		return NULL;
	if (mac == NULL && (mac = EVP_MAC_fetch(NULL, "HMAC", NULL)) == NULL)
		return NULL;
	i = hmac_next++ % HMAC_CACHE;
	EVP_MAC_CTX_free(hmac_cache[i].ctx);
	hmac_cache[i].ctx = NULL;
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256",
	    0);
	params[1] = OSSL_PARAM_construct_end();
	if ((hmac_cache[i].ctx = EVP_MAC_CTX_new(mac)) == NULL ||
	    EVP_MAC_init(hmac_cache[i].ctx, key, len, params) != 1) {
		EVP_MAC_CTX_free(hmac_cache[i].ctx);
		hmac_cache[i].ctx = NULL;
		return NULL;
	}
	memcpy(hmac_cache[i].key, key, len);
	hmac_cache[i].len = len;
	return hmac_cache[i].ctx;
}

int
keys_hmac(const unsigned char *key, size_t len, const void *msg, size_t n,
    unsigned char out[32])
{
	EVP_MAC_CTX *ctx;
	size_t       outlen = 0;

	/* A NULL key re-initialises with the key already set (OpenSSL 3 EVP_MAC_init(3)). */
	if ((ctx = hmac_ctx(key, len)) == NULL || (EVP_MAC_init(ctx, NULL, 0, NULL) != 1) ||
	    EVP_MAC_update(ctx, msg, n) != 1 || EVP_MAC_final(ctx, out, &outlen, 32) != 1)
		return 0;
	return outlen == 32;
}
