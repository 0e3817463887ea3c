/* keys: per-purpose sub-keys derived from the master secret with HKDF (RFC 5869), old keys kept for verifying. */
#ifndef UM_KEYS_H
#define UM_KEYS_H

#include <stddef.h>

#include "conf.h"
#include "error.h"

#define KEY_LEN 32
#define KID_LEN 8 /* base64url characters */

enum key_purpose {
	KEY_JWT = 0, /* HS256 access tokens and mailed-link tokens */
	KEY_CSRF,    /* HMAC of the session id for synchronizer tokens */
	KEY_COOKIE,  /* reserved for signed cookies */
	KEY_DEVICE,  /* MACs of device cookies (device.c) */
	KEY__MAX
};

struct keyset {
	char          kid[KID_LEN + 1]; /* names the master key in JWT headers */
	unsigned char k[KEY__MAX][KEY_LEN];
};

struct keyring {
	struct keyset set[1 + CONF_OLD_KEYS_MAX]; /* set[0] signs; all verify */
	size_t        n;
};

/* Derives every sub-key of the current and retired master keys in c. */
enum um_err keys_init(struct keyring *, const struct conf *);
/* HKDF-SHA256(ikm = master, salt = none, info = "usermgr " purpose) → out[0..len). */
enum um_err keys_hkdf(const char *, const char *, unsigned char *, size_t);
void        keys_wipe(struct keyring *);
/*
 * HMAC-SHA256 of msg under key into out; 0 on failure.  Keeps a few keyed contexts per
 * process, since OpenSSL 3's one-shot HMAC() looks the algorithm up and hashes the key on
 * every call — work the JWT and CSRF checks would repeat on each request.
 */
int keys_hmac(const unsigned char *, size_t, const void *, size_t, unsigned char[32]);

#endif
