#!/usr/bin/env bash
# A one-node Slurm on this machine, for the scheduler tests, with accounting as real clusters
# have it: writes slurm.conf for localhost (CPUs and memory read from the machine) and
# slurmdbd.conf into a folder of its own, starts munged, a MariaDB server on a data directory in
# that folder, slurmdbd, slurmctld and slurmd as root, waits for each to answer, and stops exactly
# the daemons it started, by the pids it recorded, in reverse order.
# Usage: scripts/slurm-cluster.sh start [DIR]   prints `export SLURM_CONF=DIR/slurm.conf`
#        scripts/slurm-cluster.sh stop [DIR]
# DIR defaults to /tmp/poet-slurm. Needs slurm-wlm, slurmdbd, munge and mariadb-server
# (scripts/install-deps.sh).
set -euo pipefail
action=${1:?usage: scripts/slurm-cluster.sh start|stop [DIR]}
dir=${2:-/tmp/poet-slurm}
daemons=(munged mariadbd slurmdbd slurmctld slurmd)  # start order; stopped in reverse
slurmctld_port=6817
slurmd_port=6818
slurmdbd_port=6819
mariadb_port=6820

# A stopped daemon may linger as a zombie until init reaps it; that counts as gone.
alive() {
  local stat
  stat=$(ps -o stat= -p "$1" 2>/dev/null) && [[ $stat != Z* ]]
}

stop() {
  for ((i = ${#daemons[@]} - 1; i >= 0; i--)); do
    pidfile=$dir/${daemons[i]}.pid
    [ -f "$pidfile" ] || continue
    pid=$(cat "$pidfile")
    if [ -n "$pid" ] && kill "$pid" 2>/dev/null; then
      for _ in $(seq 100); do alive "$pid" || break; sleep 0.1; done
      kill -9 "$pid" 2>/dev/null || true
    fi
    rm -f "$pidfile"
  done
}

# Stops what has started, after the log tail of the daemon that failed.
fail() {
  local daemon=$1 why=$2
  echo "slurm-cluster: $daemon $why; last lines of $dir/log/$daemon.log:" >&2
  tail -n 15 "$dir/log/$daemon.log" >&2 || true
  stop
  exit 1
}

# Polls a check for up to 60 s, each try cut at 10 s (a client may wait long on a daemon that is
# not up): long enough for a loaded 2-core CI machine, short enough to fail.
wait_ready() {
  local daemon=$1
  shift
  local deadline=$((SECONDS + 60))
  while [ $SECONDS -lt $deadline ]; do
    timeout 10 "$@" >/dev/null 2>&1 && return 0
    sleep 0.2
  done
  fail "$daemon" "did not become ready in 60 s (waited for: $*)"
}

if [ "$action" = stop ]; then
  stop
  echo "slurm-cluster: stopped the daemons started in $dir" >&2
  exit 0
fi
[ "$action" = start ] || { echo "slurm-cluster: unknown action $action (start or stop)" >&2; exit 2; }
[ "$(id -u)" -eq 0 ] || { echo "slurm-cluster: the daemons run as root here; run as root" >&2; exit 1; }
for tool in munged munge mariadb-install-db mariadbd mariadb mariadb-admin slurmdbd sacctmgr slurmctld slurmd \
  scontrol sinfo; do
  command -v "$tool" >/dev/null || { echo "slurm-cluster: $tool missing (scripts/install-deps.sh)" >&2; exit 1; }
done

stop  # leftovers of an earlier start in the same folder
rm -rf "$dir"
mkdir -p "$dir"/{munge,mariadb,state,spool,log}
chmod 700 "$dir/munge" "$dir/mariadb"
host=$(hostname -s)
cpus=$(nproc)
memory_mb=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 - 1024 ))

# ---------------------------------------------------------------------------
# munge: a fresh key and a socket of our own, so a system munged is left alone.
dd if=/dev/urandom of="$dir/munge/munge.key" bs=1024 count=1 status=none
chmod 400 "$dir/munge/munge.key"
socket=$dir/munge/munge.socket
munged --force --key-file="$dir/munge/munge.key" --socket="$socket" --pid-file="$dir/munged.pid" \
  --log-file="$dir/log/munged.log" --seed-file="$dir/munge/munged.seed" || fail munged "did not start"
wait_ready munged munge --socket="$socket" --no-input

# ---------------------------------------------------------------------------
# MariaDB for slurmdbd: its own data directory, socket and port, and no option file of the
# system's (--no-defaults), so a system MariaDB is left alone. Slurm advises a larger buffer pool
# and redo log; a test cluster's few jobs need neither, and slurmdbd only notes the difference.
mariadb_socket=$dir/mariadb/mariadbd.sock
mariadb_options=(--innodb-buffer-pool-size=64M --innodb-log-file-size=16M --innodb-lock-wait-timeout=900)
mariadb-install-db --no-defaults --user=root --datadir="$dir/mariadb/data" --auth-root-authentication-method=socket \
  --skip-test-db "${mariadb_options[@]}" >"$dir/log/mariadbd.log" 2>&1 ||
  fail mariadbd "could not get a data directory (mariadb-install-db failed)"
# mariadbd stays in the foreground: started in the background with no tie to our stdout (which
# `eval "$(... start)"` reads to its end), and known by the pid recorded here.
mariadbd --no-defaults --user=root --datadir="$dir/mariadb/data" --socket="$mariadb_socket" \
  --bind-address=127.0.0.1 --port=$mariadb_port --skip-name-resolve --pid-file="$dir/mariadbd.pid" \
  --log-error="$dir/log/mariadbd.log" "${mariadb_options[@]}" </dev/null >>"$dir/log/mariadbd.log" 2>&1 &
echo $! >"$dir/mariadbd.pid"
wait_ready mariadbd mariadb-admin --no-defaults --socket="$mariadb_socket" --user=root ping
# slurmdbd connects over TCP with a password that only its mode-600 config holds.
db_password=$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')
mariadb --no-defaults --socket="$mariadb_socket" --user=root \
  -e "CREATE USER 'slurm'@'127.0.0.1' IDENTIFIED BY '$db_password';
      GRANT ALL ON slurm_acct_db.* TO 'slurm'@'127.0.0.1';" 2>>"$dir/log/mariadbd.log" ||
  fail mariadbd "refused to create slurmdbd's database user"

# ---------------------------------------------------------------------------
# Slurm: slurmdbd reads slurmdbd.conf from slurm.conf's folder, and refuses it unless it is mode
# 600 and owned by SlurmUser (root here).
(umask 077 && cat >"$dir/slurmdbd.conf" <<CONF
# Written by scripts/slurm-cluster.sh: accounting for the one-node cluster, on its own MariaDB.
AuthType=auth/munge
AuthInfo=socket=$socket
DbdHost=$host
DbdPort=$slurmdbd_port
SlurmUser=root
PidFile=$dir/slurmdbd.pid
LogFile=$dir/log/slurmdbd.log
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort=$mariadb_port
StorageUser=slurm
StoragePass=$db_password
StorageLoc=slurm_acct_db
CONF
)

cat >"$dir/slurm.conf" <<CONF
# Written by scripts/slurm-cluster.sh: one node, this machine.
ClusterName=poet
SlurmctldHost=$host
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$socket
CredType=cred/munge
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
SlurmctldPort=$slurmctld_port
SlurmdPort=$slurmd_port
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/backfill
MpiDefault=none
JobRequeue=1
ReturnToService=2
MinJobAge=3600
KillWait=10
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=$host
AccountingStoragePort=$slurmdbd_port
# Not a password with munge: the munge socket for the connections to slurmdbd.
AccountingStoragePass=$socket
JobAcctGatherType=jobacct_gather/linux
JobCompType=jobcomp/none
GresTypes=gpu
NodeName=$host CPUs=$cpus RealMemory=$memory_mb State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO
# Two 8-GPU nodes for \`sbatch --test-only\` of multi-node GPU scripts: no slurmd of their own;
# this machine's answers their pings, so they count as up. Only --test-only is sent to them.
NodeName=gpu-[1-2] NodeAddr=127.0.0.1 CPUs=64 RealMemory=512000 Gres=gpu:8 State=UNKNOWN
PartitionName=gpu Nodes=gpu-[1-2] MaxTime=INFINITE State=UP
CONF
export SLURM_CONF=$dir/slurm.conf

slurmdbd || fail slurmdbd "did not start"
wait_ready slurmdbd sacctmgr --noheader list cluster
# slurmctld adds its cluster (ClusterName) to the accounting database itself when it first
# registers with slurmdbd, so no `sacctmgr add cluster` is needed.
slurmctld -f "$SLURM_CONF" || fail slurmctld "did not start"
wait_ready slurmctld scontrol ping
slurmd -f "$SLURM_CONF" || fail slurmd "did not start"
# In a shell of its own, so that timeout can cut it; $(...) is for that shell to expand.
# shellcheck disable=SC2016
wait_ready slurmd bash -c '[ "$(sinfo -h -N -o %T | grep -Ec "^(idle|mixed|allocated)$")" -eq 3 ]'
echo "slurm-cluster: one node ($host, $cpus CPUs, $memory_mb MB) up, with accounting; daemons' pids in" \
  "$dir/*.pid" >&2
echo "export SLURM_CONF=$SLURM_CONF"
