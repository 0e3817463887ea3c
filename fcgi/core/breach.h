/* breach: is a new password in a known breach — the Have I Been Pwned range API, k-anonymity. */
#ifndef UM_BREACH_H
#define UM_BREACH_H

#include <stddef.h>

#include "error.h"

struct arena;
struct conf;
struct field_result;

#define BREACH_PREFIX_LEN 5                        /* hex characters of the SHA-1 sent */
#define BREACH_SUFFIX_LEN (40 - BREACH_PREFIX_LEN) /* hex characters matched locally */
#define BREACH_ANSWER_MAX (1024 * 1024)            /* bytes of an answer read at most */
#define BREACH_CODE       "password_breached"      /* errors[].code of a refusal */

/*
 * Finds the count of suffix (BREACH_SUFFIX_LEN hex characters, either case) in a range
 * answer body[0..n): lines "SUFFIX:COUNT" separated by CRLF or LF, as the API sends them
 * (https://haveibeenpwned.com/API/v3#SearchingPwnedPasswordsByRange).  Padding entries
 * (count 0) count as absent.  0 with *count set (0 when absent); -1 (and *count 0) when any
 * line is not of that shape, or a count overflows: the answer is not trusted at all then.
 */
int breach_parse(const char *, size_t, const char *, unsigned long long *);
/*
 * How often pw[0..len) appears in breaches, asking $USERMGR_HIBP_URL/range/<first 5 hex of
 * the upper-case SHA-1> with "Add-Padding: true" within USERMGR_HIBP_TIMEOUT_MS.  Only the
 * prefix leaves the host.  UM_OK with *count; UM_EUNAVAIL when the check is off (no URL) or
 * was skipped — unreachable, slow, a status other than 200, a malformed answer — logged
 * without the password or its hash.  Never blocks longer than the timeout.
 */
enum um_err breach_count(struct arena *, const struct conf *, const char *, size_t,
    unsigned long long *);
/*
 * The breach rule of a new password (issue 13, item 6), for a form or JSON body already
 * validated: when r[i] holds a valid password and breach_count finds it at least
 * USERMGR_HIBP_MIN_COUNT times, refuses it with a message and code BREACH_CODE (UM_EINVAL).
 * A skipped check accepts (UM_OK): the breach list is advice, never a reason to be down.
 */
enum um_err breach_refuse(struct arena *, const struct conf *, struct field_result *, size_t);

#endif
