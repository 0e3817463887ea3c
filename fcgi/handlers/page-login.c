/* page-login: GET/POST /login and POST /logout — password check, lockout, a fresh session id. */
#include "config.h"

#include <string.h>

#include <jansson.h>

#include "app.h"
#include "arena.h"
#include "audit.h"
#include "db.h"
#include "handlers.h"
#include "kv.h"
#include "log.h"
#include "page.h"
#include "password.h"
#include "problem.h"
#include "request.h"
#include "response.h"
#include "session.h"
#include "user.h"
#include "validate.h"

enum { F_LOGIN, F_PASSWORD, F__MAX };

/* No format rules on login: any string up to the longest valid e-mail address. */
static const struct field_spec spec[F__MAX] = {
	[F_LOGIN] = { "login", NULL, 254, VF_REQUIRED },
	[F_PASSWORD] = { "password", NULL, 1024, VF_REQUIRED | VF_SECRET },
};

static const struct page_field view[F__MAX] = {
	[F_LOGIN] = { "login", "Username or e-mail address", "text", "username", NULL, 254, 1, 0 },
	[F_PASSWORD] = { "password", "Password", "password", "current-password", NULL, 128, 1,
	    0 },
};

/*
 * A `next` worth following: a same-site absolute path — "/" then no second "/" or "\"
 * (which browsers read as another host), no control characters.  Else NULL.
 */
const char *
page_safe_next(const char *next)
{
	const unsigned char	*p;

	if (next == NULL || next[0] != '/' || next[1] == '/' || next[1] == '\\')
		return NULL;
	for (p = (const unsigned char *)next; *p != '\0'; p++)
		if (*p < 0x20 || *p == 0x7f || *p == '\\')
			return NULL;
	return next;
}

struct login_view {
	int		 status;
	const char	*notice;	/* "unverified", "locked", "disabled" or NULL */
	const char	*error;		/* summary message */
	const char	*next;
	int		 remember;
};

static void
show_form(struct request *req, struct response *resp, const struct login_view *v,
    struct field_result *r)
{
	json_t	*errors = json_array();

	if (v->error != NULL)
		json_array_append_new(errors, json_pack("{s:s, s:s}", "field", "login",
		    "message", v->error));
	page_render(req, resp, v->status, "login", json_pack("{s:s, s:o, s:o, s:b, s:s?, s:b,"
	    " s:b, s:b, s:{s:b}}", "title", "Log in", "fields", page_fields(view, F__MAX, r),
	    "errors", errors, "remember", v->remember, "next", v->next,
	    "unverified", v->notice != NULL && strcmp(v->notice, "unverified") == 0,
	    "locked", v->notice != NULL && strcmp(v->notice, "locked") == 0,
	    "disabled", v->notice != NULL && strcmp(v->notice, "disabled") == 0,
	    "nav", "login", 1));
}

static void
locked_out(struct request *req, struct response *resp, struct login_view *v,
    struct field_result *r, long long seconds)
{
	v->status = 429;
	v->notice = "locked";
	v->error = "Too many failed attempts. Try again later or reset your password.";
	show_form(req, resp, v, r);
	response_header(resp, "Retry-After", arena_printf(req->arena, "%lld",
	    seconds > 0 ? seconds : 1));
}

/*
 * The password matched: re-hash if the stored one is legacy or of another cost, count the
 * login, start a new session.
 */
static enum um_err
succeed(struct request *req, struct response *resp, const struct user *u,
    struct field_result *pw, int rehash, int remember)
{
	struct db	*db = req->app->db;
	char		 hash[PASSWORD_HASH_MAX];
	enum um_err	 rc;

	if (rehash && password_hash(&req->app->conf, pw->val, pw->len, hash) == UM_OK &&
	    (rc = user_rehash(db, req->arena, u->id, hash)) != UM_OK)
		return rc;
	if ((rc = user_login_succeeded(db, req->arena, u->id)) != UM_OK ||
	    (rc = session_start(req, resp, u->id, remember, 0)) != UM_OK)
		return rc;
	return audit_log(db, req->arena, AUDIT_LOGIN_SUCCEEDED, u->id, u->id, req->remote_addr,
	    json_pack("{s:s}", "via", "browser"));
}

/* GET /login — 200.  POST — 303 to next or /profile; 400 wrong credentials; 403
 * unverified or disabled; 429 locked out or per-IP limit; 403 CSRF; 503. */
void
page_login(struct request *req, struct response *resp)
{
	struct validate_ctx	 vctx = { 0, NULL };
	struct field_result	 r[F__MAX];
	struct login_view	 v = { 200, NULL, NULL, NULL, 0 };
	struct user		 u;
	const struct conf	*c = &req->app->conf;
	int			 rehash = 0, locked = 0;
	enum um_err		 rc;

	if (req->method != HTTP_POST) {
		v.next = page_safe_next(kv_get(&req->query_params, "next"));
		show_form(req, resp, &v, NULL);
		return;
	}
	/* The password is read from the body only: a query-string one is never used. */
	v.next = page_safe_next(kv_get(&req->form, "next"));
	v.remember = kv_get(&req->form, "remember") != NULL;
	if (validate_form(req->arena, &vctx, spec, F__MAX, &req->form, r) != UM_OK) {
		v.status = 400;
		show_form(req, resp, &v, r);
		return;
	}
	rc = user_by_login(req->app->db, req->arena, r[F_LOGIN].val, &u);
	if (rc == UM_ENOTFOUND) {
		/* Same work as a real check, so the time does not tell the account is absent. */
		password_dummy_verify(c, r[F_PASSWORD].val, r[F_PASSWORD].len);
		(void)audit_log(req->app->db, req->arena, AUDIT_LOGIN_FAILED, 0, 0,
		    req->remote_addr, json_pack("{s:s}", "reason", "unknown_account"));
		v.status = 400;
		v.error = "The username, e-mail address or password is not correct.";
		show_form(req, resp, &v, r);
		return;
	}
	if (rc != UM_OK) {
		problem_send(req, resp, rc, 0, NULL, NULL);
		return;
	}
	/* A locked account is refused even with the right password (API.md §7). */
	if (u.locked_for > 0) {
		locked_out(req, resp, &v, r, u.locked_for);
		return;
	}
	if (password_verify(c, u.password_hash, r[F_PASSWORD].val, r[F_PASSWORD].len,
	    &rehash) != UM_OK) {
		if ((rc = user_login_failed(req->app->db, req->arena, u.id, c->login_max_failures,
		    c->login_lockout_seconds, &locked)) != UM_OK) {
			problem_send(req, resp, rc, 0, NULL, NULL);
			return;
		}
		(void)audit_log(req->app->db, req->arena, locked ? AUDIT_LOCKED_OUT :
		    AUDIT_LOGIN_FAILED, u.id, u.id, req->remote_addr, NULL);
		if (locked) {
			locked_out(req, resp, &v, r, c->login_lockout_seconds);
			return;
		}
		v.status = 400;
		v.error = "The username, e-mail address or password is not correct.";
		show_form(req, resp, &v, r);
		return;
	}
	/* Only now, with the password right, may the answer say more about the account. */
	if (strcmp(u.status, "active") != 0) {
		v.status = 403;
		v.notice = "disabled";
		v.error = "This account is disabled.";
		show_form(req, resp, &v, r);
		return;
	}
	if (!u.email_verified) {
		v.status = 403;
		v.notice = "unverified";
		v.error = "Your e-mail address is not verified yet.";
		show_form(req, resp, &v, r);
		return;
	}
	if ((rc = succeed(req, resp, &u, &r[F_PASSWORD], rehash, v.remember)) != UM_OK) {
		problem_send(req, resp, rc, 0, NULL, NULL);
		return;
	}
	response_redirect(resp, 303, v.next != NULL ? v.next : "/profile");
}

/* POST /logout — 303 to /; 403 CSRF. */
void
page_logout(struct request *req, struct response *resp)
{
	long long	 uid = req->session != NULL ? req->session->user_id : 0;
	enum um_err	 rc;

	if ((rc = session_end(req, resp)) != UM_OK) {
		problem_send(req, resp, rc, 0, NULL, NULL);
		return;
	}
	if (uid > 0)
		(void)audit_log(req->app->db, req->arena, AUDIT_LOGOUT, uid, uid,
		    req->remote_addr, NULL);
	response_redirect(resp, 303, "/");
}
