/* fuzz_validate: libFuzzer target for the validators and the form/JSON field tables. */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "arena.h"
#include "error.h"
#include "kv.h"
#include "utf8.h"
#include "validate.h"

#ifndef UM_SRCDIR
#define UM_SRCDIR "/work/main"
#endif

int LLVMFuzzerInitialize(int *, char ***);
int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static enum um_err (*const validators[])(struct arena *, const struct validate_ctx *,
    const char *, size_t, struct field_result *) = {
	validate_username,
	validate_email,
	validate_password,
	validate_display_name,
	validate_bio,
	validate_role_name,
};

enum { F_USERNAME, F_EMAIL, F_PASSWORD, F_CONFIRM, F_NAME, F_BIO, F_ROLE, F__MAX };
static const struct field_spec fields[F__MAX] = {
	[F_USERNAME] = { "username", validate_username, 0, VF_REQUIRED },
	[F_EMAIL] = { "email", validate_email, 0, VF_REQUIRED },
	[F_PASSWORD] = { "password", validate_password, 512, VF_REQUIRED | VF_SECRET },
	[F_CONFIRM] = { "password_confirm", NULL, 512, VF_SECRET },
	[F_NAME] = { "display_name", validate_display_name, 400, VF_NULLABLE },
	[F_BIO] = { "bio", validate_bio, 0, 0 },
	[F_ROLE] = { "name", validate_role_name, 64, 0 },
};

/* What every accepted value must be: NUL-terminated, NUL-free UTF-8. */
static void
check_value(const struct field_result *r)
{
	if (r->val == NULL || r->error != NULL || r->val[r->len] != '\0' ||
	    memchr(r->val, '\0', r->len) != NULL || !utf8_valid(r->val, r->len))
		abort();
}

static void
check_results(struct arena *a, enum um_err rc, const struct field_result *r)
{
	json_t *errors;
	size_t  i, bad = 0;

	for (i = 0; i < F__MAX; i++) {
		if (r[i].error != NULL)
			bad++;
		else if (r[i].val != NULL)
			check_value(&r[i]);
		if (r[i].raw != NULL && (i == F_PASSWORD || i == F_CONFIRM))
			abort(); /* a secret must never be echoed */
	}
	errors = validate_errors(a, fields, F__MAX, r);
	if ((rc == UM_OK) != (bad == 0) || (errors == NULL) != (bad == 0) ||
	    (errors != NULL && json_array_size(errors) != bad))
		abort();
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	/* tests/fuzz/run works from the top of the tree; elsewhere the source dir is named. */
	if (validate_load_common("fcgi/data/common-passwords.txt") != UM_OK)
		(void)validate_load_common(UM_SRCDIR "/fcgi/data/common-passwords.txt");
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct arena       *a;
	struct validate_ctx ctx;
	struct field_result r, again, res[F__MAX];
	struct kv           kv[16];
	struct kvlist       form = { kv, 0 };
	const char         *s = (const char *)data, *p, *end, *amp, *eq;
	json_t             *body;
	enum um_err         rc;
	size_t              i;

	a = arena_new();
	ctx.password_min = size > 0 ? data[0] % 24 : 0;
	ctx.username = size > 3 ? arena_strndup(a, s + 1, 3) : NULL;

	/* The whole input as one value, through every validator. */
	for (i = 0; i < sizeof(validators) / sizeof(validators[0]); i++) {
		memset(&r, 0, sizeof(r));
		rc = validators[i](a, &ctx, s, size, &r);
		if (rc == UM_OK) {
			check_value(&r);
			/* Normalising is idempotent: the output validates to itself. */
			if (validators[i](a, &ctx, r.val, r.len, &again) != UM_OK ||
			    again.len != r.len || memcmp(again.val, r.val, r.len) != 0)
				abort();
		} else if (rc != UM_EINVAL || r.error == NULL || r.val != NULL)
			abort();
	}

	/* The input as a raw form: name=value pairs split on & and =, nothing decoded. */
	end = s + size;
	for (p = s; p < end && form.n < sizeof(kv) / sizeof(kv[0]); p = amp + 1) {
		if ((amp = memchr(p, '&', end - p)) == NULL)
			amp = end;
		if ((eq = memchr(p, '=', amp - p)) == NULL)
			eq = amp;
		kv[form.n].key = arena_strndup(a, p, eq - p);
		kv[form.n].val = eq < amp ? arena_strndup(a, eq + 1, amp - eq - 1) : "";
		kv[form.n].vlen = eq < amp ? (size_t)(amp - eq - 1) : 0;
		form.n++;
	}
	rc = validate_form(a, &ctx, fields, F__MAX, &form, res);
	if (rc != UM_OK && rc != UM_EINVAL)
		abort();
	if (validate_same(res, F_CONFIRM, F_PASSWORD, "does not match") != UM_OK)
		rc = UM_EINVAL;
	if (validate_password_username(res, F_PASSWORD, res[F_USERNAME].val) != UM_OK)
		rc = UM_EINVAL;
	check_results(a, rc, res);

	/* The input as a JSON body. */
	body = json_loadb(s, size, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
	rc = validate_json(a, &ctx, fields, F__MAX, body, res);
	if (rc == UM_EJSON) {
		if (json_is_object(body) || validate_errors(a, fields, F__MAX, res) != NULL)
			abort();
	} else
		check_results(a, rc, res);
	json_decref(body);

	arena_free(a);
	return 0;
}
