/* audit: the security event log (API.md §7 "Audit event"), one row per event, never updated. */
#ifndef UM_AUDIT_H
#define UM_AUDIT_H

#include <jansson.h>

#include "error.h"

struct ctx;

enum audit_event {
	AUDIT_REGISTERED = 0,         /* a sign-up created the account */
	AUDIT_VERIFIED,               /* the address was verified through the mailed link */
	AUDIT_LOGIN_SUCCEEDED,        /* password (and second factor) accepted */
	AUDIT_LOGIN_FAILED,           /* wrong password for an existing account */
	AUDIT_LOCKED_OUT,             /* failures reached the limit: the account is locked */
	AUDIT_LOGOUT,                 /* the user ended a session */
	AUDIT_RESET_REQUESTED,        /* a reset link was mailed */
	AUDIT_PASSWORD_RESET,         /* the password was set through a reset link */
	AUDIT_PASSWORD_CHANGED,       /* the user changed the password while logged in */
	AUDIT_VERIFICATION_RESENT,    /* a new verification link was mailed */
	AUDIT_EMAIL_CHANGE_REQUESTED, /* a change-of-address link was mailed */
	AUDIT_EMAIL_CHANGED,          /* the new address was confirmed */
	AUDIT_ACCOUNT_DELETED,        /* the user deleted the account */
	AUDIT_SESSION_REVOKED,        /* the user ended one of their sessions */
	/* Administrators' actions (directory.c): actor_id is the admin. */
	AUDIT_ROLES_CHANGED,         /* the user's roles were replaced */
	AUDIT_USER_DISABLED,         /* the account was disabled: sessions and tokens ended */
	AUDIT_USER_ENABLED,          /* a disabled account was enabled again */
	AUDIT_USER_VERIFIED,         /* the address was marked verified by an admin */
	AUDIT_USER_UNVERIFIED,       /* the address was marked not verified by an admin */
	AUDIT_USER_DELETED,          /* an admin deleted the account */
	AUDIT_PASSWORD_RESET_FORCED, /* the password was voided and a reset link mailed */
	AUDIT_ROLE_CREATED,          /* a new role was defined (user_id NULL) */
	AUDIT_VERIFICATION_RESENT_BY_ADMIN, /* an admin had the verification link sent again */
	AUDIT_PROFILE_CHANGED_BY_ADMIN,     /* an admin changed the display name */
	AUDIT_MFA_ENABLED,        /* two-step verification confirmed with a first code */
	AUDIT_MFA_DISABLED,       /* two-step verification turned off */
	AUDIT_MFA_FAILED,         /* a wrong or replayed second-factor code */
	AUDIT_RECOVERY_CODE_USED, /* a one-time recovery code stood in for the TOTP code */
	/* An operator's actions through usermgr-admin (details.via = "usermgr-admin"). */
	AUDIT_USER_CREATED,  /* create-user made the account */
	AUDIT_USER_IMPORTED, /* import-legacy brought it from the seed app */
	/* An administrator turned two-step verification off for a user who lost it. */
	AUDIT_MFA_RESET_BY_ADMIN,
	/* A browser trusted by its device cookie reached its own failure limit (device.c). */
	AUDIT_DEVICE_LOCKED_OUT,
	/* The new-device sign-in alert (alert.c). */
	AUDIT_LOGIN_ALERT_SENT,     /* a sign-in from a new device: the owner was mailed */
	AUDIT_LOGIN_DISOWNED,       /* "This was not me": that session and the tokens ended */
	AUDIT_LOGIN_ALERTS_CHANGED, /* the owner turned the alert on or off */
	/* OpenID Connect (oidc.c, handlers/oauth2.c): details name the client_id. */
	AUDIT_OAUTH_CLIENT_CREATED,        /* an admin or operator registered a client */
	AUDIT_OAUTH_CLIENT_UPDATED,        /* its settings changed */
	AUDIT_OAUTH_CLIENT_SECRET_ROTATED, /* a new secret; the old one died */
	AUDIT_OAUTH_CLIENT_DELETED,        /* removed with its consents and tokens */
	AUDIT_OAUTH_CONSENT_GRANTED,       /* the user allowed a client the scopes */
	AUDIT_OAUTH_CONSENT_DENIED,        /* the user said no on the consent page */
	AUDIT_OAUTH_CONSENT_REVOKED,       /* the user took a grant back (/account/apps) */
	AUDIT_OAUTH_CODE_ISSUED,           /* an authorization code went to the client */
	AUDIT_OAUTH_TOKEN_ISSUED,          /* tokens for a code or a refresh token */
	AUDIT_OAUTH_TOKEN_REFUSED,         /* the token endpoint refused a grant or a client */
	AUDIT_OAUTH_CODE_REUSED,           /* a code came twice: its tokens were revoked */
	AUDIT_OAUTH_TOKEN_REVOKED,         /* a client revoked a token (RFC 7009) */
	AUDIT_OAUTH_AUTHORIZE_REFUSED,     /* an authorization request was refused */
	AUDIT_OAUTH_LOGOUT,                /* RP-initiated logout ended the session */
	AUDIT_SIGNING_KEY_ROTATED,         /* a new ID token signing key (user_id NULL) */
	/* Passkeys (passkey.c): actor_id is the user, or the administrator who removed one. */
	AUDIT_PASSKEY_ADDED,                /* a passkey was registered */
	AUDIT_PASSKEY_REMOVED,              /* a passkey was removed */
	AUDIT_PASSKEY_SIGN_COUNT_REGRESSED, /* a sign-in's counter went backwards: refused */
	AUDIT__MAX
};

/* A person's description of a stored event name ("Signed in"); unknown names as they are. */
const char *audit_label(const char *);
/* The snake_case name of an event, e.g. "login_succeeded". */
const char *audit_name(enum audit_event);
/*
 * Appends an event for user_id by actor_id, from ctx's client address (and with ctx->via
 * in the details when set).  Ids 0 are stored as NULL; details (reference stolen) may be
 * NULL.  Runs inside the caller's transaction when there is one.
 */
enum um_err audit_log(struct ctx *, enum audit_event, long long, long long, json_t *);
/*
 * The details column as audit_log writes it, for a writer of many events at once (import.c):
 * details (reference stolen, may be NULL) with ctx->via added, as compact JSON.  The caller
 * frees the result; NULL when there are no details.
 */
char *audit_details(const struct ctx *, json_t *);

#endif
