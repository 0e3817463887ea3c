/* fuzz_template: libFuzzer target for the Mustache parser and renderer (tmpl_render_string). */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <jansson.h>

#include "arena.h"
#include "buf.h"
#include "error.h"
#include "template.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/*
 * Input: the first line is JSON data, the rest the template.  The data doubles as the
 * partials object, so {"p": "{{>p}}"} drives partials and parents too.  Invalid JSON
 * renders against an empty object.
 */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char	*src = (const char *)data, *nl;
	size_t		 jlen;
	json_t		*root;
	struct arena	*a;
	struct buf	 out;
	char		 err[256];

	nl = memchr(src, '\n', size);
	jlen = nl != NULL ? (size_t)(nl - src) : size;
	root = json_loadb(src, jlen, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
	if (root == NULL)
		root = json_object();
	a = arena_new();
	buf_init(&out, a);
	if (nl != NULL)
		(void)tmpl_render_string(nl + 1, size - jlen - 1, root, root, &out, err,
		    sizeof(err));
	arena_free(a);
	json_decref(root);
	return 0;
}
