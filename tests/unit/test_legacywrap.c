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

/* One call of a pace: at s seconds and ms milliseconds, want hashes due, then spend. */
struct tick {
	long   s, ms;
	size_t want, spend;
};

#define TICKS_MAX 4

/* Each case: a pace of per_second, called at the ticks in order (s 0 ends the list). */
static const struct {
	const char *what;
	unsigned    per_second;
	struct tick ticks[TICKS_MAX];
} paces[] = {
	{ "the first hash is due at once", 4, { { 100, 0, 1, 0 } } },
	{ "each second adds the rate; ten idle seconds are not made up by a burst of 40", 4,
	    { { 100, 0, 1, 1 }, { 100, 500, 2, 2 }, { 110, 500, 4, 0 } } },
	{ "at one a second, a second passes between hashes", 1,
	    { { 100, 0, 1, 1 }, { 100, 600, 0, 0 }, { 101, 0, 1, 0 } } },
	{ "a clock that goes back adds nothing", 10, { { 100, 0, 1, 1 }, { 90, 0, 0, 0 } } },
};

START_TEST(test_a_pace_lets_through_its_rate_and_no_burst)
{
	struct legacywrap_pace p;
	struct timespec        t;
	const struct tick     *k;

	legacywrap_pace_init(&p, paces[_i].per_second);
	for (k = paces[_i].ticks; k < paces[_i].ticks + TICKS_MAX && k->s != 0; k++) {
		t = at(k->s, k->ms);
		ck_assert_msg(legacywrap_pace_due(&p, &t) == k->want, "%s: at %ld.%03ld s",
		    paces[_i].what, k->s, k->ms);
		legacywrap_pace_spend(&p, k->spend);
	}
}
END_TEST

/* Jobs that must stay idle: off, or resting until rest_s (0: no rest), stepped at now. */
static const struct {
	unsigned per_second;
	long     rest_s;
	long     now_s, now_ms;
} idle_jobs[] = {
	{ 0, 0, 100, 0 },                     /* 0 a second: off */
	{ 5, 100 + LEGACYWRAP_REST, 100, 0 }, /* a pass just ended */
	{ 5, 100 + LEGACYWRAP_REST, 99 + LEGACYWRAP_REST,
	    999 }, /* a millisecond before the rest ends */
};

/* A context without a database: a step that reached for one would crash. */
START_TEST(test_a_job_that_is_off_or_resting_never_touches_the_database)
{
	struct legacywrap_job j;
	struct ctx            ctx;
	struct timespec       t = at(idle_jobs[_i].now_s, idle_jobs[_i].now_ms);
	size_t                n = 99;

	memset(&ctx, 0, sizeof(ctx));
	legacywrap_job_init(&j, idle_jobs[_i].per_second);
	j.rest_until = at(idle_jobs[_i].rest_s, 0);
	ck_assert_int_eq(legacywrap_job_step(&ctx, &j, &t, &n), UM_OK);
	ck_assert_uint_eq(n, 0);
}
END_TEST

static Suite *
legacywrap_suite(void)
{
	Suite *s = suite_create("legacywrap");
	TCase *tc = tcase_create("pace");

	tcase_add_loop_test(tc, test_a_pace_lets_through_its_rate_and_no_burst, 0,
	    (int)(sizeof(paces) / sizeof(paces[0])));
	tcase_add_loop_test(tc, test_a_job_that_is_off_or_resting_never_touches_the_database, 0,
	    (int)(sizeof(idle_jobs) / sizeof(idle_jobs[0])));
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return unit_run(legacywrap_suite());
}
