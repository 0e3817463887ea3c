/* test_outbox: the retry schedule (30 s doubling to an hour, ±10 % jitter) and what enqueueing refuses. */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "arena.h"
#include "conf.h"
#include "db.h"
#include "error.h"
#include "outbox.h"
#include "unit.h"

/* rnd at its extremes and midpoint gives the smallest, largest and unjittered delays. */
#define RND_MIN 0u
#define RND_MID (UINT32_MAX / 2)
#define RND_MAX UINT32_MAX

START_TEST(test_the_first_retry_comes_after_about_thirty_seconds)
{
	long long mid = outbox_backoff_ms(1, RND_MID);

	ck_assert_msg(mid >= 29990 && mid <= 30010, "first retry %lld ms", mid);
	ck_assert_int_eq(outbox_backoff_ms(1, RND_MIN), 27000);
	ck_assert_int_eq(outbox_backoff_ms(1, RND_MAX), 33000);
	/* attempts 0 (never happens) is treated like the first. */
	ck_assert_int_eq(outbox_backoff_ms(0, RND_MIN), 27000);
}
END_TEST

START_TEST(test_the_delay_doubles_until_it_reaches_an_hour)
{
	static const struct {
		unsigned  attempts;
		long long seconds;
	} table[] = {
		{ 1, 30 },
		{ 2, 60 },
		{ 3, 120 },
		{ 4, 240 },
		{ 5, 480 },
		{ 6, 960 },
		{ 7, 1920 },
		{ 8, 3600 },
		{ 9, 3600 },
		{ 20, 3600 },
		{ 64, 3600 },
		{ 1000, 3600 },
		{ UINT32_MAX, 3600 },
	};
	size_t    i;
	long long got, want;

	for (i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		got = outbox_backoff_ms(table[i].attempts, RND_MID);
		want = table[i].seconds * 1000;
		ck_assert_msg(got >= want - want / 1000 && got <= want + want / 1000,
		    "attempt %u: %lld ms, want about %lld", table[i].attempts, got, want);
		ck_assert_int_eq(outbox_backoff_ms(table[i].attempts, RND_MIN), want * 9 / 10);
		ck_assert_int_eq(outbox_backoff_ms(table[i].attempts, RND_MAX), want * 11 / 10);
	}
}
END_TEST

START_TEST(test_jitter_stays_within_ten_percent_and_actually_varies)
{
	long long d, lo = -1, hi = -1;
	unsigned  attempt;
	int       i;

	for (attempt = 1; attempt <= 10; attempt++) {
		long long base = 30000LL << (attempt - 1);

		if (base > 3600000)
			base = 3600000;
		lo = hi = -1;
		for (i = 0; i < 200; i++) {
			d = outbox_backoff_random_ms(attempt);
			ck_assert_msg(d >= base * 9 / 10 && d <= base * 11 / 10,
			    "attempt %u: %lld ms outside ±10 %% of %lld", attempt, d, base);
			if (lo < 0 || d < lo)
				lo = d;
			if (d > hi)
				hi = d;
		}
		/* 200 draws from a ±10 % window spread over well more than 10 % of it. */
		ck_assert_msg(hi - lo > base / 50,
		    "attempt %u: jitter barely varies (%lld..%lld)", attempt, lo, hi);
	}
}
END_TEST

START_TEST(test_the_delay_grows_monotonically_with_the_same_jitter)
{
	unsigned a;
	uint32_t r;

	for (r = 0; r < 5; r++)
		for (a = 1; a < 40; a++)
			ck_assert_int_le(outbox_backoff_ms(a, r * 1000000000u),
			    outbox_backoff_ms(a + 1, r * 1000000000u));
}
END_TEST

START_TEST(test_enqueue_refuses_header_injection_before_touching_the_database)
{
	static const struct {
		const char *email, *name, *subject, *text, *html;
	} cases[] = {
		{ "alice@example.com\r\nBcc: x@y.z", "Alice", "Hi", "t", "h" },
		{ "alice@example.com", "Alice\r\nBcc: x@y.z", "Hi", "t", "h" },
		{ "alice@example.com", "Alice", "Hi\nBcc: x@y.z", "t", "h" },
		{ "alice@example.com", "Alice", "Hi\r", "t", "h" },
		{ "not-an-address", "Alice", "Hi", "t", "h" },
		{ NULL, "Alice", "Hi", "t", "h" },
		{ "alice@example.com", "Alice", NULL, "t", "h" },
		{ "alice@example.com", "Alice", "Hi", NULL, "h" },
		{ "alice@example.com", "Alice", "Hi", "t", NULL },
		{ "alice@example.com", "Alice", "Hi", "bad \xff utf-8", "h" },
		{ "alice@example.com", "Alice", "Hi", "t", "bad \xc0\xaf utf-8" },
		{ "alice@example.com", "\xe2\x82", "Hi", "t", "h" },
	};
	struct arena *a = arena_new();
	char          longsub[300];
	long long     id = -1;
	size_t        i;

	/* db is NULL: reaching the database would crash, so each refusal comes first. */
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		ck_assert_msg(outbox_enqueue(NULL, a, cases[i].email, cases[i].name,
		                  cases[i].subject, cases[i].text, cases[i].html,
		                  &id) == UM_EINVAL,
		    "case %zu refused", i);
	memset(longsub, 'x', 256);
	longsub[256] = '\0';
	ck_assert_int_eq(outbox_enqueue(NULL, a, "alice@example.com", "", longsub, "t", "h",
	                     &id),
	    UM_EINVAL);
	ck_assert_int_eq(id, -1);
	arena_free(a);
}
END_TEST

/*
 * The other side of the refusals above: messages at the edges of what is allowed pass every
 * check and reach the database, which is a handle with nothing behind it here, so enqueueing
 * fails there (UM_EUNAVAIL) and only there, never with UM_EINVAL.
 */
START_TEST(test_enqueue_takes_a_well_formed_message_up_to_its_limits_to_the_database)
{
	static const struct {
		const char *email, *name, *subject, *text, *html;
	} cases[] = {
		{ "alice@example.com", "Alice", "Hi", "t", "h" },
		{ "alice@example.com", NULL, "Hi", "t", "h" },
		{ "alice@example.com", "", "Hi", "", "" },
		{ "zoe@example.com", "Zo\xc3\xab \xe2\x82\xac", "Gr\xc3\xbc\xc3\x9f",
		    "line one\r\nline two\n", "<p>\xe2\x82\xac</p>\n" },
		{ "a.b+tag@sub.example.org", "O'Brien, \"Al\"", "Reset: 100% <ok>", "t", "h" },
	};
	static char   sock[] = "/nonexistent/usermgr-test_outbox.sock";
	struct conf   c;
	struct db    *db;
	struct arena *a = arena_new();
	char          sub255[256];
	long long     id = -1;
	size_t        i;
	enum um_err   rc;

	memset(&c, 0, sizeof(c));
	c.db_socket = sock;
	ck_assert_ptr_nonnull(db = db_open(&c));
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		rc = outbox_enqueue(db, a, cases[i].email, cases[i].name, cases[i].subject,
		    cases[i].text, cases[i].html, &id);
		ck_assert_msg(rc == UM_EUNAVAIL,
		    "case %zu: %s instead of reaching the database", i, um_strerror(rc));
	}
	/* 255 characters is the subject column's width: allowed (256 is refused above). */
	memset(sub255, 'x', 255);
	sub255[255] = '\0';
	ck_assert_int_eq(outbox_enqueue(db, a, "alice@example.com", "", sub255, "t", "h", &id),
	    UM_EUNAVAIL);
	ck_assert_int_eq(id, -1);
	db_close(db);
	arena_free(a);
}
END_TEST

static Suite *
outbox_suite(void)
{
	Suite *s = suite_create("outbox");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_the_first_retry_comes_after_about_thirty_seconds);
	tcase_add_test(tc, test_the_delay_doubles_until_it_reaches_an_hour);
	tcase_add_test(tc, test_jitter_stays_within_ten_percent_and_actually_varies);
	tcase_add_test(tc, test_the_delay_grows_monotonically_with_the_same_jitter);
	tcase_add_test(tc, test_enqueue_refuses_header_injection_before_touching_the_database);
	tcase_add_test(tc,
	    test_enqueue_takes_a_well_formed_message_up_to_its_limits_to_the_database);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return unit_run(outbox_suite());
}
