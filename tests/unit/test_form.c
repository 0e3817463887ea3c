/* test_form: query strings and urlencoded bodies — what decodes, what is refused, and why. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include <check.h>

#include "arena.h"
#include "error.h"
#include "form.h"
#include "kv.h"
#include "bounds.h"
#include "unit.h"

#define NO_BAD ((const char *)0)

struct pair {
	const char *k;
	const char *v;
};

struct vec {
	const char *in;
	enum um_err rc;
	size_t      n; /* pairs expected on success */
	struct pair p[4];
	const char *bad; /* *bad expected on refusal */
};

static const struct vec vecs[] = {
	{ "", UM_OK, 0, { { NULL, NULL } }, NO_BAD },
	{ "a=1&b=2", UM_OK, 2, { { "a", "1" }, { "b", "2" } }, NO_BAD },
	{ "a=1&a=2&b=3&a=4", UM_OK, 4,
	    { { "a", "1" }, { "a", "2" }, { "b", "3" }, { "a", "4" } }, NO_BAD },
	{ "a&&b=", UM_OK, 2, { { "a", "" }, { "b", "" } }, NO_BAD },
	{ "&&&", UM_OK, 0, { { NULL, NULL } }, NO_BAD },
	{ "&a=1&", UM_OK, 1, { { "a", "1" } }, NO_BAD },
	{ "=x", UM_OK, 1, { { "", "x" } }, NO_BAD },
	{ "a==b", UM_OK, 1, { { "a", "=b" } }, NO_BAD },
	{ "q=hello+world", UM_OK, 1, { { "q", "hello world" } }, NO_BAD },
	{ "first+name=x", UM_OK, 1, { { "first name", "x" } }, NO_BAD },
	{ "a=%2B%20%26%3D", UM_OK, 1, { { "a", "+ &=" } }, NO_BAD },
	{ "a=%2b%2F", UM_OK, 1, { { "a", "+/" } }, NO_BAD },
	{ "name=caf%C3%A9", UM_OK, 1, { { "name", "caf\xc3\xa9" } }, NO_BAD },
	{ "name=caf\xc3\xa9", UM_OK, 1, { { "name", "caf\xc3\xa9" } }, NO_BAD },
	{ "e=%F0%9F%98%80", UM_OK, 1, { { "e", "\xf0\x9f\x98\x80" } }, NO_BAD },
	{ "next=%2Fadmin%3Fx%3D1", UM_OK, 1, { { "next", "/admin?x=1" } }, NO_BAD },
	{ "csrf=abc;def", UM_OK, 1, { { "csrf", "abc;def" } }, NO_BAD },
	{ "a=%zz", UM_EINVAL, 0, { { NULL, NULL } }, "a" },
	{ "a=%4", UM_EINVAL, 0, { { NULL, NULL } }, "a" },
	{ "a=%", UM_EINVAL, 0, { { NULL, NULL } }, "a" },
	{ "a=%4g", UM_EINVAL, 0, { { NULL, NULL } }, "a" },
	{ "a=% 41", UM_EINVAL, 0, { { NULL, NULL } }, "a" },
	{ "a=%%41", UM_EINVAL, 0, { { NULL, NULL } }, "a" },
	{ "a=%4&b=1", UM_EINVAL, 0, { { NULL, NULL } }, "a" },
	{ "%zz=1", UM_EINVAL, 0, { { NULL, NULL } }, NO_BAD },
	{ "a=%00", UM_EINVAL, 0, { { NULL, NULL } }, "a" },
	{ "a%00=1", UM_EINVAL, 0, { { NULL, NULL } }, NO_BAD },
	{ "a=%C3", UM_EINVAL, 0, { { NULL, NULL } }, "a" },
	{ "%C3", UM_EINVAL, 0, { { NULL, NULL } }, NO_BAD },
	{ "a=%C3%28", UM_EINVAL, 0, { { NULL, NULL } }, "a" },
	{ "a=%ED%A0%80", UM_EINVAL, 0, { { NULL, NULL } }, "a" },
	{ "a=%C0%AF", UM_EINVAL, 0, { { NULL, NULL } }, "a" },
	{ "a=%F4%90%80%80", UM_EINVAL, 0, { { NULL, NULL } }, "a" },
	{ "a=\xff", UM_EINVAL, 0, { { NULL, NULL } }, "a" },
	{ "ok=1&bio=%FF", UM_EINVAL, 0, { { NULL, NULL } }, "bio" },
	{ "=%FF", UM_EINVAL, 0, { { NULL, NULL } }, NO_BAD },
	{ "a%0A=%FF", UM_EINVAL, 0, { { NULL, NULL } }, NO_BAD },
};

START_TEST(test_each_vector_decodes_or_is_refused_as_expected)
{
	const struct vec *v = &vecs[_i];
	struct arena     *a;
	struct kvlist     l;
	const char       *bad = "unset";
	size_t            i;

	a = arena_new();
	ck_assert_msg(form_parse(a, v->in, strlen(v->in), &l, &bad) == v->rc, "rc for %s",
	    v->in);
	if (v->rc == UM_OK) {
		ck_assert_msg(l.n == v->n, "%s: %zu pairs", v->in, l.n);
		for (i = 0; i < v->n; i++) {
			ck_assert_str_eq(l.v[i].key, v->p[i].k);
			ck_assert_str_eq(l.v[i].val, v->p[i].v);
			ck_assert_uint_eq(l.v[i].vlen, strlen(v->p[i].v));
		}
		ck_assert_ptr_null(bad);
	} else {
		ck_assert_msg(l.n == 0, "%s: a refused parse leaves an empty list", v->in);
		if (v->bad == NO_BAD)
			ck_assert_msg(bad == NULL, "%s: bad is %s", v->in, bad);
		else
			ck_assert_msg(bad != NULL && strcmp(bad, v->bad) == 0, "%s: bad is %s",
			    v->in, bad != NULL ? bad : "NULL");
	}
	arena_free(a);
}
END_TEST

START_TEST(test_a_null_input_of_length_zero_is_an_empty_list)
{
	struct arena *a;
	struct kvlist l = { (struct kv *)1, 99 };

	a = arena_new();
	ck_assert_int_eq(form_parse(a, NULL, 0, &l, NULL), UM_OK);
	ck_assert_uint_eq(l.n, 0);
	ck_assert_ptr_null(kv_get(&l, "a"));
	arena_free(a);
}
END_TEST

START_TEST(test_only_the_given_length_is_read)
{
	struct arena *a;
	struct kvlist l;

	a = arena_new();
	ck_assert_int_eq(form_parse(a, "a=1&b=%zz", 3, &l, NULL), UM_OK);
	ck_assert_uint_eq(l.n, 1);
	ck_assert_str_eq(kv_get(&l, "a"), "1");
	/* An escape cut by the length is malformed even if the next bytes in memory are hex. */
	ck_assert_int_eq(form_parse(a, "a=%41", 4, &l, NULL), UM_EINVAL);
	ck_assert_int_eq(form_parse(a, "a=%41", 3, &l, NULL), UM_EINVAL);
	/* A NUL byte in the raw input is not valid text either. */
	ck_assert_int_eq(form_parse(a, "a=1\0b", 5, &l, NULL), UM_EINVAL);
	arena_free(a);
}
END_TEST

/* Builds "f0=x&f1=x&..." with n pairs. */
static char *
many_fields(struct arena *a, size_t n)
{
	char  *s, *p;
	size_t i;

	p = s = arena_alloc(a, n * 16 + 1);
	for (i = 0; i < n; i++)
		p += snprintf(p, 16, "%sf%zu=x", i > 0 ? "&" : "", i);
	return s;
}

START_TEST(test_64_fields_are_accepted_and_65_refused)
{
	struct arena *a;
	struct kvlist l;
	const char   *s, *bad = "unset";

	a = arena_new();
	s = many_fields(a, UM_FIELDS_MAX);
	ck_assert_int_eq(form_parse(a, s, strlen(s), &l, &bad), UM_OK);
	ck_assert_uint_eq(l.n, UM_FIELDS_MAX);
	ck_assert_str_eq(l.v[UM_FIELDS_MAX - 1].key, "f63");
	s = many_fields(a, UM_FIELDS_MAX + 1);
	ck_assert_int_eq(form_parse(a, s, strlen(s), &l, &bad), UM_EINVAL);
	ck_assert_ptr_null(bad);
	ck_assert_uint_eq(l.n, 0);
	arena_free(a);
}
END_TEST

START_TEST(test_empty_pairs_do_not_count_towards_the_field_limit)
{
	struct arena *a;
	struct kvlist l;
	char         *s;
	size_t        len;

	a = arena_new();
	s = many_fields(a, UM_FIELDS_MAX);
	len = strlen(s);
	s = arena_printf(a, "&&&&%s&&&&", s);
	ck_assert_int_eq(form_parse(a, s, len + 8, &l, NULL), UM_OK);
	ck_assert_uint_eq(l.n, UM_FIELDS_MAX);
	arena_free(a);
}
END_TEST

START_TEST(test_a_value_of_the_maximum_length_is_accepted_and_one_byte_more_refused)
{
	struct arena *a;
	struct kvlist l;
	const char   *bad = "unset";
	char         *s;
	size_t        n;

	a = arena_new();
	n = 2 + UM_FIELD_MAX + 1;
	s = arena_alloc(a, n + 1);
	memcpy(s, "v=", 2);
	memset(s + 2, 'x', UM_FIELD_MAX + 1);
	s[n] = '\0';
	ck_assert_int_eq(form_parse(a, s, n - 1, &l, &bad), UM_OK);
	ck_assert_uint_eq(l.v[0].vlen, UM_FIELD_MAX);
	ck_assert_int_eq(form_parse(a, s, n, &l, &bad), UM_EINVAL);
	ck_assert_str_eq(bad, "v");
	arena_free(a);
}
END_TEST

START_TEST(test_the_value_limit_counts_decoded_bytes)
{
	struct arena *a;
	struct kvlist l;
	char         *s;
	size_t        i, n;

	/* UM_FIELD_MAX bytes sent as %41 are three times longer on the wire, and still fine. */
	a = arena_new();
	n = 2 + 3 * UM_FIELD_MAX;
	s = arena_alloc(a, n + 1);
	memcpy(s, "v=", 2);
	for (i = 0; i < UM_FIELD_MAX; i++)
		memcpy(s + 2 + 3 * i, "%41", 3);
	ck_assert_int_eq(form_parse(a, s, n, &l, NULL), UM_OK);
	ck_assert_uint_eq(l.v[0].vlen, UM_FIELD_MAX);
	ck_assert_int_eq(l.v[0].val[UM_FIELD_MAX - 1], 'A');
	arena_free(a);
}
END_TEST

START_TEST(test_an_overlong_name_is_refused)
{
	struct arena *a;
	struct kvlist l;
	char         *s;

	a = arena_new();
	s = arena_alloc(a, UM_FIELD_MAX + 3);
	memset(s, 'n', UM_FIELD_MAX + 1);
	memcpy(s + UM_FIELD_MAX + 1, "=", 2);
	ck_assert_int_eq(form_parse(a, s, strlen(s), &l, NULL), UM_EINVAL);
	ck_assert_int_eq(form_parse(a, s + 1, strlen(s + 1), &l, NULL), UM_OK);
	arena_free(a);
}
END_TEST

START_TEST(test_kv_helpers_see_repeated_fields_in_order)
{
	struct arena *a;
	struct kvlist l;
	const char   *s = "roles=admin&x=1&roles=user";

	a = arena_new();
	ck_assert_int_eq(form_parse(a, s, strlen(s), &l, NULL), UM_OK);
	ck_assert_uint_eq(kv_count(&l, "roles"), 2);
	ck_assert_str_eq(kv_get(&l, "roles"), "admin");
	ck_assert_uint_eq(kv_count(&l, "nope"), 0);
	arena_free(a);
}
END_TEST

struct esc {
	const char *in;
	const char *out;
};

static const struct esc escs[] = {
	{ "", "" },
	{ "AZaz09-._~", "AZaz09-._~" },
	{ "/admin/users?page=2&x=1", "%2Fadmin%2Fusers%3Fpage%3D2%26x%3D1" },
	{ "a b+c", "a%20b%2Bc" },
	{ "100%", "100%25" },
	{ "caf\xc3\xa9", "caf%C3%A9" },
	{ "#\"'<>", "%23%22%27%3C%3E" },
};

START_TEST(test_form_escape_keeps_unreserved_characters_and_encodes_the_rest)
{
	const struct esc *e = &escs[_i];
	struct arena     *a;
	struct kvlist     l;
	const char       *q;

	a = arena_new();
	ck_assert_str_eq(form_escape(a, e->in), e->out);
	/* Whatever is escaped comes back unchanged through the parser. */
	q = arena_printf(a, "next=%s", form_escape(a, e->in));
	ck_assert_int_eq(form_parse(a, q, strlen(q), &l, NULL), UM_OK);
	ck_assert_str_eq(kv_get(&l, "next"), e->in);
	arena_free(a);
}
END_TEST

START_TEST(test_form_escape_of_null_is_empty)
{
	struct arena *a;

	a = arena_new();
	ck_assert_str_eq(form_escape(a, NULL), "");
	arena_free(a);
}
END_TEST

int
main(void)
{
	Suite *s;
	TCase *tc;

	s = suite_create("form");
	tc = tcase_create("core");
	tcase_add_loop_test(tc, test_each_vector_decodes_or_is_refused_as_expected, 0,
	    (int)(sizeof(vecs) / sizeof(vecs[0])));
	tcase_add_test(tc, test_a_null_input_of_length_zero_is_an_empty_list);
	tcase_add_test(tc, test_only_the_given_length_is_read);
	tcase_add_test(tc, test_64_fields_are_accepted_and_65_refused);
	tcase_add_test(tc, test_empty_pairs_do_not_count_towards_the_field_limit);
	tcase_add_test(tc,
	    test_a_value_of_the_maximum_length_is_accepted_and_one_byte_more_refused);
	tcase_add_test(tc, test_the_value_limit_counts_decoded_bytes);
	tcase_add_test(tc, test_an_overlong_name_is_refused);
	tcase_add_test(tc, test_kv_helpers_see_repeated_fields_in_order);
	tcase_add_loop_test(tc,
	    test_form_escape_keeps_unreserved_characters_and_encodes_the_rest, 0,
	    (int)(sizeof(escs) / sizeof(escs[0])));
	tcase_add_test(tc, test_form_escape_of_null_is_empty);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
