# deploy/cluster/lib.sh: the Galera nodes of deploy/cluster/run, shared with deploy/cluster/ctl.
# shellcheck shell=bash
#
# Sourced after deploy/local/lib.sh and um_paths.  Node N (1..3) of the cluster lives in
# $UM_STATE/node$N: its my.cnf, its datadir, and its socket and pid file in $UM_RUN.  Its ports
# come from USERMGR_CLUSTER_PORT (default 24000, below the kernel's ephemeral ports): client
# port BASE+10N, group communication BASE+10N+1, IST BASE+10N+2, SST BASE+10N+3.
# docs/DEPLOY.md shows the same file for three machines.

UM_NODES=(1 2 3)
UM_CLUSTER_BASE=${USERMGR_CLUSTER_PORT:-24000}
if [[ ! $UM_CLUSTER_BASE =~ ^[0-9]{4,5}$ ]] || ((UM_CLUSTER_BASE < 1024 || UM_CLUSTER_BASE > 65000)); then
	um_die "USERMGR_CLUSTER_PORT must be a port from 1024 to 65000 (got '$UM_CLUSTER_BASE')"
fi

um_node_port() { echo $((UM_CLUSTER_BASE + 10 * $1)); }
um_node_sock() { echo "$UM_RUN/node$1.sock"; }
um_node_pidfile() { echo "$UM_RUN/node$1.pid"; }

# The USERMGR_DB_HOSTS of an application host whose own node is N: N first, then the others.
um_node_hosts() {
	local n=$1 i list

	list="127.0.0.1:$(um_node_port "$1")"

	for i in "${UM_NODES[@]}"; do
		((i == n)) || list+=",127.0.0.1:$(um_node_port "$i")"
	done
	echo "$list"
}

# Writes node N's my.cnf (every start: the ports may have changed).
um_node_conf() {
	local n=$1 p gcomm='' i

	p=$(um_node_port "$n")
	for i in "${UM_NODES[@]}"; do
		gcomm+="${gcomm:+,}127.0.0.1:$(($(um_node_port "$i") + 1))"
	done
	mkdir -p "$UM_STATE/node$n"
	# It holds the SST account's password.
	(umask 077 && : >"$UM_STATE/node$n/my.cnf")
	cat >"$UM_STATE/node$n/my.cnf" <<EOF
# Node $n of usermgr's Galera cluster (written by deploy/cluster/run; docs/DEPLOY.md).
[mysqld]
datadir = $UM_STATE/node$n/data
socket = $(um_node_sock "$n")
pid-file = $(um_node_pidfile "$n")
log-error = $UM_LOGDIR/node$n.log
user = $(id -un)
bind-address = 127.0.0.1
port = $p
skip-name-resolve
character-set-server = utf8mb4
collation-server = utf8mb4_unicode_ci
default-time-zone = +00:00
innodb-buffer-pool-size = 128M
innodb-log-file-size = 48M

# Galera's requirements: row events, InnoDB, interleaved auto-increment locks.
binlog-format = ROW
default-storage-engine = InnoDB
innodb-autoinc-lock-mode = 2
# sql/008's triggers and routines are created by a replicated DDL (TOI).
log-bin-trust-function-creators = 1

wsrep-on = ON
wsrep-provider = /usr/lib/galera/libgalera_smm.so
wsrep-cluster-name = usermgr
wsrep-cluster-address = gcomm://$gcomm
wsrep-node-name = node$n
wsrep-node-address = 127.0.0.1:$((p + 1))
wsrep-node-incoming-address = 127.0.0.1:$p
# A joiner's full copy (SST) is a mariadb-backup stream from a donor that keeps serving.
wsrep-sst-method = mariabackup
wsrep-sst-auth = root:$(<"$UM_STATE/db_root_password")
wsrep-sst-receive-address = 127.0.0.1:$((p + 3))
wsrep-slave-threads = 2
# An autocommit statement that loses certification (two nodes bumping one rate-limit row) is
# run again by the server itself, up to 4 times, before the client sees 1213.
wsrep-retry-autocommit = 4
# A member that stops answering is declared gone after 3 s (suspect 2 s): until then the
# others' commits wait for it, so this bounds the write stall of a hung node.
wsrep-provider-options = "gmcast.listen_addr=tcp://127.0.0.1:$((p + 1)); ist.recv_addr=127.0.0.1:$((p + 2)); gcache.size=128M; evs.keepalive_period=PT0.5S; evs.inactive_check_period=PT0.5S; evs.suspect_timeout=PT2S; evs.inactive_timeout=PT3S; evs.install_timeout=PT3S"

# The SST scripts keep no copies of their logs in /tmp (they are in the datadir).
[sst]
sst-log-archive = 0
EOF
}

# Answers whether node N is up and synced (wsrep_ready ON, Primary).
um_node_ready() {
	local out

	out=$(MYSQL_PWD=$(<"$UM_STATE/db_root_password") mariadb --no-defaults \
		"--socket=$(um_node_sock "$1")" -u root --connect-timeout=2 -N --batch \
		-e "SHOW STATUS WHERE Variable_name IN ('wsrep_ready','wsrep_local_state_comment')" \
		2>/dev/null) || out=$(mariadb --no-defaults "--socket=$(um_node_sock "$1")" -u root \
		--connect-timeout=2 -N --batch \
		-e "SHOW STATUS WHERE Variable_name IN ('wsrep_ready','wsrep_local_state_comment')" \
		2>/dev/null) || return 1
	[[ $out == *Synced* && $out == *ON* ]]
}

# Starts node N and waits until it is synced.  With "new", N bootstraps a new cluster (the
# first start, or the last node stopped when the whole cluster went down); otherwise it joins
# the running ones, by IST when their cache still holds what it missed, else by a full copy.
um_node_start() {
	local n=$1 how=${2:-join} pid i args=() data=$UM_STATE/node$1/data

	if pid=$(um_pidfile_live "$(um_node_pidfile "$n")" mariadbd); then
		um_note "node $n is already running (pid $pid)"
		return 0
	fi
	um_node_conf "$n"
	if [[ ! -d $data/mysql ]]; then
		rm -rf "$data"
		mkdir -p "$data"
		if [[ $how == new ]]; then
			um_note "creating node $n's datadir"
			mariadb-install-db --no-defaults "--datadir=$data" \
				--auth-root-authentication-method=normal "--user=$(id -un)" --skip-test-db \
				>"$UM_LOGDIR/node$n-install.log" 2>&1 ||
				{
					um_tail "$UM_LOGDIR/node$n-install.log"
					um_die "mariadb-install-db failed for node $n"
				}
		fi
	fi
	# After a crash (SIGKILL, power) grastate.dat says seqno -1: the position is InnoDB's,
	# read the way galera_recovery does, so that the node asks for the missing writes (IST)
	# instead of a full copy.
	if [[ -d $data/mysql && -f $data/grastate.dat ]] && grep -q '^seqno: *-1' "$data/grastate.dat"; then
		local pos
		pos=$(mariadbd "--defaults-file=$UM_STATE/node$n/my.cnf" --wsrep-recover \
			"--log-error=$UM_LOGDIR/node$n-recover.log" </dev/null >/dev/null 2>&1
			sed -n 's/.*WSREP: Recovered position: *\([^ ]*\).*/\1/p' \
				"$UM_LOGDIR/node$n-recover.log" | tail -n 1)
		[[ $pos == *:* ]] && args+=("--wsrep-start-position=$pos")
	fi
	if [[ $how == new ]]; then
		args+=(--wsrep-new-cluster)
		# This node is the one to start from, whatever its last stop recorded.
		[[ -f $data/grastate.dat ]] &&
			sed -i 's/^safe_to_bootstrap: 0/safe_to_bootstrap: 1/' "$data/grastate.dat"
	fi
	rm -f "$(um_node_pidfile "$n")"
	pid=$(
		setsid mariadbd "--defaults-file=$UM_STATE/node$n/my.cnf" "${args[@]}" \
			</dev/null >>"$UM_LOGDIR/node$n.log" 2>&1 &
		echo $!
	)
	# A joiner's full copy takes a while on a busy machine: 180 s.
	for ((i = 0; i < 1800; i++)); do
		um_node_ready "$n" && return 0
		if ! um_alive "$pid"; then
			um_tail "$UM_LOGDIR/node$n.log" 40
			um_die "node $n (mariadbd) exited during start-up (log: $UM_LOGDIR/node$n.log)"
		fi
		sleep 0.1
	done
	um_tail "$UM_LOGDIR/node$n.log" 40
	um_die "node $n is not synced after 180 s (log: $UM_LOGDIR/node$n.log)"
}

um_node_stop() {
	local pid

	pid=$(um_pidfile_live "$(um_node_pidfile "$1")" mariadbd) || return 0
	um_stop "mariadbd (node $1)" "$pid"
}
