/* session: server-side browser sessions in MariaDB, keyed by the SHA-256 of a 256-bit cookie. */
#ifndef UM_SESSION_H
#define UM_SESSION_H

#include <jansson.h>

#include "error.h"

struct arena;
struct db;
struct request;
struct response;

#define SESSION_IDLE		(30 * 60)		/* without "remember me" (API.md §7) */
#define SESSION_ABSOLUTE	(12 * 60 * 60)		/* without: a working day at most */
#define SESSION_REMEMBER	(30 * 24 * 60 * 60)	/* with "remember me": idle and absolute */
#define SESSION_TOUCH_EVERY	60			/* seconds between last_seen writes */

struct session {
	long long	 id;		/* public handle (sessions.id) for lists and revocation */
	unsigned char	 hash[32];	/* SHA-256 of the cookie value */
	unsigned char	 csrf_seed[32];
	int		 remember;
	int		 mfa_pending;	/* password checked, TOTP step still to do */
	long long	 user_id;
	const char	*username;
	const char	*email;
	const char	*display_name;	/* NULL when unset */
	const char	*roles;		/* comma-separated role names, sorted (X-User-Roles) */
	int		 is_admin;
};

/* 1 when role is one of the comma-separated names in list. */
int		 role_listed(const char *, const char *);

/* Cookie names: __Host- prefixed when the base URL is https (API.md §3). */
const char	*session_cookie_name(const struct request *);
const char	*session_precookie_name(const struct request *);

/*
 * Loads the session named by the request's cookie into req->session: it must exist, be
 * unexpired and belong to an active user.  Slides the idle expiry (at most one write a
 * minute).  A missing or dead session is UM_OK with req->session NULL.  UM_EUNAVAIL when
 * the database is down.
 */
enum um_err	 session_load(struct request *);
/*
 * Starts a new session for user_id — always a new id (no fixation): the request's old
 * session row, if any, is deleted — sets the cookie and req->session.
 */
enum um_err	 session_start(struct request *, struct response *, long long, int, int);
/* Ends the current session: deletes its row and expires the cookie. */
enum um_err	 session_end(struct request *, struct response *);
/*
 * Ends every session of user_id — browser sessions except the one whose hash is keep (NULL:
 * all), and every API refresh-token family (API.md §7: "Sessions cover browser sessions and
 * API logins") — for password changes, resets, disabling.
 */
enum um_err	 session_end_all(struct db *, struct arena *, long long, const unsigned char *);

/*
 * The user's sessions as API.md §7 lists them: browser sessions and live API refresh
 * families, [{id, kind, created_at, last_seen_at, ip, user_agent, current}], newest first.
 * current marks the one whose id is current_id.  Caller owns the array.
 */
json_t		*session_list(struct db *, struct arena *, long long, long long);
/* Ends one session (browser or API) of user_id by its id; *found says whether it existed. */
enum um_err	 session_revoke(struct db *, struct arena *, long long, long long, int *);

/*
 * The CSRF token for forms on this page: bound to the session, or for visitors to the
 * pre-session cookie, which is set here when absent.
 */
const char	*session_csrf_token(struct request *, struct response *);
/* 1 when the form's csrf_token matches this request's session or pre-session cookie. */
int		 session_csrf_ok(const struct request *);

#endif
