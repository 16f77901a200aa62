#!/usr/bin/env bash
# The karaoke server as an unmodified System V program (karaoke_sysv.c: <sys/msg.h> only) on
# seqmqd, through the LD_PRELOAD shim libseqmq-sysv.so: a private seqmqd, the player and three
# singers (all plain SysV programs); meanwhile `seqmq ls` and `seqmq watch` show, from outside,
# the waiting list that msgrcv could never show.
#
#   examples/sysv-karaoke/demo.sh       builds what it needs into $SEQMQ_BUILD_DIR (default build/)
#
# Binaries can be named one by one: SEQMQD, SEQMQ, SEQMQ_SYSV (the shim), KARAOKE_SYSV.
# PRELOAD_FIRST: libraries to preload ahead of the shim (a shim built with AddressSanitizer
# needs the ASan runtime first: PRELOAD_FIRST=$(gcc -print-file-name=libasan.so)).
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
build=${SEQMQ_BUILD_DIR:-$top/build}
named=${SEQMQD:-}${SEQMQ:-}${SEQMQ_SYSV:-}${KARAOKE_SYSV:-}
SEQMQD=${SEQMQD:-$build/src/daemon/seqmqd}
SEQMQ=${SEQMQ:-$build/src/tools/seqmq}
SEQMQ_SYSV=${SEQMQ_SYSV:-$build/src/shim/libseqmq-sysv.so}
KARAOKE_SYSV=${KARAOKE_SYSV:-$build/examples/sysv-karaoke/karaoke-sysv}

if [[ ! -x $SEQMQD || ! -x $SEQMQ || ! -f $SEQMQ_SYSV || ! -x $KARAOKE_SYSV ]]; then
  if [[ -n $named ]]; then # the caller named the binaries: build nothing elsewhere
    echo "demo.sh: missing one of $SEQMQD $SEQMQ $SEQMQ_SYSV $KARAOKE_SYSV" >&2
    exit 1
  fi
  echo "== building seqmqd, seqmq, the shim and karaoke-sysv into $build"
  cmake -S "$top" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build "$build" -j"$(nproc)" --target seqmqd seqmq_tool seqmq_sysv karaoke-sysv >/dev/null
fi

run=$(mktemp -d /tmp/seqmq-sysv-karaoke.XXXXXX)
export SEQMQ_DAEMON="unix:$run/seqmqd.sock"
daemon_pid='' player_pid=''
cleanup() {
  [[ -n $player_pid ]] && kill "$player_pid" 2>/dev/null && wait "$player_pid" 2>/dev/null
  [[ -n $daemon_pid ]] && kill -TERM "$daemon_pid" 2>/dev/null && wait "$daemon_pid" 2>/dev/null
  rm -rf "$run"
}
trap cleanup EXIT

# An unmodified SysV program, its msgget/msgsnd/msgrcv/msgctl served by seqmqd.
sysv() { LD_PRELOAD=${PRELOAD_FIRST:+$PRELOAD_FIRST:}$SEQMQ_SYSV "$KARAOKE_SYSV" "$@"; }

echo "== seqmqd on $SEQMQ_DAEMON"
"$SEQMQD" --log-level warn &
daemon_pid=$!
for _ in $(seq 500); do # until it answers (at most 5 s)
  "$SEQMQ" info >/dev/null 2>&1 && break
  sleep 0.01
done
"$SEQMQ" info >/dev/null

echo "== three singers ask for songs (msgsnd) before the player starts"
sysv request Alice "Bohemian Rhapsody"
sysv request Bob "Africa"
sysv request Carol "Toxic"
sysv request Alice "Dancing Queen"
sysv request Bob "Take On Me"
sysv request Carol "Valerie"

echo "== the waiting list, from outside: SysV's key 0x4b415241 is the queue 0x4b415241"
"$SEQMQ" ls
"$SEQMQ" watch 0x4b415241 --count 1

echo "== the player (msgrcv, one song at a time)"
sysv serve --count 6 --length "${SONG_LENGTH:-0.3}" &
player_pid=$!
sleep 0.5
echo "== while it plays"
"$SEQMQ" watch 0x4b415241 --count 1
wait "$player_pid"
player_pid=
sysv remove
echo "== done"
