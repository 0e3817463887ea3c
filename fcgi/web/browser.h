/* browser: a browser's side of a session — the cookies that carry it and the CSRF checks of its forms. */
#ifndef UM_BROWSER_H
#define UM_BROWSER_H

#include "error.h"

struct request;
struct response;

/* Cookie names: __Host- prefixed when the base URL is https (API.md §3). */
const char *browser_cookie_name(const struct request *);
const char *browser_precookie_name(const struct request *);

/*
 * The device cookie (OWASP device cookies, fcgi/core/device.h): um_device, __Host-um_device
 * over https like the session cookie.  browser_device_cookie is its value as sent, or NULL.
 */
const char *browser_device_cookie_name(const struct request *);
const char *browser_device_cookie(const struct request *);
/*
 * After a successful login of user_id (any login the browser or API client completed):
 * sets the device cookie to a fresh entry for that account plus the browser's still valid
 * entries for others (device_cookie_renew), persistent for DEVICE_LIFETIME.
 */
void browser_device_remember(struct request *, struct response *, long long);

/*
 * Loads the session the request's cookie names into req->session (NULL when there is none
 * or it is dead) and makes its user the acting user of req->ctx.  UM_EUNAVAIL when the
 * database is down.
 */
enum um_err browser_session_load(struct request *);
/*
 * Starts a new session for user_id and sets its cookie.  Whatever session the browser had
 * ends first: a new id at every login (session fixation).
 */
enum um_err browser_session_start(struct request *, struct response *, long long, int, int);
/* Ends the current session: deletes its row and expires the cookie. */
enum um_err browser_session_end(struct request *, struct response *);

/*
 * The CSRF token for forms on this page: bound to the session, or for visitors to the
 * pre-session cookie, which is set here when absent.
 */
const char *browser_csrf_token(struct request *, struct response *);
/* 1 when the form's csrf_token matches this request's session or pre-session cookie. */
int browser_csrf_ok(const struct request *);
/*
 * 1 when the request's Origin (or, without one, its Referer) names the base URL's origin,
 * or when the client sent neither (the token still has to match).  OWASP CSRF cheat sheet,
 * "Verifying origin with standard headers".
 */
int browser_same_origin(const struct request *);

#endif
