/* error: the one error enum of the project, mapped once to an HTTP status and a problem code. */
#ifndef UM_ERROR_H
#define UM_ERROR_H

/*
 * Never renumber: values may appear in logs.  Each has one row in the table in error.c
 * giving its HTTP status, its RFC 9457 problem `code` (API.md §2) and a title.
 * nodiscard (C23): a call that drops the result does not compile under --enable-werror; a
 * result ignored on purpose is cast to void, which says so at the call.
 */
enum [[nodiscard]] um_err{ UM_OK = 0, /* success */
	UM_EINVAL,                    /* 400 validation_failed */
	UM_EJSON,                     /* 400 invalid_json */
	UM_EMEDIA,                    /* 415 unsupported_media_type */
	UM_ETOOBIG,                   /* 413 payload_too_large */
	UM_ECONFLICT,                 /* 409 conflict */
	UM_ECREDS,                    /* 401 invalid_credentials */
	UM_EUNVERIFIED,               /* 403 email_not_verified */
	UM_EDISABLED,                 /* 403 account_disabled */
	UM_EMFA,                      /* 401 mfa_required */
	UM_EUNAUTH,                   /* 401 unauthorized */
	UM_EFORBIDDEN,                /* 403 forbidden */
	UM_ENOTFOUND,                 /* 404 not_found */
	UM_EMETHOD,                   /* 405 method_not_allowed */
	UM_ERATE,                     /* 429 rate_limited */
	UM_ETOKEN,                    /* 401 invalid_token (400 for mailed-link tokens) */
	UM_EEXPIRED,                  /* 401 token_expired (400 for mailed-link tokens) */
	UM_EUNAVAIL,                  /* 503 service_unavailable: the database is down */
	UM_EINTERNAL,                 /* 500 internal_error */
	UM_ECHALLENGE,                /* 400 invalid_challenge (WebAuthn, issue 13) */
	UM_EPASSKEY,                  /* 400 invalid_passkey: a WebAuthn check failed */
	UM_ERECENT,                   /* 403 recent_login_required */
	UM_E__MAX };

const char *um_strerror(enum um_err);  /* human title, e.g. "Not found" */
const char *um_errcode(enum um_err);   /* problem code, e.g. "not_found" */
int         um_errstatus(enum um_err); /* HTTP status, e.g. 404 */

#endif
