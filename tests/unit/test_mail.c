/* test_mail: RFC 5322/MIME message building, header-injection refusal, Mailjet JSON and answers, transport choice. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <check.h>
#include <curl/curl.h>
#include <jansson.h>
#include <openssl/evp.h>

#include "arena.h"
#include "conf.h"
#include "mail.h"
#include "transport.h"
#include "unit.h"
#include "utf8.h"

#define LINK \
	"http://127.0.0.1:8080/verify-email?token=eyJhbGciOiJIUzI1NiIsImtpZCI6IjEiLCJ0eXAiOiJKV1QifQ.eyJhdWQiOiJ1c2VybWdyOnZlcmlmeV9lbWFpbCIsInN1YiI6IjQyIiwiZW1haWwiOiJhbGljZUBleGFtcGxlLmNvbSIsImlhdCI6MTcwMDAwMDAwMCwiZXhwIjoxNzAwMDg2NDAwfQ.c2lnbmF0dXJlLXNpZ25hdHVyZS1zaWduYXR1cmUtc2ln"

static struct mail_msg
sample(void)
{
	struct mail_msg m;

	memset(&m, 0, sizeof(m));
	m.id = 42;
	m.from_email = "no-reply@example.org";
	m.from_name = "usermgr";
	m.to_email = "alice@example.com";
	m.to_name = "Alice Example";
	m.subject = "Confirm your address";
	m.text = "Hello Alice,\n\nopen this link:\n" LINK "\n\nThanks.\n";
	m.html = "<p>Hello Alice,</p>\n<p><a href=\"" LINK "\">Confirm</a></p>\n";
	return m;
}

static char *
build(struct arena *a, const struct mail_msg *m)
{
	char  *text;
	size_t len;

	ck_assert_int_eq(mail_build(a, m, (time_t)1700000000, &text, &len), UM_OK);
	ck_assert_uint_eq(strlen(text), len);
	return text;
}

/* The value of header field name (unfolded), or NULL. */
static char *
header(struct arena *a, const char *msg, const char *name)
{
	const char *end = strstr(msg, "\r\n\r\n"), *p = msg, *q;
	char       *out, *o;
	size_t      nl = strlen(name);

	while (p < end) {
		if (strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
			p += nl + 1;
			while (*p == ' ')
				p++;
			out = o = arena_alloc(a, (size_t)(end - p) + 1);
			for (q = p; q < end; q++) {
				if (q[0] == '\r' && q[1] == '\n' &&
				    (q[2] == ' ' || q[2] == '\t')) {
					q++;
					continue;
				}
				if (q[0] == '\r' && q[1] == '\n')
					break;
				*o++ = *q;
			}
			*o = '\0';
			return out;
		}
		if ((p = strstr(p, "\r\n")) == NULL)
			break;
		p += 2;
	}
	return NULL;
}

/* Decodes the concatenation of RFC 2047 B words in s (test inputs only hold such words). */
static char *
decode_words(struct arena *a, const char *s)
{
	char         *out = arena_calloc(a, strlen(s) + 1, 1), *o = out;
	const char   *p = s, *e;
	unsigned char tmp[128];
	int           n, pad;

	while ((p = strstr(p, "=?UTF-8?B?")) != NULL) {
		p += 10;
		e = strstr(p, "?=");
		ck_assert_ptr_nonnull(e);
		ck_assert_int_le(e - p, 100);
		n = EVP_DecodeBlock(tmp, (const unsigned char *)p, (int)(e - p));
		ck_assert_int_ge(n, 0);
		pad = (e - p >= 1 && e[-1] == '=') + (e - p >= 2 && e[-2] == '=');
		memcpy(o, tmp, (size_t)(n - pad));
		o += n - pad;
		p = e + 2;
	}
	*o = '\0';
	return out;
}

/* Decodes quoted-printable text (RFC 2045 §6.7): soft breaks vanish, =XX become bytes. */
static char *
qp_decode(struct arena *a, const char *s, size_t n)
{
	char  *out = arena_alloc(a, n + 1), *o = out;
	size_t i;
	char   hx[3] = { 0 };

	for (i = 0; i < n; i++) {
		if (s[i] != '=') {
			*o++ = s[i];
			continue;
		}
		if (i + 2 < n && s[i + 1] == '\r' && s[i + 2] == '\n') {
			i += 2;
			continue;
		}
		ck_assert_uint_lt(i + 2, n);
		hx[0] = s[i + 1];
		hx[1] = s[i + 2];
		ck_assert_msg(strchr("0123456789ABCDEF", hx[0]) != NULL &&
		        strchr("0123456789ABCDEF", hx[1]) != NULL,
		    "bad QP escape =%s", hx);
		*o++ = (char)strtol(hx, NULL, 16);
		i += 2;
	}
	*o = '\0';
	return out;
}

/* The body of the part whose Content-Type starts with type, still encoded. */
static char *
part(struct arena *a, const char *msg, const char *boundary, const char *type, size_t *len)
{
	char       *delim = arena_printf(a, "\r\n--%s", boundary);
	char       *ct = arena_printf(a, "Content-Type: %s", type);
	const char *p, *body, *end;

	p = strstr(msg, ct);
	ck_assert_msg(p != NULL, "no %s part", type);
	body = strstr(p, "\r\n\r\n");
	ck_assert_ptr_nonnull(body);
	body += 4;
	end = strstr(body, delim);
	ck_assert_ptr_nonnull(end);
	*len = (size_t)(end - body);
	return arena_strndup(a, body, *len);
}

static char *
boundary_of(struct arena *a, const char *msg)
{
	char *ct = header(a, msg, "Content-Type"), *b, *e;

	ck_assert_ptr_nonnull(ct);
	ck_assert_ptr_nonnull(strstr(ct, "multipart/alternative"));
	b = strstr(ct, "boundary=\"");
	ck_assert_ptr_nonnull(b);
	b += 10;
	e = strchr(b, '"');
	ck_assert_ptr_nonnull(e);
	return arena_strndup(a, b, (size_t)(e - b));
}

START_TEST(test_a_message_has_every_header_rfc_5322_and_mime_require)
{
	struct arena   *a = arena_new();
	struct mail_msg m = sample();
	char           *msg = build(a, &m), *v;

	ck_assert_str_eq(header(a, msg, "Date"), "Tue, 14 Nov 2023 22:13:20 +0000");
	ck_assert_str_eq(header(a, msg, "From"), "usermgr <no-reply@example.org>");
	ck_assert_str_eq(header(a, msg, "To"), "Alice Example <alice@example.com>");
	ck_assert_str_eq(header(a, msg, "Subject"), "Confirm your address");
	ck_assert_str_eq(header(a, msg, "MIME-Version"), "1.0");
	v = header(a, msg, "Message-ID");
	ck_assert_ptr_nonnull(v);
	ck_assert_msg(strncmp(v, "<42.", 4) == 0, "Message-ID starts with the outbox id: %s",
	    v);
	ck_assert_msg(strlen(v) > 20 && strcmp(v + strlen(v) - 13, "@example.org>") == 0,
	    "Message-ID ends with the sender domain: %s", v);
	arena_free(a);
}
END_TEST

START_TEST(test_every_line_ends_in_crlf_and_stays_within_78_octets)
{
	struct arena   *a = arena_new();
	struct mail_msg m = sample();
	char           *msg;
	size_t          i, col = 0;

	m.subject = "Bestätigen Sie Ihre E-Mail-Adresse für usermgr — jetzt, bevor der Link "
	            "abläuft, denn er gilt nur vierundzwanzig Stunden lang";
	m.to_name = "Jürgen Müller-Lüdenscheidt von und zu Großhennersdorf-Überlingen";
	msg = build(a, &m);
	for (i = 0; msg[i] != '\0'; i++) {
		if (msg[i] == '\n') {
			ck_assert_msg(i > 0 && msg[i - 1] == '\r', "bare LF at offset %zu", i);
			col = 0;
			continue;
		}
		if (msg[i] == '\r') {
			ck_assert_msg(msg[i + 1] == '\n', "bare CR at offset %zu", i);
			continue;
		}
		ck_assert_msg((unsigned char)msg[i] < 0x80, "8-bit byte at offset %zu", i);
		col++;
		ck_assert_msg(col <= 78, "line over 78 octets at offset %zu", i);
	}
	ck_assert_msg(i >= 2 && msg[i - 2] == '\r' && msg[i - 1] == '\n',
	    "the message ends with CRLF");
	arena_free(a);
}
END_TEST

START_TEST(test_a_utf8_subject_is_b_encoded_and_decodes_back)
{
	struct arena   *a = arena_new();
	struct mail_msg m = sample();
	const char     *long_subject =
	    "Bestätigen Sie Ihre E-Mail-Adresse für usermgr — "
	    "jetzt, bevor der Link abläuft, denn er gilt nur vierundzwanzig Stunden lang ✓";
	char       *msg, *raw, *word;
	const char *p;

	m.subject = "Bestätigen Sie";
	msg = build(a, &m);
	raw = header(a, msg, "Subject");
	ck_assert_msg(strncmp(raw, "=?UTF-8?B?", 10) == 0, "encoded: %s", raw);
	ck_assert_str_eq(decode_words(a, raw), "Bestätigen Sie");

	/* A long subject becomes several words, each at most 75 characters (RFC 2047 §2). */
	m.subject = long_subject;
	msg = build(a, &m);
	raw = header(a, msg, "Subject");
	ck_assert_str_eq(decode_words(a, raw), long_subject);
	ck_assert_ptr_nonnull(strstr(strstr(msg, "Subject:"), "?=\r\n =?UTF-8?B?"));
	for (p = raw; (p = strstr(p, "=?UTF-8?B?")) != NULL; p += 2) {
		ck_assert_int_le(strstr(p, "?=") + 2 - p, 75);
		/* Each word holds whole characters (RFC 2047 §5): alone, it is valid UTF-8. */
		word = decode_words(a, arena_strndup(a, p, (size_t)(strstr(p, "?=") + 2 - p)));
		ck_assert_msg(utf8_valid(word, strlen(word)), "word splits a character: %s",
		    word);
	}
	arena_free(a);
}
END_TEST

START_TEST(test_display_names_are_encoded_or_quoted_as_needed)
{
	static const struct {
		const char *name;
		const char *want; /* header value, unfolded; NULL: encoded */
		const char *decoded;
	} cases[] = {
		{ "Alice", "Alice <alice@example.com>", NULL },
		{ "", "alice@example.com", NULL },
		{ "O'Brien, Pat", "\"O'Brien, Pat\" <alice@example.com>", NULL },
		{ "say \"hi\" \\o/", "\"say \\\"hi\\\" \\\\o/\" <alice@example.com>", NULL },
		{ "Jürgen", NULL, "Jürgen" },
		/* Atoms stay plain; adjacent words needing encoding share one encoded word. */
		{ "Dr Jürgen von Müller",
		    "Dr =?UTF-8?B?SsO8cmdlbg==?= von =?UTF-8?B?TcO8bGxlcg==?= "
		    "<alice@example.com>",
		    NULL },
		{ "Jürgen Müller", "=?UTF-8?B?SsO8cmdlbiBNw7xsbGVy?= <alice@example.com>",
		    NULL },
		{ "=?UTF-8?B?QQ==?=", NULL, "=?UTF-8?B?QQ==?=" },
	};
	struct arena   *a = arena_new();
	struct mail_msg m = sample();
	size_t          i;
	char           *v;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		m.to_name = cases[i].name;
		v = header(a, build(a, &m), "To");
		if (cases[i].want != NULL) {
			ck_assert_str_eq(v, cases[i].want);
			continue;
		}
		ck_assert_msg(strncmp(v, "=?UTF-8?B?", 10) == 0, "case %zu encoded: %s", i, v);
		ck_assert_ptr_nonnull(strstr(v, "?= <alice@example.com>"));
		ck_assert_str_eq(decode_words(a, v), cases[i].decoded);
	}
	arena_free(a);
}
END_TEST

START_TEST(test_both_parts_sit_between_correct_boundaries)
{
	struct arena   *a = arena_new();
	struct mail_msg m = sample();
	char           *msg = build(a, &m), *b, *first, *second, *close;
	size_t          len;

	b = boundary_of(a, msg);
	ck_assert_uint_ge(strlen(b), 20);
	ck_assert_uint_le(strlen(b), 70); /* RFC 2046 §5.1.1 */
	first = strstr(msg,
	    arena_printf(a,
	        "\r\n--%s\r\nContent-Type: text/plain; "
	        "charset=UTF-8\r\n",
	        b));
	ck_assert_ptr_nonnull(first);
	second = strstr(first + 1,
	    arena_printf(a,
	        "\r\n--%s\r\nContent-Type: text/html; "
	        "charset=UTF-8\r\n",
	        b));
	ck_assert_ptr_nonnull(second);
	close = strstr(second + 1, arena_printf(a, "\r\n--%s--\r\n", b));
	ck_assert_ptr_nonnull(close);
	ck_assert_str_eq(close + strlen(b) + 8, "");
	ck_assert_ptr_nonnull(strstr(first, "Content-Transfer-Encoding: quoted-printable"));
	(void)part(a, msg, b, "text/html", &len);
	ck_assert_uint_gt(len, 0);
	/* A second message gets another boundary. */
	ck_assert_str_ne(boundary_of(a, build(a, &m)), b);
	arena_free(a);
}
END_TEST

START_TEST(test_the_text_part_holds_the_long_link_intact_after_decoding)
{
	struct arena   *a = arena_new();
	struct mail_msg m = sample();
	char           *msg = build(a, &m), *b, *enc, *dec, *html;
	size_t          len;

	b = boundary_of(a, msg);
	enc = part(a, msg, b, "text/plain", &len);
	/* Encoded, the link is split by soft breaks: no line reaches its full length. */
	ck_assert_ptr_null(strstr(enc, LINK));
	dec = qp_decode(a, enc, len);
	ck_assert_str_eq(dec,
	    "Hello Alice,\r\n\r\nopen this link:\r\n" LINK "\r\n\r\nThanks.\r\n");
	enc = part(a, msg, b, "text/html", &len);
	html = qp_decode(a, enc, len);
	ck_assert_ptr_nonnull(strstr(html, "<a href=\"" LINK "\">"));
	arena_free(a);
}
END_TEST

START_TEST(test_quoted_printable_round_trips_awkward_text)
{
	static const char *const texts[] = {
		"trailing space \nand tab\t\nend",
		"=equals= and ünïcödé and 😀 emoji",
		".\n.leading dot\n",
		"a line of exactly seventy-six characters, no more and no less, just so.....\n",
		("xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
		 "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx="),
		"ääääääääääääääääääääääääääääääääääääääääääääääääääääääääääääääääääääääää",
		"",
	};
	struct arena   *a = arena_new();
	struct mail_msg m = sample();
	char           *msg, *b, *enc, *want, *w;
	const char     *t;
	size_t          i, len;

	for (i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		m.text = texts[i];
		msg = build(a, &m);
		b = boundary_of(a, msg);
		enc = part(a, msg, b, "text/plain", &len);
		ck_assert_msg(strstr(enc, "\r\n.") == NULL && enc[0] != '.',
		    "case %zu: no line starts with a dot", i);
		want = w = arena_alloc(a, 2 * strlen(texts[i]) + 1);
		for (t = texts[i]; *t != '\0'; t++) {
			if (*t == '\n')
				*w++ = '\r';
			*w++ = *t;
		}
		*w = '\0';
		ck_assert_str_eq(qp_decode(a, enc, len), want);
	}
	arena_free(a);
}
END_TEST

START_TEST(test_cr_or_lf_in_any_header_value_is_refused)
{
	static const struct {
		const char *field;
		const char *value;
	} cases[] = {
		{ "subject", "Hello\r\nBcc: victim@example.net" },
		{ "subject", "Hello\nBcc: victim@example.net" },
		{ "subject", "Hello\rthere" },
		{ "subject", "tab\there" },
		{ "subject", "invalid \xc3\x28 utf-8" },
		{ "to_name", "Alice\r\nBcc: victim@example.net" },
		{ "to_name", "Alice\n" },
		{ "from_name", "usermgr\r\n" },
		{ "to_email", "alice@example.com\r\nRCPT TO:<victim@example.net>" },
		{ "to_email", "alice@example.com\n" },
		{ "to_email", "alice@example.com>" },
		{ "to_email", "Alice <alice@example.com>" },
		{ "to_email", "alice" },
		{ "to_email", "a@b@c" },
		{ "to_email", "@example.com" },
		{ "to_email", "alice@" },
		{ "to_email", "" },
		{ "to_email", "al ice@example.com" },
		{ "to_email", "älice@example.com" },
		{ "from_email", "no-reply@example.org\r\nX: y" },
	};
	struct arena   *a = arena_new();
	struct mail_msg m;
	char           *out;
	size_t          i, len;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		m = sample();
		if (strcmp(cases[i].field, "subject") == 0)
			m.subject = cases[i].value;
		else if (strcmp(cases[i].field, "to_name") == 0)
			m.to_name = cases[i].value;
		else if (strcmp(cases[i].field, "from_name") == 0)
			m.from_name = cases[i].value;
		else if (strcmp(cases[i].field, "to_email") == 0)
			m.to_email = cases[i].value;
		else
			m.from_email = cases[i].value;
		ck_assert_msg(mail_build(a, &m, 0, &out, &len) == UM_EINVAL,
		    "case %zu (%s) refused by mail_build", i, cases[i].field);
		ck_assert_ptr_null(out);
		ck_assert_msg(mail_mailjet_json(a, &m, &out, &len) == UM_EINVAL,
		    "case %zu (%s) refused by mail_mailjet_json", i, cases[i].field);
	}
	m = sample();
	ck_assert_int_eq(mail_check(&m), UM_OK);
	arena_free(a);
}
END_TEST

START_TEST(test_the_mailjet_body_has_the_v3_1_shape)
{
	struct arena   *a = arena_new();
	struct mail_msg m = sample();
	json_t         *root, *msg, *to;
	char           *out;
	size_t          len;

	m.id = 9007199254740993LL;
	m.subject = "Bestätigen Sie";
	ck_assert_int_eq(mail_mailjet_json(a, &m, &out, &len), UM_OK);
	ck_assert_uint_eq(strlen(out), len);
	root = json_loads(out, 0, NULL);
	ck_assert_ptr_nonnull(root);
	ck_assert_uint_eq(json_object_size(root), 1);
	ck_assert_uint_eq(json_array_size(json_object_get(root, "Messages")), 1);
	msg = json_array_get(json_object_get(root, "Messages"), 0);
	ck_assert_uint_eq(json_object_size(msg), 6);
	ck_assert_str_eq(json_string_value(
	                     json_object_get(json_object_get(msg, "From"), "Email")),
	    "no-reply@example.org");
	ck_assert_str_eq(json_string_value(
	                     json_object_get(json_object_get(msg, "From"), "Name")),
	    "usermgr");
	to = json_object_get(msg, "To");
	ck_assert_uint_eq(json_array_size(to), 1);
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(to, 0), "Email")),
	    "alice@example.com");
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(to, 0), "Name")),
	    "Alice Example");
	ck_assert_str_eq(json_string_value(json_object_get(msg, "Subject")), "Bestätigen Sie");
	ck_assert_str_eq(json_string_value(json_object_get(msg, "TextPart")), m.text);
	ck_assert_str_eq(json_string_value(json_object_get(msg, "HTMLPart")), m.html);
	/* A string, so ids beyond 2^53 survive JavaScript-minded parsers. */
	ck_assert_str_eq(json_string_value(json_object_get(msg, "CustomID")),
	    "9007199254740993");
	json_decref(root);

	/* Without a name, To carries the address alone. */
	m.to_name = "";
	ck_assert_int_eq(mail_mailjet_json(a, &m, &out, &len), UM_OK);
	root = json_loads(out, 0, NULL);
	to = json_array_get(json_object_get(json_array_get(json_object_get(root, "Messages"),
	                                        0),
	                        "To"),
	    0);
	ck_assert_uint_eq(json_object_size(to), 1);
	ck_assert_ptr_null(json_object_get(to, "Name"));
	json_decref(root);
	arena_free(a);
}
END_TEST

START_TEST(test_mailjet_answers_map_to_sent_retry_or_failed)
{
	static const struct {
		long             status;
		const char      *body;
		enum send_result want;
		const char      *err_has;
	} cases[] = {
		{ 200,
		    "{\"Messages\":[{\"Status\":\"success\",\"CustomID\":\"42\",\"To\":[{\"Email\":"
		    "\"a@b.c\",\"MessageUUID\":\"u\",\"MessageID\":1,\"MessageHref\":\"h\"}]}]}",
		    SEND_OK, "" },
		{ 201, "{\"Messages\":[{\"Status\":\"success\"}]}", SEND_OK, "" },
		{ 200,
		    "{\"Messages\":[{\"Status\":\"error\",\"Errors\":[{\"ErrorMessage\":"
		    "\"Invalid email\",\"StatusCode\":400}]}]}",
		    SEND_FAIL, "Invalid email" },
		{ 200, "{}", SEND_FAIL, "missing" },
		{ 200, "not json", SEND_FAIL, "HTTP 200" },
		{ 400,
		    "{\"Messages\":[{\"Status\":\"error\",\"Errors\":[{\"ErrorIdentifier\":\"x\","
		    "\"ErrorCode\":\"mj-0013\",\"StatusCode\":400,\"ErrorMessage\":"
		    "\"\\\"bad\\\" is an invalid email address.\",\"ErrorRelatedTo\":"
		    "[\"To[0].Email\"]}]}]}",
		    SEND_FAIL, "is an invalid email address" },
		{ 401,
		    "{\"ErrorIdentifier\":\"y\",\"StatusCode\":401,\"ErrorMessage\":"
		    "\"API key authentication/authorization failure.\"}",
		    SEND_FAIL, "authentication" },
		{ 404, "", SEND_FAIL, "HTTP 404" },
		{ 429, "{\"ErrorMessage\":\"Too many requests\"}", SEND_RETRY, "Too many" },
		{ 500, "{\"ErrorMessage\":\"Internal Server Error\"}", SEND_RETRY, "HTTP 500" },
		{ 502, "<html>bad gateway</html>", SEND_RETRY, "HTTP 502" },
		{ 503, NULL, SEND_RETRY, "HTTP 503" },
		{ 302, "", SEND_RETRY, "HTTP 302" },
	};
	char   err[TRANSPORT_ERR_MAX];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ck_assert_msg(transport_mailjet_classify(cases[i].status, cases[i].body,
		                  cases[i].body != NULL ? strlen(cases[i].body) : 0, err,
		                  sizeof(err)) == cases[i].want,
		    "case %zu: HTTP %ld", i, cases[i].status);
		ck_assert_msg(strstr(err, cases[i].err_has) != NULL,
		    "case %zu: error text \"%s\" names \"%s\"", i, err, cases[i].err_has);
	}
}
END_TEST

/* The fake environment transport tests hand to conf_load: pairs, NULL-terminated. */
static const char *const *fake_env;

static const char *
fake_getenv(const char *name)
{
	size_t i;

	for (i = 0; fake_env[i] != NULL; i += 2)
		if (strcmp(fake_env[i], name) == 0)
			return fake_env[i + 1];
	return NULL;
}

START_TEST(test_the_transport_follows_usermgr_mail_transport)
{
	static const char *const file_env[] = { "USERMGR_MAIL_DIR", "/tmp/um-test-mail-sel",
		NULL };
	static const char *const mj_env[] = { "USERMGR_MAIL_TRANSPORT", "mailjet",
		"MAILJET_API_KEY", "key-1234", "MAILJET_API_SECRET", "secret-5678", NULL };
	static const char *const mj_fallback_env[] = { "USERMGR_MAIL_TRANSPORT", "mailjet",
		"API_KEY", "key-1234", "API_SECRET", "secret-5678", NULL };
	static const char *const mj_nokey_env[] = { "USERMGR_MAIL_TRANSPORT", "mailjet", NULL };
	static const char *const mj_nosecret_env[] = { "USERMGR_MAIL_TRANSPORT", "mailjet",
		"MAILJET_API_KEY", "key-1234", NULL };
	static const char *const smtp_env[] = { "USERMGR_MAIL_TRANSPORT", "smtp",
		"USERMGR_SMTP_URL", "smtp://127.0.0.1:2525", NULL };
	static const char *const smtp_nourl_env[] = { "USERMGR_MAIL_TRANSPORT", "smtp", NULL };
	static const char *const smtp_badurl_env[] = { "USERMGR_MAIL_TRANSPORT", "smtp",
		"USERMGR_SMTP_URL", "http://127.0.0.1", NULL };
	static const char *const bad_sender_env[] = { "SENDER_EMAIL", "usermgr", NULL };
	static const char *const bad_sender_name_env[] = { "SENDER_NAME", "a\tb", NULL };
	static const struct {
		const char *const  *env;
		enum um_err         want;
		enum mail_transport kind;
		const char         *err_has;
	} cases[] = {
		{ file_env, UM_OK, MAIL_FILE, NULL },
		{ mj_env, UM_OK, MAIL_MAILJET, NULL },
		{ mj_fallback_env, UM_OK, MAIL_MAILJET, NULL },
		{ mj_nokey_env, UM_EINVAL, MAIL__MAX, "MAILJET_API_KEY" },
		{ mj_nosecret_env, UM_EINVAL, MAIL__MAX, "MAILJET_API_SECRET" },
		{ smtp_env, UM_OK, MAIL_SMTP, NULL },
		{ smtp_nourl_env, UM_EINVAL, MAIL__MAX, "USERMGR_SMTP_URL" },
		{ smtp_badurl_env, UM_EINVAL, MAIL__MAX, "USERMGR_SMTP_URL" },
		{ bad_sender_env, UM_EINVAL, MAIL__MAX, "SENDER_EMAIL" },
		{ bad_sender_name_env, UM_EINVAL, MAIL__MAX, "SENDER_NAME" },
	};
	struct conf       c;
	struct transport *t;
	char              err[256];
	size_t            i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		fake_env = cases[i].env;
		ck_assert_int_eq(conf_load(&c, fake_getenv, 0, err, sizeof(err)), UM_OK);
		err[0] = '\0';
		ck_assert_msg(transport_new(&c, &t, err, sizeof(err)) == cases[i].want,
		    "case %zu: %s", i, err);
		if (cases[i].want == UM_OK) {
			ck_assert_ptr_nonnull(t);
			ck_assert_int_eq(transport_kind(t), cases[i].kind);
		} else {
			ck_assert_ptr_null(t);
			ck_assert_msg(strstr(err, cases[i].err_has) != NULL,
			    "case %zu: \"%s\" names %s", i, err, cases[i].err_has);
		}
		transport_free(t);
		conf_free(&c);
	}
	/* The file transport created its directory; leave /tmp as it was. */
	ck_assert_int_eq(rmdir("/tmp/um-test-mail-sel"), 0);
}
END_TEST

START_TEST(test_error_texts_never_carry_credentials)
{
	static const char *const env[] = { "USERMGR_MAIL_TRANSPORT", "mailjet",
		"MAILJET_API_KEY", "key-1234", "MAILJET_API_SECRET", "s3cr3t-5678", NULL };
	struct conf              c;
	struct transport        *t;
	char                     err[256];

	fake_env = env;
	ck_assert_int_eq(conf_load(&c, fake_getenv, 0, err, sizeof(err)), UM_OK);
	ck_assert_int_eq(transport_new(&c, &t, err, sizeof(err)), UM_OK);
	transport_set_err(t, err, sizeof(err), "auth key-1234:s3cr3t-5678 refused\r\n\xc3\xa4");
	ck_assert_str_eq(err, "auth ********:*********** refused????");
	transport_free(t);
	conf_free(&c);
}
END_TEST

START_TEST(test_the_file_transport_writes_one_eml_per_message)
{
	char              dir[] = "/tmp/um-test-mail-XXXXXX", path[256];
	const char       *env[] = { "USERMGR_MAIL_DIR", NULL, NULL };
	struct conf       c;
	struct transport *t;
	struct arena     *a = arena_new();
	struct mail_msg   m = sample();
	char              err[256], buf[8192];
	FILE             *f;
	size_t            n;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	env[1] = arena_printf(a, "%s/sub/mail", dir);
	fake_env = env;
	ck_assert_int_eq(conf_load(&c, fake_getenv, 0, err, sizeof(err)), UM_OK);
	ck_assert_int_eq(transport_new(&c, &t, err, sizeof(err)), UM_OK);
	ck_assert_int_eq(transport_send(t, a, &m, err, sizeof(err)), SEND_OK);
	(void)snprintf(path, sizeof(path), "%s/sub/mail/42.eml", dir);
	f = fopen(path, "rb");
	ck_assert_msg(f != NULL, "%s exists", path);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	ck_assert_ptr_nonnull(strstr(buf, "\r\nTo: Alice Example <alice@example.com>\r\n"));
	m.to_email = "bad\r\naddress@example.com";
	ck_assert_int_eq(transport_send(t, a, &m, err, sizeof(err)), SEND_FAIL);
	ck_assert_uint_gt(strlen(err), 0);
	(void)unlink(path);
	(void)snprintf(path, sizeof(path), "%s/sub/mail", dir);
	(void)rmdir(path);
	(void)snprintf(path, sizeof(path), "%s/sub", dir);
	(void)rmdir(path);
	(void)rmdir(dir);
	transport_free(t);
	conf_free(&c);
	arena_free(a);
}
END_TEST

static Suite *
mail_suite(void)
{
	Suite *s = suite_create("mail");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_a_message_has_every_header_rfc_5322_and_mime_require);
	tcase_add_test(tc, test_every_line_ends_in_crlf_and_stays_within_78_octets);
	tcase_add_test(tc, test_a_utf8_subject_is_b_encoded_and_decodes_back);
	tcase_add_test(tc, test_display_names_are_encoded_or_quoted_as_needed);
	tcase_add_test(tc, test_both_parts_sit_between_correct_boundaries);
	tcase_add_test(tc, test_the_text_part_holds_the_long_link_intact_after_decoding);
	tcase_add_test(tc, test_quoted_printable_round_trips_awkward_text);
	tcase_add_test(tc, test_cr_or_lf_in_any_header_value_is_refused);
	tcase_add_test(tc, test_the_mailjet_body_has_the_v3_1_shape);
	tcase_add_test(tc, test_mailjet_answers_map_to_sent_retry_or_failed);
	tcase_add_test(tc, test_the_transport_follows_usermgr_mail_transport);
	tcase_add_test(tc, test_error_texts_never_carry_credentials);
	tcase_add_test(tc, test_the_file_transport_writes_one_eml_per_message);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	int rc;

	(void)curl_global_init(CURL_GLOBAL_DEFAULT);
	rc = unit_run(mail_suite());
	curl_global_cleanup();
	return rc;
}
