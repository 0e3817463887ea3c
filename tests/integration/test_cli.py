"""test_cli.py: usermgr-admin (API.md §6) against the stack's own MariaDB, judged through the API.

Each command runs as an operator runs it — the binary the stack was built with, configured only
by the USERMGR_* environment deploy/local/run gives its children — and its effect is checked
where a user meets it: logging in, the roles in /api/v1/me, a refused token.
"""

import hashlib
import os
import subprocess

from types import SimpleNamespace

from api_lib import Client, browser_login, new_password, unique_name
from peers import sql, sql_quote
from stack import REPO

ADMIN = os.path.join(REPO, "build", "usermgr-admin")


def cli_env(stack, **extra):
    state = stack.state_dir
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "USERMGR_DB_SOCKET": os.path.join(state, "run", "mysqld.sock"),
        "USERMGR_DB_NAME": "usermgr",
        "USERMGR_DB_USER": "usermgr",
        "USERMGR_DB_PASSWORD_FILE": os.path.join(state, "db_password"),
        "USERMGR_SECRET_KEY_FILE": os.path.join(state, "secret_key"),
        "USERMGR_DATA_KEY_FILE": os.path.join(state, "data_key"),
        "USERMGR_SQL_DIR": os.path.join(REPO, "sql"),
        "USERMGR_TEMPLATE_DIR": os.path.join(REPO, "templates"),
        "USERMGR_COMMON_PASSWORDS": os.path.join(REPO, "fcgi", "data", "common-passwords.txt"),
        "USERMGR_BASE_URL": stack.base_url,
        "USERMGR_ARGON2_MEMORY_KIB": "8192",
        "USERMGR_ARGON2_ITERATIONS": "1",
        # The workers' cache (deploy/local/run): the CLI applies its revocations to it at once.
        "USERMGR_CACHE_FILE": os.path.join(state, "run", "cache"),
    }
    for name, value in extra.items():  # None: leave the variable out
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env


def migrate_account(stack):
    """The variables deploy/local/run gives `usermgr-admin migrate` alone (docs/DEPLOY.md)."""
    return {"USERMGR_DB_MIGRATE_USER": "usermgr_migrate",
            "USERMGR_DB_MIGRATE_PASSWORD_FILE": os.path.join(stack.state_dir,
                                                             "db_migrate_password")}


def admin(stack, *args, stdin=None, **extra):
    """Runs usermgr-admin ARGS; returns (exit status, stderr + stdout as text)."""
    out = subprocess.run([ADMIN] + list(args), env=cli_env(stack, **extra), input=stdin,
                         capture_output=True, timeout=120, check=False)
    return out.returncode, (out.stderr + out.stdout).decode("utf-8", "replace")


def api_login(stack, login, password):
    return Client(stack).post("/api/v1/auth/login", {"login": login, "password": password})


def stored_hash(stack, username):
    rows = sql(stack, "SELECT password_hash FROM users WHERE username = %s" % sql_quote(username))
    return rows[0][0] if rows else None


def sha256_hex(password):
    return hashlib.sha256(password.encode()).hexdigest()


# --- migrate, check-config -------------------------------------------------------------------

def test_migrate_a_second_time_applies_nothing(stack):
    before = sql(stack, "SELECT version, applied_at FROM schema_migrations ORDER BY version")
    status, text = admin(stack, "migrate", **migrate_account(stack))
    assert status == 0, text
    assert sql(stack, "SELECT version, applied_at FROM schema_migrations ORDER BY version") == before
    assert len(before) == len([f for f in os.listdir(os.path.join(REPO, "sql"))
                               if f.endswith(".sql")])


def test_check_config_accepts_the_stacks_settings_and_names_a_bad_one(stack):
    status, text = admin(stack, "check-config")
    assert status == 0, text
    status, text = admin(stack, "check-config", USERMGR_ARGON2_ITERATIONS="zero")
    assert status == 1
    assert "USERMGR_ARGON2_ITERATIONS" in text


def test_an_unknown_command_and_missing_arguments_are_usage_errors(stack):
    status, text = admin(stack, "frobnicate")
    assert status == 2 and "unknown command frobnicate" in text
    status, text = admin(stack, "import-legacy")
    assert status == 2 and "usage:" in text
    status, text = admin(stack, "import-legacy", "--dsn")
    assert status == 2 and "usage:" in text


# --- create-user, set-roles, disable, enable -------------------------------------------------

def test_create_user_makes_an_account_that_logs_in_with_its_roles(stack):
    name, password = unique_name("cli"), new_password()
    status, text = admin(stack, "create-user", "--username", name, "--email",
                         name + "@Example.ORG", "--role", "admin", "--verified",
                         USERMGR_NEW_PASSWORD=password)
    assert status == 0, text
    r = api_login(stack, name, password)
    assert r.status_code == 200, r.text
    user = r.json()["user"]
    assert user["email"] == name + "@example.org"   # the domain is lower-cased (API.md §2)
    assert user["email_verified"] is True
    assert sorted(user["roles"]) == ["admin", "user"]
    assert stored_hash(stack, name).startswith("$argon2id$")

    # Again: a conflict, unless --if-absent says that is fine; the account is untouched.
    status, text = admin(stack, "create-user", "--username", name.upper(), "--email",
                         "other-" + name + "@example.org", USERMGR_NEW_PASSWORD=new_password())
    assert status == 1 and "taken" in text
    status, text = admin(stack, "create-user", "--if-absent", "--username", name, "--email",
                         name + "@example.org", USERMGR_NEW_PASSWORD=new_password())
    assert status == 0, text
    assert api_login(stack, name, password).status_code == 200


def test_create_user_refuses_a_bad_length_address_or_name_and_warns_of_a_weak_password(stack):
    name = unique_name("cli")
    for password in ("short", "x" * 129, "\u00e9t\u00e9"):
        status, text = admin(stack, "create-user", "--username", name, "--email",
                             name + "@example.org", USERMGR_NEW_PASSWORD=password)
        assert status == 2 and "8 to 128 characters" in text, text
    status, text = admin(stack, "create-user", "--username", name, "--email", "no-at-sign",
                         USERMGR_NEW_PASSWORD=new_password())
    assert status == 2 and "e-mail" in text
    status, text = admin(stack, "create-user", "--username", "a b", "--email",
                         name + "@example.org", USERMGR_NEW_PASSWORD=new_password())
    assert status == 2 and "username" in text
    assert sql(stack, "SELECT COUNT(*) FROM users WHERE username = %s" % sql_quote(name)) == [["0"]]

    # An operator's own choice is taken, with a warning naming the rule it breaks.
    status, text = admin(stack, "create-user", "--username", name, "--email",
                         name + "@example.org", "--verified", USERMGR_NEW_PASSWORD="Password1")
    assert status == 0 and "warning: the password is too common" in text, text
    assert api_login(stack, name, "Password1").status_code == 200


def test_set_roles_disable_and_enable_take_effect_at_once(stack):
    name, password = unique_name("cli"), new_password()
    assert admin(stack, "create-user", "--username", name, "--email", name + "@example.org",
                 "--verified", USERMGR_NEW_PASSWORD=password)[0] == 0
    token = api_login(stack, name, password).json()["access_token"]
    client = Client(stack)
    assert client.get("/api/v1/me", token=token).json()["roles"] == ["user"]
    browser = browser_login(stack, SimpleNamespace(username=name, password=password))
    assert browser.get("/auth/check").headers["X-User-Roles"] == "user"

    status, text = admin(stack, "set-roles", name, "user", "admin")
    assert status == 0, text
    # The old token carries the old roles and a token_version that moved on: it is refused;
    # the browser session ends too (a new session at every privilege change, API.md §3).
    r = client.get("/api/v1/me", token=token)
    assert r.status_code == 401 and r.json()["code"] == "invalid_token"
    assert browser.get("/auth/check").status_code == 401
    token = api_login(stack, name, password).json()["access_token"]
    assert sorted(client.get("/api/v1/me", token=token).json()["roles"]) == ["admin", "user"]
    browser = browser_login(stack, SimpleNamespace(username=name, password=password))
    assert browser.get("/auth/check").headers["X-User-Roles"] == "admin,user"
    assert browser.get("/admin/users").status_code == 200

    status, text = admin(stack, "set-roles", name, "no-such-role")
    assert status == 1 and "no-such-role" in text
    assert sorted(client.get("/api/v1/me", token=token).json()["roles"]) == ["admin", "user"]

    status, text = admin(stack, "disable", name)
    assert status == 0, text
    r = client.get("/api/v1/me", token=token)
    assert r.status_code == 401 and r.json()["code"] == "invalid_token"
    r = api_login(stack, name, password)
    assert r.status_code == 403 and r.json()["code"] == "account_disabled"

    status, text = admin(stack, "enable", name)
    assert status == 0, text
    assert api_login(stack, name, password).status_code == 200

    status, text = admin(stack, "disable", "nobody-" + name)
    assert status == 1 and "no user" in text.lower()


def test_the_cli_refuses_bad_input_with_the_apis_codes_and_words(stack):
    """A bad username, an unknown role and a taken address: the same problem code and field
    message from usermgr-admin as from the JSON API, since both go through one data layer."""
    boss, boss_password = unique_name("cli"), new_password()
    assert admin(stack, "create-user", "--username", boss, "--email", boss + "@example.org",
                 "--role", "admin", "--verified", USERMGR_NEW_PASSWORD=boss_password)[0] == 0
    token = api_login(stack, boss, boss_password).json()["access_token"]
    client = Client(stack)

    # A username the API refuses: 400 validation_failed naming username, in the same words.
    r = client.post("/api/v1/users", {"username": "a b", "email": unique_name() + "@example.org",
                                      "password": new_password()})
    assert r.status_code == 400 and r.json()["code"] == "validation_failed", r.text
    message = [e["message"] for e in r.json()["errors"] if e["field"] == "username"][0]
    status, text = admin(stack, "create-user", "--username", "a b", "--email",
                         unique_name() + "@example.org", USERMGR_NEW_PASSWORD=new_password())
    assert status == 2 and "validation_failed: username " + message in text, text

    # An unknown role: 400 validation_failed, "unknown role: NAME", from both.
    target = unique_name("cli")
    assert admin(stack, "create-user", "--username", target, "--email", target + "@example.org",
                 "--verified", USERMGR_NEW_PASSWORD=new_password())[0] == 0
    uid = int(sql(stack, "SELECT id FROM users WHERE username = %s" % sql_quote(target))[0][0])
    r = client.json("PUT", "/api/v1/admin/users/%d/roles" % uid, {"roles": ["no-such-role"]},
                    token=token)
    assert r.status_code == 400 and r.json()["code"] == "validation_failed", r.text
    message = r.json()["errors"][0]["message"]
    assert message == "unknown role: no-such-role"
    for args in (("set-roles", target, "user", "no-such-role"),
                 ("create-user", "--username", unique_name("cli"), "--email",
                  unique_name() + "@example.org", "--role", "no-such-role")):
        status, text = admin(stack, *args, USERMGR_NEW_PASSWORD=new_password())
        assert status == 1 and "validation_failed: roles " + message in text, text

    # A taken address: 409 conflict from the API, conflict from the CLI; nothing written.
    r = client.post("/api/v1/users", {"username": unique_name(), "email": target + "@example.org",
                                      "password": new_password()})
    assert r.status_code == 409 and r.json()["code"] == "conflict", r.text
    other = unique_name("cli")
    status, text = admin(stack, "create-user", "--username", other, "--email",
                         target + "@example.org", USERMGR_NEW_PASSWORD=new_password())
    assert status == 1 and "conflict: the e-mail address is taken" in text, text
    assert sql(stack, "SELECT COUNT(*) FROM users WHERE username = %s" % sql_quote(other)) == [["0"]]

    # The CLI's events are members of the audit event list, with a label and "via".
    rows = sql(stack, "SELECT event, JSON_VALUE(details, '$.via') FROM audit_events"
                      " WHERE user_id = %d ORDER BY id" % uid)
    assert rows[0] == ["user_created", "usermgr-admin"], rows
    r = client.get("/api/v1/admin/audit?user_id=%d" % uid, token=token)
    assert [e["event"] for e in r.json()["events"]] == ["user_created"], r.text


# --- import-legacy ---------------------------------------------------------------------------

def legacy_users(n, verified=True):
    """N seed-app users: (username, email, password, sha256 hex, verified)."""
    out = []
    for _ in range(n):
        name, password = unique_name("leg"), new_password()
        out.append((name, name + "@legacy.example", password, sha256_hex(password), verified))
    return out


def assert_imported(stack, user):
    """The seed password logs in once, and that login re-hashes it with Argon2id."""
    name, _, password, hexdigest, verified = user
    assert stored_hash(stack, name) == hexdigest
    r = api_login(stack, name, password)
    if not verified:
        assert r.status_code == 403 and r.json()["code"] == "email_not_verified"
        return
    assert r.status_code == 200, r.text
    assert r.json()["user"]["roles"] == ["user"]
    assert stored_hash(stack, name).startswith("$argon2id$")
    assert api_login(stack, name, password).status_code == 200
    r = api_login(stack, name, password + "x")
    assert r.status_code == 401 and r.json()["code"] == "invalid_credentials"


def test_import_legacy_csv_imports_good_lines_and_names_the_rest(stack, tmp_path):
    good = legacy_users(2) + legacy_users(1, verified=False)
    taken = legacy_users(1)[0]
    lines = ["username,email,password_sha256,verified"]
    lines += ['%s,"%s",%s,%s' % (u[0], u[1], u[3].upper(), "true" if u[4] else "0")
              for u in good]
    lines += [
        "bad name,x@legacy.example,%s,1" % ("a" * 64),       # line 5: username
        "okname1,not-an-address,%s,1" % ("a" * 64),          # line 6: address
        "okname2,ok2@legacy.example,%s,1" % ("a" * 63),      # line 7: hash
        "okname3,ok3@legacy.example,%s,maybe" % ("a" * 64),  # line 8: flag
        "just,three,fields",                                 # line 9
        "%s,%s,%s,1" % (good[0][0].upper(), taken[1], taken[3]),  # line 10: name taken
    ]
    path = tmp_path / "seed.csv"
    path.write_text("\ufeff" + "\r\n".join(lines) + "\r\n", encoding="utf-8")

    status, text = admin(stack, "import-legacy", str(path))
    assert status == 0, text
    assert "3 imported, 1 taken, 5 invalid" in text
    for n, what in ((5, "username"), (6, "e-mail"), (7, "64 hex"), (8, "verified"),
                    (9, "four CSV fields"), (10, "username is taken")):
        assert ("line %d: " % n) in text and what in text.split("line %d: " % n)[1].split("\n")[0]
    # Nothing of the rows' content is echoed (addresses and hashes stay out of logs).
    assert taken[1] not in text and good[0][3] not in text.lower()
    for u in good:
        assert_imported(stack, u)

    status, text = admin(stack, "import-legacy", str(path))
    assert status == 0 and "0 imported, 4 taken, 5 invalid" in text


def test_import_legacy_csv_refuses_a_file_without_the_header(stack, tmp_path):
    path = tmp_path / "seed.csv"
    path.write_text("name,mail,hash,verified\n", encoding="utf-8")
    status, text = admin(stack, "import-legacy", str(path))
    assert status == 1 and "username,email,password_sha256,verified" in text
    status, text = admin(stack, "import-legacy", str(tmp_path / "missing.csv"))
    assert status == 1 and "No such file" in text


def legacy_database(stack, rows, table="users"):
    """A seed app's MariaDB database, with an account that may only read it; returns its name."""
    db, user, password = unique_name("seed_"), unique_name("seedu"), new_password()
    values = ", ".join("(%s, %s, %s, %s)" % (sql_quote(r[0]), sql_quote(r[1]),
                                             "NULL" if r[2] is None else sql_quote(r[2]),
                                             "NULL" if r[3] is None else int(r[3]))
                       for r in rows)
    sql(stack, "CREATE DATABASE %s; CREATE TABLE %s.%s (id INT AUTO_INCREMENT PRIMARY KEY,"
        " username VARCHAR(80) NOT NULL, email VARCHAR(120) NOT NULL,"
        " password_sha256 CHAR(64), verified BOOLEAN);"
        " INSERT INTO %s.%s (username, email, password_sha256, verified) VALUES %s;"
        " CREATE USER '%s'@'localhost' IDENTIFIED BY '%s';"
        " GRANT SELECT ON %s.* TO '%s'@'localhost';"
        % (db, db, table, db, table, values, user, password, db, user))
    return db, user, password


def test_import_legacy_dsn_reads_the_seed_apps_table(stack):
    good = legacy_users(3) + legacy_users(1, verified=False)
    rows = [(u[0], u[1], u[3], u[4]) for u in good]
    rows += [("x y", "xy@legacy.example", "b" * 64, 1),          # invalid username
             (unique_name("leg"), "xy@legacy.example", None, 1),  # no hash
             # The address taken: rows are read in username order, so this one comes last.
             (unique_name("zzleg"), good[0][1].upper(), "c" * 64, None)]
    db, user, password = legacy_database(stack, rows, table="legacy_users")
    sock = os.path.join(stack.state_dir, "run", "mysqld.sock")
    url = "mariadb://%s@localhost/%s?unix_socket=%s&table=legacy_users" % (user, db, sock)

    # The password can stay out of the command line (and so out of ps).
    status, text = admin(stack, "import-legacy", "--dsn", url, USERMGR_LEGACY_DB_PASSWORD=password)
    assert status == 0, text
    assert "4 imported, 1 taken, 2 invalid" in text
    assert password not in text
    for u in good:
        assert_imported(stack, u)

    # In the URL, SQLAlchemy style, percent-encoded: the same rows are all taken now.
    url = "mysql+pymysql://%s:%s@/%s?charset=utf8mb4&unix_socket=%s&table=legacy_users" % (
        user, password.replace("-", "%2D"), db, sock)
    status, text = admin(stack, "import-legacy", "--dsn=" + url)
    assert status == 0 and "0 imported, 5 taken, 2 invalid" in text


def test_import_legacy_dsn_failures_are_clear_and_import_nothing(stack):
    db, user, password = legacy_database(stack, [(unique_name("leg"), "z@legacy.example",
                                                  "d" * 64, 1)])
    sock = os.path.join(stack.state_dir, "run", "mysqld.sock")
    before = sql(stack, "SELECT COUNT(*) FROM users")

    status, text = admin(stack, "import-legacy", "--dsn", "postgresql://u:hunter2@h/db")
    assert status == 1 and "expected mariadb://" in text and "hunter2" not in text
    status, text = admin(stack, "import-legacy", "--dsn",
                         "mariadb://%s@localhost/%s?unix_socket=%s&table=x;DROP" % (user, db, sock))
    assert status == 1 and "table name" in text
    status, text = admin(stack, "import-legacy", "--dsn",
                         "mariadb://%s:wrong-%s@localhost/%s?unix_socket=%s" % (user, password, db,
                                                                               sock))
    assert status == 1 and "cannot read" in text and password not in text
    status, text = admin(stack, "import-legacy", "--dsn",
                         "mariadb://%s:%s@localhost/%s?unix_socket=%s&table=nosuch" % (
                             user, password, db, sock))
    assert status == 1 and "cannot read `nosuch`" in text
    assert sql(stack, "SELECT COUNT(*) FROM users") == before


def test_migrate_upgrades_a_database_with_live_sessions(stack, tmp_path):
    """003 copies each live session's roles: an upgrade logs nobody out and drops no role."""
    db = unique_name("upg_")
    root_pw = open(os.path.join(stack.state_dir, "db_root_password")).read().strip()
    as_root = dict(USERMGR_DB_NAME=db, USERMGR_DB_USER="root", USERMGR_DB_PASSWORD=root_pw,
                   USERMGR_DB_PASSWORD_FILE=None)
    sql(stack, "CREATE DATABASE %s CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci" % db)
    old = tmp_path / "sql"
    old.mkdir()
    for name in sorted(os.listdir(os.path.join(REPO, "sql"))):
        if name < "003":
            (old / name).write_bytes(open(os.path.join(REPO, "sql", name), "rb").read())
    status, text = admin(stack, "migrate", USERMGR_SQL_DIR=str(old), **as_root)
    assert status == 0, text
    sql(stack, "INSERT INTO %(db)s.users (id, username, email, password_hash) VALUES"
        " (7, 'upgraded', 'upgraded@example.org', 'x');"
        " INSERT INTO %(db)s.user_roles (user_id, role_id)"
        "  SELECT 7, id FROM %(db)s.roles WHERE name IN ('user', 'admin');"
        " INSERT INTO %(db)s.sessions (id_hash, user_id, csrf_seed, expires_at)"
        "  VALUES (UNHEX(SHA2('s', 256)), 7, UNHEX(SHA2('c', 256)),"
        "  UTC_TIMESTAMP() + INTERVAL 1 HOUR)" % {"db": db})

    status, text = admin(stack, "migrate", **as_root)
    assert status == 0, text
    assert sql(stack, "SELECT roles FROM %s.sessions" % db) == [["admin,user"]]
    assert [int(r[0]) for r in sql(stack, "SELECT version FROM %s.schema_migrations"
                                          " ORDER BY version" % db)] == sorted(
        int(f[:3]) for f in os.listdir(os.path.join(REPO, "sql")) if f.endswith(".sql"))
    sql(stack, "DROP DATABASE %s" % db)
