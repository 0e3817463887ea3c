/* mfa: TOTP two-step verification per account — setup, confirmation, recovery codes, the login check. */
#ifndef UM_MFA_H
#define UM_MFA_H

#include "error.h"
#include "totp.h"

struct ctx;
struct device;
struct user;

#define MFA_ISSUER         "usermgr" /* the name authenticator apps show */
#define MFA_KEY_ID         1         /* users.mfa_key_id of conf.data_key */
#define MFA_RECOVERY_CODES 10
#define MFA_RECOVERY_CHARS 10 /* base32 characters: 50 random bits */
#define MFA_RECOVERY_LEN   11 /* shown as two groups of five, "k3v9q-7hzpw" */
#define MFA_CODE_MAX       32 /* bytes of the `code` field we look at */

enum mfa_state {
	MFA_OFF = 0, /* no secret */
	MFA_PENDING, /* secret stored, waiting for the first code (mfa_enabled_at NULL) */
	MFA_ON,      /* confirmed: the login needs a second factor */
	MFA__MAX
};

/*
 * The account's state; for MFA_PENDING and MFA_ON the base32 secret is written into b32
 * (when not NULL) so the setup page can show it again.  UM_EINTERNAL when the stored
 * secret cannot be opened (another key, or altered).
 */
enum um_err mfa_status(struct ctx *, long long, enum mfa_state *, char[TOTP_B32_MAX + 1]);
/*
 * Setup, step one: a new random secret, sealed under the data key and stored as pending
 * (replacing any earlier pending one); its base32 goes into b32.  UM_ECONFLICT when two-step
 * verification is on already.
 */
enum um_err mfa_start(struct ctx *, long long, char[TOTP_B32_MAX + 1]);
/*
 * Setup, step two: code must be the pending secret's current TOTP.  Then two-step
 * verification is on, ten new recovery codes replace any old ones and are written into
 * codes (shown once, stored only as SHA-256), every session and refresh family of the
 * user ends but the browser session whose hash is keep (NULL: all), a notice is mailed,
 * and mfa_enabled is audited — one transaction.
 * UM_ECREDS for a wrong code; UM_ECONFLICT when nothing is pending.
 */
enum um_err mfa_confirm(struct ctx *, long long, const char *, const unsigned char *,
    char[MFA_RECOVERY_CODES][MFA_RECOVERY_LEN + 1]);
/* Turns it off: secret and recovery codes are deleted, mfa_disabled audited, a notice mailed. */
enum um_err mfa_disable(struct ctx *, long long);
/*
 * An administrator (ctx->actor) turns it off for a user who lost the second factor: as
 * mfa_disable, audited as mfa_reset_by_admin.  *changed says whether it was on or being set
 * up (otherwise nothing is written, audited or mailed).  UM_ENOTFOUND for no such user.
 */
enum um_err mfa_reset(struct ctx *, long long, int *);
/*
 * Checks a second factor of an account that has it on: a TOTP code (within one step of
 * now, never a step used before — RFC 6238 §5.2) or an unused recovery code, which is
 * then spent.  Spaces and hyphens in the input are ignored.  UM_ECREDS when neither.
 */
enum um_err mfa_verify(struct ctx *, long long, const char *);
/*
 * The login's second step (HTML and API): UM_OK when code passes mfa_verify; UM_EMFA when
 * it is missing or wrong — a wrong one counts as a failed login and is audited, so codes
 * cannot be guessed without limit; UM_ERATE (with *retry_after) when the account is
 * locked, or becomes locked by this failure.  The device dev (login_password or
 * device_judge filled it; may be NULL) is gated and counted as for the password: a
 * trusted one also spends its own budget, and may go on while the account is locked until
 * that is spent (login_gate, login_count_failure).
 */
enum um_err mfa_login(struct ctx *, const struct user *, const char *, const struct device *,
    long long *);

#endif
