/* user: the account store — lookups, creation, password and verification state, login counters. */
#ifndef UM_USER_H
#define UM_USER_H

#include <jansson.h>

#include "error.h"

struct arena;
struct conf;
struct db;
struct db_res;

/*
 * The columns of struct user, in order, for any SELECT FROM users (times formatted as
 * RFC 3339 UTC by MariaDB itself); user_from_row() reads them back.
 */
#define USER_COLUMNS \
	"id, username, email, password_hash, display_name, bio, status," \
	" email_verified_at IS NOT NULL, token_version," \
	" GREATEST(0, IFNULL(TIMESTAMPDIFF(SECOND, UTC_TIMESTAMP(6), locked_until), 0))," \
	" mfa_enabled_at IS NOT NULL," \
	" DATE_FORMAT(created_at, '%Y-%m-%dT%H:%i:%sZ')," \
	" DATE_FORMAT(updated_at, '%Y-%m-%dT%H:%i:%sZ')," \
	" DATE_FORMAT(last_login_at, '%Y-%m-%dT%H:%i:%sZ')"
#define USER_NCOLUMNS 14

struct user {
	long long   id;
	const char *username;
	const char *email;
	const char *password_hash;
	const char *display_name; /* NULL when unset */
	const char *bio;          /* NULL when unset */
	const char *status;       /* "active" or "disabled" */
	int         email_verified;
	long long   token_version;
	long long   locked_for; /* seconds until the lockout ends; 0 when not locked */
	int         mfa_enabled;
	const char *created_at; /* RFC 3339 UTC */
	const char *updated_at;
	const char *last_login_at; /* NULL before the first login */
};

/* Row i of a result whose first columns are USER_COLUMNS; strings stay the result's. */
void user_from_row(const struct db_res *, size_t, struct user *);

/* By primary key, or by username or address (case-insensitive).  UM_ENOTFOUND if absent. */
enum um_err user_by_id(struct db *, struct arena *, long long, struct user *);
enum um_err user_by_login(struct db *, struct arena *, const char *, struct user *);
enum um_err user_by_email(struct db *, struct arena *, const char *, struct user *);
/*
 * user_by_id inside the caller's transaction, the row locked (FOR UPDATE) until it ends:
 * what is read cannot change before the transaction's own write.
 */
enum um_err user_lock(struct db *, struct arena *, long long, struct user *);

/*
 * The user an access token names, and whether the token's refresh family `sid` is still
 * live (exists, belongs to the user, not revoked) — one query, so revocation is checked on
 * every request at the cost of one primary-key lookup (issue 5, item 2).
 */
enum um_err user_for_token(struct db *, struct arena *, long long, long long, struct user *,
    int *);

/* Which of username and email are taken already (case-insensitively). */
enum um_err user_taken(struct db *, struct arena *, const char *, const char *, int *, int *);

/*
 * Inserts an active account with the `user` role, its address verified or not; *id gets
 * its id.  Run inside the caller's transaction.  UM_ECONFLICT when a unique key was taken
 * meanwhile.
 */
enum um_err user_create(struct db *, struct arena *, const char *, const char *, const char *,
    int, long long *);
/* Marks the address verified — only while it is still the address the link was sent to. */
enum um_err user_verify_email(struct db *, struct arena *, long long, const char *, int *);
/*
 * Stores a new password hash: bumps token_version, stamps password_changed_at, lifts a
 * lockout (API.md §7: a reset also lifts an active lockout).
 */
enum um_err user_set_password(struct db *, struct arena *, long long, const char *);
/*
 * Counts a failed login; when the count reaches max the account is locked for lockout
 * seconds and *locked is set.
 */
enum um_err user_login_failed(struct db *, struct arena *, long long, unsigned, unsigned,
    int *);
/* Replaces the hash of the same password (a cost change or a legacy hash): nothing else moves. */
enum um_err user_rehash(struct db *, struct arena *, long long, const char *);
/* Sets display_name and bio (NULL clears). */
enum um_err user_update_profile(struct db *, struct arena *, long long, const char *,
    const char *);
/*
 * A successful login: stamps last_login_at, and clears the failure count and any lockout
 * when clear is set (not for a trusted device's login while the account is locked, which
 * leaves the lock running for everyone else: docs/DECISIONS.md "Device cookies").
 */
enum um_err user_login_succeeded(struct db *, struct arena *, long long, int);
/* Deletes the account; sessions, tokens and roles go with it (ON DELETE CASCADE). */
enum um_err user_delete(struct db *, struct arena *, long long);
/* Sets a new, verified address (a confirmed change of address). */
enum um_err user_set_email(struct db *, struct arena *, long long, const char *);
/* Role names of the user, sorted, as a JSON array (caller owns it). */
json_t *user_roles(struct db *, struct arena *, long long);
/* The API.md §4 user object (caller owns it); roles is stolen (NULL: looked up). */
json_t *user_json(struct db *, struct arena *, const struct user *, json_t *);
/*
 * A short fingerprint of the password hash for reset links: a link carries it, so it dies
 * the moment the password changes (API.md §5).  base64url in the arena.
 */
const char *user_password_fingerprint(struct arena *, const struct user *);

#endif
