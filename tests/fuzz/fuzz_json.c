/* fuzz_json: libFuzzer target for request-body parsing and response serialisation. */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "arena.h"
#include "buf.h"
#include "error.h"
#include "json.h"
#include "utf8.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct arena *a;
	struct buf    b;
	json_t       *v, *back;
	char         *copy;

	a = arena_new();
	/* An exactly-sized copy so ASan sees any read past the end. */
	if ((copy = malloc(size > 0 ? size : 1)) == NULL)
		abort();
	memcpy(copy, data, size);
	if (json_body_parse(a, copy, size, &v) == UM_OK) {
		/* What we write must be valid UTF-8 and parse back to an equal value. */
		buf_init(&b, a);
		json_to_buf(&b, v);
		if (b.len == 0 || !utf8_valid(b.data, b.len))
			abort();
		if (json_body_parse(a, b.data, b.len, &back) != UM_OK || !json_equal(v, back))
			abort();
	} else if (v != NULL)
		abort();
	free(copy);
	arena_free(a);
	return 0;
}
