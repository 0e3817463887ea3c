/* tests/bench/argon2_time.c: times one Argon2id hash at the workers' cost, so the benchmark knows what ceiling the login routes have. */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <sodium.h>

#define RUNS 15

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static int
parse_ull(const char *s, unsigned long long *out)
{
	char *end;

	errno = 0;
	*out = strtoull(s, &end, 10);
	return (errno != 0 || end == s || *end != '\0') ? -1 : 0;
}

/*
 * Usage: argon2_time MEMORY_KIB ITERATIONS — the figures of USERMGR_ARGON2_MEMORY_KIB and
 * USERMGR_ARGON2_ITERATIONS (libsodium's Argon2id has parallelism 1).  Hashes RUNS times
 * on one thread, as one worker does, and prints the median and the fastest time in ms.
 */
int
main(int argc, char *argv[])
{
	char               out[crypto_pwhash_STRBYTES];
	static const char  pw[] = "correct horse battery staple";
	double             ms[RUNS];
	struct timespec    t0, t1;
	unsigned long long kib, ops;
	int                i;

	if (argc != 3 || parse_ull(argv[1], &kib) != 0 || parse_ull(argv[2], &ops) != 0) {
		fprintf(stderr, "usage: argon2_time MEMORY_KIB ITERATIONS\n");
		return 2;
	}
	if (sodium_init() < 0)
		return 1;
	for (i = 0; i < RUNS; i++) {
		clock_gettime(CLOCK_MONOTONIC, &t0);
		if (crypto_pwhash_str_alg(out, pw, sizeof(pw) - 1, ops, (size_t)kib * 1024,
		        crypto_pwhash_ALG_ARGON2ID13) != 0) {
			fprintf(stderr, "argon2_time: crypto_pwhash_str_alg failed\n");
			return 1;
		}
		clock_gettime(CLOCK_MONOTONIC, &t1);
		ms[i] = (double)(t1.tv_sec - t0.tv_sec) * 1e3 +
		    (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
	}
	qsort(ms, RUNS, sizeof(ms[0]), cmp_double);
	printf("median_ms=%.3f min_ms=%.3f\n", ms[RUNS / 2], ms[0]);
	return 0;
}
