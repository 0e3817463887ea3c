/* mail: one outbox row turned into an RFC 5322 message or a Mailjet Send API v3.1 body. */
#ifndef UM_MAIL_H
#define UM_MAIL_H

#include <stddef.h>
#include <time.h>

#include "error.h"

struct arena;

/* A message to send; every string is borrowed, NUL-terminated UTF-8. */
struct mail_msg {
	long long   id;         /* email_outbox.id: Message-ID, file name, Mailjet CustomID */
	const char *from_email; /* SENDER_EMAIL */
	const char *from_name;  /* SENDER_NAME, may be "" */
	const char *to_email;
	const char *to_name; /* may be "" */
	const char *subject;
	const char *text; /* text/plain body, LF or CRLF line ends */
	const char *html; /* text/html body */
};

/*
 * Checks what will go into header fields and the SMTP envelope: addresses are printable
 * ASCII with one '@', at most UM_EMAIL_MAX octets; names and the subject are valid UTF-8
 * with no control characters at all, so no CR or LF can smuggle in a header (RFC 5322
 * §2.2) or an SMTP command.  Bodies must be valid UTF-8 without NUL.  UM_EINVAL otherwise.
 */
enum um_err mail_check(const struct mail_msg *);
/* 1 when s is an address mail_check accepts. */
int mail_address_ok(const char *);
/* 1 when s is header text mail_check accepts, at most max characters. */
int mail_header_ok(const char *, size_t);

/*
 * Builds the whole message (RFC 5322, MIME RFC 2045-2047): CRLF line ends, no line over
 * 78 octets, multipart/alternative with a text/plain and a text/html part, both UTF-8 and
 * quoted-printable.  now is the Date.  The text is arena-owned and NUL-terminated.
 */
enum um_err mail_build(struct arena *, const struct mail_msg *, time_t, char **, size_t *);

/*
 * Builds the Mailjet Send API v3.1 body: {"Messages":[{"From":{"Email","Name"},"To":[{"Email",
 * "Name"}],"Subject","TextPart","HTMLPart","CustomID":"<id>"}]}.  Arena-owned JSON text.
 */
enum um_err mail_mailjet_json(struct arena *, const struct mail_msg *, char **, size_t *);

/* Formats t as an RFC 5322 §3.3 date-time in UTC into dst (at least 32 bytes). */
void mail_date(char *, size_t, time_t);

#endif
