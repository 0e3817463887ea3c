/* fuzz_template: libFuzzer target for the Mustache parser and renderer, asserting its invariants. */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "arena.h"
#include "bounds.h"
#include "buf.h"
#include "error.h"
#include "template.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/*
 * Every string of the data is replaced by CANARY for one more rendering.  Its \001 and \002
 * cannot come from anywhere else when the template holds neither, so each \001 in that
 * output must open the escaped form (template.h: {{x}} escapes & < > " ').
 */
#define CANARY      "\001<>&\"'\002"
#define CANARY_HTML "\001&lt;&gt;&amp;&quot;&#39;\002"

/* A copy of v with every string, at any depth, replaced by CANARY. */
static json_t *
canaries(const json_t *v)
{
	const char *k;
	json_t     *out, *x;
	size_t      i;

	if (json_is_string(v))
		return json_string(CANARY);
	if (json_is_object(v)) {
		out = json_object();
		json_object_foreach((json_t *)v, k, x) json_object_set_new(out, k, canaries(x));
		return out;
	}
	if (json_is_array(v)) {
		out = json_array();
		json_array_foreach(v, i, x) json_array_append_new(out, canaries(x));
		return out;
	}
	return json_deep_copy(v);
}

/*
 * Whether src may print a value unescaped: a {{{ or a {{ whose sigil, after any blanks, is
 * '&' (raw) or '=' (a delimiter change, after which raw tags look different).
 */
static int
raw_possible(const char *src, size_t n)
{
	const char *p = src, *end = src + n;

	while ((p = memmem(p, (size_t)(end - p), "{{", 2)) != NULL) {
		p += 2;
		while (p < end && strchr(" \t\n\r\f\v", *p) != NULL && *p != '\0')
			p++;
		if (p < end && (*p == '{' || *p == '&' || *p == '='))
			return 1;
	}
	return 0;
}

static enum um_err
render(struct arena *a, const char *src, size_t n, const json_t *partials, const json_t *data,
    struct buf *out)
{
	char        err[256];
	enum um_err rc;

	buf_init(out, a);
	rc = tmpl_render_string(src, n, partials, data, out, err, sizeof(err));
	/* template.h: output never exceeds UM_TEMPLATE_OUT_MAX, whatever the input. */
	if (out->len > UM_TEMPLATE_OUT_MAX)
		abort();
	return rc;
}

/*
 * Escaping: no partials (they would be template text of the fuzzer's choosing), and only
 * templates without raw tags ({{{x}}}, {{&x}}, or a delimiter change that could hide one).
 */
static void
check_escaping(struct arena *a, const char *src, size_t n, const json_t *root)
{
	struct buf  out;
	json_t     *data;
	const char *p, *end;

	if (memchr(src, '\001', n) != NULL || memchr(src, '\002', n) != NULL ||
	    raw_possible(src, n))
		return;
	data = canaries(root);
	if (render(a, src, n, NULL, data, &out) == UM_OK) {
		end = out.data + out.len;
		for (p = out.data; p != NULL && p < end; p++) {
			if ((p = memchr(p, '\001', (size_t)(end - p))) == NULL)
				break;
			if ((size_t)(end - p) < strlen(CANARY_HTML) ||
			    memcmp(p, CANARY_HTML, strlen(CANARY_HTML)) != 0)
				abort();
		}
	}
	json_decref(data);
}

/*
 * Input: the first line is JSON data, the rest the template.  The data doubles as the
 * partials object, so {"p": "{{>p}}"} drives partials and parents too.  Invalid JSON
 * renders against an empty object.
 */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char   *src = (const char *)data, *nl;
	size_t        jlen, tlen;
	json_t       *root;
	struct arena *a;
	struct buf    one, two;
	enum um_err   rc1, rc2;

	nl = memchr(src, '\n', size);
	if (nl == NULL)
		return 0;
	jlen = (size_t)(nl - src);
	tlen = size - jlen - 1;
	root = json_loadb(src, jlen, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
	if (root == NULL)
		root = json_object();
	a = arena_new();
	/* The same input twice gives the same answer, byte for byte. */
	rc1 = render(a, nl + 1, tlen, root, root, &one);
	rc2 = render(a, nl + 1, tlen, root, root, &two);
	if (rc1 != rc2 || one.len != two.len ||
	    (one.len > 0 && memcmp(one.data, two.data, one.len) != 0))
		abort();
	check_escaping(a, nl + 1, tlen, root);
	arena_free(a);
	json_decref(root);
	return 0;
}
