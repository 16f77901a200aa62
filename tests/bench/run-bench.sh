#!/usr/bin/env bash
# The benchmark command of issue 5: builds seqmq in Release (build-bench/, or
# $SEQMQ_BENCH_BUILD_DIR) and runs every suite of seqmq_bench — transfer (16 B .. 64 KiB), depth
# (100 .. 100k), many senders, steady state — printing the tables, the machine and kernel, and
# the issue's goals met or not. Writes the depth plot to tests/bench/scaling.png and the results
# to <build>/bench.json. About 4-5 minutes on 2 cores; --quick for a short run. Arguments go to
# seqmq_bench (--help lists them), e.g. tests/bench/run-bench.sh --quick.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
build=${SEQMQ_BENCH_BUILD_DIR:-$top/build-bench}

"$top/tests/install-deps.sh"
cmake -S "$top" -B "$build" -DCMAKE_BUILD_TYPE=Release -DSEQMQ_BUILD_TESTS=OFF \
  -DSEQMQ_BUILD_EXAMPLES=OFF >/dev/null
cmake --build "$build" -j"$(nproc)" --target seqmq_bench seqmqd >/dev/null
exec "$build/tests/bench/seqmq_bench" --plot "$top/tests/bench/scaling.png" \
  --json "$build/bench.json" "$@"
