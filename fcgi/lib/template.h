/* template: Mustache (spec v1.3 + inheritance) rendering over jansson values, HTML-escaped by default. */
#ifndef UM_TEMPLATE_H
#define UM_TEMPLATE_H

#include <stddef.h>

#include <jansson.h>

#include "error.h"

struct arena;
struct buf;
struct tmpl_set;

/*
 * Loads and parses every *.mustache file below dir, once per worker.  A template's name is
 * its path relative to dir without the extension ("layout", "mail/verify.txt"); partials
 * ({{>name}}) and parents ({{<name}}) are looked up by that name.  Returns NULL and writes a
 * message naming the file and line into err on any parse error.  The caller owns the set.
 */
struct tmpl_set *tmpl_set_load(const char *, char *, size_t);
void             tmpl_set_free(struct tmpl_set *); /* accepts NULL */
int              tmpl_set_has(const struct tmpl_set *, const char *);

/*
 * Renders the named template with data as the root context, appending to out.  Escapes
 * {{x}} as HTML (& < > " '); {{{x}}} and {{&x}} are raw.  Fails with UM_ENOTFOUND for an
 * unknown name and UM_EINTERNAL when output exceeds UM_TEMPLATE_OUT_MAX or nesting exceeds
 * UM_TEMPLATE_DEPTH_MAX.  Scratch memory comes from out's arena.
 */
enum um_err tmpl_render(const struct tmpl_set *, const char *, const json_t *, struct buf *);

/*
 * Parses and renders one template source with partials given as a JSON object
 * {"name": "source", ...} (may be NULL): the entry point of the spec tests and the fuzz
 * target.  Parse errors give UM_EINVAL with a message in err.
 */
enum um_err tmpl_render_string(const char *, size_t, const json_t *, const json_t *,
    struct buf *, char *, size_t);

#endif
