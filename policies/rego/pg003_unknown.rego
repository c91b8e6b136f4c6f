# PG003: a rule that could open NetBIOS or SMB to the world, but whose CIDRs, protocol or ports
# are unknown until apply. A warning, as `portgate check` reports it by default
# (`--unknown warn`): conftest prints it and does not fail (unless `--fail-on-warn`).
#
# The rule logic lives in lib/portgate.rego (package portgate.lib); this file only reports.
package main

import rego.v1

import data.portgate.lib

warn contains msg if {
	some f in lib.findings
	f.rule_id == "PG003"
	msg := lib.render(f)
}
