/* test_router: the route table decides 404, 405 + Allow, and captures {x} segments. */
#include "config.h"

#include <string.h>

#include <check.h>

#include "arena.h"
#include "request.h"
#include "router.h"
#include "unit.h"

static enum um_err
h_a(struct request *q, struct response *s)
{
	(void)q;
	(void)s;
	return UM_OK;
}
static enum um_err
h_b(struct request *q, struct response *s)
{
	(void)q;
	(void)s;
	return UM_OK;
}
static enum um_err
h_c(struct request *q, struct response *s)
{
	(void)q;
	(void)s;
	return UM_OK;
}

static const struct route tab[] = {
	{ HTTP_GET, "/", h_a, 0 },
	{ HTTP_GET | HTTP_POST, "/login", h_b, 0 },
	{ HTTP_POST, "/admin/users/{id}/{action}", h_c, 0 },
	{ HTTP_GET, "/admin/users/{id}", h_a, 0 },
	{ HTTP_DELETE, "/admin/users/{id}", h_b, 0 },
	{ HTTP_POST, "/admin/users/options", h_c, 0 },
};
#define NTAB (sizeof(tab) / sizeof(tab[0]))

static enum router_match
run(unsigned m, const char *path, const struct route **rt, const char **params, size_t *np,
    unsigned *allow, struct arena *a)
{
	return router_match(tab, NTAB, m, path, a, rt, params, np, allow);
}

START_TEST(test_an_exact_path_with_its_method_is_found)
{
	struct arena       *a = arena_new();
	const struct route *rt = NULL;
	const char         *p[UM_PATH_PARAMS_MAX];
	size_t              np;
	unsigned            allow;

	ck_assert_int_eq(run(HTTP_POST, "/login", &rt, p, &np, &allow, a), ROUTER_FOUND);
	ck_assert_ptr_eq(rt, &tab[1]);
	ck_assert_uint_eq(np, 0);
	arena_free(a);
}
END_TEST

START_TEST(test_head_is_accepted_wherever_get_is)
{
	struct arena       *a = arena_new();
	const struct route *rt = NULL;
	const char         *p[UM_PATH_PARAMS_MAX];
	size_t              np;
	unsigned            allow;

	ck_assert_int_eq(run(HTTP_HEAD, "/", &rt, p, &np, &allow, a), ROUTER_FOUND);
	ck_assert_ptr_eq(rt, &tab[0]);
	arena_free(a);
}
END_TEST

START_TEST(test_segments_in_braces_are_captured_in_order)
{
	struct arena       *a = arena_new();
	const struct route *rt = NULL;
	const char         *p[UM_PATH_PARAMS_MAX];
	size_t              np;
	unsigned            allow;

	ck_assert_int_eq(run(HTTP_POST, "/admin/users/42/disable", &rt, p, &np, &allow, a),
	    ROUTER_FOUND);
	ck_assert_ptr_eq(rt, &tab[2]);
	ck_assert_uint_eq(np, 2);
	ck_assert_str_eq(p[0], "42");
	ck_assert_str_eq(p[1], "disable");
	arena_free(a);
}
END_TEST

START_TEST(test_a_known_path_with_another_method_is_405_listing_every_allowed_method)
{
	struct arena       *a = arena_new();
	const struct route *rt = NULL;
	const char         *p[UM_PATH_PARAMS_MAX];
	size_t              np;
	unsigned            allow;

	ck_assert_int_eq(run(HTTP_PUT, "/admin/users/7", &rt, p, &np, &allow, a),
	    ROUTER_BAD_METHOD);
	ck_assert_str_eq(router_allow(a, allow), "GET, HEAD, DELETE");
	ck_assert_int_eq(run(HTTP_DELETE, "/login", &rt, p, &np, &allow, a), ROUTER_BAD_METHOD);
	ck_assert_str_eq(router_allow(a, allow), "GET, HEAD, POST");
	arena_free(a);
}
END_TEST

START_TEST(test_unknown_paths_and_near_misses_are_404)
{
	static const char *const paths[] = {
		"/nope",
		"/login/",
		"/loginx",
		"/admin/users",
		"/admin/users/",
		"/admin/users//x",
		"/admin/users/1/x/y",
		"",
		"//",
	};
	struct arena       *a = arena_new();
	const struct route *rt = NULL;
	const char         *p[UM_PATH_PARAMS_MAX];
	size_t              i, np;
	unsigned            allow;

	for (i = 0; i < sizeof(paths) / sizeof(paths[0]); i++)
		ck_assert_msg(run(HTTP_GET, paths[i], &rt, p, &np, &allow, a) ==
		        ROUTER_NOT_FOUND,
		    "%s should be 404", paths[i]);
	arena_free(a);
}
END_TEST

START_TEST(test_a_literal_path_is_not_taken_by_a_braced_sibling)
{
	struct arena       *a = arena_new();
	const struct route *r = NULL;
	const char         *params[UM_PATH_PARAMS_MAX];
	size_t              np;
	unsigned            allow;

	/* /admin/users/options is spelled by a route: {id} routes neither take it nor add to Allow. */
	ck_assert_int_eq(router_match(tab, sizeof(tab) / sizeof(tab[0]), HTTP_POST,
	                     "/admin/users/options", a, &r, params, &np, &allow),
	    ROUTER_FOUND);
	ck_assert_ptr_eq(r->handler, h_c);
	ck_assert_uint_eq(np, 0);
	ck_assert_int_eq(router_match(tab, sizeof(tab) / sizeof(tab[0]), HTTP_DELETE,
	                     "/admin/users/options", a, &r, params, &np, &allow),
	    ROUTER_BAD_METHOD);
	ck_assert_uint_eq(allow, HTTP_POST);
	/* Any other segment is still an {id}. */
	ck_assert_int_eq(router_match(tab, sizeof(tab) / sizeof(tab[0]), HTTP_DELETE,
	                     "/admin/users/42", a, &r, params, &np, &allow),
	    ROUTER_FOUND);
	ck_assert_str_eq(params[0], "42");
	arena_free(a);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("router");
	TCase *tc = tcase_create("match");

	tcase_add_test(tc, test_an_exact_path_with_its_method_is_found);
	tcase_add_test(tc, test_head_is_accepted_wherever_get_is);
	tcase_add_test(tc, test_segments_in_braces_are_captured_in_order);
	tcase_add_test(tc,
	    test_a_known_path_with_another_method_is_405_listing_every_allowed_method);
	tcase_add_test(tc, test_unknown_paths_and_near_misses_are_404);
	tcase_add_test(tc, test_a_literal_path_is_not_taken_by_a_braced_sibling);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
