# portgate's rules in Rego: the shared library behind the conftest entry point (package main,
# policies/rego/*.rego) and the HCP Terraform entry point (package portgate.tfc).
#
# `input` is the JSON of `terraform show -json PLANFILE`. `findings` is the one result both
# entry points render: a set of objects
#
#   {rule_id, kind ("exposed" | "unknown"), address, resource_type, block, family, ports,
#    cidrs, related, message}
#
# The semantics are those of the native engine (README.md, "How a rule is read, exactly";
# src/rules, src/policy/eval.rs), and tests/rego_parity.rs proves the two agree on every test
# plan. In short:
#
# - Planned state: the `after` state of each managed entry of `resource_changes` (delete,
#   forget: no after state, not checked; data sources not checked), plus resources that appear
#   only in `planned_values` (where an absent attribute is unknown).
# - Four resource types: aws_security_group and aws_default_security_group (inline `ingress`),
#   aws_security_group_rule (type ingress), aws_vpc_security_group_ingress_rule.
# - Protocol names in any case and numbers (tcp/6, udp/17, read like Go's strconv.Atoi, so 06
#   is tcp); -1 and all are every protocol and port; anything else has no TCP/UDP ports. A null bound or a reversed range opens nothing.
# - The world is the UNION of a rule's CIDRs per family, so 0.0.0.0/1 + 128.0.0.0/1 and
#   1.2.3.4/0 are the world; and a security group is the union of ALL its rules (inline blocks
#   and rule resources on its id), port by port (src/policy/groups.rs).
# - Entries of prefix lists the plan defines are sources of the rules that name them.
# - A change whose whole planned state is unknown (after null, after_unknown true) is PG003, and
#   so is a rule whose group cannot be told while its sources are public.
# - PG003 when values unknown until apply could still make a PG001/PG002 finding, after trying
#   to settle a single-attribute reference from the plan itself (src/rules/resolve.rs).
#
# Not covered: PG004 (a CIDR that does not parse). Such a CIDR is ignored here, as it is by the
# native engine's world check, but no finding is made for it. Waivers and patches are CLI-only.
#
# Why the world check does not use net.cidr_merge: regorus (the Rust Rego engine the parity
# test runs on) has no net.cidr_merge, only net.cidr_is_valid / cidr_contains / cidr_expand.
# `covers_world` below is an exact equivalent written with plain arithmetic: the union of
# CIDR blocks covers a whole address family iff (a) some block contains the first address, and
# (b) for every block, the address right after its last one is either past the end of the
# family or inside some block. (If an address were uncovered, the smallest uncovered one is
# either the first address or follows the last address of a block.) It runs on OPA, conftest
# and HCP Terraform alike.
package portgate.lib

import rego.v1

resource_types := {
	"aws_security_group",
	"aws_default_security_group",
	"aws_security_group_rule",
	"aws_vpc_security_group_ingress_rule",
}

# The built-in policies (policies/netbios.toml, policies/smb.toml).
policies := {
	"PG001": {
		"title": "NetBIOS open to the world",
		"label": "NetBIOS",
		"ports": [
			{"protocol": "tcp", "from": 137, "to": 139},
			{"protocol": "udp", "from": 137, "to": 139},
		],
	},
	"PG002": {
		"title": "SMB open to the world",
		"label": "SMB",
		"ports": [
			{"protocol": "tcp", "from": 445, "to": 445},
			{"protocol": "udp", "from": 445, "to": 445},
		],
	},
}

# ---- small helpers ---------------------------------------------------------------------------

has_key(obj, key) if {
	is_object(obj)
	key in object.keys(obj)
}

# `mode` absent or null means managed.
managed(obj) if not has_key(obj, "mode")

managed(obj) if obj.mode == null

managed(obj) if obj.mode == "managed"

# A value present and not null.
present(obj, key) if {
	has_key(obj, key)
	obj[key] != null
}

# Boolean values of the two tests above, for use inside objects.
is_managed(obj) := true if managed(obj)

else := false

is_present(obj, key) := true if present(obj, key)

else := false

# ---- planned resources -----------------------------------------------------------------------

# Addresses of current (non-deposed) objects in resource_changes.
changed_addresses contains rc.address if {
	some rc in input.resource_changes
	not present(rc, "deposed")
}

# Every module of planned_values (root and nested child_modules), with its address.
planned_modules contains module if {
	root := input.planned_values.root_module
	# The output-argument form: regorus evaluates `[path, module] := walk(root)` to nothing.
	walk(root, [path, module])
	is_module_path(path)
}

is_module_path(path) if {
	count(path) % 2 == 0
	every i, step in path {
		module_path_step(i, step)
	}
}

module_path_step(i, step) if {
	i % 2 == 0
	step == "child_modules"
}

module_path_step(i, step) if {
	i % 2 == 1
	is_number(step)
}

# Every planned object: {key, address, module_address, managed, type, name, deposed, gone,
# after, unknown, planned_only}. `gone`: deleted or forgotten, so no after state is expected.
# `after` is null for those, and for objects whose whole planned state is unknown until apply.
planned contains obj if {
	some i, rc in input.resource_changes
	obj := {
		"key": sprintf("resource_changes[%d]", [i]),
		"address": rc.address,
		"module_address": object.get(rc, "module_address", null),
		"managed": is_managed(rc),
		"type": rc.type,
		"name": rc.name,
		"deposed": is_present(rc, "deposed"),
		"gone": is_gone(rc.change),
		"after": object.get(rc.change, "after", null),
		"unknown": object.get(rc.change, "after_unknown", null),
		"planned_only": false,
	}
}

planned contains obj if {
	some module in planned_modules
	some res in module.resources
	not res.address in changed_addresses
	obj := {
		"key": sprintf("planned_values:%s", [res.address]),
		"address": res.address,
		"module_address": object.get(module, "address", null),
		"managed": is_managed(res),
		"type": res.type,
		"name": res.name,
		"deposed": false,
		"gone": false,
		"after": object.get(res, "values", null),
		"unknown": null,
		"planned_only": true,
	}
}

# Deleted or forgotten: the object will not exist after apply.
is_gone(change) := true if {
	count(change.actions) == 1
	lower(change.actions[0]) in {"delete", "forget"}
} else := false

# The objects whose ingress rules are read.
checked contains r if {
	some r in planned
	r.managed
	r.type in resource_types
	r.after != null
}

# A change with no planned state that is not a delete: Terraform writes `after: null` with
# `after_unknown: true` when the whole planned object is unknown until apply.
wholly_unknown contains r if {
	some r in planned
	r.managed
	r.type in resource_types
	r.after == null
	not r.gone
}

# What a rule keeps of its resource.
slim(r) := {k: r[k] | some k in ["key", "address", "module_address", "type", "name"]}

# ---- the plan's configuration ----------------------------------------------------------------
#
# Not read. Terraform's `configuration` drops `dynamic` blocks and records only the references
# of an expression, so on its own it can never prove a rule safe: `portgate check` settles such
# unknowns only from the Terraform sources (`--source`), which Rego does not have. Here they stay
# unknown (PG003), as with `portgate check --no-source`.

# ---- reading after / after_unknown -------------------------------------------------------------

is_unknown(unknown, _) if unknown == true

is_unknown(unknown, key) if unknown[key] == true

# A scalar attribute: {"known": false} or {"known": true, "value": v} (v may be null).
scalar(reader, obj, key) := {"known": false} if {
	is_unknown(reader.unknown, key)
} else := {"known": true, "value": obj[key]} if {
	has_key(obj, key)
} else := {"known": false} if {
	reader.planned_only
} else := {"known": true, "value": null}

family_of_attribute := {
	"cidr_blocks": "ipv4",
	"cidr_ipv4": "ipv4",
	"ipv6_cidr_blocks": "ipv6",
	"cidr_ipv6": "ipv6",
}

# CIDR entries of a list attribute: {attribute, index, known, text}.
cidr_list(reader, obj, key) := [{"attribute": key, "index": null, "known": false}] if {
	is_unknown(reader.unknown, key)
} else := [{"attribute": key, "index": null, "known": false}] if {
	reader.planned_only
	not has_key(obj, key)
} else := [list_entry(reader, key, i, v) | some i, v in obj[key]] if {
	is_array(obj[key])
} else := []

list_entry(reader, key, i, v) := {"attribute": key, "index": i, "known": true, "text": v} if {
	is_string(v)
	not reader.unknown[key][i] == true
} else := {"attribute": key, "index": i, "known": false}

cidr_scalar(reader, obj, key) := entries if {
	s := scalar(reader, obj, key)
	entries := scalar_entries(key, s)
}

scalar_entries(key, s) := [] if {
	s.known
	s.value == null
} else := [{"attribute": key, "index": null, "known": true, "text": s.value}] if {
	s.known
} else := [{"attribute": key, "index": null, "known": false}]

# ---- normalized ingress rules (before reference resolution) ---------------------------------

whole_ingress_unknown(r) if is_unknown(r.unknown, "ingress")

whole_ingress_unknown(r) if {
	r.planned_only
	not has_key(r.after, "ingress")
}

raw_rules contains rule if {
	some r in checked
	r.type in {"aws_security_group", "aws_default_security_group"}
	whole_ingress_unknown(r)
	rule := {
		"resource": slim(r),
		"block": null,
		"protocol": {"known": false},
		"from_port": {"known": false},
		"to_port": {"known": false},
		"cidrs": [{"attribute": "ingress", "index": null, "known": false}],
		"direction_known": true,
		"whole_unknown": true,
		"group": group_or_null(r),
	}
}

raw_rules contains rule if {
	some r in wholly_unknown
	rule := {
		"resource": slim(r),
		"block": null,
		"protocol": {"known": false},
		"from_port": {"known": false},
		"to_port": {"known": false},
		"cidrs": [{"attribute": "after", "index": null, "known": false}],
		"direction_known": false,
		"whole_unknown": "state",
		"group": group_or_null(r),
	}
}

raw_rules contains rule if {
	some r in checked
	r.type in {"aws_security_group", "aws_default_security_group"}
	not whole_ingress_unknown(r)
	is_array(r.after.ingress)
	some i, block in r.after.ingress
	reader := {"unknown": element_unknown(r, i, block), "planned_only": r.planned_only}
	obj := object_or_empty(block)
	rule := {
		"resource": slim(r),
		"block": i,
		"protocol": scalar(reader, obj, "protocol"),
		"from_port": scalar(reader, obj, "from_port"),
		"to_port": scalar(reader, obj, "to_port"),
		"cidrs": array.concat(
			array.concat(
				cidr_list(reader, obj, "cidr_blocks"),
				cidr_list(reader, obj, "ipv6_cidr_blocks"),
			),
			prefix_sources("prefix_list_ids", id_items(reader, obj, "prefix_list_ids")),
		),
		"direction_known": true,
		"whole_unknown": false,
		"group": group_or_null(r),
	}
}

# A null element of the planned `ingress` list stands for a wholly unknown one.
element_unknown(_, _, block) := true if block == null

element_unknown(r, i, block) := u if {
	block != null
	u := object.get(r, ["unknown", "ingress", i], null)
}

object_or_empty(block) := block if is_object(block)

object_or_empty(block) := {} if not is_object(block)

raw_rules contains rule if {
	some r in checked
	r.type == "aws_security_group_rule"
	reader := {"unknown": r.unknown, "planned_only": r.planned_only}
	direction := scalar(reader, r.after, "type")
	direction_known := ingress_direction(direction)
	rule := {
		"resource": slim(r),
		"block": null,
		"protocol": scalar(reader, r.after, "protocol"),
		"from_port": scalar(reader, r.after, "from_port"),
		"to_port": scalar(reader, r.after, "to_port"),
		"cidrs": array.concat(
			array.concat(
				cidr_list(reader, r.after, "cidr_blocks"),
				cidr_list(reader, r.after, "ipv6_cidr_blocks"),
			),
			prefix_sources("prefix_list_ids", id_items(reader, r.after, "prefix_list_ids")),
		),
		"direction_known": direction_known,
		"whole_unknown": false,
		"group": group_or_null(r),
	}
}

# true: an ingress rule; false: the type is unknown until apply (it may be ingress);
# undefined: egress or nothing.
ingress_direction(d) := true if {
	d.known
	is_string(d.value)
	lower(d.value) == "ingress"
}

ingress_direction(d) := false if not d.known

raw_rules contains rule if {
	some r in checked
	r.type == "aws_vpc_security_group_ingress_rule"
	reader := {"unknown": r.unknown, "planned_only": r.planned_only}
	rule := {
		"resource": slim(r),
		"block": null,
		"protocol": scalar(reader, r.after, "ip_protocol"),
		"from_port": scalar(reader, r.after, "from_port"),
		"to_port": scalar(reader, r.after, "to_port"),
		"cidrs": array.concat(
			array.concat(
				cidr_scalar(reader, r.after, "cidr_ipv4"),
				cidr_scalar(reader, r.after, "cidr_ipv6"),
			),
			prefix_sources("prefix_list_id", id_items(reader, r.after, "prefix_list_id")),
		),
		"direction_known": true,
		"whole_unknown": false,
		"group": group_or_null(r),
	}
}

# ---- which security group a rule belongs to (src/rules/group.rs) ----------------------------
#
# Inline blocks belong to their own group (a deposed object is a group of its own). A standalone
# rule belongs to the group its known security_group_id names: the group of the plan with that
# known id, or else the foreign group named by the id. When security_group_id is unknown until
# apply, only the Terraform sources could tell (see above): null, undetermined.

group_types := {"aws_security_group", "aws_default_security_group"}

group_or_null(r) := g if {
	g := group_key(r)
} else := null

group_key(r) := r.address if {
	r.type in group_types
	not r.deposed
}

group_key(r) := sprintf("%s (deposed object at %s)", [r.address, r.key]) if {
	r.type in group_types
	r.deposed
}

group_key(r) := g if {
	not r.type in group_types
	id := known_group_id(r)
	g := group_of_id(id)
}

reader_of(r) := {"unknown": r.unknown, "planned_only": r.planned_only}

# security_group_id known (a string or null).
group_id_known(r) if scalar(reader_of(r), object_or_empty(r.after), "security_group_id").known

known_group_id(r) := id if {
	s := scalar(reader_of(r), object_or_empty(r.after), "security_group_id")
	s.known
	is_string(s.value)
	id := s.value
}

# The group of the plan whose known id is `id` (the first by address), else the id itself.
group_of_id(id) := addresses[0] if {
	addresses := sort([g.address |
		some g in checked
		g.type in group_types
		not g.deposed
		s := scalar(reader_of(g), g.after, "id")
		s.known
		s.value == id
	])
	count(addresses) > 0
} else := id

# ---- prefix lists (src/rules/prefix_list.rs) --------------------------------------------------
#
# A rule whose source is a prefix list allows every CIDR in it. The entries of the lists the plan
# defines (entry blocks of aws_ec2_managed_prefix_list, aws_ec2_managed_prefix_list_entry
# resources) count as the rule's CIDRs; unknown entries, and ids that cannot be tied to a list,
# are unknown sources. A list outside the plan adds nothing (the CLI names it as not checked).

prefix_list_type := "aws_ec2_managed_prefix_list"

prefix_lists contains l if {
	some l in planned
	l.managed
	l.type == prefix_list_type
	not l.deposed
	not l.gone
}

prefix_list_entries contains x if {
	some x in planned
	x.managed
	x.type == "aws_ec2_managed_prefix_list_entry"
	not x.deposed
	not x.gone
}

# The ids of a rule's prefix list attribute: null when unknown until apply, else a list whose
# elements are null where that id is unknown.
id_items(reader, obj, key) := null if {
	is_unknown(reader.unknown, key)
} else := null if {
	reader.planned_only
	not has_key(obj, key)
} else := [id_or_null(reader, key, i, v) | some i, v in obj[key]] if {
	is_array(obj[key])
} else := [obj[key]] if {
	is_string(obj[key])
} else := []

id_or_null(reader, key, i, v) := v if {
	is_string(v)
	not reader.unknown[key][i] == true
} else := null

# The CIDR entries (texts, null where unknown) of a list of the plan, by address.
list_entries_of(l) := [null] if {
	l.after == null
} else := [null] if {
	is_unknown(l.unknown, "entry")
} else := [null] if {
	l.planned_only
	not has_key(l.after, "entry")
} else := [entry_block_cidr(l, i, e) | some i, e in l.after.entry] if {
	is_array(l.after.entry)
} else := []

entry_block_cidr(l, i, e) := e.cidr if {
	is_object(e)
	is_string(e.cidr)
	not is_unknown(object.get(l, ["unknown", "entry", i], null), "cidr")
} else := null

entry_value(x) := x.after.cidr if {
	is_object(x.after)
	s := scalar(reader_of(x), x.after, "cidr")
	s.known
	is_string(s.value)
} else := null

entry_known_list(x) := s.value if {
	s := scalar(reader_of(x), object_or_empty(x.after), "prefix_list_id")
	s.known
	is_string(s.value)
}

entries_by_address(address) := array.concat(list_entries_of(l), untied_part) if {
	some l in prefix_lists
	l.address == address
}

# An entry whose list cannot be told may belong to any list of the plan: an unknown entry there.
untied_part := [null] if {
	some x in prefix_list_entries
	not entry_known_list(x)
} else := []

list_id_of(l) := s.value if {
	s := scalar(reader_of(l), object_or_empty(l.after), "id")
	s.known
	is_string(s.value)
}

entries_by_id(id) := array.concat(base, [entry_value(x) |
	some x in prefix_list_entries
	entry_known_list(x) == id
]) if {
	bases := [entries_by_address(l.address) | some l in prefix_lists; list_id_of(l) == id]
	base := array.concat([], [e | some b in bases; some e in b])
}

prefix_entry(key, text) := {"attribute": key, "index": null, "known": true, "text": text} if is_string(text)

prefix_entry(key, text) := {"attribute": key, "index": null, "known": false} if not is_string(text)

prefix_sources(key, items) := array.concat(
	unknown_ids_part(key, items),
	[prefix_entry(key, e) | some id in known_items(items); some e in entries_by_id(id)],
)

known_items(items) := [] if items == null

known_items(items) := [id | some id in items; id != null] if items != null

some_id_unknown(items) if items == null

some_id_unknown(items) if {
	items != null
	some id in items
	id == null
}

unknown_ids_part(key, items) := [] if {
	not some_id_unknown(items)
} else := [{"attribute": key, "index": null, "known": false}]

# ---- the rules --------------------------------------------------------------------------------
#
# `portgate check` settles an unknown CIDR that its sources show is exactly a resource attribute
# (src/rules/resolve.rs); without sources it stays unknown, as here.

rules := raw_rules

# ---- CIDRs: parsing and the world check ----------------------------------------------------

pow2 := [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768, 65536]

hex_digits := {
	"0": 0, "1": 1, "2": 2, "3": 3, "4": 4, "5": 5, "6": 6, "7": 7, "8": 8, "9": 9,
	"a": 10, "b": 11, "c": 12, "d": 13, "e": 14, "f": 15,
}

# Unit width in bits and number of units of each family.
widths := {"ipv4": 8, "ipv6": 16}

unit_counts := {"ipv4": 4, "ipv6": 8}

# A CIDR as AWS reads it: {family, units, prefix}; host bits are kept in `units` and ignored
# by every comparison below. Undefined for text that is not a CIDR.
parse_cidr(text) := cidr if {
	t := trim_space(text)
	net.cidr_is_valid(t)
	[addr, prefix] := split(t, "/")
	units := address_units(lower(addr))
	cidr := {
		"family": family_of_units(units),
		"units": units,
		"prefix": to_number(prefix),
	}
}

family_of_units(units) := "ipv4" if count(units) == 4

family_of_units(units) := "ipv6" if count(units) == 8

address_units(addr) := [to_number(o) | some o in split(addr, ".")] if not contains(addr, ":")

address_units(addr) := units if {
	contains(addr, ":")
	not contains(addr, "::")
	units := groups_units(addr)
	count(units) == 8
}

address_units(addr) := units if {
	contains(addr, "::")
	[left, right] := split(addr, "::")
	l := groups_units(left)
	r := groups_units(right)
	zeros := [0 | some i in numbers.range(0, 7); i < 8 - count(l) - count(r)]
	units := array.concat(array.concat(l, zeros), r)
	count(units) == 8
}

groups_units(text) := [] if text == ""

groups_units(text) := units if {
	text != ""
	units := [u | some g in split(text, ":"); some u in group_units(g)]
}

# An IPv6 group: 16 bits in hex, or an embedded IPv4 address (two units).
group_units(g) := [hex16(g)] if not contains(g, ".")

group_units(g) := [o[0] * 256 + o[1], o[2] * 256 + o[3]] if {
	contains(g, ".")
	o := [to_number(x) | some x in split(g, ".")]
}

hex16(g) := sum([v |
	some i in numbers.range(0, count(g) - 1)
	v := hex_digits[substring(g, i, 1)] * pow2[4 * ((count(g) - 1) - i)]
])

# Bits of unit i inside the prefix, the block size of unit i, and the unit truncated to it.
prefix_bits(c, i) := min([max([c.prefix - widths[c.family] * i, 0]), widths[c.family]])

block_size(c, i) := pow2[widths[c.family] - prefix_bits(c, i)]

truncated(c, i) := c.units[i] - (c.units[i] % block_size(c, i))

unit_indexes(family) := numbers.range(0, unit_counts[family] - 1)

# The address right after the last address of block c; undefined when c ends the family.
next_address(c) := [next_unit(c, i, j) | some i in unit_indexes(c.family)] if {
	candidates := {i |
		some i in unit_indexes(c.family)
		prefix_bits(c, i) > 0
		truncated(c, i) + block_size(c, i) < pow2[widths[c.family]]
	}
	count(candidates) > 0
	j := max(candidates)
}

next_unit(c, i, j) := truncated(c, i) if i < j

next_unit(c, i, j) := truncated(c, i) + block_size(c, i) if i == j

next_unit(_, i, j) := 0 if i > j

contains_address(c, units) if {
	every i in unit_indexes(c.family) {
		units[i] - (units[i] % block_size(c, i)) == truncated(c, i)
	}
}

covers_world(nets) if {
	count(nets) > 0
	zero := [0 | some _ in unit_indexes(nets[0].family)]
	some first in nets
	contains_address(first, zero)
	every c in nets {
		followed_by_cover(c, nets)
	}
}

followed_by_cover(c, _) if not next_address(c)

followed_by_cover(c, nets) if {
	after := next_address(c)
	some d in nets
	contains_address(d, after)
}

# ---- evaluation: rules × policies → findings ---------------------------------------------

families := ["ipv4", "ipv6"]

# Per family: the known CIDRs that parse, whether they cover the world, which entries make up
# the cover (the /0 ones when there are any, else all of the family), and whether some entry
# of that family is unknown until apply.
cover(rule, family) := {
	"world": world,
	"cidrs": world_cidrs(parsed),
	"unknown": family_unknown(rule, family),
} if {
	parsed := [{"text": e.text, "net": n} |
		some e in rule.cidrs
		e.known
		is_string(e.text)
		n := parse_cidr(e.text)
		n.family == family
	]
	world := covers_world([p.net | some p in parsed])
} else := {
	"world": false,
	"cidrs": [],
	"unknown": family_unknown(rule, family),
}

world_cidrs(parsed) := zero if {
	zero := [p.text | some p in parsed; p.net.prefix == 0]
	count(zero) > 0
} else := [p.text | some p in parsed]

family_unknown(rule, family) := count([e |
	some e in rule.cidrs
	not e.known
	entry_family_matches(e, family)
]) > 0

entry_family_matches(e, family) if family_of_attribute[e.attribute] == family

# A wholly unknown `ingress`, a wholly unknown planned state, or an unknown prefix list entry
# may hold either family.
entry_family_matches(e, _) if e.attribute in {"ingress", "after", "prefix_list_ids", "prefix_list_id"}

# A name in any case, or a number as the AWS provider reads it (Go's strconv.Atoi: a sign and
# leading zeros are allowed, so "06" and "+6" are TCP and "-01" is every protocol).
protocol_kind(p) := "all" if {
	regex.match(`^(all|-0*1)$`, lower(trim_space(p)))
} else := "tcp" if {
	regex.match(`^(tcp|\+?0*6)$`, lower(trim_space(p)))
} else := "udp" if {
	regex.match(`^(udp|\+?0*17)$`, lower(trim_space(p)))
} else := "other"

port_value(n) := n if {
	is_number(n)
	n >= 0
	n <= 65535
	floor(n) == n
}

# What a rule lets in, ignoring where from: {kind: nothing|all|ports, l4, from, to}, and
# whether that is certain (false when a TCP/UDP bound is unknown: then the widest possible).
exposure(rule) := {"kind": "unknown-protocol", "certain": false} if {
	not rule.protocol.known
} else := {"kind": "nothing", "certain": true} if {
	not is_string(rule.protocol.value)
} else := widest(protocol_kind(rule.protocol.value), rule.from_port, rule.to_port) if {
	protocol_kind(rule.protocol.value) in {"tcp", "udp"}
	not both_known(rule)
} else := object.union(exposure_of(protocol_kind(rule.protocol.value), rule.from_port.value, rule.to_port.value), {"certain": true}) if {
	both_known(rule)
} else := object.union(exposure_of(protocol_kind(rule.protocol.value), null, null), {"certain": true})

both_known(rule) if {
	rule.from_port.known
	rule.to_port.known
}

exposure_of(kind, from, to) := {"kind": "all"} if {
	kind == "all"
} else := e if {
	kind in {"tcp", "udp"}
	e := ported(kind, port_value(from), port_value(to))
} else := {"kind": "nothing"}

ported(l4, from, to) := {"kind": "ports", "l4": l4, "from": from, "to": to} if {
	from <= to
} else := {"kind": "nothing"}

widest(l4, from, to) := object.union(ported(l4, lo, hi), {"certain": false}) if {
	lo := widest_bound(from, 0)
	hi := widest_bound(to, 65535)
} else := {"kind": "nothing", "certain": false}

widest_bound(b, default_value) := default_value if not b.known

widest_bound(b, _) := port_value(b.value) if b.known

# The policy ports a rule opens (or could open): list of {protocol, from, to}.
hits(e, policy) := policy.ports if e.kind == "unknown-protocol"

hits(e, policy) := policy.ports if e.kind == "all"

hits(e, _) := [] if e.kind == "nothing"

hits(e, policy) := [{"protocol": spec.protocol, "from": lo, "to": hi} |
	some spec in policy.ports
	spec.protocol == e.l4
	lo := max([spec.from, e.from])
	hi := min([spec.to, e.to])
	lo <= hi
] if e.kind == "ports"

# "opens", "maybe" or "no".
port_match(rule, id) := {"kind": kind, "ports": ports} if {
	e := exposure(rule)
	ports := hits(e, policies[id])
	kind := match_kind(ports, e.certain)
}

match_kind(ports, _) := "no" if count(ports) == 0

match_kind(ports, certain) := "opens" if {
	count(ports) > 0
	certain
}

match_kind(ports, certain) := "maybe" if {
	count(ports) > 0
	not certain
}

port_text(p) := sprintf("%s/%d", [p.protocol, p.from]) if p.from == p.to

port_text(p) := sprintf("%s/%d-%d", [p.protocol, p.from, p.to]) if p.from != p.to

exposed(rule, id, family) if {
	rule.direction_known
	cover(rule, family).world
	port_match(rule, id).kind == "opens"
}

could_violate(rule, id) if {
	some family in families
	not exposed(rule, id, family)
	c := cover(rule, family)
	could_reach(c)
	port_match(rule, id).kind != "no"
	not exposed_any(rule, id)
}

could_reach(c) if c.world

could_reach(c) if c.unknown

exposed_any(rule, id) if {
	some family in families
	exposed(rule, id, family)
}

subject(rule) := sprintf("%s ingress[%d]", [rule.resource.address, rule.block]) if rule.block != null

subject(rule) := rule.resource.address if rule.block == null

traffic(rule) := sprintf("all traffic (protocol %s)", [rule.protocol.value]) if {
	rule.protocol.known
	is_string(rule.protocol.value)
	protocol_kind(rule.protocol.value) == "all"
} else := sprintf("%s %s", [rule.protocol.value, port_span(rule)]) if {
	rule.protocol.known
	is_string(rule.protocol.value)
} else := "protocol null" if {
	rule.protocol.known
} else := "an unknown protocol"

port_label(p) := "(unknown)" if not p.known

port_label(p) := "null" if {
	p.known
	p.value == null
}

port_label(p) := sprintf("%v", [p.value]) if {
	p.known
	p.value != null
}

port_span(rule) := port_label(rule.from_port) if port_label(rule.from_port) == port_label(rule.to_port)

port_span(rule) := sprintf("%s-%s", [port_label(rule.from_port), port_label(rule.to_port)]) if {
	port_label(rule.from_port) != port_label(rule.to_port)
}

# Every finding: PG001/PG002 ("exposed", one per rule, policy and family) and PG003
# ("unknown", one per rule).
findings contains f if {
	some rule in rules
	some id, policy in policies
	some family in families
	exposed(rule, id, family)
	c := cover(rule, family)
	ports := [port_text(p) | some p in port_match(rule, id).ports]
	f := {
		"rule_id": id,
		"kind": "exposed",
		"title": policy.title,
		"address": rule.resource.address,
		"resource_type": rule.resource.type,
		"object": rule.resource.key,
		"block": rule.block,
		"family": family,
		"cidrs": c.cidrs,
		"ports": ports,
		"related": [],
		"message": sprintf("%s allows %s from %s: %s (%s) is open to the internet", [
			subject(rule), traffic(rule), concat(", ", c.cidrs), policy.label, concat(", ", ports),
		]),
	}
}

findings contains f if {
	some rule in rules
	related := sort([id | some id, _ in policies; could_violate(rule, id)])
	count(related) > 0
	ports := [port_text(p) | some id in related; some p in port_match(rule, id).ports]
	f := {
		"rule_id": "PG003",
		"kind": "unknown",
		"title": "Values unknown until apply",
		"address": rule.resource.address,
		"resource_type": rule.resource.type,
		"object": rule.resource.key,
		"block": rule.block,
		"family": null,
		"cidrs": [],
		"ports": ports,
		"related": related,
		"message": sprintf("%s: %s unknown until apply, so it cannot be proven safe; it could violate %s", [
			subject(rule), unknown_what(rule), concat(" and ", [sprintf("%s %s", [id, policies[id].title]) | some id in related]),
		]),
	}
}

# ---- the group pass (src/policy/groups.rs) -----------------------------------------------
#
# AWS allows the union of every rule of a group. For each group, policy, family and guarded
# port, the known CIDRs of the rules that certainly open that port are unioned; where the union
# covers the family and no single rule does, every one of those rules gets a finding.

group_members := {g: members |
	some rule in rules
	g := rule.group
	g != null
	members := [m | some m in rules; m.group == g]
}

# The known CIDRs of a rule in one family, parsed.
family_nets(rule, family) := [n |
	some e in rule.cidrs
	e.known
	is_string(e.text)
	n := parse_cidr(e.text)
	n.family == family
]

opens_port(rule, id, l4, port) if {
	rule.direction_known
	m := port_match(rule, id)
	m.kind == "opens"
	some hit in m.ports
	hit.protocol == l4
	hit.from <= port
	port <= hit.to
}

# The rules of a group that open (l4, port) to some CIDR of `family`.
openers(g, id, family, l4, port) := [m |
	some m in group_members[g]
	opens_port(m, id, l4, port)
	count(family_nets(m, family)) > 0
]

# A port is covered by the group when the rules opening it still cover the family once the
# rules that cover it alone have given up what their own patches replace (world_indexes).
union_covers(g, id, family, l4, port) if {
	here := openers(g, id, family, l4, port)
	count(here) > 1
	covers_world([n | some m in here; some n in rest_nets(m, family)])
}

rest_nets(m, family) := [n |
	nets := family_nets(m, family)
	given_up := world_or_none(nets)
	some i, n in nets
	not i in given_up
]

world_or_none(nets) := w if {
	w := world_indexes(nets)
} else := set()

# The entries (indexes of `nets`, all of one family that they cover) a patch replaces: the /0
# entries, then public entries largest first while the rest still covers; without a /0 entry,
# all of them (src/policy/eval.rs, world_entries).
world_indexes(nets) := {i | some i, _ in nets} if {
	covers_world(nets)
	count(zero_indexes(nets)) == 0
}

world_indexes(nets) := removed if {
	covers_world(nets)
	zeros := zero_indexes(nets)
	count(zeros) > 0
	order := public_order(nets)
	ks := [k |
		some k in numbers.range(0, count(order))
		not covers_world(remaining_after(nets, first_k(zeros, order, k)))
	]
	removed := first_k(zeros, order, min(ks))
}

zero_indexes(nets) := {i | some i, n in nets; n.prefix == 0}

public_order(nets) := [pair[1] | some pair in sort([[n.prefix, i] | some i, n in nets; n.prefix > 0; is_public(n)])]

first_k(zeros, order, k) := zeros | {i | some j, i in order; j < k}

remaining_after(nets, removed) := [n | some i, n in nets; not i in removed]

# The guarded ports a rule opens where only its group's union covers the family.
union_ports(rule, id, family) := [sprintf("%s/%d", [spec.protocol, port]) |
	some spec in policies[id].ports
	some port in numbers.range(spec.from, spec.to)
	opens_port(rule, id, spec.protocol, port)
	count(family_nets(rule, family)) > 0
	union_covers(rule.group, id, family, spec.protocol, port)
]

findings contains f if {
	some rule in rules
	rule.group != null
	some id, policy in policies
	some family in families
	not exposed(rule, id, family)
	ports := union_ports(rule, id, family)
	count(ports) > 0
	cidrs := [e.text | some e in rule.cidrs; e.known; is_string(e.text); parse_cidr(e.text).family == family]
	f := {
		"rule_id": id,
		"kind": "exposed",
		"title": policy.title,
		"address": rule.resource.address,
		"resource_type": rule.resource.type,
		"object": rule.resource.key,
		"block": rule.block,
		"family": family,
		"cidrs": cidrs,
		"ports": ports,
		"related": [],
		"message": sprintf("%s allows %s from %s; with other rules of the same security group (%s) this covers all of %s, and AWS allows the union of a group's rules: %s (%s) is open to the internet", [
			subject(rule), traffic(rule), concat(", ", cidrs), rule.group, family, policy.label, concat(", ", ports),
		]),
	}
}

# A standalone rule whose group is undetermined, opening (or maybe opening) a guarded port to
# public CIDRs, could complete a cover in any group: PG003 (unless already PG003).
not_public := [
	"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "169.254.0.0/16",
	"fc00::/7", "fe80::/10",
]

is_public(c) if {
	every text in not_public {
		not inside(c, parse_cidr(text))
	}
}

inside(c, p) if {
	p.family == c.family
	p.prefix <= c.prefix
	contains_address(p, c.units)
}

findings contains f if {
	some rule in rules
	rule.group == null
	rule.block == null
	public := [e.text | some e in rule.cidrs; e.known; is_string(e.text); is_public(parse_cidr(e.text))]
	count(public) > 0
	count([id | some id, _ in policies; could_violate(rule, id)]) == 0
	related := sort([id | some id, _ in policies; port_match(rule, id).kind != "no"; not exposed_any(rule, id)])
	count(related) > 0
	f := {
		"rule_id": "PG003",
		"kind": "unknown",
		"title": "Values unknown until apply",
		"address": rule.resource.address,
		"resource_type": rule.resource.type,
		"object": rule.resource.key,
		"block": rule.block,
		"family": null,
		"cidrs": [],
		"ports": [port_text(p) | some id in related; some p in port_match(rule, id).ports],
		"related": related,
		"message": sprintf("%s: the security group it belongs to is unknown until apply, so it cannot be unioned with the group's other rules; it allows %s from public CIDRs (%s) and could violate %s", [
			subject(rule), traffic(rule), concat(", ", public), concat(" and ", [sprintf("%s %s", [id, policies[id].title]) | some id in related]),
		]),
	}
}

unknown_what(rule) := "its whole planned state is" if rule.whole_unknown == "state"

unknown_what(rule) := "its ingress rules are" if rule.whole_unknown == true

unknown_what(rule) := sprintf("it allows %s and some values are", [traffic(rule)]) if rule.whole_unknown == false

# The text both entry points print for a finding.
render(f) := sprintf("%s %s: %s [%s]", [f.rule_id, f.address, f.message, f.title])
