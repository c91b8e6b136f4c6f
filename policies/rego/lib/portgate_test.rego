# Unit tests for lib/portgate.rego: `conftest verify --policy policies/rego` or
# `opa test policies/rego`; `cargo test` runs them through regorus (tests/rego_parity.rs).
package portgate.lib_test

import rego.v1

import data.portgate.lib

# A plan with one resource change.
plan_of(type, actions, after, unknown) := {
	"format_version": "1.2",
	"resource_changes": [{
		"address": sprintf("%s.t", [type]),
		"mode": "managed",
		"type": type,
		"name": "t",
		"change": {"actions": actions, "after": after, "after_unknown": unknown},
	}],
}

sg_rule(protocol, from, to, cidrs) := plan_of("aws_security_group_rule", ["create"], {
	"security_group_id": "sg-0test",
	"type": "ingress",
	"protocol": protocol,
	"from_port": from,
	"to_port": to,
	"cidr_blocks": cidrs,
	"ipv6_cidr_blocks": null,
}, {})

ids(plan) := {f.rule_id | some f in lib.findings with input as plan}

test_smb_world_is_pg002 if {
	ids(sg_rule("tcp", 445, 445, ["0.0.0.0/0"])) == {"PG002"}
}

test_split_world_is_the_world if {
	ids(sg_rule("tcp", 445, 445, ["0.0.0.0/1", "128.0.0.0/1"])) == {"PG002"}
	ids(sg_rule("tcp", 445, 445, ["0.0.0.0/2", "64.0.0.0/2", "128.0.0.0/1", "10.0.0.0/8"])) == {"PG002"}
}

test_half_the_world_is_not_the_world if {
	ids(sg_rule("tcp", 445, 445, ["0.0.0.0/1"])) == set()
	ids(sg_rule("tcp", 445, 445, ["0.0.0.0/1", "128.0.0.0/2"])) == set()
	ids(sg_rule("tcp", 445, 445, ["10.0.0.0/8"])) == set()
}

test_non_canonical_zero_prefix_is_the_world if {
	ids(sg_rule("tcp", 445, 445, ["1.2.3.4/0"])) == {"PG002"}
	ids(sg_rule("tcp", 445, 445, [" 0.0.0.0/0 "])) == {"PG002"}
}

test_protocol_minus_one_and_all_ignore_ports if {
	ids(sg_rule("-1", 0, 0, ["0.0.0.0/0"])) == {"PG001", "PG002"}
	ids(sg_rule("ALL", null, null, ["0.0.0.0/0"])) == {"PG001", "PG002"}
}

test_protocol_spellings if {
	ids(sg_rule("TCP", 445, 445, ["0.0.0.0/0"])) == {"PG002"}
	ids(sg_rule("6", 445, 445, ["0.0.0.0/0"])) == {"PG002"}
	ids(sg_rule("17", 137, 137, ["0.0.0.0/0"])) == {"PG001"}
	ids(sg_rule("icmp", -1, -1, ["0.0.0.0/0"])) == set()
	ids(sg_rule("50", 0, 65535, ["0.0.0.0/0"])) == set()
	ids(sg_rule("06", 445, 445, ["0.0.0.0/0"])) == {"PG002"}
	ids(sg_rule("+17", 137, 137, ["0.0.0.0/0"])) == {"PG001"}
	ids(sg_rule("-01", 0, 0, ["0.0.0.0/0"])) == {"PG001", "PG002"}
	ids(sg_rule("6.0", 445, 445, ["0.0.0.0/0"])) == set()
}

test_overlapping_range_matches if {
	ids(sg_rule("tcp", 400, 500, ["0.0.0.0/0"])) == {"PG002"}
	ids(sg_rule("udp", 138, 1000, ["0.0.0.0/0"])) == {"PG001", "PG002"}
}

test_reversed_range_and_null_port_open_nothing if {
	ids(sg_rule("tcp", 446, 22, ["0.0.0.0/0"])) == set()
	ids(sg_rule("tcp", null, 445, ["0.0.0.0/0"])) == set()
}

test_egress_is_ignored if {
	plan := plan_of("aws_security_group_rule", ["create"], {
		"type": "egress", "protocol": "-1", "from_port": 0, "to_port": 0,
		"cidr_blocks": ["0.0.0.0/0"],
	}, {})
	ids(plan) == set()
}

test_delete_and_data_sources_are_ignored if {
	deleted := plan_of("aws_security_group_rule", ["delete"], null, {})
	ids(deleted) == set()
	data_source := {"format_version": "1.2", "resource_changes": [{
		"address": "data.aws_security_group.x", "mode": "data", "type": "aws_security_group",
		"name": "x", "change": {"actions": ["read"], "after": {"ingress": [{
			"protocol": "tcp", "from_port": 445, "to_port": 445, "cidr_blocks": ["0.0.0.0/0"],
		}]}, "after_unknown": {}},
	}]}
	ids(data_source) == set()
}

test_ipv6_world_and_split if {
	v6 := plan_of("aws_vpc_security_group_ingress_rule", ["create"], {
		"ip_protocol": "tcp", "from_port": 445, "to_port": 445, "cidr_ipv4": null, "cidr_ipv6": "::/0",
	}, {})
	ids(v6) == {"PG002"}
	split := plan_of("aws_security_group", ["create"], {"ingress": [{
		"protocol": "udp", "from_port": 137, "to_port": 139,
		"cidr_blocks": [], "ipv6_cidr_blocks": ["::/1", "8000::/1"],
	}]}, {})
	ids(split) == {"PG001"}
	half := plan_of("aws_security_group", ["create"], {"ingress": [{
		"protocol": "udp", "from_port": 137, "to_port": 139,
		"cidr_blocks": [], "ipv6_cidr_blocks": ["::/1", "8000::/2", "2001:db8::/32"],
	}]}, {})
	ids(half) == set()
}

test_unknown_cidr_is_pg003 if {
	plan := plan_of("aws_security_group_rule", ["create"], {
		"type": "ingress", "protocol": "tcp", "from_port": 445, "to_port": 445,
	}, {"cidr_blocks": true})
	ids(plan) == {"PG003"}
}

test_unknown_cidr_on_another_port_is_nothing if {
	plan := plan_of("aws_security_group_rule", ["create"], {
		"type": "ingress", "protocol": "tcp", "from_port": 22, "to_port": 22,
	}, {"cidr_blocks": true})
	ids(plan) == set()
}

test_self_and_security_group_sources_are_not_the_world if {
	plan := plan_of("aws_security_group", ["create"], {"ingress": [{
		"protocol": "-1", "from_port": 0, "to_port": 0, "cidr_blocks": [],
		"security_groups": ["sg-123"], "self": true, "prefix_list_ids": ["pl-1"],
	}]}, {})
	ids(plan) == set()
}

test_findings_carry_address_ports_and_cidrs if {
	some f in lib.findings with input as sg_rule("tcp", 0, 65535, ["0.0.0.0/1", "128.0.0.0/1"])
	f.rule_id == "PG001"
	f.address == "aws_security_group_rule.t"
	f.ports == ["tcp/137-139"]
	f.cidrs == ["0.0.0.0/1", "128.0.0.0/1"]
}

# The configuration never proves a rule safe: it drops `dynamic "ingress"` blocks and records
# only an expression's references, which `cond ? "0.0.0.0/0" : aws_vpc.main.cidr_block` shares.
with_configuration(plan, expressions) := object.union(plan, {"configuration": {"root_module": {"resources": [{
	"address": plan.resource_changes[0].address, "mode": "managed",
	"type": plan.resource_changes[0].type, "name": "t", "expressions": expressions,
}]}}})

test_a_configuration_without_ingress_does_not_prove_an_unknown_ingress_empty if {
	plan := plan_of("aws_security_group", ["create"], {"name": "t"}, {"ingress": true})
	ids(with_configuration(plan, {"name": {"constant_value": "t"}})) == {"PG003"}
}

test_a_reference_in_the_configuration_does_not_settle_an_unknown_cidr if {
	rule := sg_rule("tcp", 445, 445, [null])
	unknown := object.union(rule, {"resource_changes": [object.union(rule.resource_changes[0], {"change": object.union(
		rule.resource_changes[0].change,
		{"after_unknown": {"cidr_blocks": [true]}},
	)})]})
	vpc := {
		"address": "aws_vpc.main", "mode": "managed", "type": "aws_vpc", "name": "main",
		"change": {"actions": ["create"], "after": {"cidr_block": "10.0.0.0/16"}, "after_unknown": {}},
	}
	plan := object.union(unknown, {"resource_changes": array.concat(unknown.resource_changes, [vpc])})
	configured := with_configuration(plan, {"cidr_blocks": {"references": ["aws_vpc.main.cidr_block", "aws_vpc.main"]}})
	ids(configured) == {"PG003"}
}

test_a_wholly_unknown_planned_state_is_pg003_unless_deleted if {
	ids(plan_of("aws_security_group_rule", ["create"], null, true)) == {"PG003"}
	ids(plan_of("aws_vpc_security_group_ingress_rule", ["update"], null, true)) == {"PG003"}
	ids(plan_of("aws_security_group", ["delete", "create"], null, true)) == {"PG003"}
	ids(plan_of("aws_security_group_rule", ["delete"], null, {})) == set()
	ids(plan_of("aws_security_group_rule", ["forget"], null, {})) == set()
}

# A world split across the rules of one group is open (AWS allows the union of a group's rules).
grouped_rule(name, group, protocol, cidrs) := {
	"address": sprintf("aws_security_group_rule.%s", [name]), "mode": "managed",
	"type": "aws_security_group_rule", "name": name,
	"change": {"actions": ["create"], "after_unknown": {}, "after": {
		"security_group_id": group, "type": "ingress", "protocol": protocol,
		"from_port": 445, "to_port": 445, "cidr_blocks": cidrs,
	}},
}

test_a_world_split_across_rules_of_one_group_is_open if {
	together := {"format_version": "1.2", "resource_changes": [
		grouped_rule("low", "sg-0a", "tcp", ["0.0.0.0/1"]),
		grouped_rule("high", "sg-0a", "-1", ["128.0.0.0/1"]),
	]}
	{[f.address, f.rule_id] | some f in lib.findings with input as together} == {
		["aws_security_group_rule.low", "PG002"],
		["aws_security_group_rule.high", "PG002"],
	}
	apart := {"format_version": "1.2", "resource_changes": [
		grouped_rule("low", "sg-0a", "tcp", ["0.0.0.0/1"]),
		grouped_rule("high", "sg-0b", "tcp", ["128.0.0.0/1"]),
	]}
	ids(apart) == set()
}

test_public_and_private_cidrs if {
	lib.is_public(lib.parse_cidr("0.0.0.0/1"))
	lib.is_public(lib.parse_cidr("203.0.113.0/24"))
	lib.is_public(lib.parse_cidr("2001:db8::/32"))
	not lib.is_public(lib.parse_cidr("10.1.0.0/16"))
	not lib.is_public(lib.parse_cidr("100.64.0.0/10"))
	not lib.is_public(lib.parse_cidr("fd00::/8"))
}
