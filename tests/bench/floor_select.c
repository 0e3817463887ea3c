/* tests/bench/floor_select.c: the benchmark's database floor: a libfcgi responder doing one prepared primary-key SELECT per request. */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <fcgiapp.h>
#include <mysql.h>

/*
 * What the least database-backed route costs: one persistent connection over the unix socket
 * named by FLOOR_DB_SOCKET (as root, by the socket's own authentication), one statement prepared
 * at start, executed and fetched once per request, then 200 with the row.  The routes that
 * read the caller's user (/api/v1/me, /auth/check) are measured against it.
 */
int
main(void)
{
	FCGX_Request      fr;
	MYSQL            *db = NULL;
	MYSQL_STMT       *st = NULL;
	MYSQL_BIND        par, res[2];
	const char       *sock = getenv("FLOOR_DB_SOCKET");
	static const char sql[] = "SELECT id, username FROM users WHERE id = ?";
	long long         id = 1, got_id = 0;
	char              name[64];
	unsigned long     name_len = 0;
	int               rc = 1;

	if (sock == NULL || (db = mysql_init(NULL)) == NULL ||
	    mysql_real_connect(db, NULL, "root", NULL, "usermgr", 0, sock, 0) == NULL ||
	    (st = mysql_stmt_init(db)) == NULL ||
	    mysql_stmt_prepare(st, sql, sizeof(sql) - 1) != 0) {
		fprintf(stderr, "floor_select: %s\n",
		    db != NULL ? mysql_error(db) : "no memory");
		goto out;
	}
	memset(&par, 0, sizeof(par));
	par.buffer_type = MYSQL_TYPE_LONGLONG;
	par.buffer = &id;
	memset(res, 0, sizeof(res));
	res[0].buffer_type = MYSQL_TYPE_LONGLONG;
	res[0].buffer = &got_id;
	res[1].buffer_type = MYSQL_TYPE_STRING;
	res[1].buffer = name;
	res[1].buffer_length = sizeof(name);
	res[1].length = &name_len;
	if (mysql_stmt_bind_param(st, &par) != 0 || mysql_stmt_bind_result(st, res) != 0 ||
	    FCGX_Init() != 0 || FCGX_InitRequest(&fr, 0, 0) != 0)
		goto out;
	while (FCGX_Accept_r(&fr) >= 0) {
		if (mysql_stmt_execute(st) != 0 || mysql_stmt_store_result(st) != 0 ||
		    mysql_stmt_fetch(st) != 0) {
			FCGX_PutS("Status: 500 Internal Server Error\r\n\r\n", fr.out);
		} else {
			if (name_len >= sizeof(name))
				name_len = sizeof(name) - 1;
			FCGX_FPrintF(fr.out,
			    "Status: 200 OK\r\nContent-Type: text/plain\r\n\r\n"
			    "%lld %.*s\n",
			    got_id, (int)name_len, name);
		}
		mysql_stmt_free_result(st);
		FCGX_Finish_r(&fr);
	}
	rc = 0;
out:
	if (st != NULL)
		mysql_stmt_close(st);
	mysql_close(db);
	return rc;
}
