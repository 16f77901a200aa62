#!/usr/bin/env bash
# The karaoke demo, end to end on one host (AF_UNIX): starts a private seqmqd, a player, and three
# singers who ask for songs at the same time; each sees the list still waiting; the player plays
# them in the order they arrived; then everything stops.
#
#   examples/karaoke/demo.sh            builds what it needs into $SEQMQ_BUILD_DIR (default build/)
#
# Binaries can be named one by one: SEQMQD, SEQMQ, KARAOKE_PLAYER, KARAOKE_REQUEST.
# SONG_LENGTH sets the simulated song length in seconds (default 0.3).
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
build=${SEQMQ_BUILD_DIR:-$top/build}
SEQMQD=${SEQMQD:-$build/src/daemon/seqmqd}
SEQMQ=${SEQMQ:-$build/src/tools/seqmq}
KARAOKE_PLAYER=${KARAOKE_PLAYER:-$build/examples/karaoke/karaoke-player}
KARAOKE_REQUEST=${KARAOKE_REQUEST:-$build/examples/karaoke/karaoke-request}
length=${SONG_LENGTH:-0.3}

if [[ ! -x $SEQMQD || ! -x $SEQMQ || ! -x $KARAOKE_PLAYER || ! -x $KARAOKE_REQUEST ]]; then
  echo "== building seqmqd, seqmq and the karaoke programs into $build"
  cmake -S "$top" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build "$build" -j"$(nproc)" --target seqmqd seqmq_tool karaoke-player karaoke-request \
    >/dev/null
fi

run=$(mktemp -d /tmp/seqmq-karaoke.XXXXXX)
export SEQMQ_DAEMON="unix:$run/seqmqd.sock"
daemon_pid= player_pid=
cleanup() {
  [[ -n $player_pid ]] && kill "$player_pid" 2>/dev/null && wait "$player_pid" 2>/dev/null
  [[ -n $daemon_pid ]] && kill -TERM "$daemon_pid" 2>/dev/null && wait "$daemon_pid" 2>/dev/null
  rm -rf "$run"
}
trap cleanup EXIT

echo "== seqmqd on $SEQMQ_DAEMON"
"$SEQMQD" --log-level warn &
daemon_pid=$!
for _ in $(seq 500); do # until it answers (at most 5 s)
  "$SEQMQ" info >/dev/null 2>&1 && break
  sleep 0.01
done
"$SEQMQ" info >/dev/null

songs=9
echo "== the player: one song at a time ($length s each)"
"$KARAOKE_PLAYER" --length "$length" --count "$songs" &
player_pid=$!

echo "== three singers ask for songs at once"
sing() { # NAME SONG...
  local name=$1
  shift
  for song in "$@"; do
    "$KARAOKE_REQUEST" "$song" --singer "$name"
  done
}
sing Alice "Bohemian Rhapsody" "Dancing Queen" "Wonderwall" &
a=$!
sing Bob "Africa" "Take On Me" "Livin' on a Prayer" &
b=$!
sing Carol "Toxic" "Hallelujah" "Valerie" &
c=$!
wait "$a" "$b" "$c"

echo "== the queue while the player works (seqmq ls, seqmq watch)"
"$SEQMQ" ls
"$SEQMQ" watch karaoke --count 1

wait "$player_pid"
player_pid=
echo "== all $songs songs played; stopping seqmqd"
kill -TERM "$daemon_pid"
wait "$daemon_pid"
daemon_pid=
echo "== done"
