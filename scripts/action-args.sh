# Sourced by action.yml's steps: builds `args`, the `portgate check` command line, from the
# action's inputs, which reach it only as environment variables (never expanded into the
# script's text, so an input cannot inject shell).
#   PLAN (required), SOURCE, TRUSTED_CIDRS (comma, space or newline separated), FAIL_ON, UNKNOWN
if [ -z "${PLAN:-}" ]; then
  echo "::error::portgate: the 'plan' input is required (the JSON of terraform show -json)"
  exit 2
fi
args=(check "$PLAN")
if [ -n "${SOURCE:-}" ]; then
  args+=(--source "$SOURCE")
fi
# Split on commas, spaces and newlines, never globbed.
IFS=$', \n\t' read -r -d '' -a cidrs < <(printf '%s\0' "${TRUSTED_CIDRS:-}") || true
for cidr in "${cidrs[@]}"; do
  args+=(--trusted-cidr "$cidr")
done
if [ -n "${FAIL_ON:-}" ]; then
  args+=(--fail-on "$FAIL_ON")
fi
if [ -n "${UNKNOWN:-}" ]; then
  args+=(--unknown "$UNKNOWN")
fi
