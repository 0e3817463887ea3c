/* test_request: the FastCGI parameters a request is read from, in one pass, as nginx sends them. */
#include "config.h"

#include <string.h>

#include <check.h>

#include "arena.h"
#include "kv.h"
#include "request.h"
#include "unit.h"

#define REQ_ID "0123456789abcdef0123456789abcdef"

/* request_init only reads the parameters: literals may stand for them. */

START_TEST(test_every_common_parameter_is_read)
{
	const char    *env[] = { "GATEWAY_INTERFACE=CGI/1.1", "REQUEST_METHOD=POST",
		   "DOCUMENT_URI=/api/v1/me", "QUERY_STRING=a=1&b=2",
		   "CONTENT_TYPE=application/json", "CONTENT_LENGTH=17", "REMOTE_ADDR=192.0.2.7",
		   "REQUEST_ID=" REQ_ID, "HTTP_HOST=id.example.org",
		   "HTTP_COOKIE=a=1; usermgr_session=s", "HTTP_USER_AGENT=curl/8.0",
		   "HTTP_AUTHORIZATION=Bearer abc.def.ghi", NULL };
	struct arena  *a = arena_new();
	struct request r;

	request_init(&r, a, NULL, (char *const *)env);
	ck_assert_int_eq(r.method, HTTP_POST);
	ck_assert_str_eq(r.method_name, "POST");
	ck_assert_str_eq(r.path, "/api/v1/me");
	ck_assert_str_eq(r.query, "a=1&b=2");
	ck_assert_str_eq(r.content_type, "application/json");
	ck_assert_int_eq(r.content_length, 17);
	ck_assert_str_eq(r.remote_addr, "192.0.2.7");
	ck_assert_str_eq(r.id, REQ_ID);
	ck_assert_str_eq(kv_get(&r.cookies, "usermgr_session"), "s");
	ck_assert_str_eq(r.ctx.user_agent, "curl/8.0");
	ck_assert_str_eq(r.ctx.ip, "192.0.2.7");
	ck_assert_str_eq(request_bearer(&r), "abc.def.ghi");
	/* The others are still there for request_env. */
	ck_assert_str_eq(request_env(&r, "HTTP_HOST"), "id.example.org");
	arena_free(a);
}
END_TEST

START_TEST(test_the_first_of_a_repeated_name_counts_and_longer_names_are_others)
{
	const char    *env[] = { "no equals sign", "REQUEST_METHODX=DELETE", "HTTP_COOKIE2=x=1",
		   "REQUEST_METHOD=PUT", "REQUEST_METHOD=GET", "DOCUMENT_URI=/a",
		   "DOCUMENT_URI=/b", "HTTP_AUTHORIZATIO=Bearer t", NULL };
	struct arena  *a = arena_new();
	struct request r;

	request_init(&r, a, NULL, (char *const *)env);
	ck_assert_int_eq(r.method, HTTP_PUT);
	ck_assert_str_eq(r.path, "/a");
	ck_assert_ptr_null(kv_get(&r.cookies, "x"));
	ck_assert_ptr_null(r.vars.cookie);
	ck_assert_ptr_null(request_bearer(&r));
	ck_assert_str_eq(request_env(&r, "REQUEST_METHOD"), "PUT");
	arena_free(a);
}
END_TEST

START_TEST(test_absent_parameters_take_their_defaults)
{
	const char    *env[] = { "DOCUMENT_URI=relative", "CONTENT_LENGTH=-5", NULL };
	struct arena  *a = arena_new();
	struct request r;

	request_init(&r, a, NULL, (char *const *)env);
	ck_assert_int_eq(r.method, HTTP_GET);
	ck_assert_str_eq(r.method_name, "GET");
	ck_assert_str_eq(r.path, "/");
	ck_assert_str_eq(r.query, "");
	ck_assert_ptr_null(r.content_type);
	/* A negative length reads as too big: refused before any byte is read. */
	ck_assert_int_eq(r.content_length, (long long)1 << 62);
	ck_assert_str_eq(r.remote_addr, "-");
	ck_assert_uint_eq(strlen(r.id), 16);
	ck_assert_uint_eq(strspn(r.id, "0123456789abcdef"), 16);
	ck_assert_ptr_null(r.ctx.user_agent);
	ck_assert_ptr_null(request_bearer(&r));

	request_init(&r, a, NULL, NULL);
	ck_assert_str_eq(r.path, "/");
	ck_assert_int_eq(r.content_length, -1);
	arena_free(a);
}
END_TEST

static const struct {
	const char *header, *token; /* token NULL: no bearer token */
} bearers[] = {
	{ "HTTP_AUTHORIZATION=Bearer abc", "abc" },
	{ "HTTP_AUTHORIZATION=bearer   abc", "abc" },
	{ "HTTP_AUTHORIZATION=Bearer ", NULL },
	{ "HTTP_AUTHORIZATION=Bearer", NULL },
	{ "HTTP_AUTHORIZATION=Basic YTpi", NULL },
	{ "HTTP_AUTHORIZATION=", NULL },
};

START_TEST(test_only_a_bearer_authorization_is_a_token)
{
	const char    *env[] = { bearers[_i].header, NULL };
	struct arena  *a = arena_new();
	struct request r;
	const char    *t;

	request_init(&r, a, NULL, (char *const *)env);
	t = request_bearer(&r);
	if (bearers[_i].token == NULL)
		ck_assert_ptr_null(t);
	else
		ck_assert_str_eq(t, bearers[_i].token);
	arena_free(a);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("request");
	TCase *tc = tcase_create("parameters");

	tcase_add_test(tc, test_every_common_parameter_is_read);
	tcase_add_test(tc,
	    test_the_first_of_a_repeated_name_counts_and_longer_names_are_others);
	tcase_add_test(tc, test_absent_parameters_take_their_defaults);
	tcase_add_loop_test(tc, test_only_a_bearer_authorization_is_a_token, 0,
	    (int)(sizeof(bearers) / sizeof(bearers[0])));
	suite_add_tcase(s, tc);
	return unit_run(s);
}
