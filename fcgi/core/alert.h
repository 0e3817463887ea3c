/* alert: the new-device sign-in alert — who signed in from where, the mail, and "This was not me". */
#ifndef UM_ALERT_H
#define UM_ALERT_H

#include <stddef.h>

#include "error.h"

struct arena;
struct ctx;
struct db;
struct device;
struct user;

#define ALERT_SEEN_DAYS   90 /* a (family, network) pair counts as known this long */
#define ALERT_NETWORK_MAX 64 /* bytes of a network's text, NUL included */

/*
 * The browser family of a User-Agent ("Firefox", "Chrome", "Edge", "Safari", "Opera", …,
 * "Other" for anything else or NULL): a static string.  Families, not versions, so an
 * update does not look like a new device.
 */
const char *alert_family(const char *);
/*
 * The network of a client address: an IPv4 /24 ("203.0.113.0/24"), an IPv6 /48
 * ("2001:db8:1::/48"; an IPv4-mapped IPv6 address counts as IPv4) into out
 * (ALERT_NETWORK_MAX bytes).  -1 (out "unknown") when ip is NULL or not an address.
 */
int alert_network(const char *, char *);

/*
 * After a successful sign-in of u (login_succeeded, in its transaction; u as it was before
 * the sign-in): records the (browser family, network) pair of ctx's client, and when the
 * device dev (may be NULL) holds no device cookie of this account, the pair was not seen in
 * ALERT_SEEN_DAYS days, it is not the account's first sign-in ever and the owner did not
 * turn alerts off, queues the alert mail with a "This was not me" link and audits it.  The
 * link ends ctx->session (when set) and every refresh family of the user.
 */
enum um_err alert_signin(struct ctx *, const struct user *, const struct device *);
/*
 * Checks a "This was not me" token without using it (the GET page): UM_OK with *user_id,
 * UM_ETOKEN (forged, another purpose, unknown or used), UM_EEXPIRED.
 */
enum um_err alert_check(struct ctx *, const char *, long long *);
/*
 * Uses it, in one transaction: marks it used (it works once however many requests carry
 * it), ends the session of the alerted sign-in and every refresh family of the user,
 * queues a reset link as forgot-password does, and audits it.  The same refusals as
 * alert_check; *user_id set on UM_OK.
 */
enum um_err alert_disown(struct ctx *, const char *, long long *);
/* Whether user_id gets alerts (*on); UM_EUNAVAIL when the database is down. */
enum um_err alert_enabled(struct db *, struct arena *, long long, int *);
/* Turns user_id's alerts on or off, audited when it changes. */
enum um_err alert_set(struct ctx *, long long, int);

#endif
