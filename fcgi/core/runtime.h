/* runtime: what every program loads once — configuration, keys, templates, password list, database. */
#ifndef UM_RUNTIME_H
#define UM_RUNTIME_H

#include <stddef.h>

#include "conf.h"
#include "keys.h"

struct arena;
struct cache;
struct ctx;
struct db;
struct tmpl_set;

struct runtime {
	struct conf      conf;
	struct keyring   keys; /* HKDF sub-keys of the current and retired secrets */
	struct db       *db;   /* connected lazily by the first statement */
	struct tmpl_set *tmpl;
	struct cache    *cache; /* the host-local cache; NULL when USERMGR_CACHE_MB is 0 */
};

/*
 * Loads configuration (keys required), derives the keys, parses every template and loads the
 * common-password list: what a worker needs before it may answer, so check-config calls it
 * too.  On failure writes a message naming what is wrong into err (never a secret) and
 * leaves nothing allocated.
 */
enum um_err runtime_load(struct runtime *, conf_getenv_fn *, char *, size_t);
void        runtime_free(struct runtime *); /* accepts NULL */
/* A context borrowing rt's stores, with arena for what calls return; nobody acting. */
void runtime_ctx(struct runtime *, struct arena *, struct ctx *);

#endif
