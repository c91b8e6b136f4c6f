#!/usr/bin/env bash
# Plan, then check the plan with portgate before anyone applies it. Run it in the Terraform
# root module:
#
#   scripts/plan-and-check.sh [terraform plan arguments...]
#   PORTGATE_ARGS="--trusted-cidr 10.0.0.0/8" scripts/plan-and-check.sh -var-file=prod.tfvars
#
# It runs `terraform plan -out=tfplan "$@"`, `terraform show -json tfplan > tfplan.json` and
# `portgate check tfplan.json $PORTGATE_ARGS`, and exits with portgate's code: 0 when nothing
# blocks (then `terraform apply tfplan` applies exactly what was checked), 1 on blocking
# findings, 2 when the plan could not be checked. A failing `terraform` exits with its own
# code before portgate runs.
#
# Environment:
#   PORTGATE        the portgate binary (default: portgate on PATH).
#   PORTGATE_ARGS   extra arguments of `portgate check`, split on whitespace (no quoting).
#   TERRAFORM       the terraform binary (default: terraform on PATH).
#
# tfplan and tfplan.json can hold secrets from the configuration: keep them out of git.
set -euo pipefail

terraform="${TERRAFORM:-terraform}"
portgate="${PORTGATE:-portgate}"
read -r -a extra <<<"${PORTGATE_ARGS:-}"

"$terraform" plan -out=tfplan "$@"
"$terraform" show -json tfplan >tfplan.json

status=0
"$portgate" check tfplan.json ${extra[@]+"${extra[@]}"} || status=$?
if [[ "$status" -ne 0 ]]; then
  echo "portgate: do not apply tfplan (portgate exited $status)" >&2
fi
exit "$status"
