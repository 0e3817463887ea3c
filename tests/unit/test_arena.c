/* test_arena: the per-request allocator and its growable buffer, which every request relies on. */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <check.h>

#include "arena.h"
#include "buf.h"
#include "unit.h"

START_TEST(test_every_allocation_is_16_byte_aligned)
{
	struct arena *a;
	size_t        n;
	void         *p;

	a = arena_new();
	for (n = 0; n < 300; n++) {
		p = arena_alloc(a, n);
		ck_assert_msg(((uintptr_t)p & 15) == 0, "size %zu at %p", n, p);
	}
	p = arena_alloc(a, 100000);
	ck_assert_uint_eq((uintptr_t)p & 15, 0);
	arena_free(a);
}
END_TEST

START_TEST(test_allocations_do_not_overlap)
{
	struct arena  *a;
	unsigned char *p[200];
	size_t         i, j, sz;

	a = arena_new();
	/* Mixed sizes cross chunk boundaries and large-chunk paths. */
	for (i = 0; i < 200; i++) {
		sz = (i * 97) % 6000 + 1;
		p[i] = arena_alloc(a, sz);
		memset(p[i], (int)i, sz);
	}
	for (i = 0; i < 200; i++) {
		sz = (i * 97) % 6000 + 1;
		for (j = 0; j < sz; j++)
			if (p[i][j] != (unsigned char)i)
				ck_abort_msg("allocation %zu byte %zu was overwritten", i, j);
	}
	arena_free(a);
}
END_TEST

START_TEST(test_a_large_allocation_is_usable_end_to_end)
{
	struct arena *a;
	char         *p, *q;
	size_t        n = 4 * 1024 * 1024;

	a = arena_new();
	p = arena_alloc(a, n);
	memset(p, 'x', n);
	q = arena_alloc(a, 10);
	memcpy(q, "after", 6);
	ck_assert_int_eq(p[0], 'x');
	ck_assert_int_eq(p[n - 1], 'x');
	ck_assert_str_eq(q, "after");
	ck_assert_uint_ge(arena_used(a), n + 10);
	arena_free(a);
}
END_TEST

START_TEST(test_calloc_zeroes_and_dup_functions_copy)
{
	struct arena  *a;
	unsigned char *z;
	char          *s;
	size_t         i;

	a = arena_new();
	/* Dirty the first chunk, then reset so calloc reuses the same memory. */
	memset(arena_alloc(a, 4096), 0xaa, 4096);
	arena_reset(a);
	z = arena_calloc(a, 512, 8);
	for (i = 0; i < 4096; i++)
		if (z[i] != 0)
			ck_abort_msg("byte %zu is not zero", i);
	ck_assert_str_eq(arena_strdup(a, "hello"), "hello");
	s = arena_strndup(a, "hello", 3);
	ck_assert_str_eq(s, "hel");
	ck_assert_str_eq(arena_strndup(a, "", 0), "");
	ck_assert_int_eq(memcmp(arena_memdup(a, "a\0b", 3), "a\0b", 3), 0);
	ck_assert_ptr_nonnull(arena_memdup(a, NULL, 0));
	arena_free(a);
}
END_TEST

START_TEST(test_arena_printf_formats_short_and_long_strings)
{
	struct arena *a;
	char         *s, big[10001];

	a = arena_new();
	ck_assert_str_eq(arena_printf(a, "%s-%d-%zu", "x", -3, (size_t)7), "x--3-7");
	ck_assert_str_eq(arena_printf(a, "%s", ""), "");
	memset(big, 'y', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	s = arena_printf(a, "<%s>", big);
	ck_assert_uint_eq(strlen(s), sizeof(big) + 1);
	ck_assert_int_eq(s[0], '<');
	ck_assert_int_eq(s[sizeof(big)], '>');
	arena_free(a);
}
END_TEST

START_TEST(test_reset_forgets_allocations_and_the_arena_keeps_working)
{
	struct arena *a;
	char         *p;
	int           round;

	a = arena_new();
	for (round = 0; round < 5; round++) {
		ck_assert_uint_eq(arena_used(a), 0);
		p = arena_alloc(a, 100);
		memset(p, 'a', 100);
		p = arena_alloc(a, 1000000);
		memset(p, 'b', 1000000);
		ck_assert_uint_ge(arena_used(a), 1000100);
		ck_assert_str_eq(arena_strdup(a, "still ok"), "still ok");
		arena_reset(a);
	}
	arena_free(a);
}
END_TEST

struct trace {
	int order[8];
	int n;
};

struct call {
	struct trace *t;
	int           id;
};

static void
record(void *p)
{
	struct call *c = p;

	c->t->order[c->t->n++] = c->id;
}

START_TEST(test_deferred_cleanups_run_newest_first_once_at_reset)
{
	struct arena *a;
	struct trace  t = { { 0 }, 0 };
	struct call   c[3] = { { &t, 1 }, { &t, 2 }, { &t, 3 } };

	a = arena_new();
	arena_defer(a, record, &c[0]);
	arena_defer(a, record, &c[1]);
	/* Interleaved allocations must not disturb the cleanup list. */
	memset(arena_alloc(a, 50000), 0, 50000);
	arena_defer(a, record, &c[2]);
	ck_assert_int_eq(t.n, 0);
	arena_reset(a);
	ck_assert_int_eq(t.n, 3);
	ck_assert_int_eq(t.order[0], 3);
	ck_assert_int_eq(t.order[1], 2);
	ck_assert_int_eq(t.order[2], 1);
	arena_reset(a);
	ck_assert_int_eq(t.n, 3);
	arena_defer(a, record, &c[0]);
	arena_free(a);
	ck_assert_int_eq(t.n, 4);
	ck_assert_int_eq(t.order[3], 1);
}
END_TEST

START_TEST(test_deferred_cleanups_run_newest_first_once_at_free)
{
	struct arena *a;
	struct trace  t = { { 0 }, 0 };
	struct call   c[2] = { { &t, 1 }, { &t, 2 } };

	a = arena_new();
	arena_defer(a, record, &c[0]);
	arena_defer(a, record, &c[1]);
	arena_free(a);
	ck_assert_int_eq(t.n, 2);
	ck_assert_int_eq(t.order[0], 2);
	ck_assert_int_eq(t.order[1], 1);
}
END_TEST

START_TEST(test_arena_free_accepts_null)
{
	/* Fails by crashing: Check runs each test in a child and reports the signal. */
	arena_free(NULL);
	arena_reset(NULL);
}
END_TEST

START_TEST(test_buf_starts_empty_and_grows_past_its_initial_capacity)
{
	struct arena *a;
	struct buf    b;
	size_t        i;

	a = arena_new();
	buf_init(&b, a);
	ck_assert_uint_eq(b.len, 0);
	ck_assert_str_eq(b.data, "");
	for (i = 0; i < 10000; i++)
		buf_putc(&b, (char)('a' + i % 26));
	ck_assert_uint_eq(b.len, 10000);
	ck_assert_uint_eq(strlen(b.data), 10000);
	ck_assert_uint_ge(b.cap, 10001);
	for (i = 0; i < 10000; i++)
		if (b.data[i] != (char)('a' + i % 26))
			ck_abort_msg("byte %zu lost in growth", i);
	arena_free(a);
}
END_TEST

START_TEST(test_buf_append_puts_and_printf_concatenate)
{
	struct arena *a;
	struct buf    b;
	char          big[1000];

	a = arena_new();
	buf_init(&b, a);
	buf_append(&b, "ab", 2);
	buf_append(&b, "zz", 0);
	buf_puts(&b, "cd");
	buf_printf(&b, "[%d:%s]", 42, "x");
	buf_printf(&b, "%s", "");
	ck_assert_str_eq(b.data, "abcd[42:x]");
	ck_assert_uint_eq(b.len, 10);
	/* A printf larger than the remaining capacity grows the buffer first. */
	memset(big, 'q', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	buf_printf(&b, "%s!", big);
	ck_assert_uint_eq(b.len, 10 + sizeof(big));
	ck_assert_int_eq(b.data[b.len - 1], '!');
	ck_assert_uint_eq(strlen(b.data), b.len);
	/* Binary data with NULs is kept by length. */
	buf_truncate(&b, 0);
	buf_append(&b, "a\0b", 3);
	ck_assert_uint_eq(b.len, 3);
	ck_assert_int_eq(memcmp(b.data, "a\0b", 4), 0);
	arena_free(a);
}
END_TEST

START_TEST(test_buf_truncate_shortens_but_never_lengthens)
{
	struct arena *a;
	struct buf    b;

	a = arena_new();
	buf_init(&b, a);
	buf_puts(&b, "hello world");
	buf_truncate(&b, 5);
	ck_assert_str_eq(b.data, "hello");
	ck_assert_uint_eq(b.len, 5);
	buf_truncate(&b, 50);
	ck_assert_uint_eq(b.len, 5);
	ck_assert_str_eq(b.data, "hello");
	buf_puts(&b, "!");
	ck_assert_str_eq(b.data, "hello!");
	arena_free(a);
}
END_TEST

static const unsigned long long decimals[] = { 0, 7, 10, 99, 204, 65536, 4294967296ull,
	18446744073709551615ull };

START_TEST(test_buf_put_decimal_writes_every_width_as_printf_would)
{
	struct arena *a;
	struct buf    b;
	char          want[32];
	size_t        i;

	a = arena_new();
	for (i = 0; i < sizeof(decimals) / sizeof(decimals[0]); i++) {
		buf_init(&b, a);
		buf_puts(&b, "n=");
		buf_put_decimal(&b, decimals[i]);
		(void)snprintf(want, sizeof(want), "n=%llu", decimals[i]);
		ck_assert_str_eq(b.data, want);
		ck_assert_uint_eq(b.len, strlen(want));
	}
	arena_free(a);
}
END_TEST

struct html {
	const char *in;
	const char *out;
};

static const struct html htmls[] = {
	{ "", "" },
	{ "plain text", "plain text" },
	{ "&", "&amp;" },
	{ "<", "&lt;" },
	{ ">", "&gt;" },
	{ "\"", "&quot;" },
	{ "'", "&#39;" },
	{ "<script>alert('x&y')</script>",
	    "&lt;script&gt;alert(&#39;x&amp;y&#39;)&lt;/script&gt;" },
	{ "a=\"1\" b='2'", "a=&quot;1&quot; b=&#39;2&#39;" },
	{ "&amp;", "&amp;amp;" },
	{ "caf\xc3\xa9 <b>", "caf\xc3\xa9 &lt;b&gt;" },
	{ "<<>>", "&lt;&lt;&gt;&gt;" },
};

START_TEST(test_buf_append_html_escapes_the_five_characters)
{
	const struct html *h = &htmls[_i];
	struct arena      *a;
	struct buf         b;

	a = arena_new();
	buf_init(&b, a);
	buf_puts(&b, "[");
	buf_append_html(&b, h->in, strlen(h->in));
	buf_puts(&b, "]");
	ck_assert_str_eq(b.data + 1 + strlen(h->out), "]");
	ck_assert_int_eq(strncmp(b.data + 1, h->out, strlen(h->out)), 0);
	ck_assert_uint_eq(b.len, strlen(h->out) + 2);
	arena_free(a);
}
END_TEST

START_TEST(test_buf_append_html_reads_only_the_given_length)
{
	struct arena *a;
	struct buf    b;

	a = arena_new();
	buf_init(&b, a);
	buf_append_html(&b, "a<b>c", 2);
	ck_assert_str_eq(b.data, "a&lt;");
	arena_free(a);
}
END_TEST

int
main(void)
{
	Suite *s;
	TCase *tc;

	s = suite_create("arena");
	tc = tcase_create("core");
	tcase_add_test(tc, test_every_allocation_is_16_byte_aligned);
	tcase_add_test(tc, test_allocations_do_not_overlap);
	tcase_add_test(tc, test_a_large_allocation_is_usable_end_to_end);
	tcase_add_test(tc, test_calloc_zeroes_and_dup_functions_copy);
	tcase_add_test(tc, test_arena_printf_formats_short_and_long_strings);
	tcase_add_test(tc, test_reset_forgets_allocations_and_the_arena_keeps_working);
	tcase_add_test(tc, test_deferred_cleanups_run_newest_first_once_at_reset);
	tcase_add_test(tc, test_deferred_cleanups_run_newest_first_once_at_free);
	tcase_add_test(tc, test_arena_free_accepts_null);
	tcase_add_test(tc, test_buf_starts_empty_and_grows_past_its_initial_capacity);
	tcase_add_test(tc, test_buf_append_puts_and_printf_concatenate);
	tcase_add_test(tc, test_buf_truncate_shortens_but_never_lengthens);
	tcase_add_test(tc, test_buf_put_decimal_writes_every_width_as_printf_would);
	tcase_add_loop_test(tc, test_buf_append_html_escapes_the_five_characters, 0,
	    (int)(sizeof(htmls) / sizeof(htmls[0])));
	tcase_add_test(tc, test_buf_append_html_reads_only_the_given_length);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
