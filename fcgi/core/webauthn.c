/* webauthn: registration and assertion checks — CBOR by libcbor, keys and signatures by OpenSSL, nothing stored. */
#include "config.h"

#include <stdint.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>

#include <cbor.h>
#include <jansson.h>

#include "arena.h"
#include "b64.h"
#include "webauthn.h"

/* authenticatorData flags (WebAuthn L3 §6.1). */
#define FLAG_UP 0x01
#define FLAG_UV 0x04
#define FLAG_BE 0x08
#define FLAG_BS 0x10
#define FLAG_AT 0x40
#define FLAG_ED 0x80

/* rpIdHash, flags, signCount; then aaguid and the credential id's length. */
#define AUTHDATA_MIN 37
#define AAGUID_LEN   16

/* COSE_Key labels and values (RFC 9052 §7, RFC 9053). */
#define COSE_KTY     1
#define COSE_ALG     3
#define COSE_CRV     (-1) /* EC2, OKP; RSA: n */
#define COSE_X       (-2) /* EC2, OKP; RSA: e */
#define COSE_Y       (-3)
#define KTY_OKP      1
#define KTY_EC2      2
#define KTY_RSA      3
#define CRV_P256     1
#define CRV_ED25519  6
#define RSA_MIN_BITS 2048

static const char *const names[WA__MAX] = {
	[WA_OK] = "ok",
	[WA_EMALFORMED] = "malformed",
	[WA_ETYPE] = "type",
	[WA_ECHALLENGE] = "challenge",
	[WA_EORIGIN] = "origin",
	[WA_ERPID] = "rp_id",
	[WA_EUP] = "user_presence",
	[WA_EUV] = "user_verification",
	[WA_EALG] = "algorithm",
	[WA_ESIG] = "signature",
	[WA_ECOUNT] = "sign_count",
	[WA_EATTEST] = "attestation",
};

const char *
webauthn_strerror(enum webauthn_err e)
{
	return (unsigned)e < WA__MAX ? names[e] : "unknown";
}

int
webauthn_rp_from_url(struct arena *a, const char *url, struct webauthn_rp *rp)
{
	const char *p, *host, *end;
	size_t      skip;

	if (strncmp(url, "https://", 8) == 0)
		skip = 8;
	else if (strncmp(url, "http://", 7) == 0)
		skip = 7;
	else
		return -1;
	host = url + skip;
	end = host + strcspn(host, "/?#");
	/* No user info, no IPv6 literal: browsers allow WebAuthn only on a domain name. */
	for (p = host; p < end; p++)
		if (*p == '@' || *p == '[')
			return -1;
	p = memchr(host, ':', (size_t)(end - host));
	if ((p != NULL ? p : end) == host)
		return -1;
	rp->origin = arena_strndup(a, url, (size_t)(end - url));
	rp->rp_id = arena_strndup(a, host, (size_t)((p != NULL ? p : end) - host));
	return 0;
}

/* --- decoding the JSON forms --------------------------------------------------------------- */

/* The base64url string member name of o, decoded into the arena; NULL when absent or bad. */
static unsigned char *
b64_member(struct arena *a, const json_t *o, const char *name, size_t *len)
{
	const json_t  *v = json_object_get(o, name);
	unsigned char *out;
	size_t         n;
	long           k;

	if (!json_is_string(v) || (n = json_string_length(v)) == 0 || n > WEBAUTHN_FIELD_MAX)
		return NULL;
	out = arena_alloc(a, n * 3 / 4 + 1);
	if ((k = b64url_decode(out, json_string_value(v), n)) <= 0)
		return NULL;
	*len = (size_t)k;
	return out;
}

/* The credential's id and rawId must agree and type must be "public-key" (L3 §5.1). */
static unsigned char *
credential_id(struct arena *a, const json_t *cred, size_t *len)
{
	const json_t  *type = json_object_get(cred, "type");
	unsigned char *raw, *id;
	size_t         rawlen, idlen;

	if (!json_is_string(type) || strcmp(json_string_value(type), "public-key") != 0)
		return NULL;
	if ((raw = b64_member(a, cred, "rawId", &rawlen)) == NULL ||
	    (id = b64_member(a, cred, "id", &idlen)) == NULL || rawlen != idlen ||
	    memcmp(raw, id, rawlen) != 0 || rawlen > WEBAUTHN_CRED_ID_MAX)
		return NULL;
	*len = rawlen;
	return raw;
}

/*
 * L3 §7.1 steps 7-12 / §7.2 steps 11-14: clientDataJSON is JSON whose type, challenge and
 * origin are what we issued; a crossOrigin true means an iframe of another site asked.
 */
static enum webauthn_err
check_client_data(const struct webauthn_rp *rp, const char *type,
    const unsigned char challenge[WEBAUTHN_CHALLENGE_LEN], const unsigned char *cd, size_t len)
{
	json_t           *j;
	const json_t     *v;
	unsigned char     got[WEBAUTHN_CHALLENGE_LEN + 3];
	const char       *s;
	enum webauthn_err rc = WA_EMALFORMED;
	size_t            n;

	if ((j = json_loadb((const char *)cd, len, JSON_REJECT_DUPLICATES, NULL)) == NULL)
		return WA_EMALFORMED;
	if (!json_is_object(j))
		goto out;
	v = json_object_get(j, "type");
	if (!json_is_string(v) || strcmp(json_string_value(v), type) != 0) {
		rc = WA_ETYPE;
		goto out;
	}
	v = json_object_get(j, "challenge");
	rc = WA_ECHALLENGE;
	if (!json_is_string(v) || (n = json_string_length(v)) != B64URL_LEN(sizeof(got) - 3) ||
	    b64url_decode(got, json_string_value(v), n) != WEBAUTHN_CHALLENGE_LEN ||
	    CRYPTO_memcmp(got, challenge, WEBAUTHN_CHALLENGE_LEN) != 0)
		goto out;
	v = json_object_get(j, "origin");
	s = json_string_value(v);
	rc = WA_EORIGIN;
	if (s == NULL || strcmp(s, rp->origin) != 0 ||
	    json_is_true(json_object_get(j, "crossOrigin")))
		goto out;
	rc = WA_OK;
out:
	json_decref(j);
	return rc;
}

/* --- authenticator data -------------------------------------------------------------------- */

struct authdata {
	const unsigned char *rp_hash;
	unsigned             flags;
	uint32_t             count;
	const unsigned char *cred_id, *cose; /* with FLAG_AT */
	size_t               cred_id_len, cose_len;
};

/* The bytes after the current item head, for the size checks below. */
struct scan {
	size_t left;
	int    bad;
};

static void
on_array(void *ctx, size_t n)
{
	struct scan *s = ctx;

	if (n > s->left)
		s->bad = 1;
}

static void
on_map(void *ctx, size_t n)
{
	struct scan *s = ctx;

	if (n > s->left / 2)
		s->bad = 1;
}

/*
 * Whether every definite array and map in p[0..len) claims no more items than the bytes left
 * could hold (each item takes at least one byte; a map's entry two).  libcbor 0.8's cbor_load
 * allocates a container's claimed count before reading it, so a few bytes claiming 2^31
 * entries asked malloc for 18 GB (found by fuzz_webauthn).  The heads are read by libcbor's
 * own streaming decoder; this only looks at the sizes it reports.
 */
static int
sizes_fit(const unsigned char *p, size_t len)
{
	struct cbor_callbacks      cb = cbor_empty_callbacks;
	struct cbor_decoder_result r;
	struct scan                s = { 0, 0 };
	size_t                     off = 0;

	cb.array_start = on_array;
	cb.map_start = on_map;
	while (off < len) {
		s.left = len - off - 1;
		r = cbor_stream_decode(p + off, len - off, &cb, &s);
		if (r.status != CBOR_DECODER_FINISHED || r.read == 0 || s.bad)
			return 0;
		off += r.read;
	}
	return 1;
}

/*
 * One complete CBOR item at p[0..len): *used says how many bytes it took.  NULL when the
 * bytes are not one well-formed item (libcbor decides; we never walk CBOR ourselves).
 */
static cbor_item_t *
cbor_one(const unsigned char *p, size_t len, size_t *used)
{
	struct cbor_load_result res;
	cbor_item_t            *it;

	if (len == 0 || !sizes_fit(p, len))
		return NULL;
	it = cbor_load(p, len, &res);
	if (it == NULL || res.error.code != CBOR_ERR_NONE) {
		if (it != NULL)
			cbor_decref(&it);
		return NULL;
	}
	*used = res.read;
	return it;
}

/*
 * L3 §6.1: the fixed header is 37 bytes; with AT, the attested credential data follows
 * (aaguid, a 16-bit big-endian length, the id, a COSE_Key as one CBOR item); with ED, a CBOR
 * map of extensions.  Nothing may follow.  The byte layout is the specification's table,
 * read field by field; every CBOR part goes through libcbor.
 */
static enum webauthn_err
parse_authdata(const unsigned char *p, size_t len, struct authdata *ad)
{
	cbor_item_t *it;
	size_t       off = AUTHDATA_MIN, used;

	memset(ad, 0, sizeof(*ad));
	if (len < AUTHDATA_MIN)
		return WA_EMALFORMED;
	ad->rp_hash = p;
	ad->flags = p[32];
	ad->count = (uint32_t)p[33] << 24 | (uint32_t)p[34] << 16 | (uint32_t)p[35] << 8 |
	    p[36];
	if (ad->flags & FLAG_AT) {
		if (len - off < AAGUID_LEN + 2)
			return WA_EMALFORMED;
		off += AAGUID_LEN;
		ad->cred_id_len = (size_t)p[off] << 8 | p[off + 1];
		off += 2;
		if (ad->cred_id_len == 0 || ad->cred_id_len > WEBAUTHN_CRED_ID_MAX ||
		    len - off < ad->cred_id_len)
			return WA_EMALFORMED;
		ad->cred_id = p + off;
		off += ad->cred_id_len;
		if ((it = cbor_one(p + off, len - off, &used)) == NULL)
			return WA_EMALFORMED;
		cbor_decref(&it);
		ad->cose = p + off;
		ad->cose_len = used;
		off += used;
	}
	if (ad->flags & FLAG_ED) {
		if ((it = cbor_one(p + off, len - off, &used)) == NULL)
			return WA_EMALFORMED;
		if (!cbor_isa_map(it)) {
			cbor_decref(&it);
			return WA_EMALFORMED;
		}
		cbor_decref(&it);
		off += used;
	}
	return off == len ? WA_OK : WA_EMALFORMED;
}

/* rpIdHash, then UP and UV: both required here (docs/DECISIONS.md "Passkeys: UV"). */
static enum webauthn_err
check_authdata(const struct webauthn_rp *rp, const struct authdata *ad)
{
	unsigned char h[32];
	unsigned int  hl = 0;

	if (!EVP_Digest(rp->rp_id, strlen(rp->rp_id), h, &hl, EVP_sha256(), NULL) || hl != 32)
		return WA_EMALFORMED;
	if (CRYPTO_memcmp(h, ad->rp_hash, 32) != 0)
		return WA_ERPID;
	if (!(ad->flags & FLAG_UP))
		return WA_EUP;
	if (!(ad->flags & FLAG_UV))
		return WA_EUV;
	return WA_OK;
}

/* --- COSE keys ----------------------------------------------------------------------------- */

/* The COSE_Key members labelled -3..3, by label + 3; an unknown label is ignored. */
#define COSE_LABELS 7

static int
cbor_int_of(const cbor_item_t *it, long *out)
{
	uint64_t v;

	if (!cbor_is_int(it) || (v = cbor_get_int(it)) > INT32_MAX)
		return -1;
	*out = cbor_isa_negint(it) ? -1 - (long)v : (long)v;
	return 0;
}

/* The members of a COSE_Key map by label; a repeated label or a non-integer one is -1. */
static int
cose_members(const cbor_item_t *map, const cbor_item_t *m[COSE_LABELS])
{
	struct cbor_pair *pairs = cbor_map_handle(map);
	size_t            i, n = cbor_map_size(map);
	long              label;

	memset(m, 0, COSE_LABELS * sizeof(*m));
	for (i = 0; i < n; i++) {
		if (cbor_int_of(pairs[i].key, &label) != 0)
			return -1;
		if (label < -3 || label > 3)
			continue;
		if (m[label + 3] != NULL)
			return -1;
		m[label + 3] = pairs[i].value;
	}
	return 0;
}

/* The integer member of label, or 0 (no COSE value we accept is 0). */
static long
cose_int(const cbor_item_t *const m[COSE_LABELS], long label)
{
	long v;

	return m[label + 3] != NULL && cbor_int_of(m[label + 3], &v) == 0 ? v : 0;
}

/* The byte-string member of label when it has between min and max bytes, else NULL. */
static const unsigned char *
cose_bytes(const cbor_item_t *const m[COSE_LABELS], long label, size_t min, size_t max,
    size_t *len)
{
	const cbor_item_t *v = m[label + 3];

	if (v == NULL || !cbor_isa_bytestring(v) || !cbor_bytestring_is_definite(v))
		return NULL;
	*len = cbor_bytestring_length(v);
	return *len >= min && *len <= max ? cbor_bytestring_handle(v) : NULL;
}

static EVP_PKEY *
pkey_fromdata(const char *type, OSSL_PARAM_BLD *bld)
{
	OSSL_PARAM   *params = OSSL_PARAM_BLD_to_param(bld);
	EVP_PKEY_CTX *pc = NULL;
	EVP_PKEY     *pkey = NULL;

	if (params == NULL || (pc = EVP_PKEY_CTX_new_from_name(NULL, type, NULL)) == NULL ||
	    EVP_PKEY_fromdata_init(pc) <= 0 ||
	    EVP_PKEY_fromdata(pc, &pkey, EVP_PKEY_PUBLIC_KEY, params) <= 0)
		pkey = NULL;
	EVP_PKEY_CTX_free(pc);
	OSSL_PARAM_free(params);
	return pkey;
}

/* EC2 P-256 (RFC 9053 §7.1.1): x under -2, y under -3, 32 bytes each; on the curve. */
static EVP_PKEY *
key_ec2(const cbor_item_t *const m[COSE_LABELS])
{
	OSSL_PARAM_BLD      *bld;
	EVP_PKEY            *pkey = NULL;
	const unsigned char *x, *y;
	unsigned char        pt[65];
	size_t               xl, yl;

	if (cose_int(m, COSE_CRV) != CRV_P256 ||
	    (x = cose_bytes(m, COSE_X, 32, 32, &xl)) == NULL ||
	    (y = cose_bytes(m, COSE_Y, 32, 32, &yl)) == NULL)
		return NULL;
	pt[0] = 0x04; /* uncompressed point (SEC 1 §2.3.3) */
	memcpy(pt + 1, x, 32);
	memcpy(pt + 33, y, 32);
	if ((bld = OSSL_PARAM_BLD_new()) != NULL &&
	    OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) &&
	    OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pt, sizeof(pt)))
		pkey = pkey_fromdata("EC", bld);
	OSSL_PARAM_BLD_free(bld);
	return pkey;
}

/* RSA (RFC 8230 §4): n under -1 (at least 2048 bits), e under -2. */
static EVP_PKEY *
key_rsa(const cbor_item_t *const m[COSE_LABELS])
{
	OSSL_PARAM_BLD      *bld = NULL;
	BIGNUM              *n = NULL, *e = NULL;
	EVP_PKEY            *pkey = NULL;
	const unsigned char *nb, *eb;
	size_t               nl, el;

	if ((nb = cose_bytes(m, COSE_CRV, RSA_MIN_BITS / 8, 512, &nl)) == NULL ||
	    (eb = cose_bytes(m, COSE_X, 1, 8, &el)) == NULL)
		return NULL;
	if ((bld = OSSL_PARAM_BLD_new()) != NULL &&
	    (n = BN_bin2bn(nb, (int)nl, NULL)) != NULL &&
	    (e = BN_bin2bn(eb, (int)el, NULL)) != NULL && BN_num_bits(n) >= RSA_MIN_BITS &&
	    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) &&
	    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e))
		pkey = pkey_fromdata("RSA", bld);
	BN_free(n);
	BN_free(e);
	OSSL_PARAM_BLD_free(bld);
	return pkey;
}

/* OKP Ed25519 (RFC 9053 §7.2): x under -2, 32 bytes. */
static EVP_PKEY *
key_okp(const cbor_item_t *const m[COSE_LABELS])
{
	const unsigned char *x;
	size_t               xl;

	if (cose_int(m, COSE_CRV) != CRV_ED25519 ||
	    (x = cose_bytes(m, COSE_X, 32, 32, &xl)) == NULL)
		return NULL;
	return EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, x, xl);
}

/*
 * The key of a COSE_Key in the shapes WebAuthn authenticators send: EC2 P-256 with ES256,
 * OKP Ed25519 with EdDSA, RSA with RS256.  Another key type, algorithm or curve, or a weak
 * or invalid key, is WA_EALG; bytes that are not one CBOR map are WA_EMALFORMED.
 */
static enum webauthn_err
cose_key(const unsigned char *p, size_t len, long *alg, EVP_PKEY **out)
{
	const cbor_item_t *m[COSE_LABELS];
	cbor_item_t       *it;
	size_t             used;
	long               kty;
	enum webauthn_err  rc = WA_EMALFORMED;

	*out = NULL;
	if ((it = cbor_one(p, len, &used)) == NULL)
		return WA_EMALFORMED;
	if (used != len || !cbor_isa_map(it) || !cbor_map_is_definite(it) ||
	    cose_members(it, m) != 0)
		goto out;
	kty = cose_int(m, COSE_KTY);
	*alg = cose_int(m, COSE_ALG);
	if (kty == KTY_EC2 && *alg == WEBAUTHN_ES256)
		*out = key_ec2(m);
	else if (kty == KTY_OKP && *alg == WEBAUTHN_EDDSA)
		*out = key_okp(m);
	else if (kty == KTY_RSA && *alg == WEBAUTHN_RS256)
		*out = key_rsa(m);
	rc = *out != NULL ? WA_OK : WA_EALG;
out:
	cbor_decref(&it);
	return rc;
}

long
webauthn_cose_alg(const unsigned char *p, size_t len)
{
	EVP_PKEY *pkey;
	long      alg = 0;

	if (cose_key(p, len, &alg, &pkey) != WA_OK)
		return 0;
	EVP_PKEY_free(pkey);
	return alg;
}

/* sig over a || SHA-256(cd) (L3 §7.2 step 20, §8.2): ECDSA (DER) and RSA with SHA-256,
 * Ed25519 as one-shot EdDSA over the bytes. */
static enum webauthn_err
verify_sig(EVP_PKEY *pkey, long alg, const unsigned char *a, size_t alen,
    const unsigned char *cd, size_t cdlen, const unsigned char *sig, size_t siglen)
{
	EVP_MD_CTX       *md = NULL;
	unsigned char    *msg = NULL;
	unsigned int      hl = 0;
	enum webauthn_err rc = WA_ESIG;

	if (siglen == 0 || (msg = OPENSSL_malloc(alen + 32)) == NULL)
		return WA_ESIG;
	memcpy(msg, a, alen);
	if (!EVP_Digest(cd, cdlen, msg + alen, &hl, EVP_sha256(), NULL) || hl != 32 ||
	    (md = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestVerifyInit(md, NULL, alg == WEBAUTHN_EDDSA ? NULL : EVP_sha256(), NULL,
	        pkey) != 1)
		goto out;
	if (EVP_DigestVerify(md, sig, siglen, msg, alen + 32) == 1)
		rc = WA_OK;
out:
	EVP_MD_CTX_free(md);
	OPENSSL_free(msg);
	return rc;
}

/* --- registration -------------------------------------------------------------------------- */

/* The text-keyed member name of a CBOR map, or NULL (a repeated key is refused: -1 via *dup). */
static const cbor_item_t *
map_get(const cbor_item_t *map, const char *name, int *dup)
{
	struct cbor_pair  *pairs = cbor_map_handle(map);
	const cbor_item_t *found = NULL;
	size_t             i, n = cbor_map_size(map), len = strlen(name);

	for (i = 0; i < n; i++) {
		const cbor_item_t *k = pairs[i].key;

		if (!cbor_isa_string(k) || !cbor_string_is_definite(k) ||
		    cbor_string_length(k) != len ||
		    memcmp(cbor_string_handle(k), name, len) != 0)
			continue;
		if (found != NULL)
			*dup = 1;
		found = pairs[i].value;
	}
	return found;
}

/*
 * packed (L3 §8.2): with x5c the statement is full attestation, whose trust we do not check
 * (issue 13: others count as none); without, self attestation: alg must be the credential's
 * and sig must verify under the credential key itself.
 */
static enum webauthn_err
check_packed(const cbor_item_t *stmt, EVP_PKEY *pkey, long alg, const unsigned char *ad,
    size_t adlen, const unsigned char *cd, size_t cdlen)
{
	const cbor_item_t *a, *s;
	long               salg;
	int                dup = 0;

	if (!cbor_isa_map(stmt))
		return WA_EATTEST;
	if (map_get(stmt, "x5c", &dup) != NULL)
		return dup ? WA_EATTEST : WA_OK;
	a = map_get(stmt, "alg", &dup);
	s = map_get(stmt, "sig", &dup);
	if (dup || a == NULL || s == NULL || cbor_int_of(a, &salg) != 0 ||
	    !cbor_isa_bytestring(s) || !cbor_bytestring_is_definite(s))
		return WA_EATTEST;
	if (salg != alg)
		return WA_EATTEST;
	return verify_sig(pkey, alg, ad, adlen, cd, cdlen, cbor_bytestring_handle(s),
	    cbor_bytestring_length(s));
}

/* The response's transports as a JSON array of short strings, or "[]". */
static const char *
transports_of(struct arena *a, const json_t *resp)
{
	const json_t *t = json_object_get(resp, "transports"), *v;
	json_t       *out = json_array();
	char         *s, *copy;
	size_t        i;

	json_array_foreach(t, i, v)
	{
		if (i >= 8)
			break;
		if (json_is_string(v) && json_string_length(v) <= 16)
			json_array_append(out, (json_t *)v);
	}
	s = json_dumps(out, JSON_COMPACT);
	json_decref(out);
	copy = arena_strdup(a, s != NULL ? s : "[]");
	free(s);
	return copy;
}

enum webauthn_err
webauthn_register(struct arena *a, const struct webauthn_rp *rp,
    const unsigned char challenge[WEBAUTHN_CHALLENGE_LEN], const json_t *cred,
    struct webauthn_new *out)
{
	const json_t      *resp = json_object_get(cred, "response");
	const cbor_item_t *fmt, *stmt, *adv;
	cbor_item_t       *att = NULL;
	EVP_PKEY          *pkey = NULL;
	unsigned char     *cd, *ao, *id;
	struct authdata    ad;
	size_t             cdlen, aolen, idlen, used;
	long               alg = 0;
	int                dup = 0;
	enum webauthn_err  rc;

	memset(out, 0, sizeof(*out));
	if (!json_is_object(cred) || !json_is_object(resp) ||
	    (id = credential_id(a, cred, &idlen)) == NULL ||
	    (cd = b64_member(a, resp, "clientDataJSON", &cdlen)) == NULL ||
	    (ao = b64_member(a, resp, "attestationObject", &aolen)) == NULL)
		return WA_EMALFORMED;
	if ((rc = check_client_data(rp, "webauthn.create", challenge, cd, cdlen)) != WA_OK)
		return rc;
	/* L3 §7.1 step 12: the attestation object is CBOR {fmt, attStmt, authData}. */
	rc = WA_EMALFORMED;
	if ((att = cbor_one(ao, aolen, &used)) == NULL)
		return WA_EMALFORMED;
	if (used != aolen || !cbor_isa_map(att) || !cbor_map_is_definite(att))
		goto out;
	fmt = map_get(att, "fmt", &dup);
	stmt = map_get(att, "attStmt", &dup);
	adv = map_get(att, "authData", &dup);
	if (dup || fmt == NULL || stmt == NULL || adv == NULL || !cbor_isa_string(fmt) ||
	    !cbor_string_is_definite(fmt) || cbor_string_length(fmt) > 32 ||
	    !cbor_isa_bytestring(adv) || !cbor_bytestring_is_definite(adv))
		goto out;
	if ((rc = parse_authdata(cbor_bytestring_handle(adv), cbor_bytestring_length(adv),
	         &ad)) != WA_OK)
		goto out;
	rc = WA_EMALFORMED;
	if (!(ad.flags & FLAG_AT) || ad.cred_id_len != idlen ||
	    memcmp(ad.cred_id, id, idlen) != 0)
		goto out;
	if ((rc = check_authdata(rp, &ad)) != WA_OK ||
	    (rc = cose_key(ad.cose, ad.cose_len, &alg, &pkey)) != WA_OK)
		goto out;
	out->fmt = arena_strndup(a, (const char *)cbor_string_handle(fmt),
	    cbor_string_length(fmt));
	/* none: the statement must be empty (L3 §8.7); packed: checked; others: as none. */
	if (strcmp(out->fmt, "none") == 0) {
		if (!cbor_isa_map(stmt) || cbor_map_size(stmt) != 0) {
			rc = WA_EATTEST;
			goto out;
		}
	} else if (strcmp(out->fmt, "packed") == 0 &&
	    (rc = check_packed(stmt, pkey, alg, cbor_bytestring_handle(adv),
	         cbor_bytestring_length(adv), cd, cdlen)) != WA_OK)
		goto out;
	out->id = id;
	out->id_len = idlen;
	out->cose = arena_memdup(a, ad.cose, ad.cose_len);
	out->cose_len = ad.cose_len;
	out->alg = alg;
	out->sign_count = ad.count;
	out->uv = (ad.flags & FLAG_UV) != 0;
	out->backup_eligible = (ad.flags & FLAG_BE) != 0;
	out->backed_up = (ad.flags & FLAG_BS) != 0;
	out->transports = transports_of(a, resp);
	rc = out->cose_len <= WEBAUTHN_COSE_MAX ? WA_OK : WA_EALG;
out:
	EVP_PKEY_free(pkey);
	cbor_decref(&att);
	return rc;
}

/* --- authentication ------------------------------------------------------------------------ */

enum webauthn_err
webauthn_assertion_parse(struct arena *a, const json_t *cred, struct webauthn_assertion *out)
{
	const json_t *resp = json_object_get(cred, "response"), *uh;

	memset(out, 0, sizeof(*out));
	if (!json_is_object(cred) || !json_is_object(resp) ||
	    (out->id = credential_id(a, cred, &out->id_len)) == NULL ||
	    (out->client_data = b64_member(a, resp, "clientDataJSON", &out->client_data_len)) ==
	        NULL ||
	    (out->auth_data = b64_member(a, resp, "authenticatorData", &out->auth_data_len)) ==
	        NULL ||
	    (out->sig = b64_member(a, resp, "signature", &out->sig_len)) == NULL)
		return WA_EMALFORMED;
	/* userHandle is optional (null or absent) for non-discoverable credentials. */
	uh = json_object_get(resp, "userHandle");
	if (uh != NULL && !json_is_null(uh) &&
	    (out->user_handle = b64_member(a, resp, "userHandle", &out->user_handle_len)) ==
	        NULL)
		return WA_EMALFORMED;
	return WA_OK;
}

enum webauthn_err
webauthn_assertion_verify(struct arena *a, const struct webauthn_rp *rp,
    const unsigned char challenge[WEBAUTHN_CHALLENGE_LEN], const struct webauthn_assertion *as,
    const unsigned char *cose, size_t cose_len, uint32_t stored, uint32_t *count)
{
	EVP_PKEY         *pkey = NULL;
	struct authdata   ad;
	long              alg = 0;
	enum webauthn_err rc;

	(void)a;
	if ((rc = check_client_data(rp, "webauthn.get", challenge, as->client_data,
	         as->client_data_len)) != WA_OK ||
	    (rc = parse_authdata(as->auth_data, as->auth_data_len, &ad)) != WA_OK)
		return rc;
	/* An assertion carries no attested credential data (L3 §6.1). */
	if (ad.flags & FLAG_AT)
		return WA_EMALFORMED;
	if ((rc = check_authdata(rp, &ad)) != WA_OK ||
	    (rc = cose_key(cose, cose_len, &alg, &pkey)) != WA_OK)
		return rc;
	rc = verify_sig(pkey, alg, as->auth_data, as->auth_data_len, as->client_data,
	    as->client_data_len, as->sig, as->sig_len);
	EVP_PKEY_free(pkey);
	if (rc != WA_OK)
		return rc;
	/* L3 §7.2 step 21: counters of 0 on both sides mean the authenticator keeps none. */
	if ((ad.count != 0 || stored != 0) && ad.count <= stored)
		return WA_ECOUNT;
	*count = ad.count;
	return WA_OK;
}
