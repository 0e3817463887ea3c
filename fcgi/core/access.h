/* access: bearer access tokens of the JSON API — issued at login/refresh, checked on every request. */
#ifndef UM_ACCESS_H
#define UM_ACCESS_H

#include <jansson.h>

#include "error.h"
#include "user.h"

struct ctx;

/* Who a valid bearer token speaks for (request lifetime). */
struct auth {
	struct user user;  /* loaded by primary key on this request */
	long long   sid;   /* refresh family of the token (API session id) */
	json_t     *roles; /* role names from the token, current while token_version holds */
	const char *role_list; /* the same, comma-joined */
};

/*
 * Issues an HS256 access token (API.md §4): iss, aud "usermgr", sub, roles, iat, exp,
 * jti, sid, and ver (the user's token_version, so a password change or disable kills it).
 * Returned in the arena; *ttl gets its lifetime in seconds.
 */
char *access_issue(struct ctx *, const struct user *, const json_t *, long long, long long *);

/*
 * The same for an OpenID Connect client (oauth2.c): audience "usermgr-oidc" instead of
 * "usermgr", so the JSON API refuses it, plus client_id and scope claims.  The userinfo,
 * introspection and revocation endpoints accept it (access_verify_client).
 */
char *access_issue_client(struct ctx *, const struct user *, const json_t *, long long,
    const char *, const char *, long long *);

/* What the caller needs of auth->user beyond the check itself. */
enum access_need {
	ACCESS_CHECK = 0, /* the user object of API.md §4: a trusted cache may answer */
	ACCESS_FULL,      /* also password_hash and locked_for (a password re-check): MariaDB */
};

/*
 * Checks a bearer token (API.md §7): none (NULL or empty) → UM_EUNAUTH; forged, malformed,
 * of a disabled or deleted user, of an older token_version or a revoked family → UM_ETOKEN;
 * expired → UM_EEXPIRED.
 * UM_EUNAVAIL when the database is down.  Fills *out on UM_OK.  With ACCESS_CHECK the user
 * may come from the host's cache (fastpath.c): then password_hash is NULL and locked_for 0,
 * every other field as MariaDB has it.
 */
enum um_err access_verify(struct ctx *, const char *, enum access_need, struct auth *);
/* What a client's access token says beyond the user (strings tied to the arena). */
struct access_client {
	const char *client_id;
	const char *scope;
	long long   exp, iat;
};
/*
 * access_verify for a client's token (access_issue_client), with the same refusals; *cl gets
 * its client and scope.
 */
enum um_err access_verify_client(struct ctx *, const char *, struct auth *,
    struct access_client *);
/* 1 when the token's roles (current while its token_version holds) include role. */
int access_has_role(const struct auth *, const char *);

#endif
