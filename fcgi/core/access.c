/* access: JWT access tokens whose every use re-checks the user and the family in one query. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "access.h"
#include "conf.h"
#include "ctx.h"
#include "jwt.h"
#include "keys.h"
#include "validate.h"

#define ACCESS_AUD       "usermgr"
#define ACCESS_JTI_BYTES 16

char *
access_issue(struct ctx *ctx, const struct user *u, const json_t *roles, long long sid,
    long long *ttl)
{
	char      sub[24], sids[24];
	long long now = (long long)time(NULL);
	json_t   *claims;
	char     *tok;

	(void)snprintf(sub, sizeof(sub), "%lld", u->id);
	(void)snprintf(sids, sizeof(sids), "%lld", sid);
	*ttl = ctx->conf->access_token_seconds;
	claims = json_pack("{s:s, s:s, s:s, s:O, s:I, s:I, s:s, s:I}", "iss", "usermgr", "aud",
	    ACCESS_AUD, "sub", sub, "roles", roles, "iat", (json_int_t)now, "exp",
	    (json_int_t)(now + *ttl), "sid", sids, "ver", (json_int_t)u->token_version);
	tok = jwt_sign_ring(ctx->arena, ctx->keys, claims, ACCESS_JTI_BYTES);
	json_decref(claims);
	return tok;
}

/* A decimal id claim ("42") → 42, or -1. */
static long long
id_claim(const json_t *v)
{
	long long id;

	return json_is_string(v) && (id = validate_id(json_string_value(v))) > 0 ? id : -1;
}

enum um_err
access_verify(struct ctx *ctx, const char *token, struct auth *out)
{
	json_t     *claims, *roles, *ver;
	long long   uid, sid;
	int         live;
	enum um_err rc;

	if (token == NULL || *token == '\0')
		return UM_EUNAUTH;
	if ((rc = jwt_verify_ring(ctx->arena, ctx->keys, token, ACCESS_AUD, &claims)) != UM_OK)
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
	json_t *v;
	size_t  i;

	json_array_foreach(a->roles, i,
	    v) if (json_is_string(v) && strcmp(json_string_value(v), role) == 0) return 1;
	return 0;
}
