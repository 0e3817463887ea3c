/* problem: RFC 9457 problem details (application/problem+json) and their HTML twin for browsers. */
#ifndef UM_PROBLEM_H
#define UM_PROBLEM_H

#include <jansson.h>

#include "error.h"

struct request;
struct response;

/*
 * Builds the problem for err: {type, title, status, code, detail?, errors?}.  status 0 means
 * the table's status for err.  errors is NULL or an array of {field, message}; its reference
 * is stolen.  The caller owns the returned value.
 */
json_t *problem_new(enum um_err, int, const char *, json_t *);

/*
 * Answers the request with err: problem+json for the API and non-browser clients, an HTML
 * error page for browsers (request_wants_html) outside /api/.  status 0 means the table's.
 * Headers such as Retry-After or Allow are the caller's to add (response_header).
 */
void problem_send(struct request *, struct response *, enum um_err, int, const char *,
    json_t *);

#endif
