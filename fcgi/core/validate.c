/* validate: pure field validators and the table-driven form/JSON validation every handler uses. */
#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "arena.h"
#include "bounds.h"
#include "error.h"
#include "json.h"
#include "kv.h"
#include "utf8.h"
#include "validate.h"

#define XSTR(x) STR(x)
#define STR(x)  #x

#define EMAIL_LOCAL_MAX 64                 /* octets, RFC 5321 §4.5.3.1.1 */
#define EMAIL_LABEL_MAX 63                 /* octets, RFC 1035 §2.3.4 */
#define ROLE_NAME_MAX   32                 /* [a-z][a-z0-9_-]{1,31} */
#define COMMON_FILE_MAX (16 * 1024 * 1024) /* bytes; the shipped list is ~250 KiB */
#define COMMON_LINE_MAX 512 /* longer lines cannot be a password of 128 code points */

/* Messages shown beside a field: short, and saying what to do. */
#define M_NUL      "must not contain NUL characters"
#define M_UTF8     "must be valid UTF-8 text"
#define M_REQUIRED "is required"
#define M_STRING   "must be a string"
#define M_ONCE     "must be given only once"
#define M_TOO_LONG "is too long"
#define M_USERNAME \
	"must be " XSTR(UM_USERNAME_MIN) "\xe2\x80\x93" XSTR( \
	    UM_USERNAME_MAX) " characters: letters, digits, dot, underscore or hyphen"
#define M_EMAIL             "must be an e-mail address such as name@example.com"
#define M_EMAIL_LONG        "must be at most " XSTR(UM_EMAIL_MAX) " characters"
#define M_EMAIL_AT          "must contain exactly one @"
#define M_EMAIL_LOCAL       "must have at most " XSTR(EMAIL_LOCAL_MAX) " characters before the @"
#define M_EMAIL_DOMAIN      "must end in a domain name such as example.com"
#define M_EMAIL_LOCAL_CHARS "must not contain any of \" ( ) , : ; < > [ \\ ] before the @"
#define EMAIL_SPECIALS      "\"(),:;<>[\\]"
#define M_PW_LONG           "must be at most " XSTR(UM_PASSWORD_MAX) " characters"
#define M_PW_COMMON         "is too common: choose one that is harder to guess"
#define M_PW_USERNAME       "must not contain the username"
#define M_NAME_LONG         "must be at most " XSTR(UM_DISPLAY_NAME_MAX) " characters"
#define M_NAME_CTRL         "must not contain control characters"
#define M_BIO_LONG          "must be at most " XSTR(UM_BIO_MAX) " characters"
#define M_BIO_CTRL          "must not contain control characters other than line breaks"
#define M_ROLE \
	"must be 2\xe2\x80\x93" XSTR( \
	    ROLE_NAME_MAX) " characters: lower-case " \
	                   "letters, digits, underscore or hyphen, starting with a letter"

/*
 * The common-password list: one malloc'd blob of NUL-terminated lower-case entries and a
 * sorted array of their offsets, for O(log n) lookups.  Per process, read-only once loaded.
 */
static struct {
	char     *blob;
	uint32_t *off;
	size_t    n;
} common;

/* The blob qsort's comparator reads while a list is being loaded. */
static const char *sort_blob;

static int
ascii_lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

static int
is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

/* The first reason s[0..n) is not text at all (API.md §7: NUL or invalid UTF-8 is a 400). */
static const char *
text_error(const char *s, size_t n)
{
	if (memchr(s, '\0', n) != NULL)
		return M_NUL;
	if (!utf8_valid(s, n))
		return M_UTF8;
	return NULL;
}

static enum um_err
refuse(struct field_result *r, const char *msg)
{
	r->val = NULL;
	r->len = 0;
	r->error = msg;
	return UM_EINVAL;
}

static enum um_err
take(struct arena *a, struct field_result *r, const char *s, size_t n)
{
	r->val = arena_strndup(a, s, n);
	r->len = n;
	r->error = NULL;
	return UM_OK;
}

/*
 * Whether s[0..n) (valid UTF-8) holds a control character: C0, DEL or C1 (U+0080..U+009F,
 * encoded C2 80..C2 9F).  allow_nl lets LF through (bio).
 */
static int
has_control(const char *s, size_t n, int allow_nl)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t               i;

	for (i = 0; i < n; i++) {
		if (p[i] == '\n' && allow_nl)
			continue;
		if (p[i] < 0x20 || p[i] == 0x7f)
			return 1;
		/* In valid UTF-8, C2 is always a lead byte with a continuation after it. */
		if (p[i] == 0xc2 && i + 1 < n && p[i + 1] >= 0x80 && p[i + 1] <= 0x9f)
			return 1;
	}
	return 0;
}

/* Whether needle[0..nn) occurs in hay[0..hn), ASCII letters compared without case. */
static int
contains_ci(const char *hay, size_t hn, const char *needle, size_t nn)
{
	size_t i, j;

	if (nn == 0 || nn > hn)
		return 0;
	for (i = 0; i + nn <= hn; i++) {
		for (j = 0; j < nn; j++)
			if (ascii_lower((unsigned char)hay[i + j]) !=
			    ascii_lower((unsigned char)needle[j]))
				break;
		if (j == nn)
			return 1;
	}
	return 0;
}

/* API.md §2: 3–32 characters of A–Z a–z 0–9 . _ - (dots anywhere, "a..b" included). */
enum um_err
validate_username(struct arena *a, const struct validate_ctx *ctx, const char *s, size_t n,
    struct field_result *r)
{
	const char   *e;
	size_t        i;
	unsigned char c;

	if ((e = text_error(s, n)) != NULL)
		return refuse(r, e);
	if (n < UM_USERNAME_MIN || n > UM_USERNAME_MAX)
		return refuse(r, M_USERNAME);
	for (i = 0; i < n; i++) {
		c = (unsigned char)s[i];
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		        (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
			return refuse(r, M_USERNAME);
	}
	return take(a, r, s, n);
}

/*
 * One DNS label of a host name: letters, digits, hyphens, 1–63 octets, no hyphen at either
 * end (RFC 1035 §2.3.1, relaxed by RFC 1123 §2.1 to allow a leading digit).  IDNs are
 * accepted only in their ASCII (xn--) form, RFC 5891.
 */
static int
label_ok(const char *s, size_t n)
{
	size_t        i;
	unsigned char c;

	if (n == 0 || n > EMAIL_LABEL_MAX || s[0] == '-' || s[n - 1] == '-')
		return 0;
	for (i = 0; i < n; i++) {
		c = (unsigned char)s[i];
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		        (c >= '0' && c <= '9') || c == '-'))
			return 0;
	}
	return 1;
}

/*
 * API.md §2 and §7: trimmed, at most 254 octets (RFC 5321 §4.5.3.1.3 path limit less the
 * angle brackets), exactly one @, a local part of printable ASCII without spaces of at most
 * 64 octets (RFC 5321 §4.5.3.1.1), a domain of dot-separated labels.  One label is enough:
 * the bootstrap admin is admin@localhost (API.md §7).  The domain is lower-cased, since
 * DNS ignores case (RFC 4343); the local part is kept as given (RFC 5321 §2.4).
 */
enum um_err
validate_email(struct arena *a, const struct validate_ctx *ctx, const char *s, size_t n,
    struct field_result *r)
{
	const char *e, *at, *p, *dot, *end;
	char       *out;
	size_t      i, local;

	if ((e = text_error(s, n)) != NULL)
		return refuse(r, e);
	/* ASCII whitespace only: anything else is refused below rather than silently cut. */
	while (n > 0 && is_space(s[0])) {
		s++;
		n--;
	}
	while (n > 0 && is_space(s[n - 1]))
		n--;
	if (n == 0)
		return refuse(r, M_EMAIL);
	if (n > UM_EMAIL_MAX)
		return refuse(r, M_EMAIL_LONG);
	if ((at = memchr(s, '@', n)) == NULL || memchr(at + 1, '@', n - (at - s) - 1) != NULL)
		return refuse(r, M_EMAIL_AT);
	local = at - s;
	if (local == 0)
		return refuse(r, M_EMAIL);
	if (local > EMAIL_LOCAL_MAX)
		return refuse(r, M_EMAIL_LOCAL);
	/*
	 * Printable ASCII, but none of RFC 5322's specials: an unquoted local part (a dot-atom)
	 * cannot hold them, and an address is checked once, here, for every use after it — the
	 * mail layer (mail_address_ok) puts it in To: and RCPT TO: as it is.
	 */
	for (i = 0; i < local; i++) {
		if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
			return refuse(r, M_EMAIL);
		if (strchr(EMAIL_SPECIALS, s[i]) != NULL)
			return refuse(r, M_EMAIL_LOCAL_CHARS);
	}
	end = s + n;
	for (p = at + 1;; p = dot + 1) {
		if ((dot = memchr(p, '.', end - p)) == NULL)
			dot = end;
		if (!label_ok(p, dot - p))
			return refuse(r, M_EMAIL_DOMAIN);
		if (dot == end)
			break;
	}
	out = arena_strndup(a, s, n);
	for (i = local + 1; i < n; i++)
		out[i] = ascii_lower((unsigned char)out[i]);
	r->val = out;
	r->len = n;
	r->error = NULL;
	return UM_OK;
}

/*
 * API.md §2 and §7: password_min..128 code points, exactly as given (no trimming, no
 * normalisation), not in the common-password list ignoring case, and not containing the
 * account's username ignoring case (NIST SP 800-63B §5.1.1.2 asks for both checks).
 */
enum um_err
validate_password(struct arena *a, const struct validate_ctx *ctx, const char *s, size_t n,
    struct field_result *r)
{
	const char *e;
	unsigned    min;
	long        cp;

	if ((e = text_error(s, n)) != NULL)
		return refuse(r, e);
	min = ctx != NULL && ctx->password_min > 0 ? ctx->password_min :
	                                             UM_PASSWORD_MIN_DEFAULT;
	cp = utf8_count(s, n);
	if (cp < (long)min)
		return refuse(r, arena_printf(a, "must be at least %u characters", min));
	if (cp > UM_PASSWORD_MAX)
		return refuse(r, M_PW_LONG);
	if (validate_is_common(s, n))
		return refuse(r, M_PW_COMMON);
	if (ctx != NULL && ctx->username != NULL &&
	    contains_ci(s, n, ctx->username, strlen(ctx->username)))
		return refuse(r, M_PW_USERNAME);
	return take(a, r, s, n);
}

enum um_err
validate_line(struct arena *a, const struct validate_ctx *ctx, const char *s, size_t n,
    struct field_result *r)
{
	const char *e;

	(void)ctx;
	if ((e = text_error(s, n)) != NULL)
		return refuse(r, e);
	if (has_control(s, n, 0))
		return refuse(r, M_NAME_CTRL);
	return take(a, r, s, n);
}

/* API.md §7: at most 100 code points, any Unicode but control characters. */
enum um_err
validate_display_name(struct arena *a, const struct validate_ctx *ctx, const char *s, size_t n,
    struct field_result *r)
{
	const char *e;

	if ((e = text_error(s, n)) != NULL)
		return refuse(r, e);
	if (has_control(s, n, 0))
		return refuse(r, M_NAME_CTRL);
	if (utf8_count(s, n) > UM_DISPLAY_NAME_MAX)
		return refuse(r, M_NAME_LONG);
	return take(a, r, s, n);
}

/*
 * API.md §7: at most 1000 code points, control characters refused but newline.  Browsers
 * send textarea line breaks as CRLF (WHATWG HTML §4.10.5 "textarea wrapping"), so CRLF is
 * stored as LF; a CR alone is refused as any other control character.
 */
enum um_err
validate_bio(struct arena *a, const struct validate_ctx *ctx, const char *s, size_t n,
    struct field_result *r)
{
	const char *e;
	char       *out;
	size_t      i, o;

	if ((e = text_error(s, n)) != NULL)
		return refuse(r, e);
	out = arena_alloc(a, n + 1);
	for (i = o = 0; i < n; i++) {
		if (s[i] == '\r') {
			if (i + 1 >= n || s[i + 1] != '\n')
				return refuse(r, M_BIO_CTRL);
			continue;
		}
		out[o++] = s[i];
	}
	out[o] = '\0';
	if (has_control(out, o, 1))
		return refuse(r, M_BIO_CTRL);
	if (utf8_count(out, o) > UM_BIO_MAX)
		return refuse(r, M_BIO_LONG);
	r->val = out;
	r->len = o;
	r->error = NULL;
	return UM_OK;
}

/* Role names are identifiers used in URLs, JWT claims and X-User-Roles: [a-z][a-z0-9_-]{1,31}. */
enum um_err
validate_role_name(struct arena *a, const struct validate_ctx *ctx, const char *s, size_t n,
    struct field_result *r)
{
	const char   *e;
	size_t        i;
	unsigned char c;

	if ((e = text_error(s, n)) != NULL)
		return refuse(r, e);
	if (n < 2 || n > ROLE_NAME_MAX || s[0] < 'a' || s[0] > 'z')
		return refuse(r, M_ROLE);
	for (i = 1; i < n; i++) {
		c = (unsigned char)s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-'))
			return refuse(r, M_ROLE);
	}
	return take(a, r, s, n);
}

/*
 * The checks every string field gets, then its validator.  r->present is already set.
 */
static enum um_err
check_field(struct arena *a, const struct validate_ctx *ctx, const struct field_spec *f,
    const char *s, size_t n, struct field_result *r)
{
	const char *e;
	size_t      max;

	max = f->max_bytes > 0 ? f->max_bytes : UM_FIELD_MAX;
	if (n == 0 && (f->flags & VF_REQUIRED))
		return refuse(r, M_REQUIRED);
	if (n > max)
		return refuse(r, M_TOO_LONG);
	if ((e = text_error(s, n)) != NULL)
		return refuse(r, e);
	/* Only now is the input safe to show again (templates escape it). */
	if (!(f->flags & VF_SECRET))
		r->raw = arena_strndup(a, s, n);
	if (f->fn == NULL)
		return take(a, r, s, n);
	return f->fn(a, ctx, s, n, r);
}

enum um_err
validate_form(struct arena *a, const struct validate_ctx *ctx, const struct field_spec *f,
    size_t n, const struct kvlist *form, struct field_result *out)
{
	enum um_err      rc = UM_OK;
	const struct kv *kv;
	size_t           i, j, seen;

	memset(out, 0, n * sizeof(*out));
	for (i = 0; i < n; i++) {
		kv = NULL;
		seen = 0;
		for (j = 0; form != NULL && j < form->n; j++)
			if (strcmp(form->v[j].key, f[i].name) == 0 && seen++ == 0)
				kv = &form->v[j];
		if (seen == 0) {
			if (f[i].flags & VF_REQUIRED)
				rc = refuse(&out[i], M_REQUIRED);
			continue;
		}
		out[i].present = 1;
		if (seen > 1)
			rc = refuse(&out[i], M_ONCE);
		else if (check_field(a, ctx, &f[i], kv->val, kv->vlen, &out[i]) != UM_OK)
			rc = UM_EINVAL;
	}
	return rc;
}

enum um_err
validate_json(struct arena *a, const struct validate_ctx *ctx, const struct field_spec *f,
    size_t n, const json_t *obj, struct field_result *out)
{
	enum um_err rc = UM_OK;
	json_t     *v;
	size_t      i;

	memset(out, 0, n * sizeof(*out));
	if (!json_is_object(obj))
		return UM_EJSON;
	for (i = 0; i < n; i++) {
		v = json_object_get(obj, f[i].name);
		if (v == NULL) {
			if (f[i].flags & VF_REQUIRED)
				rc = refuse(&out[i], M_REQUIRED);
			continue;
		}
		out[i].present = 1;
		if (json_is_null(v) && (f[i].flags & VF_NULLABLE) &&
		    !(f[i].flags & VF_REQUIRED))
			continue;
		if (!json_is_string(v))
			rc = refuse(&out[i], M_STRING);
		else if (check_field(a, ctx, &f[i], json_string_value(v), json_string_length(v),
		             &out[i]) != UM_OK)
			rc = UM_EINVAL;
	}
	return rc;
}

enum um_err
validate_same(struct field_result *r, size_t i, size_t j, const char *msg)
{
	if (r[i].error != NULL || r[j].error != NULL || r[i].val == NULL || r[j].val == NULL)
		return UM_OK;
	if (r[i].len == r[j].len && memcmp(r[i].val, r[j].val, r[i].len) == 0)
		return UM_OK;
	return refuse(&r[i], msg);
}

enum um_err
validate_password_username(struct field_result *r, size_t i, const char *username)
{
	if (r[i].error != NULL || r[i].val == NULL || username == NULL)
		return UM_OK;
	if (!contains_ci(r[i].val, r[i].len, username, strlen(username)))
		return UM_OK;
	return refuse(&r[i], M_PW_USERNAME);
}

json_t *
validate_errors(struct arena *a, const struct field_spec *f, size_t n,
    const struct field_result *r)
{
	json_t *errors = NULL, *e;
	size_t  i;

	for (i = 0; i < n; i++) {
		if (r[i].error == NULL)
			continue;
		if (errors == NULL && (errors = json_arena(a, json_array())) == NULL)
			abort(); /* out of memory: the worker is replaced (STYLE.md) */
		if ((e = json_object()) == NULL ||
		    json_object_set_new(e, "field", json_string(f[i].name)) == -1 ||
		    json_object_set_new(e, "message", json_string(r[i].error)) == -1 ||
		    (r[i].code != NULL &&
		        json_object_set_new(e, "code", json_string(r[i].code)) == -1) ||
		    json_array_append_new(errors, e) == -1)
			abort();
	}
	return errors;
}

static int
offcmp(const void *x, const void *y)
{
	return strcmp(sort_blob + *(const uint32_t *)x, sort_blob + *(const uint32_t *)y);
}

enum um_err
validate_load_common(const char *path)
{
	enum um_err rc = UM_EINTERNAL;
	FILE       *f = NULL;
	struct stat st;
	char       *blob = NULL, *p, *nl, *end;
	uint32_t   *off = NULL;
	size_t      len, lines, n = 0, i, l;

	if ((f = fopen(path, "re")) == NULL)
		goto out;
	if (fstat(fileno(f), &st) == -1 || !S_ISREG(st.st_mode) || st.st_size <= 0 ||
	    st.st_size > COMMON_FILE_MAX)
		goto out;
	len = (size_t)st.st_size;
	if ((blob = malloc(len + 1)) == NULL)
		goto out;
	if (fread(blob, 1, len, f) != len)
		goto out;
	blob[len] = '\0';
	for (lines = 1, i = 0; i < len; i++)
		lines += blob[i] == '\n';
	if ((off = calloc(lines, sizeof(*off))) == NULL)
		goto out;
	end = blob + len;
	for (p = blob; p < end; p = nl + 1) {
		if ((nl = memchr(p, '\n', end - p)) == NULL)
			nl = end;
		*nl = '\0';
		l = nl - p;
		if (l > 0 && p[l - 1] == '\r')
			p[--l] = '\0';
		/* An entry with a NUL or over the bound could never equal a valid password. */
		if (l == 0 || l > COMMON_LINE_MAX || memchr(p, '\0', l) != NULL)
			continue;
		for (i = 0; i < l; i++)
			p[i] = ascii_lower((unsigned char)p[i]);
		off[n++] = p - blob;
	}
	if (n == 0)
		goto out;
	/* The file is shipped sorted; sorting again costs little and forgives a hand edit. */
	sort_blob = blob;
	qsort(off, n, sizeof(*off), offcmp);
	sort_blob = NULL;
	validate_unload_common();
	common.blob = blob;
	common.off = off;
	common.n = n;
	blob = NULL;
	off = NULL;
	rc = UM_OK;
out:
	if (f != NULL)
		fclose(f);
	free(blob);
	free(off);
	return rc;
}

void
validate_unload_common(void)
{
	free(common.blob);
	free(common.off);
	common.blob = NULL;
	common.off = NULL;
	common.n = 0;
}

size_t
validate_common_count(void)
{
	return common.n;
}

/*
 * The list is ASCII, so lower-casing the ASCII letters of the candidate is all a
 * case-insensitive comparison needs; a non-ASCII password simply never matches.
 */
int
validate_is_common(const char *s, size_t n)
{
	char   low[COMMON_LINE_MAX + 1];
	size_t i, lo, hi, mid;
	int    c;

	if (common.n == 0 || n == 0 || n > COMMON_LINE_MAX || memchr(s, '\0', n) != NULL)
		return 0;
	for (i = 0; i < n; i++)
		low[i] = ascii_lower((unsigned char)s[i]);
	low[n] = '\0';
	lo = 0;
	hi = common.n;
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		c = strcmp(low, common.blob + common.off[mid]);
		if (c == 0)
			return 1;
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return 0;
}

long long
validate_id(const char *s)
{
	char     *end;
	long long id;

	if (s == NULL || *s < '1' || *s > '9')
		return 0;
	errno = 0;
	id = strtoll(s, &end, 10);
	return errno != 0 || *end != '\0' || id <= 0 ? 0 : id;
}
