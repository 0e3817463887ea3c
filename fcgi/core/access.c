/* access: JWT access tokens whose every use re-checks the user and the family in one query. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/rand.h>

#include "access.h"
#include "ctx.h"
#include "arena.h"
#include "b64.h"
#include "jwt.h"
#include "keys.h"
#include "validate.h"

#define ACCESS_AUD	"usermgr"

char *
access_issue(struct ctx *ctx, const struct user *u, const json_t *roles, long long sid,
    long long *ttl)
{
	const struct keyset	*ks = &ctx->keys->set[0];
	struct jwt_key		 k = { ks->kid, ks->k[KEY_JWT], KEY_LEN };
	unsigned char		 jti[16];
	char			 sub[24], sids[24], jtis[B64URL_LEN(16) + 1];
	long long		 now = (long long)time(NULL);
	json_t			*claims;
	char			*tok;

	if (RAND_bytes(jti, sizeof(jti)) != 1)
		return NULL;
	(void)b64url_encode(jtis, jti, sizeof(jti));
	(void)snprintf(sub, sizeof(sub), "%lld", u->id);
	(void)snprintf(sids, sizeof(sids), "%lld", sid);
	*ttl = ctx->conf->access_token_seconds;
	claims = json_pack("{s:s, s:s, s:s, s:O, s:I, s:I, s:s, s:s, s:I}", "iss", "usermgr",
	    "aud", ACCESS_AUD, "sub", sub, "roles", roles, "iat", (json_int_t)now,
	    "exp", (json_int_t)(now + *ttl), "jti", jtis, "sid", sids,
	    "ver", (json_int_t)u->token_version);
	tok = jwt_sign(ctx->arena, &k, claims);
	json_decref(claims);
	return tok;
}

/* A decimal id claim ("42") → 42, or -1. */
static long long
id_claim(const json_t *v)
{
	long long	 id;

	return json_is_string(v) && (id = validate_id(json_string_value(v))) > 0 ? id : -1;
}

enum um_err
access_verify(struct ctx *ctx, const char *token, struct auth *out)
{
	const struct keyring	*r = ctx->keys;
	struct jwt_key		 keys[1 + CONF_OLD_KEYS_MAX];
	json_t			*claims, *roles, *ver;
	long long		 uid, sid;
	size_t			 i;
	int			 live;
	enum um_err		 rc;

	if (token == NULL || *token == '\0')
		return UM_EUNAUTH;
	for (i = 0; i < r->n; i++) {
		keys[i].kid = r->set[i].kid;
		keys[i].key = r->set[i].k[KEY_JWT];
		keys[i].len = KEY_LEN;
	}
	if ((rc = jwt_verify(ctx->arena, token, keys, r->n, ACCESS_AUD, (long long)time(NULL),
	    &claims)) != UM_OK)
		return rc;
	uid = id_claim(json_object_get(claims, "sub"));
	sid = id_claim(json_object_get(claims, "sid"));
	roles = json_object_get(claims, "roles");
	ver = json_object_get(claims, "ver");
	if (uid < 0 || sid < 0 || !json_is_array(roles) || !json_is_integer(ver))
		return UM_ETOKEN;
	if ((rc = user_for_token(ctx->db, ctx->arena, uid, sid, &out->user, &live)) != UM_OK)
		return rc == UM_ENOTFOUND ? UM_ETOKEN : rc;
	/* Revocation is immediate (API.md §7): disabled, password changed, family revoked. */
	if (!live || strcmp(out->user.status, "active") != 0 ||
	    out->user.token_version != json_integer_value(ver))
		return UM_ETOKEN;
	out->sid = sid;
	out->roles = roles;
	return UM_OK;
}

int
access_has_role(const struct auth *a, const char *role)
{
	json_t	*v;
	size_t	 i;

	json_array_foreach(a->roles, i, v)
		if (json_is_string(v) && strcmp(json_string_value(v), role) == 0)
			return 1;
	return 0;
}
