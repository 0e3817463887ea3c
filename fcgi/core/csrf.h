/* csrf: synchronizer tokens bound to a session (or the pre-session cookie), plus the Origin check. */
#ifndef UM_CSRF_H
#define UM_CSRF_H

#include <stddef.h>

struct arena;
struct keyring;

#define CSRF_FIELD "csrf_token"

/*
 * The token for a binding: HMAC-SHA256(csrf key, kind || 0 || binding), base64url.  kind
 * keeps a pre-session token from ever passing as a session one.  Signed with the current
 * key; returned in the arena (NULL only if HMAC fails).
 */
char *csrf_token(struct arena *, const struct keyring *, const char *, const void *, size_t);
/* 1 when presented equals the token of the binding under any key of the ring (rotation). */
int csrf_valid(const struct keyring *, const char *, const void *, size_t, const char *);

#endif
