/* routes: the one static route table; order matters only between patterns that overlap. */
#include "config.h"

#include <stddef.h>

#include "handlers.h"
#include "request.h"
#include "router.h"
#include "routes.h"

/* Flags of the HTML form routes: urlencoded body, CSRF token and Origin checked on POST. */
#define FORM (ROUTE_FORM | ROUTE_CSRF)
/* The sign-in family also counts against the per-IP limit (API.md §1), and so do the pages
 * that re-check a password, so a stolen session cannot guess it without limit. */
#define AUTH (FORM | ROUTE_IPLIMIT)
/* JSON API: bodies must be application/json; problem+json answers. */
#define JSON    ROUTE_JSON
#define JSONLIM (ROUTE_JSON | ROUTE_IPLIMIT)
#define BEARER  (ROUTE_JSON | ROUTE_BEARER)
/* ... and the API routes that re-check the password (issue 10, item 7). */
#define BEARLIM (ROUTE_JSON | ROUTE_BEARER | ROUTE_IPLIMIT)
#define ADMIN   (ROUTE_JSON | ROUTE_BEARER | ROUTE_ADMIN)
/* OAuth clients post urlencoded forms, authenticate themselves, and know no session or CSRF. */
#define CLIENT (ROUTE_BARE | ROUTE_FORM)

/* clang-format off: a table read by columns */
const struct route routes[] = {
	/* methods			pattern			handler			flags */
	{ HTTP_GET, "/", page_home, 0 },
	{ HTTP_GET | HTTP_POST, "/register", page_register, AUTH },
	{ HTTP_GET | HTTP_POST, "/login", page_login, AUTH },
	{ HTTP_POST, "/logout", page_logout, FORM },
	{ HTTP_GET, "/verify-email", page_verify_email, 0 },
	{ HTTP_GET, "/verify_email", page_verify_email, 0 },
	{ HTTP_GET | HTTP_POST, "/verify-email/resend", page_verify_resend, AUTH },
	{ HTTP_GET | HTTP_POST, "/forgot-password", page_forgot_password, AUTH },
	{ HTTP_GET | HTTP_POST, "/reset-password", page_reset_password, FORM },
	{ HTTP_GET | HTTP_POST, "/profile", page_profile, FORM | ROUTE_SESSION },
	{ HTTP_GET | HTTP_POST, "/account/password", page_account_password,
	    AUTH | ROUTE_SESSION },
	{ HTTP_GET | HTTP_POST, "/account/email", page_account_email, AUTH | ROUTE_SESSION },
	{ HTTP_GET, "/account/sessions", page_account_sessions, FORM | ROUTE_SESSION },
	{ HTTP_POST, "/account/sessions/revoke", page_account_revoke, FORM | ROUTE_SESSION },
	{ HTTP_GET, "/account/security", page_account_security, FORM | ROUTE_SESSION },
	{ HTTP_POST, "/account/security/alerts", page_account_alerts, FORM | ROUTE_SESSION },
	{ HTTP_GET, "/account/export", page_account_export, FORM | ROUTE_SESSION },
	{ HTTP_GET | HTTP_POST, "/account/delete", page_account_delete, AUTH | ROUTE_SESSION },
	{ HTTP_GET | HTTP_POST, "/confirm-email", page_confirm_email, FORM },
	{ HTTP_GET | HTTP_POST, "/account/not-me", page_not_me, FORM },
	{ HTTP_GET, "/auth/check", auth_check, ROUTE_BARE },
	{ HTTP_POST, "/api/v1/users", api_register, JSONLIM },
	{ HTTP_POST, "/register_user", api_register, JSONLIM },
	{ HTTP_POST, "/api/v1/auth/login", api_login, JSONLIM },
	{ HTTP_POST, "/api/v1/auth/refresh", api_refresh, JSON },
	{ HTTP_POST, "/api/v1/auth/logout", api_logout, JSON },
	{ HTTP_POST, "/api/v1/auth/verify-email", api_verify_email, JSON },
	{ HTTP_POST, "/api/v1/auth/verify-email/resend", api_verify_resend, JSONLIM },
	{ HTTP_POST, "/api/v1/auth/password/forgot", api_password_forgot, JSONLIM },
	{ HTTP_POST, "/api/v1/auth/password/reset", api_password_reset, JSON },
	{ HTTP_GET, "/api/v1/me", api_me, BEARER },
	{ HTTP_PATCH, "/api/v1/me", api_me_patch, BEARER },
	{ HTTP_DELETE, "/api/v1/me", api_me_delete, BEARLIM },
	{ HTTP_POST, "/api/v1/me/password", api_me_password, BEARLIM },
	{ HTTP_POST, "/api/v1/me/email", api_me_email, BEARLIM },
	{ HTTP_GET, "/api/v1/me/sessions", api_me_sessions, BEARER },
	{ HTTP_DELETE, "/api/v1/me/sessions/{id}", api_me_session_delete, BEARER },
	/* passkey routes (api-passkeys.c, page-passkeys.c) */
	{ HTTP_POST, "/api/v1/auth/passkey/options", api_passkey_login_options,
	    JSONLIM | ROUTE_OPTBODY },
	{ HTTP_POST, "/api/v1/auth/passkey", api_passkey_login, JSONLIM },
	{ HTTP_POST, "/api/v1/me/passkeys/options", api_me_passkey_options,
	    BEARLIM | ROUTE_OPTBODY },
	{ HTTP_GET, "/api/v1/me/passkeys", api_me_passkeys, BEARER },
	{ HTTP_POST, "/api/v1/me/passkeys", api_me_passkey_add, BEARER },
	{ HTTP_PATCH, "/api/v1/me/passkeys/{id}", api_me_passkey_patch, BEARER },
	{ HTTP_DELETE, "/api/v1/me/passkeys/{id}", api_me_passkey_delete, BEARER },
	{ HTTP_POST, "/login/passkey", page_login_passkey, AUTH },
	{ HTTP_GET | HTTP_POST, "/account/passkeys", page_account_passkeys,
	    AUTH | ROUTE_SESSION },
	/* admin routes (api-admin.c, page-admin.c) */
	{ HTTP_GET, "/api/v1/admin/users", api_admin_users, ADMIN },
	{ HTTP_GET, "/api/v1/admin/users/{id}", api_admin_user, ADMIN },
	{ HTTP_PATCH, "/api/v1/admin/users/{id}", api_admin_user_patch, ADMIN },
	{ HTTP_DELETE, "/api/v1/admin/users/{id}", api_admin_user_delete, ADMIN },
	{ HTTP_PUT, "/api/v1/admin/users/{id}/roles", api_admin_user_roles, ADMIN },
	{ HTTP_DELETE, "/api/v1/admin/users/{id}/mfa", api_admin_user_mfa_reset, ADMIN },
	{ HTTP_GET, "/api/v1/admin/roles", api_admin_roles, ADMIN },
	{ HTTP_POST, "/api/v1/admin/roles", api_admin_role_create, ADMIN },
	{ HTTP_GET, "/api/v1/admin/audit", api_admin_audit, ADMIN },
	{ HTTP_GET, "/admin/users", page_admin_users, FORM | ROUTE_ADMIN },
	{ HTTP_GET, "/admin/users/{id}", page_admin_user, FORM | ROUTE_ADMIN },
	{ HTTP_POST, "/admin/users/{id}/{action}", page_admin_action, FORM | ROUTE_ADMIN },
	{ HTTP_GET, "/admin/audit", page_admin_audit, FORM | ROUTE_ADMIN },
	{ HTTP_GET | HTTP_POST, "/admin/roles", page_admin_roles, FORM | ROUTE_ADMIN },
	{ HTTP_GET | HTTP_POST, "/admin/clients", page_admin_clients, FORM | ROUTE_ADMIN },
	{ HTTP_GET | HTTP_POST, "/admin/clients/{id}", page_admin_client, FORM | ROUTE_ADMIN },
	/* mfa routes (page-mfa.c) */
	{ HTTP_GET | HTTP_POST, "/login/mfa", page_login_mfa, AUTH },
	{ HTTP_GET | HTTP_POST, "/account/mfa", page_account_mfa, AUTH | ROUTE_SESSION },
	/* OpenID Connect provider (oauth2.c): the clients' endpoints answer RFC 6749 JSON */
	{ HTTP_GET, "/.well-known/openid-configuration", oauth2_discovery, ROUTE_BARE },
	{ HTTP_GET, "/.well-known/jwks.json", oauth2_jwks, ROUTE_BARE },
	{ HTTP_GET, "/oauth2/authorize", oauth2_authorize, 0 },
	{ HTTP_POST, "/oauth2/consent", oauth2_consent, FORM | ROUTE_SESSION },
	{ HTTP_POST, "/oauth2/token", oauth2_token, CLIENT },
	{ HTTP_GET | HTTP_POST, "/oauth2/userinfo", oauth2_userinfo, ROUTE_BARE },
	{ HTTP_POST, "/oauth2/revoke", oauth2_revoke, CLIENT },
	{ HTTP_POST, "/oauth2/introspect", oauth2_introspect, CLIENT },
	{ HTTP_GET, "/oauth2/logout", oauth2_logout, 0 },
	{ HTTP_GET, "/account/apps", page_account_apps, FORM | ROUTE_SESSION },
	{ HTTP_POST, "/account/apps/revoke", page_account_apps_revoke, FORM | ROUTE_SESSION },
	{ HTTP_GET, "/api/v1/admin/clients", api_admin_clients, ADMIN },
	{ HTTP_POST, "/api/v1/admin/clients", api_admin_client_create, ADMIN },
	{ HTTP_GET, "/api/v1/admin/clients/{id}", api_admin_client, ADMIN },
	{ HTTP_PATCH, "/api/v1/admin/clients/{id}", api_admin_client_patch, ADMIN },
	{ HTTP_DELETE, "/api/v1/admin/clients/{id}", api_admin_client_delete, ADMIN },
	{ HTTP_POST, "/api/v1/admin/clients/{id}/secret", api_admin_client_secret, ADMIN },
	{ HTTP_GET, "/healthz", ops_healthz, ROUTE_BARE | ROUTE_NOSTORE },
	/* Its one question is a ping: no poll in front of it to wait on a hung database. */
	{ HTTP_GET, "/readyz", ops_readyz, ROUTE_BARE | ROUTE_NOSTORE },
	{ HTTP_GET, "/metrics", ops_metrics, ROUTE_BARE },
};
/* clang-format on */

const size_t nroutes = sizeof(routes) / sizeof(routes[0]);
