/* json: strict parsing of JSON request bodies and compact serialisation of responses (jansson). */
#ifndef UM_JSON_H
#define UM_JSON_H

#include <stddef.h>

#include <jansson.h>

#include "error.h"

struct arena;
struct buf;

/*
 * Parses a request body.  Refuses with UM_EJSON: malformed JSON, invalid UTF-8, a lone
 * surrogate escape, duplicate object keys, nesting deeper than UM_JSON_DEPTH_MAX, trailing
 * data.  "\u0000" inside strings is accepted here (fields refuse it as validation_failed,
 * API.md §7).  The value is tied to the arena (json_decref at reset); the caller borrows it.
 */
enum um_err json_body_parse(struct arena *, const char *, size_t, json_t **);

/* Appends the compact serialisation of v (keys in insertion order) to b. */
void json_to_buf(struct buf *, const json_t *);

/* Ties v to the arena's lifetime (json_decref at reset) and returns it; NULL passes through. */
json_t *json_arena(struct arena *, json_t *);

#endif
