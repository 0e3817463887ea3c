/* link: mailed-link JWTs — purpose in aud, state binding in a claim, so each link dies with its state. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "arena.h"
#include "conf.h"
#include "ctx.h"
#include "jwt.h"
#include "link.h"
#include "validate.h"

#define LINK_JTI_BYTES 12

static const struct {
	const char *aud; /* API.md §5 */
	const char *path;
	long long   ttl; /* seconds */
} purposes[LINK__MAX] = {
	[LINK_VERIFY_EMAIL] = { "usermgr:verify_email", "/verify-email", 24 * 3600 },
	[LINK_RESET_PASSWORD] = { "usermgr:reset_password", "/reset-password", 3600 },
	[LINK_CHANGE_EMAIL] = { "usermgr:change_email", "/confirm-email", 24 * 3600 },
	[LINK_NOT_ME] = { "usermgr:not_me", "/account/not-me", 7 * 24 * 3600 },
};

char *
link_token(struct ctx *ctx, enum link_purpose p, long long user_id, const char *email,
    const char *bind)
{
	char      sub[24];
	long long now = (long long)time(NULL);
	json_t   *claims;
	char     *tok;

	(void)snprintf(sub, sizeof(sub), "%lld", user_id);
	claims = json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:I}", "iss", "usermgr", "aud",
	    purposes[p].aud, "sub", sub, "email", email, "bind", bind, "iat", (json_int_t)now,
	    "exp", (json_int_t)(now + purposes[p].ttl));
	tok = jwt_sign_ring(ctx->arena, ctx->keys, claims, LINK_JTI_BYTES);
	json_decref(claims);
	return tok;
}

long long
link_lifetime(enum link_purpose p)
{
	return purposes[p].ttl;
}

char *
link_url(struct ctx *ctx, enum link_purpose p, const char *token)
{
	/* A JWT is base64url and dots: nothing in it needs percent-encoding in a query. */
	return arena_printf(ctx->arena, "%s%s?token=%s", ctx->conf->base_url, purposes[p].path,
	    token);
}

enum um_err
link_verify(struct ctx *ctx, enum link_purpose p, const char *token, long long *user_id,
    const char **email, const char **bind)
{
	json_t     *claims, *sub, *em, *bd;
	long long   id;
	enum um_err rc;

	if ((rc = jwt_verify_ring(ctx->arena, ctx->keys, token, purposes[p].aud, &claims)) !=
	    UM_OK)
		return rc;
	sub = json_object_get(claims, "sub");
	em = json_object_get(claims, "email");
	bd = json_object_get(claims, "bind");
	if (!json_is_string(sub) || !json_is_string(em) || !json_is_string(bd))
		return UM_ETOKEN;
	if ((id = validate_id(json_string_value(sub))) == 0)
		return UM_ETOKEN;
	*user_id = id;
	*email = json_string_value(em);
	*bind = json_string_value(bd);
	return UM_OK;
}
