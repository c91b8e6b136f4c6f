# PG002: SMB (TCP/UDP 445) open to the world. conftest / Atlantis entry point.
#
#   conftest test --policy policies/rego plan.json
#
# The rule logic lives in lib/portgate.rego (package portgate.lib); this file only reports.
package main

import rego.v1

import data.portgate.lib

deny contains msg if {
	some f in lib.findings
	f.rule_id == "PG002"
	msg := lib.render(f)
}
