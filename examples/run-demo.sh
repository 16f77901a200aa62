#!/usr/bin/env bash
# The main job: builds seqmq and runs the karaoke demo over AF_UNIX — a private seqmqd is started
# for the demo and stopped after; nothing to set up by hand. Installs missing Debian packages.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
export SEQMQ_BUILD_DIR=${SEQMQ_BUILD_DIR:-$top/build}

"$top/tests/install-deps.sh"
echo "== building seqmq into $SEQMQ_BUILD_DIR"
cmake -S "$top" -B "$SEQMQ_BUILD_DIR" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$SEQMQ_BUILD_DIR" -j"$(nproc)" \
  --target seqmqd seqmq_tool karaoke-player karaoke-request >/dev/null
exec "$top/examples/karaoke/demo.sh" "$@"
