/* refresh: opaque rotating refresh tokens in families, with reuse detection and a 10 s grace window. */
#ifndef UM_REFRESH_H
#define UM_REFRESH_H

#include "error.h"

struct arena;
struct db;
struct ctx;

#define REFRESH_GRACE 10 /* seconds a retired token still answers (API.md §4) */

/*
 * Starts a family for user_id (one API login) with its first token.  *sid gets the family
 * id, *token the token (arena).  Runs in the caller's transaction if any.
 */
enum um_err refresh_start(struct ctx *, long long, long long *, char **);

/*
 * Trades a refresh token for a new one of the same family, in its own transaction.  A
 * retired token within REFRESH_GRACE seconds of its rotation also gets a new one (two tabs
 * raced); later, it revokes the whole family (reuse detected) → UM_ETOKEN, as does an
 * unknown, expired or revoked token.  On UM_OK *user_id, *sid and *token are set.
 */
enum um_err refresh_rotate(struct ctx *, const char *, long long *, long long *, char **);

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
