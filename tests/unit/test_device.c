/* test_device: device cookies verify only for their account, intact, unexpired, under our keys, and stay bounded; the login gate they open. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <check.h>

#include "arena.h"
#include "b64.h"
#include "conf.h"
#include "device.h"
#include "keys.h"
#include "login.h"
#include "unit.h"

#define KEY64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define OLD64 "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210"
#define NOW   1800000000LL
#define LATER (NOW + DEVICE_LIFETIME)

/* HKDF-SHA256(KEY64, info "usermgr device"), computed with Python's hmac and hashlib. */
static const unsigned char device_key[32] = { 0xaf, 0xa3, 0x36, 0xdd, 0x19, 0xcf, 0x3a, 0x33,
	0x03, 0xa2, 0x37, 0x59, 0x47, 0xa2, 0x74, 0xf2, 0xa3, 0xc2, 0x79, 0x8f, 0x81, 0xac,
	0x4e, 0x20, 0x5c, 0x4c, 0x02, 0xab, 0x32, 0x81, 0x4b, 0x76 };

/* A ring of master (and, when old is not NULL, one retired key). */
static void
ring(struct keyring *r, const char *master, const char *old)
{
	struct conf c;

	memset(&c, 0, sizeof(c));
	c.secret_key = (char *)master;
	if (old != NULL) {
		c.old_keys[0] = (char *)old;
		c.nold_keys = 1;
	}
	ck_assert_int_eq(keys_init(r, &c), UM_OK);
}

static int
verify(const struct keyring *r, const char *cookie, long long uid)
{
	unsigned char id[DEVICE_ID_LEN];

	return device_cookie_verify(r, cookie, uid, NOW, id);
}

START_TEST(test_a_signed_entry_verifies_for_its_account_under_the_device_key)
{
	struct keyring r;
	char           e[DEVICE_ENTRY_MAX + 1], want[B64URL_LEN(32) + 1];
	unsigned char  mac[32], id1[DEVICE_ID_LEN], id2[DEVICE_ID_LEN];
	unsigned int   n = 0;
	const char    *last;
	size_t         len;

	ring(&r, KEY64, NULL);
	ck_assert_mem_eq(r.set[0].k[KEY_DEVICE], device_key, 32);
	len = device_entry_sign(&r, 42, LATER, e);
	ck_assert_uint_eq(len, strlen(e));
	ck_assert_uint_le(len, DEVICE_ENTRY_MAX);
	ck_assert_msg(strncmp(e, "42.", 3) == 0, "entry %s does not start with the user id", e);
	/* The MAC is HMAC-SHA256 of everything before it, recomputed with OpenSSL's one-shot. */
	last = strrchr(e, '.');
	ck_assert_ptr_nonnull(HMAC(EVP_sha256(), device_key, 32, (const unsigned char *)e,
	    (size_t)(last - e), mac, &n));
	(void)b64url_encode(want, mac, sizeof(mac));
	ck_assert_str_eq(last + 1, want);
	ck_assert_int_eq(device_cookie_verify(&r, e, 42, NOW, id1), 1);
	/* The id is the same for the same entry and differs for another nonce. */
	ck_assert_int_eq(device_cookie_verify(&r, e, 42, NOW + 5, id2), 1);
	ck_assert_mem_eq(id1, id2, DEVICE_ID_LEN);
	(void)device_entry_sign(&r, 42, LATER, e);
	ck_assert_int_eq(device_cookie_verify(&r, e, 42, NOW, id2), 1);
	ck_assert_msg(memcmp(id1, id2, DEVICE_ID_LEN) != 0, "two entries share an id");
	keys_wipe(&r);
}
END_TEST

START_TEST(test_an_entry_is_not_valid_for_another_account)
{
	struct keyring r;
	char           e[DEVICE_ENTRY_MAX + 1];

	ring(&r, KEY64, NULL);
	(void)device_entry_sign(&r, 42, LATER, e);
	ck_assert_int_eq(verify(&r, e, 43), 0);
	ck_assert_int_eq(verify(&r, e, 4), 0);
	ck_assert_int_eq(verify(&r, e, 420), 0);
	/* Rewriting the id in the entry breaks the MAC. */
	e[1] = '3';
	ck_assert_int_eq(verify(&r, e, 43), 0);
	keys_wipe(&r);
}
END_TEST

START_TEST(test_a_changed_character_anywhere_is_refused)
{
	struct keyring r;
	char           e[DEVICE_ENTRY_MAX + 1], t[DEVICE_ENTRY_MAX + 1];
	size_t         len, i;

	ring(&r, KEY64, NULL);
	len = device_entry_sign(&r, 42, LATER, e);
	/* Every position: id, expiry, nonce, MAC and the dots between them. */
	for (i = 0; i < len; i++) {
		memcpy(t, e, len + 1);
		t[i] = t[i] == 'A' ? 'B' : 'A';
		ck_assert_msg(verify(&r, t, 42) == 0, "changed at %zu: %s", i, t);
	}
	keys_wipe(&r);
}
END_TEST

START_TEST(test_an_expired_entry_is_refused)
{
	struct keyring r;
	char           e[DEVICE_ENTRY_MAX + 1];

	ring(&r, KEY64, NULL);
	(void)device_entry_sign(&r, 42, NOW, e);
	ck_assert_int_eq(verify(&r, e, 42), 0);
	(void)device_entry_sign(&r, 42, NOW + 1, e);
	ck_assert_int_eq(verify(&r, e, 42), 1);
	keys_wipe(&r);
}
END_TEST

START_TEST(test_every_truncation_of_an_entry_is_refused)
{
	struct keyring r;
	char           e[DEVICE_ENTRY_MAX + 1], t[DEVICE_ENTRY_MAX + 1];
	size_t         len, n;

	ring(&r, KEY64, NULL);
	len = device_entry_sign(&r, 42, LATER, e);
	for (n = 0; n < len; n++) {
		memcpy(t, e, n);
		t[n] = '\0';
		ck_assert_msg(verify(&r, t, 42) == 0, "a prefix of %zu characters passed", n);
	}
	ck_assert_int_eq(verify(&r, NULL, 42), 0);
	keys_wipe(&r);
}
END_TEST

START_TEST(test_oversize_cookies_and_entries_are_refused)
{
	struct keyring r;
	char           e[DEVICE_ENTRY_MAX + 1], big[DEVICE_COOKIE_MAX + 64];
	size_t         len;

	ring(&r, KEY64, NULL);
	len = device_entry_sign(&r, 42, LATER, e);
	/* A valid first entry does not save a cookie over the bound. */
	memcpy(big, e, len);
	big[len] = '~';
	memset(big + len + 1, 'x', sizeof(big) - len - 2);
	big[sizeof(big) - 1] = '\0';
	ck_assert_int_eq(verify(&r, big, 42), 0);
	big[DEVICE_COOKIE_MAX] = '\0';
	ck_assert_int_eq(verify(&r, big, 42), 1);
	/* Extra characters in a field, or a fifth field, make the entry malformed. */
	snprintf(big, sizeof(big), "%sA", e);
	ck_assert_int_eq(verify(&r, big, 42), 0);
	snprintf(big, sizeof(big), "%s.A", e);
	ck_assert_int_eq(verify(&r, big, 42), 0);
	snprintf(big, sizeof(big), "0%s", e);
	ck_assert_int_eq(verify(&r, big, 42), 0);
	keys_wipe(&r);
}
END_TEST

START_TEST(test_entries_past_the_bound_are_not_read)
{
	struct keyring r;
	char           e[DEVICE_ENTRY_MAX + 1], list[DEVICE_COOKIE_MAX + 1];
	size_t         i, len = 0, n;

	ring(&r, KEY64, NULL);
	for (i = 0; i <= DEVICE_ENTRIES; i++) {
		/* DEVICE_ENTRIES entries of other accounts, then one of 42 past the bound. */
		n = device_entry_sign(&r, i < DEVICE_ENTRIES ? 100 + (long long)i : 42, LATER,
		    e);
		ck_assert_uint_le(len + n + 1, DEVICE_COOKIE_MAX);
		memcpy(list + len, e, n);
		len += n;
		list[len++] = '~';
	}
	list[len - 1] = '\0';
	ck_assert_int_eq(verify(&r, list, 100), 1);
	ck_assert_int_eq(verify(&r, list, 100 + DEVICE_ENTRIES - 1), 1);
	ck_assert_int_eq(verify(&r, list, 42), 0);
	keys_wipe(&r);
}
END_TEST

START_TEST(test_bad_base64url_is_refused)
{
	static const char *const bad[] = { "+", "/", "=", " ", "%", "\xe8" };
	struct keyring           r;
	char                     e[DEVICE_ENTRY_MAX + 1], t[DEVICE_ENTRY_MAX + 1];
	char                    *nonce, *mac;
	size_t                   i;

	ring(&r, KEY64, NULL);
	(void)device_entry_sign(&r, 42, LATER, e);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memcpy(t, e, sizeof(e));
		nonce = strchr(strchr(t, '.') + 1, '.') + 1;
		nonce[3] = bad[i][0];
		ck_assert_msg(verify(&r, t, 42) == 0, "nonce with %s passed", bad[i]);
		memcpy(t, e, sizeof(e));
		mac = strrchr(t, '.') + 1;
		mac[5] = bad[i][0];
		ck_assert_msg(verify(&r, t, 42) == 0, "MAC with %s passed", bad[i]);
	}
	/* Non-zero padding bits in the last character: a second spelling of the same bytes. */
	memcpy(t, e, sizeof(e));
	mac = strrchr(t, '.') + 1;
	mac[strlen(mac) - 1] = mac[strlen(mac) - 1] == 'A' ? 'B' : 'A';
	ck_assert_int_eq(verify(&r, t, 42), 0);
	keys_wipe(&r);
}
END_TEST

START_TEST(test_entries_of_a_retired_key_verify_and_of_a_foreign_key_do_not)
{
	struct keyring old, both, other;
	char           e[DEVICE_ENTRY_MAX + 1];

	ring(&old, OLD64, NULL);
	ring(&both, KEY64, OLD64);
	ring(&other, KEY64, NULL);
	(void)device_entry_sign(&old, 42, LATER, e);
	ck_assert_int_eq(verify(&both, e, 42), 1);
	ck_assert_int_eq(verify(&other, e, 42), 0);
	keys_wipe(&old);
	keys_wipe(&both);
	keys_wipe(&other);
}
END_TEST

START_TEST(test_renewing_keeps_other_accounts_replaces_its_own_and_stays_bounded)
{
	struct keyring r;
	struct arena  *a = arena_new();
	char           e[DEVICE_ENTRY_MAX + 1], expired[DEVICE_ENTRY_MAX + 1], *c, *first;
	unsigned char  id_old[DEVICE_ID_LEN], id_new[DEVICE_ID_LEN];
	long long      uid;
	size_t         n;

	ring(&r, KEY64, NULL);
	ck_assert_ptr_nonnull(c = device_cookie_renew(a, &r, NULL, 42, NOW));
	ck_assert_int_eq(device_cookie_verify(&r, c, 42, NOW, id_old), 1);
	ck_assert_ptr_null(strchr(c, '~'));
	/* A second login of the same account: one entry, a new nonce. */
	c = device_cookie_renew(a, &r, c, 42, NOW);
	ck_assert_ptr_null(strchr(c, '~'));
	ck_assert_int_eq(device_cookie_verify(&r, c, 42, NOW, id_new), 1);
	ck_assert_msg(memcmp(id_old, id_new, DEVICE_ID_LEN) != 0, "the nonce was not renewed");
	/* Other accounts are kept, newest first; junk and expired entries are dropped. */
	(void)device_entry_sign(&r, 7, NOW, expired);
	c = device_cookie_renew(a, &r, arena_printf(a, "%s~junk~%s", c, expired), 43, NOW);
	ck_assert_int_eq(verify(&r, c, 43), 1);
	ck_assert_int_eq(verify(&r, c, 42), 1);
	ck_assert_int_eq(verify(&r, c, 7), 0);
	ck_assert_msg(strncmp(c, "43.", 3) == 0, "the newest entry is not first: %s", c);
	ck_assert_ptr_null(strstr(c, "junk"));
	/* More accounts than the bound: the oldest drops off, the size stays bounded. */
	for (uid = 100; uid < 100 + 2 * DEVICE_ENTRIES; uid++)
		c = device_cookie_renew(a, &r, c, uid, NOW);
	ck_assert_uint_le(strlen(c), DEVICE_COOKIE_MAX);
	for (n = 1, first = c; (first = strchr(first, '~')) != NULL; first++)
		n++;
	ck_assert_uint_eq(n, DEVICE_ENTRIES);
	ck_assert_int_eq(verify(&r, c, 100 + 2 * DEVICE_ENTRIES - 1), 1);
	ck_assert_int_eq(verify(&r, c, 100 + DEVICE_ENTRIES), 1);
	ck_assert_int_eq(verify(&r, c, 100 + DEVICE_ENTRIES - 1), 0);
	ck_assert_int_eq(verify(&r, c, 42), 0);
	/* An oversize old cookie is dropped whole: the new entry alone. */
	(void)device_entry_sign(&r, 5, LATER, e);
	c = device_cookie_renew(a, &r, arena_printf(a, "%s~%*s", e, DEVICE_COOKIE_MAX, "x"), 6,
	    NOW);
	ck_assert_int_eq(verify(&r, c, 6), 1);
	ck_assert_int_eq(verify(&r, c, 5), 0);
	arena_free(a);
	keys_wipe(&r);
}
END_TEST

/*
 * The contract (API.md) holds whenever the account is not locked, device or not; only a
 * locked account lets a trusted device with budget left through (docs/DECISIONS.md).
 */
START_TEST(test_the_gate_lets_a_trusted_device_through_a_locked_account_until_it_is_spent)
{
	static const struct {
		long long   account, device; /* seconds locked (spent, for the device) */
		int         trusted;
		enum um_err want;
		long long   retry_after;
	} cases[] = {
		/* Not locked: nobody is refused, whatever a device's own count says. */
		{ 0, 0, 0, UM_OK, 0 },
		{ 0, 0, 1, UM_OK, 0 },
		{ 0, 600, 1, UM_OK, 0 },
		/* Locked: an untrusted client waits for the account, a stale device count or not. */
		{ 700, 0, 0, UM_ERATE, 700 },
		{ 700, 100, 0, UM_ERATE, 700 },
		/* Locked: a trusted device with budget left goes on; a spent one waits for the
		 * sooner end, its own or the account's. */
		{ 700, 0, 1, UM_OK, 0 },
		{ 700, 300, 1, UM_ERATE, 300 },
		{ 700, 900, 1, UM_ERATE, 700 },
	};
	struct user   u;
	struct device d;
	long long     got;
	size_t        i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(&u, 0, sizeof(u));
		memset(&d, 0, sizeof(d));
		u.locked_for = cases[i].account;
		d.locked_for = cases[i].device;
		d.trusted = cases[i].trusted;
		got = -1;
		ck_assert_int_eq(login_gate(&u, &d, &got), cases[i].want);
		ck_assert_int_eq(got, cases[i].retry_after);
		/* No device at all (re-checks of a signed-in user): the account's lock alone. */
		got = -1;
		ck_assert_int_eq(login_gate(&u, NULL, &got),
		    u.locked_for > 0 ? UM_ERATE : UM_OK);
		ck_assert_int_eq(got, u.locked_for);
	}
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("device");
	TCase *tc = tcase_create("device");

	tcase_add_test(tc, test_a_signed_entry_verifies_for_its_account_under_the_device_key);
	tcase_add_test(tc, test_an_entry_is_not_valid_for_another_account);
	tcase_add_test(tc, test_a_changed_character_anywhere_is_refused);
	tcase_add_test(tc, test_an_expired_entry_is_refused);
	tcase_add_test(tc, test_every_truncation_of_an_entry_is_refused);
	tcase_add_test(tc, test_oversize_cookies_and_entries_are_refused);
	tcase_add_test(tc, test_entries_past_the_bound_are_not_read);
	tcase_add_test(tc, test_bad_base64url_is_refused);
	tcase_add_test(tc, test_entries_of_a_retired_key_verify_and_of_a_foreign_key_do_not);
	tcase_add_test(tc,
	    test_renewing_keeps_other_accounts_replaces_its_own_and_stays_bounded);
	tcase_add_test(tc,
	    test_the_gate_lets_a_trusted_device_through_a_locked_account_until_it_is_spent);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
