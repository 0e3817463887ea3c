/* ratelimit: fixed-window counters in MariaDB, shared by every worker and host. */
#ifndef UM_RATELIMIT_H
#define UM_RATELIMIT_H

#include "error.h"

struct arena;
struct db;

/*
 * Counts one hit on bucket in the current window of window seconds.  UM_OK while the count
 * is at most limit, UM_ERATE past it with *retry_after set to the seconds until the window
 * ends (at least 1).  UM_EUNAVAIL when the database is down.
 */
enum um_err ratelimit_hit(struct db *, struct arena *, const char *, unsigned, unsigned,
    long long *);

/*
 * The longest window any bucket uses (the per-address mail limit's hour, with room):
 * retention_prune deletes windows that started longer ago than this.
 */
#define RATELIMIT_WINDOW_MAX 86400 /* seconds */

/*
 * The per-IP bucket of a client address, "ip:<key>", arena-owned.  An IPv6 client is
 * counted per /64 (one subscriber's usual allocation, so stepping through its own
 * addresses gains nothing): "ip:2001:db8:1:2::/64".  An IPv4-mapped IPv6 address counts
 * as its IPv4 address; IPv4 and anything unparsable stay as given.
 */
const char *ratelimit_ip_key(struct arena *, const char *);

#endif
