/* jwt: HS256 JSON Web Tokens (RFC 7519/7515) — the only algorithm accepted, checked strictly. */
#ifndef UM_JWT_H
#define UM_JWT_H

#include <stddef.h>

#include <jansson.h>

#include "error.h"

struct arena;
struct keyring;

#define JWT_MAX 4096 /* bytes: anything longer is refused unread */

struct jwt_key {
	const char          *kid; /* NULL: matches a token without kid only */
	const unsigned char *key;
	size_t               len;
};

/*
 * Signs claims (borrowed) as {"alg":"HS256","typ":"JWT","kid":kid}.  Returns the compact
 * serialisation in the arena.
 */
char *jwt_sign(struct arena *, const struct jwt_key *, const json_t *);

/*
 * Verifies a compact token against keys[0..n): the key whose kid the header names (a token
 * naming an unknown kid is refused), or every key when the header has none.  Refused with
 * UM_ETOKEN: not three base64url parts, header not a JSON object, alg other than "HS256"
 * (so "none" too), typ other than "JWT", a "crit" header, a bad signature, a payload that is
 * not an object, exp missing or not an integer, nbf in the future, iat more than a minute
 * ahead, aud not matching (when aud is not NULL).  Only an authentic token can be reported
 * UM_EEXPIRED (exp <= now).  On UM_OK *claims is the payload, tied to the arena.
 */
enum um_err jwt_verify(struct arena *, const char *, const struct jwt_key *, size_t,
    const char *, long long, json_t **);

/*
 * The same with a keyring (keys.h), as usermgr's own tokens use it: jwt_sign_ring adds a
 * random "jti" of n bytes (base64url) to claims and signs with the ring's current JWT key;
 * NULL when randomness or signing fails.  jwt_verify_ring accepts a token signed by any key
 * of the ring (a retired key still verifies), checked at the current time.
 */
char       *jwt_sign_ring(struct arena *, const struct keyring *, json_t *, size_t);
enum um_err jwt_verify_ring(struct arena *, const struct keyring *, const char *, const char *,
    json_t **);

/*
 * The pieces other JWS signers share (signkey.c): the base64url of v's compact JSON
 * (arena; NULL on failure), and the reverse for one segment holding a JSON object (tied to
 * the arena; NULL when it is anything else).
 */
char   *jwt_encode_part(struct arena *, const json_t *);
json_t *jwt_decode_part(struct arena *, const char *, size_t);

#endif
