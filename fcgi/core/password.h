/* password: Argon2id password hashing (libsodium, PHC strings) and legacy SHA-256, bare or wrapped. */
#ifndef UM_PASSWORD_H
#define UM_PASSWORD_H

#include <stddef.h>

#include "error.h"

struct conf;

/* Room for any stored hash, NUL included (crypto_pwhash_STRBYTES). */
#define PASSWORD_HASH_MAX 128

/*
 * Hashes pw[0..len) with Argon2id v1.3 at the configured cost (argon2_iterations,
 * argon2_memory_kib) into out as a NUL-terminated PHC string
 * ($argon2id$v=19$m=…,t=…,p=1$salt$hash, OWASP Password Storage Cheat Sheet).  libsodium
 * computes one lane only, so argon2_parallelism must be 1 (UM_EINVAL otherwise).
 * UM_EINTERNAL when the memory cannot be had.
 */
enum um_err password_hash(const struct conf *, const char *, size_t, char[PASSWORD_HASH_MAX]);

/*
 * Checks pw[0..len) against a stored hash: an Argon2 PHC string (any parameters, any
 * implementation), a legacy unsalted SHA-256 as 64 lowercase hex digits (imported users), or
 * such a digest wrapped by password_wrap_legacy().  UM_OK on a match, UM_ECREDS otherwise
 * (unknown formats, and "$sha256" before anything but an Argon2id string, never match).
 * Comparisons are constant-time, and a legacy or malformed hash costs one Argon2
 * verification too, so the time says nothing about the kind of hash.  On a match
 * *needs_rehash (may be NULL) is set when the hash is legacy (bare or wrapped), not
 * Argon2id, or of another cost than the configured one: the caller then stores
 * password_hash() of the same password.
 */
enum um_err password_verify(const struct conf *, const char *, const char *, size_t, int *);

/*
 * Wraps a bare legacy hash without knowing the password, so that a copy of the database no
 * longer holds an unsalted SHA-256 (docs/DATABASE.md "Legacy import"): out becomes "$sha256"
 * followed by the Argon2id PHC string, at the configured cost, of the 64 hex characters
 * themselves, e.g. "$sha256$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>".  The old password
 * keeps working through password_verify(), which then asks for a re-hash.  UM_EINVAL when
 * legacy is not 64 lowercase hex digits or the cost is unusable, UM_EINTERNAL when the memory
 * cannot be had; out is "" on failure.
 */
enum um_err password_wrap_legacy(const struct conf *, const char *, char[PASSWORD_HASH_MAX]);

/*
 * Spends what a verification costs, for a login name that matches no account, so the
 * answer time does not tell whether the account exists.  The first call hashes a dummy
 * password once per process (and again if the cost changes).
 */
void password_dummy_verify(const struct conf *, const char *, size_t);

#endif
