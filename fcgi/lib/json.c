/* json: the one place request bodies become json_t, with limits jansson does not enforce itself. */
#include "config.h"

#include <stddef.h>

#include <jansson.h>

#include "arena.h"
#include "bounds.h"
#include "buf.h"
#include "json.h"
#include "utf8.h"

/*
 * 1 when no container in s[0..n) nests deeper than UM_JSON_DEPTH_MAX.  A linear scan of the
 * raw bytes, before jansson's recursive descent runs at all: brackets inside strings do not
 * count, and anything else malformed is left to the parser to refuse.
 */
static int
depth_ok(const char *s, size_t n)
{
	size_t i, depth = 0;
	int    in_str = 0, esc = 0;

	for (i = 0; i < n; i++) {
		if (in_str) {
			if (esc)
				esc = 0;
			else if (s[i] == '\\')
				esc = 1;
			else if (s[i] == '"')
				in_str = 0;
			continue;
		}
		switch (s[i]) {
		case '"': in_str = 1; break;
		case '[':
		case '{':
			if (++depth > UM_JSON_DEPTH_MAX)
				return 0;
			break;
		case ']':
		case '}':
			if (depth > 0)
				depth--;
			break;
		default: break;
		}
	}
	return 1;
}

static void
release(void *v)
{
	json_decref(v);
}

json_t *
json_arena(struct arena *a, json_t *v)
{
	if (v != NULL)
		arena_defer(a, release, v);
	return v;
}

/*
 * RFC 8259 parsing with jansson's defaults kept strict: the EOF check refuses trailing data
 * (§2), lone surrogate escapes are refused by its lexer, and the byte check below refuses
 * ill-formed UTF-8 (§8.1) before jansson sees it.  JSON_ALLOW_NUL lets "\u0000" through so
 * the field validators can answer validation_failed for it (API.md §7), not invalid_json.
 */
enum um_err
json_body_parse(struct arena *a, const char *s, size_t n, json_t **out)
{
	json_error_t err;
	json_t      *v;
	enum um_err  rc = UM_EJSON;

	*out = NULL;
	if (n == 0 || !utf8_valid(s, n) || !depth_ok(s, n))
		goto out;
	v = json_loadb(s, n, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL | JSON_DECODE_ANY, &err);
	if (v == NULL)
		goto out;
	*out = json_arena(a, v);
	rc = UM_OK;
out:
	return rc;
}

static int
append(const char *p, size_t n, void *b)
{
	buf_append(b, p, n);
	return 0;
}

void
json_to_buf(struct buf *b, const json_t *v)
{
	/*
	 * Streams into the buffer rather than json_dumps() + copy.  jansson 2.14 keeps object
	 * keys in insertion order; JSON_PRESERVE_ORDER says so for older versions.
	 */
	(void)json_dump_callback(v, append, b,
	    JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY);
}
