/* test_response: one writer adds status, length and the API.md §2 security headers to every answer. */
#include "config.h"

#include <string.h>

#include <check.h>

#include "arena.h"
#include "buf.h"
#include "response.h"
#include "unit.h"

#define CSP \
	"Content-Security-Policy: default-src 'self'; script-src 'self'; style-src 'self'; " \
	"img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; " \
	"frame-ancestors 'none'\r\n"

static const char *
serialize(struct arena *a, const struct response *r)
{
	struct buf out;

	buf_init(&out, a);
	response_serialize(r, "0123456789abcdef", &out);
	return out.data;
}

START_TEST(test_every_answer_carries_the_security_headers)
{
	struct arena   *a = arena_new();
	struct response r;
	const char     *s;

	response_init(&r, a);
	response_html(&r, 200);
	buf_puts(&r.body, "<p>hi</p>");
	s = serialize(a, &r);
	ck_assert_msg(strncmp(s, "Status: 200 OK\r\n", 16) == 0, "%s", s);
	ck_assert_ptr_nonnull(strstr(s, "Content-Type: text/html; charset=utf-8\r\n"));
	ck_assert_ptr_nonnull(strstr(s, "Content-Length: 9\r\n"));
	ck_assert_ptr_nonnull(strstr(s, "X-Content-Type-Options: nosniff\r\n"));
	ck_assert_ptr_nonnull(strstr(s, "Referrer-Policy: same-origin\r\n"));
	ck_assert_ptr_nonnull(strstr(s, CSP));
	ck_assert_ptr_nonnull(strstr(s, "Cache-Control: no-store\r\n"));
	ck_assert_ptr_nonnull(strstr(s, "X-Request-Id: 0123456789abcdef\r\n"));
	ck_assert_ptr_nonnull(strstr(s, "\r\n\r\n<p>hi</p>"));
	arena_free(a);
}
END_TEST

START_TEST(test_a_head_answer_has_the_get_length_and_no_body)
{
	struct arena   *a = arena_new();
	struct response r;
	const char     *s;

	response_init(&r, a);
	r.flags |= RESP_HEAD;
	response_html(&r, 200);
	buf_puts(&r.body, "12345");
	s = serialize(a, &r);
	ck_assert_ptr_nonnull(strstr(s, "Content-Length: 5\r\n"));
	ck_assert_msg(strcmp(s + strlen(s) - 4, "\r\n\r\n") == 0, "body sent for HEAD");
	arena_free(a);
}
END_TEST

START_TEST(test_a_204_or_304_has_no_body_no_content_type_and_no_length)
{
	struct arena   *a = arena_new();
	struct response r;
	const char     *s;

	response_init(&r, a);
	response_html(&r, 200);
	buf_puts(&r.body, "x");
	response_empty(&r, 204);
	s = serialize(a, &r);
	ck_assert_msg(strncmp(s, "Status: 204 No Content\r\n", 24) == 0, "%s", s);
	ck_assert_ptr_null(strstr(s, "Content-Type:"));
	/* RFC 9110 §8.6: a server MUST NOT send Content-Length in a 204. */
	ck_assert_ptr_null(strstr(s, "Content-Length:"));
	/* Nor a 304: there it would have to be the length the 200 would have. */
	response_empty(&r, 304);
	s = serialize(a, &r);
	ck_assert_msg(strncmp(s, "Status: 304 Not Modified\r\n", 26) == 0, "%s", s);
	ck_assert_ptr_null(strstr(s, "Content-Length:"));
	arena_free(a);
}
END_TEST

START_TEST(test_a_header_with_cr_or_lf_is_never_sent)
{
	struct arena   *a = arena_new();
	struct response r;
	const char     *s;

	response_init(&r, a);
	response_redirect(&r, 303, "/x\r\nSet-Cookie: evil=1");
	response_header(&r, "X-Ok", "fine");
	response_header(&r, "X-Bad\n", "v");
	s = serialize(a, &r);
	ck_assert_ptr_null(strstr(s, "evil"));
	ck_assert_ptr_null(strstr(s, "Location:"));
	ck_assert_ptr_null(strstr(s, "X-Bad"));
	ck_assert_ptr_nonnull(strstr(s, "X-Ok: fine\r\n"));
	arena_free(a);
}
END_TEST

START_TEST(test_a_handler_cache_control_replaces_the_default)
{
	struct arena   *a = arena_new();
	struct response r;
	const char     *s;

	response_init(&r, a);
	response_redirect(&r, 303, "/profile");
	response_header(&r, "Cache-Control", "private, max-age=60");
	s = serialize(a, &r);
	ck_assert_ptr_nonnull(strstr(s, "Status: 303 See Other\r\n"));
	ck_assert_ptr_nonnull(strstr(s, "Location: /profile\r\n"));
	ck_assert_ptr_nonnull(strstr(s, "Cache-Control: private, max-age=60\r\n"));
	ck_assert_ptr_null(strstr(s, "no-store"));
	arena_free(a);
}
END_TEST

START_TEST(test_a_json_body_is_compact_and_typed)
{
	struct arena   *a = arena_new();
	struct response r;
	json_t         *v = json_pack("{s:s, s:i}", "status", "ok", "n", 3);
	const char     *s;

	response_init(&r, a);
	response_json(&r, 201, v);
	json_decref(v);
	s = serialize(a, &r);
	ck_assert_ptr_nonnull(strstr(s, "Status: 201 Created\r\n"));
	ck_assert_ptr_nonnull(strstr(s, "Content-Type: application/json\r\n"));
	ck_assert_ptr_nonnull(strstr(s, "\r\n\r\n{\"status\":\"ok\",\"n\":3}"));
	arena_free(a);
}
END_TEST

START_TEST(test_reason_phrases_cover_the_statuses_we_send)
{
	ck_assert_str_eq(response_reason(405), "Method Not Allowed");
	ck_assert_str_eq(response_reason(413), "Content Too Large");
	ck_assert_str_eq(response_reason(429), "Too Many Requests");
	ck_assert_str_eq(response_reason(503), "Service Unavailable");
	ck_assert_str_eq(response_reason(299), "Unknown");
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("response");
	TCase *tc = tcase_create("serialize");

	tcase_add_test(tc, test_every_answer_carries_the_security_headers);
	tcase_add_test(tc, test_a_head_answer_has_the_get_length_and_no_body);
	tcase_add_test(tc, test_a_204_or_304_has_no_body_no_content_type_and_no_length);
	tcase_add_test(tc, test_a_header_with_cr_or_lf_is_never_sent);
	tcase_add_test(tc, test_a_handler_cache_control_replaces_the_default);
	tcase_add_test(tc, test_a_json_body_is_compact_and_typed);
	tcase_add_test(tc, test_reason_phrases_cover_the_statuses_we_send);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
