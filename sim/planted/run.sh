#!/usr/bin/env bash
# Plants each bug of this folder in a scratch copy of the repository and runs the simulator
# on it: every planted bug must make the sweep fail. Not part of CI (two release builds);
# run it after changing the Node, the replication or the simulator's oracles.
#
#   sim/planted/run.sh [SEEDS]      (default 100)
set -euo pipefail
cd "$(dirname "$0")/../.."
seeds="${1:-100}"
scratch="$(mktemp -d)"
trap 'git worktree remove --force "$scratch/tree" >/dev/null 2>&1 || true; rm -rf "$scratch"' EXIT
git worktree add --quiet --detach "$scratch/tree" HEAD
status=0
for patch in sim/planted/*.patch; do
  name="$(basename "$patch" .patch)"
  (cd "$scratch/tree" && git checkout --quiet -- . && git apply "$OLDPWD/$patch")
  cargo build --quiet --release -p rollcall-sim --manifest-path "$scratch/tree/Cargo.toml" \
    --target-dir "$scratch/target"
  # Bugs in the cluster's replication are planted in the cluster simulation.
  mode=()
  case "$name" in cluster-*) mode=(--cluster) ;; esac
  if output="$("$scratch/target/release/rollcall-sim" "${mode[@]}" --seeds "$seeds" 2>&1)"; then
    echo "NOT CAUGHT: $name passed $seeds seeds"
    status=1
  else
    echo "caught: $name"
    echo "$output" | grep -E 'violation at|crash \(' | head -1 || true
  fi
done
exit "$status"
