/* test_problem: errors become RFC 9457 problem+json for clients and an error page for browsers. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>
#include <jansson.h>

#include "arena.h"
#include "problem.h"
#include "request.h"
#include "response.h"
#include "runtime.h"
#include "template.h"
#include "unit.h"

START_TEST(test_every_error_has_a_status_a_code_and_a_title)
{
	enum um_err e;
	json_t     *p;

	for (e = UM_EINVAL; e < UM_E__MAX; e++) {
		p = problem_new(e, 0, NULL, NULL);
		ck_assert_int_eq(json_integer_value(json_object_get(p, "status")),
		    um_errstatus(e));
		ck_assert_int_ge(um_errstatus(e), 400);
		ck_assert_str_eq(json_string_value(json_object_get(p, "code")), um_errcode(e));
		ck_assert_ptr_nonnull(json_string_value(json_object_get(p, "title")));
		ck_assert_ptr_nonnull(json_string_value(json_object_get(p, "type")));
		ck_assert_ptr_null(json_object_get(p, "detail"));
		json_decref(p);
	}
}
END_TEST

START_TEST(test_the_codes_are_exactly_those_of_api_md)
{
	static const char *const codes[UM_E__MAX] = {
		[UM_EINVAL] = "validation_failed",
		[UM_EJSON] = "invalid_json",
		[UM_EMEDIA] = "unsupported_media_type",
		[UM_ETOOBIG] = "payload_too_large",
		[UM_ECONFLICT] = "conflict",
		[UM_ECREDS] = "invalid_credentials",
		[UM_EUNVERIFIED] = "email_not_verified",
		[UM_EDISABLED] = "account_disabled",
		[UM_EMFA] = "mfa_required",
		[UM_EUNAUTH] = "unauthorized",
		[UM_EFORBIDDEN] = "forbidden",
		[UM_ENOTFOUND] = "not_found",
		[UM_EMETHOD] = "method_not_allowed",
		[UM_ERATE] = "rate_limited",
		[UM_ETOKEN] = "invalid_token",
		[UM_EEXPIRED] = "token_expired",
		[UM_EUNAVAIL] = "service_unavailable",
		[UM_EINTERNAL] = "internal_error",
		/* issue 13 (passkeys) adds these three to API.md's list */
		[UM_ECHALLENGE] = "invalid_challenge",
		[UM_EPASSKEY] = "invalid_passkey",
		[UM_ERECENT] = "recent_login_required",
	};
	enum um_err e;

	for (e = UM_EINVAL; e < UM_E__MAX; e++)
		ck_assert_str_eq(um_errcode(e), codes[e]);
	ck_assert_str_eq(um_errcode((enum um_err)999), "internal_error");
}
END_TEST

START_TEST(test_detail_errors_and_an_overridden_status_are_kept)
{
	json_t *errs = json_pack("[{s:s, s:s}]", "field", "email", "message", "is taken");
	json_t *p = problem_new(UM_ETOKEN, 400, "The link is not valid.", errs);

	ck_assert_int_eq(json_integer_value(json_object_get(p, "status")), 400);
	ck_assert_str_eq(json_string_value(json_object_get(p, "code")), "invalid_token");
	ck_assert_str_eq(json_string_value(json_object_get(p, "detail")),
	    "The link is not valid.");
	ck_assert_str_eq(json_string_value(
	                     json_object_get(json_array_get(json_object_get(p, "errors"), 0),
	                         "field")),
	    "email");
	json_decref(p);
}
END_TEST

/* A request as the worker would see it, with an Accept header and a tiny template set. */
static void
fake_request(struct request *req, struct runtime *rt, struct arena *a, const char *path,
    const char *accept)
{
	static char  acc[256];
	static char *env[2];

	(void)snprintf(acc, sizeof(acc), "HTTP_ACCEPT=%s", accept);
	env[0] = acc;
	env[1] = NULL;
	memset(req, 0, sizeof(*req));
	req->arena = a;
	req->rt = rt;
	req->env = env;
	req->path = path;
	memcpy(req->id, "00000000deadbeef", 17);
}

static struct tmpl_set *
error_templates(char *dir, size_t len)
{
	char  path[512], err[256];
	FILE *f;

	(void)snprintf(dir, len, "/tmp/um-problem-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	(void)snprintf(path, sizeof(path), "%s/error.mustache", dir);
	ck_assert_ptr_nonnull(f = fopen(path, "w"));
	fputs("<h1>{{status}} {{title}}</h1><p>{{detail}}</p>", f);
	fclose(f);
	return tmpl_set_load(dir, err, sizeof(err));
}

START_TEST(test_api_paths_always_get_problem_json)
{
	struct arena   *a = arena_new();
	struct runtime  rt;
	struct request  req;
	struct response resp;
	json_t         *body;

	memset(&rt, 0, sizeof(rt));
	fake_request(&req, &rt, a, "/api/v1/nope", "text/html");
	response_init(&resp, a);
	problem_send(&req, &resp, UM_ENOTFOUND, 0, NULL, NULL);
	ck_assert_int_eq(resp.status, 404);
	ck_assert_str_eq(resp.content_type, "application/problem+json");
	ck_assert_ptr_nonnull(body = json_loads(resp.body.data, 0, NULL));
	ck_assert_str_eq(json_string_value(json_object_get(body, "code")), "not_found");
	json_decref(body);
	arena_free(a);
}
END_TEST

START_TEST(test_browsers_get_an_escaped_error_page_outside_the_api)
{
	struct arena   *a = arena_new();
	struct runtime  rt;
	struct request  req;
	struct response resp;
	char            dir[64], cmd[128];

	memset(&rt, 0, sizeof(rt));
	ck_assert_ptr_nonnull(rt.tmpl = error_templates(dir, sizeof(dir)));
	fake_request(&req, &rt, a, "/login", "text/html,application/xhtml+xml");
	response_init(&resp, a);
	problem_send(&req, &resp, UM_EFORBIDDEN, 0, "<script>x</script>", NULL);
	ck_assert_int_eq(resp.status, 403);
	ck_assert_str_eq(resp.content_type, "text/html; charset=utf-8");
	ck_assert_msg(strstr(resp.body.data, "<h1>403 Forbidden</h1>") != NULL, "%s",
	    resp.body.data);
	ck_assert_ptr_nonnull(strstr(resp.body.data, "&lt;script&gt;x&lt;/script&gt;"));
	tmpl_set_free(rt.tmpl);
	(void)snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	ck_assert_int_eq(system(cmd), 0);
	arena_free(a);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("problem");
	TCase *tc = tcase_create("problem");

	tcase_add_test(tc, test_every_error_has_a_status_a_code_and_a_title);
	tcase_add_test(tc, test_the_codes_are_exactly_those_of_api_md);
	tcase_add_test(tc, test_detail_errors_and_an_overridden_status_are_kept);
	tcase_add_test(tc, test_api_paths_always_get_problem_json);
	tcase_add_test(tc, test_browsers_get_an_escaped_error_page_outside_the_api);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
