/* test_conf: configuration defaults, X_FILE secrets, and refusals that name the variable. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "conf.h"
#include "unit.h"

#define KEY64	"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define DATAKEY	"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="

/* The fake environment the tests hand to conf_load: pairs, NULL-terminated. */
static const char	*fake_env[32];

static const char *
fake_getenv(const char *name)
{
	size_t	 i;

	for (i = 0; fake_env[i] != NULL; i += 2)
		if (strcmp(fake_env[i], name) == 0)
			return fake_env[i + 1];
	return NULL;
}

static void
set_env(const char *const *pairs)
{
	size_t	 i;

	memset(fake_env, 0, sizeof(fake_env));
	for (i = 0; pairs[i] != NULL && i < 30; i++)
		fake_env[i] = pairs[i];
}

START_TEST(test_defaults_follow_api_md_section_1)
{
	static const char *const env[] = { "USERMGR_SECRET_KEY", KEY64, "USERMGR_DATA_KEY",
	    DATAKEY, NULL };
	struct conf	 c;
	char		 err[256];

	set_env(env);
	ck_assert_int_eq(conf_load(&c, fake_getenv, 1, err, sizeof(err)), UM_OK);
	ck_assert_str_eq(c.base_url, "http://127.0.0.1:8080");
	ck_assert_int_eq(c.https, 0);
	ck_assert_int_eq(c.mail_transport, MAIL_FILE);
	ck_assert_uint_eq(c.login_max_failures, 5);
	ck_assert_uint_eq(c.login_lockout_seconds, 900);
	ck_assert_uint_eq(c.rate_per_ip_per_min, 30);
	ck_assert_uint_eq(c.argon2_memory_kib, 19456);
	ck_assert_uint_eq(c.argon2_iterations, 2);
	ck_assert_uint_eq(c.argon2_parallelism, 1);
	ck_assert_uint_eq(c.password_min_length, 8);
	ck_assert_int_eq(c.prevent_enumeration, 0);
	ck_assert_uint_eq(c.access_token_seconds, 900);
	ck_assert_uint_eq(c.refresh_token_days, 30);
	ck_assert_uint_eq(c.mail_max_attempts, 40);
	ck_assert_str_eq(c.sender_email, "no-reply@localhost");
	ck_assert_str_eq(c.sender_name, "usermgr");
	ck_assert_str_eq(c.mailjet_url, "https://api.mailjet.com/v3.1/send");
	ck_assert_str_eq(c.bootstrap_admin_email, "admin@localhost");
	ck_assert_int_eq(c.have_data_key, 1);
	ck_assert_int_eq(c.data_key[0], 0);
	ck_assert_int_eq(c.data_key[31], 31);
	conf_free(&c);
}
END_TEST

START_TEST(test_a_secret_file_loses_exactly_one_trailing_newline)
{
	char		 path[] = "/tmp/um-conf-XXXXXX";
	const char	*env[] = { "USERMGR_SECRET_KEY_FILE", path, NULL };
	struct conf	 c;
	char		 err[256];
	int		 fd;

	ck_assert_int_ge(fd = mkstemp(path), 0);
	ck_assert_int_eq(write(fd, KEY64 "\n\n", 66), 66);
	close(fd);
	set_env(env);
	ck_assert_int_eq(conf_load(&c, fake_getenv, 0, err, sizeof(err)), UM_OK);
	ck_assert_str_eq(c.secret_key, KEY64 "\n");
	conf_free(&c);
	unlink(path);
}
END_TEST

START_TEST(test_the_variable_wins_over_its_file)
{
	static const char *const env[] = { "USERMGR_SECRET_KEY", KEY64,
	    "USERMGR_SECRET_KEY_FILE", "/nonexistent", NULL };
	struct conf	 c;
	char		 err[256];

	set_env(env);
	ck_assert_int_eq(conf_load(&c, fake_getenv, 0, err, sizeof(err)), UM_OK);
	ck_assert_str_eq(c.secret_key, KEY64);
	conf_free(&c);
}
END_TEST

/* Each bad setting is refused with a message naming the variable and never its value. */
static const struct {
	const char	*var;
	const char	*value;
} bad[] = {
	{ "USERMGR_SECRET_KEY", "tooshort-secret-value" },
	{ "USERMGR_DATA_KEY", "bm90IDMyIGJ5dGVz" },
	{ "USERMGR_HTTP_PORT", "0" },
	{ "USERMGR_HTTP_PORT", "80x" },
	{ "USERMGR_LOGIN_MAX_FAILURES", "-1" },
	{ "USERMGR_ARGON2_PARALLELISM", "4" },
	{ "USERMGR_ARGON2_ITERATIONS", "" "99999999999999999999" },
	{ "USERMGR_PASSWORD_MIN_LENGTH", "129" },
	{ "USERMGR_PREVENT_ENUMERATION", "yes" },
	{ "USERMGR_MAIL_TRANSPORT", "carrier-pigeon" },
	{ "USERMGR_MAIL_MAX_ATTEMPTS", "1001" },
	{ "USERMGR_LOG_LEVEL", "chatty" },
	{ "USERMGR_BASE_URL", "ftp://example.org" },
	{ "USERMGR_SECRET_KEY_OLD", "short-old-key" },
	{ "SENDER_NAME", "evil\r\nBcc: victim@example.org" },
};

START_TEST(test_a_bad_setting_is_refused_naming_the_variable)
{
	const char	*env[8];
	struct conf	 c;
	char		 err[256];

	env[0] = "USERMGR_SECRET_KEY";
	env[1] = KEY64;
	env[2] = "USERMGR_DATA_KEY";
	env[3] = DATAKEY;
	env[4] = bad[_i].var;
	env[5] = bad[_i].value;
	env[6] = NULL;
	/* A row about a key replaces the valid one (lookups take the first match). */
	if (strcmp(bad[_i].var, env[0]) == 0 || strcmp(bad[_i].var, env[2]) == 0) {
		env[strcmp(bad[_i].var, env[0]) == 0 ? 1 : 3] = bad[_i].value;
		env[4] = NULL;
	}
	set_env(env);
	ck_assert_int_eq(conf_load(&c, fake_getenv, 1, err, sizeof(err)), UM_EINVAL);
	ck_assert_msg(strstr(err, bad[_i].var) != NULL, "message '%s' names %s", err,
	    bad[_i].var);
	ck_assert_msg(strstr(err, bad[_i].value) == NULL || *bad[_i].value == '\0',
	    "message '%s' repeats the value", err);
}
END_TEST

START_TEST(test_workers_refuse_to_start_without_keys)
{
	static const char *const env[] = { NULL };
	struct conf	 c;
	char		 err[256];

	set_env(env);
	ck_assert_int_eq(conf_load(&c, fake_getenv, 1, err, sizeof(err)), UM_EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "USERMGR_SECRET_KEY"));
	ck_assert_int_eq(conf_load(&c, fake_getenv, 0, err, sizeof(err)), UM_OK);
	conf_free(&c);
}
END_TEST

START_TEST(test_old_keys_are_split_on_commas_and_mailjet_falls_back_to_the_seed_names)
{
	static const char *const env[] = {
	    "USERMGR_SECRET_KEY_OLD", KEY64 "," KEY64 "X,",
	    "API_KEY", "seed-key", "API_SECRET", "seed-secret",
	    "USERMGR_BASE_URL", "https://id.example.org/", NULL };
	struct conf	 c;
	char		 err[256];

	set_env(env);
	ck_assert_int_eq(conf_load(&c, fake_getenv, 0, err, sizeof(err)), UM_OK);
	ck_assert_uint_eq(c.nold_keys, 2);
	ck_assert_str_eq(c.old_keys[1], KEY64 "X");
	ck_assert_str_eq(c.mailjet_key, "seed-key");
	ck_assert_str_eq(c.mailjet_secret, "seed-secret");
	ck_assert_str_eq(c.base_url, "https://id.example.org");
	ck_assert_int_eq(c.https, 1);
	conf_free(&c);
}
END_TEST

START_TEST(test_uint_parsing_is_strict)
{
	unsigned	 v = 7;

	ck_assert_int_eq(conf_parse_uint("42", 1, 100, &v), 0);
	ck_assert_uint_eq(v, 42);
	ck_assert_int_eq(conf_parse_uint("", 0, 100, &v), -1);
	ck_assert_int_eq(conf_parse_uint(" 4", 0, 100, &v), -1);
	ck_assert_int_eq(conf_parse_uint("+4", 0, 100, &v), -1);
	ck_assert_int_eq(conf_parse_uint("4 ", 0, 100, &v), -1);
	ck_assert_int_eq(conf_parse_uint("101", 0, 100, &v), -1);
	ck_assert_int_eq(conf_parse_uint("18446744073709551617", 0, 100, &v), -1);
	ck_assert_int_eq(conf_parse_uint(NULL, 0, 100, &v), -1);
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("conf");
	TCase	*tc = tcase_create("load");

	tcase_add_test(tc, test_defaults_follow_api_md_section_1);
	tcase_add_test(tc, test_a_secret_file_loses_exactly_one_trailing_newline);
	tcase_add_test(tc, test_the_variable_wins_over_its_file);
	tcase_add_loop_test(tc, test_a_bad_setting_is_refused_naming_the_variable, 0,
	    sizeof(bad) / sizeof(bad[0]));
	tcase_add_test(tc, test_workers_refuse_to_start_without_keys);
	tcase_add_test(tc, test_old_keys_are_split_on_commas_and_mailjet_falls_back_to_the_seed_names);
	tcase_add_test(tc, test_uint_parsing_is_strict);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
