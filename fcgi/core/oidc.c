/* oidc: the provider's state in MariaDB — clients, consents, single-use codes — and the claims its tokens carry. */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "arena.h"
#include "audit.h"
#include "b64.h"
#include "buf.h"
#include "conf.h"
#include "ctx.h"
#include "db.h"
#include "json.h"
#include "log.h"
#include "oidc.h"
#include "refresh.h"
#include "signkey.h"
#include "token.h"
#include "user.h"
#include "utf8.h"

const char *const oidc_scopes[] = { "openid", "profile", "email", "roles", "offline_access",
	NULL };

int
oidc_has_word(const char *list, const char *word)
{
	size_t      n = strlen(word);
	const char *p = list;

	while (p != NULL && *p != '\0') {
		while (*p == ' ')
			p++;
		if (strncmp(p, word, n) == 0 && (p[n] == ' ' || p[n] == '\0'))
			return 1;
		p = strchr(p, ' ');
	}
	return 0;
}

int
oidc_scopes_within(const char *want, const char *have)
{
	size_t      i;
	const char *p = want;
	char        word[32];

	while (*p != '\0') {
		while (*p == ' ')
			p++;
		for (i = 0; p[i] != '\0' && p[i] != ' '; i++)
			;
		if (i == 0)
			break;
		if (i >= sizeof(word))
			return 0;
		memcpy(word, p, i);
		word[i] = '\0';
		if (!oidc_has_word(have, word))
			return 0;
		p += i;
	}
	return 1;
}

int
oidc_uri_listed(const json_t *list, const char *uri)
{
	size_t  i;
	json_t *v;

	/* Exact string comparison (OAuth 2.0 Security BCP §4.1.3): no prefix, no normalising. */
	json_array_foreach(list, i,
	    v) if (json_is_string(v) && strcmp(json_string_value(v), uri) == 0) return 1;
	return 0;
}

#define CLIENT_COLUMNS \
	"client_id, name, type = 'confidential', redirect_uris, post_logout_redirect_uris," \
	" scopes, skip_consent, DATE_FORMAT(created_at, '%Y-%m-%dT%H:%i:%sZ')," \
	" DATE_FORMAT(updated_at, '%Y-%m-%dT%H:%i:%sZ'), secret_hash"

static void
client_from_row(struct ctx *ctx, const struct db_res *res, size_t i, struct oidc_client *c)
{
	const struct db_val *h = DB_CELL(res, i, 9);

	memset(c, 0, sizeof(*c));
	c->client_id = DB_CELL(res, i, 0)->s;
	c->name = DB_CELL(res, i, 1)->s;
	c->confidential = DB_CELL(res, i, 2)->i != 0;
	c->redirect_uris = json_arena(ctx->arena, json_loads(DB_CELL(res, i, 3)->s, 0, NULL));
	c->post_logout_redirect_uris = json_arena(ctx->arena,
	    json_loads(DB_CELL(res, i, 4)->s, 0, NULL));
	if (c->redirect_uris == NULL)
		c->redirect_uris = json_arena(ctx->arena, json_array());
	if (c->post_logout_redirect_uris == NULL)
		c->post_logout_redirect_uris = json_arena(ctx->arena, json_array());
	c->scopes = DB_CELL(res, i, 5)->s;
	c->skip_consent = DB_CELL(res, i, 6)->i != 0;
	c->created_at = DB_CELL(res, i, 7)->s;
	c->updated_at = DB_CELL(res, i, 8)->s;
	if (h->type == DB_BLOB && h->len == sizeof(c->secret_hash))
		memcpy(c->secret_hash, h->s, sizeof(c->secret_hash));
}

/* The space-separated scopes as a JSON array of strings. */
static json_t *
scope_array(const char *s)
{
	json_t     *a = json_array();
	const char *p = s, *e;

	while (p != NULL && *p != '\0') {
		while (*p == ' ')
			p++;
		if (*p == '\0')
			break;
		e = strchr(p, ' ');
		json_array_append_new(a,
		    json_stringn(p, e != NULL ? (size_t)(e - p) : strlen(p)));
		p = e;
	}
	return a;
}

json_t *
oidc_client_json(const struct oidc_client *c)
{
	return json_pack("{s:s, s:s, s:s, s:O, s:O, s:o, s:b, s:s, s:s}", "client_id",
	    c->client_id, "name", c->name, "type", c->confidential ? "confidential" : "public",
	    "redirect_uris", c->redirect_uris, "post_logout_redirect_uris",
	    c->post_logout_redirect_uris, "scopes", scope_array(c->scopes), "skip_consent",
	    c->skip_consent, "created_at", c->created_at, "updated_at", c->updated_at);
}

static const char sql_client[] = "SELECT " CLIENT_COLUMNS
                                 " FROM oauth_clients WHERE client_id = ?";
static const char sql_clients[] = "SELECT " CLIENT_COLUMNS
                                  " FROM oauth_clients ORDER BY created_at, client_id";

enum um_err
oidc_client_get(struct ctx *ctx, const char *id, struct oidc_client *c)
{
	struct db_val p[1];
	struct db_res res;
	enum um_err   rc;

	if (id == NULL || *id == '\0' || strlen(id) > 64)
		return UM_ENOTFOUND;
	p[0] = dbv_text(id);
	if ((rc = db_exec(ctx->db, ctx->arena, sql_client, p, 1, &res)) != UM_OK)
		return rc;
	if (res.nrows != 1)
		return UM_ENOTFOUND;
	client_from_row(ctx, &res, 0, c);
	return UM_OK;
}

enum um_err
oidc_client_list(struct ctx *ctx, json_t **out)
{
	struct db_res      res;
	struct oidc_client c;
	size_t             i;
	enum um_err        rc;

	*out = NULL;
	if ((rc = db_exec(ctx->db, ctx->arena, sql_clients, NULL, 0, &res)) != UM_OK)
		return rc;
	*out = json_array();
	for (i = 0; i < res.nrows; i++) {
		client_from_row(ctx, &res, i, &c);
		json_array_append_new(*out, oidc_client_json(&c));
	}
	return UM_OK;
}

/* 1 when s is an absolute http(s) URL without fragment, spaces or control characters. */
static int
uri_ok(const char *s)
{
	const unsigned char *p;
	size_t               n = strlen(s);

	if (n == 0 || n > OIDC_URI_MAX ||
	    (strncmp(s, "https://", 8) != 0 && strncmp(s, "http://", 7) != 0))
		return 0;
	if (s[strncmp(s, "https://", 8) == 0 ? 8 : 7] == '\0' ||
	    s[strncmp(s, "https://", 8) == 0 ? 8 : 7] == '/')
		return 0;
	for (p = (const unsigned char *)s; *p != '\0'; p++)
		if (*p <= 0x20 || *p >= 0x7f || *p == '#' || *p == '\\' || *p == '"' ||
		    *p == '<' || *p == '>')
			return 0;
	return 1;
}

static void
refuse(json_t *errors, const char *field, const char *message)
{
	json_array_append_new(errors,
	    json_pack("{s:s, s:s}", "field", field, "message", message));
}

static void
check_uris(json_t *errors, const json_t *v, const char *field, int need_one)
{
	size_t  i;
	json_t *u;

	if (!json_is_array(v)) {
		refuse(errors, field, "must be an array of absolute http or https URLs");
		return;
	}
	if (need_one && json_array_size(v) == 0)
		refuse(errors, field, "needs at least one URL");
	else if (json_array_size(v) > OIDC_URIS_MAX)
		refuse(errors, field, "holds more than 20 URLs");
	json_array_foreach(v, i, u) if (!json_is_string(u) || !uri_ok(json_string_value(u)))
	{
		refuse(errors, field,
		    "must be absolute http or https URLs without a fragment, each at most 2000 "
		    "characters");
		return;
	}
}

enum um_err
oidc_client_check(const json_t *body, int partial, json_t **errors)
{
	static const char *const known[] = { "name", "redirect_uris",
		"post_logout_redirect_uris", "type", "scopes", "skip_consent", NULL };
	const char              *key, *s;
	json_t                  *v, *e = json_array();
	size_t                   i, j = 0;

	*errors = NULL;
	if (!json_is_object(body)) {
		refuse(e, "body", "must be a JSON object");
		goto out;
	}
	json_object_foreach((json_t *)body, key, v)
	{
		for (j = 0; known[j] != NULL && strcmp(known[j], key) != 0; j++)
			;
		if (known[j] == NULL)
			refuse(e, key, "is not a client setting");
	}
	if ((v = json_object_get(body, "name")) != NULL || !partial) {
		s = json_string_value(v);
		if (s == NULL || *s == '\0' || utf8_valid(s, strlen(s)) == 0 ||
		    utf8_count(s, strlen(s)) > OIDC_NAME_MAX)
			refuse(e, "name", "is required, 1 to 100 characters");
	}
	if ((v = json_object_get(body, "redirect_uris")) != NULL || !partial)
		check_uris(e, v, "redirect_uris", 1);
	if ((v = json_object_get(body, "post_logout_redirect_uris")) != NULL)
		check_uris(e, v, "post_logout_redirect_uris", 0);
	if ((v = json_object_get(body, "type")) != NULL) {
		s = json_string_value(v);
		if (partial)
			refuse(e, "type", "cannot change: register a new client");
		else if (s == NULL ||
		    (strcmp(s, "confidential") != 0 && strcmp(s, "public") != 0))
			refuse(e, "type", "must be confidential or public");
	} else if (!partial)
		refuse(e, "type", "is required: confidential or public");
	if ((v = json_object_get(body, "scopes")) != NULL) {
		json_t *w;
		int     openid = 0;

		if (!json_is_array(v))
			refuse(e, "scopes", "must be an array of scope names");
		else {
			json_array_foreach(v, i, w)
			{
				for (j = 0; oidc_scopes[j] != NULL &&
				     (!json_is_string(w) ||
				         strcmp(oidc_scopes[j], json_string_value(w)) != 0);
				     j++)
					;
				if (oidc_scopes[j] == NULL) {
					refuse(e, "scopes",
					    "may hold only openid, profile, email, roles and "
					    "offline_access");
					break;
				}
				openid |= j == 0;
			}
			if (oidc_scopes[j] != NULL && !openid)
				refuse(e, "scopes", "must include openid");
		}
	}
	if ((v = json_object_get(body, "skip_consent")) != NULL && !json_is_boolean(v))
		refuse(e, "skip_consent", "must be true or false");
out:
	if (json_array_size(e) == 0) {
		json_decref(e);
		return UM_OK;
	}
	*errors = e;
	return UM_EINVAL;
}

/* The JSON text of an array member of body, or dflt. */
static char *
array_text(struct arena *a, const json_t *body, const char *key, const char *dflt)
{
	json_t *v = json_object_get(body, key);
	char   *s, *out;

	if (v == NULL)
		return arena_strdup(a, dflt);
	s = json_dumps(v, JSON_COMPACT);
	out = arena_strdup(a, s != NULL ? s : dflt);
	free(s);
	return out;
}

/* The scopes member as a space-separated list, or dflt. */
static char *
scopes_text(struct arena *a, const json_t *body, const char *dflt)
{
	json_t    *v = json_object_get(body, "scopes"), *w;
	struct buf b;
	size_t     i;

	if (v == NULL)
		return arena_strdup(a, dflt);
	buf_init(&b, a);
	buf_puts(&b, "");
	json_array_foreach(v, i, w)
	{
		if (oidc_has_word(b.data, json_string_value(w)))
			continue;
		if (b.len > 0)
			buf_putc(&b, ' ');
		buf_puts(&b, json_string_value(w));
	}
	return b.data;
}

static const char sql_client_insert[] =
    "INSERT INTO oauth_clients (client_id, name, type, secret_hash, redirect_uris,"
    " post_logout_redirect_uris, scopes, skip_consent) VALUES (?, ?, ?, ?, ?, ?, ?, ?)";

#define DEFAULT_SCOPES "openid profile email roles offline_access"

static json_t *
client_details(const char *id)
{
	return json_pack("{s:s}", "client_id", id);
}

enum um_err
oidc_client_create(struct ctx *ctx, const json_t *body, struct oidc_client *out,
    const char **secret)
{
	unsigned char hash[TOKEN_HASH_LEN];
	const char   *type = json_string_value(json_object_get(body, "type"));
	int           conf = type != NULL && strcmp(type, "confidential") == 0;
	char         *id = token_new(ctx->arena);
	struct db_val p[8];
	enum um_err   rc;
	int           own;

	/* 22 characters: 128 bits of the random token are plenty for a public name. */
	id[22] = '\0';
	*secret = NULL;
	if (conf) {
		*secret = token_new(ctx->arena);
		(void)token_hash(*secret, hash);
	}
	p[0] = dbv_text(id);
	p[1] = dbv_text(json_string_value(json_object_get(body, "name")));
	p[2] = dbv_text(conf ? "confidential" : "public");
	p[3] = conf ? DBV_BLOB(hash, sizeof(hash)) : DBV_NULL;
	p[4] = dbv_text(array_text(ctx->arena, body, "redirect_uris", "[]"));
	p[5] = dbv_text(array_text(ctx->arena, body, "post_logout_redirect_uris", "[]"));
	p[6] = dbv_text(scopes_text(ctx->arena, body, DEFAULT_SCOPES));
	p[7] = DBV_INT(json_is_true(json_object_get(body, "skip_consent")));
	if ((rc = db_join(ctx->db, &own)) != UM_OK)
		return rc;
	if ((rc = db_exec(ctx->db, ctx->arena, sql_client_insert, p, 8, NULL)) == UM_OK)
		rc = audit_log(ctx, AUDIT_OAUTH_CLIENT_CREATED, 0, ctx->actor,
		    client_details(id));
	if ((rc = db_leave(ctx->db, own, rc)) != UM_OK)
		return rc;
	return oidc_client_get(ctx, id, out);
}

static const char sql_client_update[] =
    "UPDATE oauth_clients SET name = ?, redirect_uris = ?, post_logout_redirect_uris = ?,"
    " scopes = ?, skip_consent = ?, updated_at = UTC_TIMESTAMP(6) WHERE client_id = ?";

enum um_err
oidc_client_update(struct ctx *ctx, const char *id, const json_t *body, struct oidc_client *out)
{
	struct oidc_client c;
	struct db_val      p[6];
	json_t            *v;
	char              *ru, *pl;
	enum um_err        rc;
	int                own;

	if ((rc = oidc_client_get(ctx, id, &c)) != UM_OK)
		return rc;
	ru = json_dumps(c.redirect_uris, JSON_COMPACT);
	pl = json_dumps(c.post_logout_redirect_uris, JSON_COMPACT);
	p[0] = dbv_text(json_object_get(body, "name") != NULL ?
	        json_string_value(json_object_get(body, "name")) :
	        c.name);
	p[1] = dbv_text(array_text(ctx->arena, body, "redirect_uris", ru != NULL ? ru : "[]"));
	p[2] = dbv_text(
	    array_text(ctx->arena, body, "post_logout_redirect_uris", pl != NULL ? pl : "[]"));
	free(ru);
	free(pl);
	p[3] = dbv_text(scopes_text(ctx->arena, body, c.scopes));
	v = json_object_get(body, "skip_consent");
	p[4] = DBV_INT(v != NULL ? json_is_true(v) : c.skip_consent);
	p[5] = dbv_text(id);
	if ((rc = db_join(ctx->db, &own)) != UM_OK)
		return rc;
	if ((rc = db_exec(ctx->db, ctx->arena, sql_client_update, p, 6, NULL)) == UM_OK)
		rc = audit_log(ctx, AUDIT_OAUTH_CLIENT_UPDATED, 0, ctx->actor,
		    client_details(id));
	if ((rc = db_leave(ctx->db, own, rc)) != UM_OK)
		return rc;
	return oidc_client_get(ctx, id, out);
}

static const char sql_client_secret[] =
    "UPDATE oauth_clients SET secret_hash = ?, updated_at = UTC_TIMESTAMP(6)"
    " WHERE client_id = ?";

enum um_err
oidc_client_rotate_secret(struct ctx *ctx, const char *id, const char **secret)
{
	struct oidc_client c;
	unsigned char      hash[TOKEN_HASH_LEN];
	struct db_val      p[2];
	enum um_err        rc;
	int                own;

	if ((rc = oidc_client_get(ctx, id, &c)) != UM_OK)
		return rc;
	if (!c.confidential)
		return UM_EINVAL;
	*secret = token_new(ctx->arena);
	(void)token_hash(*secret, hash);
	p[0] = DBV_BLOB(hash, sizeof(hash));
	p[1] = dbv_text(id);
	if ((rc = db_join(ctx->db, &own)) != UM_OK)
		return rc;
	if ((rc = db_exec(ctx->db, ctx->arena, sql_client_secret, p, 2, NULL)) == UM_OK)
		rc = audit_log(ctx, AUDIT_OAUTH_CLIENT_SECRET_ROTATED, 0, ctx->actor,
		    client_details(id));
	return db_leave(ctx->db, own, rc);
}

static const char sql_client_delete[] = "DELETE FROM oauth_clients WHERE client_id = ?";

enum um_err
oidc_client_delete(struct ctx *ctx, const char *id)
{
	struct oidc_client c;
	struct db_val      p[1];
	size_t             n;
	enum um_err        rc;
	int                own;

	if ((rc = oidc_client_get(ctx, id, &c)) != UM_OK)
		return rc;
	p[0] = dbv_text(id);
	if ((rc = db_join(ctx->db, &own)) != UM_OK)
		return rc;
	/* Tokens first, each with its revocation row: the families stay, revoked. */
	if ((rc = refresh_revoke_client(ctx, 0, id, "client_removed", &n)) == UM_OK &&
	    (rc = db_exec(ctx->db, ctx->arena, sql_client_delete, p, 1, NULL)) == UM_OK)
		rc = audit_log(ctx, AUDIT_OAUTH_CLIENT_DELETED, 0, ctx->actor,
		    json_pack("{s:s, s:I}", "client_id", id, "families_revoked",
		        (json_int_t)n));
	return db_leave(ctx->db, own, rc);
}

int
oidc_client_secret_ok(const struct oidc_client *c, const char *secret)
{
	unsigned char hash[TOKEN_HASH_LEN], zero[TOKEN_HASH_LEN] = { 0 };
	int           shaped = token_hash(secret, hash) == UM_OK;

	if (!c->confidential || CRYPTO_memcmp(c->secret_hash, zero, sizeof(zero)) == 0)
		return 0;
	return (CRYPTO_memcmp(c->secret_hash, hash, sizeof(hash)) == 0) & shaped;
}

static const char sql_consent[] =
    "SELECT scopes FROM oauth_consents WHERE user_id = ? AND client_id = ?";
static const char sql_consent_put[] =
    "INSERT INTO oauth_consents (user_id, client_id, scopes) VALUES (?, ?, ?)"
    " ON DUPLICATE KEY UPDATE scopes = VALUES(scopes), updated_at = UTC_TIMESTAMP(6)";

enum um_err
oidc_consent_get(struct ctx *ctx, long long uid, const char *client, const char **scopes)
{
	struct db_val p[2] = { DBV_INT(uid), dbv_text(client) };
	struct db_res res;
	enum um_err   rc;

	*scopes = NULL;
	if ((rc = db_exec(ctx->db, ctx->arena, sql_consent, p, 2, &res)) != UM_OK)
		return rc;
	if (res.nrows == 1)
		*scopes = DB_CELL(&res, 0, 0)->s;
	return UM_OK;
}

enum um_err
oidc_consent_grant(struct ctx *ctx, long long uid, const char *client, const char *scopes)
{
	const char   *had;
	struct buf    b;
	struct db_val p[3];
	enum um_err   rc;
	int           own;

	if ((rc = db_join(ctx->db, &own)) != UM_OK)
		return rc;
	if ((rc = oidc_consent_get(ctx, uid, client, &had)) != UM_OK)
		return db_leave(ctx->db, own, rc);
	/* A wider request adds to what was granted; nothing granted is taken away here. */
	buf_init(&b, ctx->arena);
	buf_puts(&b, had != NULL ? had : "");
	{
		json_t *a = scope_array(scopes), *w;
		size_t  i;

		json_array_foreach(a, i, w) if (!oidc_has_word(b.data, json_string_value(w)))
		{
			if (b.len > 0)
				buf_putc(&b, ' ');
			buf_puts(&b, json_string_value(w));
		}
		json_decref(a);
	}
	p[0] = DBV_INT(uid);
	p[1] = dbv_text(client);
	p[2] = dbv_text(b.data);
	if ((rc = db_exec(ctx->db, ctx->arena, sql_consent_put, p, 3, NULL)) == UM_OK)
		rc = audit_log(ctx, AUDIT_OAUTH_CONSENT_GRANTED, uid, uid,
		    json_pack("{s:s, s:s}", "client_id", client, "scopes", scopes));
	return db_leave(ctx->db, own, rc);
}

static const char sql_consents[] =
    "SELECT c.client_id, k.name, c.scopes, DATE_FORMAT(c.updated_at, '%Y-%m-%dT%H:%i:%sZ')"
    " FROM oauth_consents c JOIN oauth_clients k ON k.client_id = c.client_id"
    " WHERE c.user_id = ? ORDER BY k.name, c.client_id";

enum um_err
oidc_consent_list(struct ctx *ctx, long long uid, json_t **out)
{
	struct db_val p[1] = { DBV_INT(uid) };
	struct db_res res;
	size_t        i;
	enum um_err   rc;

	*out = NULL;
	if ((rc = db_exec(ctx->db, ctx->arena, sql_consents, p, 1, &res)) != UM_OK)
		return rc;
	*out = json_array();
	for (i = 0; i < res.nrows; i++)
		json_array_append_new(*out,
		    json_pack("{s:s, s:s, s:o, s:s}", "client_id", DB_CELL(&res, i, 0)->s,
		        "name", DB_CELL(&res, i, 1)->s, "scopes",
		        scope_array(DB_CELL(&res, i, 2)->s), "granted_at",
		        DB_CELL(&res, i, 3)->s));
	return UM_OK;
}

static const char sql_consent_delete[] =
    "DELETE FROM oauth_consents WHERE user_id = ? AND client_id = ?";

enum um_err
oidc_consent_revoke(struct ctx *ctx, long long uid, const char *client, int *found)
{
	struct db_val p[2] = { DBV_INT(uid), dbv_text(client) };
	struct db_res res;
	size_t        n = 0;
	enum um_err   rc;
	int           own;

	*found = 0;
	if ((rc = db_join(ctx->db, &own)) != UM_OK)
		return rc;
	if ((rc = db_exec(ctx->db, ctx->arena, sql_consent_delete, p, 2, &res)) == UM_OK &&
	    (*found = res.affected > 0) &&
	    (rc = refresh_revoke_client(ctx, uid, client, "consent_revoked", &n)) == UM_OK)
		rc = audit_log(ctx, AUDIT_OAUTH_CONSENT_REVOKED, uid, uid,
		    json_pack("{s:s, s:I}", "client_id", client, "families_revoked",
		        (json_int_t)n));
	return db_leave(ctx->db, own, rc);
}

static const char sql_code_insert[] =
    "INSERT INTO oauth_codes (code_hash, client_id, user_id, redirect_uri, code_challenge,"
    " nonce, scopes, auth_time, amr, session_id, expires_at)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, UTC_TIMESTAMP(6) + INTERVAL ? SECOND)";

static struct db_val
text_or_null(const char *s)
{
	return s != NULL ? dbv_text(s) : DBV_NULL;
}

enum um_err
oidc_code_issue(struct ctx *ctx, const struct oidc_grant *g, const char **code)
{
	unsigned char hash[TOKEN_HASH_LEN];
	struct db_val p[11];
	char         *c = token_new(ctx->arena);
	enum um_err   rc;

	(void)token_hash(c, hash);
	p[0] = DBV_BLOB(hash, sizeof(hash));
	p[1] = dbv_text(g->client_id);
	p[2] = DBV_INT(g->user_id);
	p[3] = dbv_text(g->redirect_uri);
	p[4] = text_or_null(g->code_challenge);
	p[5] = text_or_null(g->nonce);
	p[6] = dbv_text(g->scopes);
	p[7] = DBV_INT(g->auth_time);
	p[8] = dbv_text(g->amr);
	p[9] = DBV_INT(g->session_id);
	p[10] = DBV_INT(OIDC_CODE_SECONDS);
	if ((rc = db_exec(ctx->db, ctx->arena, sql_code_insert, p, 11, NULL)) != UM_OK)
		return rc;
	*code = c;
	return audit_log(ctx, AUDIT_OAUTH_CODE_ISSUED, g->user_id, g->user_id,
	    json_pack("{s:s, s:s}", "client_id", g->client_id, "scopes", g->scopes));
}

/* The row is locked: two exchanges of one code serialise, and the second sees used_at. */
static const char sql_code[] =
    "SELECT c.client_id, c.user_id, c.redirect_uri, c.code_challenge, c.nonce, c.scopes,"
    " c.auth_time, c.amr, c.session_id, c.used_at IS NOT NULL,"
    " c.expires_at > UTC_TIMESTAMP(6), c.family_id, u.status = 'active'"
    " FROM oauth_codes c JOIN users u ON u.id = c.user_id WHERE c.code_hash = ? FOR UPDATE";
static const char sql_code_used[] =
    "UPDATE oauth_codes SET used_at = UTC_TIMESTAMP(6), family_id = ? WHERE code_hash = ?";
static const char sql_code_burn[] =
    "UPDATE oauth_codes SET used_at = UTC_TIMESTAMP(6) WHERE code_hash = ?";

/* 1 when BASE64URL(SHA-256(verifier)) is the challenge (RFC 7636 §4.6, S256). */
static int
pkce_ok(const char *challenge, const char *verifier)
{
	unsigned char d[32];
	char          enc[B64URL_LEN(32) + 1];
	size_t        n = verifier != NULL ? strlen(verifier) : 0, i;

	/* §4.1: 43 to 128 unreserved characters. */
	if (n < 43 || n > 128)
		return 0;
	for (i = 0; i < n; i++)
		if (!((verifier[i] >= 'A' && verifier[i] <= 'Z') ||
		        (verifier[i] >= 'a' && verifier[i] <= 'z') ||
		        (verifier[i] >= '0' && verifier[i] <= '9') || verifier[i] == '-' ||
		        verifier[i] == '.' || verifier[i] == '_' || verifier[i] == '~'))
			return 0;
	token_sha256(verifier, n, d);
	(void)b64url_encode(enc, d, sizeof(d));
	return strlen(challenge) == strlen(enc) &&
	    CRYPTO_memcmp(enc, challenge, strlen(enc)) == 0;
}

enum um_err
oidc_code_redeem(struct ctx *ctx, const char *code, const char *client_id,
    const char *redirect_uri, const char *verifier, struct oidc_grant *g, long long *sid,
    char **refresh, enum oidc_code_refusal *why)
{
	unsigned char         hash[TOKEN_HASH_LEN];
	struct db_val         p[2];
	struct db_res         res;
	struct refresh_client rcl;
	enum um_err           rc;
	int                   found;

	*why = OIDC_CODE_UNKNOWN;
	if (token_hash(code, hash) != UM_OK)
		return UM_ETOKEN;
	if ((rc = db_begin(ctx->db)) != UM_OK)
		return rc;
	p[0] = DBV_BLOB(hash, sizeof(hash));
	if ((rc = db_exec(ctx->db, ctx->arena, sql_code, p, 1, &res)) != UM_OK)
		goto fail;
	if (res.nrows != 1) {
		rc = UM_ETOKEN;
		goto fail;
	}
	memset(g, 0, sizeof(*g));
	g->client_id = DB_CELL(&res, 0, 0)->s;
	g->user_id = DB_CELL(&res, 0, 1)->i;
	g->redirect_uri = DB_CELL(&res, 0, 2)->s;
	g->code_challenge = db_cell_text(DB_CELL(&res, 0, 3));
	g->nonce = db_cell_text(DB_CELL(&res, 0, 4));
	g->scopes = DB_CELL(&res, 0, 5)->s;
	g->auth_time = DB_CELL(&res, 0, 6)->i;
	g->amr = DB_CELL(&res, 0, 7)->s;
	g->session_id = DB_CELL(&res, 0, 8)->i;
	if (DB_CELL(&res, 0, 9)->i != 0) {
		/* RFC 6749 §4.1.2: a code used twice revokes what it was traded for. */
		*why = OIDC_CODE_REUSED;
		if (DB_CELL(&res, 0, 11)->type != DB_NULL &&
		    (rc = refresh_revoke_family(ctx, g->user_id, DB_CELL(&res, 0, 11)->i,
		         "code_reuse", &found)) != UM_OK)
			goto fail;
		if ((rc = audit_log(ctx, AUDIT_OAUTH_CODE_REUSED, g->user_id, 0,
		         json_pack("{s:s}", "client_id",
		             client_id != NULL ? client_id : ""))) != UM_OK ||
		    (rc = db_commit(ctx->db)) != UM_OK)
			goto fail;
		log_warn("oidc: an authorization code was used twice; its tokens were revoked");
		return UM_ETOKEN;
	}
	if (DB_CELL(&res, 0, 10)->i == 0)
		*why = OIDC_CODE_EXPIRED;
	else if (strcmp(g->client_id, client_id) != 0)
		*why = OIDC_CODE_CLIENT;
	else if (redirect_uri == NULL || strcmp(g->redirect_uri, redirect_uri) != 0)
		*why = OIDC_CODE_REDIRECT;
	else if (g->code_challenge != NULL ? !pkce_ok(g->code_challenge, verifier) :
	                                     verifier != NULL)
		*why = OIDC_CODE_PKCE;
	else if (DB_CELL(&res, 0, 12)->i == 0)
		*why = OIDC_CODE_USER;
	else
		*why = OIDC_CODE_OK;
	if (*why != OIDC_CODE_OK) {
		/*
		 * A failed exchange spends the code too (a guessed verifier gets one try),
		 * except one for another client: that client cannot spend someone's code.
		 */
		if (*why != OIDC_CODE_CLIENT &&
		    (rc = db_exec(ctx->db, ctx->arena, sql_code_burn, p, 1, NULL)) != UM_OK)
			goto fail;
		if ((rc = db_commit(ctx->db)) != UM_OK)
			goto fail;
		return UM_ETOKEN;
	}
	rcl.client_id = g->client_id;
	rcl.scopes = g->scopes;
	rcl.auth_time = g->auth_time;
	rcl.amr = g->amr;
	if ((rc = refresh_start(ctx, g->user_id, &rcl, sid, refresh)) != UM_OK)
		goto fail;
	p[0] = DBV_INT(*sid);
	p[1] = DBV_BLOB(hash, sizeof(hash));
	if ((rc = db_exec(ctx->db, ctx->arena, sql_code_used, p, 2, NULL)) != UM_OK ||
	    (rc = db_commit(ctx->db)) != UM_OK)
		goto fail;
	return UM_OK;
fail:
	db_rollback(ctx->db);
	return rc;
}

const char *
oidc_code_refusal_text(enum oidc_code_refusal why)
{
	switch (why) {
	case OIDC_CODE_OK: return "ok";
	case OIDC_CODE_UNKNOWN: return "The authorization code is not valid.";
	case OIDC_CODE_EXPIRED: return "The authorization code has expired.";
	case OIDC_CODE_REUSED:
		return "The authorization code was already used; the tokens issued for it are "
		       "revoked.";
	case OIDC_CODE_CLIENT: return "The authorization code was issued to another client.";
	case OIDC_CODE_REDIRECT:
		return "redirect_uri is not the one of the authorization request.";
	case OIDC_CODE_PKCE: return "The PKCE code_verifier does not match the code_challenge.";
	case OIDC_CODE_USER: return "The account is no longer active.";
	}
	return "The authorization code is not valid.";
}

const char *
oidc_amr(const struct user *u)
{
	/* RFC 8176: a password, and with two-step verification on, a one-time code too. */
	return u->mfa_enabled ? "pwd otp mfa" : "pwd";
}

static const char sql_session_amr[] = "SELECT amr FROM sessions WHERE id = ?";

const char *
oidc_session_amr(struct ctx *ctx, long long sid, const struct user *u)
{
	struct db_val p[1] = { DBV_INT(sid) };
	struct db_res res;
	const char   *amr;

	/* A passkey sign-in wrote its methods on the session (passkey.c); else the password's. */
	if (db_exec(ctx->db, ctx->arena, sql_session_amr, p, 1, &res) == UM_OK &&
	    res.nrows == 1 && (amr = db_cell_text(DB_CELL(&res, 0, 0))) != NULL &&
	    amr[0] != '\0')
		return amr;
	return oidc_amr(u);
}

static const char sql_auth_time[] =
    "SELECT FLOOR(UNIX_TIMESTAMP(created_at)) FROM sessions WHERE id = ?";

long long
oidc_session_auth_time(struct ctx *ctx, long long sid)
{
	struct db_val p[1] = { DBV_INT(sid) };
	struct db_res res;

	if (db_exec(ctx->db, ctx->arena, sql_auth_time, p, 1, &res) != UM_OK || res.nrows != 1)
		return 0;
	return DB_CELL(&res, 0, 0)->i;
}

void
oidc_claims(struct ctx *ctx, const struct user *u, const char *scopes, json_t *obj)
{
	struct tm tm;
	time_t    t;

	if (oidc_has_word(scopes, "profile")) {
		json_object_set_new(obj, "preferred_username", json_string(u->username));
		json_object_set_new(obj, "name",
		    json_string(u->display_name != NULL ? u->display_name : u->username));
		/* updated_at is seconds since the epoch in OIDC Core §5.1. */
		memset(&tm, 0, sizeof(tm));
		if (u->updated_at != NULL &&
		    strptime(u->updated_at, "%Y-%m-%dT%H:%M:%S", &tm) != NULL &&
		    (t = timegm(&tm)) != (time_t)-1)
			json_object_set_new(obj, "updated_at", json_integer((json_int_t)t));
	}
	if (oidc_has_word(scopes, "email")) {
		json_object_set_new(obj, "email", json_string(u->email));
		json_object_set_new(obj, "email_verified", json_boolean(u->email_verified));
	}
	if (oidc_has_word(scopes, "roles")) {
		json_t *r = user_roles(ctx->db, ctx->arena, u->id);

		json_object_set_new(obj, "roles", r != NULL ? r : json_array());
	}
}

char *
oidc_id_token(struct ctx *ctx, const struct user *u, const char *client_id, const char *nonce,
    long long auth_time, const char *amr, const char *scopes)
{
	long long now = (long long)time(NULL);
	char      sub[24];
	json_t   *c;
	char     *tok;

	(void)snprintf(sub, sizeof(sub), "%lld", u->id);
	c = json_pack("{s:s, s:s, s:s, s:I, s:I, s:I, s:o, s:s, s:s}", "iss",
	    ctx->conf->base_url, "sub", sub, "aud", client_id, "exp",
	    (json_int_t)(now + ctx->conf->access_token_seconds), "iat", (json_int_t)now,
	    "auth_time", (json_int_t)auth_time, "amr", scope_array(amr), "acr",
	    oidc_has_word(amr, "mfa") ? "2" : "1", "azp", client_id);
	if (nonce != NULL)
		json_object_set_new(c, "nonce", json_string(nonce));
	oidc_claims(ctx, u, scopes, c);
	tok = signkey_sign(ctx, c);
	json_decref(c);
	return tok;
}
