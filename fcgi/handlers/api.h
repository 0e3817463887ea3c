/* api: shared pieces of the JSON API handlers (api-*.c). */
#ifndef UM_API_H
#define UM_API_H

#include <stddef.h>

#include <jansson.h>

struct device;
struct field_result;
struct field_spec;
struct request;
struct response;
struct user;
struct validate_ctx;

/*
 * Validates the JSON body against spec.  On failure answers 400 — invalid_json when the
 * body is not an object, else validation_failed naming each field — and returns -1.
 */
int api_fields(struct request *, struct response *, const struct validate_ctx *,
    const struct field_spec *, size_t, struct field_result *);
/* After cross-field checks: answers 400 naming the fields with errors and returns -1. */
int api_invalid(struct request *, struct response *, const struct field_spec *, size_t,
    struct field_result *);
/* Answers status with the API.md §4 user object; roles NULL: looked up (stolen otherwise). */
void api_user(struct request *, struct response *, int, const struct user *, json_t *);
/* Answers 200 {access_token, token_type, expires_in, refresh_token, user}. */
void api_token_pair(struct request *, struct response *, const struct user *, long long,
    const char *);
/*
 * The password re-check of sensitive calls (login_recheck) on the caller's account: 403
 * invalid_credentials when wrong, 429 rate_limited with Retry-After when the account is
 * locked or this failure locked it.  Returns 0 when it matched; otherwise the answer is
 * sent and it returns -1.
 */
int api_recheck(struct request *, struct response *, const struct field_result *);
/*
 * The end of every API sign-in, password or passkey: login_succeeded (audit, counters, the
 * new-device alert) and a new refresh family in one transaction, then the device cookie and
 * the token pair.  An error is returned unanswered, nothing written.
 */
enum um_err api_signed_in(struct request *, struct response *, struct user *,
    const struct device *);
/* Answers 202 {"status": status}. */
void api_accepted(struct response *, const char *);

#endif
