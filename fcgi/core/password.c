/* password: Argon2id via libsodium (OWASP Password Storage); imported users' legacy SHA-256, bare or wrapped. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "conf.h"
#include "password.h"

#define LEGACY_HEX_LEN  64 /* SHA-256 as lowercase hex: the seed apps' unsalted scheme */
#define ARGON2ID_PREFIX "$argon2id$"
#define DUMMY_PASSWORD  "usermgr dummy password"
/* Before an Argon2id string of a legacy hex digest (password_wrap_legacy). */
#define WRAPPED_PREFIX "$sha256"

/* The dummy hash of this process and the cost it was made with. */
static char               dummy_hash[PASSWORD_HASH_MAX];
static unsigned long long dummy_ops;
static size_t             dummy_mem;

/*
 * The configured cost in libsodium's units: opslimit is Argon2's t, memlimit is bytes.
 * libsodium always runs one lane (p = 1), so any other parallelism is refused rather
 * than silently ignored.
 */
static int
cost_of(const struct conf *c, unsigned long long *ops, size_t *mem)
{
	if (sodium_init() < 0)
		return -1;
	if (c->argon2_parallelism != 1)
		return -1;
	*ops = c->argon2_iterations;
	*mem = (size_t)c->argon2_memory_kib * 1024;
	if (*ops < crypto_pwhash_argon2id_OPSLIMIT_MIN ||
	    *ops > crypto_pwhash_argon2id_OPSLIMIT_MAX ||
	    *mem < crypto_pwhash_argon2id_MEMLIMIT_MIN ||
	    *mem > crypto_pwhash_argon2id_MEMLIMIT_MAX)
		return -1;
	return 0;
}

enum um_err
password_hash(const struct conf *c, const char *pw, size_t len, char out[PASSWORD_HASH_MAX])
{
	unsigned long long ops;
	size_t             mem;
	enum um_err        rc = UM_EINVAL;

	out[0] = '\0';
	if (cost_of(c, &ops, &mem) != 0)
		goto out;
	rc = UM_EINTERNAL;
	if (crypto_pwhash_str_alg(out, pw != NULL ? pw : "", len, ops, mem,
	        crypto_pwhash_ALG_ARGON2ID13) != 0)
		goto out;
	rc = UM_OK;
out:
	return rc;
}

static int
is_legacy(const char *h)
{
	size_t i;

	for (i = 0; i < LEGACY_HEX_LEN; i++)
		if (!((h[i] >= '0' && h[i] <= '9') || (h[i] >= 'a' && h[i] <= 'f')))
			return 0;
	return h[LEGACY_HEX_LEN] == '\0';
}

/* Recreates the dummy hash when the configured cost changed; -1 when it cannot be made. */
static int
dummy_ready(const struct conf *c)
{
	unsigned long long ops;
	size_t             mem;

	if (cost_of(c, &ops, &mem) != 0)
		return -1;
	if (dummy_hash[0] != '\0' && ops == dummy_ops && mem == dummy_mem)
		return 0;
	if (crypto_pwhash_str_alg(dummy_hash, DUMMY_PASSWORD, sizeof(DUMMY_PASSWORD) - 1, ops,
	        mem, crypto_pwhash_ALG_ARGON2ID13) != 0) {
		dummy_hash[0] = '\0';
		return -1;
	}
	dummy_ops = ops;
	dummy_mem = mem;
	return 0;
}

void
password_dummy_verify(const struct conf *c, const char *pw, size_t len)
{
	/* The result is meaningless; the time spent is the point. */
	if (dummy_ready(c) == 0 &&
	    crypto_pwhash_str_verify(dummy_hash, pw != NULL ? pw : "", len) == 0)
		return;
}

/* The seed apps' scheme: SHA-256 of pw[0..len) as lowercase hex, NUL-terminated. */
static void
legacy_hex(const char *pw, size_t len, char hex[LEGACY_HEX_LEN + 1])
{
	unsigned char md[crypto_hash_sha256_BYTES];

	(void)crypto_hash_sha256(md, (const unsigned char *)pw, len);
	(void)sodium_bin2hex(hex, LEGACY_HEX_LEN + 1, md, sizeof(md));
	sodium_memzero(md, sizeof(md));
}

/* Legacy unsalted SHA-256: compares hex digests in constant time. */
static int
legacy_matches(const char *stored, const char *pw, size_t len)
{
	char hex[LEGACY_HEX_LEN + 1];
	int  ok;

	legacy_hex(pw, len, hex);
	ok = sodium_memcmp(hex, stored, LEGACY_HEX_LEN) == 0;
	sodium_memzero(hex, sizeof(hex));
	return ok;
}

enum um_err
password_wrap_legacy(const struct conf *c, const char *legacy, char out[PASSWORD_HASH_MAX])
{
	char        inner[PASSWORD_HASH_MAX];
	enum um_err rc = UM_EINVAL;

	out[0] = '\0';
	if (legacy == NULL || !is_legacy(legacy))
		goto out;
	/* The hex digest is the password Argon2id sees: what the user types still leads to it. */
	if ((rc = password_hash(c, legacy, LEGACY_HEX_LEN, inner)) != UM_OK)
		goto out;
	rc = UM_EINTERNAL;
	if ((size_t)snprintf(out, PASSWORD_HASH_MAX, "%s%s", WRAPPED_PREFIX, inner) >=
	    PASSWORD_HASH_MAX) {
		out[0] = '\0';
		goto out;
	}
	rc = UM_OK;
out:
	return rc;
}

/*
 * A wrapped legacy hash: inner is the Argon2id string over the SHA-256 hex of the password.
 * Anything else after the prefix (argon2i, truncated, empty) never matches, and costs a dummy
 * verification like any unknown hash: libsodium would refuse it at once, which the time
 * would tell.  needs_rehash only parses here (-1: not a well-formed Argon2id string).
 */
static int
wrapped_matches(const struct conf *c, const char *inner, const char *pw, size_t len)
{
	char hex[LEGACY_HEX_LEN + 1];
	int  ok;

	if (strncmp(inner, ARGON2ID_PREFIX, sizeof(ARGON2ID_PREFIX) - 1) != 0 ||
	    crypto_pwhash_argon2id_str_needs_rehash(inner, crypto_pwhash_argon2id_OPSLIMIT_MIN,
	        crypto_pwhash_argon2id_MEMLIMIT_MIN) < 0) {
		password_dummy_verify(c, pw, len);
		return 0;
	}
	legacy_hex(pw, len, hex);
	ok = crypto_pwhash_str_verify(inner, hex, LEGACY_HEX_LEN) == 0;
	sodium_memzero(hex, sizeof(hex));
	return ok;
}

enum um_err
password_verify(const struct conf *c, const char *stored, const char *pw, size_t len,
    int *needs_rehash)
{
	unsigned long long ops;
	size_t             mem;
	int                rehash = 0;
	enum um_err        rc = UM_ECREDS;

	if (needs_rehash != NULL)
		*needs_rehash = 0;
	if (pw == NULL)
		pw = "";
	if (sodium_init() < 0) {
		rc = UM_EINTERNAL;
		goto out;
	}
	if (stored == NULL || strnlen(stored, PASSWORD_HASH_MAX) >= PASSWORD_HASH_MAX) {
		password_dummy_verify(c, pw, len);
		goto out;
	}
	if (is_legacy(stored)) {
		/* Spend the Argon2 time anyway: a fast answer would mark the account imported. */
		password_dummy_verify(c, pw, len);
		if (!legacy_matches(stored, pw, len))
			goto out;
		rehash = 1;
	} else if (strncmp(stored, WRAPPED_PREFIX, sizeof(WRAPPED_PREFIX) - 1) == 0) {
		/* The right password: store it as plain Argon2id, as for a bare legacy hash. */
		if (!wrapped_matches(c, stored + sizeof(WRAPPED_PREFIX) - 1, pw, len))
			goto out;
		rehash = 1;
	} else if (strncmp(stored, "$argon2", 7) == 0) {
		if (crypto_pwhash_str_verify(stored, pw, len) != 0)
			goto out;
		/* argon2i/argon2d strings, other costs, p != 1 from another implementation. */
		if (strncmp(stored, ARGON2ID_PREFIX, sizeof(ARGON2ID_PREFIX) - 1) != 0 ||
		    strstr(stored, ",p=1$") == NULL || cost_of(c, &ops, &mem) != 0 ||
		    crypto_pwhash_str_needs_rehash(stored, ops, mem) != 0)
			rehash = 1;
	} else {
		/* '!' (password disabled), '' or anything unknown never matches. */
		password_dummy_verify(c, pw, len);
		goto out;
	}
	if (needs_rehash != NULL)
		*needs_rehash = rehash;
	rc = UM_OK;
out:
	return rc;
}
