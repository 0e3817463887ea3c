/* usermgr-mailer: turns visitors' mail requests into mail and delivers the outbox with retries and backoff. */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "account.h"
#include "arena.h"
#include "conf.h"
#include "ctx.h"
#include "db.h"
#include "fastpath.h"
#include "legacywrap.h"
#include "log.h"
#include "mail.h"
#include "outbox.h"
#include "revocation.h"
#include "retention.h"
#include "runtime.h"
#include "transport.h"

/*
 * Delivery is at least once, as with any provider that takes no idempotency key: a mailer
 * killed between the provider's "accepted" and the UPDATE that records it sends that
 * message again when the lease (OUTBOX_LEASE) runs out.  Mailjet's CustomID is the
 * outbox id and stays the same on every attempt, so such a duplicate is recognisable in
 * Mailjet's logs and webhooks.  Several mailers may run at once: SKIP LOCKED plus the
 * lease give each row to one of them at a time.
 */

#define BATCH    10 /* rows claimed at once */
#define REQUESTS 50 /* mail requests handled per poll, so delivery is never starved */
/*
 * A row is sent only while its lease has at least this long to run: more than the
 * slowest transport's timeout (SMTP, 60 s), so another mailer never takes it mid-send.
 * Rows left when time runs short go back and are claimed afresh.
 */
#define LEASE_MARGIN          90   /* seconds */
#define IDLE_MS               500  /* poll interval when nothing is due */
#define DB_RETRY_MS           1000 /* wait after the database failed */
#define RECORD_TRIES          150 /* seconds spent trying to record a result (half the lease) */
#define RECORD_TRIES_STOPPING 10  /* the same while stopping: systemd's stop timeout is near */

static volatile sig_atomic_t stopping;
static enum log_level        level = LOG_INFO; /* -v raises it to LOG_DEBUG */

static void
on_signal(int sig)
{
	(void)sig;
	stopping = 1;
}

/* Sleeps ms milliseconds; a signal cuts it short when interruptible is set. */
static void
nap(long ms, int interruptible)
{
	struct timespec ts, rem;

	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (ms % 1000) * 1000000L;
	while (nanosleep(&ts, &rem) == -1 && errno == EINTR) {
		if (interruptible && stopping)
			return;
		ts = rem;
	}
}

/* getenv(3) with the constness conf_load wants. */
static const char *
env(const char *name)
{
	return getenv(name);
}

static long
seconds_since(const struct timespec *t0)
{
	struct timespec now;

	(void)clock_gettime(CLOCK_MONOTONIC, &now);
	return (long)(now.tv_sec - t0->tv_sec);
}

static void
usage(void)
{
	fputs(
	    "usage: usermgr-mailer [-1v]\n"
	    "  -1  prune old rows, handle mail requests, deliver what is due, then exit\n"
	    "      (tests, cron); 1 if the database is down\n"
	    "  -v  debug logging\n"
	    "Configuration comes from the environment (API.md section 1): USERMGR_DB_*,\n"
	    "USERMGR_SECRET_KEY, USERMGR_TEMPLATE_DIR, USERMGR_MAIL_TRANSPORT, USERMGR_MAIL_DIR,\n"
	    "MAILJET_API_*, SENDER_*, USERMGR_SMTP_*; USERMGR_LEGACY_WRAP_PER_SECOND paces the\n"
	    "wrapping of imported users' bare SHA-256 hashes while no mail is due (not with -1).\n",
	    stderr);
}

/*
 * Records the outcome of one attempt.  The message has left already, so a database outage
 * here is waited out: giving up would send it again once the lease ends.
 */
static void
record(struct db *db, const char *tname, const struct outbox_row *r, enum send_result res,
    const char *err, unsigned max_attempts)
{
	char        why[TRANSPORT_ERR_MAX + 64];
	long long   delay = 0;
	int         tries;
	enum um_err rc = UM_EINTERNAL;

	if (res == SEND_RETRY && r->old) {
		(void)snprintf(why, sizeof(why), "undelivered after %d h: %s",
		    OUTBOX_MAX_AGE / 3600, err);
		res = SEND_FAIL;
		err = why;
	} else if (res == SEND_RETRY && (unsigned)r->attempts + 1 >= max_attempts) {
		(void)snprintf(why, sizeof(why),
		    "undelivered after %u attempts "
		    "(USERMGR_MAIL_MAX_ATTEMPTS): %s",
		    max_attempts, err);
		res = SEND_FAIL;
		err = why;
	}
	if (res == SEND_RETRY)
		delay = outbox_backoff_random_ms(r->attempts + 1);
	for (tries = 0;; tries++) {
		switch (res) {
		case SEND_OK: rc = outbox_mark_sent(db, r->id); break;
		case SEND_RETRY: rc = outbox_mark_retry(db, r->id, err, delay); break;
		case SEND_FAIL:
		default: rc = outbox_mark_failed(db, r->id, err); break;
		}
		if (rc != UM_EUNAVAIL ||
		    tries >= (stopping ? RECORD_TRIES_STOPPING : RECORD_TRIES))
			break;
		if (tries == 0) {
			log_warn(
			    "mailer: database unavailable, holding the result of mail %lld",
			    r->id);
			log_set_level(LOG_ERR);
		}
		nap(DB_RETRY_MS, 0);
	}
	log_set_level(level);
	if (rc != UM_OK) {
		log_err("mailer: cannot record the result of mail %lld (%s); it is due again "
		        "when its lease ends",
		    r->id, um_strerror(rc));
		return;
	}
	switch (res) {
	case SEND_OK:
		log_info("mailer: mail %lld sent via %s (attempt %u)", r->id, tname,
		    r->attempts + 1);
		break;
	case SEND_RETRY:
		log_warn("mailer: mail %lld attempt %u failed, next in %lld s: %s", r->id,
		    r->attempts + 1, (delay + 999) / 1000, err);
		break;
	case SEND_FAIL:
	default:
		log_err("mailer: mail %lld failed for good after %u attempts: %s", r->id,
		    r->attempts + 1, err);
		break;
	}
}

static void
deliver(struct db *db, struct transport *t, struct arena *a, const struct conf *c,
    const struct outbox_row *r)
{
	struct mail_msg  m;
	char             err[TRANSPORT_ERR_MAX];
	enum send_result res;

	memset(&m, 0, sizeof(m));
	m.id = r->id;
	m.from_email = c->sender_email;
	m.from_name = c->sender_name != NULL ? c->sender_name : "";
	m.to_email = r->to_email;
	m.to_name = r->to_name;
	m.subject = r->subject;
	m.text = r->text_body;
	m.html = r->html_body;
	res = transport_send(t, a, &m, err, sizeof(err));
	record(db, transport_name(t), r, res, err, c->mail_max_attempts);
}

/* Reads the options (-v sets level); returns -1 to go on, else the exit status. */
static int
options(int argc, char *argv[], int *once)
{
	int ch;

	while ((ch = getopt(argc, argv, "1vh")) != -1) {
		switch (ch) {
		case '1': *once = 1; break;
		case 'v': level = LOG_DEBUG; break;
		case 'h':
		default: usage(); return ch == 'h' ? EXIT_SUCCESS : EXIT_FAILURE;
		}
	}
	if (optind != argc) {
		usage();
		return EXIT_FAILURE;
	}
	return -1;
}

/*
 * SIGTERM/SIGINT only set a flag: the message in flight finishes and its result is
 * recorded before the loop ends.  SA_RESTART keeps MariaDB and curl I/O going;
 * nanosleep is never restarted, so an idle mailer stops at once.
 */
static void
catch_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sa.sa_flags = SA_RESTART;
	(void)sigemptyset(&sa.sa_mask);
	(void)sigaction(SIGTERM, &sa, NULL);
	(void)sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	(void)sigaction(SIGPIPE, &sa, NULL);
}

/*
 * Claims the next batch into *rows and *n.  Returns outbox_claim's result; *db_down
 * remembers an outage so that it is reported once, and its end too.
 */
static enum um_err
claim(struct db *db, struct arena *a, struct outbox_row **rows, size_t *n, int *db_down,
    int once)
{
	enum um_err e;

	/* During an outage db.c's per-attempt warnings would repeat every second. */
	if (*db_down)
		log_set_level(LOG_ERR);
	e = outbox_claim(db, a, BATCH, rows, n);
	log_set_level(level);
	if (e != UM_OK && once)
		log_err("mailer: cannot claim mail: %s", um_strerror(e));
	else if (e != UM_OK) {
		/* MariaDB restarting is routine: say so once, then keep trying each second. */
		if (e == UM_EUNAVAIL && !*db_down)
			log_warn("mailer: database unavailable, retrying every second");
		else if (e != UM_EUNAVAIL)
			log_err("mailer: cannot claim mail: %s", um_strerror(e));
		*db_down = e == UM_EUNAVAIL;
	} else if (*db_down) {
		log_info("mailer: database reachable again");
		*db_down = 0;
	}
	return e;
}

/* Sends the claimed rows while their lease lasts; the rest go back at once, not after it. */
static void
deliver_all(struct db *db, struct transport *t, struct arena *a, const struct conf *c,
    const struct outbox_row *rows, size_t n)
{
	struct timespec claimed;
	size_t          i;

	log_debug("mailer: claimed %zu message(s)", n);
	(void)clock_gettime(CLOCK_MONOTONIC, &claimed);
	for (i = 0; i < n; i++) {
		if (stopping || seconds_since(&claimed) > OUTBOX_LEASE - LEASE_MARGIN)
			break;
		deliver(db, t, a, c, &rows[i]);
	}
	for (; i < n; i++)
		(void)outbox_release(db, rows[i].id);
}

/*
 * Deletes what is kept only for a while (retention.c), at most once per
 * RETENTION_INTERVAL; *last is the monotonic time of the last try (tv_sec 0: never).
 * A failure is logged and waits for the next interval: delivery matters more.
 */
static void
housekeeping(struct db *db, struct arena *a, const struct conf *c, struct timespec *last)
{
	unsigned long long n = 0;
	enum um_err        e;

	if (last->tv_sec != 0 && seconds_since(last) < RETENTION_INTERVAL)
		return;
	(void)clock_gettime(CLOCK_MONOTONIC, last);
	if ((e = retention_prune(db, a, c, &n)) != UM_OK)
		log_warn("mailer: pruning old rows failed: %s", um_strerror(e));
	else if (n > 0)
		log_info("mailer: pruned %llu old row(s)", n);
}

/*
 * Turns waiting mail requests (forgot-password, resend) into
 * outbox rows, oldest first; the claim after it then sends their mail in the same poll.  A
 * failure is logged and the requests wait for the next poll.  Returns how many it handled.
 */
static size_t
handle_requests(struct ctx *ctx)
{
	size_t      n = 0;
	enum um_err e;

	if ((e = account_handle_requests(ctx, REQUESTS, &n)) != UM_OK && e != UM_EUNAVAIL)
		log_err("mailer: cannot handle mail requests: %s", um_strerror(e));
	else if (n > 0)
		log_debug("mailer: handled %zu mail request(s)", n);
	return n;
}

/* The background wrapping of legacy hashes, and what of it is still to be logged. */
struct wrapping {
	struct legacywrap_job job;
	unsigned long long    unlogged; /* hashes wrapped since the last log line */
	struct timespec       logged;   /* when that line was written; 0: never */
};

/*
 * Wraps imported users' bare SHA-256 hashes at USERMGR_LEGACY_WRAP_PER_SECOND while no mail
 * is due (legacywrap.c): at most LEGACYWRAP_BATCH hashes, so the next mail waits for one
 * batch at most.  A failure is logged and the job rests a minute; delivery matters more.
 * Progress is one line a minute, and one when a pass ends, not one per batch.
 */
static void
wrap_legacy(struct ctx *ctx, struct wrapping *w)
{
	struct timespec now;
	size_t          n = 0;
	enum um_err     e;

	(void)clock_gettime(CLOCK_MONOTONIC, &now);
	if ((e = legacywrap_job_step(ctx, &w->job, &now, &n)) != UM_OK)
		log_warn("mailer: wrapping legacy hashes failed: %s", um_strerror(e));
	w->unlogged += n;
	if (w->unlogged > 0 &&
	    (w->job.after == 0 || w->logged.tv_sec == 0 ||
	        seconds_since(&w->logged) >= RETENTION_INTERVAL)) {
		log_info("mailer: wrapped %llu legacy hash(es) in Argon2id", w->unlogged);
		w->unlogged = 0;
		w->logged = now;
	}
}

/* Delivers until a signal, or with once until nothing is due; returns the exit status. */
static int
run(struct ctx *ctx, struct transport *t, int once)
{
	struct db         *db = ctx->db;
	struct arena      *a = ctx->arena;
	const struct conf *c = ctx->conf;
	struct outbox_row *rows;
	size_t             n;
	struct timespec    pruned = { 0, 0 };
	struct wrapping    wrap = { .unlogged = 0 };
	int                db_down = 0, more;

	legacywrap_job_init(&wrap.job, c->legacy_wrap_per_second);
	log_info("mailer: started, transport %s", transport_name(t));
	while (!stopping) {
		arena_reset(a);
		more = 0;
		if (!db_down) {
			housekeeping(db, a, c, &pruned);
			revocation_notes_reset(ctx);
			/* A full batch: more may wait, so no nap before the next poll. */
			more = handle_requests(ctx) == REQUESTS;
			/* Its revocations reach this host's workers at once (fastpath.c). */
			fastpath_apply_notes(ctx);
		}
		if (claim(db, a, &rows, &n, &db_down, once) != UM_OK) {
			if (once)
				return EXIT_FAILURE;
			nap(DB_RETRY_MS, 1);
			continue;
		}
		if (n == 0 && !more) {
			if (once)
				break;
			wrap_legacy(ctx, &wrap);
			nap(IDLE_MS, 1);
			continue;
		}
		if (n > 0)
			deliver_all(db, t, a, c, rows, n);
	}
	log_info("mailer: stopped");
	return EXIT_SUCCESS;
}

int
main(int argc, char *argv[])
{
	struct runtime    rt;
	struct ctx        ctx;
	struct transport *t = NULL;
	struct arena     *a = NULL;
	char              err[256];
	int               once = 0, have_rt = 0, curl_up = 0, rc;

	if ((rc = options(argc, argv, &once)) >= 0)
		return rc;
	rc = EXIT_FAILURE;
	log_set_level(level);
	log_context("mailer", NULL);

	/*
	 * The worker's configuration, keys and templates: the mailer signs the links of the
	 * requests it handles and renders their mail (account_handle_requests).
	 */
	if (runtime_load(&rt, env, err, sizeof(err)) != UM_OK) {
		log_err("mailer: configuration: %s", err);
		goto out;
	}
	have_rt = 1;
	/* runtime_load took USERMGR_LOG_LEVEL; the mailer's own is -v. */
	log_set_level(level);
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		log_err("mailer: curl_global_init failed");
		goto out;
	}
	curl_up = 1;
	if (transport_new(&rt.conf, &t, err, sizeof(err)) != UM_OK) {
		log_err("mailer: configuration: %s", err);
		goto out;
	}
	if (rt.db == NULL || (a = arena_new()) == NULL) {
		log_err("mailer: out of memory");
		goto out;
	}
	runtime_ctx(&rt, a, &ctx);
	catch_signals();
	rc = run(&ctx, t, once);
out:
	arena_free(a);
	transport_free(t);
	if (curl_up)
		curl_global_cleanup();
	if (have_rt)
		runtime_free(&rt);
	return rc;
}
