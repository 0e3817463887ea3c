/* fuzz_cookie: libFuzzer target for the Cookie header parser. */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "cookie.h"
#include "kv.h"
#include "bounds.h"
#include "utf8.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct arena *a;
	struct kvlist l;
	char         *h;
	size_t        i, j;

	/* Headers reach us NUL-terminated, so the input is cut at its first NUL. */
	if ((h = malloc(size + 1)) == NULL)
		abort();
	memcpy(h, data, size);
	h[size] = '\0';
	a = arena_new();
	cookie_parse(a, h, &l);
	if (l.n > UM_COOKIES_MAX)
		abort();
	for (i = 0; i < l.n; i++) {
		if (l.v[i].key[0] == '\0' || l.v[i].vlen > UM_COOKIE_MAX ||
		    strlen(l.v[i].val) != l.v[i].vlen || !utf8_valid(l.v[i].val, l.v[i].vlen))
			abort();
		for (j = 0; l.v[i].key[j] != '\0'; j++)
			if ((unsigned char)l.v[i].key[j] < 0x20 || l.v[i].key[j] == ';')
				abort();
	}
	arena_free(a);
	free(h);
	return 0;
}
