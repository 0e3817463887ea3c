/* link: mailed-link JWTs — purpose in aud, state binding in a claim, so each link dies with its state. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/rand.h>

#include "ctx.h"
#include "arena.h"
#include "b64.h"
#include "jwt.h"
#include "keys.h"
#include "link.h"
#include "conf.h"
#include "validate.h"

static const struct {
	const char	*aud;	/* API.md §5 */
	const char	*path;
	long long	 ttl;	/* seconds */
} purposes[LINK__MAX] = {
	[LINK_VERIFY_EMAIL] = { "usermgr:verify_email", "/verify-email", 24 * 3600 },
	[LINK_RESET_PASSWORD] = { "usermgr:reset_password", "/reset-password", 3600 },
	[LINK_CHANGE_EMAIL] = { "usermgr:change_email", "/confirm-email", 24 * 3600 },
};

char *
link_token(struct ctx *ctx, enum link_purpose p, long long user_id, const char *email,
    const char *bind)
{
	const struct keyset	*ks = &ctx->keys->set[0];
	struct jwt_key		 k = { ks->kid, ks->k[KEY_JWT], KEY_LEN };
	unsigned char		 jti[12];
	char			 sub[24], jtis[B64URL_LEN(12) + 1];
	long long		 now = (long long)time(NULL);
	json_t			*claims;
	char			*tok;

	if (RAND_bytes(jti, sizeof(jti)) != 1)
		return NULL;
	(void)b64url_encode(jtis, jti, sizeof(jti));
	(void)snprintf(sub, sizeof(sub), "%lld", user_id);
	claims = json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:s}", "iss", "usermgr",
	    "aud", purposes[p].aud, "sub", sub, "email", email, "bind", bind,
	    "iat", (json_int_t)now, "exp", (json_int_t)(now + purposes[p].ttl), "jti", jtis);
	tok = jwt_sign(ctx->arena, &k, claims);
	json_decref(claims);
	return tok;
}

char *
link_url(struct ctx *ctx, enum link_purpose p, const char *token)
{
	/* A JWT is base64url and dots: nothing in it needs percent-encoding in a query. */
	return arena_printf(ctx->arena, "%s%s?token=%s", ctx->conf->base_url,
	    purposes[p].path, token);
}

enum um_err
link_verify(struct ctx *ctx, enum link_purpose p, const char *token, long long *user_id,
    const char **email, const char **bind)
{
	const struct keyring	*r = ctx->keys;
	struct jwt_key		 keys[1 + CONF_OLD_KEYS_MAX];
	json_t			*claims, *sub, *em, *bd;
	long long		 id;
	size_t			 i;
	enum um_err		 rc;

	for (i = 0; i < r->n; i++) {
		keys[i].kid = r->set[i].kid;
		keys[i].key = r->set[i].k[KEY_JWT];
		keys[i].len = KEY_LEN;
	}
	if ((rc = jwt_verify(ctx->arena, token, keys, r->n, purposes[p].aud,
	    (long long)time(NULL), &claims)) != UM_OK)
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
