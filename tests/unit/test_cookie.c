/* test_cookie: Cookie headers as browsers send them, and the junk other applications leave. */
#include "config.h"

#include <string.h>

#include <check.h>

#include "arena.h"
#include "cookie.h"
#include "kv.h"
#include "bounds.h"
#include "unit.h"

struct pair {
	const char *k;
	const char *v;
};

struct vec {
	const char *what;
	const char *in;
	size_t      n;
	struct pair p[4];
};

static const struct vec vecs[] = {
	{ "no header", NULL, 0, { { NULL, NULL } } },
	{ "an empty header", "", 0, { { NULL, NULL } } },
	{ "one cookie", "um_session=abc123", 1, { { "um_session", "abc123" } } },
	{ "a browser's \"; \" separators", "a=1; b=2; c=3", 3,
	    { { "a", "1" }, { "b", "2" }, { "c", "3" } } },
	{ "no space after ';'", "a=1;b=2", 2, { { "a", "1" }, { "b", "2" } } },
	{ "extra whitespace and tabs", "  a = 1 ;\tb=2\t;  ", 2,
	    { { "a", "1" }, { "b", "2" } } },
	{ "a quoted value", "a=\"x y\"; b=2", 2, { { "a", "x y" }, { "b", "2" } } },
	{ "an empty quoted value", "a=\"\"", 1, { { "a", "" } } },
	{ "a lone DQUOTE is kept", "a=\"", 1, { { "a", "\"" } } },
	{ "an unbalanced quote is kept", "a=\"x", 1, { { "a", "\"x" } } },
	{ "an empty value", "a=; b=2", 2, { { "a", "" }, { "b", "2" } } },
	{ "'=' inside a value", "t=a=b==", 1, { { "t", "a=b==" } } },
	{ "no percent-decoding", "a=%41%00", 1, { { "a", "%41%00" } } },
	{ "a pair without '=' is skipped", "junk; a=1", 1, { { "a", "1" } } },
	{ "an empty name is skipped", "=x; a=1", 1, { { "a", "1" } } },
	{ "empty pieces are skipped", ";;; a=1 ;;", 1, { { "a", "1" } } },
	{ "duplicates are kept in order", "a=1; a=2", 2, { { "a", "1" }, { "a", "2" } } },
	{ "a control character in a value skips that pair", "a=x\x01y; b=2", 1,
	    { { "b", "2" } } },
	{ "a control character in a name skips that pair", "a\x7f=1; b=2", 1,
	    { { "b", "2" } } },
	{ "a newline skips the pair", "a=1\r\nX: y; b=2", 1, { { "b", "2" } } },
	{ "invalid UTF-8 in a value skips that pair", "a=\xc3\x28; b=2", 1, { { "b", "2" } } },
	{ "invalid UTF-8 in a name skips that pair", "\xff=1; b=2", 1, { { "b", "2" } } },
	{ "UTF-8 text is kept", "lang=caf\xc3\xa9", 1, { { "lang", "caf\xc3\xa9" } } },
	{ "a typical browser header",
	    "_ga=GA1.1.123.456; um_session=s3ss10n; um_csrf=tok%2Fen; theme=\"dark\"", 4,
	    { { "_ga", "GA1.1.123.456" }, { "um_session", "s3ss10n" },
	        { "um_csrf", "tok%2Fen" }, { "theme", "dark" } } },
};

START_TEST(test_each_header_yields_the_expected_pairs)
{
	const struct vec *v = &vecs[_i];
	struct arena     *a;
	struct kvlist     l;
	size_t            i;

	a = arena_new();
	cookie_parse(a, v->in, &l);
	ck_assert_msg(l.n == v->n, "%s: %zu pairs", v->what, l.n);
	for (i = 0; i < v->n; i++) {
		ck_assert_msg(strcmp(l.v[i].key, v->p[i].k) == 0, "%s: key %zu is %s", v->what,
		    i, l.v[i].key);
		ck_assert_msg(strcmp(l.v[i].val, v->p[i].v) == 0, "%s: value %zu is %s",
		    v->what, i, l.v[i].val);
		ck_assert_uint_eq(l.v[i].vlen, strlen(v->p[i].v));
	}
	arena_free(a);
}
END_TEST

START_TEST(test_no_more_than_32_cookies_are_kept)
{
	struct arena *a;
	struct kvlist l;
	const char   *h;
	size_t        i;

	a = arena_new();
	h = "";
	for (i = 0; i < 40; i++)
		h = arena_printf(a, "%sc%zu=v%zu; ", h, i, i);
	cookie_parse(a, h, &l);
	ck_assert_uint_eq(l.n, UM_COOKIES_MAX);
	ck_assert_str_eq(l.v[0].key, "c0");
	ck_assert_str_eq(l.v[UM_COOKIES_MAX - 1].key, "c31");
	ck_assert_ptr_null(kv_get(&l, "c32"));
	arena_free(a);
}
END_TEST

START_TEST(test_skipped_junk_does_not_use_up_the_cookie_limit)
{
	struct arena *a;
	struct kvlist l;
	const char   *h;
	size_t        i;

	/* Junk takes no slot: 32 good cookies after it are all kept. */
	a = arena_new();
	h = "junk; =x; a=\x01";
	for (i = 0; i < 35; i++)
		h = arena_printf(a, "%s; c%zu=v", h, i);
	cookie_parse(a, h, &l);
	ck_assert_uint_eq(l.n, UM_COOKIES_MAX);
	ck_assert_str_eq(l.v[0].key, "c0");
	ck_assert_str_eq(l.v[UM_COOKIES_MAX - 1].key, "c31");
	arena_free(a);
}
END_TEST

START_TEST(test_a_value_over_the_cookie_limit_is_skipped)
{
	struct arena *a;
	struct kvlist l;
	char         *big, *h;

	a = arena_new();
	big = arena_alloc(a, UM_COOKIE_MAX + 2);
	memset(big, 'x', UM_COOKIE_MAX + 1);
	big[UM_COOKIE_MAX + 1] = '\0';
	h = arena_printf(a, "big=%s; ok=%s; b=2", big, big + 1);
	cookie_parse(a, h, &l);
	ck_assert_uint_eq(l.n, 2);
	ck_assert_str_eq(l.v[0].key, "ok");
	ck_assert_uint_eq(l.v[0].vlen, UM_COOKIE_MAX);
	ck_assert_str_eq(l.v[1].key, "b");
	/* The DQUOTEs are not part of the value, so a quoted maximum still fits. */
	h = arena_printf(a, "q=\"%s\"", big + 1);
	cookie_parse(a, h, &l);
	ck_assert_uint_eq(l.n, 1);
	arena_free(a);
}
END_TEST

int
main(void)
{
	Suite *s;
	TCase *tc;

	s = suite_create("cookie");
	tc = tcase_create("core");
	tcase_add_loop_test(tc, test_each_header_yields_the_expected_pairs, 0,
	    (int)(sizeof(vecs) / sizeof(vecs[0])));
	tcase_add_test(tc, test_no_more_than_32_cookies_are_kept);
	tcase_add_test(tc, test_skipped_junk_does_not_use_up_the_cookie_limit);
	tcase_add_test(tc, test_a_value_over_the_cookie_limit_is_skipped);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
