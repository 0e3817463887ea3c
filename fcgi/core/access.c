/* access: JWT access tokens whose every use re-checks the user and the family — in one query, or in the host's cache while it is trusted. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <sodium.h>

#include "access.h"
#include "arena.h"
#include "buf.h"
#include "cache.h"
#include "conf.h"
#include "ctx.h"
#include "fastpath.h"
#include "json.h"
#include "jwt.h"
#include "keys.h"
#include "session.h"
#include "validate.h"

#define ACCESS_AUD "usermgr"
/* A client's tokens: another audience, so the JSON API (ACCESS_AUD) never accepts one. */
#define ACCESS_CLIENT_AUD "usermgr-oidc"
#define ACCESS_JTI_BYTES  16
#define MEMO_SLOTS        512 /* tokens remembered per process (a few hundred KiB at most) */
#define MEMO_ROLES_MAX    256 /* bytes of a role list worth a slot */

/* The claims of either audience's token; client and scope only for a client's. */
static char *
issue(struct ctx *ctx, const struct user *u, const json_t *roles, long long sid,
    const char *aud, const char *client_id, const char *scope, long long *ttl)
{
	char      sub[24], sids[24];
	long long now = (long long)time(NULL);
	json_t   *claims;
	char     *tok;

	(void)snprintf(sub, sizeof(sub), "%lld", u->id);
	(void)snprintf(sids, sizeof(sids), "%lld", sid);
	*ttl = ctx->conf->access_token_seconds;
	claims = json_pack("{s:s, s:s, s:s, s:O, s:I, s:I, s:s, s:I}", "iss", "usermgr", "aud",
	    aud, "sub", sub, "roles", roles, "iat", (json_int_t)now, "exp",
	    (json_int_t)(now + *ttl), "sid", sids, "ver", (json_int_t)u->token_version);
	if (client_id != NULL) {
		json_object_set_new(claims, "client_id", json_string(client_id));
		json_object_set_new(claims, "scope", json_string(scope));
	}
	tok = jwt_sign_ring(ctx->arena, ctx->keys, claims, ACCESS_JTI_BYTES);
	json_decref(claims);
	return tok;
}

char *
access_issue(struct ctx *ctx, const struct user *u, const json_t *roles, long long sid,
    long long *ttl)
{
	return issue(ctx, u, roles, sid, ACCESS_AUD, NULL, NULL, ttl);
}

char *
access_issue_client(struct ctx *ctx, const struct user *u, const json_t *roles, long long sid,
    const char *client_id, const char *scope, long long *ttl)
{
	return issue(ctx, u, roles, sid, ACCESS_CLIENT_AUD, client_id, scope, ttl);
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

/* What a verified access token says. */
struct claims {
	long long   exp, uid, sid, ver;
	json_t     *roles;
	const char *role_list; /* the same, comma-joined */
};

/*
 * Verified tokens remembered by a keyed BLAKE2b of their bytes: a client, or nginx's
 * auth_request in front of every page and asset, sends the same token many times, and
 * decoding and verifying it was a quarter of a /auth/check.  Only what cannot change for
 * given bytes is kept (signature good, claims well formed, expiry); whether the token still
 * counts (user, token_version, family) is asked on every use.  Per process, as the keys
 * are, so nothing to share or lock; a slot is overwritten by the next token hashed to it.
 */
struct memo {
	unsigned char digest[crypto_generichash_BYTES];
	struct claims c;                         /* c.roles: a reference of the memo's own */
	char          role_list[MEMO_ROLES_MAX]; /* c.role_list points here */
};

static struct memo   memo[MEMO_SLOTS];
static unsigned char memo_key[crypto_generichash_KEYBYTES];
static int           memo_keyed;

/*
 * The token's slot, with its digest in d; NULL when libsodium cannot start (no memo).  The
 * verifying keys are hashed in too: under another key ring the same bytes are another token.
 */
static struct memo *
memo_slot(const struct keyring *r, const char *token, size_t n,
    unsigned char d[crypto_generichash_BYTES])
{
	crypto_generichash_state st;
	uint32_t                 at;
	size_t                   i;

	if (!memo_keyed) {
		if (sodium_init() < 0)
			return NULL;
		randombytes_buf(memo_key, sizeof(memo_key));
		memo_keyed = 1;
	}
	(void)crypto_generichash_init(&st, memo_key, sizeof(memo_key),
	    crypto_generichash_BYTES);
	for (i = 0; i < r->n; i++)
		(void)crypto_generichash_update(&st, r->set[i].k[KEY_JWT], KEY_LEN);
	(void)crypto_generichash_update(&st, (const unsigned char *)token, n);
	(void)crypto_generichash_final(&st, d, crypto_generichash_BYTES);
	memcpy(&at, d, sizeof(at));
	return &memo[at % MEMO_SLOTS];
}

/* The string members of a roles claim, comma-joined, in the arena. */
static const char *
join_roles(struct arena *a, const json_t *roles)
{
	struct buf b;
	json_t    *v;
	size_t     i;

	buf_init(&b, a);
	buf_puts(&b, "");
	json_array_foreach(roles, i, v)
	{
		if (!json_is_string(v))
			continue;
		if (b.len > 0)
			buf_putc(&b, ',');
		buf_puts(&b, json_string_value(v));
	}
	return b.data;
}

static void
memo_put(struct memo *m, const unsigned char d[crypto_generichash_BYTES],
    const struct claims *c)
{
	size_t n = strlen(c->role_list);

	if (m == NULL || n >= sizeof(m->role_list))
		return; /* valid, but not worth a bigger slot */
	json_decref(m->c.roles);
	memcpy(m->digest, d, sizeof(m->digest));
	m->c = *c;
	m->c.roles = json_incref(c->roles);
	memcpy(m->role_list, c->role_list, n + 1);
	m->c.role_list = m->role_list;
}

/* The claims of a token: from the memo, or verified now and remembered. */
static enum um_err
claims_of(struct ctx *ctx, const char *token, struct claims *out)
{
	unsigned char d[crypto_generichash_BYTES];
	struct memo  *m = NULL;
	json_t       *claims, *ver;
	size_t        n = strlen(token);
	enum um_err   rc;

	if (n <= JWT_MAX && (m = memo_slot(ctx->keys, token, n, d)) != NULL &&
	    m->c.roles != NULL && CRYPTO_memcmp(m->digest, d, sizeof(d)) == 0) {
		*out = m->c;
		/* The request's own: a later token may take the slot while it runs. */
		out->roles = json_arena(ctx->arena, json_incref(m->c.roles));
		out->role_list = arena_strdup(ctx->arena, m->role_list);
		return out->exp <= (long long)time(NULL) ? UM_EEXPIRED : UM_OK;
	}
	if ((rc = jwt_verify_ring(ctx->arena, ctx->keys, token, ACCESS_AUD, &claims)) != UM_OK)
		return rc;
	out->uid = id_claim(json_object_get(claims, "sub"));
	out->sid = id_claim(json_object_get(claims, "sid"));
	out->roles = json_object_get(claims, "roles");
	ver = json_object_get(claims, "ver");
	if (out->uid < 0 || out->sid < 0 || !json_is_array(out->roles) || !json_is_integer(ver))
		return UM_ETOKEN;
	out->ver = json_integer_value(ver);
	out->exp = json_integer_value(json_object_get(claims, "exp"));
	out->role_list = join_roles(ctx->arena, out->roles);
	memo_put(m, d, out);
	return UM_OK;
}

/* Whether a token's claims still count: the user, its token_version and the family. */
static enum um_err
still_valid(struct ctx *ctx, enum access_need need, const struct claims *c, struct auth *out)
{
	int         live;
	enum um_err rc;

	if ((rc = load(ctx, need, c->uid, c->sid, &out->user, &live)) != UM_OK)
		return rc == UM_ENOTFOUND ? UM_ETOKEN : rc;
	/* Revocation is immediate (API.md §7): disabled, password changed, family revoked. */
	if (!live || strcmp(out->user.status, "active") != 0 ||
	    out->user.token_version != c->ver)
		return UM_ETOKEN;
	out->sid = c->sid;
	out->roles = c->roles;
	out->role_list = c->role_list;
	return UM_OK;
}

enum um_err
access_verify(struct ctx *ctx, const char *token, enum access_need need, struct auth *out)
{
	struct claims c;
	enum um_err   rc;

	if (token == NULL || *token == '\0')
		return UM_EUNAUTH;
	if ((rc = claims_of(ctx, token, &c)) != UM_OK)
		return rc;
	return still_valid(ctx, need, &c, out);
}

enum um_err
access_verify_client(struct ctx *ctx, const char *token, struct auth *out,
    struct access_client *cl)
{
	struct claims c;
	json_t       *claims, *ver;
	enum um_err   rc;

	if (token == NULL || *token == '\0')
		return UM_EUNAUTH;
	if ((rc = jwt_verify_ring(ctx->arena, ctx->keys, token, ACCESS_CLIENT_AUD, &claims)) !=
	    UM_OK)
		return rc;
	c.uid = id_claim(json_object_get(claims, "sub"));
	c.sid = id_claim(json_object_get(claims, "sid"));
	c.roles = json_object_get(claims, "roles");
	ver = json_object_get(claims, "ver");
	cl->client_id = json_string_value(json_object_get(claims, "client_id"));
	cl->scope = json_string_value(json_object_get(claims, "scope"));
	cl->exp = json_integer_value(json_object_get(claims, "exp"));
	cl->iat = json_integer_value(json_object_get(claims, "iat"));
	if (c.uid < 0 || c.sid < 0 || !json_is_array(c.roles) || !json_is_integer(ver) ||
	    cl->client_id == NULL || cl->scope == NULL)
		return UM_ETOKEN;
	c.ver = json_integer_value(ver);
	c.exp = cl->exp;
	c.role_list = join_roles(ctx->arena, c.roles);
	return still_valid(ctx, ACCESS_CHECK, &c, out);
}

int
access_has_role(const struct auth *a, const char *role)
{
	return role_listed(a->role_list, role);
}
