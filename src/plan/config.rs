//! The plan's `configuration` section: what the user wrote, as Terraform summarises it.
//!
//! Only the parts portgate uses are typed: the module tree (`module_calls`, recursively), each
//! resource's address and its `expressions`, kept as raw JSON until a later stage asks for one
//! resource. Expressions tell a literal (`constant_value`) from a reference (`references`),
//! which is how an unknown CIDR can be traced back to the attribute it comes from.

use std::collections::BTreeMap;

use serde::Deserialize;

/// One module of the configuration (the root module, or the body of a `module` call). Holds
/// the resource blocks of the types the plan reader kept, and every module call.
#[derive(Debug, Default)]
pub struct ConfigModule {
    pub resources: Vec<ConfigResource>,
    pub module_calls: BTreeMap<String, ModuleCall>,
}

#[derive(Debug, Default)]
pub struct ModuleCall {
    pub source: Option<String>,
    pub module: Option<ConfigModule>,
}

/// A `resource` or `data` block as written (one per block, not per count/for_each instance).
#[derive(Debug)]
pub struct ConfigResource {
    /// Module-relative address: `aws_security_group.web`, `data.aws_vpc.main`.
    pub address: String,
    pub mode: Option<String>,
    pub resource_type: String,
    pub name: String,
    /// The block's `expressions` object, as raw JSON text: parsed only for a resource a rule
    /// needs it for.
    pub expressions: Option<Box<str>>,
}

impl ConfigModule {
    /// The module reached by following `module_calls` by name (`["net", "inner"]`).
    pub fn module(&self, call_names: &[String]) -> Option<&ConfigModule> {
        let mut module = self;
        for name in call_names {
            module = module.module_calls.get(name)?.module.as_ref()?;
        }
        Some(module)
    }

    /// The managed resource block `TYPE.NAME` of this module.
    pub fn managed_resource(&self, resource_type: &str, name: &str) -> Option<&ConfigResource> {
        self.resources.iter().find(|r| {
            r.mode.as_deref().unwrap_or("managed") == "managed"
                && r.resource_type == resource_type
                && r.name == name
        })
    }
}

/// One entry of `expressions`: a literal, or an expression with the references it makes.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
pub struct Expression {
    pub constant_value: Option<serde_json::Value>,
    #[serde(default)]
    pub references: Vec<String>,
}
