/* transport: picks the backend USERMGR_MAIL_TRANSPORT names and keeps credentials out of error texts. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "arena.h"
#include "conf.h"
#include "mail.h"
#include "transport.h"

/* Parallel to enum mail_transport. */
static const struct transport_ops *const backends[MAIL__MAX] = {
	[MAIL_FILE] = &transport_file_ops,       /* .eml files in USERMGR_MAIL_DIR */
	[MAIL_MAILJET] = &transport_mailjet_ops, /* Mailjet Send API v3.1 */
	[MAIL_SMTP] = &transport_smtp_ops,       /* libcurl SMTP */
};

enum um_err
transport_new(const struct conf *c, struct transport **out, char *err, size_t errlen)
{
	struct transport *t = NULL;
	enum um_err       rc = UM_EINVAL;

	*out = NULL;
	if ((unsigned)c->mail_transport >= MAIL__MAX) {
		(void)snprintf(err, errlen,
		    "USERMGR_MAIL_TRANSPORT is not file, mailjet or smtp");
		goto out;
	}
	/* Checked once here: a bad sender would otherwise fail every message for good. */
	if (!mail_address_ok(c->sender_email)) {
		(void)snprintf(err, errlen, "SENDER_EMAIL is not a valid address");
		goto out;
	}
	if (c->sender_name != NULL && !mail_header_ok(c->sender_name, 255)) {
		(void)snprintf(err, errlen,
		    "SENDER_NAME holds control characters, invalid UTF-8, "
		    "or more than 255 characters");
		goto out;
	}
	if ((t = calloc(1, sizeof(*t))) == NULL) {
		rc = UM_EINTERNAL;
		(void)snprintf(err, errlen, "out of memory");
		goto out;
	}
	t->ops = backends[c->mail_transport];
	t->conf = c;
	if ((rc = t->ops->init(t, err, errlen)) != UM_OK) {
		t->ops = NULL;
		goto out;
	}
	*out = t;
	t = NULL;
	rc = UM_OK;
out:
	free(t);
	return rc;
}

void
transport_free(struct transport *t)
{
	if (t == NULL)
		return;
	if (t->ops != NULL && t->ops->fini != NULL)
		t->ops->fini(t);
	if (t->curl != NULL)
		curl_easy_cleanup(t->curl);
	free(t);
}

enum um_err
transport_curl_init(struct transport *t, char *err, size_t errlen)
{
	if ((t->curl = curl_easy_init()) == NULL) {
		(void)snprintf(err, errlen, "curl_easy_init failed");
		return UM_EINTERNAL;
	}
	return UM_OK;
}

enum mail_transport
transport_kind(const struct transport *t)
{
	size_t i;

	for (i = 0; i < MAIL__MAX; i++)
		if (backends[i] == t->ops)
			return (enum mail_transport)i;
	return MAIL__MAX;
}

const char *
transport_name(const struct transport *t)
{
	return t->ops->name;
}

enum send_result
transport_send(struct transport *t, struct arena *a, const struct mail_msg *m, char *err,
    size_t errlen)
{
	err[0] = '\0';
	/* A row no transport could ever send (bad address, CR/LF in a header) fails at once. */
	if (mail_check(m) != UM_OK) {
		transport_set_err(t, err, errlen, "invalid recipient, sender or header text");
		return SEND_FAIL;
	}
	return t->ops->send(t, a, m, err, errlen);
}

/* Overwrites every occurrence of secret in s with '*'. */
static void
mask(char *s, const char *secret)
{
	size_t n;
	char  *p;

	if (secret == NULL || (n = strlen(secret)) < 4)
		return;
	while ((p = strstr(s, secret)) != NULL)
		memset(p, '*', n);
}

void
transport_set_err(const struct transport *t, char *err, size_t errlen, const char *msg)
{
	const struct conf *c = t->conf;
	size_t             i;

	if (errlen == 0)
		return;
	(void)snprintf(err, errlen, "%s", msg);
	/* Printable ASCII only: the text lands in a utf8mb4 column and in log lines. */
	for (i = 0; err[i] != '\0'; i++)
		if ((unsigned char)err[i] < 0x20 || (unsigned char)err[i] > 0x7e)
			err[i] = '?';
	mask(err, c->mailjet_key);
	mask(err, c->mailjet_secret);
	mask(err, c->smtp_password);
	mask(err, c->db_password);
}
