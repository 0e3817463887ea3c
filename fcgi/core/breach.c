/* breach: the Have I Been Pwned range check — SHA-1 prefix out, suffix matched here, never blocking. */
#include "config.h"

#include <stdint.h>
#include <string.h>

#include <curl/curl.h>
#include <openssl/evp.h>

#include "arena.h"
#include "breach.h"
#include "buf.h"
#include "conf.h"
#include "log.h"
#include "validate.h"

#define M_BREACHED "has appeared in a data breach and is unsafe: choose another one"

static int
hexdigit(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F') || (c >= 'a' && c <= 'f');
}

static char
upper(char c)
{
	return c >= 'a' && c <= 'f' ? (char)(c - 'a' + 'A') : c;
}

/*
 * One line p[0..n) "SUFFIX:COUNT": 0 with *match (its suffix is suffix, case folded) and
 * *count, -1 when malformed.
 */
static int
parse_line(const char *p, size_t n, const char *suffix, int *match, unsigned long long *count)
{
	unsigned long long v = 0;
	size_t             i;

	if (n < BREACH_SUFFIX_LEN + 2 || p[BREACH_SUFFIX_LEN] != ':')
		return -1;
	*match = 1;
	for (i = 0; i < BREACH_SUFFIX_LEN; i++) {
		if (!hexdigit(p[i]))
			return -1;
		if (upper(p[i]) != upper(suffix[i]))
			*match = 0;
	}
	for (i = BREACH_SUFFIX_LEN + 1; i < n; i++) {
		if (p[i] < '0' || p[i] > '9' || v > (UINT64_MAX - 9) / 10)
			return -1;
		v = v * 10 + (unsigned long long)(p[i] - '0');
	}
	*count = v;
	return 0;
}

int
breach_parse(const char *body, size_t n, const char *suffix, unsigned long long *count)
{
	const char        *p = body, *end = body + n, *eol;
	unsigned long long c;
	size_t             len;
	int                match;

	*count = 0;
	while (p < end) {
		eol = memchr(p, '\n', (size_t)(end - p));
		len = (size_t)((eol != NULL ? eol : end) - p);
		if (len > 0 && p[len - 1] == '\r')
			len--;
		/* An empty line (the last one's newline) says nothing. */
		if (len > 0) {
			if (parse_line(p, len, suffix, &match, &c) != 0) {
				*count = 0; /* a refused answer claims nothing */
				return -1;
			}
			/* Padding entries have count 0: they are not breaches. */
			if (match && c > 0)
				*count = c;
		}
		p = eol != NULL ? eol + 1 : end;
	}
	return 0;
}

struct answer {
	struct buf b;
	int        over; /* the answer outgrew BREACH_ANSWER_MAX */
};

static size_t
on_data(char *p, size_t size, size_t n, void *arg)
{
	struct answer *a = arg;
	size_t         len = size * n;

	if (a->b.len + len > BREACH_ANSWER_MAX) {
		a->over = 1;
		return 0; /* aborts the transfer: nothing honest is this long */
	}
	buf_append(&a->b, p, len);
	return len;
}

/*
 * The worker's handle, made once and kept: its connection to the API stays open between
 * checks (one TLS handshake per worker, not per sign-up).  NULL until the first check.
 */
static CURL *handle;

/* GET url into a; the HTTP status into *status.  A curl error code; logged by the caller. */
static CURLcode
fetch(const struct conf *c, const char *url, struct answer *a, long *status)
{
	struct curl_slist *hdrs = NULL;
	CURLcode           cc;

	if (handle == NULL && (handle = curl_easy_init()) == NULL)
		return CURLE_FAILED_INIT;
	curl_easy_reset(handle);
	/* Padding hides the answer's size, which would otherwise hint at the prefix's. */
	hdrs = curl_slist_append(hdrs, "Add-Padding: true");
	(void)curl_easy_setopt(handle, CURLOPT_URL, url);
	(void)curl_easy_setopt(handle, CURLOPT_PROTOCOLS_STR, "http,https");
	(void)curl_easy_setopt(handle, CURLOPT_FOLLOWLOCATION, 0L);
	(void)curl_easy_setopt(handle, CURLOPT_SSL_VERIFYPEER, 1L);
	(void)curl_easy_setopt(handle, CURLOPT_SSL_VERIFYHOST, 2L);
	(void)curl_easy_setopt(handle, CURLOPT_HTTPHEADER, hdrs);
	(void)curl_easy_setopt(handle, CURLOPT_TIMEOUT_MS, (long)c->hibp_timeout_ms);
	(void)curl_easy_setopt(handle, CURLOPT_CONNECTTIMEOUT_MS, (long)c->hibp_timeout_ms);
	(void)curl_easy_setopt(handle, CURLOPT_NOSIGNAL, 1L);
	(void)curl_easy_setopt(handle, CURLOPT_USERAGENT, "usermgr/" PACKAGE_VERSION);
	(void)curl_easy_setopt(handle, CURLOPT_WRITEFUNCTION, on_data);
	(void)curl_easy_setopt(handle, CURLOPT_WRITEDATA, a);
	cc = curl_easy_perform(handle);
	*status = 0;
	if (cc == CURLE_OK)
		(void)curl_easy_getinfo(handle, CURLINFO_RESPONSE_CODE, status);
	(void)curl_easy_setopt(handle, CURLOPT_HTTPHEADER, NULL);
	curl_slist_free_all(hdrs);
	return cc;
}

enum um_err
breach_count(struct arena *ar, const struct conf *c, const char *pw, size_t len,
    unsigned long long *count)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int  mdlen = 0, i;
	char          hex[41];
	struct answer a;
	long          status;
	CURLcode      cc;
	const char   *base = c->hibp_url;
	size_t        blen;

	*count = 0;
	if (base == NULL || base[0] == '\0')
		return UM_EUNAVAIL;
	/* SHA-1 is the API's key, not a password hash of ours: nothing is stored. */
	if (EVP_Digest(pw, len, md, &mdlen, EVP_sha1(), NULL) != 1 || mdlen != 20)
		return UM_EUNAVAIL;
	for (i = 0; i < 20; i++) {
		hex[2 * i] = "0123456789ABCDEF"[md[i] >> 4];
		hex[2 * i + 1] = "0123456789ABCDEF"[md[i] & 0x0f];
	}
	hex[40] = '\0';
	OPENSSL_cleanse(md, sizeof(md));
	blen = strlen(base);
	while (blen > 0 && base[blen - 1] == '/')
		blen--;
	buf_init(&a.b, ar);
	a.over = 0;
	cc = fetch(c,
	    arena_printf(ar, "%.*s/range/%.*s", (int)blen, base, BREACH_PREFIX_LEN, hex), &a,
	    &status);
	/* The logs name what failed, never the password, its hash or its prefix. */
	if (cc != CURLE_OK) {
		log_warn("breach check skipped: %s%s", curl_easy_strerror(cc),
		    a.over ? " (answer too long)" : "");
	} else if (status != 200) {
		log_warn("breach check skipped: the range API answered %ld", status);
		cc = CURLE_HTTP_RETURNED_ERROR;
	} else if (breach_parse(a.b.data != NULL ? a.b.data : "", a.b.len,
	               hex + BREACH_PREFIX_LEN, count) != 0) {
		log_warn("breach check skipped: the range API's answer is malformed");
		cc = CURLE_WEIRD_SERVER_REPLY;
	}
	OPENSSL_cleanse(hex, sizeof(hex));
	return cc == CURLE_OK ? UM_OK : UM_EUNAVAIL;
}

enum um_err
breach_refuse(struct arena *a, const struct conf *c, struct field_result *r, size_t i)
{
	unsigned long long n;

	if (r[i].error != NULL || r[i].val == NULL || c->hibp_url == NULL ||
	    c->hibp_url[0] == '\0')
		return UM_OK;
	if (breach_count(a, c, r[i].val, r[i].len, &n) != UM_OK || n < c->hibp_min_count)
		return UM_OK;
	log_info("new password refused: found in breaches");
	r[i].val = NULL;
	r[i].len = 0;
	r[i].error = M_BREACHED;
	r[i].code = BREACH_CODE;
	return UM_EINVAL;
}
