/* fuzz_jwt: every byte string through the JWT verifier — refusals only, never a crash or a leak. */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "arena.h"
#include "jwt.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const unsigned char	 key[32] = "fuzz-key-fuzz-key-fuzz-key-fuzz";
	struct jwt_key			 keys[2] = { { "k1", key, 32 }, { NULL, key, 32 } };
	struct arena			*a = arena_new();
	char				*tok;
	json_t				*claims;
	enum um_err			 rc;

	tok = arena_strndup(a, (const char *)data, size);
	rc = jwt_verify(a, tok, keys, 2, "usermgr", 1700000000LL, &claims);
	/* Only an authentic token can come back with claims; nothing random is authentic. */
	if (rc == UM_OK && !json_is_object(claims))
		abort();
	if (rc != UM_OK && claims != NULL)
		abort();
	arena_free(a);
	return 0;
}
