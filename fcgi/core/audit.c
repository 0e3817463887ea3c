/* audit: writes security events; the names are the contract of /admin/audit and exports. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "audit.h"
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
};

const char *
audit_name(enum audit_event e)
{
	return (unsigned)e < AUDIT__MAX ? names[e] : "unknown";
}

static const char sql_insert[] =
    "INSERT INTO audit_events (user_id, actor_id, event, ip, details) VALUES (?, ?, ?, ?, ?)";

enum um_err
audit_log(struct db *db, struct arena *a, enum audit_event e, long long user_id,
    long long actor_id, const char *ip, json_t *details)
{
	struct db_val	 p[5];
	char		*js = NULL;
	enum um_err	 rc;

	p[0] = user_id > 0 ? DBV_INT(user_id) : DBV_NULL;
	p[1] = actor_id > 0 ? DBV_INT(actor_id) : DBV_NULL;
	p[2] = DBV_TEXT(audit_name(e));
	p[3] = ip != NULL ? DBV_TEXT(ip) : DBV_NULL;
	if (details != NULL && (js = json_dumps(details, JSON_COMPACT)) != NULL)
		p[4] = DBV_TEXT(js);
	else
		p[4] = DBV_NULL;
	rc = db_exec(db, a, sql_insert, p, 5, NULL);
	free(js);
	json_decref(details);
	return rc;
}
