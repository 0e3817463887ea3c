/* passkey: a user's WebAuthn credentials — ceremony challenges, registration, sign-in, list, rename, remove. */
#ifndef UM_PASSKEY_H
#define UM_PASSKEY_H

#include <jansson.h>

#include "error.h"
#include "webauthn.h"

struct ctx;
struct user;

#define PASSKEY_NAME_MAX       64    /* characters of a passkey's name */
#define PASSKEY_PER_USER_MAX   20    /* passkeys one account may hold */
#define PASSKEY_CHALLENGE_TTL  300   /* seconds a challenge stays usable (issue 13, item 1) */
#define PASSKEY_RECENT_LOGIN   300   /* seconds after a sign-in that count as a recent check */
#define PASSKEY_CREDENTIAL_MAX 65536 /* bytes of a credential member's JSON text */
/* RFC 8176 methods of a passkey sign-in, as issue 14 names them: a key proved in an
 * authenticator that verified its user (required, docs/DECISIONS.md), so also multi-factor. */
#define PASSKEY_AMR "hwk mfa"

/* An options answer: {"challenge_id", "publicKey"} as API.md's issue 13 spells it. */
struct passkey_options {
	const char *challenge_id; /* arena string, shown once; only its SHA-256 is stored */
	json_t     *public_key;   /* owned by the caller: WebAuthn L3 *OptionsJSON */
};

/*
 * Registration options for user u (issue 13, item 1): a new single-use challenge bound to
 * u and to registration, PublicKeyCredentialCreationOptionsJSON with u's existing passkeys
 * excluded, a discoverable credential and user verification required.  UM_ECONFLICT when
 * u holds PASSKEY_PER_USER_MAX already; UM_EINTERNAL when the base URL names no host.
 */
enum um_err passkey_register_options(struct ctx *, const struct user *,
    struct passkey_options *);
/*
 * Sign-in options: a challenge bound to sign-in, PublicKeyCredentialRequestOptionsJSON.
 * With login (username or address; may be NULL) the challenge is also bound to that
 * account and allowCredentials lists its passkeys; an unknown login gets an empty list, as
 * a discoverable sign-in does, so the answer tells nothing of which accounts exist.
 */
enum um_err passkey_login_options(struct ctx *, const char *, struct passkey_options *);
/*
 * Completes a registration for uid: challenge_id must name an unspent, unexpired
 * registration challenge of uid (UM_ECHALLENGE otherwise; it is spent either way), cred a
 * RegistrationResponseJSON passing webauthn_register (UM_EPASSKEY, *why naming the check).
 * Stores it under name, audits passkey_added and mails the owner a notice (one
 * transaction); *id is the new row.  UM_ECONFLICT when the
 * credential is registered already (to anyone) or uid holds the maximum.
 */
enum um_err passkey_register(struct ctx *, long long, const char *, const char *,
    const json_t *, long long *, const char **);
/*
 * Completes a sign-in: challenge_id must name an unspent, unexpired sign-in challenge
 * (UM_ECHALLENGE; spent either way; bound to another account than the credential's:
 * UM_ECHALLENGE too).  An unknown credential, a userHandle that is not its owner's, a bad
 * signature or a counter that went backwards (audited as passkey_sign_count_regressed) is
 * UM_ECREDS; any other failed check UM_EPASSKEY with *why; both audited as login_failed.
 * Then the account: UM_EDISABLED, UM_EUNVERIFIED.  On UM_OK *u is the account, the
 * counter and last-used time are stored, and the caller finishes the sign-in through
 * login_succeeded like a password sign-in.  The password lockout does not apply: it counts
 * password guesses, and an assertion cannot be guessed (docs/DECISIONS.md).
 */
enum um_err passkey_login(struct ctx *, const char *, const json_t *, struct user *,
    const char **);
/*
 * uid's passkeys, newest first, as a JSON array of {id, name, created_at, last_used_at,
 * transports, backed_up} (caller owns it).
 */
enum um_err passkey_list(struct ctx *, long long, json_t **);
/* Renames passkey id of uid; UM_ENOTFOUND when uid has no such passkey. */
enum um_err passkey_rename(struct ctx *, long long, long long, const char *);
/*
 * Removes passkey id of uid and audits passkey_removed (by ctx->actor: the user or an
 * administrator).  UM_ENOTFOUND when uid has no such passkey.
 */
enum um_err passkey_remove(struct ctx *, long long, long long);
/*
 * Whether uid signed in within PASSKEY_RECENT_LOGIN seconds, with a password (and second
 * factor) or a passkey: the sign-in that started the browser session whose id hash is
 * session_hash (32 bytes), or with session_hash NULL the one that started refresh family sid.
 * This is the recent check adding a passkey needs, as an alternative to the password.
 */
enum um_err passkey_recent_login(struct ctx *, long long, long long, const unsigned char *,
    int *);

#endif
