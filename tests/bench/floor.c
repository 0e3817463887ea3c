/* tests/bench/floor.c: the benchmark's floor, the least a libfcgi responder can do: answer 204. */

#include <fcgiapp.h>

/*
 * The same accept loop as the worker (fcgi/usermgr.c) with no work in it: every route of the
 * worker is measured against what this costs behind the same nginx and the same spawn-fcgi.
 */
int
main(void)
{
	FCGX_Request fr;

	if (FCGX_Init() != 0 || FCGX_InitRequest(&fr, 0, 0) != 0)
		return 1;
	while (FCGX_Accept_r(&fr) >= 0) {
		FCGX_PutS("Status: 204 No Content\r\n\r\n", fr.out);
		FCGX_Finish_r(&fr);
	}
	return 0;
}
