#!/usr/bin/env bash
# The long fuzzing run: every harness for SECONDS, from the committed seeds (tests/fuzz/corpus)
# and the build tree's scratch corpus, which keeps what each run found for the next. Prints the
# executions of each harness (libFuzzer's stat::number_of_executed_units) and their total; exits 1
# if a harness found a crash, a leak or a timeout (its input is in the build tree's
# tests/fuzz/artifacts/<harness>/, its log in tests/fuzz/logs/).
#
#   tests/fuzz/long-run.sh [SECONDS [HARNESS...]]     default: 600 s each, every harness
#
# SEQMQ_FUZZ_BUILD_DIR: a SEQMQ_FUZZ=ON build (default build-fuzz; built here if missing).
# SEQMQ_FUZZ_JOBS: harnesses run at once (default 1).
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
build=${SEQMQ_FUZZ_BUILD_DIR:-$top/build-fuzz}
jobs=${SEQMQ_FUZZ_JOBS:-1}
seconds=${1:-600}
shift || true
harnesses=("$@")
((${#harnesses[@]})) || harnesses=(frame daemon_protocol address tipc_netlink daemon_session mailbox)

if [[ ! -f $build/CMakeCache.txt ]]; then
  CC=clang-19 CXX=clang++-19 cmake -S "$top" -B "$build" -DSEQMQ_FUZZ=ON
fi
cmake --build "$build" -j"$(nproc)" --target seqmq_fuzz

out=$build/tests/fuzz
mkdir -p "$out/logs"
run() {
  local h=$1
  mkdir -p "$out/corpus/$h" "$out/artifacts/$h"
  UBSAN_OPTIONS=print_stacktrace=1 "$out/fuzz_$h" -max_total_time="$seconds" -print_final_stats=1 \
    -timeout=10 -artifact_prefix="$out/artifacts/$h/" "$out/corpus/$h" "$top/tests/fuzz/corpus/$h" \
    >"$out/logs/$h.log" 2>&1
}

declare -A status
pending=("${harnesses[@]}")
running=()
while ((${#pending[@]} || ${#running[@]})); do
  while ((${#pending[@]})) && ((${#running[@]} < jobs)); do
    h=${pending[0]}
    pending=("${pending[@]:1}")
    run "$h" &
    running+=("$!:$h")
  done
  wait -n || true
  still=()
  for r in "${running[@]}"; do
    pid=${r%%:*}
    if kill -0 "$pid" 2>/dev/null; then
      still+=("$r")
    else
      wait "$pid" && status[${r#*:}]=0 || status[${r#*:}]=$?
    fi
  done
  running=("${still[@]+"${still[@]}"}")
done

total=0
failed=0
printf '%-16s %14s %8s  %s\n' harness executions exec/s result
for h in "${harnesses[@]}"; do
  n=$(sed -n 's/^stat::number_of_executed_units: *//p' "$out/logs/$h.log" | tail -1)
  n=${n:-0}
  total=$((total + n))
  result=ok
  if [[ ${status[$h]} != 0 ]]; then
    result="FAILED (exit ${status[$h]}; see $out/logs/$h.log)"
    failed=1
  fi
  printf '%-16s %14d %8d  %s\n' "$h" "$n" $((n / seconds)) "$result"
done
printf '%-16s %14d\n' total "$total"
exit "$failed"
