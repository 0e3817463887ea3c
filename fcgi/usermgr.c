/* usermgr.c: the FastCGI worker — accept loop, per-request arena, body bound, dispatch. */
#include "config.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <fcgiapp.h>

#include "app.h"
#include "arena.h"
#include "bounds.h"
#include "buf.h"
#include "log.h"
#include "problem.h"
#include "request.h"
#include "response.h"
#include "runtime.h"

static volatile sig_atomic_t stopping;
static volatile sig_atomic_t busy;

static void
on_term(int sig)
{
	/*
	 * multiwatch stops us with SIGTERM.  Idle in accept(), which libfcgi restarts on
	 * EINTR, we leave at once; inside a request we finish it first.
	 */
	(void)sig;
	if (!busy)
		_exit(0);
	stopping = 1;
}

static const char *
env_get(const char *name)
{
	return getenv(name);
}

/*
 * Reads the body, bounded by UM_BODY_MAX before a byte is read (API.md §7).  Returns UM_OK,
 * UM_ETOOBIG, or UM_EINVAL when the client sent less than it announced.
 */
static enum um_err
read_body(struct request *req, FCGX_Stream *in)
{
	char *p;
	int   got;

	if (req->content_length <= 0)
		return UM_OK;
	if (req->content_length > UM_BODY_MAX)
		return UM_ETOOBIG;
	p = arena_alloc(req->arena, (size_t)req->content_length + 1);
	got = FCGX_GetStr(p, (int)req->content_length, in);
	if (got != req->content_length)
		return UM_EINVAL;
	p[got] = '\0';
	req->body = p;
	req->body_len = (size_t)got;
	return UM_OK;
}

static void
serve(struct runtime *rt, struct arena *arena, FCGX_Request *fr)
{
	struct request  req;
	struct response resp;
	struct buf      out;
	struct timespec t0;
	enum um_err     rc;

	(void)clock_gettime(CLOCK_MONOTONIC, &t0);
	request_init(&req, arena, rt, fr->envp);
	log_context(req.id, req.remote_addr);
	response_init(&resp, arena);
	if ((rc = read_body(&req, fr->in)) != UM_OK) {
		if (req.method == HTTP_HEAD)
			resp.flags |= RESP_HEAD;
		problem_send(&req, &resp, rc, 0,
		    rc == UM_ETOOBIG ? "The body is larger than 65536 bytes." :
		                       "The body is shorter than announced.",
		    NULL);
	} else
		app_handle(&req, &resp);

	/* Headers are under 1 KiB: the answer is built without regrowing. */
	buf_init_cap(&out, arena, resp.body.len + 1024);
	response_serialize(&resp, req.id, &out);
	/* A client that went away makes this fail; nothing to do but log it. */
	if (FCGX_PutStr(out.data, (int)out.len, fr->out) < 0)
		log_warn("client went away before the answer was sent");
	/* nginx logs every request; ours adds the refusals and failures (and all in debug). */
	log_msg(resp.status >= 400 ? LOG_INFO : LOG_DEBUG, "%s %s %d %zu %.2fms",
	    req.method_name, req.path, resp.status, resp.body.len, log_elapsed_ms(&t0));
}

int
main(void)
{
	struct runtime   rt;
	struct arena    *arena;
	FCGX_Request     fr;
	struct sigaction sa;
	char             err[512];

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_IGN;
	(void)sigaction(SIGPIPE, &sa, NULL); /* a closed socket is an error code, not death */
	sa.sa_handler = on_term;
	(void)sigaction(SIGTERM, &sa, NULL);
	(void)sigaction(SIGINT, &sa, NULL);

	if (FCGX_Init() != 0) {
		log_err("FCGX_Init failed");
		return 1;
	}
	/* Once, before any handle: the breached-password check (breach.c) uses libcurl. */
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		log_err("curl_global_init failed");
		return 1;
	}
	if (runtime_load(&rt, env_get, err, sizeof(err)) != UM_OK) {
		log_err("cannot start: %s", err);
		return 1;
	}
	if (FCGX_InitRequest(&fr, 0, 0) != 0) {
		log_err("FCGX_InitRequest failed");
		runtime_free(&rt);
		return 1;
	}
	arena = arena_new();
	log_info("worker ready");
	while (!stopping && FCGX_Accept_r(&fr) >= 0) {
		busy = 1;
		serve(&rt, arena, &fr);
		FCGX_Finish_r(&fr);
		busy = 0;
		log_context(NULL, NULL);
		/* Everything the request allocated dies here, in one call. */
		arena_reset(arena);
	}
	arena_free(arena);
	runtime_free(&rt);
	return 0;
}
