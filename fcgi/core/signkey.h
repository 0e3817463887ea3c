/* signkey: the ES256 (P-256) keys that sign OpenID Connect ID tokens, their JWKS, and rotation. */
#ifndef UM_SIGNKEY_H
#define UM_SIGNKEY_H

#include <jansson.h>

#include "error.h"

struct ctx;

/*
 * Signs claims (borrowed) as a compact JWS {"alg":"ES256","typ":"JWT","kid":kid} with the
 * current key, generating the first key when there is none (a PEM file of mode 0600 in
 * USERMGR_SIGNING_KEY_DIR, its public half in oauth_signing_keys).  The signature is the raw
 * r || s of RFC 7518 §3.4, not DER.  NULL on failure (logged).
 */
char *signkey_sign(struct ctx *, const json_t *);
/*
 * Checks a compact JWS that one of our published keys signed: alg must be exactly ES256 and
 * the kid one of the JWKS; the signature must hold.  Claims are not checked (an expired
 * id_token_hint is still a hint).  UM_ETOKEN otherwise; on UM_OK *claims is the payload,
 * tied to the arena.
 */
enum um_err signkey_verify(struct ctx *, const char *, json_t **);
/* {"keys": [...]}: the current key and every retired one still published; NULL on failure. */
json_t *signkey_jwks(struct ctx *);
/*
 * Generates a new current key; the old one stays published for keep seconds (the lifetime of
 * the last ID token it signed), and keys past that are dropped with their files.  *kid gets
 * the new key's id (arena).
 */
enum um_err signkey_rotate(struct ctx *, long long, const char **);

#endif
