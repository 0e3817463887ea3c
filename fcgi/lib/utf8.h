/* utf8: strict UTF-8 validation and code-point counting (RFC 3629: no overlongs, no surrogates). */
#ifndef UM_UTF8_H
#define UM_UTF8_H

#include <stddef.h>

/* 1 when s[0..n) is well-formed UTF-8 (RFC 3629 §4), else 0.  NUL bytes are valid UTF-8 here. */
int utf8_valid(const char *, size_t);
/* Number of code points in s[0..n), or -1 when it is not well-formed UTF-8. */
long utf8_count(const char *, size_t);

#endif
