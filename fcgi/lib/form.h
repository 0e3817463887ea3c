/* form: application/x-www-form-urlencoded and query-string parsing (WHATWG URL §5.1). */
#ifndef UM_FORM_H
#define UM_FORM_H

#include <stddef.h>

#include "error.h"
#include "kv.h"

struct arena;

/*
 * Parses s[0..n) into out: '&'-separated pairs, '+' is a space, %XX decoded, a pair with no
 * '=' has an empty value, empty pairs are skipped.  Refuses with UM_EINVAL: a malformed %
 * escape, a NUL after decoding, invalid UTF-8 in a name or value, more than UM_FIELDS_MAX
 * pairs, a value over UM_FIELD_MAX bytes.  On refusal *bad (if not NULL) is set to the
 * offending field's name when it is known and printable, else NULL.
 * Everything in out is allocated from the arena.
 */
enum um_err form_parse(struct arena *, const char *, size_t, struct kvlist *, const char **);

/*
 * Percent-encodes s for a query-string value (RFC 3986 unreserved characters kept, the
 * rest as %XX), so it round-trips through form_parse.  Returned in the arena.
 */
const char *form_escape(struct arena *, const char *);

/*
 * Percent-decodes s[0..n) as a URL component other than a query (a user name, a password,
 * a path segment): '+' stays '+'.  NULL on a malformed escape, a NUL or invalid UTF-8.
 */
char *form_unescape(struct arena *, const char *, size_t);

#endif
