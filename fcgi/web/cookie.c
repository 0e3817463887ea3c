/* cookie: reads the Cookie header leniently; what we cannot understand is skipped, never fatal. */
#include "config.h"

#include <string.h>

#include "arena.h"
#include "bounds.h"
#include "cookie.h"
#include "kv.h"
#include "utf8.h"

/* RFC 6265 §5.4 step 4 joins pairs with "; "; browsers and proxies also send bare tabs. */
static int
is_ws(char c)
{
	return c == ' ' || c == '\t';
}

static int
has_ctl(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return 1;
	return 0;
}

void
cookie_parse(struct arena *a, const char *header, struct kvlist *out)
{
	struct kv  *v;
	const char *p, *end, *semi, *eq;
	const char *ns, *ne, *vs, *ve;
	size_t      max, i;

	out->v = NULL;
	out->n = 0;
	if (header == NULL || *header == '\0')
		return;

	/* One slot per ';'-separated piece, capped: never more than UM_COOKIES_MAX are kept. */
	for (max = 1, p = header; (p = strchr(p, ';')) != NULL && max < UM_COOKIES_MAX; p++)
		max++;
	v = arena_calloc(a, max, sizeof(*v));

	end = header + strlen(header);
	for (i = 0, p = header; p < end && i < max; p = semi + 1) {
		if ((semi = memchr(p, ';', (size_t)(end - p))) == NULL)
			semi = end;
		/* RFC 6265 §5.2: a pair without '=' or with an empty name is ignored. */
		if ((eq = memchr(p, '=', (size_t)(semi - p))) == NULL)
			continue;
		for (ns = p; ns < eq && is_ws(*ns); ns++)
			;
		for (ne = eq; ne > ns && is_ws(ne[-1]); ne--)
			;
		for (vs = eq + 1; vs < semi && is_ws(*vs); vs++)
			;
		for (ve = semi; ve > vs && is_ws(ve[-1]); ve--)
			;
		if (ne == ns)
			continue;
		/* RFC 6265 §4.1.1: cookie-value may be wrapped in DQUOTEs, which are not part of it. */
		if (ve - vs >= 2 && *vs == '"' && ve[-1] == '"') {
			vs++;
			ve--;
		}
		if ((size_t)(ve - vs) > UM_COOKIE_MAX)
			continue;
		if (has_ctl(ns, (size_t)(ne - ns)) || has_ctl(vs, (size_t)(ve - vs)))
			continue;
		if (!utf8_valid(ns, (size_t)(ne - ns)) || !utf8_valid(vs, (size_t)(ve - vs)))
			continue;
		v[i].key = arena_strndup(a, ns, (size_t)(ne - ns));
		v[i].val = arena_strndup(a, vs, (size_t)(ve - vs));
		v[i].vlen = (size_t)(ve - vs);
		i++;
	}
	out->v = v;
	out->n = i;
}

const char *
cookie_set(struct arena *a, const char *name, const char *value, long max_age, int secure)
{
	/* SameSite=Lax keeps the cookie off cross-site POSTs (a second CSRF line); HttpOnly
	 * keeps it from scripts; Max-Age=0 is how RFC 6265 §5.2.2 deletes. */
	if (max_age < 0)
		return arena_printf(a, "%s=%s; Path=/; HttpOnly; SameSite=Lax%s", name, value,
		    secure ? "; Secure" : "");
	return arena_printf(a, "%s=%s; Path=/; Max-Age=%ld; HttpOnly; SameSite=Lax%s", name,
	    value, max_age, secure ? "; Secure" : "");
}
