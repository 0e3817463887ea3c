/* test_totp: RFC 6238 Appendix B vectors, drift window and replay, base32, AES-256-GCM sealing, QR codes. */
#include "config.h"

#include <stdint.h>
#include <string.h>
#include <time.h>

#include <openssl/sha.h>

#include <check.h>

#include "aead.h"
#include "arena.h"
#include "qr.h"
#include "totp.h"
#include "unit.h"

/* RFC 6238 Appendix B: the SHA-1 seed is the ASCII of "12345678901234567890". */
#define SEED     "12345678901234567890"
#define SEED_B32 "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"

static const struct {
	time_t   t;
	uint32_t code8;
} vectors[] = {
	{ 59, 94287082 },
	{ 1111111109, 7081804 },
	{ 1111111111, 14050471 },
	{ 1234567890, 89005924 },
	{ 2000000000, 69279037 },
	{ (time_t)20000000000LL, 65353130 },
};
#define NVECTORS (sizeof(vectors) / sizeof(vectors[0]))

START_TEST(test_every_rfc6238_sha1_vector_gives_its_eight_digit_code)
{
	uint32_t code = 0;

	ck_assert_int_eq(totp_code((const unsigned char *)SEED, 20, vectors[_i].t, 8, &code),
	    0);
	ck_assert_uint_eq(code, vectors[_i].code8);
}
END_TEST

START_TEST(test_six_digit_codes_are_the_last_six_digits_of_the_vectors)
{
	uint32_t code = 0;

	ck_assert_int_eq(totp_code((const unsigned char *)SEED, 20, vectors[_i].t, 6, &code),
	    0);
	ck_assert_uint_eq(code, vectors[_i].code8 % 1000000);
}
END_TEST

/* Formats a 6-digit code as typed, leading zeros kept. */
static void
six(uint32_t v, char out[7])
{
	int i;

	for (i = 5; i >= 0; i--) {
		out[i] = (char)('0' + v % 10);
		v /= 10;
	}
	out[6] = '\0';
}

static const unsigned char *key = (const unsigned char *)SEED;

START_TEST(test_a_code_of_the_current_step_is_accepted_and_names_its_step)
{
	char     c[7];
	uint32_t v;
	int64_t  step = 0;

	/* 1111111109 = step 37037036, 29 s into it. */
	ck_assert_int_eq(totp_code(key, 20, 1111111109, 6, &v), 0);
	six(v, c);
	ck_assert_str_eq(c, "081804");
	ck_assert_int_eq(totp_verify(key, 20, c, 1111111109, -1, &step), 0);
	ck_assert_int_eq(step, 1111111109 / 30);
}
END_TEST

START_TEST(test_codes_one_step_early_or_late_are_accepted_two_steps_are_not)
{
	char     c[7];
	uint32_t v;
	int64_t  step;
	time_t   now = 1234567890;

	ck_assert_int_eq(totp_code(key, 20, now - 30, 6, &v), 0);
	six(v, c);
	ck_assert_int_eq(totp_verify(key, 20, c, now, -1, &step), 0);
	ck_assert_int_eq(step, now / 30 - 1);
	ck_assert_int_eq(totp_code(key, 20, now + 30, 6, &v), 0);
	six(v, c);
	ck_assert_int_eq(totp_verify(key, 20, c, now, -1, &step), 0);
	ck_assert_int_eq(step, now / 30 + 1);
	ck_assert_int_eq(totp_code(key, 20, now - 60, 6, &v), 0);
	six(v, c);
	ck_assert_int_eq(totp_verify(key, 20, c, now, -1, &step), -1);
	ck_assert_int_eq(totp_code(key, 20, now + 60, 6, &v), 0);
	six(v, c);
	ck_assert_int_eq(totp_verify(key, 20, c, now, -1, &step), -1);
}
END_TEST

START_TEST(test_a_code_whose_step_was_used_already_is_refused)
{
	char     c[7];
	uint32_t v;
	int64_t  step;
	time_t   now = 2000000000;

	ck_assert_int_eq(totp_code(key, 20, now, 6, &v), 0);
	six(v, c);
	ck_assert_int_eq(totp_verify(key, 20, c, now, now / 30 - 1, &step), 0);
	ck_assert_int_eq(totp_verify(key, 20, c, now, now / 30, &step), -1);
	ck_assert_int_eq(totp_verify(key, 20, c, now + 10, now / 30, &step), -1);
}
END_TEST

START_TEST(test_malformed_codes_are_refused)
{
	static const char *const bad[] = {
		"",
		"12345",
		"1234567",
		"12a456",
		" 81804",
		"081804 ",
		"-81804",
		"０８１８０４",
	};
	int64_t step;
	size_t  i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(totp_verify(key, 20, bad[i], 1111111109, -1, &step) == -1,
		    "\"%s\" was accepted", bad[i]);
	ck_assert_int_eq(totp_verify(key, 20, NULL, 1111111109, -1, &step), -1);
}
END_TEST

START_TEST(test_a_wrong_code_is_refused)
{
	int64_t step;

	ck_assert_int_eq(totp_verify(key, 20, "081805", 1111111109, -1, &step), -1);
}
END_TEST

START_TEST(test_hotp_refuses_a_digit_count_outside_six_to_eight)
{
	uint32_t v;

	ck_assert_int_eq(totp_hotp(key, 20, 0, 5, &v), -1);
	ck_assert_int_eq(totp_hotp(key, 20, 0, 9, &v), -1);
	ck_assert_int_eq(totp_hotp(key, 0, 0, 6, &v), -1);
}
END_TEST

/* RFC 4648 §10 test vectors, padding removed. */
static const struct {
	const char *plain;
	const char *b32;
} b32_vectors[] = {
	{ "", "" },
	{ "f", "MY" },
	{ "fo", "MZXQ" },
	{ "foo", "MZXW6" },
	{ "foob", "MZXW6YQ" },
	{ "fooba", "MZXW6YTB" },
	{ "foobar", "MZXW6YTBOI" },
	{ SEED, SEED_B32 },
};
#define NB32 (sizeof(b32_vectors) / sizeof(b32_vectors[0]))

START_TEST(test_base32_encodes_the_rfc4648_vectors)
{
	char   out[TOTP_B32_MAX + 1];
	size_t n = strlen(b32_vectors[_i].plain);

	ck_assert_uint_eq(totp_b32_encode((const unsigned char *)b32_vectors[_i].plain, n, out,
	                      sizeof(out)),
	    strlen(b32_vectors[_i].b32));
	ck_assert_str_eq(out, b32_vectors[_i].b32);
}
END_TEST

START_TEST(test_base32_decodes_the_rfc4648_vectors)
{
	unsigned char out[64];
	size_t        n = strlen(b32_vectors[_i].plain);

	ck_assert_int_eq(totp_b32_decode(b32_vectors[_i].b32, out, sizeof(out)), (long)n);
	ck_assert_mem_eq(out, b32_vectors[_i].plain, n);
}
END_TEST

START_TEST(test_base32_decoding_ignores_case_spaces_hyphens_and_padding)
{
	unsigned char out[16];

	ck_assert_int_eq(totp_b32_decode("mzxw 6ytb-oi======", out, sizeof(out)), 6);
	ck_assert_mem_eq(out, "foobar", 6);
}
END_TEST

START_TEST(test_base32_decoding_refuses_bad_input)
{
	static const char *const bad[] = {
		"MZXW1", "MZXW8", "M", "MZX", "MZXW6Y", "MZ=XW", "MZ!", "MZ\xc3\xa9",
		"MZ", /* "f" is MY: the Z leaves non-zero trailing bits */
	};
	unsigned char out[16];
	size_t        i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(totp_b32_decode(bad[i], out, sizeof(out)) == -1,
		    "\"%s\" was decoded", bad[i]);
	ck_assert_int_eq(totp_b32_decode("MZXW6YTBOI", out, 5), -1);
}
END_TEST

START_TEST(test_the_otpauth_uri_names_issuer_account_and_parameters)
{
	struct arena *a = arena_new();

	ck_assert_str_eq(totp_uri(a, "usermgr", "alice.b", SEED_B32),
	    "otpauth://totp/usermgr:alice.b?secret=" SEED_B32
	    "&issuer=usermgr&algorithm=SHA1&digits=6&period=30");
	ck_assert_str_eq(totp_uri(a, "my app", "a&b", "MY"),
	    "otpauth://totp/my%20app:a%26b?secret=MY&issuer=my%20app"
	    "&algorithm=SHA1&digits=6&period=30");
	arena_free(a);
}
END_TEST

static const unsigned char k1[AEAD_KEY_LEN] = "0123456789abcdef0123456789abcdef";
static const unsigned char k2[AEAD_KEY_LEN] = "fedcba9876543210fedcba9876543210";

START_TEST(test_a_sealed_secret_opens_to_the_same_bytes)
{
	unsigned char sealed[20 + AEAD_OVERHEAD], opened[32];
	size_t        n, m;

	ck_assert_int_eq(aead_seal(k1, SEED, 20, "user:1", 6, sealed, sizeof(sealed), &n),
	    UM_OK);
	ck_assert_uint_eq(n, 20 + AEAD_OVERHEAD);
	ck_assert_int_eq(aead_open(k1, sealed, n, "user:1", 6, opened, sizeof(opened), &m),
	    UM_OK);
	ck_assert_uint_eq(m, 20);
	ck_assert_mem_eq(opened, SEED, 20);
}
END_TEST

START_TEST(test_two_seals_of_one_secret_differ_by_their_nonce)
{
	unsigned char s1[20 + AEAD_OVERHEAD], s2[20 + AEAD_OVERHEAD];
	size_t        n1, n2;

	ck_assert_int_eq(aead_seal(k1, SEED, 20, NULL, 0, s1, sizeof(s1), &n1), UM_OK);
	ck_assert_int_eq(aead_seal(k1, SEED, 20, NULL, 0, s2, sizeof(s2), &n2), UM_OK);
	ck_assert_int_ne(memcmp(s1, s2, AEAD_NONCE_LEN), 0);
	ck_assert_int_ne(memcmp(s1 + AEAD_NONCE_LEN, s2 + AEAD_NONCE_LEN, 20), 0);
}
END_TEST

START_TEST(test_a_tampered_or_misbound_seal_is_refused)
{
	unsigned char sealed[20 + AEAD_OVERHEAD], opened[32];
	size_t        n, m, i;

	ck_assert_int_eq(aead_seal(k1, SEED, 20, "user:1", 6, sealed, sizeof(sealed), &n),
	    UM_OK);
	/* Any flipped bit — nonce, ciphertext or tag — fails the tag. */
	for (i = 0; i < n; i++) {
		sealed[i] ^= 0x01;
		ck_assert_msg(aead_open(k1, sealed, n, "user:1", 6, opened, sizeof(opened),
		                  &m) == UM_ETOKEN,
		    "a flip at byte %zu was accepted", i);
		ck_assert_uint_eq(m, 0);
		sealed[i] ^= 0x01;
	}
	ck_assert_int_eq(aead_open(k2, sealed, n, "user:1", 6, opened, sizeof(opened), &m),
	    UM_ETOKEN);
	ck_assert_int_eq(aead_open(k1, sealed, n, "user:2", 6, opened, sizeof(opened), &m),
	    UM_ETOKEN);
	ck_assert_int_eq(aead_open(k1, sealed, n - 1, "user:1", 6, opened, sizeof(opened), &m),
	    UM_ETOKEN);
	ck_assert_int_eq(aead_open(k1, sealed, AEAD_OVERHEAD - 1, "user:1", 6, opened,
	                     sizeof(opened), &m),
	    UM_ETOKEN);
	ck_assert_int_eq(aead_open(k1, sealed, n, "user:1", 6, opened, sizeof(opened), &m),
	    UM_OK);
}
END_TEST

START_TEST(test_sealing_into_too_small_a_buffer_is_refused)
{
	unsigned char sealed[20 + AEAD_OVERHEAD - 1];
	size_t        n;

	ck_assert_int_eq(aead_seal(k1, SEED, 20, NULL, 0, sealed, sizeof(sealed), &n),
	    UM_EINVAL);
}
END_TEST

/*
 * Known answers for QR codes: the SHA-256 of the module matrix (row by row, "1" dark, no
 * quiet zone) that python3-qrcode 7.4 draws for the same text, byte mode, level M and mask
 * (QRCode(error_correction=ERROR_CORRECT_M, mask_pattern=m), add_data(..., optimize=0)).
 * The same codes also decode with zbarimg.
 */
#define OTPAUTH \
	"otpauth://totp/usermgr:alice?secret=" SEED_B32 \
	"&issuer=usermgr&algorithm=SHA1&digits=6&period=30"
#define Y200 \
	"yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy" \
	"yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy" \
	"yyyyyyyyyyyyyyyyyyyy"

static const struct {
	const char *text;
	int         mask;
	int         version;
	const char *sha256;
} qr_vectors[] = {
	{ "hello world", 0, 1,
	    "ff11d03a5d4c7271b10c332b4fa40be7ba354863ec7af342b03e7358f250d276" },
	{ "hello world", 5, 1,
	    "1c29d348705db6b9c50be1ad228690fa734d0f1fc514859d60ca9ef141bd40a6" },
	{ "hello world", 7, 1,
	    "dc4b0e2d047c3e4b59def8180cd454de982206a7fde82ac388593ae77fc985c3" },
	{ OTPAUTH, 1, 7, "928ea79b20828f4366704fa8d304a9c6bb54014f434326d4c8dc8ee042ca6fd2" },
	{ OTPAUTH, 4, 7, "63353551c8e58d04bb5de69f624119652b7fe927230decf837ebef756c76691a" },
	{ OTPAUTH, 6, 7, "eb67fd89bcd15babc0852c5e7afa0a525b3aba206e327f32ae8b9dbefed49950" },
	{ Y200, 2, 10, "834903185ce347e625c05bcac4b2af58189c27ae6134280669d2fc32a25014cb" },
	{ Y200, 3, 10, "e899ce6f025080510f165591b80bec03391aa4d504c229ec31f99a1daa934395" },
};
#define NQR (sizeof(qr_vectors) / sizeof(qr_vectors[0]))

START_TEST(test_qr_codes_match_an_independent_encoder_module_for_module)
{
	static struct qr q;
	static char      bits[QR_SIZE_MAX * QR_SIZE_MAX];
	unsigned char    h[SHA256_DIGEST_LENGTH];
	char             hex[2 * SHA256_DIGEST_LENGTH + 1];
	int              x, y, n = 0;
	size_t           i;

	ck_assert_int_eq(qr_encode(qr_vectors[_i].text, strlen(qr_vectors[_i].text),
	                     qr_vectors[_i].mask, &q),
	    0);
	ck_assert_int_eq(q.version, qr_vectors[_i].version);
	ck_assert_int_eq(q.size, q.version * 4 + 17);
	ck_assert_int_eq(q.mask, qr_vectors[_i].mask);
	for (y = 0; y < q.size; y++)
		for (x = 0; x < q.size; x++)
			bits[n++] = q.dark[y][x] ? '1' : '0';
	SHA256((const unsigned char *)bits, (size_t)n, h);
	for (i = 0; i < sizeof(h); i++) {
		hex[2 * i] = "0123456789abcdef"[h[i] >> 4];
		hex[2 * i + 1] = "0123456789abcdef"[h[i] & 0x0f];
	}
	hex[sizeof(hex) - 1] = '\0';
	ck_assert_str_eq(hex, qr_vectors[_i].sha256);
}
END_TEST

START_TEST(test_qr_codes_hold_up_to_213_bytes_and_refuse_more)
{
	static struct qr q;
	char             text[215];

	memset(text, 'a', sizeof(text));
	ck_assert_int_eq(qr_encode(text, 213, -1, &q), 0);
	ck_assert_int_eq(q.version, 10);
	ck_assert_int_eq(qr_encode(text, 214, -1, &q), -1);
	ck_assert_int_eq(qr_encode(text, 14, -1, &q), 0);
	ck_assert_int_eq(q.version, 1);
	ck_assert_int_eq(qr_encode(text, 15, -1, &q), 0);
	ck_assert_int_eq(q.version, 2);
	ck_assert_int_eq(qr_encode(text, 3, 8, &q), -1);
}
END_TEST

/* Version 7 is 45 modules wide, 53 with the quiet zone. */
#define SVG_START "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 53 53\" "

START_TEST(test_the_qr_svg_is_one_path_with_a_quiet_zone)
{
	struct arena *a = arena_new();
	const char   *svg = qr_svg(a, OTPAUTH);

	ck_assert_ptr_nonnull(svg);
	ck_assert_msg(strncmp(svg, SVG_START, strlen(SVG_START)) == 0, "%.80s", svg);
	ck_assert_ptr_nonnull(strstr(svg, "M4 4h7v1h-7z")); /* the top of the first finder */
	ck_assert_ptr_null(strstr(svg, "<script"));
	ck_assert_ptr_null(qr_svg(a, Y200 "yyyyyyyyyyyyyy"));
	arena_free(a);
}
END_TEST

static Suite *
suite(void)
{
	Suite *s = suite_create("totp");
	TCase *tc = tcase_create("totp");

	tcase_add_loop_test(tc, test_every_rfc6238_sha1_vector_gives_its_eight_digit_code, 0,
	    NVECTORS);
	tcase_add_loop_test(tc, test_six_digit_codes_are_the_last_six_digits_of_the_vectors, 0,
	    NVECTORS);
	tcase_add_test(tc, test_a_code_of_the_current_step_is_accepted_and_names_its_step);
	tcase_add_test(tc, test_codes_one_step_early_or_late_are_accepted_two_steps_are_not);
	tcase_add_test(tc, test_a_code_whose_step_was_used_already_is_refused);
	tcase_add_test(tc, test_malformed_codes_are_refused);
	tcase_add_test(tc, test_a_wrong_code_is_refused);
	tcase_add_test(tc, test_hotp_refuses_a_digit_count_outside_six_to_eight);
	tcase_add_loop_test(tc, test_base32_encodes_the_rfc4648_vectors, 0, NB32);
	tcase_add_loop_test(tc, test_base32_decodes_the_rfc4648_vectors, 0, NB32);
	tcase_add_test(tc, test_base32_decoding_ignores_case_spaces_hyphens_and_padding);
	tcase_add_test(tc, test_base32_decoding_refuses_bad_input);
	tcase_add_test(tc, test_the_otpauth_uri_names_issuer_account_and_parameters);
	tcase_add_test(tc, test_a_sealed_secret_opens_to_the_same_bytes);
	tcase_add_test(tc, test_two_seals_of_one_secret_differ_by_their_nonce);
	tcase_add_test(tc, test_a_tampered_or_misbound_seal_is_refused);
	tcase_add_test(tc, test_sealing_into_too_small_a_buffer_is_refused);
	tcase_add_loop_test(tc, test_qr_codes_match_an_independent_encoder_module_for_module, 0,
	    NQR);
	tcase_add_test(tc, test_qr_codes_hold_up_to_213_bytes_and_refuse_more);
	tcase_add_test(tc, test_the_qr_svg_is_one_path_with_a_quiet_zone);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return unit_run(suite());
}
