/* access: JWT access tokens whose every use re-checks the user and the family — in one query, or in the host's cache while it is trusted. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "access.h"
#include "arena.h"
#include "cache.h"
#include "conf.h"
#include "ctx.h"
#include "fastpath.h"
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

/* The cached user as user_for_token gives it, but for the hash and lockout it never keeps. */
static void
user_of(struct arena *a, const struct cache_user *cu, struct user *u)
{
	memset(u, 0, sizeof(*u));
	u->id = cu->id;
	u->username = arena_strdup(a, cu->username);
	u->email = arena_strdup(a, cu->email);
	u->display_name = cu->has_display_name ? arena_strdup(a, cu->display_name) : NULL;
	u->bio = cu->has_bio ? arena_strdup(a, cu->bio) : NULL;
	/* The ENUM has two words (sql/001_init.sql); the entry keeps which. */
	u->status = cu->active ? "active" : "disabled";
	u->email_verified = cu->email_verified;
	u->token_version = cu->token_version;
	u->mfa_enabled = cu->mfa_enabled;
	u->created_at = arena_strdup(a, cu->created_at);
	u->updated_at = arena_strdup(a, cu->updated_at);
	u->last_login_at = cu->has_last_login ? arena_strdup(a, cu->last_login_at) : NULL;
}

/*
 * The user and whether family sid is live for it, from the cache when both entries are
 * there (and the user's with its profile: GET /api/v1/me answers it), else from MariaDB,
 * filling the cache with what exists.
 */
static enum um_err
load(struct ctx *ctx, enum access_need need, long long uid, long long sid, struct user *u,
    int *live)
{
	struct cache       *c = need == ACCESS_CHECK ? fastpath_cache(ctx) : NULL;
	struct cache_user   cu;
	struct cache_family cf;
	uint64_t            epoch;
	enum um_err         rc;

	if (c != NULL && cache_user_get(c, uid, &cu) && cu.has_profile &&
	    cache_family_get(c, sid, &cf)) {
		user_of(ctx->arena, &cu, u);
		/* As the query: the family must be the user's and not revoked. */
		*live = cf.alive && cf.user_id == uid;
		return UM_OK;
	}
	/* Before the read: a drop between it and the fill makes the fill refuse (cache.h). */
	epoch = cache_epoch(c);
	if ((rc = user_for_token(ctx->db, ctx->arena, uid, sid, u, live)) != UM_OK)
		return rc;
	/*
	 * Only what exists: the user whatever its status, the family only while live (a
	 * dead one is no entry, so a miss reads it again — and finds it dead).
	 */
	if (c != NULL) {
		(void)cache_user_fill(c, epoch, u);
		if (*live)
			(void)cache_family_fill(c, epoch, sid, uid, 1);
	}
	return UM_OK;
}

enum um_err
access_verify(struct ctx *ctx, const char *token, enum access_need need, struct auth *out)
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
	if ((rc = load(ctx, need, uid, sid, &out->user, &live)) != UM_OK)
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
