#!/usr/bin/env bash
# Runs every cargo-fuzz target for a fixed time and prints how many inputs each executed.
#
#   fuzz/run.sh [SECONDS_PER_TARGET]     (default 60)
#
# Needs a nightly toolchain and cargo-fuzz (`cargo install cargo-fuzz`). Each target starts
# from its committed seeds (fuzz/seeds/<target>) and what earlier runs kept
# (fuzz/corpus/<target>); crashes are written to fuzz/artifacts/<target>/, and libFuzzer's
# whole output to fuzz/target/<target>.log. Exits non-zero if any target failed.
set -euo pipefail

seconds="${1:-60}"
case "$seconds" in
  '' | *[!0-9]*) echo "usage: $0 [SECONDS_PER_TARGET]" >&2; exit 2 ;;
esac
# cargo-fuzz finds fuzz/ from the project root.
cd "$(dirname "$0")/.."

cargo +nightly fuzz build
mkdir -p fuzz/target
failed=0
for target in $(cargo +nightly fuzz list); do
  mkdir -p "fuzz/corpus/$target"
  corpora=("fuzz/corpus/$target")
  if [ -d "fuzz/seeds/$target" ]; then corpora+=("fuzz/seeds/$target"); fi
  log="fuzz/target/$target.log"
  if cargo +nightly fuzz run "$target" "${corpora[@]}" -- \
      -max_total_time="$seconds" -print_final_stats=1 >"$log" 2>&1; then
    status=ok
  else
    status="FAILED (see $log)"
    failed=1
  fi
  executions=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  printf '%-18s %12s executions  %s\n' "$target" "${executions:-?}" "$status"
  if [ "$status" != ok ]; then
    grep -E 'panicked at|^SUMMARY|Test unit written to' "$log" | sed 's/^/    /' || true
  fi
done
exit "$failed"
