#!/usr/bin/env bash
# A one-node Slurm on this machine, for the scheduler tests: writes slurm.conf for localhost
# (CPUs and memory read from the machine) into a folder of its own, starts munged, slurmctld
# and slurmd as root, and stops exactly the daemons it started, by the pids it recorded.
# Usage: scripts/slurm-cluster.sh start [DIR]   prints `export SLURM_CONF=DIR/slurm.conf`
#        scripts/slurm-cluster.sh stop [DIR]
# DIR defaults to /tmp/poet-slurm. Needs slurm-wlm and munge (scripts/install-deps.sh).
set -euo pipefail
action=${1:?usage: scripts/slurm-cluster.sh start|stop [DIR]}
dir=${2:-/tmp/poet-slurm}

stop() {
  for daemon in slurmd slurmctld munged; do
    pidfile=$dir/$daemon.pid
    [ -f "$pidfile" ] || continue
    pid=$(cat "$pidfile")
    if kill "$pid" 2>/dev/null; then
      for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -9 "$pid" 2>/dev/null || true
    fi
    rm -f "$pidfile"
  done
}

if [ "$action" = stop ]; then
  stop
  echo "slurm-cluster: stopped the daemons started in $dir" >&2
  exit 0
fi
[ "$action" = start ] || { echo "slurm-cluster: unknown action $action (start or stop)" >&2; exit 2; }
[ "$(id -u)" -eq 0 ] || { echo "slurm-cluster: the daemons run as root here; run as root" >&2; exit 1; }
for tool in munged slurmctld slurmd sinfo; do
  command -v "$tool" >/dev/null || { echo "slurm-cluster: $tool missing (scripts/install-deps.sh)" >&2; exit 1; }
done

stop  # leftovers of an earlier start in the same folder
rm -rf "$dir"
mkdir -p "$dir"/{munge,state,spool,log}
chmod 700 "$dir/munge"
host=$(hostname -s)
cpus=$(nproc)
memory_mb=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 - 1024 ))

# munge: a fresh key and a socket of our own, so a system munged is left alone.
dd if=/dev/urandom of="$dir/munge/munge.key" bs=1024 count=1 status=none
chmod 400 "$dir/munge/munge.key"
socket=$dir/munge/munge.socket
munged --force --key-file="$dir/munge/munge.key" --socket="$socket" --pid-file="$dir/munged.pid" \
  --log-file="$dir/log/munged.log" --seed-file="$dir/munge/munged.seed"

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
SlurmctldPort=6817
SlurmdPort=6818
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
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
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
slurmctld -f "$SLURM_CONF"
slurmd -f "$SLURM_CONF"
up() { [ "$(sinfo -h -N -o %T 2>/dev/null | grep -Ec '^(idle|mixed|allocated)$')" -eq 3 ]; }
for _ in $(seq 300); do up && break; sleep 0.2; done
if ! up; then
  echo "slurm-cluster: the node did not come up; logs in $dir/log" >&2
  tail -n 5 "$dir/log/slurmctld.log" "$dir/log/slurmd.log" >&2 || true
  stop
  exit 1
fi
echo "slurm-cluster: one node ($host, $cpus CPUs, $memory_mb MB) up; daemons' pids in $dir/*.pid" >&2
echo "export SLURM_CONF=$SLURM_CONF"
