/* mail: RFC 5322/MIME message and Mailjet JSON building, so every transport sends the same mail. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "arena.h"
#include "bounds.h"
#include "buf.h"
#include "mail.h"
#include "utf8.h"

/*
 * RFC 5322 §2.1.1: lines SHOULD stay within 78 characters; RFC 2047 §2 wants lines holding
 * encoded words within 76, and RFC 2045 §6.7 (5) caps quoted-printable lines at 76.
 */
#define HDR_LINE_MAX   78
#define EW_LINE_MAX    76
#define EW_MAX         75 /* RFC 2047 §2: an encoded word is at most 75 characters */
#define EW_OVERHEAD    12 /* "=?UTF-8?B?" + "?=" */
#define QP_LINE_MAX    76
#define RAND_HEX_BYTES 12 /* Message-ID and boundary randomness: 96 bits */

static const char hexd[] = "0123456789ABCDEF";

/* 1 when every byte of s is printable ASCII or space (no control characters). */
static int
is_printable_ascii(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
			return 0;
	return 1;
}

/* Header text: valid UTF-8 with no C0 control (so no CR/LF/TAB/NUL) and no DEL. */
int
mail_header_ok(const char *s, size_t max)
{
	size_t               n = strlen(s);
	long                 cps;
	const unsigned char *p;

	if ((cps = utf8_count(s, n)) < 0 || (size_t)cps > max)
		return 0;
	for (p = (const unsigned char *)s; *p != '\0'; p++)
		if (*p < 0x20 || *p == 0x7f)
			return 0;
	return 1;
}

int
mail_address_ok(const char *s)
{
	const char *at;
	size_t      n;

	if (s == NULL || (n = strlen(s)) < 3 || n > UM_EMAIL_MAX)
		return 0;
	/* No space, control, or character that would end an angle-addr or an SMTP path. */
	if (strpbrk(s, " <>()[],;:\"\\") != NULL)
		return 0;
	if (!is_printable_ascii(s))
		return 0;
	if ((at = strchr(s, '@')) == NULL || strchr(at + 1, '@') != NULL)
		return 0;
	return at != s && at[1] != '\0';
}

enum um_err
mail_check(const struct mail_msg *m)
{
	if (!mail_address_ok(m->from_email) || !mail_address_ok(m->to_email))
		return UM_EINVAL;
	if (m->from_name == NULL || m->to_name == NULL || m->subject == NULL ||
	    m->text == NULL || m->html == NULL)
		return UM_EINVAL;
	/* Column widths of email_outbox: names and subject are at most 255 characters. */
	if (!mail_header_ok(m->from_name, 255) || !mail_header_ok(m->to_name, 255) ||
	    !mail_header_ok(m->subject, 255))
		return UM_EINVAL;
	if (!utf8_valid(m->text, strlen(m->text)) || !utf8_valid(m->html, strlen(m->html)))
		return UM_EINVAL;
	return UM_OK;
}

void
mail_date(char *dst, size_t sz, time_t t)
{
	/* Fixed English names: strftime's %a and %b follow the locale (RFC 5322 §3.3 does not). */
	static const char *const days[] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
	static const char *const months[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul",
		"Aug", "Sep", "Oct", "Nov", "Dec" };
	struct tm                tm;

	(void)gmtime_r(&t, &tm);
	(void)snprintf(dst, sz, "%s, %02d %s %04d %02d:%02d:%02d +0000", days[tm.tm_wday % 7],
	    tm.tm_mday, months[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
	    tm.tm_sec);
}

/* Writes n random bytes as 2n lowercase hex digits plus NUL into dst. */
static enum um_err
rand_hex(char *dst, size_t n)
{
	static const char lower[] = "0123456789abcdef";
	unsigned char     r[32];
	size_t            i;

	if (n > sizeof(r) || RAND_bytes(r, (int)n) != 1)
		return UM_EINTERNAL;
	for (i = 0; i < n; i++) {
		dst[2 * i] = lower[r[i] >> 4];
		dst[2 * i + 1] = lower[r[i] & 0xf];
	}
	dst[2 * n] = '\0';
	return UM_OK;
}

/* A header field being written, with the column of the current line for folding. */
struct hdr {
	struct buf *b;
	size_t      col;
};

static void
hdr_begin(struct hdr *h, struct buf *b, const char *name)
{
	h->b = b;
	buf_puts(b, name);
	buf_puts(b, ": ");
	h->col = strlen(name) + 2;
}

static void
hdr_end(struct hdr *h)
{
	buf_puts(h->b, "\r\n");
	h->col = 0;
}

/* Folds (RFC 5322 §2.2.3: CRLF before existing or added white space) when n more won't fit. */
static void
hdr_room(struct hdr *h, size_t n, size_t max)
{
	if (h->col + n > max && h->col > 1) {
		buf_puts(h->b, "\r\n");
		h->col = 0;
	}
}

/* Length of the UTF-8 sequence starting with byte c (input already validated). */
static size_t
u8len(unsigned char c)
{
	if (c < 0x80)
		return 1;
	if (c < 0xe0)
		return 2;
	if (c < 0xf0)
		return 3;
	return 4;
}

/*
 * RFC 2047 B encoding of s as one or more encoded words, each cut at a character boundary
 * (§5: a character must not be split between words) and each on a line within 76
 * characters.  Words are separated by folding white space, which decoders drop (§6.2).
 */
static void
hdr_encoded(struct hdr *h, const char *s, int space_first)
{
	char   enc[EW_MAX + 1];
	size_t n = strlen(s), i = 0, take, cl, maxin, avail, sep;
	int    first = 1;

	while (i < n) {
		sep = (space_first || !first) ? 1 : 0;
		avail = EW_LINE_MAX - h->col - sep;
		if (h->col + sep + EW_OVERHEAD + 8 > EW_LINE_MAX) {
			/* A continuation line starts with white space (RFC 5322 §2.2.3). */
			buf_puts(h->b, "\r\n");
			h->col = 0;
			sep = 1;
			avail = EW_LINE_MAX - 1;
		}
		if (avail > EW_MAX)
			avail = EW_MAX;
		maxin = (avail - EW_OVERHEAD) / 4 * 3;
		take = 0;
		while (i + take < n) {
			cl = u8len((unsigned char)s[i + take]);
			if (take + cl > maxin)
				break;
			take += cl;
		}
		if (sep) {
			buf_putc(h->b, ' ');
			h->col++;
		}
		(void)EVP_EncodeBlock((unsigned char *)enc, (const unsigned char *)s + i,
		    (int)take);
		buf_puts(h->b, "=?UTF-8?B?");
		buf_puts(h->b, enc);
		buf_puts(h->b, "?=");
		h->col += EW_OVERHEAD + strlen(enc);
		i += take;
		first = 0;
	}
}

/* Plain ASCII unstructured text, folded before white space when a line would grow too long. */
static void
hdr_ascii(struct hdr *h, const char *s)
{
	size_t n;

	while (*s != '\0') {
		/* One token: leading spaces, then the word up to the next space. */
		n = strspn(s, " ");
		n += strcspn(s + n, " ");
		if (*s == ' ')
			hdr_room(h, n, HDR_LINE_MAX);
		buf_append(h->b, s, n);
		h->col += n;
		s += n;
	}
}

/* 1 when s needs RFC 2047 encoding: non-ASCII, or text a decoder could take for a word. */
static int
needs_encoding(const char *s)
{
	return !is_printable_ascii(s) || strstr(s, "=?") != NULL;
}

/* Unstructured text such as the Subject (RFC 5322 §3.6.5). */
static void
hdr_unstructured(struct hdr *h, const char *s)
{
	if (needs_encoding(s))
		hdr_encoded(h, s, 0);
	else
		hdr_ascii(h, s);
}

/* 1 when s is atext words separated by single spaces (RFC 5322 §3.2.3), writable as is. */
static int
is_atom_phrase(const char *s)
{
	static const char special[] = "!#$%&'*+-/=?^_`{|}~";
	const char       *p;

	if (*s == ' ' || *s == '\0')
		return 0;
	for (p = s; *p != '\0'; p++) {
		if (*p == ' ') {
			if (p[1] == ' ' || p[1] == '\0')
				return 0;
			continue;
		}
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || strchr(special, *p) != NULL)
			continue;
		return 0;
	}
	return strstr(s, "=?") == NULL;
}

/* 1 when s[0..n) is one atom of atext (RFC 5322 §3.2.3) that is safe to write unencoded. */
static int
is_atom(const char *s, size_t n)
{
	static const char special[] = "!#$%&'*+-/=?^_`{|}~";
	size_t            i;

	if (n == 0)
		return 0;
	for (i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		        (s[i] >= '0' && s[i] <= '9') ||
		        (s[i] != '\0' && strchr(special, s[i]) != NULL)))
			return 0;
	for (i = 0; i + 1 < n; i++)
		if (s[i] == '=' && s[i + 1] == '?')
			return 0;
	return 1;
}

/*
 * A display name that needs RFC 2047: plain words stay atoms and each run of words that
 * need encoding becomes encoded words (§5 (3)).  White space between an atom and an
 * encoded word is kept by every decoder, whereas some (Python's email package among them)
 * keep, and others drop, the white space between two adjacent encoded words; so adjacent
 * words are encoded together and a split happens only inside a run over 45 octets.
 * Names with leading, trailing or doubled spaces are encoded whole.
 */
static void
hdr_phrase(struct hdr *h, const char *name)
{
	const char *p = name, *q;
	size_t      n;
	int         first = 1;

	if (name[0] == ' ' || name[strlen(name) - 1] == ' ' || strstr(name, "  ") != NULL) {
		hdr_encoded(h, name, 0);
		return;
	}
	while (*p != '\0') {
		n = strcspn(p, " ");
		if (is_atom(p, n)) {
			if (!first) {
				hdr_room(h, n + 1, HDR_LINE_MAX);
				buf_putc(h->b, ' ');
				h->col++;
			}
			buf_append(h->b, p, n);
			h->col += n;
		} else {
			/* Extend the run over the following words that need encoding too. */
			q = p + n;
			while (*q == ' ' && !is_atom(q + 1, strcspn(q + 1, " ")))
				q += 1 + strcspn(q + 1, " ");
			n = (size_t)(q - p);
			hdr_encoded(h, arena_strndup(h->b->arena, p, n), !first);
		}
		p += n;
		if (*p == ' ')
			p++;
		first = 0;
	}
}

/* A mailbox (RFC 5322 §3.4): display-name <addr>, or the bare addr when there is no name. */
static void
hdr_mailbox(struct buf *b, const char *field, const char *name, const char *addr)
{
	struct hdr  h;
	const char *p;
	size_t      alen = strlen(addr);

	hdr_begin(&h, b, field);
	if (name[0] == '\0') {
		buf_puts(b, addr);
		hdr_end(&h);
		return;
	}
	if (needs_encoding(name))
		hdr_phrase(&h, name);
	else if (is_atom_phrase(name))
		hdr_ascii(&h, name);
	else {
		/* quoted-string (§3.2.4): only DQUOTE and backslash need a quoted-pair. */
		buf_putc(b, '"');
		for (p = name; *p != '\0'; p++) {
			if (*p == '"' || *p == '\\')
				buf_putc(b, '\\');
			buf_putc(b, *p);
		}
		buf_putc(b, '"');
		h.col += strlen(name) + 2;
	}
	hdr_room(&h, alen + 3, HDR_LINE_MAX);
	buf_puts(b, " <");
	buf_puts(b, addr);
	buf_putc(b, '>');
	hdr_end(&h);
}

/* 1 when position i of s[0..n) ends a line: end of text, LF, or CRLF. */
static int
at_eol(const char *s, size_t n, size_t i)
{
	return i >= n || s[i] == '\n' || (s[i] == '\r' && i + 1 < n && s[i + 1] == '\n');
}

/*
 * Quoted-printable (RFC 2045 §6.7): line breaks of the text (LF or CRLF) become CRLF hard
 * breaks; '=', controls, non-ASCII, and white space before a line end are =XX; soft breaks
 * ("=" CRLF) keep every line within 76 characters.  A '.' opening a line is encoded too, so
 * no SMTP server ever sees a lone "." line (RFC 5321 §4.5.2) whatever the client does.
 */
static void
qp_encode(struct buf *b, const char *s)
{
	size_t        n = strlen(s), i, col = 0, len;
	unsigned char c;
	char          enc[4];
	int           literal;

	for (i = 0; i < n; i++) {
		c = (unsigned char)s[i];
		if (c == '\n' || (c == '\r' && i + 1 < n && s[i + 1] == '\n')) {
			if (c == '\r')
				i++;
			buf_puts(b, "\r\n");
			col = 0;
			continue;
		}
		for (;;) {
			if (c == ' ' || c == '\t')
				literal = !at_eol(s, n, i + 1);
			else
				literal = c >= 33 && c <= 126 && c != '=' &&
				    !(c == '.' && col == 0);
			len = literal ? 1 : 3;
			/* Room for the character, and for a soft break's '=' unless the line ends. */
			if (col + len + (at_eol(s, n, i + 1) ? 0 : 1) <= QP_LINE_MAX ||
			    col == 0)
				break;
			buf_puts(b, "=\r\n");
			col = 0;
		}
		if (literal)
			buf_putc(b, (char)c);
		else {
			enc[0] = '=';
			enc[1] = hexd[c >> 4];
			enc[2] = hexd[c & 0xf];
			buf_append(b, enc, 3);
		}
		col += len;
	}
}

static void
mime_part(struct buf *b, const char *boundary, const char *type, const char *body)
{
	buf_printf(b, "--%s\r\n", boundary);
	buf_printf(b, "Content-Type: %s; charset=UTF-8\r\n", type);
	buf_puts(b, "Content-Transfer-Encoding: quoted-printable\r\n\r\n");
	qp_encode(b, body);
	/* The CRLF before the next delimiter belongs to the delimiter (RFC 2046 §5.1.1). */
	buf_puts(b, "\r\n");
}

enum um_err
mail_build(struct arena *a, const struct mail_msg *m, time_t now, char **out, size_t *outlen)
{
	struct buf  b;
	struct hdr  h;
	char        date[40], idrand[2 * RAND_HEX_BYTES + 1], brand[2 * RAND_HEX_BYTES + 1];
	char        boundary[64];
	const char *domain;
	enum um_err rc;

	*out = NULL;
	*outlen = 0;
	if ((rc = mail_check(m)) != UM_OK)
		goto out;
	rc = UM_EINTERNAL;
	if (rand_hex(idrand, RAND_HEX_BYTES) != UM_OK ||
	    rand_hex(brand, RAND_HEX_BYTES) != UM_OK)
		goto out;
	/* "=_" never occurs in quoted-printable text, so the boundary cannot (RFC 2045 §6.7). */
	(void)snprintf(boundary, sizeof(boundary), "=_um_%s", brand);
	domain = strchr(m->from_email, '@') + 1;
	mail_date(date, sizeof(date), now);

	buf_init(&b, a);
	buf_printf(&b, "Date: %s\r\n", date);
	hdr_mailbox(&b, "From", m->from_name, m->from_email);
	hdr_mailbox(&b, "To", m->to_name, m->to_email);
	hdr_begin(&h, &b, "Subject");
	hdr_unstructured(&h, m->subject);
	hdr_end(&h);
	/* The outbox id makes the Message-ID traceable to its row (RFC 5322 §3.6.4). */
	buf_printf(&b, "Message-ID: <%lld.%s@%s>\r\n", m->id, idrand, domain);
	buf_puts(&b, "MIME-Version: 1.0\r\n");
	/* RFC 3834 §5: tells auto-responders not to answer. */
	buf_puts(&b, "Auto-Submitted: auto-generated\r\n");
	buf_printf(&b, "Content-Type: multipart/alternative;\r\n boundary=\"%s\"\r\n",
	    boundary);
	buf_puts(&b, "\r\n");
	buf_puts(&b, "This is a multi-part message in MIME format.\r\n\r\n");
	mime_part(&b, boundary, "text/plain", m->text);
	mime_part(&b, boundary, "text/html", m->html);
	buf_printf(&b, "--%s--\r\n", boundary);
	*out = b.data;
	*outlen = b.len;
	rc = UM_OK;
out:
	return rc;
}

enum um_err
mail_mailjet_json(struct arena *a, const struct mail_msg *m, char **out, size_t *outlen)
{
	json_t     *root = NULL, *msg, *from, *to, *rcpt;
	char       *text = NULL, id[32];
	enum um_err rc;

	*out = NULL;
	*outlen = 0;
	if ((rc = mail_check(m)) != UM_OK)
		goto out;
	rc = UM_EINTERNAL;
	(void)snprintf(id, sizeof(id), "%lld", m->id);
	if ((root = json_object()) == NULL || (msg = json_object()) == NULL)
		goto out;
	if (json_object_set_new(root, "Messages", json_array()) != 0 ||
	    json_array_append_new(json_object_get(root, "Messages"), msg) != 0)
		goto out;
	if ((from = json_pack("{s:s}", "Email", m->from_email)) == NULL)
		goto out;
	if (m->from_name[0] != '\0' &&
	    json_object_set_new(from, "Name", json_string(m->from_name)) != 0) {
		json_decref(from);
		goto out;
	}
	if (json_object_set_new(msg, "From", from) != 0)
		goto out;
	if ((rcpt = json_pack("{s:s}", "Email", m->to_email)) == NULL)
		goto out;
	if (m->to_name[0] != '\0' &&
	    json_object_set_new(rcpt, "Name", json_string(m->to_name)) != 0) {
		json_decref(rcpt);
		goto out;
	}
	if ((to = json_array()) == NULL) {
		json_decref(rcpt);
		goto out;
	}
	if (json_array_append_new(to, rcpt) != 0 || json_object_set_new(msg, "To", to) != 0)
		goto out;
	if (json_object_set_new(msg, "Subject", json_string(m->subject)) != 0 ||
	    json_object_set_new(msg, "TextPart", json_string(m->text)) != 0 ||
	    json_object_set_new(msg, "HTMLPart", json_string(m->html)) != 0 ||
	    json_object_set_new(msg, "CustomID", json_string(id)) != 0)
		goto out;
	if ((text = json_dumps(root, JSON_COMPACT)) == NULL)
		goto out;
	*outlen = strlen(text);
	*out = arena_memdup(a, text, *outlen + 1);
	rc = UM_OK;
out:
	free(text);
	json_decref(root);
	return rc;
}
