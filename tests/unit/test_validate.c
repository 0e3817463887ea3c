/* test_validate: each field rule of API.md §2 and §7, edge by edge, and the form/JSON tables. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>
#include <jansson.h>

#include "arena.h"
#include "error.h"
#include "kv.h"
#include "unit.h"
#include "validate.h"

#ifndef UM_SRCDIR
#define UM_SRCDIR "/work/main"
#endif
#define COMMON_PATH UM_SRCDIR "/fcgi/data/common-passwords.txt"

static struct arena *a;

static void
setup(void)
{
	a = arena_new();
}

static void
teardown(void)
{
	arena_free(a);
	a = NULL;
}

static void
load_list(void)
{
	setup();
	ck_assert_msg(validate_load_common(COMMON_PATH) == UM_OK, "loading %s", COMMON_PATH);
}

static void
unload_list(void)
{
	validate_unload_common();
	teardown();
}

#define V_USERNAME validate_username
#define V_EMAIL    validate_email
#define V_PASSWORD validate_password
#define V_NAME     validate_display_name
#define V_BIO      validate_bio
#define V_ROLE     validate_role_name

struct vcase {
	const char *what;
	enum um_err (*fn)(struct arena *, const struct validate_ctx *, const char *, size_t,
	    struct field_result *);
	const char *in;
	size_t      n;
	const char *out;  /* accepted, normalised to this; NULL: refused */
	const char *msg;  /* refused: a word the message must hold */
	const char *user; /* validate_ctx username */
};

#define OK(what, fn, lit) \
	{ \
		what, fn, lit, sizeof(lit) - 1, lit, NULL, NULL \
	}
#define NORM(what, fn, lit, out) \
	{ \
		what, fn, lit, sizeof(lit) - 1, out, NULL, NULL \
	}
#define BAD(what, fn, lit, msg) \
	{ \
		what, fn, lit, sizeof(lit) - 1, NULL, msg, NULL \
	}
#define BADU(what, fn, lit, user, msg) \
	{ \
		what, fn, lit, sizeof(lit) - 1, NULL, msg, user \
	}
#define OKU(what, fn, lit, user) \
	{ \
		what, fn, lit, sizeof(lit) - 1, lit, NULL, user \
	}

static const struct vcase cases[] = {
	/* username: 3–32 of A–Z a–z 0–9 . _ - (API.md §2) */
	OK("a three-character username", V_USERNAME, "bob"),
	OK("a username using every allowed kind of character", V_USERNAME, "Al.ice_B-0b9"),
	OK("a username with two dots in a row", V_USERNAME, "a..b"),
	OK("a username starting with a dot", V_USERNAME, ".ab"),
	OK("a 31-character username", V_USERNAME, "abcdefghijklmnopqrstuvwxyz01234"),
	OK("a 32-character username", V_USERNAME, "abcdefghijklmnopqrstuvwxyz012345"),
	BAD("a 33-character username", V_USERNAME, "abcdefghijklmnopqrstuvwxyz0123456", "3"),
	BAD("a two-character username", V_USERNAME, "ab", "letters"),
	BAD("an empty username", V_USERNAME, "", "letters"),
	BAD("a username with a space", V_USERNAME, "bob smith", "letters"),
	BAD("a username with an @", V_USERNAME, "bob@x", "letters"),
	BAD("a username with a plus", V_USERNAME, "bob+1", "letters"),
	BAD("a username with a non-ASCII letter", V_USERNAME, "j\xc3\xb6rg", "letters"),
	BAD("a username with a NUL", V_USERNAME, "bob\0by", "NUL"),
	BAD("a username with invalid UTF-8", V_USERNAME, "bob\xff", "UTF-8"),
	/* email (API.md §2, §7) */
	OK("a plain address", V_EMAIL, "alice@example.com"),
	OK("the bootstrap admin's single-label address", V_EMAIL, "admin@localhost"),
	OK("an address with a plus and a dot in the local part", V_EMAIL, "a.b+tag@x.org"),
	OK("an address with printable symbols in the local part", V_EMAIL,
	    "!#$%&'*/=?^`{|}~@x.io"),
	OK("an address with a hyphen inside a label", V_EMAIL, "u@my-host.example"),
	OK("an address with an all-digit label", V_EMAIL, "u@123.example"),
	OK("an IDN in its xn-- form", V_EMAIL, "u@xn--bcher-kva.example"),
	NORM("an upper-case domain is lower-cased, the local part kept", V_EMAIL,
	    "A@EXAMPLE.COM", "A@example.com"),
	NORM("surrounding spaces and tabs are trimmed", V_EMAIL, " \tBob@Ex.com \r\n",
	    "Bob@ex.com"),
	BAD("an address with two @", V_EMAIL, "a@b@example.com", "@"),
	BAD("an address without @", V_EMAIL, "alice.example.com", "@"),
	BAD("an address with an empty local part", V_EMAIL, "@example.com", "address"),
	BAD("an address with an empty domain", V_EMAIL, "alice@", "domain"),
	BAD("an address with a space inside", V_EMAIL, "ali ce@example.com", "address"),
	BAD("an address with a space in the domain", V_EMAIL, "alice@exa mple.com", "domain"),
	BAD("an address with a tab inside", V_EMAIL, "ali\tce@example.com", "address"),
	/* RFC 5322 specials: only a quoted local part may hold them, and mail carries addresses
	 * unquoted (API.md §7 "printable ASCII" read with the mail layer's rules). */
	OK("a line of free text with any Unicode", validate_line,
	    "Manages \xc3\xa9v\xc3\xa9nements \xe2\x80\x94 ok"),
	BAD("a control character in a line of text", validate_line, "a\x01b", "control"),
	BAD("a line break in a line of text", validate_line, "a\nb", "control"),
	BAD("a double quote in the local part", V_EMAIL, "c\"d@example.com", "before the @"),
	BAD("angle brackets in the local part", V_EMAIL, "q<y>@example.com", "before the @"),
	BAD("parentheses in the local part", V_EMAIL, "q(z)@example.com", "before the @"),
	BAD("a comma in the local part", V_EMAIL, "a,b@example.com", "before the @"),
	BAD("a colon in the local part", V_EMAIL, "a:b@example.com", "before the @"),
	BAD("a semicolon in the local part", V_EMAIL, "a;b@example.com", "before the @"),
	BAD("square brackets in the local part", V_EMAIL, "a[b]@example.com", "before the @"),
	BAD("a backslash in the local part", V_EMAIL, "a\\b@example.com", "before the @"),
	BAD("a domain label starting with a hyphen", V_EMAIL, "user@-bad.com", "domain"),
	BAD("a domain label ending with a hyphen", V_EMAIL, "user@bad-.com", "domain"),
	BAD("a domain with an empty label", V_EMAIL, "user@bad..com", "domain"),
	BAD("a domain ending with a dot", V_EMAIL, "user@example.com.", "domain"),
	BAD("a domain starting with a dot", V_EMAIL, "user@.example.com", "domain"),
	BAD("a domain with an underscore", V_EMAIL, "user@ex_ample.com", "domain"),
	BAD("a domain literal", V_EMAIL, "user@[127.0.0.1]", "domain"),
	BAD("a non-ASCII local part", V_EMAIL, "\xc3\x84\xc3\x96@x.com", "address"),
	BAD("a non-ASCII domain", V_EMAIL,
	    "u@b\xc3\xbc"
	    "cher.de",
	    "domain"),
	BAD("an address that is only spaces", V_EMAIL, "   ", "address"),
	BAD("an empty address", V_EMAIL, "", "address"),
	BAD("an address with a NUL", V_EMAIL, "a@b.com\0x", "NUL"),
	BAD("an address with invalid UTF-8", V_EMAIL, "a\xc0\xaf@b.com", "UTF-8"),
	BAD("an address with DEL", V_EMAIL, "a\x7f@b.com", "address"),
	/* password (API.md §2, §7): 8..128 code points, exact, not common, not the username */
	OK("an eight-character password", V_PASSWORD, "x7#Kp2!q"),
	OK("a password with spaces kept as given", V_PASSWORD, "  x7#Kp2!q  "),
	OK("eight two-byte characters are eight characters", V_PASSWORD,
	    "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"),
	BAD("seven two-byte characters are too few although 14 bytes", V_PASSWORD,
	    "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9", "at least 8"),
	BAD("a seven-character password", V_PASSWORD, "x7#Kp2!", "at least 8"),
	BAD("an empty password", V_PASSWORD, "", "at least 8"),
	BAD("a common password", V_PASSWORD, "password1", "common"),
	BAD("a common password in another case", V_PASSWORD, "Password", "common"),
	BAD("a common password in capitals", V_PASSWORD, "QWERTYUIOP", "common"),
	BADU("a password containing the username in another case", V_PASSWORD, "xxALICExx99",
	    "alice", "username"),
	BADU("a password that is the username", V_PASSWORD, "Ramanujan1729", "ramanujan1729",
	    "username"),
	OKU("a password without the username", V_PASSWORD, "xxALIxCExx99", "alice"),
	OKU("an empty username is not looked for", V_PASSWORD, "x7#Kp2!q", ""),
	BAD("a password with a NUL", V_PASSWORD, "x7#Kp2!q\0abc", "NUL"),
	BAD("a password with invalid UTF-8", V_PASSWORD, "x7#Kp2!q\xed\xa0\x80", "UTF-8"),
	/* display_name (API.md §7) */
	OK("a display name with accents and emoji", V_NAME, "J\xc3\xb6rg \xf0\x9f\x98\x80"),
	OK("an empty display name", V_NAME, ""),
	OK("a display name with markup characters, escaped on output", V_NAME, "<b>&\"'"),
	BAD("a display name with a tab", V_NAME, "Bob\tSmith", "control"),
	BAD("a display name with a newline", V_NAME, "Bob\nSmith", "control"),
	BAD("a display name with DEL", V_NAME, "Bob\x7f", "control"),
	BAD("a display name with the C1 control U+0085", V_NAME, "Bob\xc2\x85", "control"),
	BAD("a display name with the C1 control U+009F", V_NAME, "Bob\xc2\x9f", "control"),
	OK("a display name with U+00A0, just past C1", V_NAME, "Bob\xc2\xa0Smith"),
	BAD("a display name with a NUL", V_NAME, "Bob\0", "NUL"),
	BAD("a display name with an overlong sequence", V_NAME, "Bob\xc0\x80", "UTF-8"),
	/* bio (API.md §7) */
	OK("a bio with newlines", V_BIO, "line one\nline two\n"),
	NORM("a bio's CRLF becomes LF", V_BIO, "one\r\ntwo\r\n", "one\ntwo\n"),
	BAD("a bio with a lone CR", V_BIO, "one\rtwo", "control"),
	BAD("a bio ending in a lone CR", V_BIO, "one\r", "control"),
	BAD("a bio with CR CR LF", V_BIO, "one\r\r\n", "control"),
	BAD("a bio with a tab", V_BIO, "one\ttwo", "control"),
	BAD("a bio with a C1 control", V_BIO, "one\xc2\x80", "control"),
	BAD("a bio with a NUL", V_BIO, "one\0two", "NUL"),
	BAD("a bio with a truncated sequence", V_BIO, "one\xe2\x82", "UTF-8"),
	/* role name */
	OK("a two-character role name", V_ROLE, "ab"),
	OK("a role name with digits, underscore and hyphen", V_ROLE, "ops_team-2"),
	BAD("a one-character role name", V_ROLE, "a", "lower-case"),
	BAD("a role name starting with a digit", V_ROLE, "2ops", "lower-case"),
	BAD("a role name starting with an underscore", V_ROLE, "_ops", "lower-case"),
	BAD("a role name with a capital", V_ROLE, "Admin", "lower-case"),
	BAD("a role name with a dot", V_ROLE, "a.b", "lower-case"),
	BAD("a role name with a NUL", V_ROLE, "ab\0c", "NUL"),
};

START_TEST(test_each_value_is_judged_as_the_api_contract_says)
{
	const struct vcase *c = &cases[_i];
	struct validate_ctx ctx = { 8, c->user };
	struct field_result r;
	enum um_err         rc;

	memset(&r, 0xa5, sizeof(r));
	rc = c->fn(a, &ctx, c->in, c->n, &r);
	if (c->out != NULL) {
		ck_assert_msg(rc == UM_OK, "%s: refused with \"%s\"", c->what,
		    rc == UM_OK ? "" : r.error);
		ck_assert_msg(r.error == NULL, "%s: error set on success", c->what);
		ck_assert_msg(r.len == strlen(c->out) && memcmp(r.val, c->out, r.len) == 0 &&
		        r.val[r.len] == '\0',
		    "%s: normalised to \"%s\", expected \"%s\"", c->what, r.val, c->out);
	} else {
		ck_assert_msg(rc == UM_EINVAL, "%s: accepted", c->what);
		ck_assert_msg(r.val == NULL, "%s: a value on refusal", c->what);
		ck_assert_msg(r.error != NULL && strstr(r.error, c->msg) != NULL,
		    "%s: message \"%s\" lacks \"%s\"", c->what, r.error, c->msg);
	}
}
END_TEST

/* A long input: head, then unit repeated times times, then tail. */
struct gcase {
	const char *what;
	enum um_err (*fn)(struct arena *, const struct validate_ctx *, const char *, size_t,
	    struct field_result *);
	const char *head;
	const char *unit;
	size_t      times;
	const char *tail;
	enum um_err rc;
	size_t      outlen; /* when accepted; 0: the input's length */
};

static const struct gcase gcases[] = {
	{ "a 254-octet address", V_EMAIL, "xy@", "abcdefghi.", 24, "example.com", UM_OK, 0 },
	{ "a 255-octet address", V_EMAIL, "xyz@", "abcdefghi.", 24, "example.com", UM_EINVAL,
	    0 },
	{ "a 254-octet address once trimmed", V_EMAIL, "   xy@", "abcdefghi.", 24,
	    "example.com   ", UM_OK, 254 },
	{ "a 64-octet local part", V_EMAIL, "", "a", 64, "@x.com", UM_OK, 0 },
	{ "a 65-octet local part", V_EMAIL, "", "a", 65, "@x.com", UM_EINVAL, 0 },
	{ "a 63-octet domain label", V_EMAIL, "u@", "a", 63, ".com", UM_OK, 0 },
	{ "a 64-octet domain label", V_EMAIL, "u@", "a", 64, ".com", UM_EINVAL, 0 },
	{ "a 63-octet last label", V_EMAIL, "u@x.", "b", 63, "", UM_OK, 0 },
	{ "a 64-octet last label", V_EMAIL, "u@x.", "b", 64, "", UM_EINVAL, 0 },
	{ "a 128-character password of three-byte characters", V_PASSWORD, "", "\xe2\x82\xac",
	    128, "", UM_OK, 0 },
	{ "a 129-character password of three-byte characters", V_PASSWORD, "", "\xe2\x82\xac",
	    129, "", UM_EINVAL, 0 },
	{ "a 128-character password of four-byte characters", V_PASSWORD, "",
	    "\xf0\x9f\x98\x80", 128, "", UM_OK, 0 },
	{ "a 129-character ASCII password", V_PASSWORD, "", "k", 129, "", UM_EINVAL, 0 },
	{ "a 100-character display name", V_NAME, "", "\xc3\xa9", 100, "", UM_OK, 0 },
	{ "a 101-character display name", V_NAME, "", "\xc3\xa9", 101, "", UM_EINVAL, 0 },
	{ "a 1000-character bio", V_BIO, "", "\xc3\xa9", 1000, "", UM_OK, 0 },
	{ "a 1001-character bio", V_BIO, "", "\xc3\xa9", 1001, "", UM_EINVAL, 0 },
	{ "a 1000-character bio once CRLF counts as one", V_BIO, "", "a\r\n", 500, "", UM_OK,
	    1000 },
	{ "a 1002-character bio once CRLF counts as one", V_BIO, "", "a\r\n", 501, "",
	    UM_EINVAL, 0 },
	{ "a 32-character role name", V_ROLE, "r", "x", 31, "", UM_OK, 0 },
	{ "a 33-character role name", V_ROLE, "r", "x", 32, "", UM_EINVAL, 0 },
	{ "a 32-character username", V_USERNAME, "", "_", 32, "", UM_OK, 0 },
	{ "a 33-character username", V_USERNAME, "", "_", 33, "", UM_EINVAL, 0 },
};

START_TEST(test_each_length_edge_falls_on_the_right_side)
{
	const struct gcase *g = &gcases[_i];
	struct validate_ctx ctx = { 8, NULL };
	struct field_result r;
	char               *s, *p;
	size_t              n, i, ul;
	enum um_err         rc;

	ul = strlen(g->unit);
	n = strlen(g->head) + ul * g->times + strlen(g->tail);
	s = p = arena_alloc(a, n + 1);
	memcpy(p, g->head, strlen(g->head));
	p += strlen(g->head);
	for (i = 0; i < g->times; i++, p += ul)
		memcpy(p, g->unit, ul);
	memcpy(p, g->tail, strlen(g->tail) + 1);
	rc = g->fn(a, &ctx, s, n, &r);
	ck_assert_msg(rc == g->rc, "%s (%zu bytes): %s, expected %s", g->what, n,
	    rc == UM_OK ? "accepted" : r.error, g->rc == UM_OK ? "acceptance" : "refusal");
	if (rc == UM_OK)
		ck_assert_msg(r.len == (g->outlen > 0 ? g->outlen : n), "%s: %zu bytes out",
		    g->what, r.len);
}
END_TEST

START_TEST(test_the_minimum_password_length_comes_from_the_context)
{
	struct validate_ctx ctx = { 12, NULL };
	struct field_result r;

	ck_assert_int_eq(validate_password(a, &ctx, "x7#Kp2!qLm9", 11, &r), UM_EINVAL);
	ck_assert_str_eq(r.error, "must be at least 12 characters");
	ck_assert_int_eq(validate_password(a, &ctx, "x7#Kp2!qLm9z", 12, &r), UM_OK);
	/* A NULL context means the default of 8. */
	ck_assert_int_eq(validate_password(a, NULL, "x7#Kp2!", 7, &r), UM_EINVAL);
	ck_assert_int_eq(validate_password(a, NULL, "x7#Kp2!q", 8, &r), UM_OK);
}
END_TEST

/* The register form of API.md §3, as a handler would declare it. */
enum { F_USERNAME, F_EMAIL, F_PASSWORD, F_CONFIRM, F_NAME, F__MAX };
static const struct field_spec fields[F__MAX] = {
	[F_USERNAME] = { "username", validate_username, 0, VF_REQUIRED },
	[F_EMAIL] = { "email", validate_email, 0, VF_REQUIRED },
	[F_PASSWORD] = { "password", validate_password, 512, VF_REQUIRED | VF_SECRET },
	[F_CONFIRM] = { "password_confirm", NULL, 512, VF_REQUIRED | VF_SECRET },
	[F_NAME] = { "display_name", validate_display_name, 400, VF_NULLABLE },
};

#define KV(k, v) \
	{ \
		k, v, sizeof(v) - 1 \
	}

START_TEST(test_a_valid_form_yields_normalised_values_by_index)
{
	struct kv v[] = {
		KV("csrf_token", "abc"),
		KV("email", "  Bob@Example.COM "),
		KV("username", "bob"),
		KV("password", "x7#Kp2!qLm"),
		KV("password_confirm", "x7#Kp2!qLm"),
	};
	struct kvlist       form = { v, sizeof(v) / sizeof(v[0]) };
	struct validate_ctx ctx = { 8, NULL };
	struct field_result r[F__MAX];

	ck_assert_int_eq(validate_form(a, &ctx, fields, F__MAX, &form, r), UM_OK);
	ck_assert_int_eq(validate_same(r, F_CONFIRM, F_PASSWORD, "does not match"), UM_OK);
	ck_assert_int_eq(validate_password_username(r, F_PASSWORD, r[F_USERNAME].val), UM_OK);
	ck_assert_ptr_null(validate_errors(a, fields, F__MAX, r));
	ck_assert_str_eq(r[F_USERNAME].val, "bob");
	ck_assert_str_eq(r[F_EMAIL].val, "Bob@example.com");
	ck_assert_str_eq(r[F_EMAIL].raw, "  Bob@Example.COM ");
	ck_assert_str_eq(r[F_PASSWORD].val, "x7#Kp2!qLm");
	ck_assert_ptr_null(r[F_PASSWORD].raw);
	ck_assert_ptr_null(r[F_CONFIRM].raw);
	ck_assert_int_eq(r[F_NAME].present, 0);
	ck_assert_ptr_null(r[F_NAME].val);
	ck_assert_ptr_null(r[F_NAME].error);
}
END_TEST

/* Checks errors is [{field, message}, ...] with exactly the fields named, in that order. */
static void
assert_errors(json_t *errors, const char *const *names, size_t n)
{
	json_t *e;
	size_t  i;

	ck_assert_msg(errors != NULL && json_is_array(errors), "an errors array");
	ck_assert_msg(json_array_size(errors) == n, "%zu errors, expected %zu",
	    json_array_size(errors), n);
	for (i = 0; i < n; i++) {
		e = json_array_get(errors, i);
		ck_assert_msg(json_object_size(e) == 2, "error %zu has field and message only",
		    i);
		ck_assert_str_eq(json_string_value(json_object_get(e, "field")), names[i]);
		ck_assert_msg(json_string_length(json_object_get(e, "message")) > 0,
		    "error %zu has a message", i);
	}
}

START_TEST(test_form_errors_come_in_table_order_with_the_cross_field_rules)
{
	/* Out of table order in the body; one field missing, one bad, two cross-field. */
	struct kv v[] = {
		KV("password_confirm", "different1!"),
		KV("password", "xxBOBxx99!"),
		KV("username", "bob"),
		KV("display_name", "Bob\tSmith"),
	};
	struct kvlist            form = { v, sizeof(v) / sizeof(v[0]) };
	struct validate_ctx      ctx = { 8, NULL };
	struct field_result      r[F__MAX];
	static const char *const want[] = { "email", "password", "display_name" };
	json_t                  *errors;

	ck_assert_int_eq(validate_form(a, &ctx, fields, F__MAX, &form, r), UM_EINVAL);
	ck_assert_str_eq(r[F_EMAIL].error, "is required");
	ck_assert_int_eq(r[F_EMAIL].present, 0);
	/* The confirmation is checked against a valid password only: first the password. */
	ck_assert_int_eq(validate_password_username(r, F_PASSWORD, r[F_USERNAME].val),
	    UM_EINVAL);
	ck_assert_str_eq(r[F_PASSWORD].error, "must not contain the username");
	ck_assert_int_eq(validate_same(r, F_CONFIRM, F_PASSWORD, "does not match"), UM_OK);
	errors = validate_errors(a, fields, F__MAX, r);
	assert_errors(errors, want, 3);
	ck_assert_str_eq(r[F_NAME].raw, "Bob\tSmith");
}
END_TEST

START_TEST(test_a_confirmation_that_differs_is_refused_on_the_confirmation_field)
{
	struct kv v[] = {
		KV("username", "bob"),
		KV("email", "b@x.io"),
		KV("password", "x7#Kp2!qLm"),
		KV("password_confirm", "x7#Kp2!qLM"),
	};
	struct kvlist            form = { v, sizeof(v) / sizeof(v[0]) };
	struct field_result      r[F__MAX];
	static const char *const want[] = { "password_confirm" };

	ck_assert_int_eq(validate_form(a, NULL, fields, F__MAX, &form, r), UM_OK);
	ck_assert_int_eq(validate_same(r, F_CONFIRM, F_PASSWORD, "does not match the password"),
	    UM_EINVAL);
	ck_assert_str_eq(r[F_CONFIRM].error, "does not match the password");
	ck_assert_ptr_null(r[F_CONFIRM].val);
	assert_errors(validate_errors(a, fields, F__MAX, r), want, 1);
}
END_TEST

START_TEST(test_empty_repeated_and_oversized_form_fields_are_refused)
{
	char      big[600];
	struct kv v[] = {
		KV("username", ""),
		KV("email", "a@b.c"),
		KV("email", "c@d.e"),
		{ "password", big, sizeof(big) - 1 },
		KV("password_confirm", "p\0q"),
		KV("display_name", ""),
	};
	struct kvlist            form = { v, sizeof(v) / sizeof(v[0]) };
	struct field_result      r[F__MAX];
	static const char *const want[] = { "username", "email", "password",
		"password_confirm" };

	memset(big, 'k', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	ck_assert_int_eq(validate_form(a, NULL, fields, F__MAX, &form, r), UM_EINVAL);
	ck_assert_str_eq(r[F_USERNAME].error, "is required");
	ck_assert_str_eq(r[F_EMAIL].error, "must be given only once");
	ck_assert_str_eq(r[F_PASSWORD].error, "is too long");
	ck_assert_str_eq(r[F_CONFIRM].error, "must not contain NUL characters");
	/* An optional field sent empty is present and valid: "clear it". */
	ck_assert_int_eq(r[F_NAME].present, 1);
	ck_assert_str_eq(r[F_NAME].val, "");
	assert_errors(validate_errors(a, fields, F__MAX, r), want, 4);
}
END_TEST

static void
release(void *v)
{
	json_decref(v);
}

static json_t *
parse(const char *s)
{
	json_t      *v;
	json_error_t e;

	v = json_loads(s, JSON_DECODE_ANY | JSON_ALLOW_NUL, &e);
	ck_assert_msg(v != NULL, "test JSON %s: %s", s, e.text);
	arena_defer(a, release, v);
	return v;
}

START_TEST(test_a_valid_json_body_yields_normalised_values)
{
	json_t             *body;
	struct field_result r[F__MAX];

	body = parse("{\"username\": \"bob\", \"email\": \"B@X.IO\", \"password\": "
	             "\"x7#Kp2!qLm\", \"password_confirm\": \"x7#Kp2!qLm\", \"extra\": 5, "
	             "\"display_name\": \"Bob \\u00e9\"}");
	ck_assert_int_eq(validate_json(a, NULL, fields, F__MAX, body, r), UM_OK);
	ck_assert_str_eq(r[F_EMAIL].val, "B@x.io");
	ck_assert_str_eq(r[F_NAME].val, "Bob \xc3\xa9");
	ck_assert_ptr_null(validate_errors(a, fields, F__MAX, r));
}
END_TEST

START_TEST(test_a_json_value_of_the_wrong_type_is_an_error_naming_the_field)
{
	json_t                  *body;
	struct field_result      r[F__MAX];
	static const char *const want[] = { "username", "email", "password",
		"password_confirm" };

	body = parse("{\"password_confirm\": [], \"password\": \"ab\\u0000cdefghij\", "
	             "\"email\": 42, \"username\": null, \"display_name\": null}");
	ck_assert_int_eq(validate_json(a, NULL, fields, F__MAX, body, r), UM_EINVAL);
	ck_assert_str_eq(r[F_USERNAME].error, "must be a string");
	ck_assert_str_eq(r[F_EMAIL].error, "must be a string");
	ck_assert_str_eq(r[F_PASSWORD].error, "must not contain NUL characters");
	ck_assert_str_eq(r[F_CONFIRM].error, "must be a string");
	/* null clears a nullable field. */
	ck_assert_int_eq(r[F_NAME].present, 1);
	ck_assert_ptr_null(r[F_NAME].val);
	ck_assert_ptr_null(r[F_NAME].error);
	assert_errors(validate_errors(a, fields, F__MAX, r), want, 4);
}
END_TEST

START_TEST(test_a_missing_json_field_is_required_and_a_non_object_body_is_refused)
{
	struct field_result      r[F__MAX];
	static const char *const want[] = { "username", "email", "password",
		"password_confirm" };

	ck_assert_int_eq(validate_json(a, NULL, fields, F__MAX, parse("{}"), r), UM_EINVAL);
	assert_errors(validate_errors(a, fields, F__MAX, r), want, 4);
	ck_assert_int_eq(validate_json(a, NULL, fields, F__MAX, parse("[1]"), r), UM_EJSON);
	ck_assert_ptr_null(validate_errors(a, fields, F__MAX, r));
	ck_assert_int_eq(validate_json(a, NULL, fields, F__MAX, NULL, r), UM_EJSON);
}
END_TEST

START_TEST(test_the_shipped_common_password_list_loads_with_over_ten_thousand_entries)
{
	ck_assert_int_eq(validate_load_common(COMMON_PATH), UM_OK);
	ck_assert_msg(validate_common_count() >= 10000, "%zu entries", validate_common_count());
	ck_assert_int_eq(validate_is_common("password", 8), 1);
	ck_assert_int_eq(validate_is_common("PaSsWoRd", 8), 1);
	ck_assert_int_eq(validate_is_common("123456", 6), 1);
	ck_assert_int_eq(validate_is_common("x7#Kp2!qLm9z", 12), 0);
	ck_assert_int_eq(validate_is_common("", 0), 0);
	/* Its first and last entries (the file is sorted), so the search reaches both ends. */
	ck_assert_int_eq(validate_is_common("!@#$%", 5), 1);
	ck_assert_int_eq(validate_is_common("zzzzzzz1", 8), 1);
	/* Just outside both ends. */
	ck_assert_int_eq(validate_is_common("!@#$", 4), 0);
	ck_assert_int_eq(validate_is_common("zzzzzzz2", 8), 0);
	validate_unload_common();
	ck_assert_int_eq(validate_common_count(), 0);
	ck_assert_int_eq(validate_is_common("password", 8), 0);
}
END_TEST

static char *
write_temp(const char *content, size_t n)
{
	char *path;
	int   fd;

	path = arena_strdup(a, "/tmp/test_validate.XXXXXX");
	ck_assert_msg((fd = mkstemp(path)) != -1, "mkstemp");
	ck_assert_msg(write(fd, content, n) == (ssize_t)n, "write");
	close(fd);
	return path;
}

START_TEST(test_an_unsorted_mixed_case_list_with_crlf_still_loads)
{
	static const char list[] = "zebra99\r\nAbc123XY\n\nmonkey\r\nqwerty";
	char             *path;

	path = write_temp(list, sizeof(list) - 1);
	ck_assert_int_eq(validate_load_common(path), UM_OK);
	unlink(path);
	ck_assert_int_eq(validate_common_count(), 4);
	ck_assert_int_eq(validate_is_common("ABC123xy", 8), 1);
	ck_assert_int_eq(validate_is_common("zebra99", 7), 1);
	ck_assert_int_eq(validate_is_common("monkey", 6), 1);
	ck_assert_int_eq(validate_is_common("qwerty", 6), 1);
	ck_assert_int_eq(validate_is_common("zebra9", 6), 0);
	ck_assert_int_eq(validate_is_common("password", 8), 0);
	validate_unload_common();
}
END_TEST

START_TEST(test_a_missing_or_empty_list_fails_and_keeps_the_loaded_one)
{
	char *path;

	ck_assert_int_eq(validate_load_common(COMMON_PATH), UM_OK);
	ck_assert_int_eq(validate_load_common("/nonexistent/common-passwords.txt"),
	    UM_EINTERNAL);
	path = write_temp("\n\r\n", 3);
	ck_assert_int_eq(validate_load_common(path), UM_EINTERNAL);
	unlink(path);
	ck_assert_int_eq(validate_load_common("/tmp"), UM_EINTERNAL);
	ck_assert_int_eq(validate_is_common("password", 8), 1);
	validate_unload_common();
}
END_TEST

/* API.md §2: ids are decimal strings, spelt one way; anything else names no row. */
START_TEST(test_an_id_is_positive_decimal_digits_spelt_one_way)
{
	static const char *const bad[] = { "", "0", "007", "-1", "+1", " 1", "1 ", "1a", "0x1",
		"1e3", "9223372036854775808", "99999999999999999999" };
	size_t                   i;

	ck_assert_int_eq(validate_id("1"), 1);
	ck_assert_int_eq(validate_id("42"), 42);
	ck_assert(validate_id("9223372036854775807") == 9223372036854775807LL);
	ck_assert_int_eq(validate_id(NULL), 0);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(validate_id(bad[i]) == 0, "accepted '%s'", bad[i]);
}
END_TEST

static Suite *
suite(void)
{
	Suite *s;
	TCase *tc;

	s = suite_create("validate");
	tc = tcase_create("validators");
	tcase_add_checked_fixture(tc, load_list, unload_list);
	tcase_add_loop_test(tc, test_each_value_is_judged_as_the_api_contract_says, 0,
	    sizeof(cases) / sizeof(cases[0]));
	tcase_add_loop_test(tc, test_each_length_edge_falls_on_the_right_side, 0,
	    sizeof(gcases) / sizeof(gcases[0]));
	tcase_add_test(tc, test_the_minimum_password_length_comes_from_the_context);
	tcase_add_test(tc, test_an_id_is_positive_decimal_digits_spelt_one_way);
	suite_add_tcase(s, tc);
	tc = tcase_create("tables");
	tcase_add_checked_fixture(tc, load_list, unload_list);
	tcase_add_test(tc, test_a_valid_form_yields_normalised_values_by_index);
	tcase_add_test(tc, test_form_errors_come_in_table_order_with_the_cross_field_rules);
	tcase_add_test(tc,
	    test_a_confirmation_that_differs_is_refused_on_the_confirmation_field);
	tcase_add_test(tc, test_empty_repeated_and_oversized_form_fields_are_refused);
	tcase_add_test(tc, test_a_valid_json_body_yields_normalised_values);
	tcase_add_test(tc, test_a_json_value_of_the_wrong_type_is_an_error_naming_the_field);
	tcase_add_test(tc,
	    test_a_missing_json_field_is_required_and_a_non_object_body_is_refused);
	suite_add_tcase(s, tc);
	tc = tcase_create("common list");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc,
	    test_the_shipped_common_password_list_loads_with_over_ten_thousand_entries);
	tcase_add_test(tc, test_an_unsorted_mixed_case_list_with_crlf_still_loads);
	tcase_add_test(tc, test_a_missing_or_empty_list_fails_and_keeps_the_loaded_one);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return unit_run(suite());
}
