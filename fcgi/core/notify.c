/* notify: mail rendering and queueing in one call, so every mail takes the same checked path. */
#include "config.h"

#include <string.h>

#include <jansson.h>

#include "arena.h"
#include "buf.h"
#include "conf.h"
#include "ctx.h"
#include "log.h"
#include "mail.h"
#include "notify.h"
#include "outbox.h"
#include "template.h"

static enum um_err
render(struct ctx *ctx, const char *name, const char *part, json_t *data, char **out)
{
	struct buf  b;
	enum um_err rc;

	buf_init(&b, ctx->arena);
	if ((rc = tmpl_render(ctx->tmpl, arena_printf(ctx->arena, "mail/%s.%s", name, part),
	         data, &b)) != UM_OK) {
		log_err("notify: cannot render mail/%s.%s", name, part);
		return rc;
	}
	*out = b.data;
	return UM_OK;
}

enum um_err
notify_queue(struct ctx *ctx, const char *name, const char *to_email, const char *to_name,
    json_t *data)
{
	struct mail_msg m;
	char           *subject, *text, *html;
	size_t          n;
	long long       id;
	enum um_err     rc;

	json_object_set_new(data, "base_url", json_string(ctx->conf->base_url));
	if ((rc = render(ctx, name, "subject", data, &subject)) != UM_OK ||
	    (rc = render(ctx, name, "txt", data, &text)) != UM_OK ||
	    (rc = render(ctx, name, "html", data, &html)) != UM_OK)
		goto out;
	/* A subject template may end in a newline; a header must not. */
	n = strlen(subject);
	while (n > 0 &&
	    (subject[n - 1] == '\n' || subject[n - 1] == '\r' || subject[n - 1] == ' '))
		subject[--n] = '\0';
	memset(&m, 0, sizeof(m));
	m.from_email = ctx->conf->sender_email;
	m.from_name = ctx->conf->sender_name;
	m.to_email = to_email;
	m.to_name = to_name != NULL ? to_name : "";
	m.subject = subject;
	m.text = text;
	m.html = html;
	/* Header injection is refused here, before anything reaches the outbox. */
	if ((rc = mail_check(&m)) != UM_OK) {
		log_warn("notify: refused to queue mail/%s: unsafe header value", name);
		goto out;
	}
	rc = outbox_enqueue(ctx->db, ctx->arena, to_email, m.to_name, subject, text, html, &id);
out:
	json_decref(data);
	return rc;
}
