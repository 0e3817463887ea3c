/* fuzz_webauthn: libFuzzer target for the WebAuthn parsing path — attestation objects, authenticator data, COSE keys. */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include <jansson.h>

#include "arena.h"
#include "b64.h"
#include "webauthn.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/*
 * The first byte picks what the rest is (tests/fuzz/make-webauthn-seeds writes seeds of each):
 *   'r'  an attestationObject, registered against a good clientDataJSON;
 *   'a'  authenticatorData of an assertion, checked with a fixed key and a signature nobody made;
 *   anything else: a COSE_Key.
 */
#define ORIGIN "http://localhost:8080"
#define RP_ID  "localhost"
/*
 * {1: 2, 3: -7, -1: 1, -2: x, -3: y} with the P-256 generator as the point: a valid key, and the
 * fixed signature below (r = s = 1) verifies for no message anyone can find.
 */
static const unsigned char cose_es256[] = { 0xa5, 0x01, 0x02, 0x03, 0x26, 0x20, 0x01, 0x21,
	0x58, 0x20, 0x6b, 0x17, 0xd1, 0xf2, 0xe1, 0x2c, 0x42, 0x47, 0xf8, 0xbc, 0xe6, 0xe5,
	0x63, 0xa4, 0x40, 0xf2, 0x77, 0x03, 0x7d, 0x81, 0x2d, 0xeb, 0x33, 0xa0, 0xf4, 0xa1,
	0x39, 0x45, 0xd8, 0x98, 0xc2, 0x96, 0x22, 0x58, 0x20, 0x4f, 0xe3, 0x42, 0xe2, 0xfe,
	0x1a, 0x7f, 0x9b, 0x8e, 0xe7, 0xeb, 0x4a, 0x7c, 0x0f, 0x9e, 0x16, 0x2b, 0xce, 0x33,
	0x57, 0x6b, 0x31, 0x5e, 0xce, 0xcb, 0xb6, 0x40, 0x68, 0x37, 0xbf, 0x51, 0xf5 };

static const unsigned char challenge[WEBAUTHN_CHALLENGE_LEN] = { 7, 7, 7, 7, 7, 7, 7, 7, 7, 7,
	7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7 };

static char *
b64(const unsigned char *p, size_t n)
{
	char *s = malloc(B64URL_LEN(n) + 1);

	if (s == NULL)
		abort();
	b64url_encode(s, p, n);
	return s;
}

static char *
client_data(const char *type)
{
	char    ch[B64URL_LEN(WEBAUTHN_CHALLENGE_LEN) + 1], *out, *s;
	json_t *j;

	b64url_encode(ch, challenge, sizeof(challenge));
	j = json_pack("{s:s, s:s, s:s}", "type", type, "challenge", ch, "origin", ORIGIN);
	s = json_dumps(j, JSON_COMPACT);
	out = b64((const unsigned char *)s, strlen(s));
	free(s);
	json_decref(j);
	return out;
}

/* What webauthn.c must have seen before it says WA_OK: the rp id hash, UP and UV. */
static void
check_authdata(const unsigned char *ad, size_t len)
{
	unsigned char h[32];
	unsigned int  hl;

	if (len < 37 || !EVP_Digest(RP_ID, strlen(RP_ID), h, &hl, EVP_sha256(), NULL) ||
	    memcmp(h, ad, 32) != 0 || (ad[32] & 0x05) != 0x05)
		abort();
}

/*
 * The credential id an attestation object attests (authData offset 55), found the simple way:
 * the bytes after "authData" and a CBOR byte-string head; junk otherwise, which is fine.
 */
static void
guess_id(const unsigned char *p, size_t n, const unsigned char **id, size_t *idlen)
{
	static const unsigned char key[] = { 0x68, 'a', 'u', 't', 'h', 'D', 'a', 't', 'a' };
	const unsigned char       *k = memmem(p, n, key, sizeof(key)), *ad;
	size_t                     off, adlen;

	*id = (const unsigned char *)"x";
	*idlen = 1;
	if (k == NULL || (size_t)(k - p) + sizeof(key) + 3 > n)
		return;
	off = (size_t)(k - p) + sizeof(key);
	/* 0x58 LL / 0x59 LLLL: a byte string with a 1- or 2-byte length. */
	if (p[off] == 0x58)
		off += 2;
	else if (p[off] == 0x59)
		off += 3;
	else
		return;
	ad = p + off;
	adlen = n - off;
	if (adlen < 55 || (size_t)(ad[53] << 8 | ad[54]) + 55 > adlen ||
	    (ad[53] << 8 | ad[54]) == 0)
		return;
	*id = ad + 55;
	*idlen = (size_t)(ad[53] << 8 | ad[54]);
}

static void
registration(struct arena *a, const unsigned char *p, size_t n)
{
	struct webauthn_rp   rp = { ORIGIN, RP_ID };
	struct webauthn_new  nw;
	const unsigned char *id;
	size_t               idlen;
	char                *cd = client_data("webauthn.create"), *ao = b64(p, n), *ids;
	json_t              *cred;

	guess_id(p, n, &id, &idlen);
	ids = b64(id, idlen);
	cred = json_pack("{s:s, s:s, s:s, s:{s:s, s:s}}", "type", "public-key", "id", ids,
	    "rawId", ids, "response", "clientDataJSON", cd, "attestationObject", ao);
	if (webauthn_register(a, &rp, challenge, cred, &nw) == WA_OK) {
		/* Accepted: a key we can verify with, of a known algorithm, and a checked authData. */
		if (webauthn_cose_alg(nw.cose, nw.cose_len) != nw.alg || nw.id_len != idlen ||
		    memcmp(nw.id, id, idlen) != 0 || !nw.uv)
			abort();
	}
	json_decref(cred);
	free(cd);
	free(ao);
	free(ids);
}

static void
assertion(struct arena *a, const unsigned char *p, size_t n)
{
	static const unsigned char sig[] = { 0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01 };
	struct webauthn_rp         rp = { ORIGIN, RP_ID };
	struct webauthn_assertion  as;
	char    *cd = client_data("webauthn.get"), *ad = b64(p, n), *s = b64(sig, sizeof(sig));
	json_t  *cred;
	uint32_t count = 0;
	enum webauthn_err e;

	cred = json_pack("{s:s, s:s, s:s, s:{s:s, s:s, s:s}}", "type", "public-key", "id", "AA",
	    "rawId", "AA", "response", "clientDataJSON", cd, "authenticatorData", ad,
	    "signature", s);
	if (n > 0 && webauthn_assertion_parse(a, cred, &as) == WA_OK) {
		e = webauthn_assertion_verify(a, &rp, challenge, &as, cose_es256,
		    sizeof(cose_es256), 0, &count);
		/* No authData may pass with that signature. */
		if (e == WA_OK)
			abort();
		/* Only a checked authData gets as far as the signature. */
		if (e == WA_ESIG)
			check_authdata(p, n);
	}
	json_decref(cred);
	free(cd);
	free(ad);
	free(s);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct arena *a;
	long          alg;

	if (size == 0)
		return 0;
	a = arena_new();
	if (data[0] == 'r')
		registration(a, data + 1, size - 1);
	else if (data[0] == 'a')
		assertion(a, data + 1, size - 1);
	else {
		alg = webauthn_cose_alg(data + 1, size - 1);
		if (alg != 0 && alg != WEBAUTHN_ES256 && alg != WEBAUTHN_EDDSA &&
		    alg != WEBAUTHN_RS256)
			abort();
	}
	arena_free(a);
	return 0;
}
