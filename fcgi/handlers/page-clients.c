/* page-clients: /admin/clients — the admins' pages for OpenID Connect clients: list, register, change, new secret, remove. */
#include "config.h"

#include <string.h>

#include <jansson.h>

#include "arena.h"
#include "handlers.h"
#include "json.h"
#include "kv.h"
#include "oidc.h"
#include "page.h"
#include "request.h"
#include "response.h"

/* The lines of a textarea as a JSON array of strings, blank lines and CRs dropped. */
static json_t *
lines(const char *text)
{
	json_t     *a = json_array();
	const char *p = text != NULL ? text : "", *e;
	size_t      n;

	while (*p != '\0') {
		e = strchr(p, '\n');
		n = e != NULL ? (size_t)(e - p) : strlen(p);
		while (n > 0 && (p[n - 1] == '\r' || p[n - 1] == ' '))
			n--;
		while (n > 0 && *p == ' ') {
			p++;
			n--;
		}
		if (n > 0)
			json_array_append_new(a, json_stringn(p, n));
		if (e == NULL)
			break;
		p = e + 1;
	}
	return a;
}

/* The admin API's body built from the form (the same checks then apply). */
static json_t *
form_body(struct request *req, int partial)
{
	json_t *b = json_object(), *scopes = json_array();
	size_t  i;

	json_object_set_new(b, "name",
	    json_string(kv_get(&req->form, "name") != NULL ? kv_get(&req->form, "name") : ""));
	json_object_set_new(b, "redirect_uris", lines(kv_get(&req->form, "redirect_uris")));
	json_object_set_new(b, "post_logout_redirect_uris",
	    lines(kv_get(&req->form, "post_logout_redirect_uris")));
	if (!partial)
		json_object_set_new(b, "type",
		    json_string(
		        kv_get(&req->form, "type") != NULL ? kv_get(&req->form, "type") : ""));
	for (i = 0; i < req->form.n; i++)
		if (strcmp(req->form.v[i].key, "scopes") == 0)
			json_array_append_new(scopes, json_string(req->form.v[i].val));
	json_object_set_new(b, "scopes", scopes);
	json_object_set_new(b, "skip_consent",
	    json_boolean(kv_get(&req->form, "skip_consent")));
	return json_arena(req->arena, b);
}

/* The scope checkboxes of a form, ticked as in the space-separated have. */
static json_t *
scope_boxes(const json_t *have)
{
	json_t *a = json_array(), *v;
	size_t  i, j;
	int     on;

	for (i = 0; oidc_scopes[i] != NULL; i++) {
		on = have == NULL;
		json_array_foreach(have, j, v)
		    on |= strcmp(json_string_value(v), oidc_scopes[i]) == 0;
		json_array_append_new(a,
		    json_pack("{s:s, s:b}", "scope", oidc_scopes[i], "checked", on));
	}
	return a;
}

static enum um_err
show_list(struct request *req, struct response *resp, int status, json_t *errors, json_t *flash)
{
	json_t     *clients;
	enum um_err rc;

	if ((rc = oidc_client_list(&req->ctx, &clients)) != UM_OK) {
		json_decref(errors);
		json_decref(flash);
		return rc;
	}
	page_render(req, resp, status, "admin-clients",
	    json_pack("{s:s, s:o, s:o, s:o, s:s, s:s, s:s, s:o?, s:{s:b}}", "title",
	        "Single sign-on clients", "clients", clients, "errors",
	        errors != NULL ? errors : json_array(), "scopes", scope_boxes(NULL), "name",
	        kv_get(&req->form, "name") != NULL ? kv_get(&req->form, "name") : "",
	        "redirect_uris",
	        kv_get(&req->form, "redirect_uris") != NULL ?
	            kv_get(&req->form, "redirect_uris") :
	            "",
	        "post_logout_redirect_uris",
	        kv_get(&req->form, "post_logout_redirect_uris") != NULL ?
	            kv_get(&req->form, "post_logout_redirect_uris") :
	            "",
	        "flash", flash, "nav", "admin", 1));
	return UM_OK;
}

/* The page that shows a new secret, once. */
static void
show_secret(struct request *req, struct response *resp, int status, const struct oidc_client *c,
    const char *secret)
{
	page_render(req, resp, status, "admin-client-secret",
	    json_pack("{s:s, s:s, s:s, s:s?, s:{s:b}}", "title", "Client registered",
	        "client_id", c->client_id, "name", c->name, "client_secret", secret, "nav",
	        "admin", 1));
}

/* GET /admin/clients — 200 the list and the form to register one.  POST — 201 a page showing
 * the client_id and (confidential) the secret, once; 400 the form with its errors; 403 CSRF. */
enum um_err
page_admin_clients(struct request *req, struct response *resp)
{
	const char        *done = kv_get(&req->query_params, "done"), *secret;
	struct oidc_client c;
	json_t            *body, *errors;
	enum um_err        rc;

	if (req->method != HTTP_POST)
		return show_list(req, resp, 200, NULL,
		    done != NULL ? page_flash("success", "The client was removed.") : NULL);
	body = form_body(req, 0);
	if (oidc_client_check(body, 0, &errors) != UM_OK)
		return show_list(req, resp, 400, errors, NULL);
	if ((rc = oidc_client_create(&req->ctx, body, &c, &secret)) != UM_OK)
		return rc;
	show_secret(req, resp, 201, &c, secret);
	return UM_OK;
}

static void
show_client(struct request *req, struct response *resp, int status, const struct oidc_client *c,
    json_t *errors, json_t *flash)
{
	json_t *cj = json_arena(req->arena, oidc_client_json(c));

	page_render(req, resp, status, "admin-client",
	    json_pack("{s:s, s:s, s:s, s:b, s:s, s:s, s:o, s:b, s:s, s:o, s:o?, s:{s:b}}",
	        "title", c->name, "client_id", c->client_id, "name", c->name, "confidential",
	        c->confidential, "redirect_uris",
	        page_joined(req->arena, c->redirect_uris, "\n"), "post_logout_redirect_uris",
	        page_joined(req->arena, c->post_logout_redirect_uris, "\n"), "scopes",
	        scope_boxes(json_object_get(cj, "scopes")), "skip_consent", c->skip_consent,
	        "created_at", c->created_at, "errors", errors != NULL ? errors : json_array(),
	        "flash", flash, "nav", "admin", 1));
}

/* GET /admin/clients/{id} — 200 the client's form; 404.  POST action=save — 303 back with a
 * flash, 400 with errors; action=secret — 200 the new secret, once; action=remove — 303 to
 * /admin/clients (tokens revoked); 403 CSRF. */
enum um_err
page_admin_client(struct request *req, struct response *resp)
{
	const char        *id = req->params[0], *action = kv_get(&req->form, "action"), *secret;
	struct oidc_client c;
	json_t            *body, *errors;
	enum um_err        rc;

	if ((rc = oidc_client_get(&req->ctx, id, &c)) != UM_OK)
		return rc;
	if (req->method != HTTP_POST) {
		show_client(req, resp, 200, &c, NULL,
		    kv_get(&req->query_params, "done") != NULL ?
		        page_flash("success", "The client was saved.") :
		        NULL);
		return UM_OK;
	}
	if (action != NULL && strcmp(action, "remove") == 0) {
		if ((rc = oidc_client_delete(&req->ctx, id)) != UM_OK)
			return rc;
		response_redirect(resp, 303, "/admin/clients?done=removed");
		return UM_OK;
	}
	if (action != NULL && strcmp(action, "secret") == 0 && c.confidential) {
		if ((rc = oidc_client_rotate_secret(&req->ctx, id, &secret)) != UM_OK)
			return rc;
		show_secret(req, resp, 200, &c, secret);
		return UM_OK;
	}
	body = form_body(req, 1);
	if (oidc_client_check(body, 1, &errors) != UM_OK) {
		show_client(req, resp, 400, &c, errors, NULL);
		return UM_OK;
	}
	if ((rc = oidc_client_update(&req->ctx, id, body, &c)) != UM_OK)
		return rc;
	response_redirect(resp, 303, arena_printf(req->arena, "/admin/clients/%s?done=1", id));
	return UM_OK;
}
