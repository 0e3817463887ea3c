/* fuzz_breach: libFuzzer target for the Have I Been Pwned range answer parser (breach_parse). */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "breach.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* The suffix every input is matched against: SHA-1("password") without its 5-hex prefix. */
static const char suffix[] = "1E4C9B93F3F0682250B6CF8331B7EE68FD8";

/*
 * Whether body[0..n) has a line "<suffix, any case>:<count>" (leading zeros allowed) ended by
 * CR, LF or the end — what an accepted non-zero count must come from.
 */
static int
has_entry(const char *body, size_t n, unsigned long long count)
{
	char   want[32];
	size_t i, j, wl;

	wl = (size_t)snprintf(want, sizeof(want), "%llu", count);
	for (i = 0; i + BREACH_SUFFIX_LEN + 1 < n; i++) {
		if ((i > 0 && body[i - 1] != '\n') ||
		    strncasecmp(body + i, suffix, BREACH_SUFFIX_LEN) != 0 ||
		    body[i + BREACH_SUFFIX_LEN] != ':')
			continue;
		for (j = i + BREACH_SUFFIX_LEN + 1; j < n && body[j] == '0'; j++)
			;
		if (j + wl <= n && memcmp(body + j, want, wl) == 0 &&
		    (j + wl == n || body[j + wl] == '\r' || body[j + wl] == '\n'))
			return 1;
	}
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned long long count = 7;
	char              *body;
	int                rc;

	/* Exactly size bytes, no terminator: a read past the answer is an ASan report. */
	if ((body = malloc(size > 0 ? size : 1)) == NULL)
		abort();
	memcpy(body, data, size);
	rc = breach_parse(body, size, suffix, &count);
	if (rc != 0 && rc != -1)
		abort();
	/* Refused: nothing is claimed.  Accepted: a non-zero count is one the answer holds. */
	if (rc == -1 && count != 0)
		abort();
	if (rc == 0 && count > 0 && !has_entry(body, size, count))
		abort();
	free(body);
	return 0;
}
