#!/usr/bin/env bash
# Runs the whole test suite several times on a busy machine, as CI may find it, and prints how
# long each run took.
#
#   scripts/suite-under-load.sh [RUNS]      (default 5)
#
# Beside every run, a second build keeps the cores busy: `cargo build --release` of a fresh
# clone, cleaned and started again in a loop. Run 1 is `bash .ci/run` (formatting, lints, the
# README's test command) in a fresh clone of HEAD made beside this checkout, so `../shared` is
# where CI has it; runs 2..RUNS are `cargo test` in that clone. Any failing run fails the script.
# Only committed work is tested (both clones are of HEAD). docs/robustness.md records the runs.
set -euo pipefail

runs=${1:-5}
here=$(cd "$(dirname "$0")/.." && pwd)
parent=$(dirname "$here")
suite="$parent/.portgate-suite-under-load"
burner=$(mktemp -d)
logs="$burner/logs"
mkdir -p "$logs"

# The suite's verdict is the script's exit status: a build still writing into the burner's
# clone while it is removed (its cargo outlives the loop) must not turn it into a failure.
cleanup() {
  local status=$?
  touch "$burner/stop"
  if [[ -n "${burner_pid:-}" ]]; then
    pkill -TERM -P "$burner_pid" 2>/dev/null || true
    kill "$burner_pid" 2>/dev/null || true
    wait "$burner_pid" 2>/dev/null || true
  fi
  for _ in 1 2 3 4 5; do
    rm -rf "$burner" "$suite" 2>/dev/null && break
    sleep 2
  done
  exit "$status"
}
trap cleanup EXIT

rm -rf "$suite"
git clone -q "$here" "$suite"
git clone -q "$here" "$burner/portgate"
echo "suite under load: $runs runs of $(git -C "$here" rev-parse --short HEAD) on $(nproc) cores"

(
  cd "$burner/portgate"
  while [[ ! -e "$burner/stop" ]]; do
    cargo clean -q --release
    cargo build -q --release >/dev/null 2>&1 || true
  done
) &
burner_pid=$!

failed=0
for i in $(seq 1 "$runs"); do
  if [[ $i -eq 1 ]]; then
    what="bash .ci/run (fresh clone)"
    command=(bash .ci/run)
  else
    what="cargo test"
    command=(cargo test)
  fi
  start=$(date +%s)
  if (cd "$suite" && "${command[@]}") >"$logs/run-$i.log" 2>&1; then
    result=ok
  else
    result=FAILED
    failed=1
    grep -E "panicked|FAILED|^error" "$logs/run-$i.log" | head -20 || true
  fi
  end=$(date +%s)
  load=$(cut -d' ' -f1-3 /proc/loadavg)
  echo "run $i: $what: $result in $((end - start)) s (load average $load)"
done
exit "$failed"
