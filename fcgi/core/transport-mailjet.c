/* transport-mailjet: the Mailjet Send API v3.1 over libcurl, and how its answers map to retry or fail. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include <curl/curl.h>
#include <jansson.h>

#include "arena.h"
#include "buf.h"
#include "conf.h"
#include "mail.h"
#include "transport.h"

#define MJ_CONNECT_TIMEOUT 10L   /* seconds */
#define MJ_TIMEOUT         30L   /* seconds for the whole exchange */
#define MJ_RESPONSE_MAX    65536 /* bytes of answer kept; Mailjet's are far smaller */

struct resp {
	struct buf b;
};

static size_t
on_data(char *p, size_t size, size_t n, void *arg)
{
	struct resp *r = arg;
	size_t       len = size * n;

	/* Past the cap the answer is dropped, not the transfer: the status still counts. */
	if (r->b.len < MJ_RESPONSE_MAX)
		buf_append(&r->b, p,
		    len < MJ_RESPONSE_MAX - r->b.len ? len : MJ_RESPONSE_MAX - r->b.len);
	return len;
}

static enum um_err
mailjet_init(struct transport *t, char *err, size_t errlen)
{
	const struct conf *c = t->conf;

	if (c->mailjet_key == NULL || c->mailjet_key[0] == '\0') {
		(void)snprintf(err, errlen, "MAILJET_API_KEY (or API_KEY) is not set");
		return UM_EINVAL;
	}
	if (c->mailjet_secret == NULL || c->mailjet_secret[0] == '\0') {
		(void)snprintf(err, errlen, "MAILJET_API_SECRET (or API_SECRET) is not set");
		return UM_EINVAL;
	}
	if (c->mailjet_url == NULL ||
	    (strncmp(c->mailjet_url, "https://", 8) != 0 &&
	        strncmp(c->mailjet_url, "http://", 7) != 0)) {
		(void)snprintf(err, errlen, "MAILJET_API_URL must be an http(s) URL");
		return UM_EINVAL;
	}
	return transport_curl_init(t, err, errlen);
}

/* Appends every ErrorMessage of one Mailjet error object (and its Errors array) to b. */
static void
collect_errors(struct buf *b, const json_t *o)
{
	const json_t *e;
	size_t        i;

	if ((e = json_object_get(o, "ErrorMessage")) != NULL && json_is_string(e)) {
		if (b->len > 0)
			buf_puts(b, "; ");
		buf_puts(b, json_string_value(e));
	}
	json_array_foreach(json_object_get(o, "Errors"), i, e) collect_errors(b, e);
}

enum send_result
transport_mailjet_classify(long status, const char *body, size_t len, char *err, size_t errlen)
{
	struct buf       why;
	struct arena    *a;
	json_t          *root = NULL, *m0, *st;
	const json_t    *m;
	const char      *mstatus = NULL;
	size_t           i;
	enum send_result rc = SEND_RETRY;

	a = arena_new();
	buf_init(&why, a);
	if (body != NULL && len > 0)
		root = json_loadb(body, len, 0, NULL);
	if (root != NULL) {
		collect_errors(&why, root);
		json_array_foreach(json_object_get(root, "Messages"), i, m)
		    collect_errors(&why, m);
		m0 = json_array_get(json_object_get(root, "Messages"), 0);
		if ((st = json_object_get(m0, "Status")) != NULL && json_is_string(st))
			mstatus = json_string_value(st);
	}
	if (status >= 200 && status <= 299) {
		if (mstatus != NULL && strcmp(mstatus, "success") == 0) {
			rc = SEND_OK;
			if (errlen > 0)
				err[0] = '\0';
			goto out;
		}
		/* API.md §7: a 200 whose message did not succeed fails like a 4xx. */
		rc = SEND_FAIL;
		(void)snprintf(err, errlen, "mailjet: HTTP %ld, message status %.40s%s%s",
		    status, mstatus != NULL ? mstatus : "missing", why.len > 0 ? ": " : "",
		    why.data);
		goto out;
	}
	/* 429 is rate limiting and 5xx the provider's fault: both pass; other 4xx will not. */
	if (status == 429 || status >= 500 || status < 400)
		rc = SEND_RETRY;
	else
		rc = SEND_FAIL;
	(void)snprintf(err, errlen, "mailjet: HTTP %ld%s%s", status, why.len > 0 ? ": " : "",
	    why.data);
out:
	json_decref(root);
	arena_free(a);
	return rc;
}

static enum send_result
mailjet_send(struct transport *t, struct arena *a, const struct mail_msg *m, char *err,
    size_t errlen)
{
	const struct conf *c = t->conf;
	CURL              *curl = t->curl;
	struct curl_slist *hdrs = NULL, *h;
	struct resp        r;
	char               ebuf[CURL_ERROR_SIZE], msg[TRANSPORT_ERR_MAX], *json;
	size_t             jlen;
	long               status = 0;
	CURLcode           cc;
	enum send_result   rc = SEND_RETRY;

	if (mail_mailjet_json(a, m, &json, &jlen) != UM_OK) {
		transport_set_err(t, err, errlen, "mailjet: cannot build the request body");
		rc = SEND_FAIL;
		goto out;
	}
	buf_init(&r.b, a);
	ebuf[0] = '\0';
	/* Reset keeps the connection cache, so a batch reuses one TLS connection. */
	curl_easy_reset(curl);
	if ((h = curl_slist_append(hdrs, "Content-Type: application/json")) == NULL)
		goto nomem;
	hdrs = h;
	if ((h = curl_slist_append(hdrs, "Accept: application/json")) == NULL)
		goto nomem;
	hdrs = h;
	/* No "Expect: 100-continue" round trip before the body. */
	if ((h = curl_slist_append(hdrs, "Expect:")) == NULL)
		goto nomem;
	hdrs = h;
	(void)curl_easy_setopt(curl, CURLOPT_URL, c->mailjet_url);
	(void)curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
	(void)curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
	(void)curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 1L);
	(void)curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 2L);
	(void)curl_easy_setopt(curl, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
	(void)curl_easy_setopt(curl, CURLOPT_USERNAME, c->mailjet_key);
	(void)curl_easy_setopt(curl, CURLOPT_PASSWORD, c->mailjet_secret);
	(void)curl_easy_setopt(curl, CURLOPT_HTTPHEADER, hdrs);
	(void)curl_easy_setopt(curl, CURLOPT_POSTFIELDS, json);
	(void)curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)jlen);
	(void)curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, MJ_CONNECT_TIMEOUT);
	(void)curl_easy_setopt(curl, CURLOPT_TIMEOUT, MJ_TIMEOUT);
	(void)curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	(void)curl_easy_setopt(curl, CURLOPT_USERAGENT, "usermgr-mailer/" PACKAGE_VERSION);
	(void)curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, ebuf);
	(void)curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_data);
	(void)curl_easy_setopt(curl, CURLOPT_WRITEDATA, &r);

	if ((cc = curl_easy_perform(curl)) != CURLE_OK) {
		/* Network trouble, a timeout, TLS: all worth another try later. */
		(void)snprintf(msg, sizeof(msg), "mailjet: %s",
		    ebuf[0] != '\0' ? ebuf : curl_easy_strerror(cc));
		transport_set_err(t, err, errlen, msg);
		rc = SEND_RETRY;
		goto out;
	}
	(void)curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
	rc = transport_mailjet_classify(status, r.b.data, r.b.len, msg, sizeof(msg));
	if (rc != SEND_OK)
		transport_set_err(t, err, errlen, msg);
	goto out;
nomem:
	transport_set_err(t, err, errlen, "mailjet: out of memory");
	rc = SEND_RETRY;
out:
	/* Neither the body nor the header list may outlive this call inside the handle. */
	if (curl != NULL) {
		(void)curl_easy_setopt(curl, CURLOPT_HTTPHEADER, NULL);
		(void)curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, NULL);
	}
	curl_slist_free_all(hdrs);
	return rc;
}

const struct transport_ops transport_mailjet_ops = {
	.name = "mailjet",
	.init = mailjet_init,
	.send = mailjet_send,
};
