/* oauth2: the OpenID Connect provider's endpoints — discovery, JWKS, authorize and consent, token, userinfo, revoke, introspect, logout. */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <sodium.h>

#include "access.h"
#include "arena.h"
#include "audit.h"
#include "browser.h"
#include "buf.h"
#include "conf.h"
#include "db.h"
#include "form.h"
#include "handlers.h"
#include "json.h"
#include "kv.h"
#include "log.h"
#include "oidc.h"
#include "page.h"
#include "refresh.h"
#include "request.h"
#include "response.h"
#include "runtime.h"
#include "session.h"
#include "signkey.h"
#include "user.h"
#include "validate.h"

/* --- discovery ------------------------------------------------------------------------- */

/* GET /.well-known/openid-configuration — 200 (OpenID Connect Discovery 1.0 §3). */
enum um_err
oauth2_discovery(struct request *req, struct response *resp)
{
	const char   *b = req->rt->conf.base_url;
	struct arena *a = req->arena;
	json_t       *scopes = json_array(), *v;
	size_t        i;

	for (i = 0; oidc_scopes[i] != NULL; i++)
		json_array_append_new(scopes, json_string(oidc_scopes[i]));
	v = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:o, s:[s], s:[s], s:[s, s],"
	              " s:[s], s:[s], s:[s, s, s], s:[s, s, s], s:[s], s:[s, s, s, s],"
	              " s:[s], s:[s, s], s:b, s:b, s:[s, s, s]}",
	    "issuer", b, "authorization_endpoint", arena_printf(a, "%s/oauth2/authorize", b),
	    "token_endpoint", arena_printf(a, "%s/oauth2/token", b), "userinfo_endpoint",
	    arena_printf(a, "%s/oauth2/userinfo", b), "jwks_uri",
	    arena_printf(a, "%s/.well-known/jwks.json", b), "revocation_endpoint",
	    arena_printf(a, "%s/oauth2/revoke", b), "introspection_endpoint",
	    arena_printf(a, "%s/oauth2/introspect", b), "end_session_endpoint",
	    arena_printf(a, "%s/oauth2/logout", b), "scopes_supported", scopes,
	    "response_types_supported", "code", "response_modes_supported", "query",
	    "grant_types_supported", "authorization_code", "refresh_token",
	    "subject_types_supported", "public", "id_token_signing_alg_values_supported",
	    "ES256", "token_endpoint_auth_methods_supported", "client_secret_basic",
	    "client_secret_post", "none", "revocation_endpoint_auth_methods_supported",
	    "client_secret_basic", "client_secret_post", "none",
	    "introspection_endpoint_auth_methods_supported", "client_secret_basic",
	    "claims_supported", "sub", "iss", "aud", "exp", "code_challenge_methods_supported",
	    "S256", "acr_values_supported", "1", "2", "claims_parameter_supported", 0,
	    "request_parameter_supported", 0, "prompt_values_supported", "none", "login",
	    "consent");
	v = json_arena(a, v);
	/* Discovery §3 makes request_uri_parameter_supported true when absent: say no. */
	json_object_set_new(v, "request_uri_parameter_supported", json_false());
	/* RFC 9207: authorization responses carry iss. */
	json_object_set_new(v, "authorization_response_iss_parameter_supported", json_true());
	{
		json_t     *claims = json_object_get(v, "claims_supported");
		const char *more[] = { "iat", "auth_time", "nonce", "amr", "acr", "azp",
			"preferred_username", "name", "updated_at", "email", "email_verified",
			"roles", NULL };

		for (i = 0; more[i] != NULL; i++)
			json_array_append_new(claims, json_string(more[i]));
	}
	response_json(resp, 200, v);
	response_header(resp, "Cache-Control", "public, max-age=300");
	return UM_OK;
}

/* GET /.well-known/jwks.json — 200 {"keys": [...]}; 503. */
enum um_err
oauth2_jwks(struct request *req, struct response *resp)
{
	json_t *v = json_arena(req->arena, signkey_jwks(&req->ctx));

	if (v == NULL)
		return UM_EUNAVAIL;
	response_json(resp, 200, v);
	/* Short: a rotation must reach clients well within an ID token's lifetime. */
	response_header(resp, "Cache-Control", "public, max-age=60");
	return UM_OK;
}

/* --- RFC 6749 §5.2 refusals -------------------------------------------------------------- */

/* {"error": error, "error_description": desc} with status, no-store (not problem+json). */
static void
oauth_error(struct response *resp, int status, const char *error, const char *desc)
{
	json_t *v = json_pack("{s:s, s:s}", "error", error, "error_description", desc);

	response_json(resp, status, v);
	json_decref(v);
	response_header(resp, "Pragma", "no-cache");
	if (status == 401)
		response_header(resp, "WWW-Authenticate", "Basic realm=\"usermgr\"");
}

/* Appends name=value (escaped) to a URL that may already hold a query. */
static void
add_param(struct buf *b, const char *name, const char *value)
{
	if (value == NULL)
		return;
	buf_putc(b, strchr(b->data, '?') != NULL ? '&' : '?');
	buf_puts(b, name);
	buf_putc(b, '=');
	buf_puts(b, form_escape(b->arena, value));
}

/* --- authorization requests ------------------------------------------------------------- */

/* "scheme://host:port" of an absolute URL (arena), or NULL. */
static const char *
origin_of(struct arena *a, const char *uri)
{
	const char *host = strstr(uri, "://");
	size_t      n;

	if (host == NULL)
		return NULL;
	n = strcspn(host + 3, "/?#");
	return arena_strndup(a, uri, (size_t)(host + 3 - uri) + n);
}

const char *
oauth2_next_origin(struct request *req, const char *next)
{
	static const char  prefix[] = "/oauth2/authorize?";
	struct kvlist      q = { NULL, 0 };
	struct oidc_client c;
	const char        *bad = NULL, *uri;

	if (next == NULL || strncmp(next, prefix, sizeof(prefix) - 1) != 0 ||
	    form_parse(req->arena, next + sizeof(prefix) - 1, strlen(next + sizeof(prefix) - 1),
	        &q, &bad) != UM_OK ||
	    oidc_client_get(&req->ctx, kv_get(&q, "client_id"), &c) != UM_OK ||
	    (uri = kv_get(&q, "redirect_uri")) == NULL ||
	    !oidc_uri_listed(c.redirect_uris, uri))
		return NULL;
	return origin_of(req->arena, uri);
}

struct authz {
	struct oidc_client client;
	const char        *redirect_uri;
	const char        *scope; /* as asked, normalised to single spaces */
	const char        *state, *nonce, *prompt, *login_hint, *challenge;
	long long          max_age; /* -1: none */
	long long          after;   /* um_after: a sign-in at or after this is fresh enough */
};

static void
audit_refusal(struct request *req, const char *client, const char *error, const char *desc)
{
	long long uid = req->session != NULL ? req->session->user_id : 0;

	(void)audit_log(&req->ctx, AUDIT_OAUTH_AUTHORIZE_REFUSED, uid, uid,
	    json_pack("{s:s, s:s, s:s}", "client_id", client != NULL ? client : "", "error",
	        error, "error_description", desc));
}

/* The error page for a request whose client or redirect URI is not known: never redirected. */
static void
authz_page(struct request *req, struct response *resp, const char *client, const char *desc)
{
	audit_refusal(req, client, "invalid_request", desc);
	page_render(req, resp, 400, "error",
	    json_pack("{s:i, s:s, s:s}", "status", 400, "title", "Invalid sign-in request",
	        "detail", arena_printf(req->arena, "invalid_request: %s", desc)));
}

/* Sends the browser back to the client with error (RFC 6749 §4.1.2.1). */
static void
authz_error(struct request *req, struct response *resp, const struct authz *z,
    const char *error, const char *desc)
{
	struct buf b;

	audit_refusal(req, z->client.client_id, error, desc);
	buf_init(&b, req->arena);
	buf_puts(&b, z->redirect_uri);
	add_param(&b, "error", error);
	add_param(&b, "error_description", desc);
	add_param(&b, "state", z->state);
	add_param(&b, "iss", req->rt->conf.base_url);
	response_redirect(resp, 302, b.data);
}

/* A parameter sent at most once (RFC 6749 §3.1); -1 when it came twice. */
static int
single(const struct kvlist *q, const char *name, const char **out)
{
	*out = kv_get(q, name);
	return kv_count(q, name) > 1 ? -1 : 0;
}

/* 1 when the prompt list holds only none, login and consent, none alone. */
static int
prompt_ok(const char *p)
{
	if (p == NULL)
		return 1;
	if (oidc_has_word(p, "none"))
		return !oidc_has_word(p, "login") && !oidc_has_word(p, "consent");
	return oidc_scopes_within(p, "login consent");
}

/*
 * Reads and checks an authorization request from q.  Answers (page or redirect to the
 * client) and returns -1 when refused.
 */
static int
authz_read(struct request *req, struct response *resp, const struct kvlist *q, struct authz *z)
{
	const char              *client_id, *rt, *method, *max_age, *after, *dup = NULL;
	static const char *const once[] = { "client_id", "redirect_uri", "response_type",
		"scope", "state", "nonce", "prompt", "max_age", "login_hint", "code_challenge",
		"code_challenge_method", "um_after", NULL };
	size_t                   i;

	memset(z, 0, sizeof(*z));
	z->max_age = -1;
	for (i = 0; once[i] != NULL; i++)
		if (kv_count(q, once[i]) > 1)
			dup = once[i];
	(void)single(q, "client_id", &client_id);
	if (client_id == NULL || oidc_client_get(&req->ctx, client_id, &z->client) != UM_OK) {
		authz_page(req, resp, client_id, "client_id names no registered client.");
		return -1;
	}
	(void)single(q, "redirect_uri", &z->redirect_uri);
	if (z->redirect_uri == NULL ||
	    !oidc_uri_listed(z->client.redirect_uris, z->redirect_uri)) {
		authz_page(req, resp, client_id,
		    "redirect_uri is not one the client registered (they must match exactly).");
		return -1;
	}
	/* From here on the client hears of every refusal. */
	(void)single(q, "state", &z->state);
	if (dup != NULL) {
		authz_error(req, resp, z, "invalid_request",
		    arena_printf(req->arena, "%s was sent more than once.", dup));
		return -1;
	}
	if (z->state != NULL && strlen(z->state) > OIDC_STATE_MAX) {
		z->state = NULL;
		authz_error(req, resp, z, "invalid_request", "state is too long.");
		return -1;
	}
	(void)single(q, "response_type", &rt);
	if (rt == NULL || strcmp(rt, "code") != 0) {
		authz_error(req, resp, z, "unsupported_response_type",
		    "Only response_type=code is supported.");
		return -1;
	}
	(void)single(q, "scope", &z->scope);
	if (z->scope == NULL || !oidc_has_word(z->scope, "openid")) {
		authz_error(req, resp, z, "invalid_scope", "scope must include openid.");
		return -1;
	}
	if (!oidc_scopes_within(z->scope, z->client.scopes)) {
		authz_error(req, resp, z, "invalid_scope",
		    "scope asks for more than this client may have.");
		return -1;
	}
	(void)single(q, "nonce", &z->nonce);
	if (z->nonce != NULL && strlen(z->nonce) > OIDC_NONCE_MAX) {
		authz_error(req, resp, z, "invalid_request", "nonce is too long.");
		return -1;
	}
	(void)single(q, "prompt", &z->prompt);
	if (!prompt_ok(z->prompt)) {
		authz_error(req, resp, z, "invalid_request",
		    "prompt may be none, or any of login and consent.");
		return -1;
	}
	(void)single(q, "max_age", &max_age);
	/* validate_id takes 1.. without sign or leading zero; 0 is a valid max_age too. */
	if (max_age != NULL) {
		z->max_age = strcmp(max_age, "0") == 0 ? 0 : validate_id(max_age);
		if (z->max_age == 0 && strcmp(max_age, "0") != 0) {
			authz_error(req, resp, z, "invalid_request",
			    "max_age must be a number of seconds.");
			return -1;
		}
	}
	(void)single(q, "um_after", &after);
	z->after = after != NULL ? validate_id(after) : 0;
	(void)single(q, "login_hint", &z->login_hint);
	(void)single(q, "code_challenge", &z->challenge);
	(void)single(q, "code_challenge_method", &method);
	if (z->challenge == NULL && !z->client.confidential) {
		authz_error(req, resp, z, "invalid_request",
		    "A public client must send a PKCE code_challenge (S256).");
		return -1;
	}
	if (z->challenge != NULL &&
	    (method == NULL || strcmp(method, "S256") != 0 || strlen(z->challenge) != 43)) {
		authz_error(req, resp, z, "invalid_request",
		    "code_challenge_method must be S256, with a 43-character code_challenge.");
		return -1;
	}
	return 0;
}

/* The authorize URL of z again, with prompt less login and um_after set (login round trip). */
static const char *
authz_url(struct request *req, const struct authz *z, long long after)
{
	struct buf b;
	char       n[24];

	buf_init(&b, req->arena);
	buf_puts(&b, "/oauth2/authorize");
	add_param(&b, "client_id", z->client.client_id);
	add_param(&b, "redirect_uri", z->redirect_uri);
	add_param(&b, "response_type", "code");
	add_param(&b, "scope", z->scope);
	add_param(&b, "state", z->state);
	add_param(&b, "nonce", z->nonce);
	if (z->prompt != NULL && oidc_has_word(z->prompt, "consent"))
		add_param(&b, "prompt", "consent");
	if (z->max_age >= 0) {
		(void)snprintf(n, sizeof(n), "%lld", z->max_age);
		add_param(&b, "max_age", n);
	}
	add_param(&b, "login_hint", z->login_hint);
	if (z->challenge != NULL) {
		add_param(&b, "code_challenge", z->challenge);
		add_param(&b, "code_challenge_method", "S256");
	}
	if (after > 0) {
		(void)snprintf(n, sizeof(n), "%lld", after);
		add_param(&b, "um_after", n);
	}
	return b.data;
}

/* Sends the browser to the login page, which comes back to the request when done. */
static void
to_login(struct request *req, struct response *resp, const struct authz *z, long long after)
{
	struct buf b;

	buf_init(&b, req->arena);
	buf_puts(&b, "/login");
	add_param(&b, "next", authz_url(req, z, after));
	/* login_hint fills the login field in: a username or address is all we would take. */
	if (z->login_hint != NULL && strlen(z->login_hint) <= 254)
		add_param(&b, "login", z->login_hint);
	response_redirect(resp, 303, b.data);
}

/* Issues the code and sends the browser back to the client with it. */
static enum um_err
authz_grant(struct request *req, struct response *resp, const struct authz *z,
    long long auth_time)
{
	struct oidc_grant g;
	struct user       u;
	struct buf        b;
	const char       *code;
	enum um_err       rc;

	if ((rc = user_by_id(req->rt->db, req->arena, req->session->user_id, &u)) != UM_OK)
		return rc;
	g.client_id = z->client.client_id;
	g.user_id = u.id;
	g.redirect_uri = z->redirect_uri;
	g.code_challenge = z->challenge;
	g.nonce = z->nonce;
	g.scopes = z->scope;
	g.auth_time = auth_time;
	g.amr = oidc_session_amr(&req->ctx, req->session->id, &u);
	g.session_id = req->session->id;
	if ((rc = oidc_code_issue(&req->ctx, &g, &code)) != UM_OK)
		return rc;
	buf_init(&b, req->arena);
	buf_puts(&b, z->redirect_uri);
	add_param(&b, "code", code);
	add_param(&b, "state", z->state);
	add_param(&b, "iss", req->rt->conf.base_url);
	response_redirect(resp, 302, b.data);
	return UM_OK;
}

static const char *const scope_text[][2] = {
	{ "openid", "Your account identifier" },
	{ "profile", "Your username and display name" },
	{ "email", "Your e-mail address" },
	{ "roles", "Your roles" },
	{ "offline_access", "Staying signed in while you are away" },
};

/* The consent page (templates/oauth-consent.mustache). */
static void
consent_page(struct request *req, struct response *resp, const struct authz *z)
{
	json_t *items = json_array();
	size_t  i;

	for (i = 0; i < sizeof(scope_text) / sizeof(scope_text[0]); i++)
		if (oidc_has_word(z->scope, scope_text[i][0]))
			json_array_append_new(items,
			    json_pack("{s:s, s:s}", "scope", scope_text[i][0], "text",
			        scope_text[i][1]));
	page_render(req, resp, 200, "oauth-consent",
	    json_pack("{s:s, s:s, s:s, s:o, s:s}", "title", "Allow access", "client_name",
	        z->client.name, "request",
	        authz_url(req, z, z->after) + strlen("/oauth2/authorize?"), "scopes", items,
	        "redirect_host", z->redirect_uri));
	/* The form's answer redirects to the client: form-action must allow its origin. */
	response_csp_form_action(resp, req->arena, origin_of(req->arena, z->redirect_uri));
}

/* The rest of an authorization request once it reads well: session, freshness, consent. */
static enum um_err
authz_continue(struct request *req, struct response *resp, const struct authz *z,
    int consented_now)
{
	long long   now = (long long)time(NULL), auth_time;
	const char *granted;
	int         none = z->prompt != NULL && oidc_has_word(z->prompt, "none");
	int         fresh;
	enum um_err rc;

	if (req->session == NULL || req->session->mfa_pending) {
		if (none) {
			authz_error(req, resp, z, "login_required",
			    "The user is not signed in.");
			return UM_OK;
		}
		to_login(req, resp, z, 0);
		return UM_OK;
	}
	auth_time = oidc_session_auth_time(&req->ctx, req->session->id);
	/* A sign-in made for this request (um_after) satisfies prompt=login and max_age. */
	fresh = z->after > 0 && auth_time >= z->after;
	if (!fresh &&
	    ((z->prompt != NULL && oidc_has_word(z->prompt, "login")) ||
	        (z->max_age >= 0 && now - auth_time > z->max_age))) {
		if (none) {
			authz_error(req, resp, z, "login_required",
			    "The sign-in is older than max_age.");
			return UM_OK;
		}
		to_login(req, resp, z, now);
		return UM_OK;
	}
	if (!consented_now && !z->client.skip_consent) {
		if ((rc = oidc_consent_get(&req->ctx, req->session->user_id,
		         z->client.client_id, &granted)) != UM_OK)
			return rc;
		if (granted == NULL || !oidc_scopes_within(z->scope, granted) ||
		    (z->prompt != NULL && oidc_has_word(z->prompt, "consent"))) {
			if (none) {
				authz_error(req, resp, z, "consent_required",
				    "The user has not allowed this client these scopes.");
				return UM_OK;
			}
			consent_page(req, resp, z);
			return UM_OK;
		}
	}
	return authz_grant(req, resp, z, auth_time);
}

/* GET /oauth2/authorize — 302 to the client (code or error); 303 to /login; 200 consent
 * page; 400 page when the client or redirect URI is unknown (never redirected). */
enum um_err
oauth2_authorize(struct request *req, struct response *resp)
{
	struct authz z;

	if (authz_read(req, resp, &req->query_params, &z) != 0)
		return UM_OK;
	return authz_continue(req, resp, &z, 0);
}

/* POST /oauth2/consent (csrf_token, request, decision=allow|deny) — 302 to the client with a
 * code, or with error=access_denied; 400 page for a request that does not read; 403 CSRF. */
enum um_err
oauth2_consent(struct request *req, struct response *resp)
{
	const char *raw = kv_get(&req->form, "request"),
	           *decision = kv_get(&req->form, "decision");
	const char   *bad = NULL;
	struct kvlist q = { NULL, 0 };
	struct authz  z;
	enum um_err   rc;

	if (raw == NULL || form_parse(req->arena, raw, strlen(raw), &q, &bad) != UM_OK) {
		authz_page(req, resp, NULL, "The consent form lost its request.");
		return UM_OK;
	}
	if (authz_read(req, resp, &q, &z) != 0)
		return UM_OK;
	if (decision == NULL || strcmp(decision, "allow") != 0) {
		(void)audit_log(&req->ctx, AUDIT_OAUTH_CONSENT_DENIED, req->session->user_id,
		    req->session->user_id, json_pack("{s:s}", "client_id", z.client.client_id));
		authz_error(req, resp, &z, "access_denied", "The user did not allow access.");
		return UM_OK;
	}
	if ((rc = oidc_consent_grant(&req->ctx, req->session->user_id, z.client.client_id,
	         z.scope)) != UM_OK)
		return rc;
	return authz_continue(req, resp, &z, 1);
}

/* --- client authentication (RFC 6749 §2.3.1) -------------------------------------------- */

/*
 * Authenticates the client of a token, revocation or introspection request: HTTP Basic,
 * or client_id and client_secret in the form, or client_id alone for a public client.
 * Answers 401 invalid_client (400 invalid_request for two methods at once) and returns -1.
 */
static int
client_auth(struct request *req, struct response *resp, struct oidc_client *c)
{
	const char   *h = req->vars.authorization;
	const char   *id = kv_get(&req->form, "client_id"), *secret = NULL, *colon;
	unsigned char raw[512];
	size_t        n = 0;

	if (h != NULL && strncasecmp(h, "Basic ", 6) == 0) {
		if (kv_get(&req->form, "client_secret") != NULL) {
			oauth_error(resp, 400, "invalid_request",
			    "Authenticate the client one way: Basic or client_secret, not both.");
			return -1;
		}
		if (sodium_base642bin(raw, sizeof(raw) - 1, h + 6, strlen(h + 6), NULL, &n,
		        NULL, sodium_base64_VARIANT_ORIGINAL) != 0 ||
		    (colon = memchr(raw, ':', n)) == NULL) {
			oauth_error(resp, 401, "invalid_client",
			    "The Basic credentials do not parse.");
			return -1;
		}
		raw[n] = '\0';
		/* §2.3.1: both halves are form-urlencoded before they are joined. */
		id = form_unescape(req->arena, (const char *)raw,
		    (size_t)(colon - (char *)raw));
		secret = form_unescape(req->arena, colon + 1,
		    n - (size_t)(colon - (char *)raw) - 1);
		if (id == NULL || secret == NULL) {
			oauth_error(resp, 401, "invalid_client",
			    "The Basic credentials do not parse.");
			return -1;
		}
		if (kv_get(&req->form, "client_id") != NULL &&
		    strcmp(kv_get(&req->form, "client_id"), id) != 0) {
			oauth_error(resp, 400, "invalid_request",
			    "client_id in the form is not the Basic one.");
			return -1;
		}
	} else
		secret = kv_get(&req->form, "client_secret");
	if (id == NULL || oidc_client_get(&req->ctx, id, c) != UM_OK) {
		(void)audit_log(&req->ctx, AUDIT_OAUTH_TOKEN_REFUSED, 0, 0,
		    json_pack("{s:s, s:s}", "client_id", id != NULL ? id : "", "error",
		        "invalid_client"));
		oauth_error(resp, 401, "invalid_client", "Unknown client.");
		return -1;
	}
	if (c->confidential ? !oidc_client_secret_ok(c, secret) : secret != NULL) {
		(void)audit_log(&req->ctx, AUDIT_OAUTH_TOKEN_REFUSED, 0, 0,
		    json_pack("{s:s, s:s}", "client_id", id, "error", "invalid_client"));
		oauth_error(resp, 401, "invalid_client",
		    c->confidential ? "The client secret is wrong or missing." :
		                      "A public client has no secret.");
		return -1;
	}
	return 0;
}

/* --- token endpoint ----------------------------------------------------------------------- */

static void
token_refused(struct request *req, struct response *resp, const struct oidc_client *c,
    long long uid, const char *error, const char *desc)
{
	(void)audit_log(&req->ctx, AUDIT_OAUTH_TOKEN_REFUSED, uid, 0,
	    json_pack("{s:s, s:s, s:s}", "client_id", c->client_id, "error", error,
	        "error_description", desc));
	oauth_error(resp, 400, error, desc);
}

/* 200 with the tokens of family sid (RFC 6749 §5.1, OIDC Core §3.1.3.3). */
static enum um_err
token_answer(struct request *req, struct response *resp, const struct oidc_client *c,
    long long uid, long long sid, const char *refresh, const char *scopes, const char *nonce,
    long long auth_time, const char *amr, const char *grant)
{
	struct user u;
	json_t     *roles, *v;
	const char *access, *id_token;
	long long   ttl;
	enum um_err rc;

	if ((rc = user_by_id(req->rt->db, req->arena, uid, &u)) != UM_OK)
		return rc;
	roles = json_arena(req->arena, user_roles(req->rt->db, req->arena, uid));
	access = access_issue_client(&req->ctx, &u, roles, sid, c->client_id, scopes, &ttl);
	id_token = oidc_id_token(&req->ctx, &u, c->client_id, nonce, auth_time, amr, scopes);
	if (access == NULL || id_token == NULL)
		return UM_EINTERNAL;
	v = json_pack("{s:s, s:s, s:I, s:s, s:s}", "access_token", access, "token_type",
	    "Bearer", "expires_in", (json_int_t)ttl, "id_token", id_token, "scope", scopes);
	/* A refresh token only for offline_access (OIDC Core §11). */
	if (oidc_has_word(scopes, "offline_access"))
		json_object_set_new(v, "refresh_token", json_string(refresh));
	response_json(resp, 200, v);
	json_decref(v);
	response_header(resp, "Pragma", "no-cache");
	return audit_log(&req->ctx, AUDIT_OAUTH_TOKEN_ISSUED, uid, uid,
	    json_pack("{s:s, s:s, s:I}", "client_id", c->client_id, "grant_type", grant, "sid",
	        (json_int_t)sid));
}

static enum um_err
grant_code(struct request *req, struct response *resp, const struct oidc_client *c)
{
	const char            *code = kv_get(&req->form, "code");
	const char            *verifier = kv_get(&req->form, "code_verifier");
	struct oidc_grant      g;
	enum oidc_code_refusal why;
	long long              sid;
	char                  *refresh;
	enum um_err            rc;

	if (code == NULL) {
		token_refused(req, resp, c, 0, "invalid_request", "code is missing.");
		return UM_OK;
	}
	if (!c->confidential && verifier == NULL) {
		token_refused(req, resp, c, 0, "invalid_request",
		    "A public client must send its PKCE code_verifier.");
		return UM_OK;
	}
	rc = oidc_code_redeem(&req->ctx, code, c->client_id, kv_get(&req->form, "redirect_uri"),
	    verifier, &g, &sid, &refresh, &why);
	if (rc == UM_ETOKEN) {
		token_refused(req, resp, c, why == OIDC_CODE_UNKNOWN ? 0 : g.user_id,
		    "invalid_grant", oidc_code_refusal_text(why));
		return UM_OK;
	}
	if (rc != UM_OK)
		return rc;
	return token_answer(req, resp, c, g.user_id, sid, refresh, g.scopes, g.nonce,
	    g.auth_time, g.amr, "authorization_code");
}

static enum um_err
grant_refresh(struct request *req, struct response *resp, const struct oidc_client *c)
{
	const char           *tok = kv_get(&req->form, "refresh_token");
	const char           *scope = kv_get(&req->form, "scope");
	struct refresh_client g;
	long long             uid, sid;
	char                 *refresh;
	enum um_err           rc;

	if (tok == NULL) {
		token_refused(req, resp, c, 0, "invalid_request", "refresh_token is missing.");
		return UM_OK;
	}
	rc = refresh_rotate(&req->ctx, tok, c->client_id, &uid, &sid, &refresh, &g);
	if (rc == UM_ETOKEN) {
		token_refused(req, resp, c, 0, "invalid_grant",
		    "The refresh token is not valid, expired, revoked or of another client.");
		return UM_OK;
	}
	if (rc != UM_OK)
		return rc;
	/* RFC 6749 §6: a narrower scope may be asked for, never a wider one. */
	if (scope != NULL && !oidc_scopes_within(scope, g.scopes)) {
		token_refused(req, resp, c, uid, "invalid_scope",
		    "scope asks for more than was granted.");
		return UM_OK;
	}
	return token_answer(req, resp, c, uid, sid, refresh, scope != NULL ? scope : g.scopes,
	    NULL, g.auth_time, g.amr != NULL ? g.amr : "pwd", "refresh_token");
}

/* POST /oauth2/token — 200 tokens; 400 invalid_request / invalid_grant / invalid_scope /
 * unsupported_grant_type; 401 invalid_client (+ WWW-Authenticate). */
enum um_err
oauth2_token(struct request *req, struct response *resp)
{
	struct oidc_client c;
	const char        *grant = kv_get(&req->form, "grant_type");

	if (client_auth(req, resp, &c) != 0)
		return UM_OK;
	if (grant == NULL) {
		token_refused(req, resp, &c, 0, "invalid_request", "grant_type is missing.");
		return UM_OK;
	}
	if (strcmp(grant, "authorization_code") == 0)
		return grant_code(req, resp, &c);
	if (strcmp(grant, "refresh_token") == 0)
		return grant_refresh(req, resp, &c);
	token_refused(req, resp, &c, 0, "unsupported_grant_type",
	    "grant_type may be authorization_code or refresh_token.");
	return UM_OK;
}

/* --- userinfo, revocation, introspection --------------------------------------------------- */

/* GET/POST /oauth2/userinfo (Bearer) — 200 claims; 401 invalid_token (RFC 6750 §3). */
enum um_err
oauth2_userinfo(struct request *req, struct response *resp)
{
	struct auth          a;
	struct access_client cl;
	json_t              *v;
	char                 sub[24];
	enum um_err          rc;

	memset(&a, 0, sizeof(a));
	rc = access_verify_client(&req->ctx, request_bearer(req), &a, &cl);
	if (rc == UM_EUNAVAIL)
		return rc;
	if (rc != UM_OK) {
		v = json_pack("{s:s, s:s}", "error", "invalid_token", "error_description",
		    rc == UM_EUNAUTH ? "Send an access token: Authorization: Bearer <token>." :
		                       "The access token is not valid, expired or revoked.");
		response_json(resp, 401, v);
		json_decref(v);
		response_header(resp, "WWW-Authenticate",
		    rc == UM_EUNAUTH ? "Bearer realm=\"usermgr\"" :
		                       "Bearer realm=\"usermgr\", error=\"invalid_token\"");
		return UM_OK;
	}
	(void)snprintf(sub, sizeof(sub), "%lld", a.user.id);
	v = json_pack("{s:s}", "sub", sub);
	oidc_claims(&req->ctx, &a.user, cl.scope, v);
	response_json(resp, 200, v);
	json_decref(v);
	return UM_OK;
}

/* What a presented token is, for revocation and introspection: its family and owner. */
struct presented {
	int         found; /* ours, of this client */
	int         active;
	int         refresh; /* a refresh token (else an access token) */
	long long   uid, sid, exp, iat;
	const char *scope;
	struct user user;
};

static enum um_err
presented_read(struct request *req, const struct oidc_client *c, const char *tok,
    struct presented *p)
{
	struct refresh_info  ri;
	struct auth          a;
	struct access_client cl;
	enum um_err          rc;

	memset(p, 0, sizeof(*p));
	if (tok == NULL)
		return UM_OK;
	/* A refresh token is 43 base64url characters, an access token a JWT with dots. */
	if (strchr(tok, '.') == NULL) {
		if ((rc = refresh_find(&req->ctx, tok, &ri)) == UM_ENOTFOUND)
			return UM_OK;
		if (rc != UM_OK)
			return rc;
		if (ri.client_id == NULL || strcmp(ri.client_id, c->client_id) != 0)
			return UM_OK;
		p->found = 1;
		p->refresh = 1;
		p->active = ri.live;
		p->uid = ri.user_id;
		p->sid = ri.sid;
		p->exp = ri.exp;
		p->iat = ri.iat;
		p->scope = ri.scopes;
		if (p->active && user_by_id(req->rt->db, req->arena, p->uid, &p->user) != UM_OK)
			p->active = 0;
		return UM_OK;
	}
	memset(&a, 0, sizeof(a));
	rc = access_verify_client(&req->ctx, tok, &a, &cl);
	if (rc == UM_EUNAVAIL)
		return rc;
	if (rc != UM_OK || strcmp(cl.client_id, c->client_id) != 0)
		return UM_OK;
	p->found = p->active = 1;
	p->uid = a.user.id;
	p->sid = a.sid;
	p->exp = cl.exp;
	p->iat = cl.iat;
	p->scope = cl.scope;
	p->user = a.user;
	return UM_OK;
}

/*
 * What revocation and introspection start with: the client authenticated (confidential ones
 * only if asked), the form's token present and read.  Returns 0 to go on with *c and *p;
 * otherwise the refusal is in resp, or *rc holds an error for the front door.
 */
static int
presented_form(struct request *req, struct response *resp, int confidential_only,
    struct oidc_client *c, struct presented *p, enum um_err *rc)
{
	const char *tok = kv_get(&req->form, "token");

	*rc = UM_OK;
	if (client_auth(req, resp, c) != 0)
		return 1;
	if (confidential_only && !c->confidential) {
		oauth_error(resp, 401, "invalid_client",
		    "Introspection is for confidential clients only.");
		return 1;
	}
	if (tok == NULL) {
		oauth_error(resp, 400, "invalid_request", "token is missing.");
		return 1;
	}
	return (*rc = presented_read(req, c, tok, p)) != UM_OK;
}

/* POST /oauth2/revoke (token, token_type_hint) — 200 whether or not the token was live
 * (RFC 7009 §2.2); 400 invalid_request without token; 401 invalid_client. */
enum um_err
oauth2_revoke(struct request *req, struct response *resp)
{
	struct oidc_client c;
	struct presented   p;
	int                found;
	enum um_err        rc;

	if (presented_form(req, resp, 0, &c, &p, &rc) != 0)
		return rc;
	/* A token is its family's: revoking either kind ends the refresh and access tokens. */
	if (p.found) {
		if ((rc = refresh_revoke_family(&req->ctx, p.uid, p.sid, "client_revoked",
		         &found)) != UM_OK)
			return rc;
		if (found)
			(void)audit_log(&req->ctx, AUDIT_OAUTH_TOKEN_REVOKED, p.uid, 0,
			    json_pack("{s:s, s:s, s:I}", "client_id", c.client_id, "token_type",
			        p.refresh ? "refresh_token" : "access_token", "sid",
			        (json_int_t)p.sid));
	}
	response_json(resp, 200, json_arena(req->arena, json_object()));
	return UM_OK;
}

/* POST /oauth2/introspect (token) — 200 {active, ...} (RFC 7662 §2.2); 400 invalid_request;
 * 401 invalid_client, also for public clients. */
enum um_err
oauth2_introspect(struct request *req, struct response *resp)
{
	struct oidc_client c;
	struct presented   p;
	json_t            *v;
	char               sub[24];
	enum um_err        rc;

	if (presented_form(req, resp, 1, &c, &p, &rc) != 0)
		return rc;
	if (!p.found || !p.active) {
		response_json(resp, 200,
		    json_arena(req->arena, json_pack("{s:b}", "active", 0)));
		return UM_OK;
	}
	(void)snprintf(sub, sizeof(sub), "%lld", p.uid);
	v = json_pack("{s:b, s:s, s:s, s:s, s:s, s:I, s:I, s:s, s:s, s:s}", "active", 1,
	    "scope", p.scope, "client_id", c.client_id, "username", p.user.username,
	    "token_type", p.refresh ? "refresh_token" : "Bearer", "exp", (json_int_t)p.exp,
	    "iat", (json_int_t)p.iat, "sub", sub, "aud", c.client_id, "iss",
	    req->rt->conf.base_url);
	response_json(resp, 200, json_arena(req->arena, v));
	return UM_OK;
}

/* --- RP-initiated logout ------------------------------------------------------------------ */

static void
logout_page(struct request *req, struct response *resp, const char *desc)
{
	page_render(req, resp, 400, "error",
	    json_pack("{s:i, s:s, s:s}", "status", 400, "title", "Invalid sign-out request",
	        "detail", desc));
}

/* GET /oauth2/logout (id_token_hint, post_logout_redirect_uri, state, client_id) — 302 to
 * the registered URI (or 303 to /) with the session ended; 200 a confirmation page without a
 * hint; 400 page for a hint we did not sign (alg other than ES256, bad signature) or an
 * unregistered URI (RP-Initiated Logout 1.0 §2, §3). */
enum um_err
oauth2_logout(struct request *req, struct response *resp)
{
	const char        *hint = kv_get(&req->query_params, "id_token_hint");
	const char        *uri = kv_get(&req->query_params, "post_logout_redirect_uri");
	const char        *state = kv_get(&req->query_params, "state");
	const char        *client_id = kv_get(&req->query_params, "client_id");
	const char        *aud = NULL, *sub = NULL;
	struct oidc_client c;
	json_t            *claims = NULL, *v;
	struct buf         b;
	long long          uid = req->session != NULL ? req->session->user_id : 0;
	char               me[24];
	enum um_err        rc;

	if (hint != NULL) {
		if ((rc = signkey_verify(&req->ctx, hint, &claims)) == UM_EUNAVAIL)
			return rc;
		if (rc != UM_OK) {
			logout_page(req, resp,
			    "id_token_hint is not an ID token this server signed (ES256).");
			return UM_OK;
		}
		v = json_object_get(claims, "aud");
		aud = json_is_array(v) ? json_string_value(json_array_get(v, 0)) :
		                         json_string_value(v);
		sub = json_string_value(json_object_get(claims, "sub"));
		if (json_string_value(json_object_get(claims, "iss")) == NULL ||
		    strcmp(json_string_value(json_object_get(claims, "iss")),
		        req->rt->conf.base_url) != 0 ||
		    aud == NULL || (client_id != NULL && strcmp(client_id, aud) != 0)) {
			logout_page(req, resp, "id_token_hint was issued to another client.");
			return UM_OK;
		}
		client_id = aud;
	}
	if (uri != NULL) {
		if (client_id == NULL || oidc_client_get(&req->ctx, client_id, &c) != UM_OK ||
		    !oidc_uri_listed(c.post_logout_redirect_uris, uri)) {
			logout_page(req, resp,
			    "post_logout_redirect_uri is not one the client registered.");
			return UM_OK;
		}
	}
	if (hint == NULL) {
		/* Nobody proved who asks: the user confirms with the site's own logout form. */
		page_render(req, resp, 200, "oauth-logout",
		    json_pack("{s:s, s:b}", "title", "Sign out", "signed_in",
		        req->session != NULL));
		return UM_OK;
	}
	(void)snprintf(me, sizeof(me), "%lld", uid);
	/* Only the hint's user is signed out: another user's hint ends nobody's session. */
	if (req->session != NULL && sub != NULL && strcmp(sub, me) == 0) {
		if ((rc = browser_session_end(req, resp)) != UM_OK)
			return rc;
		(void)audit_log(&req->ctx, AUDIT_OAUTH_LOGOUT, uid, uid,
		    json_pack("{s:s}", "client_id", client_id));
	}
	if (uri == NULL) {
		response_redirect(resp, 303, "/");
		return UM_OK;
	}
	buf_init(&b, req->arena);
	buf_puts(&b, uri);
	add_param(&b, "state", state);
	response_redirect(resp, 302, b.data);
	return UM_OK;
}
