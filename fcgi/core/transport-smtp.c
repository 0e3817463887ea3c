/* transport-smtp: the built message over libcurl SMTP (STARTTLS, required with credentials; smtps://). */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include "arena.h"
#include "conf.h"
#include "mail.h"
#include "transport.h"

#define SMTP_CONNECT_TIMEOUT 10L /* seconds */
#define SMTP_TIMEOUT         60L /* seconds for the whole exchange */

/* The message being uploaded. */
struct upload {
	const char *p;
	size_t      left;
};

static size_t
on_read(char *dst, size_t size, size_t n, void *arg)
{
	struct upload *u = arg;
	size_t         len = size * n;

	if (len > u->left)
		len = u->left;
	memcpy(dst, u->p, len);
	u->p += len;
	u->left -= len;
	return len;
}

static enum um_err
smtp_init(struct transport *t, char *err, size_t errlen)
{
	const char *u = t->conf->smtp_url;

	if (u == NULL || (strncmp(u, "smtp://", 7) != 0 && strncmp(u, "smtps://", 8) != 0)) {
		(void)snprintf(err, errlen,
		    "USERMGR_SMTP_URL must be set to an smtp:// or "
		    "smtps:// URL");
		return UM_EINVAL;
	}
	return transport_curl_init(t, err, errlen);
}

static enum send_result
smtp_send(struct transport *t, struct arena *a, const struct mail_msg *m, char *err,
    size_t errlen)
{
	const struct conf *c = t->conf;
	CURL              *curl = t->curl;
	struct curl_slist *rcpt = NULL;
	struct upload      up;
	char               ebuf[CURL_ERROR_SIZE], msg[TRANSPORT_ERR_MAX], *text;
	size_t             len;
	long               code = 0;
	CURLcode           cc;
	enum send_result   rc = SEND_RETRY;

	if (mail_build(a, m, time(NULL), &text, &len) != UM_OK) {
		transport_set_err(t, err, errlen, "smtp: cannot build the message");
		rc = SEND_FAIL;
		goto out;
	}
	up.p = text;
	up.left = len;
	ebuf[0] = '\0';
	if ((rcpt = curl_slist_append(NULL, arena_printf(a, "<%s>", m->to_email))) == NULL) {
		transport_set_err(t, err, errlen, "smtp: out of memory");
		goto out;
	}
	curl_easy_reset(curl);
	(void)curl_easy_setopt(curl, CURLOPT_URL, c->smtp_url);
	(void)curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
	/*
	 * smtp:// upgrades with STARTTLS when the server offers it (RFC 3207); smtps:// is TLS
	 * from the first byte (RFC 8314).  Certificates are verified either way.  With
	 * credentials, TLS is required (API.md §8): a server, or a man in the middle, that
	 * offers no STARTTLS gets no AUTH and no message, and the send is retried.
	 */
	(void)curl_easy_setopt(curl, CURLOPT_USE_SSL,
	    (long)(c->smtp_user != NULL && c->smtp_user[0] != '\0' ? CURLUSESSL_ALL :
	                                                             CURLUSESSL_TRY));
	(void)curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 1L);
	(void)curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 2L);
	if (c->smtp_ca != NULL && c->smtp_ca[0] != '\0')
		(void)curl_easy_setopt(curl, CURLOPT_CAINFO, c->smtp_ca);
	if (c->smtp_user != NULL && c->smtp_user[0] != '\0') {
		(void)curl_easy_setopt(curl, CURLOPT_USERNAME, c->smtp_user);
		(void)curl_easy_setopt(curl, CURLOPT_PASSWORD,
		    c->smtp_password != NULL ? c->smtp_password : "");
	}
	(void)curl_easy_setopt(curl, CURLOPT_MAIL_FROM, arena_printf(a, "<%s>", m->from_email));
	(void)curl_easy_setopt(curl, CURLOPT_MAIL_RCPT, rcpt);
	(void)curl_easy_setopt(curl, CURLOPT_UPLOAD, 1L);
	(void)curl_easy_setopt(curl, CURLOPT_INFILESIZE_LARGE, (curl_off_t)len);
	(void)curl_easy_setopt(curl, CURLOPT_READFUNCTION, on_read);
	(void)curl_easy_setopt(curl, CURLOPT_READDATA, &up);
	(void)curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, SMTP_CONNECT_TIMEOUT);
	(void)curl_easy_setopt(curl, CURLOPT_TIMEOUT, SMTP_TIMEOUT);
	(void)curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	(void)curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, ebuf);

	if ((cc = curl_easy_perform(curl)) == CURLE_OK) {
		rc = SEND_OK;
		goto out;
	}
	(void)curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &code);
	/*
	 * RFC 5321 §4.2.1: 4yz is a transient failure, 5yz a permanent one.  Without a reply
	 * code the connection itself failed, which is transient too.
	 */
	rc = code >= 500 && code <= 599 ? SEND_FAIL : SEND_RETRY;
	(void)snprintf(msg, sizeof(msg), "smtp: %s (reply %ld)",
	    ebuf[0] != '\0' ? ebuf : curl_easy_strerror(cc), code);
	transport_set_err(t, err, errlen, msg);
out:
	if (curl != NULL) {
		(void)curl_easy_setopt(curl, CURLOPT_MAIL_RCPT, NULL);
		(void)curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, NULL);
	}
	curl_slist_free_all(rcpt);
	return rc;
}

const struct transport_ops transport_smtp_ops = {
	.name = "smtp",
	.init = smtp_init,
	.send = smtp_send,
};
