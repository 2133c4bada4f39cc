#!/usr/bin/env bash
# A throw-away rollcall cluster on loopback: one PostgreSQL 15 (Unix socket only, in a
# temp dir), three nodes, a remote master heartbeating every second and a worker, both
# following the leader. Shows who leads, kills the leader with -9, shows the takeover and
# the master and worker following it; then stops everything and removes the temp dir.
#
#   examples/cluster/run.sh [TAKEOVERS]     (from the repository; builds the release binary)
#
# With TAKEOVERS > 1 (BENCHMARKS.md section 7), each killed node is started again and the
# next leader killed, and the times are summarized: from the kill to the new leader's
# `leader` role, and to the master's first acknowledged masterActive there. The lease is
# the default (LEASE_TTL_S=10, RENEW_INTERVAL_S=3) unless those are set.
#
# Needs PostgreSQL 15's server binaries (Debian: apt-get install postgresql-15) and curl.
set -euo pipefail
takeovers="${1:-1}"
ttl="${LEASE_TTL_S:-10}"
renew="${RENEW_INTERVAL_S:-3}"

repo="$(cd "$(dirname "$0")/../.." && pwd)"
pg_bin="${ROLLCALL_PG_BIN:-/usr/lib/postgresql/15/bin}"
[ -x "$pg_bin/initdb" ] || { echo "PostgreSQL 15 server binaries not found in $pg_bin" >&2; exit 1; }
command -v curl >/dev/null || { echo "curl is needed" >&2; exit 1; }

cargo build --release --quiet -p rollcall-io --manifest-path "$repo/Cargo.toml"
rollcall="$repo/target/release/rollcall"

work="$(mktemp -d /tmp/rollcall-cluster-XXXXXX)"
pids=()
# initdb refuses to run as root: run the server as the postgres user then.
as_pg=()
if [ "$(id -u)" = 0 ]; then
    chown postgres:postgres "$work"
    as_pg=(runuser -u postgres --)
fi
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    "${as_pg[@]}" "$pg_bin/pg_ctl" stop --pgdata "$work/pg" -m immediate >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT

echo "== PostgreSQL in $work/pg (socket only)"
"${as_pg[@]}" "$pg_bin/initdb" --pgdata "$work/pg" --username rollcall --auth trust \
    --no-sync --encoding UTF8 --locale C >/dev/null
"${as_pg[@]}" "$pg_bin/pg_ctl" start --pgdata "$work/pg" --log "$work/pg.log" --wait \
    -o "-c listen_addresses='' -c unix_socket_directories='$work'" >/dev/null

token="$("$rollcall" token new | head -1)"
digest="$(printf %s "$token" | sha256sum | cut -d' ' -f1)"
printf '%s\n' "$token" > "$work/master.token"

start_node() {
    local n="$1"
    RUST_LOG=info "$rollcall" serve --config "$work/n$n.toml" 2>> "$work/n$n.log" &
    pids[$((n - 1))]=$!
}

# Each node's own master registers at the leader as any remote master does: every node
# lists the others' masters, all with one token here.
other_masters() {
    for other in 1 2 3; do
        [ "$other" = "$1" ] && continue
        printf '[[masters]]\nname = "node-%s"\ntoken_sha256 = ["%s"]\n\n' "$other" "$digest"
    done
}

for n in 1 2 3; do
    cat > "$work/n$n.toml" <<TOML
[master]
name = "node-$n"
data_dir = "$work/data-$n"

[listen]
workers = "127.0.0.1:1999$n"
http = "127.0.0.1:1899$n"
buildbot_workers = "127.0.0.1:1799$n"

[cluster]
postgres = "host=$work user=rollcall dbname=postgres"
node = "n$n"
advertise = "127.0.0.1:1999$n"
lease_ttl_s = $ttl
renew_interval_s = $renew
master_token_file = "$work/master.token"

$(other_masters "$n")
[[masters]]
name = "demo"
token_sha256 = ["$digest"]

[[workers]]
name = "demo-worker"
password = "demo-password"
TOML
    start_node "$n"
done
"$rollcall" master --connect 127.0.0.1:19991,127.0.0.1:19992,127.0.0.1:19993 --name demo \
    --token-file "$work/master.token" --heartbeat-interval-s 1 > "$work/master.log" 2>&1 &
pids[3]=$!
ROLLCALL_WORKER_PASSWORD=demo-password "$rollcall" worker --name demo-worker \
    --connect 127.0.0.1:19991,127.0.0.1:19992,127.0.0.1:19993 > "$work/worker.log" 2>&1 &
pids[4]=$!

# One field of a node's /api/v2/cluster (the JSON is flattened first: it is pretty-printed).
field() {
    curl -s "http://127.0.0.1:1899$1/api/v2/cluster" | tr -d ' \n' |
        sed -E "s/.*\"$2\":\"?([^,\"}]*)\"?[,}].*/\1/"
}
role() { field "$1" role; }
show() {
    for n in 1 2 3; do
        if [ "$(role "$n" 2>/dev/null)" != "" ]; then
            printf '  n%s: %-8s epoch=%s leader=%s applied_seq=%s\n' "$n" "$(role "$n")" \
                "$(field "$n" epoch)" "$(field "$n" leader)" "$(field "$n" applied_seq)"
        else
            printf '  n%s: (down)\n' "$n"
        fi
    done
}
leader() {
    for n in "$@"; do
        [ "$(role "$n" 2>/dev/null)" = leader ] && { echo "$n"; return 0; }
    done
    return 1
}

echo "== waiting for a leader"
until first=$(leader 1 2 3); do sleep 0.2; done
show
registered() { grep -c "registered as master" "$work/master.log" || true; }
last_attach() { grep "attached to" "$work/worker.log" | tail -1 || true; }
lease_times=()
ack_times=()
for round in $(seq 1 "$takeovers"); do
    until leader=$(leader 1 2 3) && [ "$(registered)" -ge "$round" ]; do sleep 0.1; done
    echo "== round $round: n$leader leads; kill -9 n$leader"
    acknowledged_before=$(registered)
    kill -9 "${pids[$((leader - 1))]}"
    wait "${pids[$((leader - 1))]}" 2>/dev/null || true
    killed_at=$(date +%s.%N)
    others=()
    for n in 1 2 3; do [ "$n" != "$leader" ] && others+=("$n"); done
    until next=$(leader "${others[@]}"); do sleep 0.05; done
    led_at=$(date +%s.%N)
    until [ "$(registered)" -gt "$acknowledged_before" ]; do sleep 0.05; done
    acked_at=$(date +%s.%N)
    # The worker stays on its own node (every node is a build master) unless that node
    # was the one killed; then it attaches to the next address (bounded: it backs off).
    for _ in $(seq 1 300); do
        case "$(last_attach)" in *"127.0.0.1:1999$leader "*) ;; ?*) break ;; esac
        sleep 0.1
    done
    lease_s=$(awk -v a="$led_at" -v b="$killed_at" 'BEGIN { printf "%.2f", a - b }')
    ack_s=$(awk -v a="$acked_at" -v b="$killed_at" 'BEGIN { printf "%.2f", a - b }')
    lease_times+=("$lease_s")
    ack_times+=("$ack_s")
    echo "   n$next leads after $lease_s s; the master's first acknowledged heartbeat there after $ack_s s (lease ${ttl} s)"
    show
    start_node "$leader"
done
tail -1 "$work/master.log" | sed 's/^/  master: /'
grep -E "attached to" "$work/worker.log" | sed 's/^/  worker: /'
grep -h "lease taken" "$work"/n*.log | sort | sed 's/^/  /'
summary() {
    printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END {
        m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
        printf "median %.2f s, min %.2f s, max %.2f s over %d takeovers", m, v[1], v[NR], NR }'
}
if [ "$takeovers" -gt 1 ]; then
    echo "== kill -9 to new leader:              $(summary "${lease_times[@]}")"
    echo "== kill -9 to first acknowledged beat: $(summary "${ack_times[@]}")"
fi
