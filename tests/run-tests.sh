#!/usr/bin/env bash
# Builds seqmq and runs every test: `tests/run-tests.sh [ctest arguments...]`
# (e.g. `-L unit`). Installs missing Debian packages first. TIPC tests run natively where the
# kernel has TIPC, in a User-Mode Linux guest otherwise, and report a skip with the reason
# when neither is possible. The fuzz harnesses (tests/fuzz, label fuzz) are a clang build of
# their own (SEQMQ_FUZZ_BUILD_DIR, default build-fuzz/), each run for a bounded time; they run
# without arguments or when the arguments name them (`-L fuzz`), and are skipped, saying so,
# where clang-19 is missing.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${SEQMQ_BUILD_DIR:-$top/build}
fuzz_build=${SEQMQ_FUZZ_BUILD_DIR:-$top/build-fuzz}

"$top/tests/install-deps.sh"
cmake -S "$top" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo ${SEQMQ_CMAKE_ARGS:-}
cmake --build "$build" -j"$(nproc)"
(cd "$build" && ctest --output-on-failure --timeout 600 "$@")

if (($# > 0)) && [[ " $* " != *fuzz* ]]; then
  exit 0
fi
if ! command -v clang-19 >/dev/null || ! command -v clang++-19 >/dev/null; then
  echo "run-tests: skipping the fuzz harnesses (tests/fuzz): clang-19 is not installed" >&2
  exit 0
fi
CC=clang-19 CXX=clang++-19 cmake -S "$top" -B "$fuzz_build" -DSEQMQ_FUZZ=ON
cmake --build "$fuzz_build" -j"$(nproc)" --target seqmq_fuzz
cd "$fuzz_build"
if (($# > 0)); then
  ctest --output-on-failure --timeout 600 "$@"
else
  ctest --output-on-failure --timeout 600 -L fuzz
fi
