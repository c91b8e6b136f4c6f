# HCP Terraform (Terraform Cloud / Enterprise) OPA policy-set entry point.
#
# HCP Terraform evaluates OPA policies with the plan JSON at `input.plan` (next to
# `input.run`, ...); policies.hcl queries `data.portgate.tfc.deny` (mandatory: PG001, PG002)
# and `data.portgate.tfc.warn` (advisory: PG003). The library reads a plan at `input`, so it
# is evaluated here `with input as input.plan`: same rules, same findings, same messages as
# the conftest entry point (package main).
package portgate.tfc

import rego.v1

import data.portgate.lib

findings := fs if {
	fs := lib.findings with input as input.plan
}

deny contains msg if {
	some f in findings
	f.rule_id in {"PG001", "PG002"}
	msg := lib.render(f)
}

warn contains msg if {
	some f in findings
	f.rule_id == "PG003"
	msg := lib.render(f)
}
