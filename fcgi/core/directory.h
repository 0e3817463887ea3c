/* directory: the administrators' view of the accounts — search, roles, and actions on other users. */
#ifndef UM_DIRECTORY_H
#define UM_DIRECTORY_H

#include <stddef.h>

#include <jansson.h>

#include "audit.h"
#include "error.h"
#include "user.h"

struct arena;
struct db;
struct ctx;

#define DIRECTORY_LIMIT_DEFAULT 50  /* API.md §7: limit defaults to 50 ... */
#define DIRECTORY_LIMIT_MAX     100 /* ... and is at most 100 */

/* status= of a user search (API.md §7 "Shapes"). */
enum dir_status {
	DIR_ANY = 0,
	DIR_ACTIVE, /* not disabled, verified or not */
	DIR_DISABLED,
	DIR_UNVERIFIED, /* the address is not verified, whatever the status */
	DIR__MAX
};

/* Orders of a user search's pages (docs/DATABASE.md "Admin lists at scale"). */
#define DIR_ORDER_ID    'i' /* by id */
#define DIR_ORDER_NAME  'u' /* q: the usernames with the prefix, by username */
#define DIR_ORDER_EMAIL 'e' /* q: then the addresses with it (name not matching), by address */

/* Where a page starts: after this user, in this order; order 0 is the first page. */
struct dir_pos {
	char        order;
	long long   id;  /* DIR_ORDER_ID */
	const char *key; /* DIR_ORDER_NAME, DIR_ORDER_EMAIL: the username or address */
};

/* A user search: every member may be empty/0, which means "no filter". */
struct dir_query {
	const char     *q;    /* username or address prefix, case-insensitive */
	const char     *role; /* a role name */
	enum dir_status status;
	struct dir_pos  after; /* keyset cursor */
	unsigned        limit; /* 1..DIRECTORY_LIMIT_MAX */
};

/* The status filter named s ("active", "disabled", "unverified"), or -1. */
int directory_status(const char *);

/*
 * Opaque cursors (API.md §7): base64url of the decimal id the next page starts after.
 * directory_cursor returns an arena string; directory_parse_cursor answers the id, or -1
 * when s is not a cursor this code made.
 */
const char *directory_cursor(struct arena *, long long);
long long   directory_parse_cursor(const char *);
/*
 * A user search's cursor: base64url of "u:NAME" or "e:ADDRESS", or of the bare id for
 * id order (the spelling directory_cursor gives, so older cursors and after=ID still work).
 * directory_parse_page fills *pos; -1 when s is not such a cursor.
 */
const char *directory_page_cursor(struct arena *, const struct dir_pos *);
int         directory_parse_page(struct arena *, const char *, struct dir_pos *);

/*
 * Users matching q, as API.md §4 user objects (*users, caller owns it), in id order or, for
 * a selective q, in name then address order.  *next is where the next page starts (order 0
 * on the last page).
 */
enum um_err directory_search(struct db *, struct arena *, const struct dir_query *, json_t **,
    struct dir_pos *);
/* EXPLAIN rows of every statement shape the search uses, by shape name (caller owns it). */
enum um_err directory_explain(struct db *, struct arena *, json_t **);

/* Which audit events: 0, NULL or "" means any; before 0 means from the newest. */
struct audit_query {
	long long   user_id;  /* about this account */
	const char *username; /* about the account of this name (today's name) */
	const char *event;    /* an audit_name() */
	long long   before;   /* ids below this one */
	unsigned    limit;    /* at most this many */
};

/*
 * Audit events, newest first, in the API.md §7 shape plus username and actor_username (the
 * accounts' names, null when there is no account or it was deleted) (*events, caller owns
 * it).  *next as for directory_search (an id to continue below).
 */
enum um_err directory_audit(struct db *, struct arena *, const struct audit_query *, json_t **,
    long long *);

/* Every role, [{name, description, builtin}] by name (caller owns it); NULL on failure. */
json_t *directory_roles(struct db *, struct arena *);
/* An account made by an operator (create-user) or brought from the seed app (import). */
struct new_account {
	const char        *username;      /* valid (validate_username) */
	const char        *email;         /* normalised (validate_email) */
	const char        *password_hash; /* Argon2id PHC, or a legacy SHA-256 in hex */
	int                verified;
	const char *const *roles; /* beside `user`, which every account has */
	size_t             nroles;
	enum audit_event   event; /* AUDIT_USER_CREATED or AUDIT_USER_IMPORTED */
};

/*
 * Creates the account with its roles and audits na->event, in one transaction; *id gets
 * its id.  UM_EINVAL with *unknown set when a role does not exist; UM_ECONFLICT when the
 * username or address is taken.
 */
enum um_err directory_create(struct ctx *, const struct new_account *, long long *,
    const char **);
/* Creates a role (name already validated); audited.  UM_ECONFLICT when the name is taken. */
enum um_err directory_role_create(struct ctx *, const char *, const char *);

/*
 * Actions on account u by the administrator ctx->actor (audited with its id and ctx's
 * client address), each in one transaction.  Disabling, deleting, changing roles
 * and forcing a reset end every browser session and API token of u at once (API.md §7).
 */
enum um_err directory_disable(struct ctx *, const struct user *);
enum um_err directory_enable(struct ctx *, const struct user *);
enum um_err directory_set_verified(struct ctx *, const struct user *, int);
enum um_err directory_set_display_name(struct ctx *, const struct user *, const char *);
enum um_err directory_delete(struct ctx *, const struct user *);
/*
 * Replaces u's roles with names[0..n) (duplicates allowed).  UM_EINVAL when a name is not a
 * role: *unknown then names it.
 */
enum um_err directory_set_roles(struct ctx *, const struct user *, const char *const *, size_t,
    const char **);
/*
 * The password stops working (its hash becomes '!' and random bytes, which no password
 * matches), sessions and tokens end, and a reset link is mailed (API.md §7).
 */
enum um_err directory_force_reset(struct ctx *, const struct user *);
/* Mails a new verification link when u is active and unverified; audited either way. */
enum um_err directory_resend_verification(struct ctx *, const struct user *);

#endif
