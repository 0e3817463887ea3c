/* account: the account lifecycle shared by the HTML pages and the JSON API — sign-up, links, resets. */
#ifndef UM_ACCOUNT_H
#define UM_ACCOUNT_H

#include <stddef.h>

#include "audit.h"
#include "error.h"
#include "user.h"

struct ctx;

/*
 * Creates an unverified account and queues its verification mail in one transaction;
 * *id gets the new id.  UM_ECONFLICT when a concurrent sign-up took the name or address.
 */
enum um_err account_create(struct ctx *, const char *, const char *, const char *, long long *);

/*
 * The mail a visitor who is not signed in may ask for; the names are mail_requests.kind
 * (sql/005_mail_requests.sql).
 */
enum mail_request {
	MAIL_REQ_RESET = 0, /* forgot-password: a reset link, if an active account has it */
	MAIL_REQ_VERIFY,    /* resend: a verification link, if it is active and unverified */
	MAIL_REQ__MAX
};

/*
 * Records what a visitor asked for with one INSERT into mail_requests, the same statement
 * whatever the address, so neither the answer nor its time tells whether an account has it
 * (hardening item 8).  usermgr-mailer does the rest (account_handle_requests).
 */
enum um_err account_request_mail(struct ctx *, enum mail_request, const char *);
/*
 * The mailer's side: handles up to max waiting requests, oldest first, each in one
 * transaction that looks the address up, applies the per-recipient limit, queues the mail,
 * writes the audit event (with the requester's IP) and deletes the request — so a request
 * has its effect exactly once.  A request whose own work fails is logged and dropped; one
 * the database failed waits for the next call.  *handled gets how many were handled.
 */
enum um_err account_handle_requests(struct ctx *, size_t, size_t *);
/* What a sign-up came to (account_register). */
struct signup {
	long long id;             /* the new account; 0 when none was made */
	int       username_taken; /* on UM_ECONFLICT: what to name as taken */
	int       email_taken;    /* never set with enumeration prevention */
};

/*
 * The sign-up rules of the form and the API (API.md §7), input already valid: a taken
 * username is UM_ECONFLICT, and so is a taken address unless enumeration prevention is on —
 * then the password is hashed all the same, a notice to the address's owner (no link that
 * changes the account) is queued within the per-recipient limit, the answer is UM_OK with
 * out->id 0, and nothing, its time included, tells the two apart.  Otherwise the account is created with its verification
 * mail (account_create): UM_OK with out->id set.
 */
enum um_err account_register(struct ctx *, const char *, const char *, const char *, size_t,
    struct signup *);
/*
 * Queues a new verification link now if an active, unverified account has the address,
 * within the per-recipient limit (the admin's resend; visitors go through
 * account_request_mail).
 */
enum um_err account_resend_verification(struct ctx *, const char *);
/*
 * Follows a verification link: UM_OK (verified now or before), UM_ETOKEN (forged, other
 * purpose, or the address changed since), UM_EEXPIRED.  *user_id is set on UM_OK.
 */
enum um_err account_verify_email(struct ctx *, const char *, long long *);
/*
 * Queues a reset link bound to the current password now, if an active account has the
 * address, within the per-recipient limit (the admin's forced reset; visitors go through
 * account_request_mail).
 */
enum um_err account_send_reset(struct ctx *, const char *);
/* The same inside the caller's transaction ("This was not me": alert.c). */
enum um_err account_queue_reset(struct ctx *, const char *);
/*
 * Checks a reset link: it must be authentic, unexpired, and made for the password the
 * account has now (so it works once).  Fills *u.  UM_ETOKEN / UM_EEXPIRED otherwise.
 */
enum um_err account_check_reset(struct ctx *, const char *, struct user *);
/*
 * Sets a new password (hash given) and ends every session and refresh family of the user
 * except the browser session whose hash is keep (NULL: all), mails the notice, audits
 * event — one transaction.  Lifts a lockout.
 */
enum um_err account_set_password(struct ctx *, const struct user *, const char *,
    const unsigned char *, enum audit_event);
/*
 * Uses a reset link: sets the password to hash (made before, outside the transaction)
 * with account_set_password's effects, the link checked again against the user row locked
 * in the same transaction, so a link works once however many requests carry it at once.
 * UM_ETOKEN when it no longer matches (used meanwhile), UM_EEXPIRED; *user_id is the
 * link's user (0 when the token did not verify).
 */
enum um_err account_reset_password(struct ctx *, const char *, const char *, long long *);

/*
 * Records a pending change of u's address to new_email — replacing an older request, whose
 * link dies — and mails the link to the new address and a notice to the old one.
 */
enum um_err account_request_email_change(struct ctx *, const struct user *, const char *);
/*
 * Checks a change-of-address link without using it (the GET page): UM_OK, UM_ETOKEN (also
 * when replaced by a newer request), UM_EEXPIRED, UM_EDISABLED (the account is disabled).
 * *new_email (may be NULL) is set on UM_OK.
 */
enum um_err account_check_email_change(struct ctx *, const char *, const char **);
/*
 * Follows it: the new address becomes the verified address, the pending row goes.
 * UM_ECONFLICT when someone registered the address meanwhile; UM_EDISABLED (nothing
 * changes) when the account is disabled.
 */
enum um_err account_confirm_email_change(struct ctx *, const char *);
/* Deletes the account of u (sessions and tokens go with it) and audits it. */
enum um_err account_delete(struct ctx *, const struct user *);
/*
 * Sets the display name and bio of user id (NULL or "" clears), with its `user`
 * revocation row, in one transaction (PATCH /api/v1/me, POST /profile).
 */
enum um_err account_update_profile(struct ctx *, long long, const char *, const char *);
/*
 * Deletes every account created more than days ago whose address was never verified (issue
 * 10, item 17: nobody can hold an address for ever without proving it); *n gets how many.
 */
enum um_err account_prune_unverified(struct ctx *, unsigned, unsigned long long *);

#endif
