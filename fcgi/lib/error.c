/* error: the table behind enum um_err — one status, one problem code, one title each. */
#include "config.h"

#include "error.h"

/* clang-format off: a table read by columns */
static const struct {
	int         status;
	const char *code;
	const char *title;
} errs[UM_E__MAX] = {
	[UM_OK] = { 200, "ok", "OK" },
	[UM_EINVAL] = { 400, "validation_failed", "Validation failed" },
	[UM_EJSON] = { 400, "invalid_json", "Invalid JSON" },
	[UM_EMEDIA] = { 415, "unsupported_media_type", "Unsupported media type" },
	[UM_ETOOBIG] = { 413, "payload_too_large", "Payload too large" },
	[UM_ECONFLICT] = { 409, "conflict", "Conflict" },
	[UM_ECREDS] = { 401, "invalid_credentials", "Invalid credentials" },
	[UM_EUNVERIFIED] = { 403, "email_not_verified", "E-mail address not verified" },
	[UM_EDISABLED] = { 403, "account_disabled", "Account disabled" },
	[UM_EMFA] = { 401, "mfa_required", "Second factor required" },
	[UM_EUNAUTH] = { 401, "unauthorized", "Authentication required" },
	[UM_EFORBIDDEN] = { 403, "forbidden", "Forbidden" },
	[UM_ENOTFOUND] = { 404, "not_found", "Not found" },
	[UM_EMETHOD] = { 405, "method_not_allowed", "Method not allowed" },
	[UM_ERATE] = { 429, "rate_limited", "Too many requests" },
	[UM_ETOKEN] = { 401, "invalid_token", "Invalid token" },
	[UM_EEXPIRED] = { 401, "token_expired", "Token expired" },
	[UM_EUNAVAIL] = { 503, "service_unavailable", "Service unavailable" },
	[UM_EINTERNAL] = { 500, "internal_error", "Internal error" },
	[UM_ECHALLENGE] = { 400, "invalid_challenge", "Invalid or expired challenge" },
	[UM_EPASSKEY] = { 400, "invalid_passkey", "Passkey response refused" },
	[UM_ERECENT] = { 403, "recent_login_required", "Recent sign-in required" },
};
/* clang-format on */

static enum um_err
clamp(enum um_err e)
{
	return ((unsigned)e < UM_E__MAX) ? e : UM_EINTERNAL;
}

const char *
um_strerror(enum um_err e)
{
	return errs[clamp(e)].title;
}

const char *
um_errcode(enum um_err e)
{
	return errs[clamp(e)].code;
}

int
um_errstatus(enum um_err e)
{
	return errs[clamp(e)].status;
}
