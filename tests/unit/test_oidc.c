/* test_oidc: the OpenID Connect provider's pure parts — scope lists, exact redirect URIs, client settings, the consent form's CSP. */
#include "config.h"

#include <string.h>

#include <jansson.h>

#include <check.h>

#include "arena.h"
#include "oidc.h"
#include "response.h"
#include "unit.h"

START_TEST(test_scope_words_are_whole_words)
{
	ck_assert(oidc_has_word("openid profile email", "profile"));
	ck_assert(oidc_has_word("openid", "openid"));
	ck_assert(!oidc_has_word("openid profile", "prof"));
	ck_assert(!oidc_has_word("openidx", "openid"));
	ck_assert(!oidc_has_word("", "openid"));
	ck_assert(oidc_has_word("  openid   email ", "email"));
}
END_TEST

START_TEST(test_a_scope_list_is_within_another_only_word_by_word)
{
	ck_assert(oidc_scopes_within("openid email", "openid profile email"));
	ck_assert(oidc_scopes_within("", "openid"));
	ck_assert(!oidc_scopes_within("openid roles", "openid profile email"));
	ck_assert(!oidc_scopes_within("openid emai", "openid email"));
	ck_assert(oidc_scopes_within("login consent", "login consent"));
	ck_assert(!oidc_scopes_within("none", "login consent"));
}
END_TEST

START_TEST(test_redirect_uris_match_exactly)
{
	json_t *list = json_pack("[s, s]", "https://a.example/cb", "http://127.0.0.1:9/x?y=1");

	ck_assert(oidc_uri_listed(list, "https://a.example/cb"));
	ck_assert(oidc_uri_listed(list, "http://127.0.0.1:9/x?y=1"));
	ck_assert(!oidc_uri_listed(list, "https://a.example/cb/"));
	ck_assert(!oidc_uri_listed(list, "https://a.example/cb?x=1"));
	ck_assert(!oidc_uri_listed(list, "HTTPS://a.example/cb"));
	ck_assert(!oidc_uri_listed(list, "https://a.example/c"));
	json_decref(list);
}
END_TEST

/* The field named in the first error of a refused body, or NULL when it was accepted. */
static const char *
refused(const char *body, int partial)
{
	static char field[64];
	json_t     *v = json_loads(body, 0, NULL), *errors = NULL;
	enum um_err rc;

	ck_assert_ptr_nonnull(v);
	rc = oidc_client_check(v, partial, &errors);
	json_decref(v);
	if (rc == UM_OK) {
		ck_assert_ptr_null(errors);
		return NULL;
	}
	ck_assert_int_eq(rc, UM_EINVAL);
	ck_assert_int_ge(json_array_size(errors), 1);
	(void)snprintf(field, sizeof(field), "%s",
	    json_string_value(json_object_get(json_array_get(errors, 0), "field")));
	json_decref(errors);
	return field;
}

START_TEST(test_client_settings_are_checked)
{
	ck_assert_ptr_null(refused("{\"name\": \"Wiki\", \"type\": \"public\","
	                           " \"redirect_uris\": [\"https://w.example/cb\"]}",
	    0));
	ck_assert_ptr_null(
	    refused("{\"name\": \"Wiki\", \"type\": \"confidential\","
	            " \"redirect_uris\": [\"http://127.0.0.1:8/cb\"],"
	            " \"scopes\": [\"openid\", \"email\"], \"skip_consent\": true,"
	            " \"post_logout_redirect_uris\": []}",
	        0));
	ck_assert_str_eq(
	    refused("{\"type\": \"public\", \"redirect_uris\": [\"https://w/cb\"]}", 0),
	    "name");
	ck_assert_str_eq(refused("{\"name\": \"\", \"type\": \"public\","
	                         " \"redirect_uris\": [\"https://w/cb\"]}",
	                     0),
	    "name");
	ck_assert_str_eq(
	    refused("{\"name\": \"x\", \"type\": \"public\", \"redirect_uris\": []}", 0),
	    "redirect_uris");
	ck_assert_str_eq(
	    refused("{\"name\": \"x\", \"type\": \"public\", \"redirect_uris\": [\"/cb\"]}", 0),
	    "redirect_uris");
	ck_assert_str_eq(refused("{\"name\": \"x\", \"type\": \"public\","
	                         " \"redirect_uris\": [\"https://w/cb#f\"]}",
	                     0),
	    "redirect_uris");
	ck_assert_str_eq(refused("{\"name\": \"x\", \"type\": \"public\","
	                         " \"redirect_uris\": [\"javascript:alert(1)\"]}",
	                     0),
	    "redirect_uris");
	ck_assert_str_eq(refused("{\"name\": \"x\", \"type\": \"public\","
	                         " \"redirect_uris\": [\"https:///cb\"]}",
	                     0),
	    "redirect_uris");
	ck_assert_str_eq(refused("{\"name\": \"x\", \"type\": \"other\","
	                         " \"redirect_uris\": [\"https://w/cb\"]}",
	                     0),
	    "type");
	ck_assert_str_eq(
	    refused("{\"name\": \"x\", \"type\": \"public\","
	            " \"redirect_uris\": [\"https://w/cb\"], \"scopes\": [\"email\"]}",
	        0),
	    "scopes");
	ck_assert_str_eq(refused("{\"name\": \"x\", \"type\": \"public\","
	                         " \"redirect_uris\": [\"https://w/cb\"], \"scopes\": []}",
	                     0),
	    "scopes");
	ck_assert_str_eq(refused("{\"name\": \"x\", \"type\": \"public\", \"redirect_uris\":"
	                         " [\"https://w/cb\"], \"scopes\": [\"openid\", \"admin\"]}",
	                     0),
	    "scopes");
	ck_assert_str_eq(refused("{\"name\": \"x\", \"type\": \"public\","
	                         " \"redirect_uris\": [\"https://w/cb\"], \"color\": 1}",
	                     0),
	    "color");
	/* PATCH: members may be absent, and type cannot change */
	ck_assert_ptr_null(refused("{\"skip_consent\": true}", 1));
	ck_assert_str_eq(refused("{\"type\": \"public\"}", 1), "type");
	ck_assert_str_eq(refused("{\"skip_consent\": 1}", 1), "skip_consent");
}
END_TEST

/* The Content-Security-Policy header a response carries, or NULL. */
static const char *
csp_of(const struct response *r)
{
	size_t i;

	for (i = 0; i < r->nheaders; i++)
		if (strcmp(r->headers[i].name, "Content-Security-Policy") == 0)
			return r->headers[i].value;
	return NULL;
}

START_TEST(test_form_action_admits_an_origin_and_nothing_else)
{
	struct arena   *a = arena_new();
	struct response r;

	response_init(&r, a);
	response_csp_form_action(&r, a, "http://127.0.0.1:8081");
	ck_assert_ptr_nonnull(strstr(csp_of(&r), "form-action 'self' http://127.0.0.1:8081;"));
	ck_assert_ptr_nonnull(strstr(csp_of(&r), "script-src 'self';"));
	response_init(&r, a);
	response_csp_form_action(&r, a, "https://a.example; script-src *");
	ck_assert_ptr_null(csp_of(&r));
	response_csp_form_action(&r, a, "https://a.example/path");
	ck_assert_ptr_null(csp_of(&r));
	response_csp_form_action(&r, a, "javascript:x");
	ck_assert_ptr_null(csp_of(&r));
	response_csp_form_action(&r, a, NULL);
	ck_assert_ptr_null(csp_of(&r));
	arena_free(a);
}
END_TEST

static Suite *
suite(void)
{
	Suite *s = suite_create("oidc");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_scope_words_are_whole_words);
	tcase_add_test(tc, test_a_scope_list_is_within_another_only_word_by_word);
	tcase_add_test(tc, test_redirect_uris_match_exactly);
	tcase_add_test(tc, test_client_settings_are_checked);
	tcase_add_test(tc, test_form_action_admits_an_origin_and_nothing_else);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return unit_run(suite());
}
