/* directory: every SQL statement of the admin area — user search, roles, audit list, admin actions. */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "account.h"
#include "arena.h"
#include "audit.h"
#include "b64.h"
#include "conf.h"
#include "ctx.h"
#include "db.h"
#include "device.h"
#include "directory.h"
#include "revocation.h"
#include "session.h"
#include "token.h"
#include "user.h"
#include "utf8.h"

/* --- search ------------------------------------------------------------------------------ */

static const char *const status_names[DIR__MAX] = {
	[DIR_ANY] = "",
	[DIR_ACTIVE] = "active",
	[DIR_DISABLED] = "disabled",
	[DIR_UNVERIFIED] = "unverified",
};

int
directory_status(const char *s)
{
	int i;

	for (i = DIR_ACTIVE; s != NULL && i < DIR__MAX; i++)
		if (strcmp(s, status_names[i]) == 0)
			return i;
	return -1;
}

/* A cursor holds at most a 19-digit id. */
#define CURSOR_DIGITS 19

const char *
directory_cursor(struct arena *a, long long id)
{
	const char *digits = arena_printf(a, "%lld", id);
	char       *s;

	s = arena_alloc(a, B64URL_LEN(strlen(digits)) + 1);
	(void)b64url_encode(s, (const unsigned char *)digits, strlen(digits));
	return s;
}

long long
directory_parse_cursor(const char *s)
{
	unsigned char raw[CURSOR_DIGITS + 3];
	char          digits[CURSOR_DIGITS + 1], *end;
	size_t        n;
	long          len;
	long long     id;

	if (s == NULL || (n = strlen(s)) == 0 || n > B64URL_LEN(CURSOR_DIGITS))
		return -1;
	if ((len = b64url_decode(raw, s, n)) <= 0 || len > CURSOR_DIGITS)
		return -1;
	memcpy(digits, raw, (size_t)len);
	digits[len] = '\0';
	/* Exactly the spelling directory_cursor makes: digits, no sign, no leading zero. */
	if (digits[0] < '1' || digits[0] > '9' || strspn(digits, "0123456789") != (size_t)len)
		return -1;
	errno = 0;
	id = strtoll(digits, &end, 10);
	if (errno != 0 || *end != '\0' || id <= 0)
		return -1;
	return id;
}

/* The longest key a page cursor holds: an address (bounds of API.md §7), and "e:". */
#define PAGE_KEY_MAX 254

const char *
directory_page_cursor(struct arena *a, const struct dir_pos *pos)
{
	const char *plain;
	char       *s;

	if (pos->order == DIR_ORDER_ID)
		return directory_cursor(a, pos->id);
	plain = arena_printf(a, "%c:%s", pos->order, pos->key);
	s = arena_alloc(a, B64URL_LEN(strlen(plain)) + 1);
	(void)b64url_encode(s, (const unsigned char *)plain, strlen(plain));
	return s;
}

int
directory_parse_page(struct arena *a, const char *s, struct dir_pos *pos)
{
	unsigned char *raw;
	size_t         n;
	long           len;

	memset(pos, 0, sizeof(*pos));
	if ((pos->id = directory_parse_cursor(s)) > 0) {
		pos->order = DIR_ORDER_ID;
		return 0;
	}
	if (s == NULL || (n = strlen(s)) == 0 || n > B64URL_LEN(PAGE_KEY_MAX + 2))
		return -1;
	raw = arena_alloc(a, n + 1);
	if ((len = b64url_decode(raw, s, n)) < 3 || raw[1] != ':' ||
	    (raw[0] != DIR_ORDER_NAME && raw[0] != DIR_ORDER_EMAIL) ||
	    memchr(raw, '\0', (size_t)len) != NULL || !utf8_valid((char *)raw, (size_t)len))
		return -1;
	raw[len] = '\0';
	pos->order = (char)raw[0];
	pos->key = (const char *)raw + 2;
	return 0;
}

/*
 * The columns of struct user (one query for a whole page instead of one lookup per row),
 * then the user's role names, comma-separated and sorted: role names never hold a comma
 * (API.md §7 `[a-z][a-z0-9_-]{1,31}`).
 */
#define DIR_USER_COLUMNS \
	USER_COLUMNS \
	"," \
	" (SELECT GROUP_CONCAT(r.name ORDER BY r.name SEPARATOR ',') FROM user_roles ur" \
	"  JOIN roles r ON r.id = ur.role_id WHERE ur.user_id = users.id)"

/*
 * Every page is a keyset range over one index, read in that index's order, so a page costs
 * about the rows it reads however deep it is and however many users there are (docs/
 * DATABASE.md "Admin lists at scale"):
 *   id order      the primary key, or the index of the narrowest filter that keeps id
 *                 order: users_status (status, id), users_unverified (email_verified_at,
 *                 id), user_roles_role (role_id, user_id);
 *   q, by name    users_username from the prefix on, in username order, then
 *   q, by address users_email likewise, for the users whose name does not match.
 * The other filters are checked on each row the range yields (the role one as a scalar
 * subquery: written as EXISTS, MariaDB would turn it into a semi-join that first collects
 * every member of the role).  A page reads at most
 * DIR_WINDOW index entries: when filters that each match many users match few together, a
 * page can come back short, with a cursor to go on from — never a scan of the table.  The
 * first page chooses the order (choose()); the cursor carries it, so later pages keep it.
 * Filters are catch-all conditions ("? = '' OR ..."): MariaDB folds them once it has the
 * parameters, before it plans.
 */
#define DIR_WINDOW 2000

#define DIR_FILTERS \
	" AND (? = '' OR username LIKE ? ESCAPE '!' OR email LIKE ? ESCAPE '!')" \
	" AND (? = '' OR (SELECT COUNT(*) FROM user_roles fr WHERE fr.user_id = users.id" \
	"  AND fr.role_id = (SELECT id FROM roles WHERE name = ?)) > 0)" \
	" AND (? = 0 OR (? = 1 AND status = 'active') OR (? = 2 AND status = 'disabled')" \
	"  OR (? = 3 AND email_verified_at IS NULL))"
#define DIR_NFILTERS 9

/*
 * Each shape: the range (FROM and WHERE up to the lower bound, one parameter of its own
 * before it at most), its key column, and the index.  The page statement adds the upper
 * bound the window statement found, then the filters.
 */
#define R_ID     " FROM users FORCE INDEX (PRIMARY) WHERE id > ?"
#define R_STATUS " FROM users FORCE INDEX (users_status) WHERE status = ? AND id > ?"
#define R_UNVERIFIED \
	" FROM users FORCE INDEX (users_unverified) WHERE email_verified_at IS NULL AND id > ?"
#define R_ROLE \
	" FROM user_roles ur FORCE INDEX (user_roles_role) STRAIGHT_JOIN users" \
	" ON users.id = ur.user_id" \
	" WHERE ur.role_id = (SELECT id FROM roles WHERE name = ?) AND ur.user_id > ?"
#define R_ROLE_KEYS \
	" FROM user_roles ur FORCE INDEX (user_roles_role)" \
	" WHERE ur.role_id = (SELECT id FROM roles WHERE name = ?) AND ur.user_id > ?"
#define R_NAME \
	" FROM users FORCE INDEX (users_username) WHERE username LIKE ? ESCAPE '!' AND username > ?"
#define R_EMAIL \
	" FROM users FORCE INDEX (users_email) WHERE email LIKE ? ESCAPE '!' AND email > ?"

#define PAGE(range, key, extra) \
	"SELECT " DIR_USER_COLUMNS range " AND (? = 0 OR " key " <= ?)" extra DIR_FILTERS \
	" ORDER BY " key " LIMIT ?"
#define WINDOW(range, key) "SELECT " key range " ORDER BY " key " LIMIT 1 OFFSET ?"

enum shape { BY_ID, BY_STATUS, BY_UNVERIFIED, BY_ROLE, BY_NAME, BY_EMAIL, SHAPES };

#define NOT_NAME " AND NOT (username LIKE ? ESCAPE '!')"
#define SHAPE_PAGES(pre) \
	{ \
		pre PAGE(R_ID, "id", ""), pre PAGE(R_STATUS, "id", ""), \
		    pre PAGE(R_UNVERIFIED, "id", ""), pre PAGE(R_ROLE, "ur.user_id", ""), \
		    pre PAGE(R_NAME, "username", ""), pre PAGE(R_EMAIL, "email", NOT_NAME) \
	}

static const char *const page_sql[SHAPES] = SHAPE_PAGES("");
static const char *const page_explain[SHAPES] = SHAPE_PAGES("EXPLAIN ");
static const char *const window_sql[SHAPES] = { WINDOW(R_ID, "id"), WINDOW(R_STATUS, "id"),
	WINDOW(R_UNVERIFIED, "id"), WINDOW(R_ROLE_KEYS, "ur.user_id"),
	WINDOW(R_NAME, "username"), WINDOW(R_EMAIL, "email") };
static const char *const shape_names[SHAPES] = { "by_id", "by_status", "by_unverified",
	"by_role", "by_name", "by_email" };

/*
 * How many users a driver would read, counted up to PROBE_MAX in its index alone: enough to
 * tell a selective filter from a broad one, for a fraction of a millisecond.
 */
#define PROBE_MAX    1000
#define PROBE(range) "SELECT COUNT(*) FROM (SELECT 1" range " LIMIT ?) x"
static const char sql_probe_name[] = PROBE(R_NAME);
static const char sql_probe_email[] = PROBE(R_EMAIL);
static const char sql_probe_status[] = PROBE(R_STATUS);
static const char sql_probe_unverified[] = PROBE(R_UNVERIFIED);
static const char sql_probe_role[] = PROBE(R_ROLE_KEYS);

/* Row i of a DIR_USER_COLUMNS result as a user object (caller owns it). */
static json_t *
row_json(struct db *db, struct arena *a, const struct db_res *res, size_t i)
{
	struct user u;
	json_t     *roles = json_array();
	const char *list, *p, *comma;

	user_from_row(res, i, &u);
	list = db_cell_text(DB_CELL(res, i, USER_NCOLUMNS));
	for (p = list; p != NULL && *p != '\0'; p = comma + 1) {
		if ((comma = strchr(p, ',')) == NULL) {
			json_array_append_new(roles, json_string(p));
			break;
		}
		json_array_append_new(roles, json_stringn(p, (size_t)(comma - p)));
	}
	return user_json(db, a, &u, roles);
}

/* s with '!', '%' and '_' escaped by '!' and a '%' appended: a LIKE prefix pattern. */
static const char *
like_prefix(struct arena *a, const char *s)
{
	size_t n = strlen(s), i, j = 0;
	char  *out = arena_alloc(a, n * 2 + 2);

	for (i = 0; i < n; i++) {
		if (s[i] == '!' || s[i] == '%' || s[i] == '_')
			out[j++] = '!';
		out[j++] = s[i];
	}
	out[j++] = '%';
	out[j] = '\0';
	return out;
}

/* A search's parameters, worked out once. */
struct search {
	const struct dir_query *q;
	const char             *text, *pattern, *role, *status;
};

/* The parameters of shape sh's range after pos into p; returns how many. */
static size_t
range_params(const struct search *s, enum shape sh, const struct dir_pos *pos, struct db_val *p)
{
	size_t n = 0;

	switch (sh) {
	case BY_STATUS: p[n++] = dbv_text(s->status); break;
	case BY_ROLE: p[n++] = dbv_text(s->role); break;
	case BY_NAME:
	case BY_EMAIL: p[n++] = dbv_text(s->pattern); break;
	case BY_ID:
	case BY_UNVERIFIED:
	case SHAPES: break;
	}
	if (sh == BY_NAME || sh == BY_EMAIL)
		p[n++] = dbv_text(pos->key != NULL ? pos->key : "");
	else
		p[n++] = DBV_INT(pos->id);
	return n;
}

/* A page statement's parameters: range, upper bound hi (order 0: none), filters, limit. */
static size_t
page_params(const struct search *s, enum shape sh, const struct dir_pos *pos,
    const struct dir_pos *hi, unsigned limit, struct db_val *p)
{
	size_t n = range_params(s, sh, pos, p), i;

	p[n++] = DBV_INT(hi->order != 0);
	p[n++] = sh == BY_NAME || sh == BY_EMAIL ? dbv_text(hi->key != NULL ? hi->key : "") :
	                                           DBV_INT(hi->id);
	if (sh == BY_EMAIL)
		p[n++] = dbv_text(s->pattern);
	p[n++] = dbv_text(s->text);
	p[n++] = dbv_text(s->pattern);
	p[n++] = dbv_text(s->pattern);
	p[n++] = dbv_text(s->role);
	p[n++] = dbv_text(s->role);
	for (i = 0; i < 4; i++)
		p[n++] = DBV_INT(s->q->status);
	p[n++] = DBV_INT(limit);
	return n;
}

/* A probe's count of up to PROBE_MAX rows. */
static enum um_err
probe(struct db *db, struct arena *a, const struct search *s, const char *sql, enum shape sh,
    long long *n)
{
	struct dir_pos start = { 0 };
	struct db_val  p[3];
	struct db_res  res;
	size_t         k = range_params(s, sh, &start, p);
	enum um_err    rc;

	p[k++] = DBV_INT(PROBE_MAX);
	if ((rc = db_exec(db, a, sql, p, k, &res)) != UM_OK)
		return rc;
	*n = res.nrows == 1 ? DB_CELL(&res, 0, 0)->i : 0;
	return UM_OK;
}

/* The id-order shape with the smallest range; *est gets its probe (LLONG_MAX: the table). */
static enum um_err
choose_id_shape(struct db *db, struct arena *a, const struct search *s, enum shape *sh,
    long long *est)
{
	enum shape  by = s->q->status == DIR_UNVERIFIED ? BY_UNVERIFIED : BY_STATUS;
	long long   n;
	enum um_err rc;

	*sh = BY_ID;
	*est = LLONG_MAX;
	if (*s->role != '\0') {
		if ((rc = probe(db, a, s, sql_probe_role, BY_ROLE, &n)) != UM_OK)
			return rc;
		*sh = BY_ROLE;
		*est = n;
	}
	if (s->q->status == DIR_ANY)
		return UM_OK;
	if ((rc = probe(db, a, s, by == BY_STATUS ? sql_probe_status : sql_probe_unverified, by,
	         &n)) != UM_OK)
		return rc;
	if (n < *est) {
		*sh = by;
		*est = n;
	}
	return UM_OK;
}

/*
 * The order of a first page: by prefix when q narrows more than every other filter (or is
 * the only one), else id order on the narrowest filter's index.
 */
static enum um_err
choose(struct db *db, struct arena *a, const struct search *s, char *order)
{
	long long   est, by_name, by_email;
	enum shape  sh;
	enum um_err rc;

	*order = DIR_ORDER_ID;
	if ((rc = choose_id_shape(db, a, s, &sh, &est)) != UM_OK || *s->text == '\0')
		return rc;
	if (est != LLONG_MAX) {
		if ((rc = probe(db, a, s, sql_probe_name, BY_NAME, &by_name)) != UM_OK ||
		    (rc = probe(db, a, s, sql_probe_email, BY_EMAIL, &by_email)) != UM_OK)
			return rc;
		if (by_name + by_email >= est)
			return UM_OK;
	}
	*order = DIR_ORDER_NAME;
	return UM_OK;
}

/*
 * One shape's rows after pos, at most limit, among the next DIR_WINDOW entries of its
 * range; *hi gets the window's last entry (order 0 when the range ends inside the window).
 */
static enum um_err
run(struct db *db, struct arena *a, const struct search *s, enum shape sh, char order,
    const struct dir_pos *pos, unsigned limit, struct db_res *res, struct dir_pos *hi)
{
	struct db_val p[8 + DIR_NFILTERS];
	struct db_res w;
	size_t        n = range_params(s, sh, pos, p);
	enum um_err   rc;

	p[n++] = DBV_INT(DIR_WINDOW - 1);
	if ((rc = db_exec(db, a, window_sql[sh], p, n, &w)) != UM_OK)
		return rc;
	memset(hi, 0, sizeof(*hi));
	if (w.nrows == 1) {
		hi->order = order;
		hi->id = DB_CELL(&w, 0, 0)->i;
		hi->key = db_cell_text(DB_CELL(&w, 0, 0));
	}
	n = page_params(s, sh, pos, hi, limit, p);
	return db_exec(db, a, page_sql[sh], p, n, res);
}

/* Appends res's users to out while the page has room; *next follows the last one taken. */
static void
take(struct db *db, struct arena *a, const struct db_res *res, char order, unsigned limit,
    json_t *out, struct dir_pos *next)
{
	struct user u;
	size_t      i;

	for (i = 0; i < res->nrows && json_array_size(out) < limit; i++) {
		json_array_append_new(out, row_json(db, a, res, i));
		user_from_row(res, i, &u);
		next->order = order;
		next->id = u.id;
		next->key = order == DIR_ORDER_NAME ? u.username :
		    order == DIR_ORDER_EMAIL        ? u.email :
		                                      NULL;
	}
}

/*
 * Reads one shape into the page; *more says whether a next page exists, and *next where it
 * starts: after the last user shown, or after the window when it ran out first.
 */
static enum um_err
fill(struct db *db, struct arena *a, const struct search *s, enum shape sh, char order,
    const struct dir_pos *pos, json_t *users, struct dir_pos *next, int *more)
{
	unsigned       room = s->q->limit - (unsigned)json_array_size(users);
	struct dir_pos hi;
	struct db_res  res;
	enum um_err    rc;

	/* One row beyond the room says whether a next page exists. */
	if ((rc = run(db, a, s, sh, order, pos, room + 1, &res, &hi)) != UM_OK)
		return rc;
	take(db, a, &res, order, s->q->limit, users, next);
	if ((*more = res.nrows > room))
		return UM_OK;
	if ((*more = hi.order != 0))
		*next = hi;
	return UM_OK;
}

enum um_err
directory_search(struct db *db, struct arena *a, const struct dir_query *q, json_t **users,
    struct dir_pos *next)
{
	struct search  s = { q, q->q != NULL ? q->q : "", NULL, q->role != NULL ? q->role : "",
		 status_names[q->status] };
	struct dir_pos pos = q->after;
	enum shape     sh;
	long long      est;
	int            more = 0;
	enum um_err    rc;

	*users = NULL;
	memset(next, 0, sizeof(*next));
	s.pattern = like_prefix(a, s.text);
	if (pos.order == 0 && (rc = choose(db, a, &s, &pos.order)) != UM_OK)
		return rc;
	/* A prefix cursor without a prefix (q changed under it) starts over in id order. */
	if (*s.text == '\0' && pos.order != DIR_ORDER_ID)
		pos = (struct dir_pos){ DIR_ORDER_ID, 0, NULL };
	*users = json_array();
	if (pos.order == DIR_ORDER_ID) {
		if ((rc = choose_id_shape(db, a, &s, &sh, &est)) == UM_OK)
			rc = fill(db, a, &s, sh, DIR_ORDER_ID, &pos, *users, next, &more);
	} else if (pos.order == DIR_ORDER_NAME &&
	    ((rc = fill(db, a, &s, BY_NAME, DIR_ORDER_NAME, &pos, *users, next, &more)) !=
	            UM_OK ||
	        more))
		; /* the name range filled the page, failed, or has more after its window */
	else {
		if (pos.order == DIR_ORDER_NAME)
			pos = (struct dir_pos){ DIR_ORDER_EMAIL, 0, "" };
		rc = fill(db, a, &s, BY_EMAIL, DIR_ORDER_EMAIL, &pos, *users, next, &more);
	}
	if (rc != UM_OK) {
		json_decref(*users);
		*users = NULL;
	}
	if (!more)
		memset(next, 0, sizeof(*next));
	return rc;
}

/*
 * The plan MariaDB makes for each shape of the user search, as EXPLAIN rows (for
 * `usermgr-admin explain`, and the test that no shape scans the table or sorts its matches).
 */
enum um_err
directory_explain(struct db *db, struct arena *a, json_t **plans)
{
	static const char *const cols[] = { "id", "select_type", "table", "type",
		"possible_keys", "key", "key_len", "ref", "rows", "Extra" };
	struct dir_query         q = { "u", "user", DIR_ACTIVE, { 0 }, 50 };
	struct search            s = { &q, "u", "u%", "user", "active" };
	struct dir_pos           pos = { 0 }, hi = { DIR_ORDER_ID, LLONG_MAX, "zzzz" };
	struct db_val            p[8 + DIR_NFILTERS];
	struct db_res            res;
	json_t                  *rows, *row;
	size_t                   i, r, c, n;
	enum um_err              rc;

	*plans = json_object();
	for (i = 0; i < SHAPES; i++) {
		n = page_params(&s, (enum shape)i, &pos, &hi, q.limit + 1, p);
		if ((rc = db_exec(db, a, page_explain[i], p, n, &res)) != UM_OK ||
		    res.ncols != sizeof(cols) / sizeof(cols[0])) {
			json_decref(*plans);
			*plans = NULL;
			return rc != UM_OK ? rc : UM_EINTERNAL;
		}
		rows = json_array();
		for (r = 0; r < res.nrows; r++) {
			row = json_object();
			for (c = 0; c < res.ncols; c++)
				json_object_set_new(row, cols[c],
				    json_string(db_cell_text(DB_CELL(&res, r, c)) != NULL ?
				            db_cell_text(DB_CELL(&res, r, c)) :
				            ""));
			json_array_append_new(rows, row);
		}
		json_object_set_new(*plans, shape_names[i], rows);
	}
	return UM_OK;
}

/* --- audit ------------------------------------------------------------------------------- */

/*
 * The names are today's: NULL once the account is deleted (audit rows keep the ids).  Newest
 * first from the cursor down one index — (user_id, id), (event, id) or the primary key —
 * whatever the table's size; a username is looked up first, so it filters like an id.
 */
static const char sql_audit[] =
    "SELECT e.id, e.event, e.user_id, e.actor_id, e.ip,"
    " DATE_FORMAT(e.created_at, '%Y-%m-%dT%H:%i:%sZ'), e.details, u.username, a.username"
    " FROM audit_events e LEFT JOIN users u ON u.id = e.user_id"
    " LEFT JOIN users a ON a.id = e.actor_id"
    " WHERE (? = 0 OR e.user_id = ?)"
    " AND (? = '' OR e.user_id = (SELECT id FROM users WHERE username = ?))"
    " AND (? = '' OR e.event = ?) AND (? = 0 OR e.id < ?) ORDER BY e.id DESC LIMIT ?";

/* A text cell as a JSON string, or null (NULL column, or not UTF-8 after all). */
static json_t *
cell_string(const struct db_val *v)
{
	json_t *s;

	if (v->type == DB_NULL || v->s == NULL || (s = json_string(v->s)) == NULL)
		return json_null();
	return s;
}

/* The details column: the JSON it holds, or its text when it somehow holds none. */
static json_t *
cell_details(const struct db_val *v)
{
	json_t *d;

	if (v->type == DB_NULL || v->s == NULL)
		return json_null();
	if ((d = json_loads(v->s, JSON_DECODE_ANY, NULL)) != NULL)
		return d;
	return cell_string(v);
}

enum um_err
directory_audit(struct db *db, struct arena *a, const struct audit_query *q, json_t **events,
    long long *next)
{
	const char   *username = q->username != NULL ? q->username : "";
	const char   *event = q->event != NULL ? q->event : "";
	struct db_val p[9];
	struct db_res res;
	size_t        i, shown;
	enum um_err   rc;

	*events = NULL;
	*next = 0;
	p[0] = DBV_INT(q->user_id);
	p[1] = DBV_INT(q->user_id);
	p[2] = dbv_text(username);
	p[3] = dbv_text(username);
	p[4] = dbv_text(event);
	p[5] = dbv_text(event);
	p[6] = DBV_INT(q->before);
	p[7] = DBV_INT(q->before);
	p[8] = DBV_INT(q->limit + 1);
	if ((rc = db_exec(db, a, sql_audit, p, 9, &res)) != UM_OK)
		return rc;
	shown = res.nrows > q->limit ? q->limit : res.nrows;
	*events = json_array();
	for (i = 0; i < shown; i++)
		json_array_append_new(*events,
		    json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "id",
		        cell_string(DB_CELL(&res, i, 0)), "event",
		        cell_string(DB_CELL(&res, i, 1)), "user_id",
		        cell_string(DB_CELL(&res, i, 2)), "actor_id",
		        cell_string(DB_CELL(&res, i, 3)), "ip",
		        cell_string(DB_CELL(&res, i, 4)), "created_at",
		        cell_string(DB_CELL(&res, i, 5)), "details",
		        cell_details(DB_CELL(&res, i, 6)), "username",
		        cell_string(DB_CELL(&res, i, 7)), "actor_username",
		        cell_string(DB_CELL(&res, i, 8))));
	if (res.nrows > q->limit && shown > 0)
		*next = DB_CELL(&res, shown - 1, 0)->i;
	return UM_OK;
}

/* --- roles ------------------------------------------------------------------------------- */

static const char sql_roles[] = "SELECT name, description, builtin FROM roles ORDER BY name";

json_t *
directory_roles(struct db *db, struct arena *a)
{
	struct db_res res;
	json_t       *list;
	size_t        i;

	if (db_exec(db, a, sql_roles, NULL, 0, &res) != UM_OK)
		return NULL;
	list = json_array();
	for (i = 0; i < res.nrows; i++)
		json_array_append_new(list,
		    json_pack("{s:o, s:o, s:b}", "name", cell_string(DB_CELL(&res, i, 0)),
		        "description", cell_string(DB_CELL(&res, i, 1)), "builtin",
		        DB_CELL(&res, i, 2)->i != 0));
	return list;
}

static const char sql_role_insert[] = "INSERT INTO roles (name, description) VALUES (?, ?)";

enum um_err
directory_role_create(struct ctx *ctx, const char *name, const char *description)
{
	struct db    *db = ctx->db;
	struct db_val p[2] = { dbv_text(name),
		dbv_text(description != NULL ? description : "") };
	enum um_err   rc;

	if ((rc = db_begin(db)) != UM_OK)
		return rc;
	if ((rc = db_exec(db, ctx->arena, sql_role_insert, p, 2, NULL)) != UM_OK ||
	    (rc = audit_log(ctx, AUDIT_ROLE_CREATED, 0, ctx->actor,
	         json_pack("{s:s}", "role", name))) != UM_OK ||
	    (rc = db_commit(db)) != UM_OK)
		db_rollback(db);
	return rc;
}

/* --- actions on one account -------------------------------------------------------------- */

/*
 * Every token of the user dies with the token_version bump (access.c checks it on each
 * request); sessions and refresh families end with session_end_all.
 */
static const char sql_disable[] =
    "UPDATE users SET status = 'disabled', token_version = token_version + 1,"
    " updated_at = UTC_TIMESTAMP(6) WHERE id = ?";
/* Enabling also lifts a lockout (and the device lockouts, status_change): the admin means
 * the account to be usable now. */
static const char sql_enable[] =
    "UPDATE users SET status = 'active', token_version = token_version + 1,"
    " failed_logins = 0, locked_until = NULL, updated_at = UTC_TIMESTAMP(6) WHERE id = ?";
static const char sql_bump[] =
    "UPDATE users SET token_version = token_version + 1, updated_at = UTC_TIMESTAMP(6)"
    " WHERE id = ?";
static const char sql_set_verified[] =
    "UPDATE users SET email_verified_at = IF(?, IFNULL(email_verified_at, UTC_TIMESTAMP(6)),"
    " NULL), updated_at = UTC_TIMESTAMP(6) WHERE id = ?";
static const char sql_display_name[] =
    "UPDATE users SET display_name = ?, updated_at = UTC_TIMESTAMP(6) WHERE id = ?";
static const char sql_role_id[] = "SELECT id, name FROM roles WHERE name = ?";
static const char sql_roles_clear[] = "DELETE FROM user_roles WHERE user_id = ?";
static const char sql_role_grant[] =
    "INSERT IGNORE INTO user_roles (user_id, role_id) VALUES (?, ?)";

/*
 * The ids of the roles names[0..n), in the arena.  UM_EINVAL with *unknown set when one is
 * not a role.
 */
static enum um_err
role_ids(struct ctx *ctx, const char *const *names, size_t n, long long **ids,
    const char **unknown)
{
	struct db_val p[1];
	struct db_res res;
	size_t        i;
	enum um_err   rc;

	*unknown = NULL;
	*ids = arena_calloc(ctx->arena, n + 1, sizeof(**ids));
	for (i = 0; i < n; i++) {
		p[0] = dbv_text(names[i]);
		if ((rc = db_exec(ctx->db, ctx->arena, sql_role_id, p, 1, &res)) != UM_OK)
			return rc;
		/* The column's _ci collation would let "Admin" through: names match exactly. */
		if (res.nrows != 1 || strcmp(DB_CELL(&res, 0, 1)->s, names[i]) != 0) {
			*unknown = names[i];
			return UM_EINVAL;
		}
		(*ids)[i] = DB_CELL(&res, 0, 0)->i;
	}
	return UM_OK;
}

/* Grants the roles ids[0..n) to user_id (held already: no change). */
static enum um_err
grant(struct ctx *ctx, long long user_id, const long long *ids, size_t n)
{
	struct db_val p[2];
	size_t        i;
	enum um_err   rc;

	p[0] = DBV_INT(user_id);
	for (i = 0; i < n; i++) {
		p[1] = DBV_INT(ids[i]);
		if ((rc = db_exec(ctx->db, ctx->arena, sql_role_grant, p, 2, NULL)) != UM_OK)
			return rc;
	}
	return UM_OK;
}

enum um_err
directory_create(struct ctx *ctx, const struct new_account *na, long long *id,
    const char **unknown)
{
	struct db  *db = ctx->db;
	long long  *ids;
	json_t     *roles;
	size_t      i;
	enum um_err rc;

	if ((rc = role_ids(ctx, na->roles, na->nroles, &ids, unknown)) != UM_OK)
		return rc;
	roles = json_array();
	(void)json_array_append_new(roles, json_string("user"));
	for (i = 0; i < na->nroles; i++)
		if (strcmp(na->roles[i], "user") != 0)
			(void)json_array_append_new(roles, json_string(na->roles[i]));
	if ((rc = db_begin(db)) != UM_OK) {
		json_decref(roles);
		return rc;
	}
	if ((rc = user_create(db, ctx->arena, na->username, na->email, na->password_hash,
	         na->verified, id)) != UM_OK ||
	    (rc = grant(ctx, *id, ids, na->nroles)) != UM_OK) {
		json_decref(roles);
		goto fail;
	}
	if ((rc = audit_log(ctx, na->event, *id, ctx->actor,
	         json_pack("{s:o}", "roles", roles))) != UM_OK ||
	    (rc = db_commit(db)) != UM_OK)
		goto fail;
	return UM_OK;
fail:
	db_rollback(db);
	return rc;
}

/* What a status change does besides its UPDATE. */
enum { END_SESSIONS = 1, LIFT_DEVICE_LOCKOUTS = 2 };

/*
 * Runs the steps of one action, its revocation row and its audit row in one transaction.
 * The `user` row comes with session_end_all when sessions end, else it is written here: a
 * cache holds the status too.
 */
static enum um_err
status_change(struct ctx *ctx, const struct user *u, const char *sql, int also,
    enum audit_event e)
{
	struct db    *db = ctx->db;
	struct db_val p[1] = { DBV_INT(u->id) };
	enum um_err   rc;

	if ((rc = db_begin(db)) != UM_OK)
		return rc;
	if ((rc = db_exec(db, ctx->arena, sql, p, 1, NULL)) != UM_OK ||
	    ((also & END_SESSIONS) && (rc = session_end_all(ctx, u->id, NULL)) != UM_OK) ||
	    (!(also & END_SESSIONS) && (rc = revocation_user(ctx, u->id)) != UM_OK) ||
	    ((also & LIFT_DEVICE_LOCKOUTS) &&
	        (rc = device_forget(db, ctx->arena, u->id)) != UM_OK) ||
	    (rc = audit_log(ctx, e, u->id, ctx->actor,
	         json_pack("{s:s}", "username", u->username))) != UM_OK ||
	    (rc = db_commit(db)) != UM_OK)
		db_rollback(db);
	return rc;
}

enum um_err
directory_disable(struct ctx *ctx, const struct user *u)
{
	return status_change(ctx, u, sql_disable, END_SESSIONS, AUDIT_USER_DISABLED);
}

enum um_err
directory_enable(struct ctx *ctx, const struct user *u)
{
	return status_change(ctx, u, sql_enable, LIFT_DEVICE_LOCKOUTS, AUDIT_USER_ENABLED);
}

enum um_err
directory_set_verified(struct ctx *ctx, const struct user *u, int verified)
{
	struct db    *db = ctx->db;
	struct db_val p[2] = { DBV_INT(verified ? 1 : 0), DBV_INT(u->id) };
	enum um_err   rc;

	if ((rc = db_begin(db)) != UM_OK)
		return rc;
	if ((rc = db_exec(db, ctx->arena, sql_set_verified, p, 2, NULL)) != UM_OK ||
	    (rc = revocation_user(ctx, u->id)) != UM_OK ||
	    (rc = audit_log(ctx, verified ? AUDIT_USER_VERIFIED : AUDIT_USER_UNVERIFIED, u->id,
	         ctx->actor, json_pack("{s:s}", "email", u->email))) != UM_OK ||
	    (rc = db_commit(db)) != UM_OK)
		db_rollback(db);
	return rc;
}

enum um_err
directory_set_display_name(struct ctx *ctx, const struct user *u, const char *name)
{
	struct db    *db = ctx->db;
	struct db_val p[2];
	enum um_err   rc;

	p[0] = name != NULL && *name != '\0' ? dbv_text(name) : DBV_NULL;
	p[1] = DBV_INT(u->id);
	if ((rc = db_begin(db)) != UM_OK)
		return rc;
	if ((rc = db_exec(db, ctx->arena, sql_display_name, p, 2, NULL)) != UM_OK ||
	    (rc = revocation_user(ctx, u->id)) != UM_OK ||
	    (rc = audit_log(ctx, AUDIT_PROFILE_CHANGED_BY_ADMIN, u->id, ctx->actor,
	         json_pack("{s:s?}", "display_name", p[0].type == DB_NULL ? NULL : name))) !=
	        UM_OK ||
	    (rc = db_commit(db)) != UM_OK)
		db_rollback(db);
	return rc;
}

enum um_err
directory_delete(struct ctx *ctx, const struct user *u)
{
	struct db  *db = ctx->db;
	enum um_err rc;

	if ((rc = db_begin(db)) != UM_OK)
		return rc;
	/*
	 * Sessions, refresh families and roles go by ON DELETE CASCADE; the audit and
	 * revocation rows stay (no foreign key), so every cache hears of the deletion.
	 */
	if ((rc = audit_log(ctx, AUDIT_USER_DELETED, u->id, ctx->actor,
	         json_pack("{s:s, s:s}", "username", u->username, "email", u->email))) !=
	        UM_OK ||
	    (rc = user_delete(db, ctx->arena, u->id)) != UM_OK ||
	    (rc = revocation_user(ctx, u->id)) != UM_OK || (rc = db_commit(db)) != UM_OK)
		db_rollback(db);
	return rc;
}

enum um_err
directory_set_roles(struct ctx *ctx, const struct user *u, const char *const *names, size_t n,
    const char **unknown)
{
	struct db    *db = ctx->db;
	struct db_val p[1];
	long long    *ids;
	json_t       *before, *after, *details = NULL;
	enum um_err   rc;

	if ((rc = role_ids(ctx, names, n, &ids, unknown)) != UM_OK)
		return rc;
	before = user_roles(db, ctx->arena, u->id);
	if ((rc = db_begin(db)) != UM_OK) {
		json_decref(before);
		return rc;
	}
	p[0] = DBV_INT(u->id);
	if ((rc = db_exec(db, ctx->arena, sql_roles_clear, p, 1, NULL)) != UM_OK ||
	    (rc = grant(ctx, u->id, ids, n)) != UM_OK)
		goto fail;
	after = user_roles(db, ctx->arena, u->id);
	details = json_pack("{s:o, s:o}", "before", before, "after", after);
	before = NULL;
	/*
	 * New roles apply at once: old tokens and sessions carry the old ones (DECISIONS.md).
	 * session_end_all logs the `user` revocation row.
	 */
	if ((rc = db_exec(db, ctx->arena, sql_bump, p, 1, NULL)) != UM_OK ||
	    (rc = session_end_all(ctx, u->id, NULL)) != UM_OK)
		goto fail;
	rc = audit_log(ctx, AUDIT_ROLES_CHANGED, u->id, ctx->actor, details);
	details = NULL;
	if (rc != UM_OK || (rc = db_commit(db)) != UM_OK)
		goto fail;
	return UM_OK;
fail:
	json_decref(details);
	json_decref(before);
	db_rollback(db);
	return rc;
}

enum um_err
directory_force_reset(struct ctx *ctx, const struct user *u)
{
	struct db  *db = ctx->db;
	const char *hash;
	enum um_err rc;

	/*
	 * '!' never starts a PHC string or a hex digest, so no password verifies against it
	 * (sql/001_init.sql); the random rest makes each forced reset's hash, and so the
	 * fingerprint its reset link is bound to, new.
	 */
	hash = arena_printf(ctx->arena, "!%s", token_new(ctx->arena));
	if ((rc = db_begin(db)) != UM_OK)
		return rc;
	/* session_end_all logs the `user` revocation row. */
	if ((rc = user_set_password(db, ctx->arena, u->id, hash)) != UM_OK ||
	    (rc = session_end_all(ctx, u->id, NULL)) != UM_OK ||
	    (rc = audit_log(ctx, AUDIT_PASSWORD_RESET_FORCED, u->id, ctx->actor, NULL)) !=
	        UM_OK ||
	    (rc = db_commit(db)) != UM_OK) {
		db_rollback(db);
		return rc;
	}
	/* After the commit: the link is bound to the new hash, so it is the one that works. */
	return account_send_reset(ctx, u->email);
}

enum um_err
directory_resend_verification(struct ctx *ctx, const struct user *u)
{
	enum um_err rc;

	if ((rc = account_resend_verification(ctx, u->email)) != UM_OK)
		return rc;
	return audit_log(ctx, AUDIT_VERIFICATION_RESENT_BY_ADMIN, u->id, ctx->actor,
	    json_pack("{s:b}", "sent", !u->email_verified && strcmp(u->status, "active") == 0));
}
