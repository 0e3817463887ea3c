/* test_keys: HKDF sub-keys match an independent RFC 5869 computation; CSRF tokens bind to their session. */
#include "config.h"

#include <string.h>

#include <check.h>

#include "arena.h"
#include "browser.h"
#include "conf.h"
#include "cookie.h"
#include "csrf.h"
#include "keys.h"
#include "request.h"
#include "runtime.h"
#include "unit.h"

#define KEY64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define OLD64 "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210"

/* Computed with Python's hmac/hashlib (RFC 5869, no salt) for KEY64. */
static const unsigned char jwt_key[32] = {
	0x22,
	0xfc,
	0x1b,
	0x3c,
	0x2c,
	0x24,
	0x18,
	0x57,
	0x25,
	0x83,
	0x54,
	0xad,
	0xc9,
	0x0b,
	0xeb,
	0x7f,
	0x90,
	0xa9,
	0x0c,
	0x17,
	0x42,
	0x8f,
	0x92,
	0xda,
	0xad,
	0x36,
	0x4d,
	0x99,
	0xd9,
	0x54,
	0x6e,
	0x29,
};
static const unsigned char csrf_key[32] = {
	0x86,
	0x35,
	0xf6,
	0x13,
	0x09,
	0x09,
	0x5c,
	0x8d,
	0xf6,
	0x0c,
	0xb0,
	0xb8,
	0x8b,
	0xe0,
	0x3c,
	0x6c,
	0x57,
	0x05,
	0xc0,
	0x51,
	0xf7,
	0x35,
	0x80,
	0x59,
	0x04,
	0xa9,
	0x2b,
	0x12,
	0xaa,
	0xce,
	0x57,
	0x4b,
};

static void
ring(struct keyring *r, int with_old)
{
	struct conf c;

	memset(&c, 0, sizeof(c));
	c.secret_key = (char *)KEY64;
	if (with_old) {
		c.old_keys[0] = (char *)OLD64;
		c.nold_keys = 1;
	}
	ck_assert_int_eq(keys_init(r, &c), UM_OK);
}

START_TEST(test_hkdf_sub_keys_match_an_independent_rfc_5869_computation)
{
	struct keyring r;

	ring(&r, 0);
	ck_assert_uint_eq(r.n, 1);
	ck_assert_mem_eq(r.set[0].k[KEY_JWT], jwt_key, 32);
	ck_assert_mem_eq(r.set[0].k[KEY_CSRF], csrf_key, 32);
	ck_assert_str_eq(r.set[0].kid, "uSTOCA2J");
	ck_assert_msg(memcmp(r.set[0].k[KEY_JWT], r.set[0].k[KEY_COOKIE], 32) != 0,
	    "purposes share a key");
	keys_wipe(&r);
}
END_TEST

START_TEST(test_retired_keys_get_their_own_sub_keys_and_kid)
{
	struct keyring r;

	ring(&r, 1);
	ck_assert_uint_eq(r.n, 2);
	ck_assert_str_ne(r.set[0].kid, r.set[1].kid);
	ck_assert_msg(memcmp(r.set[0].k[KEY_JWT], r.set[1].k[KEY_JWT], 32) != 0, "same key");
	keys_wipe(&r);
}
END_TEST

START_TEST(test_a_csrf_token_is_valid_only_for_its_kind_and_binding)
{
	struct arena  *a = arena_new();
	struct keyring r;
	const char    *t;

	ring(&r, 0);
	t = csrf_token(a, &r, "session", "seed-one", 8);
	ck_assert_ptr_nonnull(t);
	ck_assert_uint_eq(strlen(t), 43);
	ck_assert_int_eq(csrf_valid(&r, "session", "seed-one", 8, t), 1);
	ck_assert_int_eq(csrf_valid(&r, "session", "seed-two", 8, t), 0);
	ck_assert_int_eq(csrf_valid(&r, "pre-session", "seed-one", 8, t), 0);
	ck_assert_int_eq(csrf_valid(&r, "session", "seed-one", 8, NULL), 0);
	ck_assert_int_eq(csrf_valid(&r, "session", "seed-one", 8, ""), 0);
	ck_assert_int_eq(csrf_valid(&r, "session", "seed-one", 8,
	                     "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
	    0);
	keys_wipe(&r);
	arena_free(a);
}
END_TEST

START_TEST(test_a_csrf_token_signed_before_a_key_rotation_still_verifies)
{
	struct arena  *a = arena_new();
	struct keyring before, after;
	struct conf    c;
	const char    *t;

	memset(&c, 0, sizeof(c));
	c.secret_key = (char *)OLD64;
	ck_assert_int_eq(keys_init(&before, &c), UM_OK);
	t = csrf_token(a, &before, "session", "seed", 4);
	ring(&after, 1);
	ck_assert_int_eq(csrf_valid(&after, "session", "seed", 4, t), 1);
	ring(&after, 0);
	ck_assert_int_eq(csrf_valid(&after, "session", "seed", 4, t), 0);
	arena_free(a);
}
END_TEST

static int
origin_ok(const char *h1, const char *h2)
{
	char          *env[3] = { (char *)h1, (char *)h2, NULL };
	struct runtime rt;
	struct request req;

	memset(&rt, 0, sizeof(rt));
	rt.conf.base_url = (char *)"https://id.example.org";
	memset(&req, 0, sizeof(req));
	req.rt = &rt;
	req.env = env;
	return browser_same_origin(&req);
}

START_TEST(test_only_our_own_origin_may_post_forms)
{
	ck_assert_int_eq(origin_ok("HTTP_ORIGIN=https://id.example.org", NULL), 1);
	ck_assert_int_eq(origin_ok("HTTP_ORIGIN=https://evil.example", NULL), 0);
	ck_assert_int_eq(origin_ok("HTTP_ORIGIN=https://id.example.org.evil.example", NULL), 0);
	ck_assert_int_eq(origin_ok("HTTP_ORIGIN=http://id.example.org", NULL), 0);
	ck_assert_int_eq(origin_ok("HTTP_ORIGIN=null", NULL), 0);
	ck_assert_int_eq(origin_ok("HTTP_REFERER=https://id.example.org/login?x=1", NULL), 1);
	ck_assert_int_eq(origin_ok("HTTP_REFERER=https://evil.example/id.example.org", NULL),
	    0);
	ck_assert_int_eq(origin_ok("HTTP_USER_AGENT=x", NULL), 1);
}
END_TEST

START_TEST(test_cookies_carry_the_attributes_of_api_md_section_3)
{
	struct arena *a = arena_new();

	ck_assert_str_eq(cookie_set(a, "usermgr_session", "abc", -1, 0),
	    "usermgr_session=abc; Path=/; HttpOnly; SameSite=Lax");
	ck_assert_str_eq(cookie_set(a, "__Host-usermgr_session", "abc", 2592000, 1),
	    "__Host-usermgr_session=abc; Path=/; Max-Age=2592000; HttpOnly; SameSite=Lax; Secure");
	ck_assert_str_eq(cookie_set(a, "usermgr_session", "", 0, 0),
	    "usermgr_session=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax");
	arena_free(a);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("keys");
	TCase *tc = tcase_create("keys");

	tcase_add_test(tc, test_hkdf_sub_keys_match_an_independent_rfc_5869_computation);
	tcase_add_test(tc, test_retired_keys_get_their_own_sub_keys_and_kid);
	tcase_add_test(tc, test_a_csrf_token_is_valid_only_for_its_kind_and_binding);
	tcase_add_test(tc, test_a_csrf_token_signed_before_a_key_rotation_still_verifies);
	tcase_add_test(tc, test_only_our_own_origin_may_post_forms);
	tcase_add_test(tc, test_cookies_carry_the_attributes_of_api_md_section_3);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
