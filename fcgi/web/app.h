/* app: what a worker builds once and every request borrows — configuration, database, templates. */
#ifndef UM_APP_H
#define UM_APP_H

#include "conf.h"
#include "keys.h"

struct db;
struct request;
struct response;
struct tmpl_set;

struct app {
	struct conf	 conf;
	struct keyring	 keys;		/* HKDF sub-keys of the current and retired secrets */
	struct db	*db;
	struct tmpl_set	*tmpl;
};

/* Loads config, templates and opens the database handle; err gets a message on failure. */
enum um_err	app_init(struct app *, conf_getenv_fn *, char *, size_t);
void		app_free(struct app *);

/*
 * Handles one request end to end: route, front-door checks (API.md §7 order), handler,
 * into resp.  The body must already be in req (the caller enforces UM_BODY_MAX first).
 */
void		app_handle(struct request *, struct response *);

#endif
