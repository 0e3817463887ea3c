/* unit.h: the one main() shape every Check test program shares. */
#ifndef UM_UNIT_H
#define UM_UNIT_H

#include <stdlib.h>

#include <check.h>

/* Runs the suite, prints Check's summary line (tests/run counts it), exits 1 on any failure. */
static inline int
unit_run(Suite *s)
{
	SRunner *sr;
	int      failed;

	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

#endif
