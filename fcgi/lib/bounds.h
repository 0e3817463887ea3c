/* bounds: every size bound of the project, named once (STYLE.md "Input"; not limits.h, which would shadow <limits.h>). */
#ifndef UM_BOUNDS_H
#define UM_BOUNDS_H

#define UM_BODY_MAX		65536	/* request body bytes (API.md §7); nginx enforces it too */
#define UM_FIELD_MAX		8192	/* one form/query value, bytes, before login */
#define UM_FIELDS_MAX		64	/* form or query parameters per request */
#define UM_COOKIES_MAX		32	/* cookies read from one Cookie header */
#define UM_COOKIE_MAX		4096	/* one cookie value, bytes */
#define UM_JSON_DEPTH_MAX	16	/* nesting of a JSON request body */
#define UM_PATH_MAX		2048	/* request path, bytes */
#define UM_PATH_PARAMS_MAX	4	/* {id}-style segments in one route */
#define UM_HEADERS_MAX		24	/* extra response headers */
#define UM_USERNAME_MIN		3	/* characters */
#define UM_USERNAME_MAX		32	/* characters */
#define UM_EMAIL_MAX		254	/* octets (RFC 5321 path limit) */
#define UM_PASSWORD_MAX		128	/* code points */
#define UM_DISPLAY_NAME_MAX	100	/* code points */
#define UM_BIO_MAX		1000	/* code points */
#define UM_TEMPLATE_OUT_MAX	(1024 * 1024)	/* bytes one rendering may produce */
#define UM_TEMPLATE_DEPTH_MAX	32	/* nested sections/partials while rendering */

#endif
