/* oidc: OpenID Connect provider services — clients, consents, codes, ID tokens and claims (no HTTP). */
#ifndef UM_OIDC_H
#define UM_OIDC_H

#include <stddef.h>

#include <jansson.h>

#include "error.h"

struct ctx;
struct user;

#define OIDC_CODE_SECONDS 60 /* an authorization code lives this long (issue 14) */
#define OIDC_URIS_MAX     20 /* redirect or post-logout URIs per client */
#define OIDC_URI_MAX      2000
#define OIDC_NAME_MAX     100
#define OIDC_NONCE_MAX    512
#define OIDC_STATE_MAX    2000

/* The scopes the provider knows, space-separated (discovery lists them). */
extern const char *const oidc_scopes[];

/* A registered client; strings and arrays tied to the ctx arena. */
struct oidc_client {
	const char   *client_id;
	const char   *name;
	int           confidential;
	json_t       *redirect_uris;             /* array of strings */
	json_t       *post_logout_redirect_uris; /* array of strings */
	const char   *scopes;                    /* space-separated */
	int           skip_consent;
	const char   *created_at, *updated_at; /* RFC 3339 UTC */
	unsigned char secret_hash[32];
};

/* The client's public JSON (API and CLI): no secret, no hash.  Caller owns it. */
json_t *oidc_client_json(const struct oidc_client *);
/* By client_id: UM_ENOTFOUND when there is no such client. */
enum um_err oidc_client_get(struct ctx *, const char *, struct oidc_client *);
/* Every client as oidc_client_json, oldest first, into *out (caller owns it). */
enum um_err oidc_client_list(struct ctx *, json_t **);
/*
 * Checks a client's JSON (admin API body, CLI, admin page): name, redirect_uris,
 * post_logout_redirect_uris, type, scopes, skip_consent.  With partial (PATCH) a member may be
 * absent, and type cannot change.  On refusal returns UM_EINVAL with *errors an array of
 * {field, message} (caller owns it); unknown members are refused too.
 */
enum um_err oidc_client_check(const json_t *, int, json_t **);
/*
 * Registers a checked client; *secret gets its secret (confidential only, shown this once;
 * NULL for public clients).  Audited as oauth_client_created.
 */
enum um_err oidc_client_create(struct ctx *, const json_t *, struct oidc_client *,
    const char **);
/* Applies a checked partial body; UM_ENOTFOUND when absent.  Audited. */
enum um_err oidc_client_update(struct ctx *, const char *, const json_t *,
    struct oidc_client *);
/* A new secret; the old one stops working at once.  UM_EINVAL for a public client. */
enum um_err oidc_client_rotate_secret(struct ctx *, const char *, const char **);
/* Removes a client: its tokens are revoked, its consents and codes deleted.  Audited. */
enum um_err oidc_client_delete(struct ctx *, const char *);
/* 1 when secret is the client's (constant-time). */
int oidc_client_secret_ok(const struct oidc_client *, const char *);
/* 1 when uri is exactly one of list's strings. */
int oidc_uri_listed(const json_t *, const char *);
/* 1 when every scope of the space-separated want is in the space-separated have. */
int oidc_scopes_within(const char *, const char *);
/* 1 when the space-separated list holds word. */
int oidc_has_word(const char *, const char *);

/* The scopes user granted client (arena), or NULL when no consent is stored. */
enum um_err oidc_consent_get(struct ctx *, long long, const char *, const char **);
/* Stores (or widens) a consent; audited as oauth_consent_granted. */
enum um_err oidc_consent_grant(struct ctx *, long long, const char *, const char *);
/* The user's granted sites: [{client_id, name, scopes: [...], granted_at}]. */
enum um_err oidc_consent_list(struct ctx *, long long, json_t **);
/*
 * Revokes a consent: the row goes, and every token the client holds for the user dies at
 * once.  *found says whether there was one.  Audited as oauth_consent_revoked.
 */
enum um_err oidc_consent_revoke(struct ctx *, long long, const char *, int *);

/* What an authorization code stands for. */
struct oidc_grant {
	const char *client_id;
	long long   user_id;
	const char *redirect_uri;
	const char *code_challenge; /* NULL without PKCE */
	const char *nonce;          /* NULL when none was sent */
	const char *scopes;
	long long   auth_time;
	const char *amr; /* space-separated */
	long long   session_id;
};

/* Stores a code for g (hashed, OIDC_CODE_SECONDS); *code gets it (arena). */
enum um_err oidc_code_issue(struct ctx *, const struct oidc_grant *, const char **);

/* Why a code exchange was refused (each is invalid_grant to the client). */
enum oidc_code_refusal {
	OIDC_CODE_OK = 0,
	OIDC_CODE_UNKNOWN,
	OIDC_CODE_EXPIRED,
	OIDC_CODE_REUSED, /* the tokens of the first exchange were revoked */
	OIDC_CODE_CLIENT, /* issued to another client */
	OIDC_CODE_REDIRECT,
	OIDC_CODE_PKCE,
	OIDC_CODE_USER, /* the user was disabled or deleted since */
};
/*
 * Exchanges a code: single use, unexpired, bound to client_id, redirect_uri and the PKCE
 * verifier (NULL when none was sent).  Starts the client's refresh family; *g, *sid and
 * *refresh describe what was issued.  A refused exchange is UM_ETOKEN with *why set; a reused
 * code revokes the family its first exchange started, committed before the refusal.
 */
enum um_err oidc_code_redeem(struct ctx *, const char *, const char *, const char *,
    const char *, struct oidc_grant *, long long *, char **, enum oidc_code_refusal *);
/* A short English phrase for a refusal (error_description). */
const char *oidc_code_refusal_text(enum oidc_code_refusal);

/* The authentication methods (RFC 8176) and acr of how user signed in, for a new grant. */
const char *oidc_amr(const struct user *);
/* The same for the browser session sid: what its sign-in recorded (a passkey), else oidc_amr. */
const char *oidc_session_amr(struct ctx *, long long, const struct user *);
/* The sign-in time of browser session id (sessions.id), 0 when it is gone. */
long long oidc_session_auth_time(struct ctx *, long long);

/* Adds the claims scopes allow to obj (profile, email, roles; sub is the caller's). */
void oidc_claims(struct ctx *, const struct user *, const char *, json_t *);
/*
 * An ID token for user and client: iss, sub, aud, exp, iat, auth_time, nonce (NULL: none),
 * amr, acr, azp and the scopes' claims, signed ES256 (signkey.c).  NULL on failure.
 */
char *oidc_id_token(struct ctx *, const struct user *, const char *, const char *, long long,
    const char *, const char *);

#endif
