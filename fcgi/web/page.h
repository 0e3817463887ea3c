/* page: renders an HTML page from templates/ with the context every page shares. */
#ifndef UM_PAGE_H
#define UM_PAGE_H

#include <jansson.h>

#include "bounds.h"
#include "validate.h"

struct field_result;
struct request;
struct response;

/* How one form field is shown (partials/field.mustache); a page declares a table of them. */
struct page_field {
	const char *name;
	const char *label;
	const char *type;         /* text, email, password ... */
	const char *autocomplete; /* username, email, current-password, new-password, ... */
	const char *hint;         /* NULL for none */
	unsigned    maxlength;    /* 0: none */
	int         required;
	int         multiline; /* <textarea> */
};

/*
 * Renders templates/<name>.mustache with data (reference stolen; NULL for none) plus the
 * keys every page has (docs/UI.md): title, user, csrf_token, flash, request_id.  Sets the
 * status and text/html.  A rendering failure becomes a plain 500 page and is logged.
 */
struct arena;
/* The strings of a JSON array joined with sep ("a, b" for tables, lines for a textarea). */
const char *page_joined(struct arena *, const json_t *, const char *);
/* A page's flash list with one message of kind ("success", "error"), for its "flash" key. */
json_t *page_flash(const char *, const char *);
void    page_render(struct request *, struct response *, int, const char *, json_t *);

/*
 * The `fields` array of a form page: each field with every key the partial reads, its value
 * the input as given (r[i].raw; never for password fields) and its error (r[i].error).
 * r may be NULL (an empty form).  The caller owns the array.
 */
json_t *page_fields(const struct page_field *, size_t, const struct field_result *);

/*
 * The `errors` array of a refused form page (partials/errors-summary.mustache): {field,
 * message} in table order, empty when r is NULL or holds no error.  The caller owns it.
 */
json_t *page_errors(struct request *, const struct field_spec *, size_t,
    const struct field_result *);

/*
 * "Your password", asked again before a change a stolen session alone must not make (delete
 * the account, change its address, enrol or drop a second factor or a passkey): the field's
 * rule and its view, for a form's tables.
 */
#define PAGE_RECHECK_SPEC \
	{ \
		"password", NULL, UM_PASSWORD_FIELD_MAX, VF_REQUIRED | VF_SECRET \
	}
#define PAGE_RECHECK_VIEW \
	{ \
		"password", "Your password", "password", "current-password", NULL, 128, 1, 0 \
	}
/* A form of that field alone. */
enum { PAGE_RECHECK_PASSWORD, PAGE_RECHECK__MAX };
extern const struct field_spec page_recheck_spec[PAGE_RECHECK__MAX];
extern const struct page_field page_recheck_view[PAGE_RECHECK__MAX];

#endif
