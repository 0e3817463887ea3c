/* api-passkeys: the JSON routes of issue 13 — passkey sign-in (/api/v1/auth/passkey*) and /api/v1/me/passkeys. */
#include "config.h"

#include <string.h>

#include <jansson.h>

#include "access.h"
#include "api.h"
#include "app.h"
#include "arena.h"
#include "browser.h"
#include "db.h"
#include "device.h"
#include "handlers.h"
#include "login.h"
#include "passkey.h"
#include "problem.h"
#include "refresh.h"
#include "request.h"
#include "response.h"
#include "runtime.h"
#include "user.h"
#include "validate.h"

#define CHALLENGE_ID_MAX 64 /* bytes of a challenge_id field (43 are used) */

/* Answers 200 {"challenge_id", "publicKey"} and releases the options. */
static void
send_options(struct response *resp, struct passkey_options *o)
{
	json_t *v = json_pack("{s:s, s:o}", "challenge_id", o->challenge_id, "publicKey",
	    o->public_key);

	response_json(resp, 200, v);
	json_decref(v);
}

/*
 * The credential member of the body: an object (RegistrationResponseJSON or
 * AuthenticationResponseJSON).  Otherwise answers 400 validation_failed and returns NULL.
 */
static const json_t *
credential_of(struct request *req, struct response *resp)
{
	const json_t *c = json_object_get(req->json, "credential");

	if (json_is_object(c))
		return c;
	problem_send(req, resp, UM_EINVAL, 0, "Some fields are not valid.",
	    json_pack("[{s:s, s:s}]", "field", "credential", "message",
	        c == NULL ? "is required" : "must be an object"));
	return NULL;
}

/* A refused ceremony: 400 invalid_passkey says which check failed (never a secret). */
static void
refuse(struct request *req, struct response *resp, enum um_err rc, const char *why)
{
	const char *detail = NULL;

	if (rc == UM_EPASSKEY)
		detail = arena_printf(req->arena, "The passkey response failed the %s check.",
		    why != NULL ? why : "format");
	else if (rc == UM_ECHALLENGE)
		detail = "The challenge is unknown, used, expired or for another ceremony; "
		         "ask for new options.";
	problem_send(req, resp, rc, 0, detail,
	    rc == UM_EPASSKEY && why != NULL ?
	        json_pack("[{s:s, s:s}]", "field", "credential", "message", why) :
	        NULL);
}

enum { O_LOGIN, O__MAX };

static const struct field_spec login_options_spec[O__MAX] = {
	[O_LOGIN] = { "login", NULL, UM_EMAIL_MAX, VF_NULLABLE },
};

/*
 * POST /api/v1/auth/passkey/options — no body, {} or {"login"} — 200 {challenge_id,
 * publicKey: PublicKeyCredentialRequestOptionsJSON}; 400 invalid_json / validation_failed;
 * 415; 429 (per-IP limit); 503.
 */
enum um_err
api_passkey_login_options(struct request *req, struct response *resp)
{
	struct validate_ctx    vctx = { 0, NULL };
	struct field_result    r[O__MAX];
	struct passkey_options o;
	const char            *login = NULL;
	enum um_err            rc;

	if (req->json != NULL) {
		if (api_fields(req, resp, &vctx, login_options_spec, O__MAX, r) != 0)
			return UM_OK;
		login = r[O_LOGIN].val != NULL && r[O_LOGIN].val[0] != '\0' ? r[O_LOGIN].val :
		                                                              NULL;
	}
	if ((rc = passkey_login_options(&req->ctx, login, &o)) != UM_OK)
		return rc;
	send_options(resp, &o);
	return UM_OK;
}

enum { S_CHALLENGE, S__MAX };

static const struct field_spec login_spec[S__MAX] = {
	[S_CHALLENGE] = { "challenge_id", NULL, CHALLENGE_ID_MAX, VF_REQUIRED },
};

/*
 * POST /api/v1/auth/passkey {challenge_id, credential: AuthenticationResponseJSON} — 200
 * the token pair of a password login (the passkey is verified by the user: it counts as
 * both factors, so no totp is asked); 400 invalid_challenge / invalid_passkey /
 * validation_failed / invalid_json; 401 invalid_credentials (unknown passkey, bad
 * signature, counter regression); 403 account_disabled / email_not_verified; 415; 429; 503.
 */
enum um_err
api_passkey_login(struct request *req, struct response *resp)
{
	struct validate_ctx vctx = { 0, NULL };
	struct field_result r[S__MAX];
	struct device       dev = { .cookie = browser_device_cookie(req) };
	const json_t       *cred;
	struct user         u;
	const char         *why = NULL;
	enum um_err         rc;

	if (api_fields(req, resp, &vctx, login_spec, S__MAX, r) != 0 ||
	    (cred = credential_of(req, resp)) == NULL)
		return UM_OK;
	rc = passkey_login(&req->ctx, r[S_CHALLENGE].val, cred, &u, &why);
	/* The device is judged as at a password login, so what follows treats both alike. */
	if (rc == UM_OK)
		rc = device_judge(&req->ctx, u.id, &dev);
	/* The same completion as api_login's. */
	if (rc == UM_OK)
		rc = api_signed_in(req, resp, &u, &dev);
	if (rc != UM_OK)
		refuse(req, resp, rc, why);
	return UM_OK;
}

enum { P_PASSWORD, P__MAX };

static const struct field_spec reg_options_spec[P__MAX] = {
	[P_PASSWORD] = { "password", NULL, UM_PASSWORD_FIELD_MAX, VF_SECRET | VF_NULLABLE },
};

/*
 * POST /api/v1/me/passkeys/options — no body, {} or {"password"} — 200 {challenge_id,
 * publicKey: PublicKeyCredentialCreationOptionsJSON}.  Adding a passkey needs a recent
 * check, as enabling two-step verification does: a token whose sign-in is under five
 * minutes old, or the password (wrong: 403 invalid_credentials, counted towards the
 * lockout; 429 locked).  403 recent_login_required without either; 409 conflict at
 * PASSKEY_PER_USER_MAX passkeys; 400; 401; 415; 429; 503.
 */
enum um_err
api_me_passkey_options(struct request *req, struct response *resp)
{
	struct validate_ctx    vctx = { 0, NULL };
	struct field_result    r[P__MAX];
	struct passkey_options o;
	int                    recent = 0;
	enum um_err            rc;

	memset(r, 0, sizeof(r));
	if (req->json != NULL && api_fields(req, resp, &vctx, reg_options_spec, P__MAX, r) != 0)
		return UM_OK;
	if (r[P_PASSWORD].present && r[P_PASSWORD].val != NULL) {
		if (api_recheck(req, resp, &r[P_PASSWORD]) != 0)
			return UM_OK;
	} else {
		if ((rc = passkey_recent_login(&req->ctx, req->auth->user.id, req->auth->sid,
		         NULL, &recent)) != UM_OK)
			return rc;
		if (!recent) {
			problem_send(req, resp, UM_ERECENT, 0,
			    "Adding a passkey needs a sign-in of the last five minutes: send "
			    "the password with this request.",
			    NULL);
			return UM_OK;
		}
	}
	rc = passkey_register_options(&req->ctx, &req->auth->user, &o);
	if (rc == UM_ECONFLICT) {
		problem_send(req, resp, rc, 0, "This account holds the most passkeys it may.",
		    NULL);
		return UM_OK;
	}
	if (rc != UM_OK)
		return rc;
	send_options(resp, &o);
	return UM_OK;
}

enum { N_CHALLENGE, N_NAME, N__MAX };

static const struct field_spec add_spec[N__MAX] = {
	[N_CHALLENGE] = { "challenge_id", NULL, CHALLENGE_ID_MAX, VF_REQUIRED },
	[N_NAME] = { "name", validate_line, PASSKEY_NAME_MAX, VF_REQUIRED },
};

/* One passkey of the caller as GET /api/v1/me/passkeys lists it, or NULL. */
static json_t *
passkey_by_id(struct request *req, long long id, enum um_err *rc)
{
	json_t     *list, *v, *found = NULL;
	const char *want = arena_printf(req->arena, "%lld", id);
	size_t      i;

	if ((*rc = passkey_list(&req->ctx, req->auth->user.id, &list)) != UM_OK)
		return NULL;
	json_array_foreach(list, i, v)
	{
		if (strcmp(json_string_value(json_object_get(v, "id")), want) == 0) {
			found = json_incref(v);
			break;
		}
	}
	json_decref(list);
	return found;
}

/*
 * POST /api/v1/me/passkeys {challenge_id, name, credential: RegistrationResponseJSON} —
 * 201 the passkey; 400 invalid_challenge / invalid_passkey / validation_failed /
 * invalid_json; 401; 409 conflict (registered already, or the maximum reached); 415; 503.
 */
enum um_err
api_me_passkey_add(struct request *req, struct response *resp)
{
	struct validate_ctx vctx = { 0, NULL };
	struct field_result r[N__MAX];
	const json_t       *cred;
	json_t             *v;
	const char         *why = NULL;
	long long           id;
	enum um_err         rc;

	if (api_fields(req, resp, &vctx, add_spec, N__MAX, r) != 0 ||
	    (cred = credential_of(req, resp)) == NULL)
		return UM_OK;
	rc = passkey_register(&req->ctx, req->auth->user.id, r[N_CHALLENGE].val, r[N_NAME].val,
	    cred, &id, &why);
	if (rc == UM_ECONFLICT) {
		problem_send(req, resp, rc, 0,
		    "This passkey is registered already, or the account holds the most it may.",
		    NULL);
		return UM_OK;
	}
	if (rc != UM_OK) {
		if (rc != UM_ECHALLENGE && rc != UM_EPASSKEY)
			return rc;
		refuse(req, resp, rc, why);
		return UM_OK;
	}
	if ((v = passkey_by_id(req, id, &rc)) == NULL)
		return rc != UM_OK ? rc : UM_EINTERNAL;
	response_header(resp, "Location",
	    arena_printf(req->arena, "/api/v1/me/passkeys/%lld", id));
	response_json(resp, 201, v);
	json_decref(v);
	return UM_OK;
}

/* GET /api/v1/me/passkeys — 200 {passkeys: [...]}, newest first; 401; 503. */
enum um_err
api_me_passkeys(struct request *req, struct response *resp)
{
	json_t     *list, *v;
	enum um_err rc;

	if ((rc = passkey_list(&req->ctx, req->auth->user.id, &list)) != UM_OK)
		return rc;
	v = json_pack("{s:o}", "passkeys", list);
	response_json(resp, 200, v);
	json_decref(v);
	return UM_OK;
}

enum { R_NAME, R__MAX };

static const struct field_spec rename_spec[R__MAX] = {
	[R_NAME] = { "name", validate_line, PASSKEY_NAME_MAX, VF_REQUIRED },
};

/* PATCH /api/v1/me/passkeys/{id} {name} — 200 the passkey; 400; 401; 404 not one of the
 * caller's; 415; 503. */
enum um_err
api_me_passkey_patch(struct request *req, struct response *resp)
{
	struct validate_ctx vctx = { 0, NULL };
	struct field_result r[R__MAX];
	long long           id = validate_id(req->params[0]);
	json_t             *v;
	enum um_err         rc;

	if (api_fields(req, resp, &vctx, rename_spec, R__MAX, r) != 0)
		return UM_OK;
	rc = id > 0 ? passkey_rename(&req->ctx, req->auth->user.id, id, r[R_NAME].val) :
	              UM_ENOTFOUND;
	if (rc == UM_ENOTFOUND) {
		problem_send(req, resp, rc, 0, "No such passkey.", NULL);
		return UM_OK;
	}
	if (rc != UM_OK || (v = passkey_by_id(req, id, &rc)) == NULL)
		return rc != UM_OK ? rc : UM_EINTERNAL;
	response_json(resp, 200, v);
	json_decref(v);
	return UM_OK;
}

/* DELETE /api/v1/me/passkeys/{id} — 204; 401; 404 not one of the caller's; 503. */
enum um_err
api_me_passkey_delete(struct request *req, struct response *resp)
{
	long long   id = validate_id(req->params[0]);
	enum um_err rc;

	rc = id > 0 ? passkey_remove(&req->ctx, req->auth->user.id, id) : UM_ENOTFOUND;
	if (rc == UM_ENOTFOUND) {
		problem_send(req, resp, rc, 0, "No such passkey.", NULL);
		return UM_OK;
	}
	if (rc != UM_OK)
		return rc;
	response_empty(resp, 204);
	return UM_OK;
}
