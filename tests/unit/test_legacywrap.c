/* test_legacywrap: the pace of the legacy-hash wrapping, and a job that is off or resting stays idle. */
#include "config.h"

#include <string.h>
#include <time.h>

#include <check.h>

#include "ctx.h"
#include "legacywrap.h"
#include "unit.h"

/* A monotonic time of s seconds and ms milliseconds. */
static struct timespec
at(long s, long ms)
{
	struct timespec t = { .tv_sec = s, .tv_nsec = ms * 1000000L };

	return t;
}

START_TEST(test_a_pace_lets_the_first_hash_through_at_once)
{
	struct legacywrap_pace p;
	struct timespec        t = at(100, 0);

	legacywrap_pace_init(&p, 4);
	ck_assert_uint_eq(legacywrap_pace_due(&p, &t), 1);
}
END_TEST

START_TEST(test_a_pace_adds_its_rate_each_second_and_holds_one_seconds_worth)
{
	struct legacywrap_pace p;
	struct timespec        t0 = at(100, 0), t1 = at(100, 500), t2 = at(110, 500);

	legacywrap_pace_init(&p, 4);
	ck_assert_uint_eq(legacywrap_pace_due(&p, &t0), 1);
	legacywrap_pace_spend(&p, 1);
	ck_assert_uint_eq(legacywrap_pace_due(&p, &t1), 2);
	legacywrap_pace_spend(&p, 2);
	/* Ten idle seconds are not made up by a burst of 40. */
	ck_assert_uint_eq(legacywrap_pace_due(&p, &t2), 4);
}
END_TEST

START_TEST(test_a_pace_of_one_a_second_waits_a_second_between_hashes)
{
	struct legacywrap_pace p;
	struct timespec        t0 = at(100, 0), t1 = at(100, 600), t2 = at(101, 0);

	legacywrap_pace_init(&p, 1);
	ck_assert_uint_eq(legacywrap_pace_due(&p, &t0), 1);
	legacywrap_pace_spend(&p, 1);
	ck_assert_uint_eq(legacywrap_pace_due(&p, &t1), 0);
	ck_assert_uint_eq(legacywrap_pace_due(&p, &t2), 1);
}
END_TEST

START_TEST(test_a_clock_that_goes_back_adds_nothing)
{
	struct legacywrap_pace p;
	struct timespec        t0 = at(100, 0), back = at(90, 0);

	legacywrap_pace_init(&p, 10);
	ck_assert_uint_eq(legacywrap_pace_due(&p, &t0), 1);
	legacywrap_pace_spend(&p, 1);
	ck_assert_uint_eq(legacywrap_pace_due(&p, &back), 0);
}
END_TEST

/* A context without a database: a step that reached for one would crash. */
START_TEST(test_a_job_at_zero_per_second_never_touches_the_database)
{
	struct legacywrap_job j;
	struct ctx            ctx;
	struct timespec       t = at(100, 0);
	size_t                n = 99;

	memset(&ctx, 0, sizeof(ctx));
	legacywrap_job_init(&j, 0);
	ck_assert_int_eq(legacywrap_job_step(&ctx, &j, &t, &n), UM_OK);
	ck_assert_uint_eq(n, 0);
}
END_TEST

START_TEST(test_a_resting_job_waits_for_the_end_of_its_rest)
{
	struct legacywrap_job j;
	struct ctx            ctx;
	struct timespec       t = at(100, 0);
	size_t                n = 99;

	memset(&ctx, 0, sizeof(ctx));
	legacywrap_job_init(&j, 5);
	j.rest_until = at(100 + LEGACYWRAP_REST, 0);
	ck_assert_int_eq(legacywrap_job_step(&ctx, &j, &t, &n), UM_OK);
	ck_assert_uint_eq(n, 0);
	t = at(100 + LEGACYWRAP_REST - 1, 999);
	ck_assert_int_eq(legacywrap_job_step(&ctx, &j, &t, &n), UM_OK);
	ck_assert_uint_eq(n, 0);
}
END_TEST

static Suite *
legacywrap_suite(void)
{
	Suite *s = suite_create("legacywrap");
	TCase *tc = tcase_create("pace");

	tcase_add_test(tc, test_a_pace_lets_the_first_hash_through_at_once);
	tcase_add_test(tc, test_a_pace_adds_its_rate_each_second_and_holds_one_seconds_worth);
	tcase_add_test(tc, test_a_pace_of_one_a_second_waits_a_second_between_hashes);
	tcase_add_test(tc, test_a_clock_that_goes_back_adds_nothing);
	tcase_add_test(tc, test_a_job_at_zero_per_second_never_touches_the_database);
	tcase_add_test(tc, test_a_resting_job_waits_for_the_end_of_its_rest);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return unit_run(legacywrap_suite());
}
