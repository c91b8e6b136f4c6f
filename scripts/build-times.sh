#!/usr/bin/env bash
# Times release builds of portgate from clean: the default build (the checker alone, what
# `cargo install --path .` and pre-commit's rust hook build) and `--features serve` (the run
# task service). Prints a Markdown section; with --update FILE, puts it into FILE between the
# lines `<!-- build-times:start -->` and `<!-- build-times:end -->` (scripts/bench.sh calls it
# for docs/performance.md).
#
#   scripts/build-times.sh                            # print the section
#   scripts/build-times.sh --update docs/performance.md
#
# Each build goes to its own fresh target directory (the registry's sources are reused: the
# time is compiling, not downloading). Needs cargo and GNU time.
set -euo pipefail
cd "$(dirname "$0")/.."

update=""
if [[ ${1:-} == --update ]]; then
  update=${2:?--update needs a file}
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cargo fetch --locked --quiet

# build NAME FEATURE-ARGS...: prints "seconds peak_mib crates".
build() {
  local name=$1
  shift
  local crates
  crates=$(cargo tree --locked -e normal --prefix none --quiet "$@" | awk '{print $1}' | sort -u | wc -l)
  /usr/bin/time -f '%e %M' -o "$work/$name.time" \
    cargo build --release --locked --quiet --bin portgate --target-dir "$work/$name" "$@"
  read -r seconds kib <"$work/$name.time"
  echo "$seconds $((kib / 1024)) $crates"
}

read -r default_s default_mib default_crates < <(build default)
read -r serve_s serve_mib serve_crates < <(build serve --features serve)
cpus=$(nproc)
cpu=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)
toolchain=$(rustc --version)

section=$(cat <<SECTION
<!-- build-times:start -->
## Build times

\`cargo build --release --locked --bin portgate\` from clean (a fresh target directory, sources
already fetched), on $cpus CPUs ($cpu), $toolchain, $(date -u '+%Y-%m-%d'):

| build | crates linked | wall s | peak RSS of the build MiB |
|---|---:|---:|---:|
| default: the checker (\`cargo install --path .\`, pre-commit's rust hook) | $default_crates | $default_s | $default_mib |
| \`--features serve\`: with the run task service (Dockerfile, docs/runtask.md) | $serve_crates | $serve_s | $serve_mib |

Reproduce: \`scripts/build-times.sh\`.
<!-- build-times:end -->
SECTION
)

if [[ -z $update ]]; then
  printf '%s\n' "$section"
  exit 0
fi
python3 - "$update" "$section" <<'PY'
import sys
path, section = sys.argv[1], sys.argv[2]
text = open(path).read()
start, end = "<!-- build-times:start -->", "<!-- build-times:end -->"
if start in text and end in text:
    before = text[: text.index(start)]
    after = text[text.index(end) + len(end):]
    text = before + section + after
else:
    marker = "## Reproduce"
    at = text.index(marker) if marker in text else len(text)
    text = text[:at] + section + "\n\n" + text[at:]
open(path, "w").write(text)
PY
echo "build-times: wrote the section into $update" >&2
