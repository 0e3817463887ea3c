/* page: renders an HTML page from templates/ with the context every page shares. */
#ifndef UM_PAGE_H
#define UM_PAGE_H

#include <jansson.h>

struct request;
struct response;

/*
 * Renders templates/<name>.mustache with data (reference stolen; NULL for none) plus the
 * keys every page has (docs/UI.md): title, user, csrf_token, flash, request_id.  Sets the
 * status and text/html.  A rendering failure becomes a plain 500 page and is logged.
 */
void	page_render(struct request *, struct response *, int, const char *, json_t *);

#endif
