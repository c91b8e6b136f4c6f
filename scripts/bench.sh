#!/usr/bin/env bash
# Benchmarks portgate against its targets and writes docs/performance.md.
#
#   scripts/bench.sh [--quick] [--sizes "1000 10000 100000"] [--shapes "sparse dense rules"]
#                    [--shape-size N] [--with-checkov] [--runs N] [--keep]
#
# Steps (everything generated goes to a temporary directory, removed at the end unless --keep):
#   1. cargo build --release --bins --examples --features serve
#   2. for each size (resources; default 1k, 10k and 100k, --quick: 1k and 10k), a plan and its
#      expectation from scripts/gen-plan; the median wall time and median peak RSS of N runs
#      (default 3) of
#        (a) target/release/examples/validate_json PLAN        (baseline: read + parse, no check)
#        (b) target/release/portgate check PLAN --format json  (exit 1 expected: findings)
#      and portgate's findings must be exactly the expected (address, rule id) set.
#   2b. for each plan shape (scripts/gen-plan --shape: sparse, dense, rules), compact and
#      --pretty, at --shape-size resources (default 100k, --quick: 10k): the same three-way
#      measurement, with the machine's limit beside it (validate_json --memchr: the file read in
#      1 MiB pieces and every quote counted).
#   2c. with valgrind installed: the instructions (callgrind) of serde_json's parse and of
#      portgate check on a compact plan of 10,000 resources of each shape.
#   3. the patch step: portgate check PLAN --source DIR --trusted-cidr 10.0.0.0/8 --format diff on
#      a plan generated with --source-dir (hundreds of .tf files); the patch must apply cleanly.
#   4. target/release/examples/load_serve against portgate serve: the small test plan, then a
#      generated plan with its configuration tarball.
#   5. --with-checkov: a throwaway venv with checkov from PyPI, and checkov against portgate on a
#      plan with 1000 security groups.
#
# Wall time is measured around /usr/bin/time with bash's EPOCHREALTIME (microseconds: %e has only
# 10 ms resolution), peak RSS is /usr/bin/time's %M. The targets (portgate <= 1.0x baseline time
# on the 100k plan, peak RSS <= 64 MiB at every size, >= 200x faster than Checkov) are printed
# as PASS or MISS and do not fail the script. It fails (exit 1) on a wrong answer (a fast wrong
# answer is a failure), a crash or unexpected exit code, a patch that does not apply, or lost or
# duplicated run task callbacks.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

usage() {
  sed -n '2,4p' "$0" | sed 's/^# \{0,1\}//'
}

sizes="1000 10000 100000"
sizes_given=0
shapes="sparse dense rules"
shape_size=

quick=0
with_checkov=0
runs=3
keep=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --quick) quick=1 ;;
    --with-checkov) with_checkov=1 ;;
    --keep) keep=1 ;;
    --sizes)
      [[ $# -ge 2 ]] || { usage >&2; exit 2; }
      sizes=$2 sizes_given=1
      shift
      ;;
    --sizes=*) sizes=${1#--sizes=} sizes_given=1 ;;
    --runs)
      [[ $# -ge 2 ]] || { usage >&2; exit 2; }
      runs=$2
      shift
      ;;
    --runs=*) runs=${1#--runs=} ;;
    --shapes)
      [[ $# -ge 2 ]] || { usage >&2; exit 2; }
      shapes=$2
      shift
      ;;
    --shapes=*) shapes=${1#--shapes=} ;;
    --shape-size)
      [[ $# -ge 2 ]] || { usage >&2; exit 2; }
      shape_size=$2
      shift
      ;;
    --shape-size=*) shape_size=${1#--shape-size=} ;;
    -h | --help) usage; exit 0 ;;
    *) echo "bench: unknown argument: $1" >&2; usage >&2; exit 2 ;;
  esac
  shift
done
if [[ $quick -eq 1 && $sizes_given -eq 0 ]]; then
  sizes="1000 10000"
fi
if [[ -z $shape_size ]]; then
  if [[ $quick -eq 1 ]]; then shape_size=10000; else shape_size=100000; fi
fi
[[ $shape_size =~ ^[1-9][0-9]*$ ]] || { echo "bench: not a size: $shape_size" >&2; exit 2; }
read -r -a shape_list <<<"$shapes"
for shape in "${shape_list[@]}"; do
  [[ $shape =~ ^(sparse|dense|rules)$ ]] || { echo "bench: not a shape: $shape" >&2; exit 2; }
done
read -r -a size_list <<<"$sizes"
[[ ${#size_list[@]} -gt 0 ]] || { echo "bench: --sizes is empty" >&2; exit 2; }
for n in "${size_list[@]}"; do
  [[ $n =~ ^[1-9][0-9]*$ ]] || { echo "bench: not a size: $n" >&2; exit 2; }
done
[[ $runs =~ ^[1-9][0-9]*$ ]] || { echo "bench: --runs must be a positive number" >&2; exit 2; }

die() {
  echo "bench: FAIL: $*" >&2
  exit 1
}
note() { echo "bench: $*" >&2; }

for tool in python3 awk git patch; do
  command -v "$tool" >/dev/null 2>&1 || die "$tool is needed"
done
[[ -x /usr/bin/time ]] || die "/usr/bin/time is needed (GNU time; apt-get install time)"
[[ -x scripts/gen-plan ]] || die "scripts/gen-plan is missing or not executable"

portgate=$root/target/release/portgate
validate=$root/target/release/examples/validate_json
load_serve=$root/target/release/examples/load_serve
gen=$root/scripts/gen-plan
trusted=10.0.0.0/8

note "building (cargo build --release --bins --examples --features serve)"
cargo build --release --bins --examples --features serve
for bin in "$portgate" "$validate" "$load_serve"; do
  [[ -x $bin ]] || die "$bin was not built"
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/portgate-bench.XXXXXX")
cleanup() {
  if [[ $keep -eq 1 ]]; then
    note "kept $tmp"
  else
    rm -rf "$tmp"
  fi
}
trap cleanup EXIT

# ---------------------------------------------------------------------------------------------
# Helpers.

now_us() {
  local t=$EPOCHREALTIME
  echo "${t//[.,]/}"
}

# run_timed OUT ERR CMD...: runs CMD with stdout to OUT and stderr to ERR; sets t_rc (exit
# code), t_us (wall microseconds) and t_kib (peak RSS).
run_timed() {
  local out=$1 err=$2 start end line
  shift 2
  local tf=$tmp/time.out
  t_rc=0
  start=$(now_us)
  /usr/bin/time -f '%e %M' -o "$tf" "$@" >"$out" 2>"$err" || t_rc=$?
  end=$(now_us)
  t_us=$((end - start))
  # A command killed by a signal gets a "Command terminated by signal" line first.
  line=$(tail -n 1 "$tf")
  t_kib=${line##* }
  [[ $t_kib =~ ^[0-9]+$ ]] || die "cannot read /usr/bin/time's output for $*: $(cat "$tf")"
}

median() {
  printf '%s\n' "$@" | sort -n | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'
}

# fmt_s MICROSECONDS, fmt_mib KIB, fmt_ratio A B (A/B), mib_of_file PATH
fmt_s() { awk -v us="$1" 'BEGIN {printf "%.3f", us / 1e6}'; }
fmt_mib() { awk -v k="$1" 'BEGIN {printf "%.1f", k / 1024}'; }
fmt_ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (b > 0) printf "%.2f", a / b; else print "n/a"}'; }
mib_of_file() { awk -v b="$(wc -c <"$1")" 'BEGIN {printf "%.1f", b / 1048576}'; }
le() { awk -v a="$1" -v b="$2" 'BEGIN {exit !(a <= b)}'; }

# expect_exit NAME RC ALLOWED... : dies with the command's stderr unless RC is allowed.
expect_exit() {
  local name=$1 rc=$2 ok
  shift 2
  for ok in "$@"; do
    [[ $rc -eq $ok ]] && return 0
  done
  echo "--- stderr of $name (last 30 lines):" >&2
  tail -n 30 "$tmp/last.err" >&2 || true
  die "$name exited $rc (expected ${*})"
}

# check_answer EXPECT REPORT: portgate's JSON report lists exactly the expected findings.
check_answer() {
  python3 - "$1" "$2" <<'PY'
import json, sys

expect = json.load(open(sys.argv[1]))
try:
    report = json.load(open(sys.argv[2]))
except ValueError as e:
    sys.exit(f"portgate's report is not JSON: {e}")
want = {(address, rule) for address, rules in expect["violations"].items() for rule in rules}
# Groups only their sources prove free of inline rules: PG003 here, where none are given.
unproven = {(address, "PG003") for address in expect.get("unproven", [])}
want |= unproven
got = {(f["address"], f["rule_id"]) for f in report["findings"]}
problems = []
for name, pairs in (("missing (expected, not reported)", want - got),
                    ("extra (reported, not expected)", got - want)):
    if pairs:
        listed = ", ".join(f"{r} {a}" for a, r in sorted(pairs)[:10])
        problems.append(f"{len(pairs)} {name}: {listed}{' ...' if len(pairs) > 10 else ''}")
# finding_count counts (address, rule id) pairs; portgate reports one finding per rule block,
# so a group with two open blocks has two findings of one pair.
count = expect.get("finding_count")
if count is not None:
    count += len(unproven)
if count is not None and count != len(got):
    problems.append(f"{len(got)} (address, rule id) pairs reported, {count} expected")
result = report.get("summary", {}).get("result")
if want and result != "fail":
    problems.append(f"summary.result is {result!r} although findings are expected")
if problems:
    print("portgate's answer is WRONG:\n  " + "\n  ".join(problems), file=sys.stderr)
    sys.exit(1)
print(f"{len(got)} (address, rule) pairs, {len(report['findings'])} findings: as expected")
PY
}

# expected_check_exit EXPECT: 1 when the plan has violations, else 0.
expected_check_exit() {
  python3 -c 'import json, sys; print(1 if json.load(open(sys.argv[1]))["violations"] else 0)' "$1"
}

failures=()
results=$tmp/results.tsv
: >"$results"

# ---------------------------------------------------------------------------------------------
# 2. Plans of each size: baseline and portgate check.

for n in "${size_list[@]}"; do
  plan=$tmp/plan-$n.json
  expect=$tmp/expect-$n.json
  note "generating a plan with $n resources"
  "$gen" --resources "$n" --seed 1 --out "$plan" --expect "$expect" >/dev/null ||
    die "scripts/gen-plan --resources $n failed"
  [[ -s $plan && -s $expect ]] || die "scripts/gen-plan wrote no plan or expectation for $n"
  want_rc=$(expected_check_exit "$expect")
  mib=$(mib_of_file "$plan")

  base_t=() base_m=() pg_t=() pg_m=()
  for ((i = 1; i <= runs; i++)); do
    run_timed /dev/null "$tmp/last.err" "$validate" "$plan"
    expect_exit "validate_json ($n)" "$t_rc" 0
    base_t+=("$t_us") base_m+=("$t_kib")

    report=$tmp/report-$n.json
    run_timed "$report" "$tmp/last.err" "$portgate" check "$plan" --format json
    expect_exit "portgate check ($n resources)" "$t_rc" "$want_rc"
    pg_t+=("$t_us") pg_m+=("$t_kib")
    if [[ $i -eq 1 ]]; then
      verdict=$(check_answer "$expect" "$report") || die "portgate check on $n resources gave a wrong answer"
      note "$n resources: $verdict"
    fi
  done
  bt=$(median "${base_t[@]}") bm=$(median "${base_m[@]}")
  pt=$(median "${pg_t[@]}") pm=$(median "${pg_m[@]}")
  printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$n" "$mib" "$bt" "$bm" "$pt" "$pm" >>"$results"
  note "$n resources ($mib MiB): baseline $(fmt_s "$bt") s $(fmt_mib "$bm") MiB, portgate $(fmt_s "$pt") s $(fmt_mib "$pm") MiB"
  rm -f "$tmp/report-$n.json"
done

# ---------------------------------------------------------------------------------------------
# 2b. Plan shapes, compact and pretty: the machine's limit, serde_json, portgate.

shape_results=$tmp/shapes.tsv
: >"$shape_results"
for shape in "${shape_list[@]}"; do
  for layout in compact pretty; do
    plan=$tmp/plan-$shape-$layout.json
    expect=$tmp/expect-$shape-$layout.json
    pretty_flag=()
    [[ $layout == pretty ]] && pretty_flag=(--pretty)
    note "generating a $layout $shape plan with $shape_size resources"
    "$gen" --resources "$shape_size" --seed 3 --shape "$shape" "${pretty_flag[@]}" \
      --out "$plan" --expect "$expect" >/dev/null ||
      die "scripts/gen-plan --shape $shape failed"
    want_rc=$(expected_check_exit "$expect")
    mib=$(mib_of_file "$plan")
    mem_t=() base_t=() base_m=() pg_t=() pg_m=()
    for ((i = 1; i <= runs; i++)); do
      run_timed /dev/null "$tmp/last.err" "$validate" --memchr "$plan"
      expect_exit "validate_json --memchr ($shape)" "$t_rc" 0
      mem_t+=("$t_us")
      run_timed /dev/null "$tmp/last.err" "$validate" "$plan"
      expect_exit "validate_json ($shape)" "$t_rc" 0
      base_t+=("$t_us") base_m+=("$t_kib")
      report=$tmp/report-$shape.json
      run_timed "$report" "$tmp/last.err" "$portgate" check "$plan" --format json
      expect_exit "portgate check ($layout $shape plan)" "$t_rc" "$want_rc"
      pg_t+=("$t_us") pg_m+=("$t_kib")
      if [[ $i -eq 1 ]]; then
        verdict=$(check_answer "$expect" "$report") ||
          die "portgate check on the $layout $shape plan gave a wrong answer"
        note "$layout $shape: $verdict"
      fi
    done
    mt=$(median "${mem_t[@]}")
    bt=$(median "${base_t[@]}") bm=$(median "${base_m[@]}")
    pt=$(median "${pg_t[@]}") pm=$(median "${pg_m[@]}")
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$shape" "$layout" "$shape_size" "$mib" \
      "$mt" "$bt" "$bm" "$pt" "$pm" >>"$shape_results"
    note "$layout $shape ($mib MiB): memchr $(fmt_s "$mt") s, serde_json $(fmt_s "$bt") s, portgate $(fmt_s "$pt") s $(fmt_mib "$pm") MiB"
    rm -f "$plan" "$report"
  done
done

# ---------------------------------------------------------------------------------------------
# 2c. Instructions (callgrind): the same readers' cost, counted rather than timed, so that it
#     does not move with the host's speed. Compact plans of 10,000 resources of each shape.

count_instructions() {
  # (portgate exits 1 on these plans: its findings)
  { valgrind --tool=callgrind --callgrind-out-file=/dev/null "$@" 2>&1 >/dev/null || true; } |
    awk '/Collected :/ {print $NF}'
}
instruction_table=$tmp/instructions.md
if command -v valgrind >/dev/null 2>&1; then
  {
    echo "| shape | resources | plan MiB | serde_json instructions | portgate instructions | portgate/serde_json |"
    echo "|---|---:|---:|---:|---:|---:|"
    for shape in "${shape_list[@]}"; do
      plan=$tmp/plan-$shape-counted.json
      note "counting instructions on a compact $shape plan of 10000 resources"
      "$gen" --resources 10000 --seed 3 --shape "$shape" --out "$plan" >/dev/null ||
        die "scripts/gen-plan --shape $shape failed"
      bi=$(count_instructions "$validate" "$plan")
      pi=$(count_instructions "$portgate" check "$plan" --format json)
      [[ -n $bi && -n $pi ]] || die "callgrind gave no instruction count on the $shape plan"
      echo "| $shape | 10000 | $(mib_of_file "$plan") | $bi | $pi | $(fmt_ratio "$pi" "$bi") |"
      rm -f "$plan"
    done
  } >"$instruction_table"
else
  echo "Not measured: valgrind is not installed." >"$instruction_table"
fi

# ---------------------------------------------------------------------------------------------
# 3. The patch step.

patch_n=10000
src=$tmp/source
plan=$tmp/plan-source.json
expect=$tmp/expect-source.json
note "generating a plan with $patch_n resources and its .tf files"
"$gen" --resources "$patch_n" --seed 2 --out "$plan" --expect "$expect" --source-dir "$src" >/dev/null ||
  die "scripts/gen-plan --source-dir failed"
tf_files=$(find "$src" -name '*.tf' -type f | wc -l)
[[ $tf_files -gt 0 ]] || die "scripts/gen-plan --source-dir wrote no .tf files"
want_rc=$(expected_check_exit "$expect")
run_timed "$tmp/report-source.json" "$tmp/last.err" "$portgate" check "$plan" --format json
expect_exit "portgate check (source plan)" "$t_rc" "$want_rc"
check_answer "$expect" "$tmp/report-source.json" >/dev/null || die "portgate check on the source plan gave a wrong answer"
patch_t=() patch_m=()
diff=$tmp/fix.diff
for ((i = 1; i <= runs; i++)); do
  run_timed "$diff" "$tmp/last.err" "$portgate" check "$plan" --source "$src" --trusted-cidr "$trusted" --format diff
  expect_exit "portgate check --format diff" "$t_rc" "$want_rc"
  patch_t+=("$t_us") patch_m+=("$t_kib")
done
patched_files=$(grep -c '^+++ ' "$diff" || true)
if [[ $want_rc -eq 1 && $patched_files -eq 0 ]]; then
  die "portgate check --format diff produced no patch for a plan with violations"
fi
cp -R "$src" "$tmp/source-patched"
patch -p1 --dry-run --batch -d "$tmp/source-patched" <"$diff" >"$tmp/patch.log" 2>&1 ||
  { cat "$tmp/patch.log" >&2; die "portgate's patch does not apply to the generated .tf files"; }
patch -p1 --batch --quiet -d "$tmp/source-patched" <"$diff" || die "portgate's patch does not apply"
diff_t=$(median "${patch_t[@]}") diff_m=$(median "${patch_m[@]}")
diff_mib=$(mib_of_file "$plan")
note "patch step: $patched_files of $tf_files .tf files patched in $(fmt_s "$diff_t") s, $(fmt_mib "$diff_m") MiB"

# ---------------------------------------------------------------------------------------------
# 4. portgate serve under load.

load_names=() load_lines=()
run_load() {
  local name=$1 rc=0 line
  shift
  note "load_serve ($name): $*"
  "$load_serve" --portgate "$portgate" "$@" >"$tmp/load.out" 2>"$tmp/load.err" || rc=$?
  line=$(tail -n 1 "$tmp/load.out")
  if [[ $rc -ne 0 ]]; then
    cat "$tmp/load.err" >&2
    failures+=("load_serve ($name) exited $rc: $line")
  fi
  [[ -n $line ]] || line='{"ok": false, "error": "no summary"}'
  load_names+=("$name")
  load_lines+=("$line")
  echo "$line"
}
run_load "small plan" --requests 500 --clients 50 --max-concurrent 8
run_load "$patch_n resources + configuration" --requests 50 --clients 10 --max-concurrent 4 \
  --plan "$plan" --source-dir "$src"

# ---------------------------------------------------------------------------------------------
# 5. Checkov.

checkov_line=""
if [[ $with_checkov -eq 1 ]]; then
  venv=$tmp/venv
  note "installing checkov into a throwaway venv"
  start=$(now_us)
  python3 -m venv "$venv" || die "python3 -m venv failed"
  "$venv/bin/pip" install --quiet --disable-pip-version-check checkov >"$tmp/pip.log" 2>&1 ||
    { tail -n 30 "$tmp/pip.log" >&2; die "pip install checkov failed"; }
  install_us=$(($(now_us) - start))
  checkov_version=$("$venv/bin/checkov" --version 2>/dev/null | tail -n 1)
  plan=$tmp/plan-checkov.json
  expect=$tmp/expect-checkov.json
  "$gen" --resources 1000 --security-groups 1000 --seed 3 --out "$plan" --expect "$expect" >/dev/null ||
    die "scripts/gen-plan --security-groups 1000 failed"
  want_rc=$(expected_check_exit "$expect")
  pg_t=() pg_m=()
  for ((i = 1; i <= runs; i++)); do
    run_timed "$tmp/report-checkov.json" "$tmp/last.err" "$portgate" check "$plan" --format json
    expect_exit "portgate check (checkov plan)" "$t_rc" "$want_rc"
    pg_t+=("$t_us") pg_m+=("$t_kib")
  done
  check_answer "$expect" "$tmp/report-checkov.json" >/dev/null || die "portgate gave a wrong answer on the checkov plan"
  cpt=$(median "${pg_t[@]}") cpm=$(median "${pg_m[@]}")
  note "running checkov (once: it is slow)"
  run_timed "$tmp/checkov.out" "$tmp/last.err" "$venv/bin/checkov" -f "$plan" --framework terraform_plan --quiet --compact
  # 0: all passed, 1: failed checks; anything else is checkov failing.
  expect_exit "checkov" "$t_rc" 0 1
  ct=$t_us cm=$t_kib
  checkov_counts=$(grep -m 1 -o 'Passed checks: [0-9]*, Failed checks: [0-9]*, Skipped checks: [0-9]*' "$tmp/checkov.out" || true)
  [[ -n $checkov_counts ]] || checkov_counts="no summary line"
  if [[ $checkov_counts == *"Failed checks: 0,"* && $want_rc -eq 1 ]]; then
    note "WARNING: checkov reported no failed checks on a plan with exposed security groups"
  fi
  checkov_line="$ct $cm $cpt $cpm"
fi

# ---------------------------------------------------------------------------------------------
# Tables, targets, docs/performance.md.

table=$tmp/table.md
{
  echo "| resources | plan MiB | baseline s | baseline RSS MiB | portgate s | portgate RSS MiB | time portgate/baseline |"
  echo "|---:|---:|---:|---:|---:|---:|---:|"
  while IFS=$'\t' read -r n mib bt bm pt pm; do
    echo "| $n | $mib | $(fmt_s "$bt") | $(fmt_mib "$bm") | $(fmt_s "$pt") | $(fmt_mib "$pm") | $(fmt_ratio "$pt" "$bt") |"
  done <"$results"
} >"$table"

shape_table=$tmp/shapes.md
{
  echo "| shape | layout | resources | plan MiB | memchr loop s | serde_json s | serde_json RSS MiB | portgate s | portgate RSS MiB | portgate/serde_json | portgate MB/s |"
  echo "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
  while IFS=$'\t' read -r shape layout n mib mt bt bm pt pm; do
    rate=$(awk -v mib="$mib" -v us="$pt" 'BEGIN {printf "%.0f", mib * 1.048576 / (us / 1e6)}')
    echo "| $shape | $layout | $n | $mib | $(fmt_s "$mt") | $(fmt_s "$bt") | $(fmt_mib "$bm") | $(fmt_s "$pt") | $(fmt_mib "$pm") | $(fmt_ratio "$pt" "$bt") | $rate |"
  done <"$shape_results"
} >"$shape_table"

targets=$tmp/targets.md
{
  while IFS=$'\t' read -r shape layout n _ _ bt _ pt pm; do
    r=$(fmt_ratio "$pt" "$bt")
    if le "$pt" "$bt"; then verdict=PASS; else verdict=MISS; fi
    echo "- $verdict: portgate time <= 1.0x serde_json on the $layout $shape plan ($n resources): ${r}x"
    if [[ $pm -le $((32 * 1024)) ]]; then verdict=PASS; else verdict=MISS; fi
    echo "- $verdict: peak RSS <= 32 MiB on the $layout $shape plan ($n resources): $(fmt_mib "$pm") MiB"
  done <"$shape_results"
  line=$(awk -F'\t' '$1 == 100000' "$results")
  if [[ -n $line ]]; then
    IFS=$'\t' read -r _ _ bt _ pt _ <<<"$line"
    r=$(fmt_ratio "$pt" "$bt")
    if le "$pt" "$bt"; then verdict=PASS; else verdict=MISS; fi
    echo "- $verdict: portgate time <= 1.0x baseline on the 100k plan: ${r}x"
  else
    echo "- NOT MEASURED: portgate time <= 1.0x baseline on the 100k plan (run without --quick)"
  fi
  over=$(awk -F'\t' '$6 > 64 * 1024 {printf "%s%s (%.1f MiB)", sep, $1, $6 / 1024; sep = ", "}' "$results")
  max_rss=$(awk -F'\t' '$6 > m {m = $6} END {printf "%.1f", m / 1024}' "$results")
  if [[ -z $over ]]; then
    echo "- PASS: peak RSS <= 64 MiB at every size (largest: $max_rss MiB)"
  else
    echo "- MISS: peak RSS <= 64 MiB at every size; over it: $over"
  fi
  if [[ -n $checkov_line ]]; then
    read -r ct _ cpt _ <<<"$checkov_line"
    speedup=$(fmt_ratio "$ct" "$cpt")
    if le 200 "$speedup"; then verdict=PASS; else verdict=MISS; fi
    echo "- $verdict: >= 200x faster than Checkov on 1000 security groups: ${speedup}x"
  else
    echo "- NOT MEASURED: >= 200x faster than Checkov on 1000 security groups (run with --with-checkov)"
  fi
} >"$targets"

load_table=$tmp/load.md
python3 - "${#load_names[@]}" "${load_names[@]}" "${load_lines[@]}" >"$load_table" <<'PY'
import json, sys

n = int(sys.argv[1])
names, lines = sys.argv[2:2 + n], sys.argv[2 + n:]
print("| load | requests | clients | max-concurrent | accepted | 503s | final callbacks | duplicates | missing | wall s | req/s | p50 ms | p95 ms | p99 ms | server peak RSS MiB | ok |")
print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
for name, line in zip(names, lines):
    try:
        s = json.loads(line)
    except ValueError:
        s = {"ok": False}
    lat = s.get("latency_ms") or {}
    g = lambda k: "" if s.get(k) is None else s.get(k)
    print(f"| {name} | {g('requests')} | {g('concurrency')} | {g('max_concurrent')} | {g('accepted')} "
          f"| {(s.get('rejected_by_status') or {}).get('503', 0)} | {g('final_callbacks')} | {g('duplicates')} "
          f"| {g('missing')} | {g('wall_seconds')} | {g('requests_per_second')} | {lat.get('p50', '')} "
          f"| {lat.get('p95', '')} | {lat.get('p99', '')} | {g('server_peak_rss_mb')} | {'yes' if s.get('ok') else 'NO'} |")
PY

echo
cat "$table"
echo
cat "$shape_table"
echo
printf '| patch step | plan MiB | .tf files | files patched | portgate s | portgate RSS MiB |\n'
printf '|---|---:|---:|---:|---:|---:|\n'
printf '| %s resources | %s | %s | %s | %s | %s |\n' "$patch_n" "$diff_mib" "$tf_files" "$patched_files" \
  "$(fmt_s "$diff_t")" "$(fmt_mib "$diff_m")"
echo
cat "$load_table"
if [[ -n $checkov_line ]]; then
  read -r ct cm cpt cpm <<<"$checkov_line"
  echo
  echo "Checkov $checkov_version: $(fmt_s "$ct") s, $(fmt_mib "$cm") MiB ($checkov_counts); portgate: $(fmt_s "$cpt") s, $(fmt_mib "$cpm") MiB"
fi
echo
cat "$targets"

# docs/performance.md
kb_per_resource=$(awk -F'\t' '{b += $2 * 1048576; n += $1} END {printf "%.1f", b / n / 1000}' "$results")
commit=$(git rev-parse HEAD 2>/dev/null || echo unknown)
if [[ -n $(git status --porcelain 2>/dev/null) ]]; then
  commit="$commit (with uncommitted changes)"
fi
cpu=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)
ram=$(awk '/^MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)
invocation="scripts/bench.sh"
[[ $quick -eq 1 ]] && invocation+=" --quick"
[[ $sizes_given -eq 1 ]] && invocation+=" --sizes \"$sizes\""
[[ $runs -ne 3 ]] && invocation+=" --runs $runs"
[[ $shapes != "sparse dense rules" ]] && invocation+=" --shapes \"$shapes\""
[[ $quick -eq 0 && $shape_size -ne 100000 || $quick -eq 1 && $shape_size -ne 10000 ]] &&
  invocation+=" --shape-size $shape_size"
[[ $with_checkov -eq 1 ]] && invocation+=" --with-checkov"
{
  cat <<EOF
# Performance

Generated by \`$invocation\` on $(date -u '+%Y-%m-%d %H:%M UTC'); do not edit by hand.

- Machine: $(nproc) CPUs ($cpu), $ram RAM, $(uname -sr)
- Commit: $commit
- Toolchain: $(rustc --version)

## Targets

$(cat "$targets")

## portgate check against a JSON parse

Plans from \`scripts/gen-plan --resources N --seed 1\` ($kb_per_resource KB per resource). The baseline,
\`target/release/examples/validate_json PLAN\`, reads the file and parses it with
\`serde_json\` into \`IgnoredAny\`: the least any JSON reader has to do. portgate runs
\`portgate check PLAN --format json\` (exit 1, the plans contain violations), and its findings
were checked against the generator's expected (address, rule id) set. Times are the median wall
time of $runs runs, RSS the median peak resident set size (\`/usr/bin/time\` %M).

$(cat "$table")

## Plan shapes

How common security groups are decides portgate's work far more than the plan's size: every
other resource is skipped at scanner speed, every security group resource is decoded (once)
and checked. \`scripts/gen-plan --resources $shape_size --seed 3 --shape SHAPE\` writes three shapes:
\`sparse\` (1% security-group related, the plans above), \`dense\` (21% security groups, most
with five inline rules: a workspace that owns its networking) and \`rules\` (every resource an
ingress rule resource with a known \`security_group_id\`: a networking workspace); \`--pretty\`
indents the same plan as \`jq .\` does. Three readers of each file, median wall time of $runs
runs: the machine's limit (\`validate_json --memchr PLAN\`: the file read in 1 MiB pieces,
every quote counted), \`serde_json\` into \`IgnoredAny\` (the baseline above) and \`portgate
check PLAN --format json\`, whose findings were checked against the generator's expectation.

$(cat "$shape_table")

The same readers counted rather than timed (\`valgrind --tool=callgrind\`, instructions of the
whole process, compact plans of 10,000 resources of each shape): wall times on a shared machine
move with its speed from minute to minute, instruction counts do not, so these are what a
change's effect on the CPU target is judged by.

$(cat "$instruction_table")

Memory on these plans: each security group resource is handed to the rules stage as soon as
it is read (\`rules::Intake\`). One that no policy can concern is counted and dropped. One whose
rules need nothing but itself (known CIDRs, known group, known prefix list ids) is turned
into its rules at once and held as a compact record until the plan is read: about 165 bytes
for a rule resource and 550 for a group with five inline rules (\`tests/intake.rs\` counts
it; the limits it holds are 200 and 650). The rest stay raw JSON until the end. Once the plan
is read, a held resource goes back into the rule set only when its group's rules that may
touch a guarded port could cover a family together, or when it must be kept (PG003/PG004
material, a waiver tag, prefix lists); the others are counted like the dropped ones. So
memory is the reader's base (the window, 1 MiB of read-ahead) plus N x B, N the resources
held (those that may touch a guarded port) and B the bytes above, plus the rule set of the
groups at risk and the findings.

That N x B is bounded when the plan is read from a file (the \`PLAN\` argument, the run
task's spooled plan): once the held records, with the places the plan keeps for them, pass
16 MiB (\`CheckOptions::hold_budget\`; about 150,000 rule resources), they are dropped and
the plan is read a second time (\`rules::spill\`). The first read only adds up the sizes of
each group's networks in a count-min sketch (3 MiB: a group's rules can only cover a family
when their sizes add up to it, and the sketch never estimates below the true sum); the
second holds only the rules of the groups the sketch cannot clear and those that must be
kept, and makes the same choice from them, so the reports are the same
(\`tests/batches.rs\` reads every project, real and generated plan that way;
\`tests/intake.rs\` counts the records each read holds). Whether every \`planned_values\`
resource has a change record is checked with two sums of address keys rather than a key
per resource. A 1M-resource rules plan (2.3 GB): 127 MiB when read once, 27 MiB with its open
CIDRs closed (no findings, 26 s), and 70 MiB as generated, whose 25,987 findings take the
rest (about 1.7 KB each, below); both reads take 31 s against 19 s for one. From standard
input a plan cannot be read twice, and a check that lists every rule (JUnit, conftest) or
proves patches against sources holds them all: N x B as above.

Time on these plans: a plan read from a file (the \`PLAN\` argument, the run task's spooled
plan) is read without decoding the managed resources of \`planned_values\`: Terraform writes
a change record for each, which supersedes it, so only its address is counted (into a sum)
and its values are skipped at scanner speed. Should one lack its change record (a plan made
by hand or cut down), the plan is read a second time with every resource decoded, and the
report is the same either way (\`tests/batches.rs\`); from standard input every resource is
decoded. On the compact rules plan this took portgate from 1.42 to 1.06 s beside serde_json's
0.30 s (one minute, one machine). Each change record of a security group or rule is read
in one pass from the scanner's window: the walk that refuses repeated keys
(\`unique_keys::walk\`) also checks its grammar and finds its members, and the scanner jumps
past it (anything that walk is not sure of, it leaves to the scanner, which gives the same
error as ever); \`after_unknown\` is read into a small tree of its marks, and managed
resources of \`prior_state\` are no longer decoded only to be dropped. Together these took
the 10k rules plan from 755M to 579M instructions, the dense one from 823M to 685M. What
remains on those shapes is decoding each planned state into rules (\`serde_json\`), holding
it, and the walks and skips over the rest of the plan.

Findings: where they pile up (a plan of many open rules), each is held with the rule and
resource behind it until the reports are written: about 1.5 KB a finding, most of it its
message, and 2.3 KB at the peak of the check (\`tests/memory.rs\` counts the bytes with a
counting allocator; the limits it holds are 1,700 and 2,600). JSON and SARIF write each
finding as they render it instead of building the document first, and JUnit its test cases
a batch of 256 at a time into the document's skeleton (its counts are worked out first): a
plan of 200,000 rules that each open SMB to the world (91 MB) peaks at about 475 MiB RSS in
every format (SARIF took 1.1 GiB before, JUnit 750 MiB).

The run task shows at most 249 findings, so its check keeps no more
(\`portgate::check_top\`): once the plan is read, the rule set is assembled and evaluated in
batches of whole groups (4,096 resources each; a group's findings depend on its rules alone),
and only the findings that can still be shown are kept, with the counts; the rules of the
shown findings' groups are assembled once more at the end, for their patches. What stays per
finding is the held record of its rule (see above): about 270 B at the peak
(\`tests/memory_top.rs\`, limit 300 B, and under 64 MiB extrapolated to 200,000 findings);
the 200,000-rule plan above peaks at 61 MB of heap in that check (a whole check: about 450 MB).
\`tests/batches.rs\` holds the run task's body byte-for-byte equal to the whole check's for
every batch size on the project's, the real and generated plans.

## Source patches

\`portgate check PLAN --source DIR --trusted-cidr $trusted --format diff\` on a plan from
\`scripts/gen-plan --resources $patch_n --source-dir DIR\` ($tf_files .tf files); the patch was
applied with \`patch -p1\` to a copy of the files. Median of $runs runs.

| resources | plan MiB | .tf files | files patched | portgate s | portgate RSS MiB |
|---:|---:|---:|---:|---:|---:|
| $patch_n | $diff_mib | $tf_files | $patched_files | $(fmt_s "$diff_t") | $(fmt_mib "$diff_m") |

## portgate serve under load

\`target/release/examples/load_serve\` starts a fake HCP Terraform on 127.0.0.1 and the release
\`portgate serve\` against it, sends signed run task requests from concurrent clients (503 "queue
full" answers are retried after 100 ms), and waits for every task's final callback. Latency is
from the first send of a request to its final callback; RSS is the server's VmHWM. A run is ok
when every task got exactly one final callback, every verdict is the same checked result, and
the server exited 0 on SIGTERM.

$(cat "$load_table")

EOF
  if [[ -n $checkov_line ]]; then
    read -r ct cm cpt cpm <<<"$checkov_line"
    cat <<EOF
## Checkov

\`checkov -f PLAN --framework terraform_plan --quiet --compact\` ($checkov_version, installed
from PyPI into a throwaway venv in $(fmt_s "$install_us") s; one run) against
\`portgate check PLAN --format json\` (median of $runs) on a plan from
\`scripts/gen-plan --resources 1000 --security-groups 1000\`.

| tool | s | peak RSS MiB | note |
|---|---:|---:|---|
| checkov | $(fmt_s "$ct") | $(fmt_mib "$cm") | $checkov_counts |
| portgate | $(fmt_s "$cpt") | $(fmt_mib "$cpm") | findings as expected |

portgate is $(fmt_ratio "$ct" "$cpt")x faster.

EOF
  fi
  cat <<EOF
## Reproduce

\`\`\`sh
scripts/bench.sh                      # 1k, 10k and 100k resources (the 100k plan is about 300 MB)
scripts/bench.sh --quick              # 1k and 10k only
scripts/bench.sh --with-checkov       # also installs checkov into a temporary venv (needs PyPI)
scripts/bench.sh --sizes "5000 50000" --runs 5 --keep
scripts/build-times.sh --update docs/performance.md   # only the build times section
target/release/examples/load_serve --help
\`\`\`

The script needs cargo, python3, GNU time (\`/usr/bin/time\`), git and patch. It fails on wrong
answers, crashes and lost or duplicated callbacks; targets it misses are reported, not fatal.
EOF
} >docs/performance.md
note "wrote docs/performance.md"
# Both release builds from clean, into their own section (its own script, so it can be
# redone alone: scripts/build-times.sh --update docs/performance.md).
note "timing the default and --features serve builds from clean"
scripts/build-times.sh --update docs/performance.md

if [[ ${#failures[@]} -gt 0 ]]; then
  for f in "${failures[@]}"; do
    echo "bench: FAIL: $f" >&2
  done
  exit 1
fi
note "done"
