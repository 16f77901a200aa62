#!/usr/bin/env bash
# Builds seqmq and runs every test: `tests/run-tests.sh [ctest arguments...]`
# (e.g. `-L unit`). Installs missing Debian packages first. TIPC tests run natively where the
# kernel has TIPC, in a User-Mode Linux guest otherwise, and report a skip with the reason
# when neither is possible.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${SEQMQ_BUILD_DIR:-$top/build}

"$top/tests/install-deps.sh"
cmake -S "$top" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo ${SEQMQ_CMAKE_ARGS:-}
cmake --build "$build" -j"$(nproc)"
cd "$build"
ctest --output-on-failure --timeout 600 "$@"
