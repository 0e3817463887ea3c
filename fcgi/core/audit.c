/* audit: writes security events; the names are the contract of /admin/audit and exports. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "audit.h"
#include "ctx.h"
#include "db.h"

static const char *const names[AUDIT__MAX] = {
	[AUDIT_REGISTERED] = "registered",
	[AUDIT_VERIFIED] = "email_verified",
	[AUDIT_LOGIN_SUCCEEDED] = "login_succeeded",
	[AUDIT_LOGIN_FAILED] = "login_failed",
	[AUDIT_LOCKED_OUT] = "locked_out",
	[AUDIT_LOGOUT] = "logout",
	[AUDIT_RESET_REQUESTED] = "password_reset_requested",
	[AUDIT_PASSWORD_RESET] = "password_reset",
	[AUDIT_PASSWORD_CHANGED] = "password_changed",
	[AUDIT_VERIFICATION_RESENT] = "verification_resent",
	[AUDIT_EMAIL_CHANGE_REQUESTED] = "email_change_requested",
	[AUDIT_EMAIL_CHANGED] = "email_changed",
	[AUDIT_ACCOUNT_DELETED] = "account_deleted",
	[AUDIT_SESSION_REVOKED] = "session_revoked",
	[AUDIT_ROLES_CHANGED] = "roles_changed",
	[AUDIT_USER_DISABLED] = "user_disabled",
	[AUDIT_USER_ENABLED] = "user_enabled",
	[AUDIT_USER_VERIFIED] = "user_verified",
	[AUDIT_USER_UNVERIFIED] = "user_unverified",
	[AUDIT_USER_DELETED] = "user_deleted",
	[AUDIT_PASSWORD_RESET_FORCED] = "password_reset_forced",
	[AUDIT_ROLE_CREATED] = "role_created",
	[AUDIT_VERIFICATION_RESENT_BY_ADMIN] = "verification_resent_by_admin",
	[AUDIT_PROFILE_CHANGED_BY_ADMIN] = "profile_changed_by_admin",
	[AUDIT_MFA_ENABLED] = "mfa_enabled",
	[AUDIT_MFA_DISABLED] = "mfa_disabled",
	[AUDIT_MFA_FAILED] = "mfa_failed",
	[AUDIT_RECOVERY_CODE_USED] = "recovery_code_used",
	[AUDIT_USER_CREATED] = "user_created",
	[AUDIT_USER_IMPORTED] = "user_imported",
	[AUDIT_MFA_RESET_BY_ADMIN] = "mfa_reset_by_admin",
	[AUDIT_DEVICE_LOCKED_OUT] = "device_locked_out",
	[AUDIT_LOGIN_ALERT_SENT] = "login_alert_sent",
	[AUDIT_LOGIN_DISOWNED] = "login_disowned",
	[AUDIT_LOGIN_ALERTS_CHANGED] = "login_alerts_changed",
	[AUDIT_OAUTH_CLIENT_CREATED] = "oauth_client_created",
	[AUDIT_OAUTH_CLIENT_UPDATED] = "oauth_client_updated",
	[AUDIT_OAUTH_CLIENT_SECRET_ROTATED] = "oauth_client_secret_rotated",
	[AUDIT_OAUTH_CLIENT_DELETED] = "oauth_client_deleted",
	[AUDIT_OAUTH_CONSENT_GRANTED] = "oauth_consent_granted",
	[AUDIT_OAUTH_CONSENT_DENIED] = "oauth_consent_denied",
	[AUDIT_OAUTH_CONSENT_REVOKED] = "oauth_consent_revoked",
	[AUDIT_OAUTH_CODE_ISSUED] = "oauth_code_issued",
	[AUDIT_OAUTH_TOKEN_ISSUED] = "oauth_token_issued",
	[AUDIT_OAUTH_TOKEN_REFUSED] = "oauth_token_refused",
	[AUDIT_OAUTH_CODE_REUSED] = "oauth_code_reused",
	[AUDIT_OAUTH_TOKEN_REVOKED] = "oauth_token_revoked",
	[AUDIT_OAUTH_AUTHORIZE_REFUSED] = "oauth_authorize_refused",
	[AUDIT_OAUTH_LOGOUT] = "oauth_logout",
	[AUDIT_SIGNING_KEY_ROTATED] = "signing_key_rotated",
	[AUDIT_PASSKEY_ADDED] = "passkey_added",
	[AUDIT_PASSKEY_REMOVED] = "passkey_removed",
	[AUDIT_PASSKEY_SIGN_COUNT_REGRESSED] = "passkey_sign_count_regressed",
};

/* Parallel to names: what each event means to the person it is about (/account/security). */
static const char *const labels[AUDIT__MAX] = {
	[AUDIT_REGISTERED] = "Account created",
	[AUDIT_VERIFIED] = "E-mail address verified",
	[AUDIT_LOGIN_SUCCEEDED] = "Signed in",
	[AUDIT_LOGIN_FAILED] = "Failed sign-in attempt",
	[AUDIT_LOCKED_OUT] = "Locked after failed sign-in attempts",
	[AUDIT_LOGOUT] = "Signed out",
	[AUDIT_RESET_REQUESTED] = "Password reset link requested",
	[AUDIT_PASSWORD_RESET] = "Password reset through a mailed link",
	[AUDIT_PASSWORD_CHANGED] = "Password changed",
	[AUDIT_VERIFICATION_RESENT] = "Verification link sent again",
	[AUDIT_EMAIL_CHANGE_REQUESTED] = "Change of e-mail address requested",
	[AUDIT_EMAIL_CHANGED] = "E-mail address changed",
	[AUDIT_ACCOUNT_DELETED] = "Account deleted",
	[AUDIT_SESSION_REVOKED] = "Session signed out remotely",
	[AUDIT_ROLES_CHANGED] = "Roles changed",
	[AUDIT_USER_DISABLED] = "Account disabled by an administrator",
	[AUDIT_USER_ENABLED] = "Account enabled by an administrator",
	[AUDIT_USER_VERIFIED] = "Address marked verified by an administrator",
	[AUDIT_USER_UNVERIFIED] = "Address marked unverified by an administrator",
	[AUDIT_USER_DELETED] = "Account deleted by an administrator",
	[AUDIT_PASSWORD_RESET_FORCED] = "Password reset forced by an administrator",
	[AUDIT_ROLE_CREATED] = "Role created",
	[AUDIT_VERIFICATION_RESENT_BY_ADMIN] = "Verification link sent by an administrator",
	[AUDIT_PROFILE_CHANGED_BY_ADMIN] = "Profile changed by an administrator",
	[AUDIT_MFA_ENABLED] = "Two-step verification turned on",
	[AUDIT_MFA_DISABLED] = "Two-step verification turned off",
	[AUDIT_MFA_FAILED] = "Wrong two-step verification code",
	[AUDIT_RECOVERY_CODE_USED] = "Recovery code used",
	[AUDIT_USER_CREATED] = "Account created by an operator",
	[AUDIT_USER_IMPORTED] = "Account imported from the previous system",
	[AUDIT_MFA_RESET_BY_ADMIN] = "Two-step verification reset by an administrator",
	[AUDIT_DEVICE_LOCKED_OUT] =
	    "A browser you signed in with before was locked after failed "
	    "sign-in attempts",
	[AUDIT_LOGIN_ALERT_SENT] = "Sign-in from a new device: an alert was mailed",
	[AUDIT_LOGIN_DISOWNED] = "A sign-in was reported as not yours: sessions ended",
	[AUDIT_LOGIN_ALERTS_CHANGED] = "New-device sign-in alerts turned on or off",
	[AUDIT_OAUTH_CLIENT_CREATED] = "Single sign-on site registered",
	[AUDIT_OAUTH_CLIENT_UPDATED] = "Single sign-on site changed",
	[AUDIT_OAUTH_CLIENT_SECRET_ROTATED] = "Single sign-on site given a new secret",
	[AUDIT_OAUTH_CLIENT_DELETED] = "Single sign-on site removed",
	[AUDIT_OAUTH_CONSENT_GRANTED] = "Access granted to a site",
	[AUDIT_OAUTH_CONSENT_DENIED] = "Access refused to a site",
	[AUDIT_OAUTH_CONSENT_REVOKED] = "Access of a site revoked",
	[AUDIT_OAUTH_CODE_ISSUED] = "Signed in to a site",
	[AUDIT_OAUTH_TOKEN_ISSUED] = "A site received tokens",
	[AUDIT_OAUTH_TOKEN_REFUSED] = "A site's token request was refused",
	[AUDIT_OAUTH_CODE_REUSED] =
	    "A sign-in code was used twice: the site's tokens were revoked",
	[AUDIT_OAUTH_TOKEN_REVOKED] = "A site gave up its tokens",
	[AUDIT_OAUTH_AUTHORIZE_REFUSED] = "A site's sign-in request was refused",
	[AUDIT_OAUTH_LOGOUT] = "Signed out through a site",
	[AUDIT_SIGNING_KEY_ROTATED] = "Signing key rotated",
	[AUDIT_PASSKEY_ADDED] = "Passkey added",
	[AUDIT_PASSKEY_REMOVED] = "Passkey removed",
	[AUDIT_PASSKEY_SIGN_COUNT_REGRESSED] =
	    "Passkey sign-in refused: its counter went backwards (a copied authenticator?)",
};

const char *
audit_label(const char *name)
{
	size_t i;

	for (i = 0; name != NULL && i < AUDIT__MAX; i++)
		if (strcmp(names[i], name) == 0)
			return labels[i];
	return name != NULL ? name : "unknown";
}

const char *
audit_name(enum audit_event e)
{
	return (unsigned)e < AUDIT__MAX ? names[e] : "unknown";
}

static const char sql_insert[] =
    "INSERT INTO audit_events (user_id, actor_id, event, ip, details) VALUES (?, ?, ?, ?, ?)";

char *
audit_details(const struct ctx *ctx, json_t *details)
{
	char *js = NULL;

	/* What the CLI does is told apart from what a visitor or an admin did on the web. */
	if (ctx->via != NULL) {
		if (details == NULL)
			details = json_object();
		(void)json_object_set_new(details, "via", json_string(ctx->via));
	}
	if (details != NULL)
		js = json_dumps(details, JSON_COMPACT);
	json_decref(details);
	return js;
}

enum um_err
audit_log(struct ctx *ctx, enum audit_event e, long long user_id, long long actor_id,
    json_t *details)
{
	struct db_val p[5];
	char         *js = audit_details(ctx, details);
	enum um_err   rc;

	p[0] = user_id > 0 ? DBV_INT(user_id) : DBV_NULL;
	p[1] = actor_id > 0 ? DBV_INT(actor_id) : DBV_NULL;
	p[2] = dbv_text(audit_name(e));
	p[3] = ctx->ip != NULL ? dbv_text(ctx->ip) : DBV_NULL;
	p[4] = js != NULL ? dbv_text(js) : DBV_NULL;
	rc = db_exec(ctx->db, ctx->arena, sql_insert, p, 5, NULL);
	free(js);
	return rc;
}
