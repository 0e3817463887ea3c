/* test_alert: what the new-device alert compares — browser families and client networks (/24, /48). */
#include "config.h"

#include <string.h>

#include <check.h>

#include "alert.h"
#include "unit.h"

static const struct {
	const char *ua;
	const char *family;
} families[] = {
	{ "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0", "Firefox" },
	{ "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
	  "Chrome/120.0.0.0 Safari/537.36",
	    "Chrome" },
	{ "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
	  "HeadlessChrome/120.0.0.0 Safari/537.36",
	    "Chrome" },
	{ "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
	  "Chrome/120.0.0.0 Safari/537.36 Edg/120.0.0.0",
	    "Edge" },
	{ "Mozilla/5.0 (Windows NT 10.0) AppleWebKit/537.36 (KHTML, like Gecko) "
	  "Chrome/120.0.0.0 Safari/537.36 OPR/106.0.0.0",
	    "Opera" },
	{ "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_1) AppleWebKit/605.1.15 (KHTML, like "
	  "Gecko) Version/17.1 Safari/605.1.15",
	    "Safari" },
	{ "curl/7.88.1", "curl" },
	{ "python-requests/2.28.1", "Python" },
	{ "", "Other" },
	{ NULL, "Other" },
};

START_TEST(test_a_user_agent_maps_to_its_browser_family_not_its_version)
{
	ck_assert_str_eq(alert_family(families[_i].ua), families[_i].family);
}
END_TEST

static const struct {
	const char *ip;
	int         rc;
	const char *net;
} networks[] = {
	{ "203.0.113.77", 0, "203.0.113.0/24" },
	{ "127.0.0.1", 0, "127.0.0.0/24" },
	{ "::ffff:198.51.100.9", 0, "198.51.100.0/24" },
	{ "2001:db8:1:2:3:4:5:6", 0, "2001:db8:1::/48" },
	{ "2001:db8:abcd:ffff::1", 0, "2001:db8:abcd::/48" },
	{ "::1", 0, "::/48" },
	{ "not an address", -1, "unknown" },
	{ "203.0.113.256", -1, "unknown" },
	{ "", -1, "unknown" },
	{ NULL, -1, "unknown" },
};

START_TEST(test_an_address_maps_to_its_slash_24_or_slash_48)
{
	char net[ALERT_NETWORK_MAX];

	ck_assert_int_eq(alert_network(networks[_i].ip, net), networks[_i].rc);
	ck_assert_str_eq(net, networks[_i].net);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("alert");
	TCase *tc = tcase_create("alert");

	tcase_add_loop_test(tc, test_a_user_agent_maps_to_its_browser_family_not_its_version, 0,
	    (int)(sizeof(families) / sizeof(families[0])));
	tcase_add_loop_test(tc, test_an_address_maps_to_its_slash_24_or_slash_48, 0,
	    (int)(sizeof(networks) / sizeof(networks[0])));
	suite_add_tcase(s, tc);
	return unit_run(s);
}
