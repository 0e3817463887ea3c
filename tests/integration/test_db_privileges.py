"""test_db_privileges.py: the workers' MariaDB account reads and writes rows, nothing more.

deploy/local/run makes two accounts (um_db_setup, deploy/local/lib.sh): `usermgr`, with SELECT,
INSERT, UPDATE, DELETE on database usermgr, for the workers, the mailer and usermgr-admin, and
`usermgr_migrate`, with ALL PRIVILEGES on that database, for `usermgr-admin migrate` alone. Every
other test of the suite runs against workers connected as `usermgr`, so a statement that needs
more would fail there; these check the grants themselves, what the account is refused, migrate
with either account, and the upgrade of a state dir whose `usermgr` still had ALL PRIVILEGES.
"""

import os
import re
import subprocess

from peers import sql
from stack import REPO
from test_cli import admin, migrate_account

WORKER_GRANTS = "GRANT SELECT, INSERT, UPDATE, DELETE ON `usermgr`.* TO `usermgr`@`localhost`"
MIGRATE_GRANTS = "GRANT ALL PRIVILEGES ON `usermgr`.* TO `usermgr_migrate`@`localhost`"
LOGIN_ONLY = r"GRANT USAGE ON \*\.\* TO `%s`@`localhost` IDENTIFIED BY PASSWORD '\*[0-9A-F]{40}'"


def grants(stack, user):
    return [row[0] for row in sql(stack, "SHOW GRANTS FOR '%s'@'localhost'" % user)]


def assert_split(stack):
    """Each account holds its login and exactly its one database-level grant."""
    for user, grant in (("usermgr", WORKER_GRANTS), ("usermgr_migrate", MIGRATE_GRANTS)):
        rows = grants(stack, user)
        assert len(rows) == 2, rows
        assert re.fullmatch(LOGIN_ONLY % user, rows[0]), rows
        assert rows[1] == grant, rows


def as_worker(stack, statement):
    """Runs STATEMENT with the workers' credentials; returns (exit status, its ERROR line)."""
    with open(os.path.join(stack.state_dir, "db_password")) as f:
        password = f.read().strip()
    out = subprocess.run(
        ["mariadb", "--no-defaults", "--socket=" + os.path.join(stack.state_dir, "run",
                                                               "mysqld.sock"),
         "-u", "usermgr", "usermgr", "-N", "-B", "-e", statement],
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "MYSQL_PWD": password},
        capture_output=True, timeout=30)
    # The client echoes a failed statement before its error: keep the error.
    return out.returncode, "".join(line for line in out.stderr.decode().splitlines(True)
                                   if line.startswith("ERROR "))


def test_the_workers_account_holds_only_select_insert_update_delete(stack):
    assert_split(stack)


def test_the_workers_account_is_refused_ddl_with_error_1142(stack):
    assert as_worker(stack, "SELECT COUNT(*) > 0 FROM users") == (0, "")
    denied = "ERROR 1142 (42000) at line 1: %s command denied to user 'usermgr'@'localhost'" \
             " for table `usermgr`.`%s`\n"
    # The privilege is checked before the table is looked up: the names need not exist.
    for statement, command, table in (
            ("CREATE TABLE canary (id INT PRIMARY KEY)", "CREATE", "canary"),
            ("DROP TABLE canary", "DROP", "canary"),
            ("ALTER TABLE users COMMENT = 'canary'", "ALTER", "users"),
            ("TRUNCATE TABLE canary", "DROP", "canary"),
            ("CREATE INDEX canary ON users (created_at)", "INDEX", "users")):
        assert as_worker(stack, statement) == (1, denied % (command, table)), statement
    assert as_worker(stack, "CREATE DATABASE canary") == (
        1, "ERROR 1044 (42000) at line 1: Access denied for user 'usermgr'@'localhost' to "
           "database 'canary'\n")


def test_migrate_needs_the_migration_account_and_stays_idempotent_with_it(stack):
    before = sql(stack, "SELECT version, applied_at FROM schema_migrations ORDER BY version")
    status, text = admin(stack, "migrate")
    assert status == 1, text
    assert ("usermgr-admin: migrate: 0 applied before the failure\n"
            "usermgr-admin: migrate: the database account usermgr may not change the schema; "
            "run migrate with the migration account (USERMGR_DB_MIGRATE_USER, "
            "USERMGR_DB_MIGRATE_PASSWORD)\n") in text, text
    assert "CREATE command denied to user 'usermgr'@'localhost'" in text, text
    for _ in range(2):
        status, text = admin(stack, "migrate", **migrate_account(stack))
        assert status == 0, text
        assert "usermgr-admin: migrate: 0 migrations applied\n" in text, text
    assert sql(stack, "SELECT version, applied_at FROM schema_migrations ORDER BY version") == before
    # A password without its account is a mistake, not the workers' account's password.
    status, text = admin(stack, "migrate", USERMGR_DB_MIGRATE_PASSWORD="x")
    assert (status, text) == (1, "usermgr-admin: USERMGR_DB_MIGRATE_PASSWORD is set but "
                                 "USERMGR_DB_MIGRATE_USER is not\n")


def run_db_setup(stack):
    """um_db_setup of deploy/local/lib.sh, as deploy/local/run calls it at every start."""
    out = subprocess.run(
        ["bash", "-c", 'set -euo pipefail; UM_PROG=run; . deploy/local/lib.sh; um_paths; '
                       'um_db_setup'],
        cwd=REPO, env={"PATH": os.environ.get("PATH", "/usr/bin:/bin") + ":/usr/sbin:/sbin",
                       "USERMGR_STATE_DIR": stack.state_dir},
        capture_output=True, timeout=120)
    assert out.returncode == 0, out.stderr.decode()
    return out.stderr.decode()


def test_a_state_dir_from_before_the_split_is_reduced_at_the_next_start(stack):
    marker = os.path.join(stack.state_dir, "mysql", ".usermgr-ready")
    with open(marker) as f:
        assert f.read() == "2\n"
    # What the first version left: one account with ALL, no migration account, an empty marker.
    sql(stack, "DROP USER 'usermgr_migrate'@'localhost';"
               " GRANT ALL PRIVILEGES ON usermgr.* TO 'usermgr'@'localhost'")
    open(marker, "w").close()
    assert grants(stack, "usermgr")[1] == \
        "GRANT ALL PRIVILEGES ON `usermgr`.* TO `usermgr`@`localhost`"
    assert run_db_setup(stack) == \
        "run: setting up database usermgr and its accounts (version 2)\n"
    assert_split(stack)
    with open(marker) as f:
        assert f.read() == "2\n"
    status, text = admin(stack, "migrate", **migrate_account(stack))
    assert status == 0, text
    # Up to date: the next start leaves the accounts alone.
    assert run_db_setup(stack) == ""
