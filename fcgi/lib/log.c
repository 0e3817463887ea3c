/* log: the one log function — a line per event on stderr, control characters escaped. */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

static const char *const level_names[LOG__MAX] = {
	[LOG_ERR] = "error",   /* something failed that should not have */
	[LOG_WARN] = "warn",   /* refused input worth a look, a dependency down */
	[LOG_INFO] = "info",   /* one line per request, start-up */
	[LOG_DEBUG] = "debug", /* development only */
};

static enum log_level max_level = LOG_INFO;
static char           ctx_id[32];
static char           ctx_addr[64];

void
log_set_level(enum log_level l)
{
	max_level = l;
}

static void
copy_field(char *dst, size_t sz, const char *src)
{
	size_t n = src != NULL ? strnlen(src, sz - 1) : 0;

	/* Once per request each: a bounded copy, not snprintf (which showed in the profile). */
	memcpy(dst, src != NULL ? src : "", n);
	dst[n] = '\0';
}

void
log_context(const char *id, const char *addr)
{
	copy_field(ctx_id, sizeof(ctx_id), id);
	copy_field(ctx_addr, sizeof(ctx_addr), addr);
}

/* Escapes everything outside printable ASCII so a username cannot forge a log line. */
static size_t
escape(char *dst, size_t sz, const char *src)
{
	static const char hex[] = "0123456789abcdef";
	size_t            o = 0;
	unsigned char     c;

	for (; *src != '\0' && o + 5 < sz; src++) {
		c = (unsigned char)*src;
		if (c >= 0x20 && c < 0x7f && c != '\\') {
			dst[o++] = (char)c;
			continue;
		}
		dst[o++] = '\\';
		if (c == '\\') {
			dst[o++] = '\\';
			continue;
		}
		dst[o++] = 'x';
		dst[o++] = hex[c >> 4];
		dst[o++] = hex[c & 0xf];
	}
	dst[o] = '\0';
	return o;
}

void
log_msg(enum log_level level, const char *fmt, ...)
{
	char            raw[2048], msg[4096], line[4400], ts[32];
	struct timespec now;
	struct tm       tm;
	va_list         ap;
	int             n;

	if (level > max_level || (unsigned)level >= LOG__MAX)
		return;
	va_start(ap, fmt);
	(void)vsnprintf(raw, sizeof(raw), fmt, ap);
	va_end(ap);
	(void)escape(msg, sizeof(msg), raw);

	(void)clock_gettime(CLOCK_REALTIME, &now);
	(void)gmtime_r(&now.tv_sec, &tm);
	(void)strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	n = snprintf(line, sizeof(line), "%s.%03ldZ %s [%ld] %s %s %s\n", ts,
	    now.tv_nsec / 1000000, level_names[level], (long)getpid(),
	    ctx_id[0] != '\0' ? ctx_id : "-", ctx_addr[0] != '\0' ? ctx_addr : "-", msg);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(line))
		n = sizeof(line) - 1;
	/* One write(2) per line keeps lines whole when several workers share the log. */
	(void)!write(STDERR_FILENO, line, (size_t)n);
}

double
log_elapsed_ms(const struct timespec *t0)
{
	struct timespec t1;

	(void)clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0->tv_sec) * 1e3 +
	    (double)(t1.tv_nsec - t0->tv_nsec) / 1e6;
}
