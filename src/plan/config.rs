//! The plan's `configuration` section: what the user wrote, as Terraform summarises it.
//!
//! Only the parts portgate uses are typed: the module tree (`module_calls`, recursively), each
//! resource's address and its `expressions`, kept as raw JSON until a later stage asks for one
//! resource. Expressions tell a literal (`constant_value`) from a reference (`references`),
//! which is how an unknown CIDR can be traced back to the attribute it comes from.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::value::RawValue;

#[derive(Debug, Deserialize)]
pub struct RawConfiguration<'a> {
    #[serde(borrow)]
    pub root_module: Option<ConfigModule<'a>>,
}

/// One module of the configuration (the root module, or the body of a `module` call).
#[derive(Debug, Default, Deserialize)]
pub struct ConfigModule<'a> {
    #[serde(borrow, default)]
    pub resources: Vec<ConfigResource<'a>>,
    #[serde(borrow, default)]
    pub module_calls: BTreeMap<String, ModuleCall<'a>>,
    #[serde(borrow, default)]
    pub variables: BTreeMap<String, &'a RawValue>,
}

#[derive(Debug, Deserialize)]
pub struct ModuleCall<'a> {
    pub source: Option<String>,
    #[serde(borrow)]
    pub module: Option<ConfigModule<'a>>,
    #[serde(borrow)]
    pub expressions: Option<&'a RawValue>,
}

/// A `resource` or `data` block as written (one per block, not per count/for_each instance).
#[derive(Debug, Deserialize)]
pub struct ConfigResource<'a> {
    /// Module-relative address: `aws_security_group.web`, `data.aws_vpc.main`.
    pub address: String,
    pub mode: Option<String>,
    #[serde(rename = "type")]
    pub resource_type: String,
    pub name: String,
    #[serde(borrow)]
    pub expressions: Option<&'a RawValue>,
}

impl<'a> ConfigModule<'a> {
    /// The module reached by following `module_calls` by name (`["net", "inner"]`).
    pub fn module(&self, call_names: &[String]) -> Option<&ConfigModule<'a>> {
        let mut module = self;
        for name in call_names {
            module = module.module_calls.get(name)?.module.as_ref()?;
        }
        Some(module)
    }

    /// The managed resource block `TYPE.NAME` of this module.
    pub fn managed_resource(&self, resource_type: &str, name: &str) -> Option<&ConfigResource<'a>> {
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
