/* test_password: Argon2id round trips, rehash detection, legacy SHA-256 and foreign PHC strings. */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <check.h>
#include <sodium.h>

#include "conf.h"
#include "password.h"
#include "unit.h"

/* Cheap cost for most tests (8 MiB, one pass); the default cost is checked once. */
static struct conf
cost(unsigned mem_kib, unsigned t, unsigned p)
{
	struct conf c;

	memset(&c, 0, sizeof(c));
	c.argon2_memory_kib = mem_kib;
	c.argon2_iterations = t;
	c.argon2_parallelism = p;
	return c;
}

#define CHEAP() cost(8192, 1, 1)
#define PW      "correct horse battery staple"

START_TEST(test_a_hash_verifies_with_its_password)
{
	struct conf c = CHEAP();
	char        h[PASSWORD_HASH_MAX];
	int         rehash = -1;

	ck_assert_int_eq(password_hash(&c, PW, strlen(PW), h), UM_OK);
	ck_assert_int_eq(password_verify(&c, h, PW, strlen(PW), &rehash), UM_OK);
	ck_assert_int_eq(rehash, 0);
}
END_TEST

START_TEST(test_a_hash_is_an_argon2id_phc_string_of_the_configured_cost)
{
	struct conf c = CHEAP();
	char        h[PASSWORD_HASH_MAX];
	const char *want = "$argon2id$v=19$m=8192,t=1,p=1$";

	ck_assert_int_eq(password_hash(&c, PW, strlen(PW), h), UM_OK);
	ck_assert_msg(strncmp(h, want, strlen(want)) == 0, "got %s", h);
}
END_TEST

START_TEST(test_two_hashes_of_one_password_differ_by_their_salt)
{
	struct conf c = CHEAP();
	char        a[PASSWORD_HASH_MAX], b[PASSWORD_HASH_MAX];

	ck_assert_int_eq(password_hash(&c, PW, strlen(PW), a), UM_OK);
	ck_assert_int_eq(password_hash(&c, PW, strlen(PW), b), UM_OK);
	ck_assert_str_ne(a, b);
}
END_TEST

START_TEST(test_a_wrong_password_is_refused)
{
	struct conf c = CHEAP();
	char        h[PASSWORD_HASH_MAX];
	int         rehash = -1;

	ck_assert_int_eq(password_hash(&c, PW, strlen(PW), h), UM_OK);
	ck_assert_int_eq(password_verify(&c, h, "correct horse battery stapl", 27, &rehash),
	    UM_ECREDS);
	ck_assert_int_eq(password_verify(&c, h, PW "e", strlen(PW) + 1, NULL), UM_ECREDS);
	ck_assert_int_eq(password_verify(&c, h, "", 0, NULL), UM_ECREDS);
	ck_assert_int_eq(rehash, 0);
}
END_TEST

START_TEST(test_the_length_counts_not_a_nul_byte)
{
	struct conf c = CHEAP();
	char        h[PASSWORD_HASH_MAX];

	ck_assert_int_eq(password_hash(&c, "ab\0cd", 5, h), UM_OK);
	ck_assert_int_eq(password_verify(&c, h, "ab\0cd", 5, NULL), UM_OK);
	ck_assert_int_eq(password_verify(&c, h, "ab", 2, NULL), UM_ECREDS);
}
END_TEST

START_TEST(test_a_changed_cost_asks_for_a_rehash)
{
	struct conf c = CHEAP(), more_mem = cost(16384, 1, 1), more_t = cost(8192, 2, 1);
	char        h[PASSWORD_HASH_MAX];
	int         rehash = -1;

	ck_assert_int_eq(password_hash(&c, PW, strlen(PW), h), UM_OK);
	ck_assert_int_eq(password_verify(&more_mem, h, PW, strlen(PW), &rehash), UM_OK);
	ck_assert_int_eq(rehash, 1);
	rehash = -1;
	ck_assert_int_eq(password_verify(&more_t, h, PW, strlen(PW), &rehash), UM_OK);
	ck_assert_int_eq(rehash, 1);
}
END_TEST

START_TEST(test_the_legacy_sha256_of_password_verifies_and_asks_for_a_rehash)
{
	struct conf c = CHEAP();
	const char *legacy = "5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8";
	int         rehash = -1;

	ck_assert_int_eq(password_verify(&c, legacy, "password", 8, &rehash), UM_OK);
	ck_assert_int_eq(rehash, 1);
	ck_assert_int_eq(password_verify(&c, legacy, "Password", 8, NULL), UM_ECREDS);
}
END_TEST

/* The legacy vector of VECTORS.md: SHA-256 hex of "password". */
#define LEGACY_PASSWORD "5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8"

START_TEST(test_a_wrapped_legacy_hash_takes_the_old_password_and_asks_for_a_rehash)
{
	struct conf c = CHEAP();
	char        w[PASSWORD_HASH_MAX];
	const char *want = "$sha256$argon2id$v=19$m=8192,t=1,p=1$";
	int         rehash = -1;

	ck_assert_int_eq(password_wrap_legacy(&c, LEGACY_PASSWORD, w), UM_OK);
	ck_assert_msg(strncmp(w, want, strlen(want)) == 0, "got %s", w);
	ck_assert_int_eq(password_verify(&c, w, "password", 8, &rehash), UM_OK);
	ck_assert_int_eq(rehash, 1);
	rehash = -1;
	ck_assert_int_eq(password_verify(&c, w, "Password", 8, &rehash), UM_ECREDS);
	ck_assert_int_eq(password_verify(&c, w, LEGACY_PASSWORD, 64, NULL), UM_ECREDS);
	ck_assert_int_eq(password_verify(&c, w, "", 0, NULL), UM_ECREDS);
	ck_assert_int_eq(rehash, 0);
	/* The bare hash it came from still works as before. */
	ck_assert_int_eq(password_verify(&c, LEGACY_PASSWORD, "password", 8, &rehash), UM_OK);
	ck_assert_int_eq(rehash, 1);
}
END_TEST

START_TEST(test_the_wrapped_form_is_argon2id_over_the_hex_digest_with_a_fresh_salt)
{
	struct conf c = CHEAP();
	char        a[PASSWORD_HASH_MAX], b[PASSWORD_HASH_MAX];
	int         rehash = -1;

	ck_assert_int_eq(password_wrap_legacy(&c, LEGACY_PASSWORD, a), UM_OK);
	ck_assert_int_eq(password_wrap_legacy(&c, LEGACY_PASSWORD, b), UM_OK);
	ck_assert_str_ne(a, b);
	/* What follows "$sha256" is a plain PHC string whose password is the 64 hex digits. */
	ck_assert_int_eq(password_verify(&c, a + 7, LEGACY_PASSWORD, 64, &rehash), UM_OK);
	ck_assert_int_eq(rehash, 0);
}
END_TEST

/* Only a bare legacy hash is wrapped: anything else is refused and leaves out empty. */
static const char *const not_legacy[] = {
	"",
	"5E884898DA28047151D0E56F8DC6292773603D0D6AABBDD62A11EF721D1542D8",
	"5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d",
	"5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8\n",
	"$argon2id$v=19$m=8192,t=1,p=1$dXNlcm1nci10ZXN0LXNhbHQ$"
	"Wdu//sxrC5rVbufqYX6lgxJt42rPXF3drsrOTRenWGU",
	"!5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8",
};

START_TEST(test_only_a_bare_legacy_hash_is_wrapped)
{
	struct conf c = CHEAP();
	char        w[PASSWORD_HASH_MAX] = "x";

	ck_assert_int_eq(password_wrap_legacy(&c, not_legacy[_i], w), UM_EINVAL);
	ck_assert_str_eq(w, "");
}
END_TEST

/* "$sha256" before anything but a well-formed Argon2id string of the digest. */
enum malformed {
	MAL_EMPTY_INNER,  /* "$sha256" alone */
	MAL_DOLLAR_ONLY,  /* "$sha256$" */
	MAL_TRUNCATED,    /* a real wrapped hash missing the end of its hash */
	MAL_NO_HASH,      /* ... cut after the salt */
	MAL_ARGON2I,      /* "$sha256" + a valid argon2i string of the right digest */
	MAL_BARE_INSIDE,  /* "$sha256" + the bare digest */
	MAL_UPPER_PREFIX, /* "$SHA256" + a valid inner string */
	MAL_GLUED,        /* "$sha256x" + a valid inner string */
	MAL__MAX
};

/* Room for a wrapped hash with a prefix glued on. */
#define MAL_LEN (PASSWORD_HASH_MAX + 16)

/* Builds malformed variant m from a real wrapped hash of LEGACY_PASSWORD. */
static void
malformed(const struct conf *c, enum malformed m, char out[MAL_LEN])
{
	char   w[PASSWORD_HASH_MAX];
	size_t n;

	ck_assert_int_eq(password_wrap_legacy(c, LEGACY_PASSWORD, w), UM_OK);
	n = strlen(w);
	switch (m) {
	case MAL_EMPTY_INNER: (void)snprintf(out, MAL_LEN, "$sha256"); break;
	case MAL_DOLLAR_ONLY: (void)snprintf(out, MAL_LEN, "$sha256$"); break;
	case MAL_TRUNCATED: (void)snprintf(out, MAL_LEN, "%.*s", (int)n - 20, w); break;
	case MAL_NO_HASH:
		(void)snprintf(out, MAL_LEN, "%.*s", (int)(strrchr(w, '$') - w), w);
		break;
	case MAL_ARGON2I:
		/* libsodium's argon2i wants at least 3 passes. */
		ck_assert_int_eq(crypto_pwhash_str_alg(w, LEGACY_PASSWORD, 64, 3, 8192 * 1024,
		                     crypto_pwhash_ALG_ARGON2I13),
		    0);
		(void)snprintf(out, MAL_LEN, "$sha256%s", w);
		break;
	case MAL_BARE_INSIDE:
		(void)snprintf(out, MAL_LEN, "$sha256$%s", LEGACY_PASSWORD);
		break;
	case MAL_UPPER_PREFIX: (void)snprintf(out, MAL_LEN, "$SHA256%s", w + 7); break;
	case MAL_GLUED:
	default: (void)snprintf(out, MAL_LEN, "$sha256x%s", w + 7); break;
	}
}

START_TEST(test_a_malformed_wrapped_hash_never_matches)
{
	struct conf c = CHEAP();
	char        h[MAL_LEN];
	int         rehash = -1;

	malformed(&c, (enum malformed)_i, h);
	ck_assert_int_eq(password_verify(&c, h, "password", 8, &rehash), UM_ECREDS);
	ck_assert_int_eq(password_verify(&c, h, LEGACY_PASSWORD, 64, NULL), UM_ECREDS);
	ck_assert_int_eq(rehash, 0);
}
END_TEST

/*
 * PHC strings made by another implementation: argon2-cffi 21.1 (Debian python3-argon2,
 * libargon2 reference code) with
 *   argon2.low_level.hash_secret(b"correct horse battery staple", b"usermgr-test-salt",
 *       time_cost=T, memory_cost=8192, parallelism=P, hash_len=32, type=Type.ID / Type.I)
 */
static const struct {
	const char *phc;
	int         rehash; /* at the cheap cost m=8192 t=1 p=1 */
} foreign[] = {
	{ "$argon2id$v=19$m=8192,t=1,p=1$dXNlcm1nci10ZXN0LXNhbHQ$"
	  "Wdu//sxrC5rVbufqYX6lgxJt42rPXF3drsrOTRenWGU",
	    0 },
	{ "$argon2id$v=19$m=8192,t=2,p=2$dXNlcm1nci10ZXN0LXNhbHQ$"
	  "upg/jL6GhR/mnqiMu5uQMX4miPLkv4Kq48aJUESLGp0",
	    1 },
	{ "$argon2i$v=19$m=8192,t=2,p=1$dXNlcm1nci10ZXN0LXNhbHQ$"
	  "hQuGEGSI7ZwRvWDYiDnyfhmZTO8FAjxGGga8R3QoRvg",
	    1 },
};

START_TEST(test_a_phc_string_from_another_implementation_verifies)
{
	struct conf c = CHEAP();
	int         rehash = -1;

	ck_assert_int_eq(password_verify(&c, foreign[_i].phc, PW, strlen(PW), &rehash), UM_OK);
	ck_assert_int_eq(rehash, foreign[_i].rehash);
	ck_assert_int_eq(password_verify(&c, foreign[_i].phc, "password", 8, NULL), UM_ECREDS);
}
END_TEST

/* Stored values that are no hash at all: none may ever match. */
static const char *const unusable[] = {
	"",
	"!",
	"!$argon2id$v=19$m=8192,t=1,p=1$dXNlcm1nci10ZXN0LXNhbHQ$"
	"Wdu//sxrC5rVbufqYX6lgxJt42rPXF3drsrOTRenWGU",
	"5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d",  /* 63 hex */
	"5E884898DA28047151D0E56F8DC6292773603D0D6AABBDD62A11EF721D1542D8", /* upper case */
	"5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8 ",
	"$argon2id$garbage",
	"password",
};

START_TEST(test_an_unusable_stored_hash_never_matches)
{
	struct conf c = CHEAP();
	int         rehash = -1;

	ck_assert_int_eq(password_verify(&c, unusable[_i], "password", 8, &rehash), UM_ECREDS);
	ck_assert_int_eq(password_verify(&c, unusable[_i], unusable[_i], strlen(unusable[_i]),
	                     NULL),
	    UM_ECREDS);
	ck_assert_int_eq(rehash, 0);
}
END_TEST

START_TEST(test_a_parallelism_other_than_one_is_refused)
{
	struct conf c = cost(8192, 1, 2);
	char        h[PASSWORD_HASH_MAX];

	ck_assert_int_eq(password_hash(&c, PW, strlen(PW), h), UM_EINVAL);
	ck_assert_str_eq(h, "");
}
END_TEST

START_TEST(test_a_cost_below_the_argon2_minimum_is_refused)
{
	struct conf c = cost(4, 1, 1);
	char        h[PASSWORD_HASH_MAX];

	ck_assert_int_eq(password_hash(&c, PW, strlen(PW), h), UM_EINVAL);
	c = cost(8192, 0, 1);
	ck_assert_int_eq(password_hash(&c, PW, strlen(PW), h), UM_EINVAL);
}
END_TEST

START_TEST(test_the_default_cost_makes_a_hash_that_verifies)
{
	struct conf c = cost(19456, 2, 1);
	char        h[PASSWORD_HASH_MAX];
	const char *want = "$argon2id$v=19$m=19456,t=2,p=1$";
	int         rehash = -1;

	ck_assert_int_eq(password_hash(&c, PW, strlen(PW), h), UM_OK);
	ck_assert_msg(strncmp(h, want, strlen(want)) == 0, "got %s", h);
	ck_assert_int_eq(password_verify(&c, h, PW, strlen(PW), &rehash), UM_OK);
	ck_assert_int_eq(rehash, 0);
}
END_TEST

static double
now_ms(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

#define TIMING_ROUNDS 7

static int
dblcmp(const void *x, const void *y)
{
	double a = *(const double *)x, b = *(const double *)y;

	return a < b ? -1 : a > b;
}

static double
median(double *v, size_t n)
{
	qsort(v, n, sizeof(*v), dblcmp);
	return v[n / 2];
}

/*
 * An unknown user, a legacy user and a malformed wrapped hash must cost what a real
 * verification costs, or timing tells which accounts exist or what they hold (OWASP
 * Authentication Cheat Sheet).  make -j2 and the sanitizer build make single samples noisy:
 * the kinds take turns for TIMING_ROUNDS rounds, so load hits them alike, and their medians
 * are compared with a generous bound (a skipped verification costs well under 1 % of a real
 * one, the bound allows 30 %).
 */
START_TEST(test_unknown_users_and_legacy_or_broken_hashes_cost_a_full_verification)
{
	struct conf c = cost(19456, 2, 1);
	char        h[PASSWORD_HASH_MAX];
	const char *legacy = LEGACY_PASSWORD, *bad_wrap = "$sha256$argon2id$v=19$m=19456";
	double      t0, real[TIMING_ROUNDS], dummy[TIMING_ROUNDS], old[TIMING_ROUNDS];
	double      bad[TIMING_ROUNDS], mreal, mdummy, mold, mbad;
	int         i;

	ck_assert_int_eq(password_hash(&c, PW, strlen(PW), h), UM_OK);
	password_dummy_verify(&c, "x", 1); /* builds the dummy hash */
	for (i = 0; i < TIMING_ROUNDS; i++) {
		t0 = now_ms();
		(void)password_verify(&c, h, "wrong", 5, NULL);
		real[i] = now_ms() - t0;
		t0 = now_ms();
		password_dummy_verify(&c, "wrong", 5);
		dummy[i] = now_ms() - t0;
		t0 = now_ms();
		(void)password_verify(&c, legacy, "wrong", 5, NULL);
		old[i] = now_ms() - t0;
		t0 = now_ms();
		(void)password_verify(&c, bad_wrap, "wrong", 5, NULL);
		bad[i] = now_ms() - t0;
	}
	mreal = median(real, TIMING_ROUNDS);
	mdummy = median(dummy, TIMING_ROUNDS);
	mold = median(old, TIMING_ROUNDS);
	mbad = median(bad, TIMING_ROUNDS);
	ck_assert_msg(mdummy > mreal * 0.3, "median dummy %.2f ms, real %.2f ms", mdummy,
	    mreal);
	ck_assert_msg(mold > mreal * 0.3, "median legacy %.2f ms, real %.2f ms", mold, mreal);
	ck_assert_msg(mbad > mreal * 0.3, "median malformed wrapped %.2f ms, real %.2f ms",
	    mbad, mreal);
}
END_TEST

static Suite *
password_suite(void)
{
	Suite *s = suite_create("password");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_a_hash_verifies_with_its_password);
	tcase_add_test(tc, test_a_hash_is_an_argon2id_phc_string_of_the_configured_cost);
	tcase_add_test(tc, test_two_hashes_of_one_password_differ_by_their_salt);
	tcase_add_test(tc, test_a_wrong_password_is_refused);
	tcase_add_test(tc, test_the_length_counts_not_a_nul_byte);
	tcase_add_test(tc, test_a_changed_cost_asks_for_a_rehash);
	tcase_add_test(tc, test_the_legacy_sha256_of_password_verifies_and_asks_for_a_rehash);
	tcase_add_test(tc,
	    test_a_wrapped_legacy_hash_takes_the_old_password_and_asks_for_a_rehash);
	tcase_add_test(tc,
	    test_the_wrapped_form_is_argon2id_over_the_hex_digest_with_a_fresh_salt);
	tcase_add_loop_test(tc, test_only_a_bare_legacy_hash_is_wrapped, 0,
	    (int)(sizeof(not_legacy) / sizeof(not_legacy[0])));
	tcase_add_loop_test(tc, test_a_malformed_wrapped_hash_never_matches, 0, MAL__MAX);
	tcase_add_loop_test(tc, test_a_phc_string_from_another_implementation_verifies, 0,
	    (int)(sizeof(foreign) / sizeof(foreign[0])));
	tcase_add_loop_test(tc, test_an_unusable_stored_hash_never_matches, 0,
	    (int)(sizeof(unusable) / sizeof(unusable[0])));
	tcase_add_test(tc, test_a_parallelism_other_than_one_is_refused);
	tcase_add_test(tc, test_a_cost_below_the_argon2_minimum_is_refused);
	tcase_add_test(tc, test_the_default_cost_makes_a_hash_that_verifies);
	tcase_add_test(tc,
	    test_unknown_users_and_legacy_or_broken_hashes_cost_a_full_verification);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return unit_run(password_suite());
}
