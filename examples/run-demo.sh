#!/usr/bin/env bash
# Builds seqmq and runs the main demo on AF_UNIX, with nothing to set up by hand.
# Installs missing Debian packages first.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${SEQMQ_BUILD_DIR:-$top/build}

"$top/tests/install-deps.sh"
cmake -S "$top" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j"$(nproc)" --target mailbox-demo >/dev/null
exec "$build/examples/mailbox-demo" "$@"
