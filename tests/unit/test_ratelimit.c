/* test_ratelimit: the per-IP bucket of a client address (IPv6 per /64, IPv4 as it is). */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "arena.h"
#include "ratelimit.h"
#include "unit.h"

START_TEST(test_two_addresses_of_one_ipv6_64_share_a_bucket)
{
	struct arena *a = arena_new();
	const char   *k1 = ratelimit_ip_key(a, "2001:db8:1:2:3:4:5:6");
	const char   *k2 = ratelimit_ip_key(a, "2001:db8:1:2:ffff::1");

	ck_assert_str_eq(k1, "ip:2001:db8:1:2::/64");
	ck_assert_str_eq(k2, k1);
	arena_free(a);
}
END_TEST

START_TEST(test_addresses_of_different_ipv6_64s_do_not_share_a_bucket)
{
	struct arena *a = arena_new();

	ck_assert_str_ne(ratelimit_ip_key(a, "2001:db8:1:2::1"),
	    ratelimit_ip_key(a, "2001:db8:1:3::1"));
	ck_assert_str_eq(ratelimit_ip_key(a, "::1"), "ip:::/64");
	arena_free(a);
}
END_TEST

START_TEST(test_an_ipv4_address_keeps_its_own_bucket)
{
	struct arena *a = arena_new();

	ck_assert_str_eq(ratelimit_ip_key(a, "192.0.2.7"), "ip:192.0.2.7");
	ck_assert_str_ne(ratelimit_ip_key(a, "192.0.2.7"), ratelimit_ip_key(a, "192.0.2.8"));
	arena_free(a);
}
END_TEST

START_TEST(test_an_ipv4_mapped_ipv6_address_counts_as_its_ipv4_address)
{
	struct arena *a = arena_new();

	ck_assert_str_eq(ratelimit_ip_key(a, "::ffff:192.0.2.7"), "ip:192.0.2.7");
	ck_assert_str_eq(ratelimit_ip_key(a, "::ffff:c000:208"), "ip:192.0.2.8");
	arena_free(a);
}
END_TEST

START_TEST(test_an_unparsable_address_is_kept_as_given)
{
	struct arena *a = arena_new();

	ck_assert_str_eq(ratelimit_ip_key(a, ""), "ip:");
	ck_assert_str_eq(ratelimit_ip_key(a, "unix:"), "ip:unix:");
	arena_free(a);
}
END_TEST

static Suite *
ratelimit_suite(void)
{
	Suite *s = suite_create("ratelimit");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_two_addresses_of_one_ipv6_64_share_a_bucket);
	tcase_add_test(tc, test_addresses_of_different_ipv6_64s_do_not_share_a_bucket);
	tcase_add_test(tc, test_an_ipv4_address_keeps_its_own_bucket);
	tcase_add_test(tc, test_an_ipv4_mapped_ipv6_address_counts_as_its_ipv4_address);
	tcase_add_test(tc, test_an_unparsable_address_is_kept_as_given);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return unit_run(ratelimit_suite());
}
