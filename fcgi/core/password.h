/* password: Argon2id password hashing (libsodium, PHC strings) and legacy SHA-256 verification. */
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
 * implementation), or a legacy unsalted SHA-256 as 64 lowercase hex digits (imported users).
 * UM_OK on a match, UM_ECREDS otherwise (unknown formats never match).  Comparisons are
 * constant-time, and a legacy or malformed hash costs one Argon2 verification too, so the
 * time says nothing about the kind of hash.  On a match *needs_rehash (may be NULL) is set
 * when the hash is legacy, not Argon2id, or of another cost than the configured one: the
 * caller then stores password_hash() of the same password.
 */
enum um_err password_verify(const struct conf *, const char *, const char *, size_t, int *);

/*
 * Spends what a verification costs, for a login name that matches no account, so the
 * answer time does not tell whether the account exists.  The first call hashes a dummy
 * password once per process (and again if the cost changes).
 */
void password_dummy_verify(const struct conf *, const char *, size_t);

#endif
