/* api-auth: the unauthenticated JSON routes of API.md §4 — sign-up, login, tokens, links. */
#include "config.h"

#include <string.h>

#include <jansson.h>

#include "account.h"
#include "api.h"
#include "app.h"
#include "arena.h"
#include "bounds.h"
#include "breach.h"
#include "browser.h"
#include "db.h"
#include "device.h"
#include "handlers.h"
#include "login.h"
#include "mfa.h"
#include "password.h"
#include "problem.h"
#include "refresh.h"
#include "request.h"
#include "response.h"
#include "runtime.h"
#include "user.h"
#include "validate.h"

enum { R_USERNAME, R_EMAIL, R_PASSWORD, R__MAX };

static const struct field_spec register_spec[R__MAX] = {
	[R_USERNAME] = { "username", validate_username, 0, VF_REQUIRED },
	[R_EMAIL] = { "email", validate_email, 0, VF_REQUIRED },
	[R_PASSWORD] = { "password", validate_password, UM_PASSWORD_FIELD_MAX,
	    VF_REQUIRED | VF_SECRET },
};

/* POST /api/v1/users (alias POST /register_user) — 201 user; 202 with enumeration
 * prevention; 400 validation_failed / invalid_json; 409 conflict naming the taken fields;
 * 415; 429; 503. */
enum um_err
api_register(struct request *req, struct response *resp)
{
	struct validate_ctx vctx = { req->rt->conf.password_min_length, NULL };
	struct field_result r[R__MAX];
	struct user         u;
	struct signup       su;
	json_t             *errors;
	enum um_err         rc;

	if (api_fields(req, resp, &vctx, register_spec, R__MAX, r) != 0)
		return UM_OK;
	/* Its refusal is in r; api_invalid() below answers it with the others. */
	(void)validate_password_username(r, R_PASSWORD, r[R_USERNAME].val);
	if (api_invalid(req, resp, register_spec, R__MAX, r) != 0)
		return UM_OK;
	/* Last, and only for an otherwise valid body: it asks a third party. */
	if (breach_refuse(req->arena, &req->rt->conf, r, R_PASSWORD) != UM_OK &&
	    api_invalid(req, resp, register_spec, R__MAX, r) != 0)
		return UM_OK;
	rc = account_register(&req->ctx, r[R_USERNAME].val, r[R_EMAIL].val, r[R_PASSWORD].val,
	    r[R_PASSWORD].len, &su);
	if (rc == UM_ECONFLICT) {
		/* 409 names each taken field (API.md §7); usernames are public. */
		errors = json_array();
		if (su.username_taken)
			json_array_append_new(errors,
			    json_pack("{s:s, s:s}", "field", "username", "message",
			        "is already taken"));
		if (su.email_taken)
			json_array_append_new(errors,
			    json_pack("{s:s, s:s}", "field", "email", "message",
			        "is already registered"));
		problem_send(req, resp, UM_ECONFLICT, 0, "Already taken.", errors);
		return UM_OK;
	}
	if (rc != UM_OK)
		return rc;
	/* With enumeration prevention a new account and a taken address look alike. */
	if (req->rt->conf.prevent_enumeration) {
		api_accepted(resp, "verification_sent");
		return UM_OK;
	}
	if ((rc = user_by_id(req->rt->db, req->arena, su.id, &u)) != UM_OK)
		return rc;
	api_user(req, resp, 201, &u, NULL);
	return UM_OK;
}

enum { L_LOGIN, L_PASSWORD, L_TOTP, L__MAX };

static const struct field_spec login_spec[L__MAX] = {
	[L_LOGIN] = { "login", NULL, UM_EMAIL_MAX, VF_REQUIRED },
	[L_PASSWORD] = { "password", NULL, UM_PASSWORD_FIELD_MAX, VF_REQUIRED | VF_SECRET },
	[L_TOTP] = { "totp", NULL, UM_TOTP_FIELD_MAX, VF_SECRET | VF_NULLABLE },
};

/* POST /api/v1/auth/login — 200 token pair (and a renewed device cookie); 401
 * invalid_credentials; 401 mfa_required
 * (two-step verification on, totp missing or wrong: a wrong one counts towards the
 * lockout); 403 email_not_verified / account_disabled; 400; 415; 429 (+Retry-After); 503. */
enum um_err
api_login(struct request *req, struct response *resp)
{
	struct validate_ctx vctx = { 0, NULL };
	struct field_result r[L__MAX];
	struct device       dev = { .cookie = browser_device_cookie(req) };
	struct user         u;
	long long           retry;
	enum um_err         rc;

	if (api_fields(req, resp, &vctx, login_spec, L__MAX, r) != 0)
		return UM_OK;
	/*
	 * The device cookie is no credential (the API still authenticates by bearer tokens
	 * only, API.md §7): it only lets a client that keeps cookies go on within its own
	 * budget while strangers hold the account locked (docs/DECISIONS.md).
	 */
	rc = login_password(&req->ctx, r[L_LOGIN].val, r[L_PASSWORD].val, r[L_PASSWORD].len,
	    &dev, &u, &retry);
	/* The second factor, only once the password is right (API.md §4: 401 mfa_required). */
	if (rc == UM_OK && u.mfa_enabled)
		rc = mfa_login(&req->ctx, &u, r[L_TOTP].val, &dev, &retry);
	if (rc == UM_ERATE) {
		problem_send(req, resp, rc, 0,
		    "Too many failed attempts; the account is locked "
		    "for a while.",
		    NULL);
		response_header(resp, "Retry-After", arena_printf(req->arena, "%lld", retry));
		return UM_OK;
	}
	if (rc == UM_OK)
		rc = api_signed_in(req, resp, &u, &dev);
	if (rc != UM_OK)
		problem_send(req, resp, rc, 0,
		    rc == UM_ECREDS ?
		        "The login or password is not correct." :
		        rc == UM_EMFA ?
		        "Send the current code of your authenticator app (or a recovery code) as "
		        "totp." :
		        NULL,
		    NULL);
	return UM_OK;
}

enum { T_TOKEN, T__MAX };

static const struct field_spec refresh_spec[T__MAX] = {
	[T_TOKEN] = { "refresh_token", NULL, UM_REFRESH_TOKEN_MAX, VF_REQUIRED | VF_SECRET },
};

/* POST /api/v1/auth/refresh — 200 new pair; 401 invalid_token (unknown, expired, revoked,
 * reused after the grace window); 400; 415; 503. */
enum um_err
api_refresh(struct request *req, struct response *resp)
{
	struct validate_ctx vctx = { 0, NULL };
	struct field_result r[T__MAX];
	struct user         u;
	long long           uid, sid;
	char               *refresh;
	enum um_err         rc;

	if (api_fields(req, resp, &vctx, refresh_spec, T__MAX, r) != 0)
		return UM_OK;
	if ((rc = refresh_rotate(&req->ctx, r[T_TOKEN].val, NULL, &uid, &sid, &refresh,
	         NULL)) != UM_OK ||
	    (rc = user_by_id(req->rt->db, req->arena, uid, &u)) != UM_OK) {
		problem_send(req, resp, rc == UM_ENOTFOUND ? UM_ETOKEN : rc, 0, NULL, NULL);
		return UM_OK;
	}
	api_token_pair(req, resp, &u, sid, refresh);
	return UM_OK;
}

/* POST /api/v1/auth/logout — 204 (the token's family is revoked; unknown tokens too); 400;
 * 415; 503. */
enum um_err
api_logout(struct request *req, struct response *resp)
{
	struct validate_ctx vctx = { 0, NULL };
	struct field_result r[T__MAX];
	enum um_err         rc;

	if (api_fields(req, resp, &vctx, refresh_spec, T__MAX, r) != 0)
		return UM_OK;
	if ((rc = refresh_revoke_token(&req->ctx, r[T_TOKEN].val)) != UM_OK)
		return rc;
	response_empty(resp, 204);
	return UM_OK;
}

enum { V_TOKEN, V__MAX };

static const struct field_spec token_spec[V__MAX] = {
	[V_TOKEN] = { "token", NULL, UM_LINK_TOKEN_MAX, VF_REQUIRED | VF_SECRET },
};

/* POST /api/v1/auth/verify-email — 200 user; 400 invalid_token / token_expired; 503. */
enum um_err
api_verify_email(struct request *req, struct response *resp)
{
	struct validate_ctx vctx = { 0, NULL };
	struct field_result r[V__MAX];
	struct user         u;
	long long           id;
	enum um_err         rc;

	if (api_fields(req, resp, &vctx, token_spec, V__MAX, r) != 0)
		return UM_OK;
	if ((rc = account_verify_email(&req->ctx, r[V_TOKEN].val, &id)) != UM_OK ||
	    (rc = user_by_id(req->rt->db, req->arena, id, &u)) != UM_OK) {
		/* Mailed-link tokens answer 400, not 401 (API.md §7). */
		problem_send(req, resp, rc == UM_ENOTFOUND ? UM_ETOKEN : rc,
		    rc == UM_ETOKEN || rc == UM_EEXPIRED || rc == UM_ENOTFOUND ? 400 : 0, NULL,
		    NULL);
		return UM_OK;
	}
	api_user(req, resp, 200, &u, NULL);
	return UM_OK;
}

enum { E_EMAIL, E__MAX };

static const struct field_spec email_spec[E__MAX] = {
	[E_EMAIL] = { "email", validate_email, 0, VF_REQUIRED },
};

/* POST /api/v1/auth/verify-email/resend — 202 always for a well-formed address; 400; 429. */
enum um_err
api_verify_resend(struct request *req, struct response *resp)
{
	struct validate_ctx vctx = { 0, NULL };
	struct field_result r[E__MAX];
	enum um_err         rc;

	if (api_fields(req, resp, &vctx, email_spec, E__MAX, r) != 0)
		return UM_OK;
	if ((rc = account_request_mail(&req->ctx, MAIL_REQ_VERIFY, r[E_EMAIL].val)) != UM_OK)
		return rc;
	api_accepted(resp, "accepted");
	return UM_OK;
}

/* POST /api/v1/auth/password/forgot — 202 always for a well-formed address; 400; 429. */
enum um_err
api_password_forgot(struct request *req, struct response *resp)
{
	struct validate_ctx vctx = { 0, NULL };
	struct field_result r[E__MAX];
	enum um_err         rc;

	if (api_fields(req, resp, &vctx, email_spec, E__MAX, r) != 0)
		return UM_OK;
	if ((rc = account_request_mail(&req->ctx, MAIL_REQ_RESET, r[E_EMAIL].val)) != UM_OK)
		return rc;
	api_accepted(resp, "accepted");
	return UM_OK;
}

enum { P_TOKEN, P_PASSWORD, P__MAX };

static const struct field_spec reset_spec[P__MAX] = {
	[P_TOKEN] = { "token", NULL, UM_LINK_TOKEN_MAX, VF_REQUIRED | VF_SECRET },
	[P_PASSWORD] = { "password", validate_password, UM_PASSWORD_FIELD_MAX,
	    VF_REQUIRED | VF_SECRET },
};

/* POST /api/v1/auth/password/reset — 204; 400 invalid_token / token_expired /
 * validation_failed; 415; 503. */
enum um_err
api_password_reset(struct request *req, struct response *resp)
{
	struct validate_ctx vctx = { req->rt->conf.password_min_length, NULL };
	struct field_result r[P__MAX];
	struct user         u;
	char                hash[PASSWORD_HASH_MAX];
	long long           uid;
	enum um_err         rc;

	if (api_fields(req, resp, &vctx, reset_spec, P__MAX, r) != 0)
		return UM_OK;
	if ((rc = account_check_reset(&req->ctx, r[P_TOKEN].val, &u)) != UM_OK) {
		problem_send(req, resp, rc, rc == UM_ETOKEN || rc == UM_EEXPIRED ? 400 : 0,
		    NULL, NULL);
		return UM_OK;
	}
	(void)validate_password_username(r, P_PASSWORD, u.username);
	if (api_invalid(req, resp, reset_spec, P__MAX, r) != 0)
		return UM_OK;
	if (breach_refuse(req->arena, &req->rt->conf, r, P_PASSWORD) != UM_OK &&
	    api_invalid(req, resp, reset_spec, P__MAX, r) != 0)
		return UM_OK;
	/* Argon2id before the transaction; the link is checked again inside it. */
	if ((rc = password_hash(&req->rt->conf, r[P_PASSWORD].val, r[P_PASSWORD].len, hash)) !=
	    UM_OK)
		return rc;
	rc = account_reset_password(&req->ctx, r[P_TOKEN].val, hash, &uid);
	explicit_bzero(hash, sizeof(hash));
	if (rc == UM_ETOKEN || rc == UM_EEXPIRED) {
		/* Used meanwhile by a concurrent request with the same link. */
		problem_send(req, resp, rc, 400, NULL, NULL);
		return UM_OK;
	}
	if (rc != UM_OK)
		return rc;
	response_empty(resp, 204);
	return UM_OK;
}
