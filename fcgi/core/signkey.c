/* signkey: ES256 ID token keys — private halves as files in the state dir, public halves in MariaDB for every worker's JWKS. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>

#include "arena.h"
#include "b64.h"
#include "buf.h"
#include "conf.h"
#include "ctx.h"
#include "db.h"
#include "json.h"
#include "jwt.h"
#include "log.h"
#include "signkey.h"
#include "token.h"

#define COORD   32 /* bytes of a P-256 coordinate, and of r and of s */
#define KID_MAX 64

/* The key this process signs with, loaded once per kid (a rotation changes the kid). */
static EVP_PKEY *cur_key;
static char      cur_kid[KID_MAX + 1];

/* 1 when kid is base64url of a sane length: it names a file. */
static int
kid_ok(const char *kid)
{
	size_t n = strlen(kid), i;

	if (n == 0 || n > KID_MAX)
		return 0;
	for (i = 0; i < n; i++)
		if (!((kid[i] >= 'A' && kid[i] <= 'Z') || (kid[i] >= 'a' && kid[i] <= 'z') ||
		        (kid[i] >= '0' && kid[i] <= '9') || kid[i] == '-' || kid[i] == '_'))
			return 0;
	return 1;
}

static char *
key_path(struct ctx *ctx, const char *kid)
{
	return arena_printf(ctx->arena, "%s/%s.pem", ctx->conf->signing_key_dir, kid);
}

static char *
b64(struct arena *a, const unsigned char *p, size_t n)
{
	char *s = arena_alloc(a, B64URL_LEN(n) + 1);

	(void)b64url_encode(s, p, n);
	return s;
}

/* The public JWK of a P-256 key and its RFC 7638 thumbprint (the kid). */
static json_t *
public_jwk(struct ctx *ctx, EVP_PKEY *k, const char **kid)
{
	unsigned char x[COORD], y[COORD], digest[32];
	BIGNUM       *bx = NULL, *by = NULL;
	const char   *xs, *ys;
	char         *canon;
	json_t       *jwk = NULL;

	if (EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_EC_PUB_X, &bx) != 1 ||
	    EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_EC_PUB_Y, &by) != 1 ||
	    BN_bn2binpad(bx, x, COORD) != COORD || BN_bn2binpad(by, y, COORD) != COORD)
		goto out;
	xs = b64(ctx->arena, x, COORD);
	ys = b64(ctx->arena, y, COORD);
	/* RFC 7638 §3.2: the required members only, in lexicographic order, no spaces. */
	canon = arena_printf(ctx->arena,
	    "{\"crv\":\"P-256\",\"kty\":\"EC\",\"x\":\"%s\",\"y\":\"%s\"}", xs, ys);
	token_sha256(canon, strlen(canon), digest);
	*kid = b64(ctx->arena, digest, sizeof(digest));
	jwk = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "kty", "EC", "crv", "P-256", "x",
	    xs, "y", ys, "kid", *kid, "use", "sig", "alg", "ES256");
out:
	BN_free(bx);
	BN_free(by);
	return jwk;
}

/*
 * Writes k as PKCS#8 PEM to path, created 0600 and new (never over another key).  Run as
 * root (usermgr-admin rotate-signing-key by an operator), the file is given to the owner of
 * the directory, the workers' user, or they could not read it.
 */
static enum um_err
write_key(const char *dir, const char *path, EVP_PKEY *k)
{
	struct stat st;
	FILE       *f;
	int         fd, ok;

	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) < 0) {
		log_err("signkey: %s: %s", path, strerror(errno));
		return UM_EINTERNAL;
	}
	if (geteuid() == 0 && stat(dir, &st) == 0 && st.st_uid != 0 &&
	    fchown(fd, st.st_uid, st.st_gid) != 0) {
		log_err("signkey: %s: %s", path, strerror(errno));
		close(fd);
		(void)unlink(path);
		return UM_EINTERNAL;
	}
	if ((f = fdopen(fd, "w")) == NULL) {
		close(fd);
		return UM_EINTERNAL;
	}
	ok = PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL) == 1;
	ok = fflush(f) == 0 && fsync(fileno(f)) == 0 && ok;
	ok = fclose(f) == 0 && ok;
	if (!ok) {
		(void)unlink(path);
		log_err("signkey: writing %s failed", path);
		return UM_EINTERNAL;
	}
	return UM_OK;
}

/* A new P-256 key in its file; *jwk its public half, *kid its id, *path the file. */
static enum um_err
generate(struct ctx *ctx, json_t **jwk, const char **kid, const char **path)
{
	EVP_PKEY   *k;
	enum um_err rc = UM_EINTERNAL;

	(void)mkdir(ctx->conf->signing_key_dir, 0700);
	if ((k = EVP_EC_gen("P-256")) == NULL) {
		log_err("signkey: P-256 key generation failed");
		return UM_EINTERNAL;
	}
	if ((*jwk = public_jwk(ctx, k, kid)) != NULL) {
		*path = key_path(ctx, *kid);
		rc = write_key(ctx->conf->signing_key_dir, *path, k);
		if (rc != UM_OK)
			json_decref(*jwk);
	}
	EVP_PKEY_free(k);
	return rc;
}

static const char sql_current[] = "SELECT kid FROM oauth_signing_keys WHERE current = 1";
static const char sql_insert[] =
    "INSERT INTO oauth_signing_keys (kid, public_jwk, current) VALUES (?, ?, 1)";

/* Inserts a generated key as the current one (the caller retired the old one). */
static enum um_err
insert_current(struct ctx *ctx, const char *kid, json_t *jwk)
{
	char         *js = json_dumps(jwk, JSON_COMPACT);
	struct db_val p[2];
	enum um_err   rc;

	if (js == NULL)
		return UM_EINTERNAL;
	p[0] = dbv_text(kid);
	p[1] = dbv_text(js);
	rc = db_exec(ctx->db, ctx->arena, sql_insert, p, 2, NULL);
	free(js);
	return rc;
}

/* The current kid, generating the first key when there is none. */
static enum um_err
current_kid(struct ctx *ctx, const char **kid)
{
	struct db_res res;
	json_t       *jwk;
	const char   *path;
	enum um_err   rc;

	if ((rc = db_exec(ctx->db, ctx->arena, sql_current, NULL, 0, &res)) != UM_OK)
		return rc;
	if (res.nrows == 1) {
		*kid = DB_CELL(&res, 0, 0)->s;
		return kid_ok(*kid) ? UM_OK : UM_EINTERNAL;
	}
	if ((rc = generate(ctx, &jwk, kid, &path)) != UM_OK)
		return rc;
	rc = insert_current(ctx, *kid, jwk);
	json_decref(jwk);
	if (rc == UM_OK) {
		log_info("signkey: generated the first ID token signing key %s", *kid);
		return UM_OK;
	}
	/* Another worker made the first key at the same time, and won: use that one. */
	(void)unlink(path);
	if (rc != UM_ECONFLICT ||
	    (rc = db_exec(ctx->db, ctx->arena, sql_current, NULL, 0, &res)) != UM_OK)
		return rc;
	if (res.nrows != 1)
		return UM_EINTERNAL;
	*kid = DB_CELL(&res, 0, 0)->s;
	return kid_ok(*kid) ? UM_OK : UM_EINTERNAL;
}

/* Loads the private key of kid into the process, unless it is the one loaded. */
static enum um_err
load_key(struct ctx *ctx, const char *kid)
{
	const char *path;
	EVP_PKEY   *k;
	FILE       *f;

	if (cur_key != NULL && strcmp(cur_kid, kid) == 0)
		return UM_OK;
	path = key_path(ctx, kid);
	if ((f = fopen(path, "re")) == NULL) {
		log_err("signkey: %s: %s", path, strerror(errno));
		return UM_EINTERNAL;
	}
	k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	(void)fclose(f);
	if (k == NULL || !EVP_PKEY_is_a(k, "EC")) {
		EVP_PKEY_free(k);
		log_err("signkey: %s holds no EC private key", path);
		return UM_EINTERNAL;
	}
	EVP_PKEY_free(cur_key);
	cur_key = k;
	(void)snprintf(cur_kid, sizeof(cur_kid), "%s", kid);
	return UM_OK;
}

char *
signkey_sign(struct ctx *ctx, const json_t *claims)
{
	unsigned char       *der = NULL, rs[2 * COORD];
	const unsigned char *dp;
	const BIGNUM        *r, *s;
	ECDSA_SIG           *sig = NULL;
	EVP_MD_CTX          *md = NULL;
	const char          *kid;
	char                *h, *p, *out = NULL;
	size_t               derlen = 0;
	json_t              *hdr;
	struct buf           b;

	if (current_kid(ctx, &kid) != UM_OK || load_key(ctx, kid) != UM_OK)
		return NULL;
	hdr = json_pack("{s:s, s:s, s:s}", "alg", "ES256", "typ", "JWT", "kid", kid);
	h = jwt_encode_part(ctx->arena, hdr);
	json_decref(hdr);
	p = jwt_encode_part(ctx->arena, claims);
	if (h == NULL || p == NULL)
		return NULL;
	buf_init(&b, ctx->arena);
	buf_printf(&b, "%s.%s", h, p);
	if ((md = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, cur_key) != 1 ||
	    EVP_DigestSign(md, NULL, &derlen, (const unsigned char *)b.data, b.len) != 1 ||
	    (der = OPENSSL_malloc(derlen)) == NULL ||
	    EVP_DigestSign(md, der, &derlen, (const unsigned char *)b.data, b.len) != 1)
		goto out;
	/* OpenSSL gives the DER SEQUENCE of RFC 3279; JWS wants r and s, 32 bytes each. */
	dp = der;
	if ((sig = d2i_ECDSA_SIG(NULL, &dp, (long)derlen)) == NULL)
		goto out;
	ECDSA_SIG_get0(sig, &r, &s);
	if (BN_bn2binpad(r, rs, COORD) != COORD || BN_bn2binpad(s, rs + COORD, COORD) != COORD)
		goto out;
	buf_putc(&b, '.');
	buf_puts(&b, b64(ctx->arena, rs, sizeof(rs)));
	out = b.data;
out:
	if (out == NULL)
		log_err("signkey: ES256 signing failed");
	ECDSA_SIG_free(sig);
	OPENSSL_free(der);
	EVP_MD_CTX_free(md);
	return out;
}

/* The EVP key of a published public JWK (P-256 x, y). */
static EVP_PKEY *
key_of_jwk(json_t *jwk)
{
	unsigned char   point[1 + 2 * COORD];
	const char     *x = json_string_value(json_object_get(jwk, "x"));
	const char     *y = json_string_value(json_object_get(jwk, "y"));
	OSSL_PARAM_BLD *bld = NULL;
	OSSL_PARAM     *params = NULL;
	EVP_PKEY_CTX   *pc = NULL;
	EVP_PKEY       *k = NULL;

	if (x == NULL || y == NULL || strlen(x) != B64URL_LEN(COORD) ||
	    strlen(y) != B64URL_LEN(COORD) || b64url_decode(point + 1, x, strlen(x)) != COORD ||
	    b64url_decode(point + 1 + COORD, y, strlen(y)) != COORD)
		return NULL;
	point[0] = 0x04; /* SEC 1 uncompressed point */
	if ((bld = OSSL_PARAM_BLD_new()) == NULL ||
	    OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) !=
	        1 ||
	    OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point,
	        sizeof(point)) != 1 ||
	    (params = OSSL_PARAM_BLD_to_param(bld)) == NULL ||
	    (pc = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL)) == NULL ||
	    EVP_PKEY_fromdata_init(pc) != 1 ||
	    EVP_PKEY_fromdata(pc, &k, EVP_PKEY_PUBLIC_KEY, params) != 1)
		k = NULL;
	EVP_PKEY_CTX_free(pc);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	return k;
}

static const char sql_published[] =
    "SELECT public_jwk FROM oauth_signing_keys WHERE current = 1"
    " OR expires_at > UTC_TIMESTAMP(6) ORDER BY created_at DESC";

/* 1 when r || s (64 bytes) is a valid ES256 signature of msg under k. */
static int
es256_ok(EVP_PKEY *k, const char *msg, size_t n, const unsigned char rs[2 * COORD])
{
	ECDSA_SIG     *sig = ECDSA_SIG_new();
	BIGNUM        *r = BN_bin2bn(rs, COORD, NULL), *s = BN_bin2bn(rs + COORD, COORD, NULL);
	unsigned char *der = NULL;
	EVP_MD_CTX    *md = NULL;
	int            len, ok = 0;

	if (sig == NULL || r == NULL || s == NULL || ECDSA_SIG_set0(sig, r, s) != 1) {
		BN_free(r);
		BN_free(s);
		goto out;
	}
	if ((len = i2d_ECDSA_SIG(sig, &der)) <= 0 || (md = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, k) != 1)
		goto out;
	ok = EVP_DigestVerify(md, der, (size_t)len, (const unsigned char *)msg, n) == 1;
out:
	ECDSA_SIG_free(sig);
	OPENSSL_free(der);
	EVP_MD_CTX_free(md);
	return ok;
}

enum um_err
signkey_verify(struct ctx *ctx, const char *tok, json_t **claims)
{
	const char   *dot1, *dot2, *kid;
	unsigned char rs[2 * COORD + 2];
	json_t       *hdr, *v, *jwk = NULL;
	struct db_res res;
	EVP_PKEY     *k;
	size_t        i, n;
	int           ok;

	*claims = NULL;
	if (tok == NULL || (n = strlen(tok)) == 0 || n > JWT_MAX ||
	    (dot1 = strchr(tok, '.')) == NULL || (dot2 = strchr(dot1 + 1, '.')) == NULL ||
	    strchr(dot2 + 1, '.') != NULL)
		return UM_ETOKEN;
	if (strlen(dot2 + 1) != B64URL_LEN(2 * COORD) ||
	    b64url_decode(rs, dot2 + 1, strlen(dot2 + 1)) != 2 * COORD)
		return UM_ETOKEN;
	if ((hdr = jwt_decode_part(ctx->arena, tok, (size_t)(dot1 - tok))) == NULL)
		return UM_ETOKEN;
	/* Only ES256: never none, never HS256 with our public key as the secret. */
	v = json_object_get(hdr, "alg");
	if (!json_is_string(v) || strcmp(json_string_value(v), "ES256") != 0 ||
	    json_object_get(hdr, "crit") != NULL ||
	    (kid = json_string_value(json_object_get(hdr, "kid"))) == NULL)
		return UM_ETOKEN;
	if (db_exec(ctx->db, ctx->arena, sql_published, NULL, 0, &res) != UM_OK)
		return UM_EUNAVAIL;
	for (i = 0; i < res.nrows && jwk == NULL; i++) {
		v = json_arena(ctx->arena, json_loads(DB_CELL(&res, i, 0)->s, 0, NULL));
		if (v != NULL && json_is_string(json_object_get(v, "kid")) &&
		    strcmp(json_string_value(json_object_get(v, "kid")), kid) == 0)
			jwk = v;
	}
	if (jwk == NULL || (k = key_of_jwk(jwk)) == NULL)
		return UM_ETOKEN;
	ok = es256_ok(k, tok, (size_t)(dot2 - tok), rs);
	EVP_PKEY_free(k);
	if (!ok)
		return UM_ETOKEN;
	*claims = jwt_decode_part(ctx->arena, dot1 + 1, (size_t)(dot2 - dot1 - 1));
	return *claims != NULL ? UM_OK : UM_ETOKEN;
}

json_t *
signkey_jwks(struct ctx *ctx)
{
	struct db_res res;
	const char   *kid;
	json_t       *keys, *v;
	size_t        i;

	/* Discovery may come before the first sign-in: the key exists from the first ask. */
	if (current_kid(ctx, &kid) != UM_OK ||
	    db_exec(ctx->db, ctx->arena, sql_published, NULL, 0, &res) != UM_OK)
		return NULL;
	keys = json_array();
	for (i = 0; i < res.nrows; i++)
		if ((v = json_loads(DB_CELL(&res, i, 0)->s, 0, NULL)) != NULL)
			json_array_append_new(keys, v);
	return json_pack("{s:o}", "keys", keys);
}

static const char sql_retire[] =
    "UPDATE oauth_signing_keys SET current = NULL, retired_at = UTC_TIMESTAMP(6),"
    " expires_at = UTC_TIMESTAMP(6) + INTERVAL ? SECOND WHERE current = 1";
static const char sql_expired[] = "SELECT kid FROM oauth_signing_keys WHERE current IS NULL"
                                  " AND expires_at <= UTC_TIMESTAMP(6)";
static const char sql_drop[] = "DELETE FROM oauth_signing_keys WHERE kid = ?";

enum um_err
signkey_rotate(struct ctx *ctx, long long keep, const char **kid)
{
	struct db_val p[1];
	struct db_res res;
	json_t       *jwk;
	const char   *path;
	size_t        i;
	enum um_err   rc;

	if ((rc = generate(ctx, &jwk, kid, &path)) != UM_OK)
		return rc;
	p[0] = DBV_INT(keep);
	if ((rc = db_begin(ctx->db)) == UM_OK) {
		if ((rc = db_exec(ctx->db, ctx->arena, sql_retire, p, 1, NULL)) != UM_OK ||
		    (rc = insert_current(ctx, *kid, jwk)) != UM_OK ||
		    (rc = db_commit(ctx->db)) != UM_OK)
			db_rollback(ctx->db);
	}
	json_decref(jwk);
	if (rc != UM_OK) {
		(void)unlink(path);
		return rc;
	}
	/* Keys no ID token can name any more: out of the JWKS, and their files gone. */
	if (db_exec(ctx->db, ctx->arena, sql_expired, NULL, 0, &res) == UM_OK)
		for (i = 0; i < res.nrows; i++) {
			p[0] = dbv_text(DB_CELL(&res, i, 0)->s);
			if (kid_ok(p[0].s) &&
			    db_exec(ctx->db, ctx->arena, sql_drop, p, 1, NULL) == UM_OK)
				(void)unlink(key_path(ctx, p[0].s));
		}
	return UM_OK;
}
