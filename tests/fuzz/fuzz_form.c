/* fuzz_form: libFuzzer target for the urlencoded body and query-string parser. */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "error.h"
#include "form.h"
#include "kv.h"
#include "bounds.h"
#include "utf8.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* What form_parse promises about a list it accepted; a broken promise aborts the run. */
static void
check(const struct kvlist *l)
{
	size_t i;

	if (l->n > UM_FIELDS_MAX)
		abort();
	for (i = 0; i < l->n; i++) {
		if (l->v[i].vlen > UM_FIELD_MAX || strlen(l->v[i].val) != l->v[i].vlen)
			abort();
		if (!utf8_valid(l->v[i].key, strlen(l->v[i].key)) ||
		    !utf8_valid(l->v[i].val, l->v[i].vlen))
			abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct arena *a;
	struct kvlist l;
	const char   *bad, *q, *val;
	char         *copy;
	size_t        len;

	a = arena_new();
	/* An exactly-sized copy so ASan sees any read past the end. */
	copy = malloc(size > 0 ? size : 1);
	if (copy == NULL)
		abort();
	memcpy(copy, data, size);
	if (form_parse(a, copy, size, &l, &bad) == UM_OK)
		check(&l);
	else if (l.n != 0 || (bad != NULL && strlen(bad) > UM_FIELD_MAX))
		abort();
	/* The same bytes as a query string: the worker passes QUERY_STRING and its length. */
	arena_reset(a);
	if (form_parse(a, copy, strnlen(copy, size), &l, NULL) == UM_OK)
		check(&l);
	/* form_escape of any text a value may hold round-trips through form_parse. */
	len = strnlen(copy, size);
	if (len <= UM_FIELD_MAX && utf8_valid(copy, len)) {
		arena_reset(a);
		val = arena_strndup(a, copy, len);
		q = arena_printf(a, "v=%s", form_escape(a, val));
		if (form_parse(a, q, strlen(q), &l, NULL) != UM_OK || l.n != 1 ||
		    strcmp(l.v[0].val, val) != 0)
			abort();
	}
	free(copy);
	arena_free(a);
	return 0;
}
