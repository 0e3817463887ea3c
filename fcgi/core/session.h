/* session: server-side browser sessions in MariaDB, keyed by the SHA-256 of a 256-bit cookie. */
#ifndef UM_SESSION_H
#define UM_SESSION_H

#include <jansson.h>

#include "error.h"

struct arena;
struct db;
struct ctx;

#define SESSION_IDLE        (30 * 60)           /* without "remember me" (API.md §7) */
#define SESSION_ABSOLUTE    (12 * 60 * 60)      /* without: a working day at most */
#define SESSION_REMEMBER    (30 * 24 * 60 * 60) /* with "remember me": idle and absolute */
#define SESSION_TOUCH_EVERY 60                  /* seconds between last_seen writes */
#define SESSION_MFA_PENDING (10 * 60) /* waiting for the code: whatever remember says */

struct session {
	long long     id;       /* public handle (sessions.id) for lists and revocation */
	unsigned char hash[32]; /* SHA-256 of the cookie value */
	unsigned char csrf_seed[32];
	int           remember;
	int           mfa_pending; /* password checked, TOTP step still to do */
	long long     user_id;
	const char   *username;
	const char   *email;
	const char   *display_name; /* NULL when unset */
	const char   *roles;        /* comma-separated role names, sorted (X-User-Roles) */
	int           is_admin;
};

/* 1 when role is one of the comma-separated names in list. */
int role_listed(const char *, const char *);

/*
 * The live session a cookie value names: it must exist, be unexpired and belong to an active
 * user.  Slides the idle expiry (at most one write a minute).  A missing or dead session is
 * UM_OK with *out NULL.  UM_EUNAVAIL when the database is down.
 */
enum um_err session_find(struct ctx *, const char *, struct session **);
/*
 * Creates a session for user_id with a new random id (the caller deletes any older one
 * first: no fixation); *out gets it and *cookie the value for the browser (arena).
 */
enum um_err session_create(struct ctx *, long long, int, int, struct session **, const char **);
/*
 * Deletes one session's row and logs a `session` revocation row with it, in the caller's
 * transaction or, outside one, in a transaction of its own (logout, a new login).
 */
enum um_err session_delete(struct ctx *, const struct session *);
/*
 * Records how session id's sign-in was made when it was not the password (RFC 8176 amr
 * values, space-separated; sessions.amr, sql/009): OpenID Connect reports it (oidc.c).
 */
enum um_err session_set_amr(struct ctx *, long long, const char *);
/*
 * Ends every session of user_id — browser sessions except the one whose hash is keep (NULL:
 * all), and every API refresh-token family (API.md §7: "Sessions cover browser sessions and
 * API logins") — for password changes, resets, disabling.  Logs one `user` revocation row,
 * which also stands for whatever else the caller changes about the user in the same
 * transaction; runs in the caller's transaction, or in one of its own outside one.
 */
enum um_err session_end_all(struct ctx *, long long, const unsigned char *);
/*
 * Ends every API refresh-token family of user_id, browser sessions left alone ("This was
 * not me": alert.c), with a `user` revocation row; in the caller's transaction or one of
 * its own.
 */
enum um_err session_end_families(struct ctx *, long long);

/*
 * The user's sessions as API.md §7 lists them: browser sessions and live API refresh
 * families, [{id, kind, created_at, last_seen_at, ip, user_agent, current}], newest first.
 * current marks the one whose id is current_id.  Caller owns the array.
 */
json_t *session_list(struct db *, struct arena *, long long, long long);
/*
 * Ends one session (browser or API) of user_id by its id, with its `session` or `family`
 * revocation row, in the caller's transaction or one of its own; *found says whether it
 * was live.
 */
enum um_err session_revoke(struct ctx *, long long, long long, int *);

#endif
