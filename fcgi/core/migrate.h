/* migrate: applies the numbered SQL scripts of sql/ once each, in order (usermgr-admin migrate). */
#ifndef UM_MIGRATE_H
#define UM_MIGRATE_H

#include "error.h"

struct db;

/*
 * Applies every sql_dir/NNN_name.sql whose number is not yet in schema_migrations (created
 * here when absent), in numeric order, and records each right after it succeeds.  A named
 * lock (GET_LOCK 'usermgr_migrate', 30 s) keeps concurrent runs apart, except on Galera
 * (wsrep_on), which has no named locks: there one host runs it.  Each script runs in
 * a transaction with autocommit off, but MariaDB commits implicitly at every DDL statement,
 * so on failure only the DML since the last DDL is undone: scripts are written to be
 * re-runnable (IF NOT EXISTS, INSERT IGNORE).  *applied (may be NULL) gets the number
 * applied by this call.  Errors are logged; UM_EUNAVAIL when the database cannot be
 * reached or the lock is not obtained, UM_EFORBIDDEN when the account may not do what a
 * migration does (the workers' DML-only account).
 */
enum um_err migrate_run(struct db *, const char *, int *);

#endif
