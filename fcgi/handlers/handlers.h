/* handlers: every route handler of the worker, by area (one file per area, see routes.c). */
#ifndef UM_HANDLERS_H
#define UM_HANDLERS_H

#include "router.h"

struct field_result;
struct request;
struct response;

/* ops.c */
route_handler ops_healthz;
route_handler ops_readyz;
route_handler ops_metrics;

/* page-home.c */
route_handler page_home;

/* page-register.c */
route_handler page_register;

/* page-login.c */
route_handler page_login;
route_handler page_logout;
/* The same-site path a `next` parameter may send a browser to, or NULL. */
const char *page_safe_next(const char *);

/* page-verify.c */
route_handler page_verify_email;
route_handler page_verify_resend;
/* The one-field e-mail form shared by resend and forgot-password. */
void page_email_form(struct request *, struct response *, int, const char *, const char *, int,
    struct field_result *);
const char *page_email_field(struct request *, struct response *, const char *, const char *);

/* page-reset.c */
route_handler page_forgot_password;
route_handler page_reset_password;

/* page-profile.c */
route_handler page_profile;

/* page-account.c */
route_handler page_account_password;
route_handler page_account_email;
route_handler page_account_delete;

/* page-account-activity.c */
route_handler page_account_sessions;
route_handler page_account_revoke;
route_handler page_account_security;
route_handler page_account_alerts;
route_handler page_account_export;

/* page-confirm-email.c */
route_handler page_confirm_email;
route_handler page_not_me;

/* auth-check.c */
route_handler auth_check;

/* api-auth.c */
route_handler api_register;
route_handler api_login;
route_handler api_refresh;
route_handler api_logout;
route_handler api_verify_email;
route_handler api_verify_resend;
route_handler api_password_forgot;
route_handler api_password_reset;

/* api-me.c */
route_handler api_me;
route_handler api_me_patch;
route_handler api_me_delete;
route_handler api_me_password;
route_handler api_me_email;
route_handler api_me_sessions;
route_handler api_me_session_delete;

/* admin handlers (api-admin.c, page-admin.c) */
struct user;
/* The account named by the route's {id} into the user; answers 404 (-1) when there is none. */
int           admin_target(struct request *, struct response *, struct user *);
route_handler api_admin_users;
route_handler api_admin_user;
route_handler api_admin_user_patch;
route_handler api_admin_user_delete;
route_handler api_admin_user_roles;
route_handler api_admin_user_mfa_reset;
route_handler api_admin_roles;
route_handler api_admin_role_create;
route_handler api_admin_audit;
route_handler page_admin_users;
route_handler page_admin_user;
route_handler page_admin_action;
route_handler page_admin_audit;
route_handler page_admin_roles;

/* mfa handlers (page-mfa.c) */
route_handler page_login_mfa;
route_handler page_account_mfa;

/* OpenID Connect provider (oauth2.c) */
route_handler oauth2_discovery;
route_handler oauth2_jwks;
route_handler oauth2_authorize;
route_handler oauth2_consent;
route_handler oauth2_token;
route_handler oauth2_userinfo;
route_handler oauth2_revoke;
route_handler oauth2_introspect;
route_handler oauth2_logout;
/*
 * The origin of the client redirect URI a login's `next` (an authorization request of a
 * registered client and redirect URI) ends at, for the form's CSP; else NULL.
 */
const char *oauth2_next_origin(struct request *, const char *);
/* the user's granted sites (page-apps.c) */
route_handler page_account_apps;
route_handler page_account_apps_revoke;
/* clients in the admin pages (page-clients.c) */
route_handler page_admin_clients;
route_handler page_admin_client;
/* clients in the admin API (api-clients.c) */
route_handler api_admin_clients;
route_handler api_admin_client_create;
route_handler api_admin_client;
route_handler api_admin_client_patch;
route_handler api_admin_client_delete;
route_handler api_admin_client_secret;

/* passkey handlers (page-login.c, page-passkeys.c, api-passkeys.c) */
route_handler page_login_passkey;
route_handler page_account_passkeys;
route_handler api_passkey_login_options;
route_handler api_passkey_login;
route_handler api_me_passkey_options;
route_handler api_me_passkeys;
route_handler api_me_passkey_add;
route_handler api_me_passkey_patch;
route_handler api_me_passkey_delete;

#endif
