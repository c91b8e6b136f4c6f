#!/usr/bin/env bash
# Runs every cargo-fuzz target in fuzz/ for a given time each.
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]     (default 1200 s = 20 minutes, all targets)
#
# Installs cargo-fuzz if missing. Works with stable Rust (RUSTC_BOOTSTRAP=1 lets cargo-fuzz use
# the nightly-only sanitizer flags). Corpora live in fuzz/corpus/TARGET, seeded from testdata/
# and, when present, ../shared/testdata/real/; crashes land in fuzz/artifacts/TARGET and make
# this script fail. A summary line per target goes to fuzz/last-run.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-1200}
shift || true
targets=("$@")
if [[ ${#targets[@]} -eq 0 ]]; then
  targets=(plan_bytes plan_structured patch_hcl runtask_payload policy_file)
fi
export RUSTC_BOOTSTRAP=1
command -v cargo-fuzz >/dev/null 2>&1 || cargo install --locked cargo-fuzz

seed() {
  local target=$1 dir=fuzz/corpus/$1
  mkdir -p "$dir"
  case $target in
    plan_bytes)
      find testdata/plans testdata/bad testdata/fix -type f \( -name '*.json' -o -name '*.tfplan' \) -size -512k \
        -exec cp -n {} "$dir/" \; 2>/dev/null || true
      if [[ -d ../shared/testdata/real ]]; then
        find ../shared/testdata/real -type f -name '*.json' ! -name 'expected*' -size -512k | while read -r f; do
          cp -n "$f" "$dir/$(echo "$f" | tr '/' '_')"
        done
      fi
      ;;
    patch_hcl) find testdata/fix -name '*.tf' | while read -r f; do cp -n "$f" "$dir/$(echo "$f" | tr '/' '_')"; done ;;
    policy_file) cp -n policies/*.toml "$dir/" ;;
    runtask_payload) find tests -name '*.rs' -path '*runtask*' >/dev/null; echo '{"payload_version":1,"stage":"post_plan","access_token":"t","task_result_callback_url":"https://app.terraform.io/api/v2/task-results/1/callback"}' > "$dir/seed.json" ;;
  esac
}

failed=0
: > fuzz/last-run.txt
for target in "${targets[@]}"; do
  seed "$target"
  mkdir -p "fuzz/artifacts/$target"
  echo "fuzz: $target for ${seconds}s" >&2
  if (cd fuzz && cargo fuzz run "$target" "corpus/$target" -- -max_total_time="$seconds" -rss_limit_mb=4096 \
      -artifact_prefix="artifacts/$target/") 2> "fuzz/$target.log"; then
    status=ok
  else
    status=FAILED
    failed=1
  fi
  runs=$(grep -Eo 'Done [0-9]+ runs' "fuzz/$target.log" | tail -1 || true)
  echo "$(date -u +%FT%TZ) $target ${seconds}s $status ${runs:-?}" | tee -a fuzz/last-run.txt
done
exit $failed
