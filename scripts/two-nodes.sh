#!/usr/bin/env bash
# Two "nodes" on one machine, to rehearse multi-node mpirun with real processes and real TCP:
# each node is a network namespace with its own address (a veth pair to a bridge in the root
# namespace, which gets an address too, so that mpirun here reaches the nodes' daemons) and its
# own UTS namespace, so its hostname, and therefore Open MPI's idea of a node, differs. Open MPI
# starts its daemons there through this script as its rsh agent, in place of ssh; each node
# computes on its own half of the CPUs.
#
# Usage (as root; needs ip from iproute2, unshare and taskset from util-linux):
#   scripts/two-nodes.sh COMMAND [ARGS...]
#       sets up the two nodes, runs COMMAND with the variables below in its environment, and
#       tears the nodes down when COMMAND ends or this script gets INT or TERM; exits with COMMAND's
#       status. Where the nodes cannot be set up (not root, no network namespaces), COMMAND runs
#       with TWO_NODES_UNAVAILABLE set to the reason instead, so that a test can skip or fail.
#   scripts/two-nodes.sh agent NODE ARGS...
#       Open MPI's rsh agent (TWO_NODES_MPIRUN_ARGS names it): runs ARGS as one shell command
#       line, as ssh does, inside NODE with NODE as hostname.
#   scripts/two-nodes.sh down PREFIX
#       removes what a run stopped by SIGKILL left behind; the prefix is printed at setup.
# What COMMAND gets:
#   TWO_NODES_MPIRUN_ARGS  mpirun options, shell-quoted: the hostfile (2 slots a node), this
#                          script as rsh agent, and Open MPI's TCP kept to the nodes' subnet
#   TWO_NODES_HOSTFILE     that hostfile
#   TWO_NODES_NODE_A/_B    each node's name: its hostname and its network namespace
#   TWO_NODES_LINK_A/_B    each node's veth on the bridge side (its byte counters are in
#                          /sys/class/net/LINK/statistics; tx_bytes is what went into the node)
#   TWO_NODES_SUBNET       the nodes' subnet
#   TWO_NODES_CPUS_A/_B    each node's CPUs (taskset -c lists)
# Example, as root (which Open MPI refuses unless OMPI_ALLOW_RUN_AS_ROOT=1 and
# OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 are set):
#   scripts/two-nodes.sh sh -c 'eval mpirun $TWO_NODES_MPIRUN_ARGS -np 4 hostname'
# shellcheck disable=SC2317  # teardown, and what it calls, run from the EXIT trap
set -euo pipefail

self=$(readlink -f "${BASH_SOURCE[0]}")

# Open MPI calls the agent as ssh: `AGENT NODE WORDS...`, the words forming one command line
# for the remote shell. Only nodes this script made are entered: their names carry its prefix.
if [ "${1:-}" = agent ]; then
  node=${2:?usage: two-nodes.sh agent NODE ARGS...}
  shift 2
  [[ $node =~ ^pn[0-9]+-[ab]$ ]] || { echo "two-nodes.sh agent: $node is not a node of two-nodes.sh" >&2; exit 255; }
  letter=${node##*-}
  cpus_variable=TWO_NODES_CPUS_${letter^^}
  cpus=${!cpus_variable:-}
  [ -n "$cpus" ] || { echo "two-nodes.sh agent: $cpus_variable unset; run mpirun under scripts/two-nodes.sh" >&2; exit 255; }
  # shellcheck disable=SC2016  # expanded by the shell inside the node
  exec ip netns exec "$node" taskset -c "$cpus" unshare --uts sh -c 'hostname "$0" && exec sh -c "$1"' "$node" "$*"
fi

# Every name a run creates starts with its prefix, so that `down` removes one run's leftovers:
# the nodes, and the folder with the hostfile.
state_folder() { echo "/tmp/two-nodes-$1"; }
remove_nodes() {
  local prefix=$1 node pids
  for node in "$prefix-a" "$prefix-b"; do
    mapfile -t pids < <(ip netns pids "$node" 2>/dev/null)
    [ ${#pids[@]} -eq 0 ] || kill -KILL "${pids[@]}" 2>/dev/null || true
    # The veth goes first: deleting it deletes its peer at once, where a deleted namespace
    # releases its end of the pair only later.
    ip link del "${node/-/}" 2>/dev/null || true
    ip netns del "$node" 2>/dev/null || true
  done
  ip link del "${prefix}br" 2>/dev/null || true
}

if [ "${1:-}" = down ]; then
  prefix=${2:?usage: two-nodes.sh down PREFIX}
  [[ $prefix =~ ^pn[0-9]+$ ]] || { echo "two-nodes.sh down: $prefix is not a prefix of two-nodes.sh" >&2; exit 2; }
  remove_nodes "$prefix"
  rm -rf "$(state_folder "$prefix")".*
  exit 0
fi
[ $# -gt 0 ] || { echo "usage: scripts/two-nodes.sh COMMAND [ARGS...] (see its header)" >&2; exit 2; }

# ---------------------------------------------------------------------------------------------
# Setup and teardown of the nodes of this run, named after its pid.
prefix=pn$$
made=0
child=
# Process `$1` and all its descendants, whatever process groups they made: a test's mpirun
# runs in a group of its own, and must not outlive the nodes.
process_tree() {
  local stat fields pid
  echo "$1"
  for stat in /proc/[0-9]*/stat; do
    read -r fields <"$stat" 2>/dev/null || continue
    pid=${fields%% *}
    fields=${fields##*) }  # after the command's name, which may hold spaces: state, parent
    fields=${fields#* }
    [ "${fields%% *}" != "$1" ] || process_tree "$pid"
  done
}
teardown() {
  local tree
  if [ -n "$child" ]; then
    mapfile -t tree < <(process_tree "$child")
    kill -KILL "${tree[@]}" 2>/dev/null || true
  fi
  [ "$made" = 0 ] || remove_nodes "$prefix"
  [ -z "${state:-}" ] || rm -rf "$state"
}
trap teardown EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Where the nodes cannot be made, what was made goes at once, and COMMAND is told why.
unavailable() {
  echo "two-nodes.sh: $1; running without two nodes" >&2
  [ "$made" = 0 ] || remove_nodes "$prefix"
  made=0
  export TWO_NODES_UNAVAILABLE="$1"
}

# A /24 of 198.18.0.0/15 (RFC 2544, for benchmarks, so unlikely to be in use) that no route but
# the default one and no address of this machine covers, picked by pid so concurrent runs differ.
free_subnet() {
  local i net
  for i in $(seq 0 255); do
    net=198.18.$(( ($$ + i) % 256 ))
    if [ "$(ip -4 route show to match "$net.1" | grep -cv '^default')" = 0 ] &&
       [ -z "$(ip -4 addr show to "$net.0/24")" ]; then
      echo "$net"
      return 0
    fi
  done
  return 1
}

# The CPUs this script may run on, one a line (from "0-3,6" in /proc/self/status).
allowed_cpus() {
  local range
  for range in $(sed -n 's/^Cpus_allowed_list:[[:space:]]*//p' /proc/self/status | tr ',' ' '); do
    seq "${range%-*}" "${range#*-}"
  done
}

# `made` tells teardown that there is something to remove; ip says which call failed and why.
make_nodes() {
  local net=$1 node address=2
  made=1
  ip link add "${prefix}br" type bridge || return 1
  ip addr add "$net.1/24" dev "${prefix}br" || return 1
  ip link set "${prefix}br" up || return 1
  for node in a b; do
    ip netns add "$prefix-$node" || return 1
    ip link add "$prefix$node" type veth peer name eth0 netns "$prefix-$node" || return 1
    ip link set "$prefix$node" master "${prefix}br" up || return 1
    ip -n "$prefix-$node" addr add "$net.$address/24" dev eth0 || return 1
    ip -n "$prefix-$node" link set eth0 up || return 1
    ip -n "$prefix-$node" link set lo up || return 1
    address=$(( address + 1 ))
  done
}

setup() {
  [ "$(id -u)" -eq 0 ] || { unavailable "not root"; return 0; }
  command -v ip >/dev/null || { unavailable "ip (iproute2) missing"; return 0; }
  if ! command -v unshare >/dev/null || ! command -v taskset >/dev/null; then
    unavailable "unshare or taskset (util-linux) missing"
    return 0
  fi
  local net
  net=$(free_subnet) || { unavailable "no free /24 in 198.18.0.0/15"; return 0; }
  echo "two-nodes.sh: nodes $prefix-a and $prefix-b on $net.0/24 (after a SIGKILL: scripts/two-nodes.sh down $prefix)" >&2
  make_nodes "$net" || { unavailable "making the nodes failed (the ip command above says why; no network namespaces?)"; return 0; }

  # Each node computes on its own half of the CPUs, as real nodes do. Sharing them all, the
  # ranks spinning in a collective starved those it waited for: 40 steps of tiny took 1.5 s, or
  # 24 to 54 s; split, 1.4 to 3 s.
  local cpus half
  mapfile -t cpus < <(allowed_cpus)
  half=$(( ${#cpus[@]} / 2 > 0 ? ${#cpus[@]} / 2 : 1 ))
  local cpus_a=("${cpus[@]:0:half}") cpus_b=("${cpus[@]:half}")
  [ ${#cpus_b[@]} -gt 0 ] || cpus_b=("${cpus[@]}")
  TWO_NODES_CPUS_A=$(IFS=,; echo "${cpus_a[*]}")
  TWO_NODES_CPUS_B=$(IFS=,; echo "${cpus_b[*]}")
  export TWO_NODES_CPUS_A TWO_NODES_CPUS_B

  state=$(mktemp -d "$(state_folder "$prefix").XXXXXX")
  printf '%s slots=2\n' "$prefix-a" "$prefix-b" >"$state/hostfile"
  # plm rsh: this script in place of ssh, even inside a Slurm allocation; no tree spawn, so that
  # mpirun, not a node's daemon, starts both daemons. Both OOB (daemons) and the TCP BTL (ranks)
  # stay on the bridge's subnet, so that what crosses nodes crosses the veths. No binding: a
  # node's two ranks share its CPUs (one, on two cores); they yield while they wait (40 steps in
  # 1.40 s instead of 1.63 s).
  # shellcheck disable=SC2054  # self,vader,tcp is one value
  local args=(--hostfile "$state/hostfile" --mca plm rsh --mca plm_rsh_agent "$self agent"
              --mca plm_rsh_no_tree_spawn 1 --mca oob_tcp_if_include "$net.0/24"
              --mca btl self,vader,tcp --mca btl_tcp_if_include "$net.0/24"
              --bind-to none --mca mpi_yield_when_idle 1)
  export TWO_NODES_MPIRUN_ARGS="${args[*]@Q}" TWO_NODES_HOSTFILE="$state/hostfile"
  export TWO_NODES_NODE_A="$prefix-a" TWO_NODES_NODE_B="$prefix-b"
  export TWO_NODES_LINK_A="${prefix}a" TWO_NODES_LINK_B="${prefix}b" TWO_NODES_SUBNET="$net.0/24"
}

setup
# In the background, so that a signal to this script reaches its traps at once.
"$@" &
child=$!
status=0
wait "$child" || status=$?
child=
exit "$status"
