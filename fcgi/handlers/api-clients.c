/* api-clients: the admin API's OpenID Connect clients — register, list, show, change, remove, new secret. */
#include "config.h"

#include <jansson.h>

#include "api.h"
#include "arena.h"
#include "handlers.h"
#include "json.h"
#include "oidc.h"
#include "problem.h"
#include "request.h"
#include "response.h"

/* Answers 400 validation_failed for a body oidc_client_check refused; -1 then. */
static int
checked(struct request *req, struct response *resp, int partial)
{
	json_t *errors;

	if (oidc_client_check(req->json, partial, &errors) == UM_OK)
		return 0;
	problem_send(req, resp, UM_EINVAL, 0, "The client settings are not valid.", errors);
	return -1;
}

static void
answer(struct response *resp, int status, const struct oidc_client *c, const char *secret)
{
	json_t *v = oidc_client_json(c);

	if (secret != NULL)
		json_object_set_new(v, "client_secret", json_string(secret));
	response_json(resp, status, v);
	json_decref(v);
}

/* GET /api/v1/admin/clients — 200 {clients}; 401; 403; 503. */
enum um_err
api_admin_clients(struct request *req, struct response *resp)
{
	json_t     *list;
	enum um_err rc;

	if ((rc = oidc_client_list(&req->ctx, &list)) != UM_OK)
		return rc;
	response_json(resp, 200, json_arena(req->arena, json_pack("{s:o}", "clients", list)));
	return UM_OK;
}

/* POST /api/v1/admin/clients — 201 client (+ client_secret once, confidential); 400
 * validation_failed / invalid_json; 401; 403; 415; 503. */
enum um_err
api_admin_client_create(struct request *req, struct response *resp)
{
	struct oidc_client c;
	const char        *secret;
	enum um_err        rc;

	if (checked(req, resp, 0) != 0)
		return UM_OK;
	if ((rc = oidc_client_create(&req->ctx, req->json, &c, &secret)) != UM_OK)
		return rc;
	answer(resp, 201, &c, secret);
	return UM_OK;
}

/* GET /api/v1/admin/clients/{id} — 200 client; 404; 401; 403; 503. */
enum um_err
api_admin_client(struct request *req, struct response *resp)
{
	struct oidc_client c;
	enum um_err        rc;

	if ((rc = oidc_client_get(&req->ctx, req->params[0], &c)) != UM_OK)
		return rc;
	answer(resp, 200, &c, NULL);
	return UM_OK;
}

/* PATCH /api/v1/admin/clients/{id} — 200 client; 400; 404; 401; 403; 415; 503. */
enum um_err
api_admin_client_patch(struct request *req, struct response *resp)
{
	struct oidc_client c;
	enum um_err        rc;

	if ((rc = oidc_client_get(&req->ctx, req->params[0], &c)) != UM_OK)
		return rc;
	if (checked(req, resp, 1) != 0)
		return UM_OK;
	if ((rc = oidc_client_update(&req->ctx, req->params[0], req->json, &c)) != UM_OK)
		return rc;
	answer(resp, 200, &c, NULL);
	return UM_OK;
}

/* DELETE /api/v1/admin/clients/{id} — 204 (tokens revoked, consents gone); 404; 401; 403. */
enum um_err
api_admin_client_delete(struct request *req, struct response *resp)
{
	enum um_err rc;

	if ((rc = oidc_client_delete(&req->ctx, req->params[0])) != UM_OK)
		return rc;
	response_empty(resp, 204);
	return UM_OK;
}

/* POST /api/v1/admin/clients/{id}/secret — 200 client with its new client_secret (the old
 * one dies); 400 validation_failed for a public client; 404; 401; 403. */
enum um_err
api_admin_client_secret(struct request *req, struct response *resp)
{
	struct oidc_client c;
	const char        *secret;
	enum um_err        rc;

	rc = oidc_client_rotate_secret(&req->ctx, req->params[0], &secret);
	if (rc == UM_EINVAL) {
		problem_send(req, resp, UM_EINVAL, 0, "A public client has no secret.",
		    json_pack("[{s:s, s:s}]", "field", "type", "message", "is public"));
		return UM_OK;
	}
	if (rc != UM_OK || (rc = oidc_client_get(&req->ctx, req->params[0], &c)) != UM_OK)
		return rc;
	answer(resp, 200, &c, secret);
	return UM_OK;
}
