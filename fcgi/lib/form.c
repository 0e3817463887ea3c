/* form: decodes query strings and urlencoded bodies strictly, so handlers see only clean text. */
#include "config.h"

#include <string.h>

#include "arena.h"
#include "bounds.h"
#include "form.h"
#include "kv.h"
#include "utf8.h"

static int
hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * Decodes s[0..n) into a fresh NUL-terminated arena string, its length in *len; '+' is a
 * space when plus is set (forms), itself otherwise (other URL parts).  Returns NULL when a
 * '%' is not followed by exactly two hex digits (RFC 3986 §2.1: WHATWG would pass such
 * bytes through, we refuse them), when the result holds a NUL, is not UTF-8, or is longer
 * than max bytes.
 */
static char *
decode(struct arena *a, const char *s, size_t n, size_t max, int plus, size_t *len)
{
	char  *out;
	size_t i, o;
	int    hi, lo;

	out = arena_alloc(a, n + 1);
	for (i = o = 0; i < n; i++) {
		if (s[i] == '+' && plus)
			out[o++] = ' ';
		else if (s[i] == '%') {
			if (n - i < 3 || (hi = hexval((unsigned char)s[i + 1])) < 0 ||
			    (lo = hexval((unsigned char)s[i + 2])) < 0)
				return NULL;
			out[o++] = (char)(hi << 4 | lo);
			i += 2;
		} else
			out[o++] = s[i];
	}
	out[o] = '\0';
	if (o > max || memchr(out, '\0', o) != NULL || !utf8_valid(out, o))
		return NULL;
	*len = o;
	return out;
}

/* A name may be echoed in a problem's detail, so only names without control characters. */
static int
printable(const char *s)
{
	const unsigned char *p;

	for (p = (const unsigned char *)s; *p != '\0'; p++)
		if (*p < 0x20 || *p == 0x7f)
			return 0;
	return 1;
}

enum um_err
form_parse(struct arena *a, const char *s, size_t n, struct kvlist *out, const char **bad)
{
	struct kv  *v = NULL;
	const char *p, *amp, *eq, *name;
	size_t      off, len, npairs = 0, i = 0, nlen;
	enum um_err rc = UM_EINVAL;

	out->v = NULL;
	out->n = 0;
	if (bad != NULL)
		*bad = NULL;
	if (n == 0) {
		/* s may be NULL for an absent query string. */
		rc = UM_OK;
		goto out;
	}

	/* First pass: count the non-empty pairs so the limit holds before any decoding. */
	for (off = 0; off < n; off += len + 1) {
		amp = memchr(s + off, '&', n - off);
		len = amp != NULL ? (size_t)(amp - (s + off)) : n - off;
		if (len > 0 && ++npairs > UM_FIELDS_MAX)
			goto out;
	}
	if (npairs > 0)
		v = arena_calloc(a, npairs, sizeof(*v));

	for (off = 0; off < n; off += len + 1) {
		p = s + off;
		amp = memchr(p, '&', n - off);
		len = amp != NULL ? (size_t)(amp - p) : n - off;
		if (len == 0)
			continue;
		eq = memchr(p, '=', len);
		nlen = eq != NULL ? (size_t)(eq - p) : len;
		/* Names are bounded like values: nothing legitimate needs a longer one. */
		if ((name = decode(a, p, nlen, UM_FIELD_MAX, 1, &nlen)) == NULL)
			goto out;
		v[i].key = name;
		if (eq == NULL) {
			v[i].val = "";
			v[i].vlen = 0;
		} else if ((v[i].val = decode(a, eq + 1, len - (size_t)(eq - p) - 1,
		                UM_FIELD_MAX, 1, &v[i].vlen)) == NULL) {
			if (bad != NULL && *name != '\0' && printable(name))
				*bad = name;
			goto out;
		}
		i++;
	}
	out->v = v;
	out->n = i;
	rc = UM_OK;
out:
	return rc;
}

/* RFC 3986 §2.3 unreserved characters pass through; every other byte becomes %XX (§2.1). */
const char *
form_escape(struct arena *a, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	unsigned char     c;
	char             *out, *o;
	size_t            n;

	if (s == NULL)
		return "";
	n = strlen(s);
	o = out = arena_alloc(a, 3 * n + 1);
	for (; *s != '\0'; s++) {
		c = (unsigned char)*s;
		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' || c == '~')
			*o++ = (char)c;
		else {
			*o++ = '%';
			*o++ = hex[c >> 4];
			*o++ = hex[c & 15];
		}
	}
	*o = '\0';
	return out;
}

char *
form_unescape(struct arena *a, const char *s, size_t n)
{
	size_t len;

	return decode(a, s, n, n, 0, &len);
}
