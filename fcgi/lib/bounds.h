/* bounds: every size bound of the project, named once (STYLE.md "Input"; not limits.h, which would shadow <limits.h>). */
#ifndef UM_BOUNDS_H
#define UM_BOUNDS_H

#define UM_BODY_MAX         65536 /* request body bytes (API.md §7); nginx enforces it too */
#define UM_FIELD_MAX        8192  /* one form/query value, bytes, before login */
#define UM_FIELDS_MAX       64    /* form or query parameters per request */
#define UM_COOKIES_MAX      32    /* cookies read from one Cookie header */
#define UM_COOKIE_MAX       4096  /* one cookie value, bytes */
#define UM_JSON_DEPTH_MAX   16    /* nesting of a JSON request body */
#define UM_PATH_MAX         2048  /* request path, bytes */
#define UM_PATH_PARAMS_MAX  4     /* {id}-style segments in one route */
#define UM_HEADERS_MAX      24    /* extra response headers */
#define UM_USERNAME_MIN     3     /* characters */
#define UM_USERNAME_MAX     32    /* characters */
#define UM_EMAIL_MAX        254   /* octets (RFC 5321 path limit) */
#define UM_PASSWORD_MAX     128   /* code points */
#define UM_DISPLAY_NAME_MAX 100   /* code points */
#define UM_BIO_MAX          1000  /* code points */
#define UM_PASSWORD_FIELD_MAX \
	1024                         /* bytes of a password field read before the
					 * code-point check (128 code points fit) */
#define UM_ROLE_NAME_FIELD_MAX  64   /* bytes of a role-name field (the name itself: 32) */
#define UM_ROLE_DESCRIPTION_MAX 255  /* bytes (roles.description) */
#define UM_ROLES_MAX            64   /* role names in one request or command */
#define UM_EVENT_MAX            64   /* bytes of an audit event name (audit_events.event) */
#define UM_LINK_TOKEN_MAX       4096 /* bytes of a mailed link's token */
#define UM_REFRESH_TOKEN_MAX    256  /* bytes of a refresh token field */
#define UM_TOTP_FIELD_MAX       64   /* bytes of a second-factor code field */
#define UM_ID_FIELD_MAX         20   /* digits of an id field (BIGINT) */
#define UM_STATUS_FIELD_MAX     16   /* bytes of a status field ("disabled") */
#define UM_TEMPLATE_OUT_MAX     (1024 * 1024) /* bytes one rendering may produce */
#define UM_TEMPLATE_DEPTH_MAX   32            /* nested sections/partials while rendering */

#endif
