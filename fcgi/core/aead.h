/* aead: AES-256-GCM for secrets kept in the database (DESIGN.md "Security decisions"). */
#ifndef UM_AEAD_H
#define UM_AEAD_H

#include <stddef.h>

#include "error.h"

#define AEAD_KEY_LEN   32
#define AEAD_NONCE_LEN 12 /* NIST SP 800-38D §8.2.2: 96-bit random IVs */
#define AEAD_TAG_LEN   16
#define AEAD_OVERHEAD  (AEAD_NONCE_LEN + AEAD_TAG_LEN)

/*
 * Encrypts pt[0..n) under key with a fresh random nonce, authenticating ad too (which row
 * and purpose the value belongs to, so a ciphertext cannot be moved to another row).
 * Writes nonce || ciphertext || tag, n + AEAD_OVERHEAD bytes, into out (outlen at least
 * that) and sets *written.  UM_EINVAL when out is too small; UM_EINTERNAL on a crypto
 * failure.
 */
enum um_err aead_seal(const unsigned char[AEAD_KEY_LEN], const void *, size_t, const void *,
    size_t, unsigned char *, size_t, size_t *);
/*
 * The reverse: checks the tag over the ciphertext and ad before anything is released.
 * UM_ETOKEN when the input is short, altered, or was sealed under another key or ad (out is
 * then wiped); UM_EINVAL when out is too small.
 */
enum um_err aead_open(const unsigned char[AEAD_KEY_LEN], const unsigned char *, size_t,
    const void *, size_t, unsigned char *, size_t, size_t *);

#endif
