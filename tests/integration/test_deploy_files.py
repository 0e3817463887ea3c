"""test_deploy_files.py: the users, groups and file modes the production deployment produces (docs/DEPLOY.md).

The shipped sysusers.d and tmpfiles.d files are applied by systemd's own tools to a scratch root
(--root), over secrets written with careless modes, and the result is read from that root's
/etc/passwd, /etc/group and the files' stat; the units are read for the groups the services run
with. Secrets must be readable by the service user only: nginx's www-data reaches the FastCGI
socket through a group of its own, never through the group that reads /etc/usermgr.
"""

import configparser
import os
import stat
import subprocess

import pytest

from stack import REPO

SYSTEMD = os.path.join(REPO, "deploy", "systemd")
SECRETS = ("secret_key", "data_key", "db_password", "db_migrate_password", "smtp_password",
           "usermgr.env")


def unit(name):
    """The [Service] section of a shipped unit, as a dict (last value wins, like systemd)."""
    p = configparser.ConfigParser(strict=False, interpolation=None, delimiters=("=",))
    p.optionxform = str
    with open(os.path.join(SYSTEMD, name)) as f:
        # Continuation lines ("\" at the end) joined, as systemd reads them.
        p.read_string(f.read().replace("\\\n", " "))
    return dict(p["Service"])


def table(path):
    """/etc/passwd or /etc/group of the scratch root as {name: fields}."""
    with open(path) as f:
        return {line.split(":")[0]: line.rstrip("\n").split(":") for line in f if line.strip()}


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    r = tmp_path_factory.mktemp("root")
    os.makedirs(r / "etc" / "usermgr")
    # An operator's copy: world-readable, owned by whoever made it.
    for name in SECRETS:
        p = r / "etc" / "usermgr" / name
        p.write_text("not-a-real-secret\n")
        os.chmod(p, 0o644)
    for tool, conf in (("systemd-sysusers", "usermgr.sysusers"),
                       ("systemd-tmpfiles", "usermgr.tmpfiles")):
        args = [tool, "--root=%s" % r]
        if tool == "systemd-tmpfiles":
            args.append("--create")
        out = subprocess.run(args + [os.path.join(SYSTEMD, conf)], capture_output=True,
                             timeout=60)
        assert out.returncode == 0, "%s %s failed: %s" % (tool, conf, out.stderr.decode())
    return r


def members(groups, name):
    return set(filter(None, groups[name][3].split(",")))


def test_the_secrets_are_readable_by_the_service_user_alone(root):
    passwd = table(root / "etc" / "passwd")
    groups = table(root / "etc" / "group")
    gid = {g: int(f[2]) for g, f in groups.items()}
    assert "usermgr" in passwd and "usermgr" in groups, (passwd, groups)
    assert int(passwd["usermgr"][3]) == gid["usermgr"], "usermgr's primary group is usermgr"
    assert passwd["usermgr"][6].endswith("nologin"), passwd["usermgr"]
    # Nobody else is in group usermgr: www-data neither as a member nor as its primary group.
    assert members(groups, "usermgr") == set(), groups["usermgr"]
    assert [u for u, f in passwd.items() if int(f[3]) == gid["usermgr"]] == ["usermgr"]
    d = os.stat(root / "etc" / "usermgr")
    assert (d.st_uid, d.st_gid, stat.S_IMODE(d.st_mode)) == (0, gid["usermgr"], 0o750), d
    for name in SECRETS:
        st = os.stat(root / "etc" / "usermgr" / name)
        assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (0, gid["usermgr"], 0o640), (
            name, oct(st.st_mode), st.st_gid)


def test_nginx_reaches_the_socket_through_a_group_of_its_own(root):
    groups = table(root / "etc" / "group")
    assert members(groups, "usermgr-sock") == {"www-data"}, groups["usermgr-sock"]
    worker = unit("usermgr.service")
    # The socket takes the workers' primary group; reading /etc/usermgr needs the other one.
    assert worker["User"] == "usermgr", worker
    assert worker["Group"] == "usermgr-sock", worker
    assert worker["SupplementaryGroups"].split() == ["usermgr"], worker
    assert worker["RuntimeDirectoryMode"] == "0750", worker
    assert "-s /run/usermgr/usermgr.sock -M 0660" in worker["ExecStart"], worker["ExecStart"]
    assert "-G" not in worker["ExecStart"].split(), "spawn-fcgi -G works only as root"
    mailer = unit("usermgr-mailer.service")
    assert (mailer["User"], mailer["Group"]) == ("usermgr", "usermgr"), mailer
    assert "SupplementaryGroups" not in mailer, mailer
    # The /readyz workers: the same user and groups, their own socket, no migration, and
    # they live and die with the main pool (whose runtime directory holds their socket).
    ops = unit("usermgr-ops.service")
    for key in ("User", "Group", "SupplementaryGroups", "EnvironmentFile", "UMask"):
        assert ops[key] == worker[key], (key, ops, worker)
    assert "-s /run/usermgr/usermgr-ops.sock -M 0660" in ops["ExecStart"], ops["ExecStart"]
    assert "ExecStartPre" not in ops and "RuntimeDirectory" not in ops, ops
    with open(os.path.join(SYSTEMD, "usermgr-ops.service")) as f:
        text = f.read()
    assert "PartOf=usermgr.service" in text and "Requires=usermgr.service" in text, text
    # The production site passes to those sockets: /readyz to its own workers.
    with open(os.path.join(REPO, "deploy", "nginx", "usermgr.conf")) as f:
        site = f.read()
    assert "fastcgi_pass unix:/run/usermgr/usermgr.sock;" in site
    readyz = site[site.index("location = /readyz {"):]
    readyz = readyz[:readyz.index("}")]
    assert "fastcgi_pass unix:/run/usermgr/usermgr-ops.sock;" in readyz, readyz


def test_only_migrate_is_given_the_migration_account():
    """docs/DEPLOY.md section 3: the workers, the mailer and prune connect with the DML-only
    account of usermgr.env; ExecStartPre's migrate alone names the migration account."""
    worker = unit("usermgr.service")
    assert worker["ExecStartPre"].split() == [
        "/usr/bin/env", "USERMGR_DB_MIGRATE_USER=usermgr_migrate",
        "USERMGR_DB_MIGRATE_PASSWORD_FILE=/etc/usermgr/db_migrate_password",
        "/usr/local/bin/usermgr-admin", "migrate"], worker["ExecStartPre"]
    for name in ("usermgr.service", "usermgr-ops.service", "usermgr-mailer.service",
                 "usermgr-prune.service"):
        service = unit(name)
        for key in ("Environment", "ExecStart", "EnvironmentFile"):
            assert "MIGRATE" not in service.get(key, ""), (name, key, service.get(key))
    with open(os.path.join(REPO, "deploy", "usermgr.env.example")) as f:
        active = [line for line in f if line.strip() and not line.lstrip().startswith("#")]
    assert [line for line in active if "MIGRATE" in line] == [], active
    assert "USERMGR_DB_USER=usermgr\n" in active, active
