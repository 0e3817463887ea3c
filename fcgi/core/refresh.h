/* refresh: opaque rotating refresh tokens in families, with reuse detection and a 10 s grace window. */
#ifndef UM_REFRESH_H
#define UM_REFRESH_H

#include "error.h"

struct arena;
struct db;
struct ctx;

#define REFRESH_GRACE 10 /* seconds a retired token still answers (API.md §4) */

/* What a family started by an OpenID Connect client (oidc.c) records beside the user. */
struct refresh_client {
	const char *client_id;
	const char *scopes;    /* space-separated, as granted */
	long long   auth_time; /* Unix time of the sign-in the code came from */
	const char *amr;       /* space-separated authentication methods */
};

/*
 * Starts a family for user_id (one API login, or with cl one client's grant) with its first
 * token.  *sid gets the family id, *token the token (arena).  Runs in the caller's
 * transaction if any.
 */
enum um_err refresh_start(struct ctx *, long long, const struct refresh_client *, long long *,
    char **);

/*
 * Trades a refresh token for a new one of the same family, in its own transaction.  A
 * retired token within REFRESH_GRACE seconds of its rotation also gets a new one (two tabs
 * raced); later, it revokes the whole family (reuse detected) → UM_ETOKEN, as does an
 * unknown, expired or revoked token, and one of another client than client_id (NULL: the
 * API's own logins).  On UM_OK *user_id, *sid and *token are set, and *out (may be NULL)
 * with the family's grant (strings in the arena).
 */
enum um_err refresh_rotate(struct ctx *, const char *, const char *, long long *, long long *,
    char **, struct refresh_client *);

/* A presented refresh token as RFC 7009 and 7662 need to know it. */
struct refresh_info {
	long long   sid, user_id;
	const char *client_id; /* NULL: an API login */
	const char *scopes;
	int         live; /* unexpired, not rotated, family live, user active */
	long long   exp, iat;
};
/* Looks a token up without changing anything; UM_ENOTFOUND when nothing has that hash. */
enum um_err refresh_find(struct ctx *, const char *, struct refresh_info *);
/*
 * Revokes every live family of client_id — of user_id only, or of every user when user_id
 * is 0 — each with its `family` revocation row, in the caller's transaction or one of its
 * own; *n gets how many were live.
 */
enum um_err refresh_revoke_client(struct ctx *, long long, const char *, const char *,
    size_t *);

/*
 * Revokes the family a token belongs to (logout), with its `family` revocation row, in the
 * caller's transaction or one of its own.  Unknown tokens are fine: UM_OK.
 */
enum um_err refresh_revoke_token(struct ctx *, const char *);
/*
 * Revokes one family of user_id for reason, with its `family` revocation row, in the
 * caller's transaction or one of its own; *found says whether it was live.
 */
enum um_err refresh_revoke_family(struct ctx *, long long, long long, const char *, int *);

#endif
