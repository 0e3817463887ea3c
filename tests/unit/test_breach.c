/* test_breach: the range answer parser finds a suffix's count, ignores padding, and trusts nothing malformed. */
#include "config.h"

#include <string.h>

#include <check.h>

#include "arena.h"
#include "breach.h"
#include "conf.h"
#include "unit.h"
#include "validate.h"

/* SHA-1("password") = 5BAA6 1E4C9B93F3F0682250B6CF8331B7EE68FD8: the prefix and the suffix. */
#define SUFFIX "1E4C9B93F3F0682250B6CF8331B7EE68FD8"

static const struct {
	const char        *body;
	int                rc;
	unsigned long long count;
} vectors[] = {
	/* the suffix present, CRLF as the API sends it */
	{ "0018A45C4D1DEF81644B54AB7F969B88D65:1\r\n" SUFFIX ":9659365\r\n", 0, 9659365 },
	/* lower-case hex matches too; LF alone and no final newline are fine */
	{ "1e4c9b93f3f0682250b6cf8331b7ee68fd8:3", 0, 3 },
	/* absent */
	{ "0018A45C4D1DEF81644B54AB7F969B88D65:1\r\n", 0, 0 },
	/* a padding entry (count 0) is no breach, even with our suffix */
	{ SUFFIX ":0\r\n", 0, 0 },
	/* an empty answer: nothing found */
	{ "", 0, 0 },
	/* malformed: prose, a short suffix, a non-hex suffix, no count, a signed count, overflow */
	{ "<html>Service Unavailable</html>", -1, 0 },
	{ "1E4C9B93F3F0682250B6CF8331B7EE68FD:5\r\n", -1, 0 },
	{ "1E4C9B93F3F0682250B6CF8331B7EE68FDZ:5\r\n", -1, 0 },
	{ SUFFIX ":\r\n", -1, 0 },
	{ SUFFIX ":-5\r\n", -1, 0 },
	{ SUFFIX ":99999999999999999999999\r\n", -1, 0 },
	/* one bad line spoils a good one: the answer is not trusted at all */
	{ SUFFIX ":7\r\ngarbage\r\n", -1, 0 },
};

START_TEST(test_the_range_parser_gives_the_count_of_the_suffix_or_refuses_the_answer)
{
	unsigned long long n = 42;
	const char        *b = vectors[_i].body;

	ck_assert_int_eq(breach_parse(b, strlen(b), SUFFIX, &n), vectors[_i].rc);
	/* A refused answer claims nothing: count 0 then too. */
	ck_assert_uint_eq(n, vectors[_i].count);
}
END_TEST

START_TEST(test_the_parser_reads_only_the_bytes_it_is_given)
{
	static const char  body[] = SUFFIX ":12\r\n" SUFFIX ":99";
	unsigned long long n = 0;

	/* Up to and including the first line's CRLF: the second entry is not seen. */
	ck_assert_int_eq(breach_parse(body, strlen(SUFFIX) + 5, SUFFIX, &n), 0);
	ck_assert_uint_eq(n, 12);
}
END_TEST

START_TEST(test_without_a_url_the_check_is_off_and_accepts_everything)
{
	struct arena       *a = arena_new();
	struct conf         c;
	struct field_result r[1];
	unsigned long long  n = 5;

	memset(&c, 0, sizeof(c));
	c.hibp_min_count = 1;
	c.hibp_timeout_ms = 1500;
	memset(r, 0, sizeof(r));
	r[0].val = "password";
	r[0].len = 8;
	ck_assert_int_eq(breach_count(a, &c, "password", 8, &n), UM_EUNAVAIL);
	ck_assert_uint_eq(n, 0);
	ck_assert_int_eq(breach_refuse(a, &c, r, 0), UM_OK);
	ck_assert_ptr_null(r[0].error);
	ck_assert_ptr_null(r[0].code);
	arena_free(a);
}
END_TEST

START_TEST(test_an_unreachable_api_skips_the_check_instead_of_refusing)
{
	struct arena       *a = arena_new();
	struct conf         c;
	struct field_result r[1];

	memset(&c, 0, sizeof(c));
	/* Port 1 on loopback: nothing listens, the connection is refused at once. */
	c.hibp_url = (char *)"http://127.0.0.1:1";
	c.hibp_min_count = 1;
	c.hibp_timeout_ms = 500;
	memset(r, 0, sizeof(r));
	r[0].val = "password";
	r[0].len = 8;
	ck_assert_int_eq(breach_refuse(a, &c, r, 0), UM_OK);
	ck_assert_ptr_null(r[0].error);
	ck_assert_str_eq(r[0].val, "password");
	arena_free(a);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("breach");
	TCase *tc = tcase_create("breach");

	tcase_add_loop_test(tc,
	    test_the_range_parser_gives_the_count_of_the_suffix_or_refuses_the_answer, 0,
	    (int)(sizeof(vectors) / sizeof(vectors[0])));
	tcase_add_test(tc, test_the_parser_reads_only_the_bytes_it_is_given);
	tcase_add_test(tc, test_without_a_url_the_check_is_off_and_accepts_everything);
	tcase_add_test(tc, test_an_unreachable_api_skips_the_check_instead_of_refusing);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
