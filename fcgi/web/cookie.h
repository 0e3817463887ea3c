/* cookie: the Cookie request header (RFC 6265 §4.2.1, parsed leniently as §5.4 says). */
#ifndef UM_COOKIE_H
#define UM_COOKIE_H

#include "kv.h"

struct arena;

/*
 * Parses a Cookie header into out (names and values as sent, optional surrounding DQUOTEs
 * removed, no percent-decoding).  Malformed pairs, pairs with invalid UTF-8, names or values
 * with control characters and values over UM_COOKIE_MAX are skipped, not errors: other
 * applications on the same host may set cookies we do not understand.  At most
 * UM_COOKIES_MAX are kept.  header may be NULL (no cookies).
 */
void cookie_parse(struct arena *, const char *, struct kvlist *);

/*
 * A Set-Cookie value for our own cookies (API.md §3): Path=/; HttpOnly; SameSite=Lax, and
 * Secure when secure is set.  max_age -1 makes a browser-session cookie, 0 deletes it, more
 * persists it that many seconds.  name and value must be cookie-octets (tokens are
 * base64url).  Returned in the arena.
 */
const char *cookie_set(struct arena *, const char *, const char *, long, int);

#endif
