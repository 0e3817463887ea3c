/* aead: one sealed format, nonce || ciphertext || tag, so every encrypted column reads the same way. */
#include "config.h"

#include <limits.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "aead.h"

enum um_err
aead_seal(const unsigned char key[AEAD_KEY_LEN], const void *pt, size_t n, const void *ad,
    size_t adlen, unsigned char *out, size_t outlen, size_t *written)
{
	EVP_CIPHER_CTX *ctx = NULL;
	unsigned char  *nonce = out, *ct = out + AEAD_NONCE_LEN;
	int             len, fin;
	enum um_err     rc = UM_EINTERNAL;

	*written = 0;
	if (n > INT_MAX - AEAD_OVERHEAD || adlen > INT_MAX || outlen < n + AEAD_OVERHEAD) {
		rc = UM_EINVAL;
		goto out;
	}
	/* A random nonce: at a few writes per user, far below the 2^32 limit of SP 800-38D. */
	if (RAND_bytes(nonce, AEAD_NONCE_LEN) != 1 || (ctx = EVP_CIPHER_CTX_new()) == NULL ||
	    EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, AEAD_NONCE_LEN, NULL) != 1 ||
	    EVP_EncryptInit_ex(ctx, NULL, NULL, key, nonce) != 1)
		goto out;
	if (adlen > 0 && EVP_EncryptUpdate(ctx, NULL, &len, ad, (int)adlen) != 1)
		goto out;
	len = 0;
	if (n > 0 && EVP_EncryptUpdate(ctx, ct, &len, pt, (int)n) != 1)
		goto out;
	if (EVP_EncryptFinal_ex(ctx, ct + len, &fin) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, AEAD_TAG_LEN, ct + n) != 1)
		goto out;
	*written = n + AEAD_OVERHEAD;
	rc = UM_OK;
out:
	EVP_CIPHER_CTX_free(ctx);
	return rc;
}

enum um_err
aead_open(const unsigned char key[AEAD_KEY_LEN], const unsigned char *in, size_t inlen,
    const void *ad, size_t adlen, unsigned char *out, size_t outlen, size_t *written)
{
	EVP_CIPHER_CTX *ctx = NULL;
	unsigned char   tag[AEAD_TAG_LEN];
	size_t          n;
	int             len, fin;
	enum um_err     rc = UM_EINTERNAL;

	*written = 0;
	if (inlen < AEAD_OVERHEAD || inlen > INT_MAX || adlen > INT_MAX) {
		rc = UM_ETOKEN;
		goto out;
	}
	n = inlen - AEAD_OVERHEAD;
	if (outlen < n) {
		rc = UM_EINVAL;
		goto out;
	}
	memcpy(tag, in + AEAD_NONCE_LEN + n, AEAD_TAG_LEN);
	if ((ctx = EVP_CIPHER_CTX_new()) == NULL ||
	    EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, AEAD_NONCE_LEN, NULL) != 1 ||
	    EVP_DecryptInit_ex(ctx, NULL, NULL, key, in) != 1)
		goto out;
	if (adlen > 0 && EVP_DecryptUpdate(ctx, NULL, &len, ad, (int)adlen) != 1)
		goto out;
	len = 0;
	if (n > 0 && EVP_DecryptUpdate(ctx, out, &len, in + AEAD_NONCE_LEN, (int)n) != 1)
		goto out;
	if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, AEAD_TAG_LEN, tag) != 1)
		goto out;
	/* The tag is checked here; on a mismatch nothing decrypted may leave. */
	if (EVP_DecryptFinal_ex(ctx, out + len, &fin) != 1) {
		OPENSSL_cleanse(out, n);
		rc = UM_ETOKEN;
		goto out;
	}
	*written = n;
	rc = UM_OK;
out:
	EVP_CIPHER_CTX_free(ctx);
	return rc;
}
