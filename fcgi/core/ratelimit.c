/* ratelimit: one upsert per hit; LAST_INSERT_ID(expr) hands back the new count in the same trip. */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <time.h>

#include "arena.h"
#include "db.h"
#include "ratelimit.h"

static const char sql_hit[] =
    "INSERT INTO rate_limits (bucket, window_start, count) VALUES (?, FROM_UNIXTIME(?), 1)"
    " ON DUPLICATE KEY UPDATE count = LAST_INSERT_ID(count + 1)";

/* Old windows of the bucket go when a new one starts, so the table stays small. */
static const char sql_prune[] =
    "DELETE FROM rate_limits WHERE bucket = ? AND window_start < FROM_UNIXTIME(?)";

enum um_err
ratelimit_hit(struct db *db, struct arena *a, const char *bucket, unsigned limit,
    unsigned window, long long *retry_after)
{
	struct db_val p[2];
	struct db_res res;
	long long     now = (long long)time(NULL), start, count;
	enum um_err   rc;

	start = now - now % window;
	p[0] = dbv_text(bucket);
	p[1] = DBV_INT(start);
	if ((rc = db_exec(db, a, sql_hit, p, 2, &res)) != UM_OK)
		return rc;
	/* A fresh row reports no insert id (no AUTO_INCREMENT): that is the first hit. */
	count = res.insert_id > 0 ? (long long)res.insert_id : 1;
	if (count == 1 && (rc = db_exec(db, a, sql_prune, p, 2, NULL)) != UM_OK)
		return rc;
	if (count <= (long long)limit)
		return UM_OK;
	*retry_after = start + window - now;
	if (*retry_after < 1)
		*retry_after = 1;
	return UM_ERATE;
}

const char *
ratelimit_ip_key(struct arena *a, const char *addr)
{
	struct in6_addr in6;
	char            text[INET6_ADDRSTRLEN];

	if (inet_pton(AF_INET6, addr, &in6) != 1)
		return arena_printf(a, "ip:%s", addr);
	if (IN6_IS_ADDR_V4MAPPED(&in6)) {
		if (inet_ntop(AF_INET, &in6.s6_addr[12], text, sizeof(text)) == NULL)
			return arena_printf(a, "ip:%s", addr);
		return arena_printf(a, "ip:%s", text);
	}
	memset(&in6.s6_addr[8], 0, 8);
	if (inet_ntop(AF_INET6, &in6, text, sizeof(text)) == NULL)
		return arena_printf(a, "ip:%s", addr);
	return arena_printf(a, "ip:%s/64", text);
}
