/* kv: the decoded name/value list shared by the query, form and cookie parsers. */
#ifndef UM_KV_H
#define UM_KV_H

#include <stddef.h>

struct kv {
	const char *key; /* NUL-terminated, valid UTF-8 */
	const char *val; /* NUL-terminated; vlen excludes the NUL */
	size_t      vlen;
};

struct kvlist {
	struct kv *v; /* arena-owned */
	size_t     n;
};

/* First value named key, or NULL.  The list and its strings belong to the request arena. */
const char *kv_get(const struct kvlist *, const char *);
/* How many entries are named key (repeatable fields such as `roles`). */
size_t kv_count(const struct kvlist *, const char *);

#endif
