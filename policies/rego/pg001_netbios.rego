# PG001: NetBIOS (TCP/UDP 137-139) open to the world. conftest / Atlantis entry point.
#
#   conftest test --policy policies/rego plan.json
#
# The rule logic lives in lib/portgate.rego (package portgate.lib); this file only reports.
package main

import rego.v1

import data.portgate.lib

deny contains msg if {
	some f in lib.findings
	f.rule_id == "PG001"
	msg := lib.render(f)
}
