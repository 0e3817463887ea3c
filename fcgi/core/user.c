/* user: every SQL statement about accounts lives here, prepared once per connection. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "arena.h"
#include "b64.h"
#include "db.h"
#include "token.h"
#include "user.h"

static const char sql_by_id[] = "SELECT " USER_COLUMNS " FROM users WHERE id = ?";
static const char sql_by_login[] =
    "SELECT " USER_COLUMNS " FROM users WHERE username = ? OR email = ? ORDER BY id LIMIT 1";
static const char sql_by_email[] = "SELECT " USER_COLUMNS " FROM users WHERE email = ?";
static const char sql_lock[] = "SELECT " USER_COLUMNS " FROM users WHERE id = ? FOR UPDATE";

static const char sql_for_token[] =
    "SELECT " USER_COLUMNS ", EXISTS (SELECT 1 FROM refresh_families f WHERE f.id = ?"
    "  AND f.user_id = users.id AND f.revoked_at IS NULL) FROM users WHERE id = ?";

void
user_from_row(const struct db_res *res, size_t i, struct user *u)
{
	memset(u, 0, sizeof(*u));
	u->id = DB_CELL(res, i, 0)->i;
	u->username = DB_CELL(res, i, 1)->s;
	u->email = DB_CELL(res, i, 2)->s;
	u->password_hash = DB_CELL(res, i, 3)->s;
	u->display_name = db_cell_text(DB_CELL(res, i, 4));
	u->bio = db_cell_text(DB_CELL(res, i, 5));
	u->status = DB_CELL(res, i, 6)->s;
	u->email_verified = DB_CELL(res, i, 7)->i != 0;
	u->token_version = DB_CELL(res, i, 8)->i;
	u->locked_for = DB_CELL(res, i, 9)->i;
	u->mfa_enabled = DB_CELL(res, i, 10)->i != 0;
	u->created_at = DB_CELL(res, i, 11)->s;
	u->updated_at = DB_CELL(res, i, 12)->s;
	u->last_login_at = db_cell_text(DB_CELL(res, i, 13));
}

/* Runs a SELECT of USER_COLUMNS first and fills *u from its row: UM_ENOTFOUND without one. */
static enum um_err
lookup(struct db *db, struct arena *a, const char *sql, struct db_val *p, size_t n,
    struct db_res *res, struct user *u)
{
	enum um_err rc;

	if ((rc = db_exec(db, a, sql, p, n, res)) != UM_OK)
		return rc;
	if (res->nrows == 0)
		return UM_ENOTFOUND;
	user_from_row(res, 0, u);
	return UM_OK;
}

enum um_err
user_by_id(struct db *db, struct arena *a, long long id, struct user *u)
{
	struct db_val p[1] = { DBV_INT(id) };
	struct db_res res;

	return lookup(db, a, sql_by_id, p, 1, &res, u);
}

enum um_err
user_lock(struct db *db, struct arena *a, long long id, struct user *u)
{
	struct db_val p[1] = { DBV_INT(id) };
	struct db_res res;

	return lookup(db, a, sql_lock, p, 1, &res, u);
}

enum um_err
user_for_token(struct db *db, struct arena *a, long long id, long long sid, struct user *u,
    int *family_live)
{
	struct db_val p[2] = { DBV_INT(sid), DBV_INT(id) };
	struct db_res res;
	enum um_err   rc;

	if ((rc = lookup(db, a, sql_for_token, p, 2, &res, u)) != UM_OK)
		return rc;
	*family_live = DB_CELL(&res, 0, 14)->i != 0;
	return UM_OK;
}

enum um_err
user_by_login(struct db *db, struct arena *a, const char *login, struct user *u)
{
	struct db_val p[2] = { dbv_text(login), dbv_text(login) };
	struct db_res res;

	return lookup(db, a, sql_by_login, p, 2, &res, u);
}

enum um_err
user_by_email(struct db *db, struct arena *a, const char *email, struct user *u)
{
	struct db_val p[1] = { dbv_text(email) };
	struct db_res res;

	return lookup(db, a, sql_by_email, p, 1, &res, u);
}

static const char sql_taken[] = "SELECT EXISTS (SELECT 1 FROM users WHERE username = ?),"
                                " EXISTS (SELECT 1 FROM users WHERE email = ?)";

enum um_err
user_taken(struct db *db, struct arena *a, const char *username, const char *email,
    int *username_taken, int *email_taken)
{
	struct db_val p[2] = { dbv_text(username), dbv_text(email) };
	struct db_res res;
	enum um_err   rc;

	if ((rc = db_exec(db, a, sql_taken, p, 2, &res)) != UM_OK)
		return rc;
	*username_taken = DB_CELL(&res, 0, 0)->i != 0;
	*email_taken = DB_CELL(&res, 0, 1)->i != 0;
	return UM_OK;
}

static const char sql_insert[] =
    "INSERT INTO users (username, email, password_hash, email_verified_at)"
    " VALUES (?, ?, ?, IF(?, UTC_TIMESTAMP(6), NULL))";
static const char sql_grant_user[] =
    "INSERT INTO user_roles (user_id, role_id) SELECT ?, id FROM roles WHERE name = 'user'";

enum um_err
user_create(struct db *db, struct arena *a, const char *username, const char *email,
    const char *hash, int verified, long long *id)
{
	struct db_val p[4] = { dbv_text(username), dbv_text(email), dbv_text(hash),
		DBV_INT(verified != 0) };
	struct db_res res;
	enum um_err   rc;

	if ((rc = db_exec(db, a, sql_insert, p, 4, &res)) != UM_OK)
		return rc;
	*id = (long long)res.insert_id;
	p[0] = DBV_INT(*id);
	return db_exec(db, a, sql_grant_user, p, 1, NULL);
}

static const char sql_verify[] =
    "UPDATE users SET email_verified_at = IFNULL(email_verified_at, UTC_TIMESTAMP(6)),"
    " updated_at = UTC_TIMESTAMP(6) WHERE id = ? AND email = ?";

enum um_err
user_verify_email(struct db *db, struct arena *a, long long id, const char *email, int *ok)
{
	struct db_val p[2] = { DBV_INT(id), dbv_text(email) };
	struct db_res res;
	enum um_err   rc;

	if ((rc = db_exec(db, a, sql_verify, p, 2, &res)) != UM_OK)
		return rc;
	/* A matched row counts even when it was verified already: verifying twice is fine. */
	*ok = res.affected > 0 || res.nrows > 0;
	return UM_OK;
}

static const char sql_set_password[] =
    "UPDATE users SET password_hash = ?, password_changed_at = UTC_TIMESTAMP(6),"
    " token_version = token_version + 1, failed_logins = 0, locked_until = NULL,"
    " updated_at = UTC_TIMESTAMP(6) WHERE id = ?";

enum um_err
user_set_password(struct db *db, struct arena *a, long long id, const char *hash)
{
	struct db_val p[2] = { dbv_text(hash), DBV_INT(id) };

	return db_exec(db, a, sql_set_password, p, 2, NULL);
}

static const char sql_rehash[] = "UPDATE users SET password_hash = ? WHERE id = ?";

enum um_err
user_rehash(struct db *db, struct arena *a, long long id, const char *hash)
{
	struct db_val p[2] = { dbv_text(hash), DBV_INT(id) };

	return db_exec(db, a, sql_rehash, p, 2, NULL);
}

static const char sql_profile[] =
    "UPDATE users SET display_name = ?, bio = ?, updated_at = UTC_TIMESTAMP(6) WHERE id = ?";

enum um_err
user_update_profile(struct db *db, struct arena *a, long long id, const char *display_name,
    const char *bio)
{
	struct db_val p[3];

	p[0] = display_name != NULL && *display_name != '\0' ? dbv_text(display_name) :
	                                                       DBV_NULL;
	p[1] = bio != NULL && *bio != '\0' ? dbv_text(bio) : DBV_NULL;
	p[2] = DBV_INT(id);
	return db_exec(db, a, sql_profile, p, 3, NULL);
}

/*
 * MariaDB evaluates single-table SET clauses left to right, so locked_until sees the new
 * count.  A lockout that has run out restarts the count at one.
 */
static const char sql_failed[] =
    "UPDATE users SET failed_logins = IF(locked_until IS NOT NULL AND"
    "  locked_until <= UTC_TIMESTAMP(6), 0, failed_logins) + 1,"
    " locked_until = IF(failed_logins >= ?, UTC_TIMESTAMP(6) + INTERVAL ? SECOND, NULL)"
    " WHERE id = ?";
static const char sql_locked[] = "SELECT locked_until IS NOT NULL FROM users WHERE id = ?";

enum um_err
user_login_failed(struct db *db, struct arena *a, long long id, unsigned max, unsigned lockout,
    int *locked)
{
	struct db_val p[3] = { DBV_INT(max), DBV_INT(lockout), DBV_INT(id) };
	struct db_res res;
	enum um_err   rc;

	*locked = 0;
	if ((rc = db_exec(db, a, sql_failed, p, 3, NULL)) != UM_OK)
		return rc;
	p[0] = DBV_INT(id);
	if ((rc = db_exec(db, a, sql_locked, p, 1, &res)) != UM_OK)
		return rc;
	*locked = res.nrows == 1 && DB_CELL(&res, 0, 0)->i != 0;
	return UM_OK;
}

static const char sql_succeeded[] =
    "UPDATE users SET failed_logins = IF(?, 0, failed_logins),"
    " locked_until = IF(?, NULL, locked_until), last_login_at = UTC_TIMESTAMP(6) WHERE id = ?";

enum um_err
user_login_succeeded(struct db *db, struct arena *a, long long id, int clear)
{
	struct db_val p[3] = { DBV_INT(clear != 0), DBV_INT(clear != 0), DBV_INT(id) };

	return db_exec(db, a, sql_succeeded, p, 3, NULL);
}

static const char sql_delete[] = "DELETE FROM users WHERE id = ?";

enum um_err
user_delete(struct db *db, struct arena *a, long long id)
{
	struct db_val p[1] = { DBV_INT(id) };

	return db_exec(db, a, sql_delete, p, 1, NULL);
}

static const char sql_set_email[] =
    "UPDATE users SET email = ?, email_verified_at = UTC_TIMESTAMP(6),"
    " updated_at = UTC_TIMESTAMP(6) WHERE id = ?";

enum um_err
user_set_email(struct db *db, struct arena *a, long long id, const char *email)
{
	struct db_val p[2] = { dbv_text(email), DBV_INT(id) };

	return db_exec(db, a, sql_set_email, p, 2, NULL);
}

static const char sql_roles[] =
    "SELECT r.name FROM user_roles ur JOIN roles r ON r.id = ur.role_id"
    " WHERE ur.user_id = ? ORDER BY r.name";

json_t *
user_roles(struct db *db, struct arena *a, long long id)
{
	struct db_val p[1] = { DBV_INT(id) };
	struct db_res res;
	json_t       *roles = json_array();
	size_t        i;

	if (db_exec(db, a, sql_roles, p, 1, &res) == UM_OK)
		for (i = 0; i < res.nrows; i++)
			json_array_append_new(roles, json_string(DB_CELL(&res, i, 0)->s));
	return roles;
}

static json_t *
str_or_null(const char *s)
{
	return s != NULL ? json_string(s) : json_null();
}

json_t *
user_json(struct db *db, struct arena *a, const struct user *u, json_t *roles)
{
	char id[24];

	(void)snprintf(id, sizeof(id), "%lld", u->id);
	if (roles == NULL)
		roles = user_roles(db, a, u->id);
	return json_pack("{s:s, s:s, s:s, s:b, s:o, s:o, s:o, s:s, s:b, s:s, s:s, s:o}", "id",
	    id, "username", u->username, "email", u->email, "email_verified", u->email_verified,
	    "display_name", str_or_null(u->display_name), "bio", str_or_null(u->bio), "roles",
	    roles, "status", u->status, "mfa_enabled", u->mfa_enabled, "created_at",
	    u->created_at, "updated_at", u->updated_at, "last_login_at",
	    str_or_null(u->last_login_at));
}

const char *
user_password_fingerprint(struct arena *a, const struct user *u)
{
	unsigned char h[32];
	char         *s;

	token_sha256(u->password_hash, strlen(u->password_hash), h);
	s = arena_alloc(a, B64URL_LEN(12) + 1);
	(void)b64url_encode(s, h, 12);
	return s;
}
