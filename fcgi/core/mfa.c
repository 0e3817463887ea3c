/* mfa: the TOTP secret is stored sealed (AES-256-GCM, key id beside it), recovery codes only as hashes. */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include <jansson.h>

#include "aead.h"
#include "audit.h"
#include "conf.h"
#include "ctx.h"
#include "db.h"
#include "log.h"
#include "login.h"
#include "mfa.h"
#include "notify.h"
#include "revocation.h"
#include "session.h"
#include "token.h"
#include "totp.h"
#include "user.h"

#define SEALED_MAX (TOTP_SECRET_LEN + AEAD_OVERHEAD)

/* Recovery codes use base32's alphabet in lower case: no 0/O or 1/l to confuse. */
static const char rc_alphabet[] = "abcdefghijklmnopqrstuvwxyz234567";

static const char sql_load[] =
    "SELECT mfa_secret_enc, mfa_key_id, mfa_enabled_at IS NOT NULL, IFNULL(mfa_last_step, -1)"
    " FROM users WHERE id = ?";
/* Only while not on: a running setup may be restarted, an active secret never replaced. */
static const char sql_store[] =
    "UPDATE users SET mfa_secret_enc = ?, mfa_key_id = ?, mfa_enabled_at = NULL,"
    " mfa_last_step = NULL WHERE id = ? AND mfa_enabled_at IS NULL";
/* The compare-and-set that makes a code single-use even when two requests race. */
static const char sql_step[] = "UPDATE users SET mfa_last_step = ? WHERE id = ?"
                               " AND (mfa_last_step IS NULL OR mfa_last_step < ?)";
static const char sql_enable[] =
    "UPDATE users SET mfa_enabled_at = UTC_TIMESTAMP(6) WHERE id = ?"
    " AND mfa_enabled_at IS NULL AND mfa_secret_enc IS NOT NULL";
static const char sql_disable[] =
    "UPDATE users SET mfa_secret_enc = NULL, mfa_key_id = NULL, mfa_enabled_at = NULL,"
    " mfa_last_step = NULL WHERE id = ?";
static const char sql_codes_delete[] = "DELETE FROM mfa_recovery_codes WHERE user_id = ?";
static const char sql_code_insert[] =
    "INSERT INTO mfa_recovery_codes (user_id, code_hash) VALUES (?, ?)";
static const char sql_code_use[] = "UPDATE mfa_recovery_codes SET used_at = UTC_TIMESTAMP(6)"
                                   " WHERE user_id = ? AND code_hash = ? AND used_at IS NULL";

struct mfa_row {
	enum mfa_state state;
	unsigned char  secret[TOTP_SECRET_LEN];
	size_t         secret_len;
	int64_t        last_step; /* -1: none */
};

/* The associated data of a sealed secret: it opens only in its own user's row. */
static int
bind_ad(char *ad, size_t adlen, long long uid)
{
	int n = snprintf(ad, adlen, "usermgr mfa_secret user=%lld", uid);

	return n > 0 && (size_t)n < adlen ? n : -1;
}

static enum um_err
load(struct ctx *ctx, long long uid, struct mfa_row *m)
{
	const struct conf   *c = ctx->conf;
	struct db_val        p[1] = { DBV_INT(uid) };
	struct db_res        res;
	const struct db_val *enc;
	char                 ad[64];
	int                  adn;
	enum um_err          rc;

	memset(m, 0, sizeof(*m));
	m->last_step = -1;
	if ((rc = db_exec(ctx->db, ctx->arena, sql_load, p, 1, &res)) != UM_OK)
		return rc;
	if (res.nrows != 1)
		return UM_ENOTFOUND;
	enc = DB_CELL(&res, 0, 0);
	if (enc->type == DB_NULL)
		return UM_OK;
	/* Only one data key is known; a row sealed under another one cannot be read. */
	if (DB_CELL(&res, 0, 1)->i != MFA_KEY_ID || !c->have_data_key) {
		log_err("mfa: user %lld: secret sealed under unknown key id %lld", uid,
		    DB_CELL(&res, 0, 1)->i);
		return UM_EINTERNAL;
	}
	if ((adn = bind_ad(ad, sizeof(ad), uid)) < 0 ||
	    aead_open(c->data_key, (const unsigned char *)enc->s, enc->len, ad, (size_t)adn,
	        m->secret, sizeof(m->secret), &m->secret_len) != UM_OK) {
		log_err("mfa: user %lld: the stored secret does not open", uid);
		return UM_EINTERNAL;
	}
	m->state = DB_CELL(&res, 0, 2)->i != 0 ? MFA_ON : MFA_PENDING;
	m->last_step = DB_CELL(&res, 0, 3)->i;
	return UM_OK;
}

enum um_err
mfa_status(struct ctx *ctx, long long uid, enum mfa_state *state, char b32[TOTP_B32_MAX + 1])
{
	struct mfa_row m;
	enum um_err    rc;

	*state = MFA_OFF;
	if ((rc = load(ctx, uid, &m)) != UM_OK)
		goto out;
	*state = m.state;
	if (b32 != NULL && m.state != MFA_OFF &&
	    totp_b32_encode(m.secret, m.secret_len, b32, TOTP_B32_MAX + 1) == 0)
		rc = UM_EINTERNAL;
out:
	OPENSSL_cleanse(&m, sizeof(m));
	return rc;
}

enum um_err
mfa_start(struct ctx *ctx, long long uid, char b32[TOTP_B32_MAX + 1])
{
	const struct conf *c = ctx->conf;
	unsigned char      secret[TOTP_SECRET_LEN], sealed[SEALED_MAX];
	struct db_val      p[3];
	struct db_res      res;
	char               ad[64];
	size_t             n;
	int                adn;
	enum um_err        rc = UM_EINTERNAL;

	if (!c->have_data_key || (adn = bind_ad(ad, sizeof(ad), uid)) < 0)
		goto out;
	if (RAND_bytes(secret, sizeof(secret)) != 1 ||
	    (rc = aead_seal(c->data_key, secret, sizeof(secret), ad, (size_t)adn, sealed,
	         sizeof(sealed), &n)) != UM_OK)
		goto out;
	if (totp_b32_encode(secret, sizeof(secret), b32, TOTP_B32_MAX + 1) == 0) {
		rc = UM_EINTERNAL;
		goto out;
	}
	p[0] = DBV_BLOB(sealed, n);
	p[1] = DBV_INT(MFA_KEY_ID);
	p[2] = DBV_INT(uid);
	if ((rc = db_exec(ctx->db, ctx->arena, sql_store, p, 3, &res)) != UM_OK)
		goto out;
	/* No row changed: the account has it on already (or is gone). */
	rc = res.affected == 1 ? UM_OK : UM_ECONFLICT;
out:
	OPENSSL_cleanse(secret, sizeof(secret));
	return rc;
}

/* Strips spaces and hyphens: people copy codes as "123 456" or "abcde-fghij". */
static size_t
squeeze(const char *in, char *out, size_t outlen)
{
	size_t n = 0;

	for (; *in != '\0'; in++) {
		if (*in == ' ' || *in == '-' || *in == '\t')
			continue;
		if (n + 1 >= outlen)
			return 0;
		out[n++] = *in;
	}
	out[n] = '\0';
	return n;
}

/*
 * A TOTP code against the secret in m, then the atomic step update: UM_OK only for the
 * request that records the step first.  UM_ECREDS otherwise.
 */
static enum um_err
totp_accept(struct ctx *ctx, long long uid, const struct mfa_row *m, const char *code)
{
	struct db_val p[3];
	struct db_res res;
	int64_t       step;
	enum um_err   rc;

	if (totp_verify(m->secret, m->secret_len, code, time(NULL), m->last_step, &step) != 0)
		return UM_ECREDS;
	p[0] = DBV_INT(step);
	p[1] = DBV_INT(uid);
	p[2] = DBV_INT(step);
	if ((rc = db_exec(ctx->db, ctx->arena, sql_step, p, 3, &res)) != UM_OK)
		return rc;
	return res.affected == 1 ? UM_OK : UM_ECREDS;
}

/* The SHA-256 a recovery code is stored as: of its ten characters, lower case. */
static int
recovery_hash(const char *code, unsigned char hash[32])
{
	char   norm[MFA_RECOVERY_CHARS];
	size_t i;

	if (strlen(code) != MFA_RECOVERY_CHARS)
		return -1;
	for (i = 0; i < MFA_RECOVERY_CHARS; i++) {
		norm[i] = (code[i] >= 'A' && code[i] <= 'Z') ? (char)(code[i] - 'A' + 'a') :
		                                               code[i];
		if (memchr(rc_alphabet, norm[i], sizeof(rc_alphabet) - 1) == NULL ||
		    norm[i] == '\0')
			return -1;
	}
	token_sha256(norm, sizeof(norm), hash);
	return 0;
}

static enum um_err
recovery_accept(struct ctx *ctx, long long uid, const char *code)
{
	unsigned char hash[32];
	struct db_val p[2];
	struct db_res res;
	enum um_err   rc;

	if (recovery_hash(code, hash) != 0)
		return UM_ECREDS;
	p[0] = DBV_INT(uid);
	p[1] = DBV_BLOB(hash, sizeof(hash));
	/* Marking it used is the check: a second use, even a concurrent one, changes nothing. */
	if ((rc = db_exec(ctx->db, ctx->arena, sql_code_use, p, 2, &res)) != UM_OK)
		return rc;
	if (res.affected != 1)
		return UM_ECREDS;
	return audit_log(ctx, AUDIT_RECOVERY_CODE_USED, uid, uid, NULL);
}

/*
 * The notice to the account's address that two-step verification went on or off (issue
 * 10, item 9), queued in the caller's transaction: if it was not the owner, they learn it.
 */
static enum um_err
notice(struct ctx *ctx, long long uid, const char *tmpl)
{
	struct user u;
	enum um_err rc;

	if ((rc = user_by_id(ctx->db, ctx->arena, uid, &u)) != UM_OK)
		return rc;
	return notify_queue(ctx, tmpl, u.email,
	    u.display_name != NULL ? u.display_name : u.username,
	    json_pack("{s:s}", "username", u.username));
}

enum um_err
mfa_confirm(struct ctx *ctx, long long uid, const char *code, const unsigned char *keep,
    char codes[MFA_RECOVERY_CODES][MFA_RECOVERY_LEN + 1])
{
	struct db     *db = ctx->db;
	struct mfa_row m;
	struct db_val  p[2];
	struct db_res  res;
	unsigned char  rnd[MFA_RECOVERY_CHARS], hash[32];
	char           typed[MFA_CODE_MAX + 1], raw[MFA_RECOVERY_CHARS];
	size_t         i, j;
	int            in_tx = 0;
	enum um_err    rc;

	if ((rc = load(ctx, uid, &m)) != UM_OK)
		goto out;
	if (m.state != MFA_PENDING) {
		rc = UM_ECONFLICT;
		goto out;
	}
	if (code == NULL || squeeze(code, typed, sizeof(typed)) == 0 ||
	    (rc = totp_accept(ctx, uid, &m, typed)) != UM_OK) {
		if (rc == UM_OK)
			rc = UM_ECREDS;
		goto out;
	}
	if ((rc = db_begin(db)) != UM_OK)
		goto out;
	in_tx = 1;
	p[0] = DBV_INT(uid);
	if ((rc = db_exec(db, ctx->arena, sql_enable, p, 1, &res)) != UM_OK)
		goto out;
	if (res.affected != 1) {
		rc = UM_ECONFLICT;
		goto out;
	}
	if ((rc = db_exec(db, ctx->arena, sql_codes_delete, p, 1, NULL)) != UM_OK)
		goto out;
	for (i = 0; i < MFA_RECOVERY_CODES; i++) {
		/* 256 is a multiple of 32, so each byte masked to 5 bits is uniform. */
		if (RAND_bytes(rnd, sizeof(rnd)) != 1) {
			rc = UM_EINTERNAL;
			goto out;
		}
		for (j = 0; j < MFA_RECOVERY_CHARS; j++)
			raw[j] = rc_alphabet[rnd[j] & 0x1f];
		memcpy(codes[i], raw, 5);
		codes[i][5] = '-';
		memcpy(codes[i] + 6, raw + 5, 5);
		codes[i][MFA_RECOVERY_LEN] = '\0';
		token_sha256(raw, sizeof(raw), hash);
		p[1] = DBV_BLOB(hash, sizeof(hash));
		if ((rc = db_exec(db, ctx->arena, sql_code_insert, p, 2, NULL)) != UM_OK)
			goto out;
	}
	/*
	 * Whoever else holds a session or a token of the account (a thief who enrolled
	 * nothing, or a session from before) is signed out: from now on a login needs the
	 * second factor.  Only the session that turned it on stays.  session_end_all logs
	 * the `user` revocation row (mfa_enabled changes in the user object too).
	 */
	if ((rc = session_end_all(ctx, uid, keep)) != UM_OK ||
	    (rc = notice(ctx, uid, "mfa-enabled")) != UM_OK ||
	    (rc = audit_log(ctx, AUDIT_MFA_ENABLED, uid, uid, NULL)) != UM_OK ||
	    (rc = db_commit(db)) != UM_OK)
		goto out;
	in_tx = 0;
	rc = UM_OK;
out:
	if (in_tx)
		db_rollback(db);
	OPENSSL_cleanse(&m, sizeof(m));
	OPENSSL_cleanse(rnd, sizeof(rnd));
	OPENSSL_cleanse(raw, sizeof(raw));
	return rc;
}

/* Turns it off for uid, audits event by actor, mails the notice; *changed: it was set up. */
static enum um_err
turn_off(struct ctx *ctx, long long uid, enum audit_event event, long long actor, int *changed)
{
	struct db    *db = ctx->db;
	struct db_val p[1] = { DBV_INT(uid) };
	struct db_res res;
	enum um_err   rc;

	*changed = 0;
	if ((rc = db_begin(db)) != UM_OK)
		return rc;
	if ((rc = db_exec(db, ctx->arena, sql_disable, p, 1, &res)) != UM_OK)
		goto out;
	/* Nothing was set up: nothing to say, nothing to audit. */
	if (res.affected == 0)
		goto commit;
	*changed = 1;
	/* mfa_enabled changes in the user object: a `user` row. */
	if ((rc = db_exec(db, ctx->arena, sql_codes_delete, p, 1, NULL)) != UM_OK ||
	    (rc = revocation_user(ctx, uid)) != UM_OK ||
	    (rc = notice(ctx, uid, "mfa-disabled")) != UM_OK ||
	    (rc = audit_log(ctx, event, uid, actor, NULL)) != UM_OK)
		goto out;
commit:
	rc = db_commit(db);
	return rc;
out:
	db_rollback(db);
	return rc;
}

enum um_err
mfa_disable(struct ctx *ctx, long long uid)
{
	int changed;

	return turn_off(ctx, uid, AUDIT_MFA_DISABLED, uid, &changed);
}

enum um_err
mfa_reset(struct ctx *ctx, long long uid, int *changed)
{
	struct user u;
	enum um_err rc;

	*changed = 0;
	if ((rc = user_by_id(ctx->db, ctx->arena, uid, &u)) != UM_OK)
		return rc;
	return turn_off(ctx, uid, AUDIT_MFA_RESET_BY_ADMIN, ctx->actor, changed);
}

enum um_err
mfa_verify(struct ctx *ctx, long long uid, const char *code)
{
	struct mfa_row m;
	char           typed[MFA_CODE_MAX + 1];
	size_t         n;
	enum um_err    rc = UM_ECREDS;

	memset(&m, 0, sizeof(m));
	if (code == NULL || strlen(code) > MFA_CODE_MAX ||
	    (n = squeeze(code, typed, sizeof(typed))) == 0)
		goto out;
	if ((rc = load(ctx, uid, &m)) != UM_OK)
		goto out;
	if (m.state != MFA_ON) {
		rc = UM_ECREDS;
		goto out;
	}
	/* Six characters are a TOTP code; recovery codes are ten. */
	rc = n == TOTP_DIGITS ? totp_accept(ctx, uid, &m, typed) :
	                        recovery_accept(ctx, uid, typed);
out:
	OPENSSL_cleanse(&m, sizeof(m));
	OPENSSL_cleanse(typed, sizeof(typed));
	return rc;
}

enum um_err
mfa_login(struct ctx *ctx, const struct user *u, const char *code, const struct device *dev,
    long long *retry_after)
{
	enum um_err rc;

	if ((rc = login_gate(u, dev, retry_after)) != UM_OK)
		return rc;
	/* No code at all is the normal first answer to a client that did not know: no count. */
	if (code == NULL || *code == '\0')
		return UM_EMFA;
	if ((rc = mfa_verify(ctx, u->id, code)) != UM_ECREDS)
		return rc;
	rc = login_count_failure(ctx, u, dev, AUDIT_MFA_FAILED, NULL, retry_after);
	return rc == UM_ECREDS ? UM_EMFA : rc;
}
