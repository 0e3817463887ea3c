/* test_template: every case of the Mustache spec files, plus limits, errors and set loading. */
#include "config.h"

#include <sys/stat.h>
#include <sys/types.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>
#include <jansson.h>

#include "arena.h"
#include "buf.h"
#include "error.h"
#include "bounds.h"
#include "template.h"

#ifndef UM_TEST_DATADIR
#define UM_TEST_DATADIR "/work/main/tests/unit/data"
#endif

/* The spec files, one Check test case each; every test in a file is one loop iteration. */
static const char *const spec_files[] = {
	"comments",
	"delimiters",
	"interpolation",
	"inverted",
	"partials",
	"sections",
	"inheritance",
};
#define NSPEC (sizeof(spec_files) / sizeof(spec_files[0]))

static json_t *spec_tests[NSPEC]; /* the "tests" array of each file */

/* Shows control characters so a whitespace mismatch is visible in the failure message. */
static char *
visible(struct arena *a, const char *s, size_t n)
{
	struct buf b;
	size_t     i;

	buf_init(&b, a);
	for (i = 0; i < n; i++) {
		if (s[i] == '\n')
			buf_puts(&b, "\\n");
		else if (s[i] == '\r')
			buf_puts(&b, "\\r");
		else if (s[i] == '\t')
			buf_puts(&b, "\\t");
		else
			buf_putc(&b, s[i]);
	}
	return b.data;
}

static void
spec_case(size_t file, int i)
{
	const json_t *t;
	const char   *name, *tmpl, *want;
	struct arena *a;
	struct buf    out;
	char          err[256] = "";
	enum um_err   rc;

	t = json_array_get(spec_tests[file], (size_t)i);
	ck_assert_ptr_nonnull(t);
	name = json_string_value(json_object_get(t, "name"));
	tmpl = json_string_value(json_object_get(t, "template"));
	want = json_string_value(json_object_get(t, "expected"));
	ck_assert_ptr_nonnull(tmpl);
	ck_assert_ptr_nonnull(want);
	a = arena_new();
	buf_init(&out, a);
	rc = tmpl_render_string(tmpl, strlen(tmpl), json_object_get(t, "partials"),
	    json_object_get(t, "data"), &out, err, sizeof(err));
	ck_assert_msg(rc == UM_OK, "%s / %s: rendering failed (%d): %s", spec_files[file], name,
	    (int)rc, err);
	ck_assert_msg(out.len == strlen(want) && memcmp(out.data, want, out.len) == 0,
	    "%s / %s:\n  template: \"%s\"\n  expected: \"%s\"\n  actual:   \"%s\"",
	    spec_files[file], name, visible(a, tmpl, strlen(tmpl)),
	    visible(a, want, strlen(want)), visible(a, out.data, out.len));
	arena_free(a);
}

START_TEST(test_every_comments_spec_case_renders_as_specified)
{
	spec_case(0, _i);
}
END_TEST

START_TEST(test_every_delimiters_spec_case_renders_as_specified)
{
	spec_case(1, _i);
}
END_TEST

START_TEST(test_every_interpolation_spec_case_renders_as_specified)
{
	spec_case(2, _i);
}
END_TEST

START_TEST(test_every_inverted_spec_case_renders_as_specified)
{
	spec_case(3, _i);
}
END_TEST

START_TEST(test_every_partials_spec_case_renders_as_specified)
{
	spec_case(4, _i);
}
END_TEST

START_TEST(test_every_sections_spec_case_renders_as_specified)
{
	spec_case(5, _i);
}
END_TEST

START_TEST(test_every_inheritance_spec_case_renders_as_specified)
{
	spec_case(6, _i);
}
END_TEST

/* Renders src with data (a JSON text) and partials (a JSON text or NULL). */
static enum um_err
render(struct arena *a, const char *src, const char *data, const char *partials,
    struct buf *out, char *err, size_t errsz)
{
	json_t      *d, *p = NULL;
	json_error_t je;
	enum um_err  rc;

	d = json_loads(data, JSON_DECODE_ANY, &je);
	ck_assert_msg(d != NULL, "bad test data: %s", je.text);
	if (partials != NULL) {
		p = json_loads(partials, 0, &je);
		ck_assert_msg(p != NULL, "bad test partials: %s", je.text);
	}
	buf_init(out, a);
	rc = tmpl_render_string(src, strlen(src), p, d, out, err, errsz);
	json_decref(d);
	json_decref(p);
	return rc;
}

/* Data-driven: values and the text they must render as. */
static const struct {
	const char *tmpl;
	const char *data;
	const char *want;
} render_cases[] = {
	{ "{{x}}", "{\"x\": \"'\\\"<>&\"}", "&#39;&quot;&lt;&gt;&amp;" },
	{ "{{{x}}}", "{\"x\": \"'\\\"<>&\"}", "'\"<>&" },
	{ "{{&x}}", "{\"x\": \"<b>\"}", "<b>" },
	{ "<a title=\"{{x}}\">", "{\"x\": \"\\\" onmouseover='x'\"}",
	    "<a title=\"&quot; onmouseover=&#39;x&#39;\">" },
	{ "{{x}}", "{\"x\": 1.5}", "1.5" },
	{ "{{x}}", "{\"x\": 2.0}", "2" },
	{ "{{x}}", "{\"x\": 0.1}", "0.1" },
	{ "{{x}}", "{\"x\": -7}", "-7" },
	{ "{{x}}", "{\"x\": 9007199254740993}", "9007199254740993" },
	{ "{{x}}|{{y}}", "{\"x\": true, \"y\": false}", "true|false" },
	{ "[{{x}}]", "{\"x\": {\"a\": 1}}", "[]" },
	{ "{{#x}}yes{{/x}}", "{\"x\": \"\"}", "yes" },
	{ "{{#x}}yes{{/x}}", "{\"x\": 0}", "yes" },
	{ "{{^x}}no{{/x}}", "{\"x\": []}", "no" },
	{ "{{#a}}{{#b}}{{c}}{{/b}}{{/a}}", "{\"a\": [{\"b\": {\"c\": 1}}, {\"b\": null}]}",
	    "1" },
	{ "{{a.b}}", "{\"a\": [1]}", "" },
	{ "<%x%>{{=<% %>=}}<%x%>{{x}}", "{\"x\": 1}", "<%x%>1{{x}}" },
	{ "{{=<% %>=}}<%{x}%>", "{\"x\": \"<\"}", "<" },
	{ "a\n  {{>p}}\nb", "{}", "a\nb" },
};

START_TEST(test_values_render_as_the_table_says)
{
	struct arena *a = arena_new();
	struct buf    out;
	char          err[256] = "";
	enum um_err   rc;

	rc = render(a, render_cases[_i].tmpl, render_cases[_i].data, NULL, &out, err,
	    sizeof(err));
	ck_assert_msg(rc == UM_OK, "%s: %s", render_cases[_i].tmpl, err);
	ck_assert_msg(strcmp(out.data, render_cases[_i].want) == 0,
	    "%s with %s: expected \"%s\", got \"%s\"", render_cases[_i].tmpl,
	    render_cases[_i].data, render_cases[_i].want, out.data);
	arena_free(a);
}
END_TEST

/* Data-driven: broken templates and the message (file:line: ...) they must give. */
static const struct {
	const char *tmpl;
	const char *want;
} error_cases[] = {
	{ "a\n{{#s}}\nb", "template:2: section \"s\" is never closed" },
	{ "{{#a}}\n{{#b}}\n{{/a}}\n{{/b}}",
	    "template:3: {{/a}} does not close \"b\" opened on line 2" },
	{ "x\n\n{{/a}}", "template:3: {{/a}} closes nothing" },
	{ "{{=<%=}}", "template:1: bad delimiters" },
	{ "{{=<%%>=}}", "template:1: bad delimiters" },
	{ "{{=<% %>}}", "template:1: set delimiter tag must end with '='" },
	{ "ok\nok {{name", "template:2: unclosed tag" },
	{ "{{{name}}", "template:1: unclosed tag" },
	{ "{{ }}", "template:1: empty tag name" },
	{ "{{<p}}{{$b}}x", "template:1: section \"b\" is never closed" },
	{ "{{!\n\n}}\n{{/x}}", "template:4: {{/x}} closes nothing" },
};

START_TEST(test_a_broken_template_is_refused_with_its_line_number)
{
	struct arena *a = arena_new();
	struct buf    out;
	char          err[256] = "";
	enum um_err   rc;

	rc = render(a, error_cases[_i].tmpl, "{}", NULL, &out, err, sizeof(err));
	ck_assert_msg(rc == UM_EINVAL, "%s: expected UM_EINVAL, got %d", error_cases[_i].tmpl,
	    (int)rc);
	ck_assert_msg(strncmp(err, error_cases[_i].want, strlen(error_cases[_i].want)) == 0,
	    "%s: expected message \"%s...\", got \"%s\"", error_cases[_i].tmpl,
	    error_cases[_i].want, err);
	ck_assert_uint_eq(out.len, 0);
	arena_free(a);
}
END_TEST

START_TEST(test_a_broken_partial_is_refused_with_its_name_and_line)
{
	struct arena *a = arena_new();
	struct buf    out;
	char          err[256] = "";

	ck_assert_int_eq(render(a, "x{{>p}}", "{}", "{\"p\": \"ok\\n{{#a}}\"}", &out, err,
	                     sizeof(err)),
	    UM_EINVAL);
	ck_assert_str_eq(err, "partial \"p\":2: section \"a\" is never closed");
	ck_assert_uint_eq(out.len, 0);
	arena_free(a);
}
END_TEST

START_TEST(test_output_beyond_the_limit_fails_and_leaves_the_buffer_as_it_was)
{
	struct arena *a = arena_new();
	struct buf    out;
	json_t       *d;
	char         *big, err[256] = "";
	size_t        n = UM_TEMPLATE_OUT_MAX / 2 + 1;

	big = malloc(n + 1);
	ck_assert_ptr_nonnull(big);
	memset(big, 'x', n);
	big[n] = '\0';
	d = json_pack("{s:s}", "x", big);
	buf_init(&out, a);
	buf_puts(&out, "kept");
	/* One copy fits; two exceed the bound. */
	ck_assert_int_eq(tmpl_render_string("{{x}}", 5, NULL, d, &out, err, sizeof(err)),
	    UM_OK);
	ck_assert_uint_eq(out.len, 4 + n);
	buf_truncate(&out, 4);
	ck_assert_int_eq(tmpl_render_string("{{x}}{{{x}}}", 12, NULL, d, &out, err,
	                     sizeof(err)),
	    UM_EINTERNAL);
	ck_assert_str_eq(out.data, "kept");
	ck_assert_str_eq(err, "template output too large");
	/* Escaping can grow a value past the bound too. */
	memset(big, '<', n);
	json_object_set_new(d, "x", json_string(big));
	ck_assert_int_eq(tmpl_render_string("{{x}}", 5, NULL, d, &out, err, sizeof(err)),
	    UM_EINTERNAL);
	ck_assert_str_eq(out.data, "kept");
	json_decref(d);
	free(big);
	arena_free(a);
}
END_TEST

START_TEST(test_a_partial_that_includes_itself_fails_instead_of_recursing_forever)
{
	struct arena *a = arena_new();
	struct buf    out;
	char          err[256] = "";

	ck_assert_int_eq(render(a, "[{{>self}}]", "{}", "{\"self\": \"x{{>self}}\"}", &out, err,
	                     sizeof(err)),
	    UM_EINTERNAL);
	ck_assert_str_eq(err, "templates nested too deeply");
	ck_assert_uint_eq(out.len, 0);
	/* Recursion that ends within the bound is fine (spec "Recursion"). */
	ck_assert_int_eq(render(a, "{{>self}}", "{\"n\": [{\"n\": [{\"n\": []}]}]}",
	                     "{\"self\": \"x{{#n}}{{>self}}{{/n}}\"}", &out, err, sizeof(err)),
	    UM_OK);
	ck_assert_str_eq(out.data, "xxx");
	arena_free(a);
}
END_TEST

START_TEST(test_a_parent_that_inherits_from_itself_fails)
{
	struct arena *a = arena_new();
	struct buf    out;
	char          err[256] = "";

	ck_assert_int_eq(render(a, "{{<p}}{{/p}}", "{}",
	                     "{\"p\": \"{{<p}}{{$b}}x{{/b}}{{/p}}\"}", &out, err, sizeof(err)),
	    UM_EINTERNAL);
	arena_free(a);
}
END_TEST

START_TEST(test_a_template_that_loops_without_output_is_stopped)
{
	struct arena *a = arena_new();
	struct buf    out;
	char          err[256] = "";
	const char   *t = "{{#l}}{{#l}}{{#l}}{{#l}}{{#l}}{{#l}}{{#l}}{{#l}}{{#l}}{{#l}}"
	                  "{{/l}}{{/l}}{{/l}}{{/l}}{{/l}}{{/l}}{{/l}}{{/l}}{{/l}}{{/l}}";

	/* 10^10 empty iterations: refused after a bounded amount of work. */
	ck_assert_int_eq(render(a, t, "{\"l\": [1,2,3,4,5,6,7,8,9,0]}", NULL, &out, err,
	                     sizeof(err)),
	    UM_EINTERNAL);
	ck_assert_str_eq(err, "template rendering takes too long");
	/* Partials that double at every level: 2^32 expansions without the bound. */
	ck_assert_int_eq(
	    render(a, "{{>p}}", "{}",
	        "{\"p\": \"{{>q}}{{>q}}\", \"q\": \"{{>r}}{{>r}}\", \"r\": \"{{>s}}{{>s}}\","
	        " \"s\": \"{{>p}}{{>p}}\"}",
	        &out, err, sizeof(err)),
	    UM_EINTERNAL);
	arena_free(a);
}
END_TEST

START_TEST(test_sections_nested_deeper_than_the_limit_are_a_parse_error)
{
	struct arena *a = arena_new();
	struct buf    out, src;
	char          err[256] = "";
	int           i;

	buf_init(&src, a);
	for (i = 0; i <= UM_TEMPLATE_DEPTH_MAX; i++)
		buf_puts(&src, "{{#a}}");
	for (i = 0; i <= UM_TEMPLATE_DEPTH_MAX; i++)
		buf_puts(&src, "{{/a}}");
	ck_assert_int_eq(render(a, src.data, "{}", NULL, &out, err, sizeof(err)), UM_EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "nested deeper than"));
	arena_free(a);
}
END_TEST

static char tmpdir[64];

/* Each test gets a fresh directory, also when Check runs them in one process. */
static void
make_tmpdir(void)
{
	(void)snprintf(tmpdir, sizeof(tmpdir), "%s", "/tmp/test_template.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void
write_file(const char *rel, const char *text)
{
	char  path[1024];
	FILE *f;

	ck_assert_int_lt(snprintf(path, sizeof(path), "%s/%s", tmpdir, rel), (int)sizeof(path));
	f = fopen(path, "w");
	ck_assert_msg(f != NULL, "cannot create %s", path);
	ck_assert_int_eq(fputs(text, f) >= 0, 1);
	ck_assert_int_eq(fclose(f), 0);
}

static void
make_dir(const char *rel)
{
	char path[1024];

	ck_assert_int_lt(snprintf(path, sizeof(path), "%s/%s", tmpdir, rel), (int)sizeof(path));
	ck_assert_int_eq(mkdir(path, 0700), 0);
}

static void
remove_tree(void)
{
	char cmd[1100];

	/* The directory name comes from mkdtemp: no shell metacharacters. */
	(void)snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	ck_assert_int_eq(system(cmd), 0);
}

START_TEST(test_a_template_directory_loads_with_subdirectories_and_inheritance)
{
	struct tmpl_set *set;
	struct arena    *a = arena_new();
	struct buf       out;
	json_t          *d;
	char             err[256] = "";

	make_tmpdir();
	make_dir("partials");
	make_dir("mail");
	make_dir("mail/deep");
	write_file("layout.mustache",
	    "<html>\n"
	    "<title>{{$title}}Default{{/title}}</title>\n"
	    "<main>\n"
	    "  {{$content}}\n"
	    "  {{/content}}\n"
	    "</main>\n"
	    "</html>\n");
	write_file("page.mustache",
	    "{{<layout}}\n"
	    "{{$title}}Hello {{name}}{{/title}}\n"
	    "{{$content}}\n"
	    "<p>{{name}}</p>\n"
	    "{{#fields}}\n"
	    "{{>partials/field}}\n"
	    "{{/fields}}\n"
	    "{{/content}}\n"
	    "{{/layout}}\n");
	write_file("partials/field.mustache", "<input name=\"{{.}}\">\n");
	write_file("mail/deep/verify.txt.mustache", "Hi {{name}}\n");
	write_file("README", "not a template {{#x}}");
	write_file(".hidden.mustache", "{{#broken}}");

	set = tmpl_set_load(tmpdir, err, sizeof(err));
	ck_assert_msg(set != NULL, "load failed: %s", err);
	ck_assert_int_eq(tmpl_set_has(set, "layout"), 1);
	ck_assert_int_eq(tmpl_set_has(set, "page"), 1);
	ck_assert_int_eq(tmpl_set_has(set, "partials/field"), 1);
	ck_assert_int_eq(tmpl_set_has(set, "mail/deep/verify.txt"), 1);
	ck_assert_int_eq(tmpl_set_has(set, "README"), 0);
	ck_assert_int_eq(tmpl_set_has(set, ".hidden"), 0);
	ck_assert_int_eq(tmpl_set_has(set, "partials/field.mustache"), 0);
	ck_assert_int_eq(tmpl_set_has(NULL, "page"), 0);

	d = json_pack("{s:s, s:[s,s]}", "name", "<Ann>", "fields", "user", "pass");
	buf_init(&out, a);
	ck_assert_int_eq(tmpl_render(set, "page", d, &out), UM_OK);
	ck_assert_str_eq(out.data,
	    "<html>\n"
	    "<title>Hello &lt;Ann&gt;</title>\n"
	    "<main>\n"
	    "  <p>&lt;Ann&gt;</p>\n"
	    "  <input name=\"user\">\n"
	    "  <input name=\"pass\">\n"
	    "</main>\n"
	    "</html>\n");
	buf_init(&out, a);
	ck_assert_int_eq(tmpl_render(set, "mail/deep/verify.txt", d, &out), UM_OK);
	ck_assert_str_eq(out.data, "Hi &lt;Ann&gt;\n");
	buf_init(&out, a);
	ck_assert_int_eq(tmpl_render(set, "nope", d, &out), UM_ENOTFOUND);
	ck_assert_uint_eq(out.len, 0);
	/* The layout alone renders its defaults: here an empty block on lines of its own. */
	ck_assert_int_eq(tmpl_render(set, "layout", NULL, &out), UM_OK);
	ck_assert_str_eq(out.data,
	    "<html>\n<title>Default</title>\n<main>\n</main>\n</html>\n");
	json_decref(d);
	tmpl_set_free(set);
	tmpl_set_free(NULL);
	remove_tree();
	arena_free(a);
}
END_TEST

START_TEST(test_a_set_whose_partial_includes_itself_fails_at_render_time)
{
	struct tmpl_set *set;
	struct arena    *a = arena_new();
	struct buf       out;
	char             err[256] = "";

	make_tmpdir();
	write_file("loop.mustache", "a{{>loop}}");
	set = tmpl_set_load(tmpdir, err, sizeof(err));
	ck_assert_msg(set != NULL, "load failed: %s", err);
	buf_init(&out, a);
	ck_assert_int_eq(tmpl_render(set, "loop", NULL, &out), UM_EINTERNAL);
	ck_assert_uint_eq(out.len, 0);
	tmpl_set_free(set);
	remove_tree();
	arena_free(a);
}
END_TEST

START_TEST(test_a_set_with_a_broken_file_is_refused_naming_file_and_line)
{
	struct tmpl_set *set;
	char             err[512] = "", want[512];

	make_tmpdir();
	make_dir("sub");
	write_file("good.mustache", "{{x}}");
	write_file("sub/bad.mustache", "line one\n{{#open}}\n");
	set = tmpl_set_load(tmpdir, err, sizeof(err));
	ck_assert_ptr_null(set);
	(void)snprintf(want, sizeof(want),
	    "%s/sub/bad.mustache:2: section \"open\" is never "
	    "closed",
	    tmpdir);
	ck_assert_str_eq(err, want);
	remove_tree();
}
END_TEST

START_TEST(test_a_missing_template_directory_is_refused)
{
	char err[256] = "";

	ck_assert_ptr_null(tmpl_set_load("/nonexistent/templates", err, sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "/nonexistent/templates"));
}
END_TEST

static void
load_spec(void)
{
	char         path[512];
	json_error_t je;
	json_t      *root;
	size_t       i;

	for (i = 0; i < NSPEC; i++) {
		(void)snprintf(path, sizeof(path), "%s/mustache/%s.json", UM_TEST_DATADIR,
		    spec_files[i]);
		if ((root = json_load_file(path, 0, &je)) == NULL) {
			fprintf(stderr, "%s: %s\n", path, je.text);
			exit(EXIT_FAILURE);
		}
		spec_tests[i] = json_incref(json_object_get(root, "tests"));
		json_decref(root);
		if (json_array_size(spec_tests[i]) == 0) {
			fprintf(stderr, "%s: no tests\n", path);
			exit(EXIT_FAILURE);
		}
	}
}

static Suite *
template_suite(void)
{
	Suite *s = suite_create("template");
	TCase *tc;

	tc = tcase_create("spec");
	tcase_add_loop_test(tc, test_every_comments_spec_case_renders_as_specified, 0,
	    (int)json_array_size(spec_tests[0]));
	tcase_add_loop_test(tc, test_every_delimiters_spec_case_renders_as_specified, 0,
	    (int)json_array_size(spec_tests[1]));
	tcase_add_loop_test(tc, test_every_interpolation_spec_case_renders_as_specified, 0,
	    (int)json_array_size(spec_tests[2]));
	tcase_add_loop_test(tc, test_every_inverted_spec_case_renders_as_specified, 0,
	    (int)json_array_size(spec_tests[3]));
	tcase_add_loop_test(tc, test_every_partials_spec_case_renders_as_specified, 0,
	    (int)json_array_size(spec_tests[4]));
	tcase_add_loop_test(tc, test_every_sections_spec_case_renders_as_specified, 0,
	    (int)json_array_size(spec_tests[5]));
	tcase_add_loop_test(tc, test_every_inheritance_spec_case_renders_as_specified, 0,
	    (int)json_array_size(spec_tests[6]));
	suite_add_tcase(s, tc);

	tc = tcase_create("own");
	tcase_add_loop_test(tc, test_values_render_as_the_table_says, 0,
	    (int)(sizeof(render_cases) / sizeof(render_cases[0])));
	tcase_add_loop_test(tc, test_a_broken_template_is_refused_with_its_line_number, 0,
	    (int)(sizeof(error_cases) / sizeof(error_cases[0])));
	tcase_add_test(tc, test_a_broken_partial_is_refused_with_its_name_and_line);
	tcase_add_test(tc, test_output_beyond_the_limit_fails_and_leaves_the_buffer_as_it_was);
	tcase_add_test(tc,
	    test_a_partial_that_includes_itself_fails_instead_of_recursing_forever);
	tcase_add_test(tc, test_a_parent_that_inherits_from_itself_fails);
	tcase_add_test(tc, test_a_template_that_loops_without_output_is_stopped);
	tcase_add_test(tc, test_sections_nested_deeper_than_the_limit_are_a_parse_error);
	suite_add_tcase(s, tc);

	tc = tcase_create("set");
	tcase_add_test(tc, test_a_template_directory_loads_with_subdirectories_and_inheritance);
	tcase_add_test(tc, test_a_set_whose_partial_includes_itself_fails_at_render_time);
	tcase_add_test(tc, test_a_set_with_a_broken_file_is_refused_naming_file_and_line);
	tcase_add_test(tc, test_a_missing_template_directory_is_refused);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr;
	int      failed;
	size_t   i;

	load_spec();
	sr = srunner_create(template_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	for (i = 0; i < NSPEC; i++)
		json_decref(spec_tests[i]);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
