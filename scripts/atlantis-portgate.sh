#!/usr/bin/env bash
# portgate as a step of an Atlantis custom workflow (plan stage, after `plan`).
#
# Checks the plan Atlantis just made and prints portgate's report (Markdown by default) so it
# lands in the pull request comment. When portgate finds a blocking exposure, or cannot check
# the plan at all, the plan file is deleted and the step fails: Atlantis then has nothing to
# apply, so an open NetBIOS/SMB port cannot reach AWS from this pull request.
#
# Usage (atlantis.yaml / repos.yaml):
#   workflows:
#     portgate:
#       plan:
#         steps:
#           - init
#           - plan
#           - run: bash /path/to/atlantis-portgate.sh --trusted-cidr 10.0.0.0/8
#
# Arguments are passed to `portgate check` after `--format`.
#
# Environment:
#   PLANFILE          set by Atlantis: the binary plan (required).
#   SHOWFILE          set by Atlantis: the plan as JSON. Used when it exists and is not empty
#                     (a `show` step wrote it); otherwise this script runs
#                     `terraform show -json "$PLANFILE"` into a temporary file.
#   PORTGATE          the portgate binary (default: portgate on PATH).
#   PORTGATE_FORMAT   the report format (default: markdown; text reads better where the
#                     comment shows step output in a code block).
#   TERRAFORM         the terraform binary (default: terraform$ATLANTIS_TERRAFORM_VERSION
#                     when Atlantis installed that version on PATH, else terraform).
#
# Exit codes: 0 no blocking finding; 1 blocking findings; 2 the plan could not be checked
# (portgate's exit code 2, `terraform show` did not work, or PLANFILE is not set). On any exit but 0 the plan file
# is deleted first: a plan that was not checked is not applied either (fail closed).
set -euo pipefail

if [[ -z "${PLANFILE:-}" ]]; then
  echo "portgate: PLANFILE is not set: run this script as a step of an Atlantis workflow" >&2
  exit 2
fi
portgate="${PORTGATE:-portgate}"
format="${PORTGATE_FORMAT:-markdown}"

if [[ -n "${TERRAFORM:-}" ]]; then
  terraform="$TERRAFORM"
elif [[ -n "${ATLANTIS_TERRAFORM_VERSION:-}" ]] &&
  command -v "terraform${ATLANTIS_TERRAFORM_VERSION}" >/dev/null 2>&1; then
  terraform="terraform${ATLANTIS_TERRAFORM_VERSION}"
else
  terraform="terraform"
fi

if [[ -n "${SHOWFILE:-}" && -s "${SHOWFILE}" ]]; then
  json="$SHOWFILE"
else
  json="$(mktemp "${TMPDIR:-/tmp}/portgate-plan.XXXXXX")"
  trap 'rm -f "$json"' EXIT
  if ! "$terraform" show -json "$PLANFILE" >"$json"; then
    rm -f -- "$PLANFILE"
    echo "portgate: \`$terraform show -json\` did not work: deleted the plan so it cannot be applied unchecked" >&2
    exit 2
  fi
fi

# Reports name the plan as the pull request knows it, relative to the project directory, never
# by a temporary path.
shown="${PLANFILE#"$PWD"/}"
if [[ "$json" == "${SHOWFILE:-}" ]]; then
  shown="${SHOWFILE#"$PWD"/}"
fi

status=0
"$portgate" check "$json" --plan-name "$shown" --format "$format" "$@" || status=$?

case "$status" in
  0)
    exit 0
    ;;
  1)
    rm -f -- "$PLANFILE"
    echo "portgate: blocking findings: deleted the plan so it cannot be applied; fix them and plan again" >&2
    exit 1
    ;;
  *)
    rm -f -- "$PLANFILE"
    echo "portgate: could not check the plan (exit $status): deleted the plan so it cannot be applied unchecked" >&2
    exit "$status"
    ;;
esac
