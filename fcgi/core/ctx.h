/* ctx: what a service call needs — stores, keys, templates, and who acts from where — without HTTP. */
#ifndef UM_CTX_H
#define UM_CTX_H

#include "revocation.h"

struct arena;
struct cache;
struct conf;
struct db;
struct keyring;
struct tmpl_set;

/*
 * Built by each program from its own state (runtime_ctx): the worker per request, the CLI
 * and the mailer once.  Everything is borrowed; what a service returns lives in arena.
 */
struct ctx {
	struct arena          *arena;
	struct db             *db;
	const struct conf     *conf;
	const struct keyring  *keys;
	const struct tmpl_set *tmpl;       /* mail templates (notify.c) */
	long long              actor;      /* the signed-in user acting; 0 for nobody */
	const char            *ip;         /* client address for audit and limits; NULL outside
						 * a request (the CLI) */
	const char            *user_agent; /* recorded with new sessions and API logins */
	const char            *via;        /* set by the CLI: added to audit details as "via" */
	long long              session;    /* id of the browser session this request started
						 * or runs in (browser.c), for the sign-in alert's
						 * "This was not me"; 0 for none */
	struct cache          *cache;      /* the host-local cache (fastpath.c); NULL: off */
	/* What this request wrote to the revocation log, for the cache (revocation.c). */
	struct revocation_notes revoked;
};

#endif
