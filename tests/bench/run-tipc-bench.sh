#!/usr/bin/env bash
# Issue 3 item 7: the mailbox over TIPC next to raw TIPC SEQPACKET and AF_UNIX, inside the TIPC
# guest (netns-scripts/tipc-guest; natively on a TIPC kernel as root with --native) — first in
# one namespace, then across two namespaces (two TIPC nodes joined by a veth pair with Ethernet
# bearers, built by netns-scripts/cluster). Absolute times in an emulated kernel mean little:
# read the ratios. Arguments go to seqmq_bench (default: --repeat 5 --messages 2000
# --roundtrips 300 --sizes 64: UML makes every system call slow).
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
build=${SEQMQ_BENCH_BUILD_DIR:-$top/build-bench}
bench=$build/tests/bench/seqmq_bench
export SEQMQ_TOOL=$build/src/tools/seqmq

if [[ ${1:-} == --inside ]]; then
  shift
  args=("$@")
  ((${#args[@]})) || args=(--repeat 5 --messages 2000 --roundtrips 300 --sizes 64)
  echo "=== TIPC, one namespace"
  "$bench" --transport tipc "${args[@]}"
  echo
  echo "=== TIPC, across two namespaces (two TIPC nodes, veth, Ethernet bearers)"
  cluster=$top/netns-scripts/cluster
  prefix=seqmqbench
  trap '"$cluster" down --prefix $prefix >/dev/null 2>&1 || true' EXIT
  "$cluster" up --nodes 2 --prefix $prefix >/dev/null
  "$cluster" wait-links --prefix $prefix --timeout 60
  "$bench" --transport tipc --netns ${prefix}1,${prefix}2 "${args[@]}"
  exit 0
fi

cmake -S "$top" -B "$build" -DCMAKE_BUILD_TYPE=Release -DSEQMQ_BUILD_TESTS=OFF \
  -DSEQMQ_BUILD_EXAMPLES=OFF >/dev/null
cmake --build "$build" -j"$(nproc)" --target seqmq_bench seqmq_tool >/dev/null
if [[ ${1:-} == --native ]]; then
  shift
  exec "$0" --inside "$@"
fi
exec "$top/netns-scripts/tipc-guest" --timeout 900 -- "$0" --inside "$@"
