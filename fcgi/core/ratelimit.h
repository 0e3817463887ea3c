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

#endif
