/* link: the signed, purpose-bound tokens in mailed links (API.md §5) and the URLs that carry them. */
#ifndef UM_LINK_H
#define UM_LINK_H

#include <jansson.h>

#include "error.h"

struct ctx;

enum link_purpose {
	LINK_VERIFY_EMAIL = 0, /* /verify-email, 24 h, bound to the address */
	LINK_RESET_PASSWORD,   /* /reset-password, 1 h, bound to the password hash */
	LINK_CHANGE_EMAIL,     /* /confirm-email, 24 h, bound to the pending change */
	LINK_NOT_ME, /* /account/not-me, 7 days, one alert (login_alerts: used once) */
	LINK__MAX
};

/*
 * A link token for user id: HS256 JWT with aud "usermgr:<purpose>", sub, email, iat, exp
 * and the binding claim `bind` (the address, a password fingerprint, a change id).
 * Returned in the request arena.
 */
char *link_token(struct ctx *, enum link_purpose, long long, const char *, const char *);
/* How long a link of purpose lives, in seconds. */
long long link_lifetime(enum link_purpose);
/* The absolute URL $USERMGR_BASE_URL/<path>?token=<token> of a purpose. */
char *link_url(struct ctx *, enum link_purpose, const char *);
/*
 * Checks a token for purpose: UM_ETOKEN for anything forged, malformed or of another
 * purpose, UM_EEXPIRED for an authentic expired one.  On UM_OK *user_id, *email and *bind
 * (arena strings) are set.
 */
enum um_err link_verify(struct ctx *, enum link_purpose, const char *, long long *,
    const char **, const char **);

#endif
