# HCP Terraform / Terraform Enterprise OPA policy set: point the policy set's "Policies path"
# at policies/rego (this file must be at the root of that path). The rules are in
# tfc/portgate.rego (package portgate.tfc), which evaluates lib/portgate.rego on input.plan.

policy "portgate-netbios-smb" {
  description       = "PG001/PG002: NetBIOS (TCP/UDP 137-139) or SMB (TCP/UDP 445) open to the world"
  query             = "data.portgate.tfc.deny"
  enforcement_level = "mandatory"
}

policy "portgate-unknown-until-apply" {
  description       = "PG003: a rule that could open NetBIOS/SMB to the world has values unknown until apply"
  query             = "data.portgate.tfc.warn"
  enforcement_level = "advisory"
}
