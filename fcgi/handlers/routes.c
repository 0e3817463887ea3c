/* routes: the one static route table; order matters only between patterns that overlap. */
#include "config.h"

#include <stddef.h>

#include "handlers.h"
#include "request.h"
#include "router.h"
#include "routes.h"

/* Flags of the HTML form routes: urlencoded body, CSRF token and Origin checked on POST. */
#define FORM	(ROUTE_FORM | ROUTE_CSRF)
/* The sign-in family also counts against the per-IP limit (API.md §1). */
#define AUTH	(FORM | ROUTE_IPLIMIT)

const struct route routes[] = {
	/* methods			pattern			handler			flags */
	{ HTTP_GET,			"/",			page_home,		0 },
	{ HTTP_GET | HTTP_POST,		"/register",		page_register,		AUTH },
	{ HTTP_GET | HTTP_POST,		"/login",		page_login,		AUTH },
	{ HTTP_POST,			"/logout",		page_logout,		FORM },
	{ HTTP_GET,			"/verify-email",	page_verify_email,	0 },
	{ HTTP_GET,			"/verify_email",	page_verify_email,	0 },
	{ HTTP_GET | HTTP_POST,		"/verify-email/resend",	page_verify_resend,	AUTH },
	{ HTTP_GET | HTTP_POST,		"/forgot-password",	page_forgot_password,	AUTH },
	{ HTTP_GET | HTTP_POST,		"/reset-password",	page_reset_password,	FORM },
	{ HTTP_GET | HTTP_POST,		"/profile",		page_profile,
	    FORM | ROUTE_SESSION },
	{ HTTP_GET,			"/healthz",		ops_healthz,		ROUTE_BARE },
	{ HTTP_GET,			"/readyz",		ops_readyz,		ROUTE_BARE },
};

const size_t nroutes = sizeof(routes) / sizeof(routes[0]);
