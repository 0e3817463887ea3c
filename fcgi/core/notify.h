/* notify: the mails the application sends, rendered from templates/mail/ into the outbox. */
#ifndef UM_NOTIFY_H
#define UM_NOTIFY_H

#include <jansson.h>

#include "error.h"

struct ctx;

/*
 * Renders templates mail/<name>.subject, mail/<name>.txt and mail/<name>.html with data
 * (reference stolen; base_url is added) and queues the message for to_email / to_name in
 * email_outbox.  Runs in the caller's transaction, so the mail exists exactly when the
 * change that causes it does (API.md §5).  UM_EINVAL when an address, name or subject
 * holds something a mail header cannot (CR, LF, control characters).
 */
enum um_err notify_queue(struct ctx *, const char *, const char *, const char *, json_t *);

#endif
