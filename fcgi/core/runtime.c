/* runtime: one loader for the worker and `usermgr-admin check-config`, so the check cannot drift. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "cache.h"
#include "ctx.h"
#include "db.h"
#include "log.h"
#include "runtime.h"
#include "template.h"
#include "validate.h"

enum um_err
runtime_load(struct runtime *rt, conf_getenv_fn *get, char *err, size_t errlen)
{
	char terr[512];

	memset(rt, 0, sizeof(*rt));
	if (conf_load(&rt->conf, get, 1, err, errlen) != UM_OK)
		return UM_EINVAL;
	log_set_level((enum log_level)rt->conf.log_level);
	if (keys_init(&rt->keys, &rt->conf) != UM_OK) {
		(void)snprintf(err, errlen, "cannot derive keys from USERMGR_SECRET_KEY");
		goto fail;
	}
	/* Templates are parsed once here, never per request. */
	if ((rt->tmpl = tmpl_set_load(rt->conf.template_dir, terr, sizeof(terr))) == NULL) {
		(void)snprintf(err, errlen, "templates in %s: %s", rt->conf.template_dir, terr);
		goto fail;
	}
	/* The password policy refuses nothing common without its list: no list, no worker. */
	if (validate_load_common(rt->conf.common_passwords) != UM_OK) {
		(void)snprintf(err, errlen,
		    "cannot load the common-password list %s "
		    "(USERMGR_COMMON_PASSWORDS)",
		    rt->conf.common_passwords);
		goto fail;
	}
	/* Connecting is lazy: a worker starts and answers 503 while MariaDB is down. */
	rt->db = db_open(&rt->conf);
	/*
	 * Never fatal: an unusable file leaves the cache off.  Nothing is opened before the
	 * first use, so check-config, which loads this too, creates no file.
	 */
	rt->cache = cache_open(rt->conf.cache_file, (size_t)rt->conf.cache_mb << 20);
	return UM_OK;
fail:
	runtime_free(rt);
	return UM_EINVAL;
}

void
runtime_free(struct runtime *rt)
{
	if (rt == NULL)
		return;
	cache_close(rt->cache);
	db_close(rt->db);
	tmpl_set_free(rt->tmpl);
	validate_unload_common();
	keys_wipe(&rt->keys);
	conf_free(&rt->conf);
	memset(rt, 0, sizeof(*rt));
}

void
runtime_ctx(struct runtime *rt, struct arena *a, struct ctx *ctx)
{
	memset(ctx, 0, sizeof(*ctx));
	ctx->arena = a;
	ctx->db = rt->db;
	ctx->conf = &rt->conf;
	ctx->keys = &rt->keys;
	ctx->tmpl = rt->tmpl;
	ctx->cache = rt->cache;
}
