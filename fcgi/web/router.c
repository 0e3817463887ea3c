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
 * methods nor adds them to Allow.  One pass over the table (it runs on every request, the
 * fast path's too): a literal route that takes the method answers at once; otherwise the
 * first "{x}" route that takes it, unless some literal route spelled the path.
 */
enum router_match
router_match(const struct route *tab, size_t ntab, unsigned method, const char *path,
    struct arena *a, const struct route **out, const char **params, size_t *np, unsigned *allow)
{
	const struct route *var = NULL;
	size_t              i, n;
	unsigned            m, lit_allow = 0, var_allow = 0;
	int                 literal;

	*allow = 0;
	*np = 0;
	for (i = 0; i < ntab; i++) {
		if (!match(tab[i].pattern, path, a, NULL, &n))
			continue;
		literal = n == 0; /* a "{x}" pattern that matches captured a segment */
		m = tab[i].methods;
		if (m & HTTP_GET)
			m |= HTTP_HEAD; /* RFC 9110 §9.3.2: HEAD is GET without the body */
		if (literal && (m & method)) {
			*out = &tab[i];
			return ROUTER_FOUND;
		}
		if (literal)
			lit_allow |= m;
		else if ((m & method) && var == NULL)
			var = &tab[i];
		else
			var_allow |= m;
	}
	if (lit_allow == 0 && var != NULL) {
		(void)match(var->pattern, path, a, params, np);
		*out = var;
		return ROUTER_FOUND;
	}
	*allow = lit_allow != 0 ? lit_allow : var_allow;
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
