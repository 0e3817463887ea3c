/* passkey: stores WebAuthn credentials and challenges; webauthn.c decides whether a response is valid. */
#include "config.h"

#include <stdint.h>
#include <string.h>

#include <openssl/rand.h>

#include <jansson.h>

#include "arena.h"
#include "audit.h"
#include "b64.h"
#include "conf.h"
#include "ctx.h"
#include "db.h"
#include "notify.h"
#include "passkey.h"
#include "token.h"
#include "user.h"
#include "webauthn.h"

#define HANDLE_LEN 32 /* bytes of a new WebAuthn user handle */
#define TIME_FMT   "'%Y-%m-%dT%H:%i:%sZ'"

static const char sql_challenge_put[] =
    "INSERT INTO webauthn_challenges (id_hash, challenge, purpose, user_id, user_handle,"
    " expires_at) VALUES (?, ?, ?, ?, ?, UTC_TIMESTAMP(6) + INTERVAL ? SECOND)";
static const char sql_challenge_get[] =
    "SELECT challenge, purpose, IFNULL(user_id, 0), user_handle,"
    " expires_at > UTC_TIMESTAMP(6) FROM webauthn_challenges WHERE id_hash = ?";
/* The delete is the compare-and-set that makes a challenge single-use under races. */
static const char sql_challenge_spend[] = "DELETE FROM webauthn_challenges WHERE id_hash = ?";
static const char sql_user_keys[] =
    "SELECT credential_id, transports, user_handle FROM passkeys WHERE user_id = ?"
    " ORDER BY id";
static const char sql_count[] = "SELECT COUNT(*) FROM passkeys WHERE user_id = ?";
static const char sql_insert[] =
    "INSERT INTO passkeys (user_id, credential_id, public_key, alg, sign_count, transports,"
    " backup_eligible, backed_up, user_handle, name) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
static const char sql_by_credential[] =
    "SELECT id, user_id, public_key, sign_count, user_handle FROM passkeys"
    " WHERE credential_id = ?";
/* Only forward: two sign-ins with one authenticator cannot move the counter back. */
static const char sql_used[] = "UPDATE passkeys SET sign_count = GREATEST(sign_count, ?),"
                               " last_used_at = UTC_TIMESTAMP(6) WHERE id = ?";
static const char sql_list[] = "SELECT id, name, DATE_FORMAT(created_at, " TIME_FMT "),"
                               " DATE_FORMAT(last_used_at, " TIME_FMT "), transports, backed_up"
                               " FROM passkeys WHERE user_id = ? ORDER BY id DESC";
static const char sql_rename[] = "UPDATE passkeys SET name = ? WHERE id = ? AND user_id = ?";
static const char sql_exists[] = "SELECT 1 FROM passkeys WHERE id = ? AND user_id = ?";
static const char sql_remove[] = "DELETE FROM passkeys WHERE id = ? AND user_id = ?";
static const char sql_family_age[] =
    "SELECT TIMESTAMPDIFF(SECOND, created_at, UTC_TIMESTAMP(6)) FROM refresh_families"
    " WHERE id = ? AND user_id = ? AND revoked_at IS NULL";
/* A browser session's id changes at every sign-in (API.md §7): its age is the sign-in's. */
static const char sql_session_age[] =
    "SELECT TIMESTAMPDIFF(SECOND, created_at, UTC_TIMESTAMP(6)) FROM sessions"
    " WHERE id_hash = ? AND user_id = ?";

/* The relying party of the configured base URL (API.md §8: the local stack's is localhost). */
static enum um_err
rp_of(struct ctx *ctx, struct webauthn_rp *rp)
{
	return webauthn_rp_from_url(ctx->arena, ctx->conf->base_url, rp) == 0 ? UM_OK :
	                                                                        UM_EINTERNAL;
}

static const char *
b64(struct arena *a, const unsigned char *p, size_t n)
{
	char *s = arena_alloc(a, B64URL_LEN(n) + 1);

	b64url_encode(s, p, n);
	return s;
}

/* A new challenge row; its id (shown once) and bytes go to o and challenge. */
static enum um_err
challenge_new(struct ctx *ctx, const char *purpose, long long uid, const unsigned char *handle,
    size_t hlen, struct passkey_options *o, unsigned char challenge[WEBAUTHN_CHALLENGE_LEN])
{
	unsigned char h[TOKEN_HASH_LEN];
	struct db_val p[6];
	enum um_err   rc;

	if (RAND_bytes(challenge, WEBAUTHN_CHALLENGE_LEN) != 1 ||
	    (o->challenge_id = token_new(ctx->arena)) == NULL)
		return UM_EINTERNAL;
	if ((rc = token_hash(o->challenge_id, h)) != UM_OK)
		return rc;
	p[0] = DBV_BLOB(h, sizeof(h));
	p[1] = DBV_BLOB(challenge, WEBAUTHN_CHALLENGE_LEN);
	p[2] = dbv_text(purpose);
	p[3] = uid > 0 ? DBV_INT(uid) : DBV_NULL;
	p[4] = handle != NULL ? DBV_BLOB(handle, hlen) : DBV_NULL;
	p[5] = DBV_INT(PASSKEY_CHALLENGE_TTL);
	return db_exec(ctx->db, ctx->arena, sql_challenge_put, p, 6, NULL);
}

struct challenge {
	unsigned char        bytes[WEBAUTHN_CHALLENGE_LEN];
	long long            uid;
	const unsigned char *handle;
	size_t               handle_len;
};

/*
 * Spends the challenge named by id: UM_OK only when it existed, was unexpired, of purpose,
 * and this request deleted it (a replay, a race's loser, another ceremony's or a made-up id
 * is UM_ECHALLENGE).
 */
static enum um_err
challenge_take(struct ctx *ctx, const char *id, const char *purpose, struct challenge *c)
{
	unsigned char        h[TOKEN_HASH_LEN];
	struct db_val        p[1];
	struct db_res        res, del;
	const struct db_val *v;
	enum um_err          rc;

	memset(c, 0, sizeof(*c));
	if (id == NULL || token_hash(id, h) != UM_OK)
		return UM_ECHALLENGE;
	p[0] = DBV_BLOB(h, sizeof(h));
	if ((rc = db_exec(ctx->db, ctx->arena, sql_challenge_get, p, 1, &res)) != UM_OK ||
	    (rc = db_exec(ctx->db, ctx->arena, sql_challenge_spend, p, 1, &del)) != UM_OK)
		return rc;
	if (res.nrows != 1 || del.affected != 1)
		return UM_ECHALLENGE;
	v = DB_CELL(&res, 0, 0);
	if (v->len != WEBAUTHN_CHALLENGE_LEN || strcmp(DB_CELL(&res, 0, 1)->s, purpose) != 0 ||
	    DB_CELL(&res, 0, 4)->i != 1)
		return UM_ECHALLENGE;
	memcpy(c->bytes, v->s, WEBAUTHN_CHALLENGE_LEN);
	c->uid = DB_CELL(&res, 0, 2)->i;
	v = DB_CELL(&res, 0, 3);
	if (v->type != DB_NULL) {
		c->handle = (const unsigned char *)v->s;
		c->handle_len = v->len;
	}
	return UM_OK;
}

/* uid's credentials as PublicKeyCredentialDescriptorJSON; *handle: the user handle they
 * share (NULL when uid has none). */
static enum um_err
descriptors(struct ctx *ctx, long long uid, json_t **out, const unsigned char **handle,
    size_t *hlen)
{
	struct db_val p[1] = { DBV_INT(uid) };
	struct db_res res;
	json_t       *arr = json_array(), *tr;
	size_t        i;
	enum um_err   rc;

	*out = arr;
	if (handle != NULL)
		*handle = NULL;
	if ((rc = db_exec(ctx->db, ctx->arena, sql_user_keys, p, 1, &res)) != UM_OK)
		return rc;
	for (i = 0; i < res.nrows; i++) {
		const struct db_val *id = DB_CELL(&res, i, 0);

		tr = json_loads(DB_CELL(&res, i, 1)->s, 0, NULL);
		json_array_append_new(arr,
		    json_pack("{s:s, s:s, s:o}", "type", "public-key", "id",
		        b64(ctx->arena, (const unsigned char *)id->s, id->len), "transports",
		        json_is_array(tr) ? tr : json_array()));
		if (!json_is_array(tr))
			json_decref(tr);
		if (handle != NULL && i == 0) {
			*handle = (const unsigned char *)DB_CELL(&res, i, 2)->s;
			*hlen = DB_CELL(&res, i, 2)->len;
		}
	}
	return UM_OK;
}

static enum um_err
count_of(struct ctx *ctx, long long uid, long long *n)
{
	struct db_val p[1] = { DBV_INT(uid) };
	struct db_res res;
	enum um_err   rc;

	if ((rc = db_exec(ctx->db, ctx->arena, sql_count, p, 1, &res)) != UM_OK)
		return rc;
	*n = res.nrows == 1 ? DB_CELL(&res, 0, 0)->i : 0;
	return UM_OK;
}

enum um_err
passkey_register_options(struct ctx *ctx, const struct user *u, struct passkey_options *o)
{
	struct webauthn_rp   rp;
	unsigned char        challenge[WEBAUTHN_CHALLENGE_LEN], fresh[HANDLE_LEN];
	const unsigned char *handle;
	size_t               hlen = HANDLE_LEN;
	json_t              *exclude = NULL;
	long long            n;
	enum um_err          rc;

	o->public_key = NULL;
	if ((rc = rp_of(ctx, &rp)) != UM_OK || (rc = count_of(ctx, u->id, &n)) != UM_OK)
		return rc;
	if (n >= PASSKEY_PER_USER_MAX)
		return UM_ECONFLICT;
	if ((rc = descriptors(ctx, u->id, &exclude, &handle, &hlen)) != UM_OK)
		goto out;
	/* One handle per account, so an authenticator replaces its own older passkey of it. */
	if (handle == NULL) {
		if (RAND_bytes(fresh, sizeof(fresh)) != 1) {
			rc = UM_EINTERNAL;
			goto out;
		}
		handle = fresh;
		hlen = sizeof(fresh);
	}
	if ((rc = challenge_new(ctx, "register", u->id, handle, hlen, o, challenge)) != UM_OK)
		goto out;
	/*
	 * PublicKeyCredentialCreationOptionsJSON (L3 §5.4): a discoverable credential (the
	 * sign-in asks for no username) with user verification required (docs/DECISIONS.md),
	 * no attestation wanted; EdDSA, ES256, RS256 in the preference order of L3 §5.4.
	 */
	o->public_key = json_pack("{s:{s:s, s:s}, s:{s:s, s:s, s:s}, s:s, s:[{s:s, s:i},"
	                          " {s:s, s:i}, {s:s, s:i}], s:i, s:O, s:{s:s, s:b, s:s},"
	                          " s:s}",
	    "rp", "id", rp.rp_id, "name", "usermgr", "user", "id",
	    b64(ctx->arena, handle, hlen), "name", u->username, "displayName",
	    u->display_name != NULL && u->display_name[0] != '\0' ? u->display_name :
	                                                            u->username,
	    "challenge", b64(ctx->arena, challenge, sizeof(challenge)), "pubKeyCredParams",
	    "type", "public-key", "alg", WEBAUTHN_EDDSA, "type", "public-key", "alg",
	    WEBAUTHN_ES256, "type", "public-key", "alg", WEBAUTHN_RS256, "timeout",
	    PASSKEY_CHALLENGE_TTL * 1000, "excludeCredentials", exclude,
	    "authenticatorSelection", "residentKey", "required", "requireResidentKey", 1,
	    "userVerification", "required", "attestation", "none");
	rc = o->public_key != NULL ? UM_OK : UM_EINTERNAL;
out:
	json_decref(exclude);
	return rc;
}

enum um_err
passkey_login_options(struct ctx *ctx, const char *login, struct passkey_options *o)
{
	struct webauthn_rp rp;
	struct user        u;
	unsigned char      challenge[WEBAUTHN_CHALLENGE_LEN];
	json_t            *allow = NULL;
	long long          uid = 0;
	enum um_err        rc;

	o->public_key = NULL;
	if ((rc = rp_of(ctx, &rp)) != UM_OK)
		return rc;
	if (login != NULL && (rc = user_by_login(ctx->db, ctx->arena, login, &u)) == UM_OK) {
		uid = u.id;
		rc = descriptors(ctx, uid, &allow, NULL, NULL);
	}
	if (rc != UM_OK && rc != UM_ENOTFOUND)
		goto out;
	if ((rc = challenge_new(ctx, "login", uid, NULL, 0, o, challenge)) != UM_OK)
		goto out;
	/* PublicKeyCredentialRequestOptionsJSON (L3 §5.5). */
	o->public_key = json_pack("{s:s, s:s, s:i, s:s, s:o}", "challenge",
	    b64(ctx->arena, challenge, sizeof(challenge)), "rpId", rp.rp_id, "timeout",
	    PASSKEY_CHALLENGE_TTL * 1000, "userVerification", "required", "allowCredentials",
	    allow != NULL ? json_incref(allow) : json_array());
	rc = o->public_key != NULL ? UM_OK : UM_EINTERNAL;
out:
	json_decref(allow);
	return rc;
}

enum um_err
passkey_register(struct ctx *ctx, long long uid, const char *challenge_id, const char *name,
    const json_t *cred, long long *id, const char **why)
{
	struct webauthn_rp  rp;
	struct webauthn_new nw;
	struct challenge    c;
	struct user         u;
	struct db_val       p[10];
	struct db_res       res;
	enum webauthn_err   w;
	long long           n;
	enum um_err         rc;

	*why = NULL;
	if ((rc = rp_of(ctx, &rp)) != UM_OK ||
	    (rc = challenge_take(ctx, challenge_id, "register", &c)) != UM_OK)
		return rc;
	if (c.uid != uid || c.handle == NULL)
		return UM_ECHALLENGE;
	if ((w = webauthn_register(ctx->arena, &rp, c.bytes, cred, &nw)) != WA_OK) {
		*why = webauthn_strerror(w);
		return UM_EPASSKEY;
	}
	if ((rc = count_of(ctx, uid, &n)) != UM_OK)
		return rc;
	if (n >= PASSKEY_PER_USER_MAX)
		return UM_ECONFLICT;
	p[0] = DBV_INT(uid);
	p[1] = DBV_BLOB(nw.id, nw.id_len);
	p[2] = DBV_BLOB(nw.cose, nw.cose_len);
	p[3] = DBV_INT(nw.alg);
	p[4] = DBV_INT(nw.sign_count);
	p[5] = dbv_text(nw.transports);
	p[6] = DBV_INT(nw.backup_eligible);
	p[7] = DBV_INT(nw.backed_up);
	p[8] = DBV_BLOB(c.handle, c.handle_len);
	p[9] = dbv_text(name);
	/*
	 * The row, its audit event and the owner's notice in one transaction: a passkey signs in
	 * without the password, so its owner hears of every new one (as of two-step
	 * verification turned on).  A credential id registered already (to anyone) is
	 * UM_ECONFLICT from the unique key.
	 */
	if ((rc = user_by_id(ctx->db, ctx->arena, uid, &u)) != UM_OK ||
	    (rc = db_begin(ctx->db)) != UM_OK)
		return rc;
	if ((rc = db_exec(ctx->db, ctx->arena, sql_insert, p, 10, &res)) == UM_OK &&
	    (rc = audit_log(ctx, AUDIT_PASSKEY_ADDED, uid, ctx->actor > 0 ? ctx->actor : uid,
	         json_pack("{s:I, s:s}", "passkey_id", (json_int_t)res.insert_id, "attestation",
	             nw.fmt))) == UM_OK &&
	    (rc = notify_queue(ctx, "passkey-added", u.email,
	         u.display_name != NULL ? u.display_name : u.username,
	         json_pack("{s:s, s:s}", "username", u.username, "name", name))) == UM_OK)
		rc = db_commit(ctx->db);
	if (rc != UM_OK) {
		db_rollback(ctx->db);
		return rc;
	}
	*id = (long long)res.insert_id;
	return UM_OK;
}

/* A refused sign-in with a known or unknown credential, for the audit log. */
static void
audit_refusal(struct ctx *ctx, long long uid, enum audit_event ev, const char *reason)
{
	(void)audit_log(ctx, ev, uid, uid,
	    json_pack("{s:s, s:s}", "method", "passkey", "reason", reason));
}

enum um_err
passkey_login(struct ctx *ctx, const char *challenge_id, const json_t *cred, struct user *u,
    const char **why)
{
	struct webauthn_rp        rp;
	struct webauthn_assertion as;
	struct challenge          c;
	struct db_val             p[2];
	struct db_res             res;
	const struct db_val      *key, *handle;
	enum webauthn_err         w;
	long long                 pid, uid;
	uint32_t                  count = 0;
	enum um_err               rc;

	*why = NULL;
	if ((rc = rp_of(ctx, &rp)) != UM_OK ||
	    (rc = challenge_take(ctx, challenge_id, "login", &c)) != UM_OK)
		return rc;
	if ((w = webauthn_assertion_parse(ctx->arena, cred, &as)) != WA_OK) {
		*why = webauthn_strerror(w);
		return UM_EPASSKEY;
	}
	p[0] = DBV_BLOB(as.id, as.id_len);
	if ((rc = db_exec(ctx->db, ctx->arena, sql_by_credential, p, 1, &res)) != UM_OK)
		return rc;
	if (res.nrows != 1) {
		audit_refusal(ctx, 0, AUDIT_LOGIN_FAILED, "unknown_passkey");
		return UM_ECREDS;
	}
	pid = DB_CELL(&res, 0, 0)->i;
	uid = DB_CELL(&res, 0, 1)->i;
	key = DB_CELL(&res, 0, 2);
	handle = DB_CELL(&res, 0, 4);
	/* Options named an account: only its passkeys answer that challenge. */
	if (c.uid != 0 && c.uid != uid)
		return UM_ECHALLENGE;
	/* L3 §7.2 step 6: the user handle, when sent, must be the credential owner's. */
	if (as.user_handle != NULL &&
	    (as.user_handle_len != handle->len ||
	        memcmp(as.user_handle, handle->s, handle->len) != 0)) {
		audit_refusal(ctx, uid, AUDIT_LOGIN_FAILED, "user_handle");
		return UM_ECREDS;
	}
	w = webauthn_assertion_verify(ctx->arena, &rp, c.bytes, &as,
	    (const unsigned char *)key->s, key->len, (uint32_t)DB_CELL(&res, 0, 3)->i, &count);
	if (w == WA_ECOUNT) {
		/* A cloned authenticator, or a replay of an older signature (L3 §6.1.1). */
		(void)audit_log(ctx, AUDIT_PASSKEY_SIGN_COUNT_REGRESSED, uid, uid,
		    json_pack("{s:I}", "passkey_id", (json_int_t)pid));
		*why = webauthn_strerror(w);
		return UM_ECREDS;
	}
	if (w != WA_OK) {
		*why = webauthn_strerror(w);
		audit_refusal(ctx, uid, AUDIT_LOGIN_FAILED, *why);
		return w == WA_ESIG ? UM_ECREDS : UM_EPASSKEY;
	}
	if ((rc = user_by_id(ctx->db, ctx->arena, uid, u)) != UM_OK)
		return rc;
	if (strcmp(u->status, "active") != 0)
		return UM_EDISABLED;
	if (!u->email_verified)
		return UM_EUNVERIFIED;
	p[0] = DBV_INT(count);
	p[1] = DBV_INT(pid);
	return db_exec(ctx->db, ctx->arena, sql_used, p, 2, NULL);
}

enum um_err
passkey_list(struct ctx *ctx, long long uid, json_t **out)
{
	struct db_val p[1] = { DBV_INT(uid) };
	struct db_res res;
	json_t       *tr;
	size_t        i;
	enum um_err   rc;

	*out = NULL;
	if ((rc = db_exec(ctx->db, ctx->arena, sql_list, p, 1, &res)) != UM_OK)
		return rc;
	*out = json_array();
	for (i = 0; i < res.nrows; i++) {
		tr = json_loads(DB_CELL(&res, i, 4)->s, 0, NULL);
		json_array_append_new(*out,
		    json_pack("{s:s, s:s, s:s, s:s?, s:o, s:b}", "id",
		        arena_printf(ctx->arena, "%lld", DB_CELL(&res, i, 0)->i), "name",
		        DB_CELL(&res, i, 1)->s, "created_at", DB_CELL(&res, i, 2)->s,
		        "last_used_at", db_cell_text(DB_CELL(&res, i, 3)), "transports",
		        json_is_array(tr) ? tr : json_array(), "backed_up",
		        DB_CELL(&res, i, 5)->i != 0));
		if (!json_is_array(tr))
			json_decref(tr);
	}
	return UM_OK;
}

static enum um_err
owned(struct ctx *ctx, long long uid, long long id)
{
	struct db_val p[2] = { DBV_INT(id), DBV_INT(uid) };
	struct db_res res;
	enum um_err   rc;

	if ((rc = db_exec(ctx->db, ctx->arena, sql_exists, p, 2, &res)) != UM_OK)
		return rc;
	return res.nrows == 1 ? UM_OK : UM_ENOTFOUND;
}

enum um_err
passkey_rename(struct ctx *ctx, long long uid, long long id, const char *name)
{
	struct db_val p[3] = { dbv_text(name), DBV_INT(id), DBV_INT(uid) };
	enum um_err   rc;

	/* The same name again changes no row: ownership is asked first, not read from that. */
	if ((rc = owned(ctx, uid, id)) != UM_OK)
		return rc;
	return db_exec(ctx->db, ctx->arena, sql_rename, p, 3, NULL);
}

enum um_err
passkey_remove(struct ctx *ctx, long long uid, long long id)
{
	struct db_val p[2] = { DBV_INT(id), DBV_INT(uid) };
	struct db_res res;
	enum um_err   rc;

	if ((rc = db_exec(ctx->db, ctx->arena, sql_remove, p, 2, &res)) != UM_OK)
		return rc;
	if (res.affected != 1)
		return UM_ENOTFOUND;
	(void)audit_log(ctx, AUDIT_PASSKEY_REMOVED, uid, ctx->actor > 0 ? ctx->actor : uid,
	    json_pack("{s:I}", "passkey_id", (json_int_t)id));
	return UM_OK;
}

enum um_err
passkey_recent_login(struct ctx *ctx, long long uid, long long sid,
    const unsigned char *session_hash, int *recent)
{
	struct db_val p[2] = { DBV_INT(sid), DBV_INT(uid) };
	struct db_res res;
	enum um_err   rc;

	*recent = 0;
	if (session_hash != NULL)
		p[0] = DBV_BLOB(session_hash, 32);
	if ((rc = db_exec(ctx->db, ctx->arena,
	         session_hash != NULL ? sql_session_age : sql_family_age, p, 2, &res)) != UM_OK)
		return rc;
	*recent = res.nrows == 1 && DB_CELL(&res, 0, 0)->type != DB_NULL &&
	    DB_CELL(&res, 0, 0)->i < PASSKEY_RECENT_LOGIN;
	return UM_OK;
}
