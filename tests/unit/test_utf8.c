/* test_utf8: the RFC 3629 byte ranges, edge by edge, and the ASCII fast path around them. */
#include "config.h"

#include <string.h>

#include <check.h>

#include "arena.h"
#include "unit.h"
#include "utf8.h"

struct vec {
	const char *what;
	const char *s;
	size_t      n;
	long        count; /* -1: ill-formed */
};

#define V(what, lit, count) \
	{ \
		what, lit, sizeof(lit) - 1, count \
	}

static const struct vec vecs[] = {
	V("the empty string", "", 0),
	V("plain ASCII", "hello", 5),
	V("a NUL byte", "a\0b", 3),
	V("DEL", "\x7f", 1),
	V("the smallest two-byte form U+0080", "\xc2\x80", 1),
	V("the largest two-byte form U+07FF", "\xdf\xbf", 1),
	V("e-acute", "caf\xc3\xa9", 4),
	V("the smallest three-byte form U+0800", "\xe0\xa0\x80", 1),
	V("U+D7FF just below the surrogates", "\xed\x9f\xbf", 1),
	V("U+E000 just above the surrogates", "\xee\x80\x80", 1),
	V("U+FFFD", "\xef\xbf\xbd", 1),
	V("U+FFFF, a noncharacter but well-formed", "\xef\xbf\xbf", 1),
	V("the smallest four-byte form U+10000", "\xf0\x90\x80\x80", 1),
	V("an emoji", "\xf0\x9f\x98\x80", 1),
	V("U+10FFFF, the last code point", "\xf4\x8f\xbf\xbf", 1),
	V("mixed text", "a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80z", 5),
	V("an overlong NUL (C0 80)", "\xc0\x80", -1),
	V("an overlong slash (C0 AF)", "\xc0\xaf", -1),
	V("an overlong with a C1 lead", "\xc1\xbf", -1),
	V("an overlong three-byte form (E0 9F BF)", "\xe0\x9f\xbf", -1),
	V("an overlong four-byte form (F0 8F BF BF)", "\xf0\x8f\xbf\xbf", -1),
	V("the surrogate U+D800", "\xed\xa0\x80", -1),
	V("the surrogate U+DFFF", "\xed\xbf\xbf", -1),
	V("a surrogate pair encoded as two sequences", "\xed\xa0\xbd\xed\xb8\x80", -1),
	V("U+110000, beyond Unicode", "\xf4\x90\x80\x80", -1),
	V("an F5 lead", "\xf5\x80\x80\x80", -1),
	V("an FF byte", "\xff", -1),
	V("an FE byte", "\xfe", -1),
	V("a stray continuation byte", "\x80", -1),
	V("a stray continuation byte after ASCII", "abc\xbf", -1),
	V("a two-byte lead at the end", "abc\xc3", -1),
	V("a three-byte sequence cut after two", "\xe2\x82", -1),
	V("a four-byte sequence cut after three", "\xf0\x9f\x98", -1),
	V("a lead followed by ASCII",
	    "\xc3"
	    "a",
	    -1),
	V("a three-byte lead whose last byte is ASCII",
	    "\xe2\x82"
	    "a",
	    -1),
	V("a four-byte lead whose last byte is a lead", "\xf0\x9f\x98\xf0", -1),
	V("a five-byte form", "\xf8\x88\x80\x80\x80", -1),
	V("an invalid byte after 16 ASCII bytes", "0123456789abcdef\xc0\x80", -1),
	V("an invalid byte after 9 ASCII bytes", "012345678\xff", -1),
	V("a valid sequence after 8 ASCII bytes", "01234567\xc3\xa9", 9),
	V("24 ASCII bytes", "0123456789abcdef01234567", 24),
};

START_TEST(test_each_vector_is_judged_as_rfc_3629_says)
{
	const struct vec *v = &vecs[_i];

	ck_assert_msg(utf8_count(v->s, v->n) == v->count, "%s: count %ld, expected %ld",
	    v->what, utf8_count(v->s, v->n), v->count);
	ck_assert_msg(utf8_valid(v->s, v->n) == (v->count >= 0), "%s: valid is %d", v->what,
	    utf8_valid(v->s, v->n));
}
END_TEST

START_TEST(test_every_code_point_encodes_to_valid_utf8_and_every_surrogate_does_not)
{
	unsigned char b[4];
	unsigned long cp;
	size_t        n;
	int           want;

	for (cp = 0; cp <= 0x10ffff; cp++) {
		if (cp < 0x80) {
			b[0] = (unsigned char)cp;
			n = 1;
		} else if (cp < 0x800) {
			b[0] = (unsigned char)(0xc0 | cp >> 6);
			b[1] = (unsigned char)(0x80 | (cp & 0x3f));
			n = 2;
		} else if (cp < 0x10000) {
			b[0] = (unsigned char)(0xe0 | cp >> 12);
			b[1] = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
			b[2] = (unsigned char)(0x80 | (cp & 0x3f));
			n = 3;
		} else {
			b[0] = (unsigned char)(0xf0 | cp >> 18);
			b[1] = (unsigned char)(0x80 | (cp >> 12 & 0x3f));
			b[2] = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
			b[3] = (unsigned char)(0x80 | (cp & 0x3f));
			n = 4;
		}
		want = !(cp >= 0xd800 && cp <= 0xdfff);
		/* ck_assert per code point is too slow under the sanitizers: test, then abort. */
		if (utf8_valid((const char *)b, n) != want)
			ck_abort_msg("U+%04lX: valid is not %d", cp, want);
		if (utf8_count((const char *)b, n) != (want ? 1 : -1))
			ck_abort_msg("U+%04lX: count is not %d", cp, want ? 1 : -1);
	}
}
END_TEST

START_TEST(test_every_two_byte_pair_agrees_with_a_reference_decoder)
{
	unsigned char b[2];
	unsigned int  i, j;
	int           want;

	/* Every two-byte string is valid only as two ASCII bytes or one C2..DF sequence. */
	for (i = 0; i < 256; i++)
		for (j = 0; j < 256; j++) {
			b[0] = (unsigned char)i;
			b[1] = (unsigned char)j;
			want = (i < 0x80 && j < 0x80) ||
			    (i >= 0xc2 && i <= 0xdf && j >= 0x80 && j <= 0xbf);
			if (utf8_valid((const char *)b, 2) != want)
				ck_abort_msg("%02X %02X: valid is not %d", i, j, want);
		}
}
END_TEST

START_TEST(test_a_long_ascii_run_is_counted_byte_for_byte)
{
	struct arena *a;
	char         *s;
	size_t        n;

	a = arena_new();
	/* Lengths around the 8-byte word so the fast path's tail is exercised. */
	for (n = 0; n < 70; n++) {
		s = arena_alloc(a, n + 2);
		memset(s, 'x', n);
		ck_assert_int_eq(utf8_count(s, n), (long)n);
		s[n] = (char)0xc3;
		s[n + 1] = (char)0xa9;
		ck_assert_int_eq(utf8_count(s, n + 2), (long)n + 1);
		ck_assert_int_eq(utf8_count(s, n + 1), -1);
	}
	arena_free(a);
}
END_TEST

int
main(void)
{
	Suite *s;
	TCase *tc;

	s = suite_create("utf8");
	tc = tcase_create("core");
	tcase_add_loop_test(tc, test_each_vector_is_judged_as_rfc_3629_says, 0,
	    (int)(sizeof(vecs) / sizeof(vecs[0])));
	tcase_add_test(tc,
	    test_every_code_point_encodes_to_valid_utf8_and_every_surrogate_does_not);
	tcase_add_test(tc, test_every_two_byte_pair_agrees_with_a_reference_decoder);
	tcase_add_test(tc, test_a_long_ascii_run_is_counted_byte_for_byte);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
