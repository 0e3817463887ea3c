/* outbox: queueing mail in the caller's transaction, and the mailer's claim/mark cycle with backoff. */
#include "config.h"

#include <stdint.h>
#include <string.h>

#include <openssl/rand.h>

#include "arena.h"
#include "db.h"
#include "mail.h"
#include "outbox.h"
#include "utf8.h"

#define OUTBOX_NAME_MAX  255               /* characters: to_name and subject columns */
#define OUTBOX_ERROR_MAX 1000              /* characters: last_error column */
#define OUTBOX_BODY_MAX  (4 * 1024 * 1024) /* bytes: far below MEDIUMTEXT's 16 MiB */

/*
 * A message that has left (or never will) keeps only what an operator needs: recipient,
 * status, attempts, times, last_error.  Its subject and bodies go, so no working reset,
 * verification or change-of-address link stays in the database (DESIGN.md: the database
 * stores hashes of what acts, never the thing itself).  MariaDB applies SET assignments
 * left to right, so BLANK_IF_FAILED sees the status just set.
 */
#define BLANK "subject = '', text_body = '', html_body = ''"
#define BLANK_IF_FAILED \
	"subject = IF(status = 'failed', '', subject), " \
	"text_body = IF(status = 'failed', '', text_body), " \
	"html_body = IF(status = 'failed', '', html_body), "

enum um_err
outbox_enqueue(struct db *db, struct arena *a, const char *to_email, const char *to_name,
    const char *subject, const char *text_body, const char *html_body, long long *id)
{
	struct db_val p[5];
	struct db_res res;
	enum um_err   rc = UM_EINVAL;

	if (to_name == NULL)
		to_name = "";
	if (!mail_address_ok(to_email) || !mail_header_ok(to_name, OUTBOX_NAME_MAX) ||
	    subject == NULL || !mail_header_ok(subject, OUTBOX_NAME_MAX) || text_body == NULL ||
	    html_body == NULL || strlen(text_body) > OUTBOX_BODY_MAX ||
	    strlen(html_body) > OUTBOX_BODY_MAX || !utf8_valid(text_body, strlen(text_body)) ||
	    !utf8_valid(html_body, strlen(html_body)))
		goto out;
	p[0] = dbv_text(to_email);
	p[1] = dbv_text(to_name);
	p[2] = dbv_text(subject);
	p[3] = dbv_text(text_body);
	p[4] = dbv_text(html_body);
	if ((rc = db_exec(db, a,
	         "INSERT INTO email_outbox (to_email, to_name, subject, text_body, html_body) "
	         "VALUES (?, ?, ?, ?, ?)",
	         p, 5, &res)) != UM_OK)
		goto out;
	if (id != NULL)
		*id = (long long)res.insert_id;
	rc = UM_OK;
out:
	return rc;
}

static const char *
cell_text(const struct db_res *r, size_t row, size_t col)
{
	const struct db_val *v = DB_CELL(r, row, col);

	return v->type == DB_NULL || v->s == NULL ? "" : v->s;
}

enum um_err
outbox_claim(struct db *db, struct arena *a, size_t max, struct outbox_row **rows, size_t *n)
{
	struct db_val      p[2];
	struct db_res      res;
	struct outbox_row *out = NULL;
	size_t             i;
	enum um_err        rc;

	*rows = NULL;
	*n = 0;
	if ((rc = db_begin(db)) != UM_OK)
		goto out;
	p[0] = DBV_INT(OUTBOX_MAX_AGE);
	p[1] = DBV_INT(max);
	/*
	 * SKIP LOCKED lets several mailers claim disjoint batches without waiting on each
	 * other (MariaDB 10.6+).  The lock lasts only until the commit below.
	 */
	if ((rc = db_exec(db, a,
	         "SELECT id, to_email, to_name, subject, text_body, html_body, attempts, "
	         "created_at <= UTC_TIMESTAMP(6) - INTERVAL ? SECOND "
	         "FROM email_outbox WHERE status = 'queued' AND next_attempt_at <= UTC_TIMESTAMP(6) "
	         "ORDER BY next_attempt_at, id LIMIT ? FOR UPDATE SKIP LOCKED",
	         p, 2, &res)) != UM_OK)
		goto fail;
	if (res.nrows > 0)
		out = arena_calloc(a, res.nrows, sizeof(*out));
	for (i = 0; i < res.nrows; i++) {
		out[i].id = DB_CELL(&res, i, 0)->i;
		out[i].to_email = cell_text(&res, i, 1);
		out[i].to_name = cell_text(&res, i, 2);
		out[i].subject = cell_text(&res, i, 3);
		out[i].text_body = cell_text(&res, i, 4);
		out[i].html_body = cell_text(&res, i, 5);
		out[i].attempts = (unsigned)DB_CELL(&res, i, 6)->i;
		out[i].old = DB_CELL(&res, i, 7)->i != 0;
		/* The lease: invisible to every mailer until it runs out or we record a result. */
		p[0] = DBV_INT(OUTBOX_LEASE);
		p[1] = DBV_INT(out[i].id);
		if ((rc = db_exec(db, a,
		         "UPDATE email_outbox SET next_attempt_at = UTC_TIMESTAMP(6) + INTERVAL ? SECOND "
		         "WHERE id = ?",
		         p, 2, NULL)) != UM_OK)
			goto fail;
	}
	if ((rc = db_commit(db)) != UM_OK)
		goto out;
	*rows = out;
	*n = res.nrows;
	rc = UM_OK;
	goto out;
fail:
	db_rollback(db);
out:
	return rc;
}

/* Copies msg into dst as at most OUTBOX_ERROR_MAX printable ASCII characters. */
static void
error_text(char *dst, size_t sz, const char *msg)
{
	size_t i;

	for (i = 0; msg != NULL && msg[i] != '\0' && i + 1 < sz; i++)
		dst[i] = ((unsigned char)msg[i] < 0x20 || (unsigned char)msg[i] > 0x7e) ?
		    '?' :
		    msg[i];
	dst[i] = '\0';
}

enum um_err
outbox_mark_sent(struct db *db, long long id)
{
	struct db_val p[1];

	p[0] = DBV_INT(id);
	return db_exec(db, NULL,
	    "UPDATE email_outbox SET status = 'sent', sent_at = UTC_TIMESTAMP(6), "
	    "attempts = attempts + 1, last_error = NULL, " BLANK " WHERE id = ?",
	    p, 1, NULL);
}

enum um_err
outbox_mark_retry(struct db *db, long long id, const char *err, long long delay_ms)
{
	struct db_val p[4];
	char          e[OUTBOX_ERROR_MAX + 1];

	error_text(e, sizeof(e), err);
	p[0] = dbv_text(e);
	p[1] = DBV_INT(OUTBOX_MAX_AGE);
	p[2] = DBV_INT(delay_ms * 1000);
	p[3] = DBV_INT(id);
	/* API.md §7: after 24 h of trying the message is marked failed. */
	return db_exec(db, NULL,
	    "UPDATE email_outbox SET attempts = attempts + 1, last_error = ?, "
	    "status = IF(created_at <= UTC_TIMESTAMP(6) - INTERVAL ? SECOND, 'failed', 'queued'), " BLANK_IF_FAILED
	    "next_attempt_at = UTC_TIMESTAMP(6) + INTERVAL ? MICROSECOND "
	    "WHERE id = ? AND status = 'queued'",
	    p, 4, NULL);
}

enum um_err
outbox_mark_failed(struct db *db, long long id, const char *err)
{
	struct db_val p[2];
	char          e[OUTBOX_ERROR_MAX + 1];

	error_text(e, sizeof(e), err);
	p[0] = dbv_text(e);
	p[1] = DBV_INT(id);
	return db_exec(db, NULL,
	    "UPDATE email_outbox SET status = 'failed', attempts = attempts + 1, last_error = ?, " BLANK
	    " WHERE id = ? AND status = 'queued'",
	    p, 2, NULL);
}

enum um_err
outbox_release(struct db *db, long long id)
{
	struct db_val p[1];

	p[0] = DBV_INT(id);
	return db_exec(db, NULL,
	    "UPDATE email_outbox SET next_attempt_at = UTC_TIMESTAMP(6) "
	    "WHERE id = ? AND status = 'queued'",
	    p, 1, NULL);
}

long long
outbox_backoff_ms(unsigned attempts, uint32_t rnd)
{
	long long base = OUTBOX_BACKOFF_FIRST;
	unsigned  i;
	uint64_t  span, permille_x1000;

	for (i = 1; i < attempts && base < OUTBOX_BACKOFF_MAX; i++)
		base *= 2;
	if (base > OUTBOX_BACKOFF_MAX)
		base = OUTBOX_BACKOFF_MAX;
	/* Factor in thousandths of a permille: [1000 - J, 1000 + J] permille, uniform in rnd. */
	span = 2 * OUTBOX_JITTER_PERMILLE * 1000ULL;
	permille_x1000 = (1000 - OUTBOX_JITTER_PERMILLE) * 1000ULL +
	    (uint64_t)rnd * span / UINT32_MAX;
	return (long long)((uint64_t)base * 1000 * permille_x1000 / 1000000ULL);
}

long long
outbox_backoff_random_ms(unsigned attempts)
{
	uint32_t r = UINT32_MAX / 2;

	/* Without randomness the delay is merely unjittered, never wrong. */
	(void)RAND_bytes((unsigned char *)&r, sizeof(r));
	return outbox_backoff_ms(attempts, r);
}
