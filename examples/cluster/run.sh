#!/usr/bin/env bash
# A throw-away rollcall cluster on loopback: one PostgreSQL 15 (Unix socket only, in a
# temp dir), three nodes. Shows who leads, kills the leader with -9, shows the takeover,
# then stops everything and removes the temp dir.
#
#   examples/cluster/run.sh            (from the repository; builds the release binary)
#
# Needs PostgreSQL 15's server binaries (Debian: apt-get install postgresql-15) and curl.
set -euo pipefail

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
lease_ttl_s = 6
renew_interval_s = 2
TOML
    RUST_LOG=info "$rollcall" serve --config "$work/n$n.toml" 2> "$work/n$n.log" &
    pids+=($!)
done

# One field of a node's /api/v2/cluster (the JSON is flattened first: it is pretty-printed).
field() {
    curl -s "http://127.0.0.1:1899$1/api/v2/cluster" | tr -d ' \n' |
        sed -E "s/.*\"$2\":\"?([^,\"}]*)\"?[,}].*/\1/"
}
role() { field "$1" role; }
show() {
    for n in 1 2 3; do
        if kill -0 "${pids[$((n - 1))]}" 2>/dev/null; then
            printf '  n%s: %-8s epoch=%s leader=%s applied_seq=%s\n' "$n" "$(role "$n")" \
                "$(field "$n" epoch)" "$(field "$n" leader)" "$(field "$n" applied_seq)"
        else
            printf '  n%s: (killed)\n' "$n"
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
echo "== n$first leads; kill -9 n$first"
kill -9 "${pids[$((first - 1))]}"
killed_at=$(date +%s.%N)
others=()
for n in 1 2 3; do [ "$n" != "$first" ] && others+=("$n"); done
until next=$(leader "${others[@]}"); do sleep 0.1; done
took=$(awk -v now="$(date +%s.%N)" -v then="$killed_at" 'BEGIN { printf "%.2f", now - then }')
echo "== n$next took over after ${took} s (lease 6 s)"
show
grep -h "lease taken" "$work"/n*.log | sed 's/^/  /'
