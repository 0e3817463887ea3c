/* page: the shared context of every HTML page, then the named template, in one call. */
#include "config.h"

#include <string.h>

#include <jansson.h>

#include "app.h"
#include "browser.h"
#include "arena.h"
#include "buf.h"
#include "log.h"
#include "page.h"
#include "request.h"
#include "response.h"
#include "runtime.h"
#include "session.h"
#include "template.h"
#include "validate.h"

/*
 * Mustache cannot compare strings or test a list for emptiness, so the booleans the
 * templates need are derived here (docs/UI.md): flash[].alert, has_errors and errors[].label.
 */
/*
 * The label of the form field named name, from any "...fields" array of the page (page_fields'
 * objects), or null.  The error summary says "Current password is not correct", not a bare
 * "is not correct": each line is read out on its own, away from its field.
 */
static json_t *
label_of(json_t *data, const char *name)
{
	const char *key;
	json_t     *arr, *f;
	size_t      klen, i;

	if (name == NULL)
		return json_null();
	json_object_foreach(data, key, arr)
	{
		klen = strlen(key);
		if (!json_is_array(arr) || klen < 6 || strcmp(key + klen - 6, "fields") != 0)
			continue;
		json_array_foreach(arr, i, f)
		{
			const char *n = json_string_value(json_object_get(f, "name"));
			json_t     *label = json_object_get(f, "label");

			if (n != NULL && strcmp(n, name) == 0 && json_is_string(label))
				return json_incref(label);
		}
	}
	return json_null();
}

static void
derive_flags(json_t *data)
{
	json_t     *flash, *f, *errors;
	size_t      i;
	const char *kind;

	flash = json_object_get(data, "flash");
	json_array_foreach(flash, i, f)
	{
		kind = json_string_value(json_object_get(f, "kind"));
		json_object_set_new(f, "alert",
		    json_boolean(kind != NULL && strcmp(kind, "error") == 0));
	}
	errors = json_object_get(data, "errors");
	json_object_set_new(data, "has_errors",
	    json_boolean(json_is_array(errors) && json_array_size(errors) > 0));
	json_array_foreach(errors, i, f) json_object_set_new(f, "label",
	    label_of(data, json_string_value(json_object_get(f, "field"))));
}

static json_t *
session_user(const struct request *req)
{
	const struct session *s = req->session;

	if (s == NULL || s->mfa_pending)
		return json_null();
	return json_pack("{s:s, s:s?, s:b}", "username", s->username, "display_name",
	    s->display_name, "is_admin", s->is_admin);
}

void
page_render(struct request *req, struct response *resp, int status, const char *name,
    json_t *data)
{
	const char *csrf;
	enum um_err rc;

	if (data == NULL)
		data = json_object();
	/* Keys a page did not set get their neutral value, so templates never see "missing". */
	if (json_object_get(data, "user") == NULL)
		json_object_set_new(data, "user", session_user(req));
	if (json_object_get(data, "flash") == NULL)
		json_object_set_new(data, "flash", json_array());
	if (json_object_get(data, "csrf_token") == NULL) {
		/* The layout's logout form needs it on every page; forms use the same one. */
		csrf = req->rt->keys.n > 0 ? browser_csrf_token(req, resp) : NULL;
		json_object_set_new(data, "csrf_token", json_string(csrf != NULL ? csrf : ""));
	}
	json_object_set_new(data, "request_id", json_string(req->id));
	derive_flags(data);

	buf_truncate(&resp->body, 0);
	rc = tmpl_render(req->rt->tmpl, name, data, &resp->body);
	json_decref(data);
	if (rc != UM_OK) {
		log_err("page: rendering %s failed: %s", name, um_strerror(rc));
		buf_truncate(&resp->body, 0);
		buf_puts(&resp->body,
		    "<!DOCTYPE html><title>Internal error</title>"
		    "<p>Something went wrong on our side. Please try again.</p>");
		status = 500;
	}
	response_html(resp, status);
}

json_t *
page_fields(const struct page_field *f, size_t n, const struct field_result *r)
{
	json_t     *arr = json_array();
	const char *value, *error;
	size_t      i;

	for (i = 0; i < n; i++) {
		value = r != NULL && r[i].raw != NULL && strcmp(f[i].type, "password") != 0 ?
		    r[i].raw :
		    "";
		error = r != NULL ? r[i].error : NULL;
		/* Every key present (null or false when unused): Mustache would otherwise find
		 * a same-named key of an outer context (docs/UI.md). */
		json_array_append_new(arr,
		    json_pack("{s:s, s:s, s:s, s:s, s:s?, s:s?, s:s?, s:b,"
		              " s:o, s:o, s:b}",
		        "name", f[i].name, "label", f[i].label, "type", f[i].type, "value",
		        value, "error", error, "autocomplete", f[i].autocomplete, "hint",
		        f[i].hint, "required", f[i].required, "maxlength",
		        f[i].maxlength > 0 ? json_integer(f[i].maxlength) : json_null(),
		        "inputmode", json_null(), "multiline", f[i].multiline));
	}
	return arr;
}

const struct field_spec page_recheck_spec[PAGE_RECHECK__MAX] = {
	[PAGE_RECHECK_PASSWORD] = PAGE_RECHECK_SPEC,
};
const struct page_field page_recheck_view[PAGE_RECHECK__MAX] = {
	[PAGE_RECHECK_PASSWORD] = PAGE_RECHECK_VIEW,
};

json_t *
page_errors(struct request *req, const struct field_spec *spec, size_t n,
    const struct field_result *r)
{
	json_t *errors = r != NULL ? validate_errors(req->arena, spec, n, r) : NULL;

	/* validate_errors ties its array to the arena; the page context takes a reference. */
	return errors != NULL ? json_incref(errors) : json_array();
}

const char *
page_joined(struct arena *a, const json_t *list, const char *sep)
{
	const char *out = "";
	json_t     *v;
	size_t      i;

	json_array_foreach(list, i, v)
	    out = arena_printf(a, "%s%s%s", out, i > 0 ? sep : "", json_string_value(v));
	return out;
}

json_t *
page_flash(const char *kind, const char *message)
{
	return json_pack("[{s:s, s:s}]", "kind", kind, "message", message);
}
