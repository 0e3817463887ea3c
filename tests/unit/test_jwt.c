/* test_jwt: HS256 reproduces RFC 7515 A.1 and refuses every token it should (issue 3, item 2). */
#include "config.h"

#include <glob.h>
#include <stdio.h>
#include <string.h>

#include <check.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "arena.h"
#include "b64.h"
#include "jwt.h"
#include "unit.h"

/* RFC 7515 Appendix A.1 (../shared/spec/VECTORS.md). */
#define RFC_KEY \
	"AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow"
#define RFC_JWS \
	"eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9." \
	"eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ." \
	"dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
#define NOW 1700000000LL

static unsigned char key_a[32] = "0123456789abcdef0123456789abcdef";
static unsigned char key_b[32] = "fedcba9876543210fedcba9876543210";

static char *
make(struct arena *a, const struct jwt_key *k, const char *aud, long long exp)
{
	json_t *c = json_pack("{s:s, s:s, s:s, s:I, s:I}", "iss", "usermgr", "aud", aud, "sub",
	    "42", "iat", (json_int_t)NOW, "exp", (json_int_t)exp);
	char   *t = jwt_sign(a, k, c);

	json_decref(c);
	return t;
}

START_TEST(test_the_rfc_7515_a1_token_is_authentic_but_expired)
{
	struct arena  *a = arena_new();
	unsigned char  key[64];
	struct jwt_key k = { NULL, key, 0 };
	json_t        *claims;
	long           n;

	n = b64url_decode(key, RFC_KEY, strlen(RFC_KEY));
	ck_assert_int_eq(n, 64);
	k.len = (size_t)n;
	ck_assert_int_eq(jwt_verify(a, RFC_JWS, &k, 1, NULL, NOW, &claims), UM_EEXPIRED);
	/* Just before its exp the same token is valid, so the signature really verified. */
	ck_assert_int_eq(jwt_verify(a, RFC_JWS, &k, 1, NULL, 1300819379LL, &claims), UM_OK);
	ck_assert_str_eq(json_string_value(json_object_get(claims, "iss")), "joe");
	arena_free(a);
}
END_TEST

START_TEST(test_a_signed_token_round_trips_with_its_claims)
{
	struct arena  *a = arena_new();
	struct jwt_key k = { "kidA", key_a, 32 };
	json_t        *claims;
	char          *t = make(a, &k, "usermgr", NOW + 900);

	ck_assert_int_eq(jwt_verify(a, t, &k, 1, "usermgr", NOW, &claims), UM_OK);
	ck_assert_str_eq(json_string_value(json_object_get(claims, "sub")), "42");
	arena_free(a);
}
END_TEST

START_TEST(test_a_retired_key_still_verifies_by_its_kid)
{
	struct arena  *a = arena_new();
	struct jwt_key ring[2] = { { "kidB", key_b, 32 }, { "kidA", key_a, 32 } };
	json_t        *claims;
	char          *t = make(a, &ring[1], "usermgr", NOW + 900);

	ck_assert_int_eq(jwt_verify(a, t, ring, 2, "usermgr", NOW, &claims), UM_OK);
	ck_assert_int_eq(jwt_verify(a, t, ring, 1, "usermgr", NOW, &claims), UM_ETOKEN);
	arena_free(a);
}
END_TEST

/* Builds header.payload.signature from raw JSON parts, signed with key_a. */
static char *
forge(struct arena *a, const char *hdr, const char *payload, int sign)
{
	char         *h = arena_alloc(a, B64URL_LEN(strlen(hdr)) + 1);
	char         *p = arena_alloc(a, B64URL_LEN(strlen(payload)) + 1);
	char         *msg, sig[64];
	unsigned char mac[32];
	unsigned int  len = 32;

	(void)b64url_encode(h, (const unsigned char *)hdr, strlen(hdr));
	(void)b64url_encode(p, (const unsigned char *)payload, strlen(payload));
	msg = arena_printf(a, "%s.%s", h, p);
	if (!sign)
		return arena_printf(a, "%s.", msg);
	ck_assert_ptr_nonnull(
	    HMAC(EVP_sha256(), key_a, 32, (unsigned char *)msg, strlen(msg), mac, &len));
	(void)b64url_encode(sig, mac, 32);
	return arena_printf(a, "%s.%s", msg, sig);
}

#define GOOD_PAYLOAD \
	"{\"sub\":\"42\",\"aud\":\"usermgr\",\"exp\":1800000000,\"iat\":1700000000}"

static const struct {
	const char *what;
	const char *hdr;
	const char *payload;
	int         sign;
	const char *raw; /* when set, the token itself */
} refused[] = {
	{ "alg none", "{\"alg\":\"none\",\"typ\":\"JWT\"}", GOOD_PAYLOAD, 0, NULL },
	{ "alg none signed", "{\"alg\":\"none\"}", GOOD_PAYLOAD, 1, NULL },
	{ "alg HS512", "{\"alg\":\"HS512\"}", GOOD_PAYLOAD, 1, NULL },
	{ "alg RS256", "{\"alg\":\"RS256\"}", GOOD_PAYLOAD, 1, NULL },
	{ "alg lower case", "{\"alg\":\"hs256\"}", GOOD_PAYLOAD, 1, NULL },
	{ "alg missing", "{\"typ\":\"JWT\"}", GOOD_PAYLOAD, 1, NULL },
	{ "alg not a string", "{\"alg\":256}", GOOD_PAYLOAD, 1, NULL },
	{ "typ other", "{\"alg\":\"HS256\",\"typ\":\"JWE\"}", GOOD_PAYLOAD, 1, NULL },
	{ "crit header", "{\"alg\":\"HS256\",\"crit\":[\"b64\"]}", GOOD_PAYLOAD, 1, NULL },
	{ "unknown kid", "{\"alg\":\"HS256\",\"kid\":\"zzz\"}", GOOD_PAYLOAD, 1, NULL },
	{ "duplicate alg", "{\"alg\":\"HS256\",\"alg\":\"none\"}", GOOD_PAYLOAD, 1, NULL },
	{ "header not object", "[\"HS256\"]", GOOD_PAYLOAD, 1, NULL },
	{ "payload not object", "{\"alg\":\"HS256\"}", "[1,2]", 1, NULL },
	{ "exp missing", "{\"alg\":\"HS256\"}", "{\"sub\":\"42\",\"aud\":\"usermgr\"}", 1,
	    NULL },
	{ "exp a string", "{\"alg\":\"HS256\"}",
	    "{\"sub\":\"42\",\"aud\":\"usermgr\",\"exp\":\"1800000000\"}", 1, NULL },
	{ "wrong aud", "{\"alg\":\"HS256\"}",
	    "{\"sub\":\"42\",\"aud\":\"other\",\"exp\":1800000000}", 1, NULL },
	{ "aud missing", "{\"alg\":\"HS256\"}", "{\"sub\":\"42\",\"exp\":1800000000}", 1,
	    NULL },
	{ "nbf in the future", "{\"alg\":\"HS256\"}",
	    "{\"aud\":\"usermgr\",\"exp\":1800000000,\"nbf\":1750000000}", 1, NULL },
	{ "iat in the future", "{\"alg\":\"HS256\"}",
	    "{\"aud\":\"usermgr\",\"exp\":1800000000,\"iat\":1750000000}", 1, NULL },
	{ "empty", NULL, NULL, 0, "" },
	{ "garbage", NULL, NULL, 0, "not-a-token" },
	{ "two parts", NULL, NULL, 0, "eyJhbGciOiJIUzI1NiJ9.e30" },
	{ "four parts", NULL, NULL, 0, "a.b.c.d" },
	{ "padding", NULL, NULL, 0, "eyJhbGciOiJIUzI1NiJ9=.e30=.AAAA" },
	{ "bad signature", NULL, NULL, 0,
	    "eyJhbGciOiJIUzI1NiJ9.eyJleHAiOjE4MDAwMDAwMDB9.dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk" },
	{ "truncated signature", NULL, NULL, 0,
	    "eyJhbGciOiJIUzI1NiJ9.eyJleHAiOjE4MDAwMDAwMDB9.dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEj" },
};

START_TEST(test_a_token_that_is_not_a_valid_hs256_jwt_is_refused)
{
	struct arena  *a = arena_new();
	struct jwt_key k = { NULL, key_a, 32 };
	json_t        *claims = (json_t *)1;
	const char    *t;

	t = refused[_i].raw != NULL ?
	    refused[_i].raw :
	    forge(a, refused[_i].hdr, refused[_i].payload, refused[_i].sign);
	ck_assert_msg(jwt_verify(a, t, &k, 1, "usermgr", NOW, &claims) == UM_ETOKEN,
	    "%s: not refused", refused[_i].what);
	ck_assert_ptr_null(claims);
	arena_free(a);
}
END_TEST

START_TEST(test_a_forged_control_token_with_the_same_key_is_accepted)
{
	/* Guards the table above: the forging helper itself makes valid tokens. */
	struct arena  *a = arena_new();
	struct jwt_key k = { NULL, key_a, 32 };
	json_t        *claims;

	ck_assert_int_eq(jwt_verify(a,
	                     forge(a, "{\"alg\":\"HS256\",\"typ\":\"JWT\"}", GOOD_PAYLOAD, 1),
	                     &k, 1, "usermgr", NOW, &claims),
	    UM_OK);
	arena_free(a);
}
END_TEST

START_TEST(test_an_expired_token_is_reported_expired_and_a_tampered_one_invalid)
{
	struct arena  *a = arena_new();
	struct jwt_key k = { "kidA", key_a, 32 };
	json_t        *claims;
	char          *t = make(a, &k, "usermgr", NOW - 1);
	char          *dot;

	ck_assert_int_eq(jwt_verify(a, t, &k, 1, "usermgr", NOW, &claims), UM_EEXPIRED);
	t = make(a, &k, "usermgr", NOW + 60);
	dot = strrchr(t, '.');
	dot[-2] = dot[-2] == 'A' ? 'B' : 'A'; /* flip a payload character */
	ck_assert_int_eq(jwt_verify(a, t, &k, 1, "usermgr", NOW, &claims), UM_ETOKEN);
	arena_free(a);
}
END_TEST

/*
 * The signature alone: tokens right in every other way (header, aud, iat, exp), which the
 * control below accepts, so nothing but the MAC comparison can refuse them.
 */
START_TEST(test_a_token_right_in_all_but_its_signature_is_refused)
{
	struct arena  *a = arena_new();
	struct jwt_key ka = { "kidA", key_a, 32 }, kb = { "kidA", key_b, 32 };
	struct jwt_key plain_a = { NULL, key_a, 32 }, plain_b = { NULL, key_b, 32 };
	json_t        *claims;

	/* Control: the same claims under the right key pass. */
	ck_assert_int_eq(jwt_verify(a, make(a, &ka, "usermgr", NOW + 900), &ka, 1, "usermgr",
	                     NOW, &claims),
	    UM_OK);
	ck_assert_int_eq(jwt_verify(a, make(a, &plain_a, "usermgr", NOW + 900), &plain_a, 1,
	                     "usermgr", NOW, &claims),
	    UM_OK);
	/* Another key's signature, with the kid of ours and without a kid. */
	claims = (json_t *)1;
	ck_assert_int_eq(jwt_verify(a, make(a, &kb, "usermgr", NOW + 900), &ka, 1, "usermgr",
	                     NOW, &claims),
	    UM_ETOKEN);
	ck_assert_ptr_null(claims);
	claims = (json_t *)1;
	ck_assert_int_eq(jwt_verify(a, make(a, &plain_b, "usermgr", NOW + 900), &plain_a, 1,
	                     "usermgr", NOW, &claims),
	    UM_ETOKEN);
	ck_assert_ptr_null(claims);
	arena_free(a);
}
END_TEST

START_TEST(test_a_signature_with_any_single_bit_flipped_is_refused)
{
	struct arena  *a = arena_new();
	struct jwt_key k = { "kidA", key_a, 32 };
	char          *t = make(a, &k, "usermgr", NOW + 900), *dot, *bad;
	unsigned char  mac[32];
	json_t        *claims;
	size_t         bit;

	ck_assert_int_eq(jwt_verify(a, t, &k, 1, "usermgr", NOW, &claims), UM_OK);
	dot = strrchr(t, '.');
	ck_assert_int_eq(b64url_decode(mac, dot + 1, strlen(dot + 1)), 32);
	bad = arena_strdup(a, t);
	for (bit = 0; bit < 8 * sizeof(mac); bit++) {
		mac[bit / 8] ^= (unsigned char)(1u << (bit % 8));
		(void)b64url_encode(bad + (dot + 1 - t), mac, sizeof(mac));
		claims = (json_t *)1;
		ck_assert_msg(jwt_verify(a, bad, &k, 1, "usermgr", NOW, &claims) == UM_ETOKEN,
		    "signature bit %zu flipped: not refused", bit);
		ck_assert_ptr_null(claims);
		mac[bit / 8] ^= (unsigned char)(1u << (bit % 8));
	}
	arena_free(a);
}
END_TEST

/*
 * The fuzz target's seeds (tests/fuzz/make-jwt-seeds) must get past the signature, or the
 * fuzzer never reaches the claims: accepted-* verify with its key at its clock, refused-* not.
 */
#define FUZZ_KEY "fuzz-key-fuzz-key-fuzz-key-fuzz!" /* fuzz_jwt.c */
#define FUZZ_NOW 1700000000LL

static char *
slurp(struct arena *a, const char *path)
{
	FILE  *f = fopen(path, "re");
	char  *s = arena_alloc(a, JWT_MAX + 2);
	size_t n;

	ck_assert_msg(f != NULL, "cannot open %s", path);
	n = fread(s, 1, JWT_MAX + 1, f);
	fclose(f);
	s[n] = '\0';
	return s;
}

START_TEST(test_the_fuzz_seeds_are_signed_with_the_fuzz_key)
{
	static const unsigned char fk[] = FUZZ_KEY;
	struct jwt_key             k[2] = { { "k1", fk, 32 }, { NULL, fk, 32 } };
	struct arena              *a = arena_new();
	glob_t                     g;
	json_t                    *claims;
	size_t                     i, naccepted = 0, nrefused = 0;
	const char                *name;

	ck_assert_int_eq(glob(UM_SRCDIR "/tests/fuzz/corpus/jwt/*", 0, NULL, &g), 0);
	for (i = 0; i < g.gl_pathc; i++) {
		name = strrchr(g.gl_pathv[i], '/') + 1;
		if (strncmp(name, "accepted-", 9) == 0) {
			ck_assert_msg(jwt_verify(a, slurp(a, g.gl_pathv[i]), k, 2, "usermgr",
			                  FUZZ_NOW, &claims) == UM_OK,
			    "%s is not accepted", name);
			naccepted++;
		} else if (strncmp(name, "refused-", 8) == 0) {
			ck_assert_msg(jwt_verify(a, slurp(a, g.gl_pathv[i]), k, 2, "usermgr",
			                  FUZZ_NOW, &claims) != UM_OK,
			    "%s is accepted", name);
			nrefused++;
		}
	}
	globfree(&g);
	ck_assert_uint_ge(naccepted, 2);
	ck_assert_uint_ge(nrefused, 2);
	arena_free(a);
}
END_TEST

START_TEST(test_base64url_is_strict_and_round_trips)
{
	unsigned char out[16], in[5] = { 0xfb, 0xff, 0x00, 0x41, 0x7e };
	char          enc[16];

	ck_assert_uint_eq(b64url_encode(enc, in, 5), 7);
	ck_assert_str_eq(enc, "-_8AQX4");
	ck_assert_int_eq(b64url_decode(out, enc, 7), 5);
	ck_assert_mem_eq(out, in, 5);
	ck_assert_int_eq(b64url_decode(out, "-_8AQX5", 7), -1); /* non-zero trailing bits */
	ck_assert_int_eq(b64url_decode(out, "ab+/", 4), -1);    /* standard alphabet */
	ck_assert_int_eq(b64url_decode(out, "abcde", 5), -1);   /* impossible length */
	ck_assert_int_eq(b64url_decode(out, "YQ==", 4), -1);    /* padding */
	ck_assert_int_eq(b64url_decode(out, "", 0), 0);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("jwt");
	TCase *tc = tcase_create("hs256");

	tcase_add_test(tc, test_the_rfc_7515_a1_token_is_authentic_but_expired);
	tcase_add_test(tc, test_a_signed_token_round_trips_with_its_claims);
	tcase_add_test(tc, test_a_retired_key_still_verifies_by_its_kid);
	tcase_add_loop_test(tc, test_a_token_that_is_not_a_valid_hs256_jwt_is_refused, 0,
	    sizeof(refused) / sizeof(refused[0]));
	tcase_add_test(tc, test_a_forged_control_token_with_the_same_key_is_accepted);
	tcase_add_test(tc,
	    test_an_expired_token_is_reported_expired_and_a_tampered_one_invalid);
	tcase_add_test(tc, test_a_token_right_in_all_but_its_signature_is_refused);
	tcase_add_test(tc, test_a_signature_with_any_single_bit_flipped_is_refused);
	tcase_add_test(tc, test_the_fuzz_seeds_are_signed_with_the_fuzz_key);
	tcase_add_test(tc, test_base64url_is_strict_and_round_trips);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
