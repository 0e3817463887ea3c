/* webauthn: the two WebAuthn ceremonies' checks (W3C WebAuthn L3 §7.1, §7.2), pure: no storage, no clock. */
#ifndef UM_WEBAUTHN_H
#define UM_WEBAUTHN_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

struct arena;

#define WEBAUTHN_CHALLENGE_LEN 32    /* random bytes of a challenge (issue 13, item 1) */
#define WEBAUTHN_CRED_ID_MAX   1023  /* bytes of a credential id (WebAuthn L3 §5.8.3) */
#define WEBAUTHN_COSE_MAX      1024  /* bytes of a stored COSE public key (RSA-4096 fits) */
#define WEBAUTHN_FIELD_MAX     16384 /* base64url characters of one response member */

/* COSE algorithm identifiers we verify (IANA COSE Algorithms). */
#define WEBAUTHN_ES256 (-7)
#define WEBAUTHN_EDDSA (-8)
#define WEBAUTHN_RS256 (-257)

/* Why a response was refused: each is one check of the specification, and has a test. */
enum webauthn_err {
	WA_OK = 0,
	WA_EMALFORMED, /* not the JSON form, bad base64url, truncated or malformed CBOR/authData */
	WA_ETYPE,      /* clientDataJSON.type is not webauthn.create / webauthn.get */
	WA_ECHALLENGE, /* clientDataJSON.challenge is not the one issued */
	WA_EORIGIN,    /* clientDataJSON.origin is not the base URL's origin (or crossOrigin) */
	WA_ERPID,      /* authenticatorData.rpIdHash is not SHA-256 of the rp id */
	WA_EUP,        /* the user-present flag is not set */
	WA_EUV,        /* the user-verified flag is not set (docs/DECISIONS.md: required) */
	WA_EALG,       /* a COSE key or algorithm we do not verify (or a weak RSA key) */
	WA_ESIG,       /* the signature (assertion or packed attestation) does not verify */
	WA_ECOUNT,     /* the signature counter went backwards: a cloned authenticator? */
	WA_EATTEST,    /* an attestation statement that is malformed for its format */
	WA__MAX
};

/* The relying party: origin "https://host[:port]" and rp id "host", from the base URL. */
struct webauthn_rp {
	const char *origin;
	const char *rp_id;
};

/* A credential made by a registration ceremony, ready to store. */
struct webauthn_new {
	const unsigned char *id; /* credential id */
	size_t               id_len;
	const unsigned char *cose; /* the COSE_Key as the authenticator encoded it */
	size_t               cose_len;
	long                 alg;        /* WEBAUTHN_ES256, _EDDSA or _RS256 */
	uint32_t             sign_count; /* the authenticator's counter at registration */
	int                  uv, backup_eligible, backed_up;
	const char          *transports; /* JSON array text of the response's transports */
	const char          *fmt; /* attestation format as sent ("none", "packed", ...) */
};

/* An assertion, decoded: enough to find the stored credential before verifying it. */
struct webauthn_assertion {
	const unsigned char *id; /* credential id (rawId) */
	size_t               id_len;
	const unsigned char *user_handle; /* NULL when the response has none */
	size_t               user_handle_len;
	const unsigned char *client_data, *auth_data, *sig;
	size_t               client_data_len, auth_data_len, sig_len;
};

/* The snake_case name of a refusal ("origin", "sign_count"), for audit details and tests. */
const char *webauthn_strerror(enum webauthn_err);
/*
 * The relying party of base_url ("http://localhost:8080/"): origin without path, rp id = its
 * host, both arena strings.  -1 when base_url is not http(s)://host[:port][/path].
 */
int webauthn_rp_from_url(struct arena *, const char *, struct webauthn_rp *);
/*
 * Checks a RegistrationResponseJSON (cred) against the challenge issued for it: client data
 * (type webauthn.create, challenge, origin), the attestation object (CBOR: fmt, attStmt,
 * authData with attested credential data), rp id hash, UP and UV, a COSE key of an
 * algorithm we verify, and a packed self-attestation signature when there is one; other
 * formats count as none.  out points into the arena.
 */
enum webauthn_err webauthn_register(struct arena *, const struct webauthn_rp *,
    const unsigned char[WEBAUTHN_CHALLENGE_LEN], const json_t *, struct webauthn_new *);
/* Decodes an AuthenticationResponseJSON's members into a (arena); checks nothing else. */
enum webauthn_err webauthn_assertion_parse(struct arena *, const json_t *,
    struct webauthn_assertion *);
/*
 * Checks a decoded assertion against the challenge and the stored credential (COSE key,
 * counter): client data (type webauthn.get, challenge, origin), rp id hash, UP and UV, the
 * signature over authenticatorData || SHA-256(clientDataJSON), and the counter — when
 * either side is non-zero the new one must be greater (WA_ECOUNT; L3 §6.1.1).  On WA_OK
 * *count is the new counter.
 */
enum webauthn_err webauthn_assertion_verify(struct arena *, const struct webauthn_rp *,
    const unsigned char[WEBAUTHN_CHALLENGE_LEN], const struct webauthn_assertion *,
    const unsigned char *, size_t, uint32_t, uint32_t *);
/* The COSE algorithm of a COSE_Key we can verify with, or 0 (parses with libcbor). */
long webauthn_cose_alg(const unsigned char *, size_t);

#endif
