/* test_b64: base64url without padding reproduces RFC 4648 and accepts one spelling per value. */
#include "config.h"

#include <string.h>

#include <check.h>

#include "b64.h"
#include "unit.h"

/* RFC 4648 §10, in the URL-safe alphabet without padding, plus the two characters it adds. */
static const struct {
	const char *bin;
	size_t      n;
	const char *text;
} vectors[] = {
	{ "", 0, "" },
	{ "f", 1, "Zg" },
	{ "fo", 2, "Zm8" },
	{ "foo", 3, "Zm9v" },
	{ "foob", 4, "Zm9vYg" },
	{ "fooba", 5, "Zm9vYmE" },
	{ "foobar", 6, "Zm9vYmFy" },
	{ "\xfb\xff\xbf", 3, "-_-_" }, /* 62 and 63: '-' and '_', not '+' and '/' */
	{ "\x00\x00", 2, "AAA" },
};
#define NVECTORS (sizeof(vectors) / sizeof(vectors[0]))

START_TEST(test_every_rfc4648_vector_encodes_to_its_text)
{
	char out[16];

	memset(out, 'x', sizeof(out));
	ck_assert_uint_eq(b64url_encode(out, (const unsigned char *)vectors[_i].bin,
	                      vectors[_i].n),
	    strlen(vectors[_i].text));
	ck_assert_uint_eq(B64URL_LEN(vectors[_i].n), strlen(vectors[_i].text));
	ck_assert_str_eq(out, vectors[_i].text);
}
END_TEST

START_TEST(test_every_rfc4648_vector_decodes_to_its_bytes_and_no_more)
{
	const char   *t = vectors[_i].text;
	unsigned char out[16];

	/* The room b64.h promises is n * 3 / 4 bytes: the byte after it stays untouched. */
	memset(out, 0xaa, sizeof(out));
	ck_assert_int_eq(b64url_decode(out, t, strlen(t)), (long)vectors[_i].n);
	ck_assert_mem_eq(out, vectors[_i].bin, vectors[_i].n);
	ck_assert_uint_eq(out[strlen(t) * 3 / 4], 0xaa);
}
END_TEST

/* Each of these is refused: a token has exactly one accepted spelling. */
static const struct {
	const char *text;
	size_t      n;
	const char *why;
} refused[] = {
	{ "Zg==", 4, "padding" },
	{ "Zm8=", 4, "padding" },
	{ "Zg=", 3, "padding" },
	{ "Zm+v", 4, "'+' of the standard alphabet" },
	{ "Zm/v", 4, "'/' of the standard alphabet" },
	{ "Zm9v\n", 5, "a trailing newline" },
	{ " Zm9v", 5, "a leading space" },
	{ "Zm 9v", 5, "a space inside" },
	{ "Zm9v\t", 5, "a trailing tab" },
	{ "Zm9\0", 4, "an embedded NUL" },
	{ "Zm9v!", 5, "a character outside the alphabet" },
	{ "Zm9\xe8", 4, "a byte over 0x7f (libsodium's decoder takes it for a letter)" },
	{ "Zm\xc3\xa8", 4, "a non-ASCII letter in UTF-8" },
	{ "Zh", 2, "non-zero trailing bits after one byte (Zg is the spelling)" },
	{ "Zm9", 3, "non-zero trailing bits after two bytes (Zm8 is the spelling)" },
	{ "-_8AQX5", 7, "non-zero trailing bits (-_8AQX4 is the spelling)" },
	{ "A", 1, "a length of 4k + 1" },
	{ "Zm9vY", 5, "a length of 4k + 1" },
};
#define NREFUSED (sizeof(refused) / sizeof(refused[0]))

START_TEST(test_every_other_spelling_is_refused)
{
	unsigned char out[16];

	ck_assert_msg(b64url_decode(out, refused[_i].text, refused[_i].n) == -1, "accepted %s",
	    refused[_i].why);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("b64");
	TCase *tc = tcase_create("b64");

	tcase_add_loop_test(tc, test_every_rfc4648_vector_encodes_to_its_text, 0, NVECTORS);
	tcase_add_loop_test(tc, test_every_rfc4648_vector_decodes_to_its_bytes_and_no_more, 0,
	    NVECTORS);
	tcase_add_loop_test(tc, test_every_other_spelling_is_refused, 0, NREFUSED);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
