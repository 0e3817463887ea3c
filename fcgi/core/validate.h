/* validate: the field validators and the declarative form/JSON field tables (STYLE.md "Input"). */
#ifndef UM_VALIDATE_H
#define UM_VALIDATE_H

#include <stddef.h>

#include <jansson.h>

#include "error.h"
#include "kv.h"

struct arena;

#define UM_PASSWORD_MIN_DEFAULT 8 /* USERMGR_PASSWORD_MIN_LENGTH's default (API.md §1) */

/*
 * What a validator may need beyond the value itself.  Built by the handler on its stack.
 */
struct validate_ctx {
	unsigned    password_min; /* conf password_min_length; 0: UM_PASSWORD_MIN_DEFAULT */
	const char *username;     /* the account's username: a password must not contain
					 * it (API.md §2); NULL or "" skips that rule */
};

/*
 * The outcome for one field.  Every string is NUL-terminated and belongs to the arena.
 */
struct field_result {
	const char *val;     /* validated, normalised value; NULL when absent or refused */
	size_t      len;     /* bytes in val */
	const char *raw;     /* the input as given, to re-render an HTML form with it;
					 * NULL for VF_SECRET fields, absent fields, and input that
					 * is not NUL-free UTF-8 or is over max_bytes */
	const char *error;   /* message to show beside the field; NULL when valid */
	int         present; /* the field was sent (JSON null counts, see VF_NULLABLE) */
	const char *code;    /* a machine-readable reason beside error for the refusals
					 * that have one ("password_breached"); else NULL */
};

/*
 * A validator checks s[0..n) alone (pure: no database, no clock).  On success it sets r->val
 * and r->len to an arena copy of the normalised value and answers UM_OK; on refusal it sets
 * r->error to a short message and answers UM_EINVAL.  Every validator refuses NUL and
 * ill-formed UTF-8 itself, so it is safe to call outside a field table.
 */
typedef enum um_err validate_fn(struct arena *, const struct validate_ctx *, const char *,
    size_t, struct field_result *);
enum um_err validate_username(struct arena *, const struct validate_ctx *, const char *, size_t,
    struct field_result *);
enum um_err validate_email(struct arena *, const struct validate_ctx *, const char *, size_t,
    struct field_result *);
enum um_err validate_password(struct arena *, const struct validate_ctx *, const char *, size_t,
    struct field_result *);
enum um_err validate_display_name(struct arena *, const struct validate_ctx *, const char *,
    size_t, struct field_result *);
/* One line of free text (a role's description): any Unicode but control characters; the
 * length bound is the field table's max_bytes. */
enum um_err validate_line(struct arena *, const struct validate_ctx *, const char *, size_t,
    struct field_result *);
enum um_err validate_bio(struct arena *, const struct validate_ctx *, const char *, size_t,
    struct field_result *);
enum um_err validate_role_name(struct arena *, const struct validate_ctx *, const char *,
    size_t, struct field_result *);

/* Flags of a field_spec. */
#define VF_REQUIRED 0x01 /* absent or empty: "is required" */
#define VF_SECRET   0x02 /* never echoed back: result raw stays NULL (passwords) */
#define VF_NULLABLE 0x04 /* JSON null is accepted: present, val NULL (PATCH "clear it") */

/*
 * One field of a form or JSON body.  A handler declares its fields once, in a static table
 * indexed by an enum, and afterwards reads only the validated values (STYLE.md "Input"):
 *
 *	enum { F_USERNAME, F_EMAIL, F_PASSWORD, F_CONFIRM, F__MAX };
 *	static const struct field_spec fields[F__MAX] = {
 *		[F_USERNAME] = { "username", validate_username, 0, VF_REQUIRED },
 *		[F_EMAIL] = { "email", validate_email, 0, VF_REQUIRED },
 *		[F_PASSWORD] = { "password", validate_password, 0, VF_REQUIRED | VF_SECRET },
 *		[F_CONFIRM] = { "password_confirm", NULL, 0, VF_REQUIRED | VF_SECRET },
 *	};
 *	struct field_result r[F__MAX];
 *
 *	validate_form(a, &vctx, fields, F__MAX, &form, r);
 *	validate_same(r, F_CONFIRM, F_PASSWORD, "does not match the password");
 *	validate_password_username(r, F_PASSWORD, r[F_USERNAME].val);
 *	if ((errors = validate_errors(a, fields, F__MAX, r)) != NULL)
 *		... 400 with errors, or re-render with r[i].raw and r[i].error ...
 */
struct field_spec {
	const char *name;
	/* NULL: only the common checks (string, length, NUL, UTF-8), the value kept as is */
	validate_fn *fn;
	size_t       max_bytes; /* refused above this before fn runs; 0: UM_FIELD_MAX */
	unsigned     flags;     /* VF_* */
};

/*
 * Validates every field of the table against a decoded form, filling out[0..n) in table
 * order.  Fields not in the table are ignored (csrf_token and the like); a table field sent
 * more than once is refused, since which copy counts would be a guess.  UM_OK when every
 * field is valid, else UM_EINVAL.  The arena owns everything written to out.
 */
enum um_err validate_form(struct arena *, const struct validate_ctx *,
    const struct field_spec *, size_t, const struct kvlist *, struct field_result *);

/*
 * The same for a JSON body (json_body_parse()).  A value of another type than string is
 * refused with "must be a string" (JSON null too, unless VF_NULLABLE); members not in the
 * table are ignored.  UM_EJSON when the body is not an object (out then says every field
 * is absent and holds no error), UM_EINVAL when a field is refused, else UM_OK.
 */
enum um_err validate_json(struct arena *, const struct validate_ctx *,
    const struct field_spec *, size_t, const json_t *, struct field_result *);

/*
 * Cross-field rules, run after validate_form/validate_json.  Each leaves a field that
 * already has an error alone, and answers UM_EINVAL when it adds one.
 *
 * validate_same: r[i] must equal r[j] byte for byte (password_confirm); the message is
 * put on r[i].  Nothing is checked when either is absent or already refused.
 */
enum um_err validate_same(struct field_result *, size_t, size_t, const char *);
/* validate_password_username: r[i] must not contain username, ignoring ASCII case. */
enum um_err validate_password_username(struct field_result *, size_t, const char *);

/*
 * The problem+json `errors` array of API.md §2, [{"field": name, "message": error}, ...],
 * in table order, or NULL when no field has an error; an entry also has "code" when its
 * field_result has one.  Tied to the arena (json_arena()).
 */
json_t *validate_errors(struct arena *, const struct field_spec *, size_t,
    const struct field_result *);

/*
 * Loads the common-password list (fcgi/data/common-passwords.txt: one lower-case password
 * a line) for validate_password, replacing a list loaded before.  Meant to run once per
 * worker at start-up.  UM_EINTERNAL when the file cannot be read or holds no entry; the
 * previous list, if any, is then kept.  Until a list is loaded, no password is refused as
 * common.  The list lives in one malloc'd block until validate_unload_common().
 */
enum um_err validate_load_common(const char *);
void        validate_unload_common(void);
/* Entries in the loaded list (0 when none). */
size_t validate_common_count(void);
/* 1 when pw[0..n), its ASCII letters lower-cased, is in the list; else 0. */
int validate_is_common(const char *, size_t);

/*
 * An id as every answer spells it (API.md §2: decimal strings): digits only, no sign, no
 * leading zero, positive and within long long.  The id, or 0 for anything else (NULL too).
 */
long long validate_id(const char *);

#endif
