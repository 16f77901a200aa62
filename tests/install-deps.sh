#!/usr/bin/env bash
# Installs the Debian packages seqmq builds and tests with, only those missing.
# Usage: tests/install-deps.sh   (as root, or with sudo available)
set -euo pipefail

packages=(
  g++ cmake make pkg-config
  libnl-3-dev libnl-genl-3-dev libnl-route-3-dev libspdlog-dev libfmt-dev libboost-dev libboost-test-dev
  nlohmann-json3-dev libcli11-dev # the tool: every JSON it writes, every word it reads
  liblmdb-dev # seqmqd --state-dir: durable queues
  zlib1g-dev # seqmq_store_bench: the segment log peer's checksums
  clang-19 libfuzzer-19-dev libclang-rt-19-dev # tests/fuzz: libFuzzer (clang 14 lacks std::expected)
  busybox-static xz-utils iproute2 # the TIPC guest: insmod, module unpacking, namespaces
  gnuplot-nox # tests/bench: the depth plot (scaling.png)
  perl python3-sysv-ipc # tests/shim: Perl's IPC::Msg and Python's sysv_ipc under the shim
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
((${#missing[@]} == 0)) && exit 0

echo "installing: ${missing[*]}" >&2
sudo=()
if ((EUID != 0)); then
  command -v sudo >/dev/null || { echo "install-deps: need root (or sudo) for apt-get" >&2; exit 1; }
  sudo=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -q
"${sudo[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
