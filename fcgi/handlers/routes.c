/* routes: the one static route table; order matters only between patterns that overlap. */
#include "config.h"

#include <stddef.h>

#include "handlers.h"
#include "request.h"
#include "router.h"
#include "routes.h"

const struct route routes[] = {
	/* methods	pattern		handler		flags */
	{ HTTP_GET,	"/",		page_home,	0 },
	{ HTTP_GET,	"/healthz",	ops_healthz,	0 },
	{ HTTP_GET,	"/readyz",	ops_readyz,	0 },
};

const size_t nroutes = sizeof(routes) / sizeof(routes[0]);
