/* router: matches method + path against the static table; the table alone decides 404 and 405. */
#include "config.h"

#include <string.h>

#include "arena.h"
#include "buf.h"
#include "request.h"
#include "router.h"

/*
 * Matches one pattern against path, segment by segment.  "{x}" takes one non-empty segment.
 * Returns 1 on a match with the captured segments in params.
 */
static int
match(const char *pat, const char *path, struct arena *a, const char **params, size_t *np)
{
	const char *seg;
	size_t      n = 0, len;

	while (*pat != '\0' && *path != '\0') {
		if (*pat == '{') {
			if ((pat = strchr(pat, '}')) == NULL)
				return 0;
			pat++;
			seg = path;
			while (*path != '\0' && *path != '/')
				path++;
			len = (size_t)(path - seg);
			if (len == 0 || n == UM_PATH_PARAMS_MAX)
				return 0;
			if (params != NULL)
				params[n] = arena_strndup(a, seg, len);
			n++;
			continue;
		}
		if (*pat != *path)
			return 0;
		pat++;
		path++;
	}
	if (*pat != '\0' || *path != '\0')
		return 0;
	*np = n;
	return 1;
}

/*
 * A path some literal pattern spells ("/api/v1/me/passkeys/options") belongs to the literal
 * routes alone: a "{x}" sibling ("/api/v1/me/passkeys/{id}") neither takes its other
 * methods nor adds them to Allow.  So pass 0 tries the literal patterns, pass 1 the rest.
 */
enum router_match
router_match(const struct route *tab, size_t ntab, unsigned method, const char *path,
    struct arena *a, const struct route **out, const char **params, size_t *np, unsigned *allow)
{
	size_t   i, n;
	unsigned m;
	int      pass, literal;

	*allow = 0;
	*np = 0;
	for (pass = 0; pass < 2 && *allow == 0; pass++)
		for (i = 0; i < ntab; i++) {
			literal = strchr(tab[i].pattern, '{') == NULL;
			if (literal != (pass == 0) || !match(tab[i].pattern, path, a, NULL, &n))
				continue;
			m = tab[i].methods;
			if (m & HTTP_GET)
				m |=
				    HTTP_HEAD; /* RFC 9110 §9.3.2: HEAD is GET without the body */
			if (m & method) {
				(void)match(tab[i].pattern, path, a, params, np);
				*out = &tab[i];
				return ROUTER_FOUND;
			}
			*allow |= m;
		}
	return *allow != 0 ? ROUTER_BAD_METHOD : ROUTER_NOT_FOUND;
}

const char *
router_allow(struct arena *a, unsigned methods)
{
	static const struct {
		unsigned    bit;
		const char *name;
	} names[] = {
		{ HTTP_GET, "GET" },
		{ HTTP_HEAD, "HEAD" },
		{ HTTP_POST, "POST" },
		{ HTTP_PUT, "PUT" },
		{ HTTP_PATCH, "PATCH" },
		{ HTTP_DELETE, "DELETE" },
		{ HTTP_OPTIONS, "OPTIONS" },
	};
	struct buf b;
	size_t     i;

	buf_init(&b, a);
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (!(methods & names[i].bit))
			continue;
		if (b.len > 0)
			buf_puts(&b, ", ");
		buf_puts(&b, names[i].name);
	}
	return b.data;
}
