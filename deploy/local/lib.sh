# deploy/local/lib.sh: shell functions shared by deploy/local/run and deploy/local/mariadb-ctl.
# shellcheck shell=bash
#
# Sourced, never run.  The callers set UM_PROG (the name used in messages) and `set -euo pipefail`.
# Every process is started and stopped by PID; nothing here touches the system's own MariaDB or
# nginx services, and nothing matches processes by name alone.

um_note() {
	printf '%s: %s\n' "${UM_PROG:-usermgr}" "$*" >&2
}

um_die() {
	um_note "$*"
	exit 1
}

# Prints the last lines of a log file to stderr, so a failure explains itself.
um_tail() {
	if [[ -s $1 ]]; then
		printf -- '--- last lines of %s ---\n' "$1" >&2
		tail -n "${2:-25}" "$1" >&2
		printf -- '---\n' >&2
	fi
}

# Sets UM_REPO (the repository root, found from this file's location) and UM_STATE (absolute).
# A relative USERMGR_STATE_DIR is taken relative to the caller's working directory; the default
# is var/ in the repository.  Paths end up inside nginx's configuration and in unix socket
# addresses, so they are restricted to characters that need no quoting there.
um_paths() {
	local s

	UM_REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)
	s=${USERMGR_STATE_DIR:-$UM_REPO/var}
	[[ $s == /* ]] || s=$PWD/$s
	mkdir -p "$s"
	UM_STATE=$(cd "$s" && pwd -P)
	UM_RUN=$UM_STATE/run
	UM_LOGDIR=$UM_STATE/log
	UM_MYSQL_SOCK=$UM_RUN/mysqld.sock
	UM_MYSQL_PID=$UM_RUN/mysqld.pid
	local p
	for p in "$UM_REPO" "$UM_STATE"; do
		[[ $p =~ ^[A-Za-z0-9._/+@:,~-]+$ ]] ||
			um_die "path '$p' holds characters (spaces, quotes, ...) that cannot go into nginx's configuration; use another directory"
	done
	# sun_path holds 108 bytes including the NUL (unix(7)).
	((${#UM_RUN} + 13 <= 107)) ||
		um_die "state dir '$UM_STATE' is too long for a unix socket path (at most about 90 characters)"
	export USERMGR_STATE_DIR=$UM_STATE
}

# True when PID is a live process (not a zombie) whose command name is NAME.
um_pid_is() {
	local pid=$1 name=$2 comm stat

	[[ $pid =~ ^[0-9]+$ ]] || return 1
	comm=$(cat "/proc/$pid/comm" 2>/dev/null) || return 1
	[[ $comm == "${name:0:15}" ]] || return 1
	stat=$(cat "/proc/$pid/stat" 2>/dev/null) || return 1
	stat=${stat##*) }
	[[ ${stat%% *} != Z ]]
}

# True when PID is alive (a zombie counts as gone: it has exited, only its parent has not reaped it).
um_alive() {
	local stat

	stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	stat=${stat##*) }
	[[ ${stat%% *} != Z ]]
}

# Prints the PID held in FILE when that process is alive and is called NAME.
um_pidfile_live() {
	local pid

	[[ -r $1 ]] || return 1
	read -r pid <"$1" 2>/dev/null || return 1
	um_pid_is "$pid" "$2" || return 1
	printf '%s\n' "$pid"
}

# Waits up to SECONDS for every PID given to exit; returns 1 if one is still alive.
um_wait_gone() {
	local secs=$1 i pid left
	shift
	for ((i = 0; i < secs * 10; i++)); do
		left=0
		for pid in "$@"; do
			um_alive "$pid" && left=1
		done
		((left)) || return 0
		sleep 0.1
	done
	return 1
}

# Stops processes by PID: SIGTERM, up to 10 s to exit, then SIGKILL.  NAME is for messages.
# Usage: um_stop NAME PID...
um_stop() {
	local name=$1 pid
	shift
	(($#)) || return 0
	kill -TERM "$@" 2>/dev/null || true
	if ! um_wait_gone 10 "$@"; then
		um_note "$name did not stop within 10 s; sending SIGKILL"
		for pid in "$@"; do
			um_alive "$pid" && kill -KILL "$pid" 2>/dev/null
		done
		um_wait_gone 5 "$@" || um_note "$name (pid $*) survived SIGKILL"
	fi
	return 0
}

# True while any process of process group PGID is alive (zombies do not count).
um_group_alive() {
	local pid

	for pid in $(pgrep -g "$1" 2>/dev/null); do
		um_alive "$pid" && return 0
	done
	return 1
}

# Stops whole process groups.  Every child is started with setsid, so its PID is also its
# process group, which holds what it forked (nginx's workers, multiwatch's workers) even when
# the leader itself has died.  The leaders get SIGTERM first and up to 5 s to stop their own
# children (signalling the group at once would make multiwatch respawn the workers it sees
# die); whatever is left then gets SIGTERM, 5 s more, and SIGKILL.
# Usage: um_stop_groups NAME PGID...
um_stop_groups() {
	local name=$1 g i left
	shift
	(($#)) || return 0
	for g in "$@"; do
		um_alive "$g" && kill -TERM "$g" 2>/dev/null
	done
	um_wait_gone 5 "$@" || true
	for g in "$@"; do
		um_group_alive "$g" && kill -TERM -- "-$g" 2>/dev/null
	done
	for ((i = 0; i < 50; i++)); do
		left=()
		for g in "$@"; do
			um_group_alive "$g" && left+=("$g")
		done
		((${#left[@]})) || return 0
		sleep 0.1
	done
	um_note "$name did not stop within 10 s; sending SIGKILL"
	for g in "${left[@]}"; do
		kill -KILL -- "-$g" 2>/dev/null || true
	done
	return 0
}

# The mariadbd command line; shared so that run and mariadb-ctl start the same server.
# No TCP at all (--skip-networking): the only way in is the socket inside the state dir.
# The server's time zone is UTC because DATETIME columns hold UTC (DESIGN.md, Data).
um_mariadbd_args() {
	UM_MARIADBD_ARGS=(
		--no-defaults
		"--datadir=$UM_STATE/mysql"
		"--socket=$UM_MYSQL_SOCK"
		"--pid-file=$UM_MYSQL_PID"
		--skip-networking
		"--log-error=$UM_LOGDIR/mariadb.log"
		"--user=$(id -un)"
		--character-set-server=utf8mb4
		--collation-server=utf8mb4_unicode_ci
		--default-time-zone=+00:00
		--skip-name-resolve
		# The admin lists at a million users read index ranges and rows that must stay in
		# memory (docs/PERFORMANCE.md): the default 128 MiB holds a third of them.
		--innodb-buffer-pool-size=512M
	)
}

# Answers whether this stack's server accepts connections.  mariadb-admin ping exits 0 even on
# "access denied": an answer is all that is asked.
um_mariadb_ping() {
	mariadb-admin --no-defaults "--socket=$UM_MYSQL_SOCK" --connect-timeout=2 \
		-u root ping >/dev/null 2>&1
}

# Starts this stack's mariadbd (creating the datadir on first use) and waits until it answers.
# The server is started in its own session and is not a child of the caller, so a restart by
# mariadb-ctl under a running stack looks the same as the first start.
um_mariadb_start() {
	local pid i

	mkdir -p "$UM_RUN" "$UM_LOGDIR"
	if pid=$(um_pidfile_live "$UM_MYSQL_PID" mariadbd); then
		um_note "mariadbd is already running (pid $pid)"
		return 0
	fi
	if [[ ! -d $UM_STATE/mysql/mysql ]]; then
		um_note "creating the MariaDB datadir $UM_STATE/mysql"
		rm -rf "$UM_STATE/mysql"
		if ! mariadb-install-db --no-defaults "--datadir=$UM_STATE/mysql" \
			--auth-root-authentication-method=normal \
			"--user=$(id -un)" --skip-test-db >"$UM_LOGDIR/mariadb-install.log" 2>&1; then
			grep -m 5 ERROR "$UM_LOGDIR/mariadb-install.log" >&2 ||
				um_tail "$UM_LOGDIR/mariadb-install.log"
			um_die "mariadb-install-db failed (log: $UM_LOGDIR/mariadb-install.log)"
		fi
	fi
	rm -f "$UM_MYSQL_PID"
	um_mariadbd_args
	pid=$(
		setsid mariadbd "${UM_MARIADBD_ARGS[@]}" </dev/null >>"$UM_LOGDIR/mariadb.log" 2>&1 &
		echo $!
	)
	# A cold start with a new datadir takes a few seconds; 60 s leaves room for crash recovery.
	for ((i = 0; i < 600; i++)); do
		if um_mariadb_ping; then
			return 0
		fi
		if ! um_alive "$pid"; then
			um_tail "$UM_LOGDIR/mariadb.log"
			um_die "mariadbd exited during start-up (log: $UM_LOGDIR/mariadb.log)"
		fi
		sleep 0.1
	done
	um_tail "$UM_LOGDIR/mariadb.log"
	kill -TERM "$pid" 2>/dev/null || true
	um_die "mariadbd did not answer on $UM_MYSQL_SOCK within 60 s (log: $UM_LOGDIR/mariadb.log)"
}

# Stops this stack's mariadbd: the PID is read from its pid file now, since it may have been
# restarted since the stack started.
um_mariadb_stop() {
	local pid

	pid=$(um_pidfile_live "$UM_MYSQL_PID" mariadbd) || return 0
	um_stop mariadbd "$pid"
}

# The accounts of this stack's database, at this version (the marker file holds it):
#   1  one account, usermgr, with ALL PRIVILEGES on usermgr.* (no version in the marker);
#   2  usermgr with SELECT, INSERT, UPDATE, DELETE only (the workers, the mailer, usermgr-admin),
#      and usermgr_migrate with ALL PRIVILEGES on usermgr.* for usermgr-admin migrate alone
#      (migrations create and alter tables, indexes and sequences; ALL on the one database is
#      simpler than listing each DDL privilege and grants nothing outside it).
# A state dir set up by an older version is brought to this one at the next start, since every
# statement is idempotent; a current one is left alone.
UM_DB_SETUP_VERSION=2

# Creates or updates database usermgr and its accounts, and gives root a password of its own
# (kept in the state dir) or the OS user root's socket login, so the socket alone opens nothing.
# The passwords come from db_password, db_migrate_password and db_root_password in the state dir.
# The accounts are for connections from HOST (default localhost: the socket; a cluster's
# nodes are reached over TCP from 127.0.0.1); MARKER is the version file (default in the datadir).
# Usage: um_db_setup [HOST [MARKER]]
um_db_setup() {
	local uh=${1:-localhost} marker=${2:-$UM_STATE/mysql/.usermgr-ready}
	local log=$UM_LOGDIR/mariadb-setup.log rootpw dbpw migpw host sql

	if [[ -f $marker && $(<"$marker") == "$UM_DB_SETUP_VERSION" ]]; then
		return 0
	fi
	um_note "setting up database usermgr and its accounts (version $UM_DB_SETUP_VERSION)"
	rootpw=$(<"$UM_STATE/db_root_password")
	dbpw=$(<"$UM_STATE/db_password")
	migpw=$(<"$UM_STATE/db_migrate_password")
	# REVOKE ALL ... FROM (no ON) takes back every privilege at every level, the ALL of
	# version 1 included, and is harmless for a new account; then the rows only.
	sql="
CREATE DATABASE IF NOT EXISTS usermgr CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
CREATE USER IF NOT EXISTS 'usermgr'@'$uh' IDENTIFIED BY '$dbpw';
ALTER USER 'usermgr'@'$uh' IDENTIFIED BY '$dbpw';
REVOKE ALL PRIVILEGES, GRANT OPTION FROM 'usermgr'@'$uh';
GRANT SELECT, INSERT, UPDATE, DELETE ON usermgr.* TO 'usermgr'@'$uh';
CREATE USER IF NOT EXISTS 'usermgr_migrate'@'$uh' IDENTIFIED BY '$migpw';
ALTER USER 'usermgr_migrate'@'$uh' IDENTIFIED BY '$migpw';
GRANT ALL PRIVILEGES ON usermgr.* TO 'usermgr_migrate'@'$uh';
ALTER USER 'root'@'localhost' IDENTIFIED VIA mysql_native_password USING PASSWORD('$rootpw') OR unix_socket;
DROP USER IF EXISTS 'root'@'127.0.0.1', 'root'@'::1';
FLUSH PRIVILEGES;"
	# mariadb-install-db also makes a password-less root@<hostname>.
	host=$(hostname 2>/dev/null || true)
	[[ $host =~ ^[A-Za-z0-9.-]+$ && $host != localhost ]] &&
		sql+=" DROP USER IF EXISTS 'root'@'$host';"
	# The passwords are hex digits only (generated so), so quoting them in SQL is safe.
	if ! MYSQL_PWD=$rootpw mariadb --no-defaults "--socket=$UM_MYSQL_SOCK" -u root \
		--batch -e "$sql" >"$log" 2>&1 &&
		! MYSQL_PWD='' mariadb --no-defaults "--socket=$UM_MYSQL_SOCK" -u root \
			--batch -e "$sql" >>"$log" 2>&1; then
		um_tail "$log"
		um_die "could not set up the database (log: $log)"
	fi
	printf '%s\n' "$UM_DB_SETUP_VERSION" >"$marker"
}

# Starts a FastCGI pool: spawn-fcgi binds SOCK (mode 0660, owned by nginx's user when
# UM_SOCK_OWNER holds "-U user -G group") and, with -n, becomes multiwatch, which keeps N
# workers of BIN alive.  Its own session, so its PID is also the process group stopped on
# exit, and a Ctrl-C in the terminal reaches the caller only.  Sets UM_POOL_PID.
# Usage: um_start_pool SOCK N BIN LOG  (the environment is the workers')
um_start_pool() {
	rm -f "$1"
	setsid spawn-fcgi -n -s "$1" -M 0660 "${UM_SOCK_OWNER[@]}" -- \
		"$(command -v multiwatch)" -f "$2" -- "$3" </dev/null >>"$4" 2>&1 &
	# shellcheck disable=SC2034 # read by the callers
	UM_POOL_PID=$!
}

# Writes $UM_STATE/nginx.conf from deploy/nginx/local.conf.in.  Quoted replacements keep '&'
# and '\' in values literal.
# Usage: um_nginx_conf PORT USER-LINE AUTH-RATE LIMIT-REQ APP-SERVERS OPS-SERVERS
um_nginx_conf() {
	local conf

	conf=$(<"$UM_REPO/deploy/nginx/local.conf.in")
	conf=${conf//@STATE@/"$UM_STATE"}
	conf=${conf//@REPO@/"$UM_REPO"}
	conf=${conf//@PORT@/"$1"}
	conf=${conf//@USER@/"$2"}
	conf=${conf//@AUTH_RATE@/"$3"}
	conf=${conf//@LIMIT_REQ@/"$4"}
	conf=${conf//@APP_SERVERS@/"$5"}
	conf=${conf//@OPS_SERVERS@/"$6"}
	printf '%s\n' "$conf" >"$UM_STATE/nginx.conf"
}

# Checks and starts nginx on $UM_STATE/nginx.conf, then waits until it accepts on PORT.
# Sets UM_NGINX_PID.  Usage: um_start_nginx PORT
um_start_nginx() {
	local args i

	args=(-p "$UM_STATE/" -c "$UM_STATE/nginx.conf" -e "$UM_LOGDIR/nginx-error.log"
		-g 'daemon off;')
	if ! nginx -t -q "${args[@]}" >"$UM_LOGDIR/nginx-test.log" 2>&1; then
		cat "$UM_LOGDIR/nginx-test.log" >&2
		um_die "nginx rejected $UM_STATE/nginx.conf"
	fi
	rm -f "$UM_RUN/nginx.pid"
	setsid nginx "${args[@]}" </dev/null >>"$UM_LOGDIR/nginx-error.log" 2>&1 &
	UM_NGINX_PID=$!
	for ((i = 0; ; i++)); do
		(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && break
		if ! um_alive "$UM_NGINX_PID"; then
			um_tail "$UM_LOGDIR/nginx-error.log"
			um_die "nginx exited during start-up (log: $UM_LOGDIR/nginx-error.log)"
		fi
		((i < 100)) || um_die "nginx does not accept connections on 127.0.0.1:$1 after 10 s"
		sleep 0.1
	done
}

# True when GET PATH on 127.0.0.1:PORT answers 200 within 3 s.  Usage: um_http_ok PORT PATH
um_http_ok() {
	# shellcheck disable=SC2016 # $1, $2 and $status belong to the inner shell
	timeout 3 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
		printf "GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n" "$2" >&3
		IFS=" " read -r _ status _ <&3 && [[ $status == 200 ]]' _ "$1" "$2" 2>/dev/null
}

# Out-of-tree build in BUILD (absolute), quiet unless it fails; USERMGR_CONFIGURE_FLAGS as
# deploy/local/run documents.  Run from the repository.  A lock keeps two stacks started at
# once from running make in the same directory together.  Usage: um_build BUILD
um_build() {
	local BUILD=$1 log=$UM_LOGDIR/build.log flags=() stamp=$1/.usermgr-configure-flags

	mkdir -p "$BUILD" "$UM_LOGDIR"
	exec 9>"$BUILD/.usermgr-build.lock"
	flock 9
	: >"$log"
	if [[ ! -x configure || configure -ot configure.ac || configure -ot Makefile.am ]]; then
		um_note "running autogen.sh"
		./autogen.sh >>"$log" 2>&1 || {
			um_tail "$log" 60
			um_die "autogen.sh failed (log: $log)"
		}
	fi
	read -ra flags <<<"${USERMGR_CONFIGURE_FLAGS:-}"
	if [[ ! -f $BUILD/Makefile ]] ||
		{ [[ -f $stamp ]] && [[ $(<"$stamp") != "${flags[*]}" ]]; } ||
		{ [[ ! -f $stamp ]] && ((${#flags[@]})); }; then
		um_note "configuring $BUILD ${flags[*]}"
		(cd "$BUILD" && "$UM_REPO/configure" "${flags[@]}") >>"$log" 2>&1 || {
			um_tail "$log" 60
			um_die "configure failed (log: $log)"
		}
		printf '%s\n' "${flags[*]}" >"$stamp"
	fi
	make -C "$BUILD" -j"$(nproc)" >>"$log" 2>&1 || {
		um_tail "$log" 60
		um_die "the build failed (log: $log)"
	}
	exec 9>&-
}
