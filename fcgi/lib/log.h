/* log: one line per event on stderr — UTC time, level, request id, remote address, message. */
#ifndef UM_LOG_H
#define UM_LOG_H

enum log_level {
	LOG_ERR = 0, /* something failed that should not have */
	LOG_WARN,    /* refused input worth a look, a dependency down */
	LOG_INFO,    /* one line per request, start-up */
	LOG_DEBUG,   /* development only */
	LOG__MAX
};

/*
 * Sets the request id and remote address printed on every line until the next call; NULL
 * clears them (between requests).  Both are copied.
 */
void log_context(const char *, const char *);
void log_set_level(enum log_level);
/*
 * Formats and writes one line.  Control characters and non-ASCII bytes in the message are
 * escaped (\xNN) so input cannot forge a line.  Never pass passwords, tokens or cookies.
 */
void log_msg(enum log_level, const char *, ...) __attribute__((format(printf, 2, 3)));

struct timespec;
/* Milliseconds of CLOCK_MONOTONIC since t0, for durations in log lines and slow-call checks. */
double log_elapsed_ms(const struct timespec *);

#define log_err(...)   log_msg(LOG_ERR, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)

#endif
