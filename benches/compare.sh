#!/usr/bin/env bash
# rollcall beside Buildbot 4.3 on this machine, in one command (about 5 minutes on 2 cores):
#
#   benches/compare.sh [OUT_DIR]
#
# 1. builds rollcall and the benchmark programs in release mode;
# 2. runs rollcall-compare: the peer's workloads at the peer's sizes, against rollcall's
#    core and FjallStore (and a real daemon for the HTTP rows);
# 3. runs benches/peer/setup.sh (once: a venv with buildbot==4.3.0) and the peer script,
#    the same workloads against Buildbot's own code on sqlite;
# 4. runs rollcall-net-bench (attach and durable heartbeats over loopback TCP beside a plain
#    async-net baseline) and rollcall-herd (10,000 workers re-attaching at once, and the
#    daemon's memory per idle worker) with the open-files limit raised to the hard limit;
# 5. prints the side-by-side table (medians, min–max, ratios of medians).
#
# Every JSON lands in OUT_DIR (default target/compare). COMPARE_REPEATS (default 5) sets
# rollcall's repeats; PEER_REPEATS (default 3) the peer's; SKIP_PEER=1 leaves Buildbot out.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
out="${1:-$root/target/compare}"
mkdir -p "$out"
cd "$root"

echo "== building (release)" >&2
cargo build --release -p rollcall-io -p rollcall-benches >&2
bin="$root/target/release"

echo "== rollcall: the peer's workloads" >&2
"$bin/rollcall-compare" run --daemon "$bin/rollcall" --json "$out/rollcall.json" \
    --size 10000 --ops 1000 --repeats "${COMPARE_REPEATS:-5}"

buildbot_flag=()
if [[ "${SKIP_PEER:-0}" != 1 ]]; then
    echo "== Buildbot 4.3: the same workloads" >&2
    "$here/peer/setup.sh" >&2
    "$here/peer/.venv/bin/python" "$here/peer/buildbot_peer.py" --json "$out/buildbot.json" \
        --sizes 10000 --ops 1000 --repeats "${PEER_REPEATS:-3}" >&2
    buildbot_flag=(--buildbot "$out/buildbot.json")
fi

echo "== rollcall over loopback TCP, beside a plain async-net baseline" >&2
"$bin/rollcall-net-bench" --daemon "$bin/rollcall" --seconds 3 --clients 32 --repeats 3 \
    --json "$out/net.json" >&2

echo "== 10,000 workers re-attaching at once; memory per idle worker" >&2
# One descriptor per client here and one per connection in the daemon: raise the soft
# limit to the hard one (a container may forbid raising the hard limit itself).
(ulimit -n "$(ulimit -Hn)" && "$bin/rollcall-herd" --daemon "$bin/rollcall" \
    --workers 10000 --repeats 3 --json "$out/herd.json") >&2

echo >&2
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)," \
    "$(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo);" \
    "load average $(cut -d' ' -f1-3 /proc/loadavg)"
"$bin/rollcall-compare" table --rollcall "$out/rollcall.json" "${buildbot_flag[@]}" \
    --net "$out/net.json" --herd "$out/herd.json"
