/* test_webauthn: recorded registrations and assertions (tests/unit/make-webauthn-vectors), each refusal, rp from the base URL. */
#include "config.h"

#include <string.h>

#include <check.h>
#include <jansson.h>

#include "arena.h"
#include "b64.h"
#include "unit.h"
#include "webauthn.h"

#define VECTORS_FILE UM_TEST_DATADIR "/webauthn-vectors.json"
#define VECTORS      37 /* cases in that file: a test checks the count */

static json_t *
vectors(void)
{
	json_error_t err;
	json_t      *v = json_load_file(VECTORS_FILE, 0, &err);

	ck_assert_msg(v != NULL, "%s: %s", VECTORS_FILE, err.text);
	return v;
}

static unsigned char *
unb64(struct arena *a, const char *s, size_t *len)
{
	unsigned char *out = arena_alloc(a, strlen(s) + 1);
	long           n = b64url_decode(out, s, strlen(s));

	ck_assert_int_ge(n, 0);
	*len = (size_t)n;
	return out;
}

/* One recorded case: the verdict webauthn.c reaches must be the one the case names. */
START_TEST(test_each_recorded_response_gets_its_verdict)
{
	json_t                   *all = vectors(), *c;
	struct arena             *a = arena_new();
	struct webauthn_rp        rp;
	struct webauthn_new       nw;
	struct webauthn_assertion as;
	unsigned char            *ch, *cose;
	size_t                    chlen, coselen;
	const char               *kind, *expect, *name;
	enum webauthn_err         got;
	uint32_t                  count = 0;

	rp.origin = json_string_value(json_object_get(all, "origin"));
	rp.rp_id = json_string_value(json_object_get(all, "rp_id"));
	c = json_array_get(json_object_get(all, "cases"), (size_t)_i);
	ck_assert_ptr_nonnull(c);
	name = json_string_value(json_object_get(c, "name"));
	kind = json_string_value(json_object_get(c, "kind"));
	expect = json_string_value(json_object_get(c, "expect"));
	ch = unb64(a, json_string_value(json_object_get(c, "challenge")), &chlen);
	ck_assert_uint_eq(chlen, WEBAUTHN_CHALLENGE_LEN);
	if (strcmp(kind, "register") == 0) {
		got = webauthn_register(a, &rp, ch, json_object_get(c, "credential"), &nw);
		if (got == WA_OK) {
			/* What would be stored: the id and a key we can verify with again. */
			ck_assert_uint_gt(nw.id_len, 0);
			ck_assert_int_eq(webauthn_cose_alg(nw.cose, nw.cose_len), nw.alg);
			ck_assert_int_eq(nw.uv, 1);
			ck_assert_str_eq(nw.transports, "[\"internal\",\"hybrid\"]");
		}
	} else {
		ck_assert_int_eq(webauthn_assertion_parse(a, json_object_get(c, "credential"),
		                     &as),
		    WA_OK);
		cose = unb64(a, json_string_value(json_object_get(c, "cose")), &coselen);
		got = webauthn_assertion_verify(a, &rp, ch, &as, cose, coselen,
		    (uint32_t)json_integer_value(json_object_get(c, "stored_count")), &count);
		if (got == WA_OK)
			ck_assert_int_eq(count,
			    json_integer_value(json_object_get(c, "new_count")));
	}
	ck_assert_msg(strcmp(webauthn_strerror(got), expect) == 0, "%s: got %s, expected %s",
	    name, webauthn_strerror(got), expect);
	arena_free(a);
	json_decref(all);
}
END_TEST

START_TEST(test_the_vectors_cover_every_refusal)
{
	json_t           *all = vectors(), *c;
	size_t            i;
	enum webauthn_err e;
	int               seen[WA__MAX] = { 0 };

	ck_assert_int_eq(json_array_size(json_object_get(all, "cases")), VECTORS);
	json_array_foreach(json_object_get(all, "cases"), i, c)
	{
		for (e = WA_OK; e < WA__MAX; e++)
			if (strcmp(webauthn_strerror(e),
			        json_string_value(json_object_get(c, "expect"))) == 0)
				seen[e]++;
	}
	for (e = WA_OK; e < WA__MAX; e++)
		ck_assert_msg(seen[e] > 0, "no case expects %s", webauthn_strerror(e));
	json_decref(all);
}
END_TEST

/* A recorded assertion checked against another challenge, or replayed, or with another key. */
START_TEST(test_a_good_assertion_fails_with_another_challenge_or_key)
{
	json_t                   *all = vectors(), *c, *other = NULL, *x;
	struct arena             *a = arena_new();
	struct webauthn_rp        rp = { "http://localhost:8080", "localhost" };
	struct webauthn_assertion as;
	unsigned char *ch, *cose, *cose2 = NULL, zero[WEBAUTHN_CHALLENGE_LEN] = { 0 };
	size_t         len, coselen, cose2len = 0, i;
	uint32_t       count;

	c = NULL;
	json_array_foreach(json_object_get(all, "cases"), i, x)
	{
		if (strcmp(json_string_value(json_object_get(x, "expect")), "ok") != 0 ||
		    strcmp(json_string_value(json_object_get(x, "kind")), "assert") != 0)
			continue;
		if (c == NULL)
			c = x;
		else if (other == NULL)
			other = x;
	}
	ck_assert_ptr_nonnull(other);
	ch = unb64(a, json_string_value(json_object_get(c, "challenge")), &len);
	cose = unb64(a, json_string_value(json_object_get(c, "cose")), &coselen);
	cose2 = unb64(a, json_string_value(json_object_get(other, "cose")), &cose2len);
	ck_assert_int_eq(webauthn_assertion_parse(a, json_object_get(c, "credential"), &as),
	    WA_OK);
	ck_assert_int_eq(webauthn_assertion_verify(a, &rp, ch, &as, cose, coselen, 0, &count),
	    WA_OK);
	ck_assert_int_eq(webauthn_assertion_verify(a, &rp, zero, &as, cose, coselen, 0, &count),
	    WA_ECHALLENGE);
	/* The same response again, once its counter is stored, is a regression. */
	ck_assert_int_eq(webauthn_assertion_verify(a, &rp, ch, &as, cose, coselen, count,
	                     &count),
	    WA_ECOUNT);
	ck_assert_int_eq(webauthn_assertion_verify(a, &rp, ch, &as, cose2, cose2len, 0, &count),
	    WA_ESIG);
	arena_free(a);
	json_decref(all);
}
END_TEST

START_TEST(test_responses_not_in_the_json_form_are_malformed)
{
	static const char *const bad[] = {
		"{}",
		"{\"type\":\"public-key\",\"id\":\"AA\",\"rawId\":\"AA\"}",
		"{\"type\":\"other\",\"id\":\"AA\",\"rawId\":\"AA\",\"response\":{}}",
		"{\"type\":\"public-key\",\"id\":\"AA\",\"rawId\":\"AQ\",\"response\":{}}",
		"{\"type\":\"public-key\",\"id\":\"AA\",\"rawId\":\"AA\",\"response\":"
		"{\"clientDataJSON\":\"e30\",\"authenticatorData\":\"AA==\",\"signature\":\"AA\"}}",
		"{\"type\":\"public-key\",\"id\":\"AA\",\"rawId\":\"AA\",\"response\":"
		"{\"clientDataJSON\":\"e30\",\"attestationObject\":7}}",
	};
	struct arena             *a = arena_new();
	struct webauthn_rp        rp = { "http://localhost:8080", "localhost" };
	struct webauthn_assertion as;
	struct webauthn_new       nw;
	unsigned char             ch[WEBAUTHN_CHALLENGE_LEN] = { 0 };
	json_t                   *j;
	size_t                    i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		j = json_loads(bad[i], 0, NULL);
		ck_assert_ptr_nonnull(j);
		ck_assert_int_eq(webauthn_assertion_parse(a, j, &as), WA_EMALFORMED);
		ck_assert_int_eq(webauthn_register(a, &rp, ch, j, &nw), WA_EMALFORMED);
		json_decref(j);
	}
	arena_free(a);
}
END_TEST

START_TEST(test_the_relying_party_is_the_base_urls_origin_and_host)
{
	struct arena      *a = arena_new();
	struct webauthn_rp rp;

	ck_assert_int_eq(webauthn_rp_from_url(a, "http://localhost:8080", &rp), 0);
	ck_assert_str_eq(rp.origin, "http://localhost:8080");
	ck_assert_str_eq(rp.rp_id, "localhost");
	ck_assert_int_eq(webauthn_rp_from_url(a, "https://id.example.com/base/", &rp), 0);
	ck_assert_str_eq(rp.origin, "https://id.example.com");
	ck_assert_str_eq(rp.rp_id, "id.example.com");
	ck_assert_int_eq(webauthn_rp_from_url(a, "ftp://x", &rp), -1);
	ck_assert_int_eq(webauthn_rp_from_url(a, "http://:80", &rp), -1);
	ck_assert_int_eq(webauthn_rp_from_url(a, "http://u@host", &rp), -1);
	ck_assert_int_eq(webauthn_rp_from_url(a, "http://[::1]:80", &rp), -1);
	arena_free(a);
}
END_TEST

START_TEST(test_cose_keys_we_cannot_verify_have_no_algorithm)
{
	/* {1: 2, 3: -7} without coordinates; an int that is no map; a map with a text label. */
	static const unsigned char no_xy[] = { 0xa2, 0x01, 0x02, 0x03, 0x26 };
	static const unsigned char not_map[] = { 0x01 };
	static const unsigned char text_label[] = { 0xa1, 0x61, 'x', 0x01 };
	static const unsigned char huge_map[] = { 0xbb, 0, 0, 0, 0x08, 0, 0, 0, 0 };
	static const unsigned char huge_array[] = { 0xa1, 0x01, 0x9a, 0x7f, 0xff, 0xff, 0xff };

	ck_assert_int_eq(webauthn_cose_alg(no_xy, sizeof(no_xy)), 0);
	ck_assert_int_eq(webauthn_cose_alg(not_map, sizeof(not_map)), 0);
	ck_assert_int_eq(webauthn_cose_alg(text_label, sizeof(text_label)), 0);
	ck_assert_int_eq(webauthn_cose_alg(no_xy, 0), 0);
	/* Heads claiming 2^35 and 2^31 items in a few bytes are refused (fuzz_webauthn found them:
	 * the regression seed is tests/fuzz/corpus/webauthn/regression-huge-container-claim). */
	ck_assert_int_eq(webauthn_cose_alg(huge_map, sizeof(huge_map)), 0);
	ck_assert_int_eq(webauthn_cose_alg(huge_array, sizeof(huge_array)), 0);
	ck_assert_str_eq(webauthn_strerror(WA_ECOUNT), "sign_count");
	ck_assert_str_eq(webauthn_strerror(WA__MAX), "unknown");
}
END_TEST

static Suite *
suite(void)
{
	Suite *s = suite_create("webauthn");
	TCase *tc = tcase_create("core");

	tcase_add_loop_test(tc, test_each_recorded_response_gets_its_verdict, 0, VECTORS);
	tcase_add_test(tc, test_the_vectors_cover_every_refusal);
	tcase_add_test(tc, test_a_good_assertion_fails_with_another_challenge_or_key);
	tcase_add_test(tc, test_responses_not_in_the_json_form_are_malformed);
	tcase_add_test(tc, test_the_relying_party_is_the_base_urls_origin_and_host);
	tcase_add_test(tc, test_cose_keys_we_cannot_verify_have_no_algorithm);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return unit_run(suite());
}
