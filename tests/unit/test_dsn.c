/* test_dsn: the URLs of import-legacy --dsn, as SQLAlchemy writes them, and every refusal. */
#include "config.h"

#include <string.h>

#include <check.h>

#include "arena.h"
#include "dsn.h"
#include "unit.h"

static struct arena *a;
static char          err[256];

static void
setup(void)
{
	a = arena_new();
	err[0] = '\0';
}

static void
teardown(void)
{
	arena_free(a);
}

START_TEST(test_a_tcp_url_with_every_part)
{
	struct dsn d;

	ck_assert_int_eq(dsn_parse(a,
	                     "mysql+pymysql://seed:s%40cr%3At+x@db.example:3307/flask"
	                     "?charset=utf8mb4&table=legacy_users",
	                     &d, err, sizeof(err)),
	    UM_OK);
	ck_assert_str_eq(d.user, "seed");
	ck_assert_str_eq(d.password, "s@cr:t+x"); /* '+' is not a space outside a query */
	ck_assert_str_eq(d.host, "db.example");
	ck_assert_uint_eq(d.port, 3307);
	ck_assert_ptr_null(d.socket);
	ck_assert_str_eq(d.database, "flask");
	ck_assert_str_eq(d.table, "legacy_users");
}
END_TEST

START_TEST(test_localhost_and_an_empty_host_mean_the_unix_socket)
{
	struct dsn d;

	ck_assert_int_eq(dsn_parse(a,
	                     "mariadb://root@localhost/seed?unix_socket=/run/my%20sql.sock", &d,
	                     err, sizeof(err)),
	    UM_OK);
	ck_assert_ptr_null(d.host);
	ck_assert_str_eq(d.socket, "/run/my sql.sock");
	ck_assert_str_eq(d.user, "root");
	ck_assert_ptr_null(d.password);
	ck_assert_str_eq(d.table, DSN_TABLE_DEFAULT);

	ck_assert_int_eq(dsn_parse(a, "mysql:///seed?socket=/tmp/s", &d, err, sizeof(err)),
	    UM_OK);
	ck_assert_ptr_null(d.host);
	ck_assert_ptr_null(d.user);
	ck_assert_str_eq(d.socket, "/tmp/s");
	ck_assert_str_eq(d.database, "seed");
}
END_TEST

START_TEST(test_ipv6_hosts_default_port_and_an_unescaped_at_in_the_password)
{
	struct dsn d;

	ck_assert_int_eq(dsn_parse(a, "mariadb://u:p@ss@[::1]/db", &d, err, sizeof(err)),
	    UM_OK);
	ck_assert_str_eq(d.password, "p@ss");
	ck_assert_str_eq(d.host, "::1");
	ck_assert_uint_eq(d.port, DSN_PORT_DEFAULT);
	ck_assert_int_eq(dsn_parse(a, "mariadb://u:@[::1]:3310/db", &d, err, sizeof(err)),
	    UM_OK);
	ck_assert_str_eq(d.password, "");
	ck_assert_uint_eq(d.port, 3310);
}
END_TEST

/* Each refusal names what is wrong, and never echoes the password. */
START_TEST(test_refusals_name_the_fault)
{
	static const struct {
		const char *url, *says;
	} bad[] = {
		{ "postgresql://u:hunter2@h/db", "expected mariadb://" },
		{ "mysql+://u:hunter2@h/db", "expected mariadb://" },
		{ "mysql+Py-MySQL://u:hunter2@h/db", "expected mariadb://" },
		{ "u:hunter2@h/db", "expected mariadb://" },
		{ "mariadb://u:hunter2@h", "names no database" },
		{ "mariadb://u:hunter2@h/", "names no database" },
		{ "mariadb://u:hunter2@h/a/b", "names no database" },
		{ "mariadb://u:hunter2@h:0/db", "port" },
		{ "mariadb://u:hunter2@h:65536/db", "port" },
		{ "mariadb://u:hunter2@h:33o6/db", "port" },
		{ "mariadb://u:hunter2@h:/db", "port" },
		{ "mariadb://u:hunter2@[::1/db", "IPv6" },
		{ "mariadb://u:hunter2@[::1]x/db", "IPv6" },
		{ "mariadb://u:hunter2%zz@h/db", "malformed" },
		{ "mariadb://u:hunter2@h/db?table=users;DROP", "table name" },
		{ "mariadb://u:hunter2@h/db?table=us%60ers", "table name" },
		{ "mariadb://u:hunter2@h/db?table=", "table name" },
		{ "mariadb://u:hunter2@h/db?tabel=users", "unknown parameter 'tabel'" },
		{ "mariadb://u:hunter2@h/db?table=%", "query part" },
		{ "mariadb://u:hunter2@db.example/db?unix_socket=/s", "unix_socket needs" },
	};
	struct dsn d;
	size_t     i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		ck_assert_msg(dsn_parse(a, bad[i].url, &d, err, sizeof(err)) == UM_EINVAL,
		    "accepted %s", bad[i].url);
		ck_assert_msg(strstr(err, bad[i].says) != NULL, "%s: '%s' lacks '%s'",
		    bad[i].url, err, bad[i].says);
		ck_assert_msg(strstr(err, "hunter2") == NULL, "%s: message shows the password",
		    bad[i].url);
	}
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("dsn");
	TCase *tc = tcase_create("dsn");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_a_tcp_url_with_every_part);
	tcase_add_test(tc, test_localhost_and_an_empty_host_mean_the_unix_socket);
	tcase_add_test(tc, test_ipv6_hosts_default_port_and_an_unescaped_at_in_the_password);
	tcase_add_test(tc, test_refusals_name_the_fault);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
