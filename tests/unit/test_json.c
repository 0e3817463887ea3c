/* test_json: which request bodies are JSON we accept, and what responses look like on the wire. */
#include "config.h"

#include <string.h>

#include <check.h>
#include <jansson.h>

#include "arena.h"
#include "buf.h"
#include "error.h"
#include "json.h"
#include "bounds.h"
#include "unit.h"

struct vec {
	const char *what;
	const char *in;
	size_t      n;
	enum um_err rc;
};

#define V(what, lit, rc) \
	{ \
		what, lit, sizeof(lit) - 1, rc \
	}

static const struct vec vecs[] = {
	V("an object", "{\"username\":\"alice\",\"password\":\"pw\"}", UM_OK),
	V("an array", "[1,2.5,true,false,null,\"s\"]", UM_OK),
	V("surrounding whitespace", " \r\n\t{} \n", UM_OK),
	V("a top-level string", "\"x\"", UM_OK),
	V("a top-level number", "42", UM_OK),
	V("a top-level null", "null", UM_OK),
	V("UTF-8 text", "{\"n\":\"caf\xc3\xa9 \xf0\x9f\x98\x80\"}", UM_OK),
	V("a surrogate pair escape", "[\"\\ud83d\\ude00\"]", UM_OK),
	V("an escaped NUL", "{\"a\":\"x\\u0000y\"}", UM_OK),
	V("the same key in two objects", "[{\"a\":1},{\"a\":2}]", UM_OK),
	V("brackets inside a string do not nest", "[\"[[[[[[[[[[[[[[[[[[[[{{{{{{\"]", UM_OK),
	V("an escaped quote before brackets", "[\"\\\"[[[[[[[[[[[[[[[[[[[[\"]", UM_OK),
	V("an empty body", "", UM_EJSON),
	V("only whitespace", "  \n", UM_EJSON),
	V("a duplicate key", "{\"a\":1,\"a\":2}", UM_EJSON),
	V("a nested duplicate key", "{\"x\":{\"r\":1,\"r\":1}}", UM_EJSON),
	V("trailing garbage", "[1] x", UM_EJSON),
	V("two values", "{} {}", UM_EJSON),
	V("a trailing NUL byte", "{}\0", UM_EJSON),
	V("a raw NUL inside a string", "[\"a\0b\"]", UM_EJSON),
	V("a raw control character in a string", "[\"a\x01\"]", UM_EJSON),
	V("an invalid UTF-8 byte", "[\"\xff\"]", UM_EJSON),
	V("a truncated UTF-8 sequence", "[\"\xc3\"]", UM_EJSON),
	V("an overlong UTF-8 form", "[\"\xc0\xaf\"]", UM_EJSON),
	V("a UTF-8-encoded surrogate", "[\"\xed\xa0\x80\"]", UM_EJSON),
	V("a lone high surrogate escape", "[\"\\ud800\"]", UM_EJSON),
	V("a lone low surrogate escape", "[\"\\udc00\"]", UM_EJSON),
	V("a high surrogate before a non-surrogate", "[\"\\ud800\\u0041\"]", UM_EJSON),
	V("reversed surrogates", "[\"\\ude00\\ud83d\"]", UM_EJSON),
	V("a single quote string", "['x']", UM_EJSON),
	V("a trailing comma", "[1,]", UM_EJSON),
	V("a comment", "[1 /* c */]", UM_EJSON),
	V("an unterminated object", "{\"a\":1", UM_EJSON),
	V("NaN", "[NaN]", UM_EJSON),
	V("a number too big for an integer", "[99999999999999999999]", UM_EJSON),
	V("a real that overflows", "[1e999]", UM_EJSON),
	V("a leading zero", "[01]", UM_EJSON),
	V("a bad escape", "[\"\\x41\"]", UM_EJSON),
	/* jansson cannot hold a NUL in a key; no field has such a name, so this is moot. */
	V("an escaped NUL in a key", "{\"\\u0000\":1}", UM_EJSON),
	V("a byte-order mark", "\xef\xbb\xbf{}", UM_EJSON),
};

START_TEST(test_each_body_is_accepted_or_refused_as_expected)
{
	const struct vec *v = &vecs[_i];
	struct arena     *a;
	json_t           *j = (json_t *)1;
	enum um_err       rc;

	a = arena_new();
	rc = json_body_parse(a, v->in, v->n, &j);
	ck_assert_msg(rc == v->rc, "%s: rc %d", v->what, rc);
	if (rc == UM_OK)
		ck_assert_ptr_nonnull(j);
	else
		ck_assert_ptr_null(j);
	arena_free(a);
}
END_TEST

/* n nested arrays: "[[[...]]]". */
static char *
nested(struct arena *a, size_t n, char open, char close)
{
	char *s;

	s = arena_alloc(a, 2 * n + 1);
	memset(s, open, n);
	memset(s + n, close, n);
	s[2 * n] = '\0';
	return s;
}

/* n levels: n - 1 objects {"a": ...} around an empty array. */
static char *
nested_objects(struct arena *a, size_t n)
{
	char  *s = arena_strdup(a, "[]");
	size_t i;

	for (i = 1; i < n; i++)
		s = arena_printf(a, "{\"a\":%s}", s);
	return s;
}

START_TEST(test_nesting_of_16_is_accepted_and_17_refused)
{
	struct arena *a;
	json_t       *j;
	char         *s;

	a = arena_new();
	s = nested(a, UM_JSON_DEPTH_MAX, '[', ']');
	ck_assert_int_eq(json_body_parse(a, s, strlen(s), &j), UM_OK);
	s = nested(a, UM_JSON_DEPTH_MAX + 1, '[', ']');
	ck_assert_int_eq(json_body_parse(a, s, strlen(s), &j), UM_EJSON);
	/* Objects count the same as arrays. */
	s = nested_objects(a, UM_JSON_DEPTH_MAX);
	ck_assert_int_eq(json_body_parse(a, s, strlen(s), &j), UM_OK);
	s = nested_objects(a, UM_JSON_DEPTH_MAX + 1);
	ck_assert_int_eq(json_body_parse(a, s, strlen(s), &j), UM_EJSON);
	/* Depth is nesting, not the number of containers side by side. */
	s = arena_strdup(a, "[[],[],[],[],[],[],[],[],[],[],[],[],[],[],[],[],[],[],[],[]]");
	ck_assert_int_eq(json_body_parse(a, s, strlen(s), &j), UM_OK);
	arena_free(a);
}
END_TEST

START_TEST(test_very_deep_nesting_is_refused_without_exhausting_the_stack)
{
	struct arena *a;
	json_t       *j;
	char         *s;

	a = arena_new();
	s = nested(a, 1000000, '[', ']');
	ck_assert_int_eq(json_body_parse(a, s, strlen(s), &j), UM_EJSON);
	s = nested(a, 1000000, '{', '}');
	ck_assert_int_eq(json_body_parse(a, s, strlen(s), &j), UM_EJSON);
	arena_free(a);
}
END_TEST

START_TEST(test_an_escaped_nul_survives_in_the_decoded_string)
{
	struct arena *a;
	json_t       *j;
	const char   *s = "{\"a\":\"x\\u0000y\"}";

	a = arena_new();
	ck_assert_int_eq(json_body_parse(a, s, strlen(s), &j), UM_OK);
	ck_assert_uint_eq(json_string_length(json_object_get(j, "a")), 3);
	ck_assert_int_eq(memcmp(json_string_value(json_object_get(j, "a")), "x\0y", 3), 0);
	arena_free(a);
}
END_TEST

static void
count_call(void *p)
{
	(*(int *)p)++;
}

START_TEST(test_the_parsed_value_lives_until_the_arena_is_reset)
{
	struct arena *a;
	json_t       *j;
	int           ran = 0;

	a = arena_new();
	ck_assert_int_eq(json_body_parse(a, "{\"a\":[1]}", 9, &j), UM_OK);
	/* A reference we hold ourselves outlives the arena's. */
	json_incref(j);
	arena_defer(a, count_call, &ran);
	ck_assert_int_eq(j->refcount, 2);
	arena_reset(a);
	ck_assert_int_eq(ran, 1);
	ck_assert_int_eq(j->refcount, 1);
	ck_assert_int_eq(json_integer_value(json_array_get(json_object_get(j, "a"), 0)), 1);
	json_decref(j);
	arena_free(a);
}
END_TEST

START_TEST(test_json_arena_ties_a_value_to_the_arena_and_passes_null_through)
{
	struct arena *a;
	json_t       *j, *k;

	a = arena_new();
	ck_assert_ptr_null(json_arena(a, NULL));
	j = json_object();
	json_incref(j);
	k = json_arena(a, j);
	ck_assert_ptr_eq(k, j);
	ck_assert_int_eq(j->refcount, 2);
	arena_free(a);
	ck_assert_int_eq(j->refcount, 1);
	json_decref(j);
}
END_TEST

struct out {
	const char *what;
	const char *in;
	const char *out;
};

static const struct out outs[] = {
	{ "an empty object", "{}", "{}" },
	{ "keys in insertion order, compact",
	    "{ \"z\" : 1 , \"a\" : [ 1 , 2 ] , \"m\" : { \"k\" : null } }",
	    "{\"z\":1,\"a\":[1,2],\"m\":{\"k\":null}}" },
	{ "a top-level string", "\"x\"", "\"x\"" },
	{ "a top-level number", "7", "7" },
	{ "UTF-8 stays UTF-8", "[\"caf\\u00e9\"]", "[\"caf\xc3\xa9\"]" },
	{ "control characters and quotes are escaped", "[\"a\\n\\\"\\\\\\u0001\"]",
	    "[\"a\\n\\\"\\\\\\u0001\"]" },
	{ "an escaped NUL is re-escaped", "[\"x\\u0000y\"]", "[\"x\\u0000y\"]" },
	{ "booleans", "[true,false]", "[true,false]" },
};

START_TEST(test_json_to_buf_writes_the_compact_form)
{
	const struct out *o = &outs[_i];
	struct arena     *a;
	struct buf        b;
	json_t           *j;

	a = arena_new();
	ck_assert_msg(json_body_parse(a, o->in, strlen(o->in), &j) == UM_OK, "%s", o->what);
	buf_init(&b, a);
	buf_puts(&b, "<");
	json_to_buf(&b, j);
	buf_puts(&b, ">");
	ck_assert_uint_eq(b.len, strlen(o->out) + 2);
	ck_assert_int_eq(b.data[0], '<');
	ck_assert_msg(memcmp(b.data + 1, o->out, strlen(o->out)) == 0, "%s: got %s", o->what,
	    b.data);
	ck_assert_int_eq(b.data[b.len - 1], '>');
	arena_free(a);
}
END_TEST

START_TEST(test_json_to_buf_handles_output_larger_than_the_initial_buffer)
{
	struct arena *a;
	struct buf    b;
	json_t       *arr, *back;
	json_error_t  err;
	size_t        i;

	a = arena_new();
	arr = json_arena(a, json_array());
	for (i = 0; i < 5000; i++)
		json_array_append_new(arr, json_integer((json_int_t)i));
	buf_init(&b, a);
	json_to_buf(&b, arr);
	ck_assert_uint_gt(b.len, 20000);
	ck_assert_uint_eq(strlen(b.data), b.len);
	back = json_loadb(b.data, b.len, 0, &err);
	ck_assert_ptr_nonnull(back);
	ck_assert(json_equal(back, arr));
	json_decref(back);
	arena_free(a);
}
END_TEST

int
main(void)
{
	Suite *s;
	TCase *tc;

	s = suite_create("json");
	tc = tcase_create("core");
	tcase_add_loop_test(tc, test_each_body_is_accepted_or_refused_as_expected, 0,
	    (int)(sizeof(vecs) / sizeof(vecs[0])));
	tcase_add_test(tc, test_nesting_of_16_is_accepted_and_17_refused);
	tcase_add_test(tc, test_very_deep_nesting_is_refused_without_exhausting_the_stack);
	tcase_add_test(tc, test_an_escaped_nul_survives_in_the_decoded_string);
	tcase_add_test(tc, test_the_parsed_value_lives_until_the_arena_is_reset);
	tcase_add_test(tc, test_json_arena_ties_a_value_to_the_arena_and_passes_null_through);
	tcase_add_loop_test(tc, test_json_to_buf_writes_the_compact_form, 0,
	    (int)(sizeof(outs) / sizeof(outs[0])));
	tcase_add_test(tc, test_json_to_buf_handles_output_larger_than_the_initial_buffer);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
