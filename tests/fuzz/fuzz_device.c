/* fuzz_device: libFuzzer target for the device cookie's parser — only entries it signed itself may pass. */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "arena.h"
#include "b64.h"
#include "conf.h"
#include "device.h"
#include "keys.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define KEY64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define NOW   1800000000LL

static struct keyring ring;

/*
 * An accepted cookie must hold, among its first DEVICE_ENTRIES entries, one for uid whose
 * MAC OpenSSL's one-shot HMAC gives under the device key, spelled as base64url writes it.
 */
static int
signed_by_us(const char *cookie, long long uid)
{
	unsigned char mac[32];
	char          want[B64URL_LEN(32) + 1], prefix[24];
	const char   *p = cookie, *end = cookie + strlen(cookie), *tilde, *last;
	unsigned int  n;
	int           i, plen;

	plen = snprintf(prefix, sizeof(prefix), "%lld.", uid);
	for (i = 0; i < DEVICE_ENTRIES && p <= end; i++, p = tilde + 1) {
		if ((tilde = memchr(p, '~', (size_t)(end - p))) == NULL)
			tilde = end;
		if (tilde - p <= plen || strncmp(p, prefix, (size_t)plen) != 0)
			continue;
		for (last = tilde - 1; last > p && *last != '.'; last--)
			;
		if (HMAC(EVP_sha256(), ring.set[0].k[KEY_DEVICE], KEY_LEN,
		        (const unsigned char *)p, (size_t)(last - p), mac, &n) == NULL)
			abort();
		(void)b64url_encode(want, mac, sizeof(mac));
		if ((size_t)(tilde - last - 1) == strlen(want) &&
		    memcmp(last + 1, want, strlen(want)) == 0)
			return 1;
	}
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct conf   c;
	struct arena *a;
	unsigned char id[DEVICE_ID_LEN];
	char         *cookie, *renewed, entry[DEVICE_ENTRY_MAX + 1];
	long long     uid;

	if (ring.n == 0) {
		memset(&c, 0, sizeof(c));
		c.secret_key = (char *)KEY64;
		if (keys_init(&ring, &c) != UM_OK)
			abort();
	}
	/*
	 * An input starting with '!' gets a valid entry of ours in front, so mutations of the
	 * rest reach the code that walks the list past a good entry.
	 */
	if ((cookie = malloc(size + DEVICE_ENTRY_MAX + 2)) == NULL)
		abort();
	if (size > 0 && data[0] == '!') {
		size_t n = device_entry_sign(&ring, 7, NOW + 60, entry);

		memcpy(cookie, entry, n);
		memcpy(cookie + n, data + 1, size - 1);
		cookie[n + size - 1] = '\0';
	} else {
		memcpy(cookie, data, size);
		cookie[size] = '\0';
	}
	for (uid = 1; uid <= 8; uid++)
		if (device_cookie_verify(&ring, cookie, uid, NOW, id) &&
		    !signed_by_us(cookie, uid))
			abort();
	/* Renewing never outgrows the bound and always verifies for the account it names. */
	a = arena_new();
	if ((renewed = device_cookie_renew(a, &ring, cookie, 3, NOW)) == NULL ||
	    strlen(renewed) > DEVICE_COOKIE_MAX ||
	    !device_cookie_verify(&ring, renewed, 3, NOW, id))
		abort();
	arena_free(a);
	free(cookie);
	return 0;
}
