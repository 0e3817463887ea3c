/* transport: one way to hand a message to the world — .eml files, Mailjet, or SMTP — chosen by config. */
#ifndef UM_TRANSPORT_H
#define UM_TRANSPORT_H

#include <stddef.h>

#include "conf.h"
#include "error.h"

struct arena;
struct mail_msg;
struct transport;

/* What became of one attempt; the outbox turns it into sent, a retry later, or failed. */
enum send_result {
	SEND_OK = 0, /* accepted by the provider (or written to disk) */
	SEND_RETRY,  /* temporary: network, timeout, 429, 5xx, SMTP 4xx, disk full */
	SEND_FAIL,   /* permanent: Mailjet 4xx, per-message error, SMTP 5xx, bad address */
	SEND__MAX
};

#define TRANSPORT_ERR_MAX 512 /* bytes of an error text, NUL included */

/*
 * Creates the transport conf->mail_transport names, checking that its settings are there
 * (Mailjet needs a key and a secret, SMTP a URL, every transport a valid SENDER_EMAIL).  conf is borrowed and must outlive the
 * transport.  On error returns UM_EINVAL with a message naming the variable in err.
 * The caller owns the result; transport_free() accepts NULL.  Call curl_global_init() first.
 */
enum um_err         transport_new(const struct conf *, struct transport **, char *, size_t);
void                transport_free(struct transport *);
enum mail_transport transport_kind(const struct transport *);
const char         *transport_name(const struct transport *);

/*
 * Sends one message.  Scratch memory comes from the arena.  On anything but SEND_OK, err
 * holds a one-line printable-ASCII reason, never a credential (it goes to last_error).
 */
enum send_result transport_send(struct transport *, struct arena *, const struct mail_msg *,
    char *, size_t);

/*
 * Classifies a Mailjet Send API v3.1 answer (API.md §5, §7): 2xx with Messages[0].Status
 * "success" is SEND_OK; 429 and 5xx are SEND_RETRY; any other 4xx, or a 2xx whose message
 * status is not "success", is SEND_FAIL.  Mailjet's ErrorMessage texts go into err.
 */
enum send_result transport_mailjet_classify(long, const char *, size_t, char *, size_t);

/* Backends, one file each; transport.c dispatches to them. */
struct transport_ops {
	const char *name;
	enum um_err (*init)(struct transport *, char *, size_t);
	enum send_result (
	    *send)(struct transport *, struct arena *, const struct mail_msg *, char *, size_t);
	void (*fini)(struct transport *);
};

struct transport {
	const struct transport_ops *ops;
	const struct conf          *conf; /* borrowed */
	void                       *curl; /* CURL *, kept for connection reuse */
};

extern const struct transport_ops transport_file_ops;    /* transport-file.c */
extern const struct transport_ops transport_mailjet_ops; /* transport-mailjet.c */
extern const struct transport_ops transport_smtp_ops;    /* transport-smtp.c */

/* For backends: a libcurl handle in t->curl (freed by transport_free()); UM_EINTERNAL if none. */
enum um_err transport_curl_init(struct transport *, char *, size_t);
/* For backends: copies msg into err as printable ASCII, with every configured secret masked. */
void transport_set_err(const struct transport *, char *, size_t, const char *);

#endif
