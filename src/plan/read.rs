//! Walks a plan document once, keeping only what later stages use.
//!
//! The walk follows Terraform's layout (`planned_values`, `resource_changes`, `configuration`,
//! in any order) and, for every resource, decides from its `type` whether to keep it:
//! - a resource of a kept type (the security group types) is captured whole, read into a
//!   [`PlannedResource`] exactly as a whole-file parse would, and offered to the caller's
//!   [`Collector`], which may drop it, take what it needs of it (the plan then keeps only its
//!   place), or leave it to the plan;
//! - any other resource is skipped at scanner speed; only its top-level planned string
//!   attributes that look like CIDRs are noted (see [`PlannedCidrs`]), because a security group
//!   rule may reference one (`cidr_blocks = [aws_vpc.main.cidr_block]`) and the reference can
//!   only be followed once `configuration`, which comes last, has been read.
//!
//! Memory therefore grows with the security group resources the collector leaves raw or holds
//! and with CIDR-valued attributes, not with the size of the plan. The configuration keeps the
//! blocks of the resources left raw only (when it comes after them, as Terraform writes it).

use std::collections::{HashMap, HashSet};
use std::io::Read;
use std::sync::Arc;

use serde::Deserialize;
use serde_json::value::RawValue;

use super::config::{ConfigModule, ConfigResource, ModuleCall};
use super::scan::{Mark, Scanner};
use super::unique_keys::{self, UniqueKeys};
use super::{
    Action, Collector, InputErrorKind, Keep, Offered, PlannedCidrs, PlannedResource, RawJson, Taken,
};

mod tfstate;

type Result<T> = std::result::Result<T, InputErrorKind>;

/// What the walk found, before the checks that tell a plan from its look-alikes.
#[derive(Default)]
pub(super) struct Document {
    pub format_version: Option<String>,
    pub terraform_version: Option<String>,
    pub errored: Option<bool>,
    pub complete: Option<bool>,
    /// `planned_values` is present and an object.
    pub has_planned_values: bool,
    pub has_resource_changes: bool,
    pub has_prior_state: bool,
    pub has_values: bool,
    pub has_lineage_or_serial: bool,
    pub is_log_line: bool,
    pub resources: Vec<PlannedResource>,
    pub configuration: Option<ConfigModule>,
    pub cidrs: PlannedCidrs,
    /// The root module's variable values (`variables.NAME.value`).
    pub variables: std::collections::BTreeMap<String, serde_json::Value>,
    /// The largest the scanner's window grew (it never shrinks): the reader's memory for the
    /// file itself.
    pub window: usize,
    /// Kept resources the filter dropped, each counted once.
    pub set_aside: usize,
    /// Where the resources the collector took go among `resources`.
    pub taken: Vec<Taken>,
    /// A `planned_values` resource read without decoding (see [`Walker::defer_planned`]) has
    /// no change record: the plan must be read again, decoding them all.
    pub deferred_missing: bool,
    /// A raw state's `version` (its JSON number's text), when reading a state.
    pub state_version: Option<String>,
    /// A raw state's `resources` list was read (reading a state).
    pub has_state_resources: bool,
    /// `encrypted_data` or `encryption_version`: an encrypted OpenTofu state or plan.
    pub encrypted: bool,
}

/// A kept resource of `planned_values`, in order: added at the end unless `resource_changes`
/// has it.
enum PlannedSlot {
    /// Boxed: most slots of a plan of rules are taken ones, which are small.
    Raw(Box<PlannedResource>),
    /// Taken by the collector (`key` is its [`address_key`]).
    Taken {
        /// The [`address_key`], in two halves: an `u128` would align the slot to 16 bytes.
        key: [u64; 2],
        token: u32,
        module_address: Option<Arc<str>>,
    },
}

pub(super) struct Walker<'k, R> {
    sc: Scanner<R>,
    keep: &'k dyn Fn(&str) -> Keep,
    /// The caller's collector, offered every kept resource once read (see
    /// `Plan::read_filtered`).
    collector: &'k mut dyn Collector,
    /// Keys of the `planned_values` resources the filter dropped: counted at the end unless
    /// `resource_changes` has them too.
    planned_set_aside: KeyLog,
    /// The `planned_values` resources the collector took, by key: told to it as superseded as
    /// soon as `resource_changes` has them.
    planned_taken: HashMap<u128, u32>,
    /// Keys ([`address_key`]) of the addresses of current objects of kept types in
    /// `resource_changes` (kept or dropped).
    changed: KeyLog,
    /// Whether managed resources of `planned_values` are only checked for their head (address,
    /// type, mode, name) and not decoded: Terraform writes a change record for every one of
    /// them, which supersedes it, so decoding it is wasted (it took half the time on a plan of
    /// rules). The caller can read the plan again (a file) should one lack its change record.
    defer_planned: bool,
    /// The keys of the managed resources of `planned_values` (of kept types), summed, decoded
    /// or not: a resource not decoded must have a change record. Terraform writes one for
    /// every resource of the planned state, and those are the current objects of
    /// `resource_changes` that are not deleted or forgotten (`superseding`, summed alike): two
    /// multisets of keys are equal exactly when their sums are (the keys are keyed hashes), so
    /// a plan of a million resources keeps two sums, not a key per resource. Should they
    /// differ (a plan made by hand, or cut down), the plan is read again with everything
    /// decoded.
    planned: KeySum,
    superseding: KeySum,
    /// How many resources of `planned_values` were not decoded.
    deferred: u64,
    /// Whether the current objects of `resource_changes` are logged in `changed`: only when
    /// some resource of `planned_values` was decoded, or before `planned_values` is read.
    log_changed: bool,
    /// Reading a state ([`Walker::reading_state`]): `values` is walked as `planned_values`
    /// and a raw state's `resources` are read (see `tfstate`).
    state: bool,
    /// Random keys for [`address_key`]: a plan cannot be written to make two addresses collide.
    hashers: [std::hash::RandomState; 2],
    key: Vec<u8>,
    scratch: Vec<u8>,
    /// Reused by [`read_kept`]: the members of the resource being read.
    members: unique_keys::Members,
    /// The resource the walk has just read in one pass ([`Walker::read_in_one_pass`]), for
    /// [`Walker::read_marked`] to take instead of reading its bytes again.
    read_ahead: Option<Kept>,
    doc: Document,
    /// Kept resources from `planned_values`, added at the end unless `resource_changes` has them.
    planned_only: Vec<PlannedSlot>,
    /// Kept data sources read into `prior_state` (a `data.aws_vpc` the plan's groups refer
    /// to), added at the end unless `resource_changes` has them.
    prior_data: Vec<PlannedResource>,
    /// True while `prior_state` is walked: its resources go to `prior_data`, data sources only.
    in_prior_state: bool,
    /// CIDR-like attributes from `planned_values`, used for addresses `resource_changes` lacks.
    planned_cidrs: HashMap<String, Vec<(String, String)>>,
    head: Head,
    /// One copy of each module address the taken resources name.
    module_addresses: HashSet<Arc<str>>,
    /// The module call names down to the configuration module being read.
    config_path: Vec<String>,
    /// The configuration blocks raw resources need (see `raw_blocks`); `None` keeps them all.
    config_needed: Option<HashSet<(Vec<String>, String, String)>>,
}

/// The fields of one resource the walk reads itself (the rest is skipped or captured). One
/// `Head` is reused for every resource, so skipping a resource allocates nothing.
#[derive(Default)]
struct Head {
    /// Raw (still escaped when `address_escaped`): decoded only when needed.
    address: Vec<u8>,
    address_escaped: bool,
    has_address: bool,
    resource_type: Vec<u8>,
    has_type: bool,
    /// `mode` is absent, null or `managed`.
    managed: bool,
    name: bool,
    /// A configuration block's name (raw, still escaped when `name_escaped`): whether the
    /// block is needed is decided from its head (see `Walker::config_resource`).
    name_text: Vec<u8>,
    name_escaped: bool,
    deposed: bool,
    change: bool,
    after_seen: bool,
    /// Whether its CIDR-like attributes are noted (see [`Keep::NotATarget`]); until the type is
    /// read, they are.
    note_cidrs: bool,
    /// Top-level CIDR-like strings of the planned state.
    cidrs: Vec<(String, String)>,
    /// Top-level attributes marked unknown (`after_unknown.X == true`), each followed by a 0.
    unknown: Vec<u8>,
}

impl Head {
    /// The address, unescaped (`for_each` keys are quoted: `aws_x.y[\"a\"]`).
    fn decoded_address(&self) -> Option<std::borrow::Cow<'_, str>> {
        if !self.address_escaped {
            return simdutf8::basic::from_utf8(&self.address)
                .ok()
                .map(std::borrow::Cow::Borrowed);
        }
        unescape(&self.address).map(std::borrow::Cow::Owned)
    }

    fn reset(&mut self) {
        self.address.clear();
        self.address_escaped = false;
        self.has_address = false;
        self.resource_type.clear();
        self.has_type = false;
        self.note_cidrs = true;
        self.managed = true;
        self.name = false;
        self.name_text.clear();
        self.name_escaped = false;
        self.deposed = false;
        self.change = false;
        self.after_seen = false;
        self.cidrs.clear();
        self.unknown.clear();
    }

    /// The CIDR-like attributes that are known (not also marked unknown), if the resource is a
    /// current managed object: what a reference to it can resolve to.
    fn known_cidrs(&mut self) -> Option<(String, Vec<(String, String)>)> {
        if !self.managed || self.deposed || self.cidrs.is_empty() {
            return None;
        }
        let unknown = &self.unknown;
        self.cidrs.retain(|(attribute, _)| {
            !unknown
                .split(|&b| b == 0)
                .any(|u| u == attribute.as_bytes())
        });
        if self.cidrs.is_empty() {
            return None;
        }
        Some((
            if self.address_escaped {
                let raw = format!("\"{}\"", String::from_utf8_lossy(&self.address));
                serde_json::from_str(&raw).ok()?
            } else {
                String::from_utf8_lossy(&self.address).into_owned()
            },
            std::mem::take(&mut self.cidrs),
        ))
    }
}

impl<'k, R: Read> Walker<'k, R> {
    pub fn new(
        sc: Scanner<R>,
        keep: &'k dyn Fn(&str) -> Keep,
        collector: &'k mut dyn Collector,
        defer_planned: bool,
    ) -> Self {
        Walker {
            defer_planned,
            state: false,
            planned: KeySum::default(),
            superseding: KeySum::default(),
            deferred: 0,
            log_changed: true,
            head: Head::default(),
            sc,
            keep,
            collector,
            planned_set_aside: KeyLog::default(),
            planned_taken: HashMap::new(),
            hashers: Default::default(),
            key: Vec::with_capacity(64),
            scratch: Vec::with_capacity(256),
            members: Default::default(),
            read_ahead: None,
            doc: Document::default(),
            planned_only: Vec::new(),
            prior_data: Vec::new(),
            in_prior_state: false,
            changed: KeyLog::default(),
            planned_cidrs: HashMap::new(),
            module_addresses: HashSet::new(),
            config_path: Vec::new(),
            config_needed: None,
        }
    }

    /// Reads a state instead of a plan (see `Plan::read_state`).
    pub fn reading_state(mut self) -> Self {
        self.state = true;
        self
    }

    pub fn document(mut self) -> Result<Document> {
        match self.sc.peek()? {
            None => return Err(InputErrorKind::Empty),
            Some(b'{') => {}
            Some(b'[') => return Err(InputErrorKind::NotAnObject { found: "an array" }),
            Some(b'"') => return Err(InputErrorKind::NotAnObject { found: "a string" }),
            Some(first) => {
                // Letters or a terminal escape: the human-readable output of `terraform plan`
                // (or `terraform show PLANFILE`) saved instead of its JSON.
                let text_like = first.is_ascii_alphabetic() || first == 0x1b;
                if let Err(e) = self.sc.skip() {
                    return Err(if text_like {
                        InputErrorKind::HumanReadablePlan
                    } else {
                        e
                    });
                }
                self.sc.expect_end()?;
                return Err(InputErrorKind::NotAnObject {
                    found: "a scalar value",
                });
            }
        }
        self.sc.enter()?;
        let mut first = true;
        let mut seen: HashSet<Vec<u8>> = HashSet::new();
        while self.sc.next_key(&mut first)? {
            self.sc.key(&mut self.key)?;
            let key = std::mem::take(&mut self.key);
            let result = self.top_level_member(&key, &mut seen);
            self.key = key;
            result?;
        }
        if self.doc.is_log_line {
            return Err(InputErrorKind::UiLogStream);
        }
        self.sc.expect_end()?;
        self.doc.window = self.sc.window_len();

        for cidrs in self.planned_cidrs.drain() {
            self.doc.cidrs.by_address.entry(cidrs.0).or_insert(cidrs.1);
        }
        let changed = std::mem::take(&mut self.changed).into_sorted();
        let changed = |key: &u128| changed.binary_search(key).is_ok();
        self.doc.deferred_missing = self.deferred > 0 && self.planned != self.superseding;
        for slot in std::mem::take(&mut self.planned_only) {
            match slot {
                PlannedSlot::Raw(resource) => {
                    if !changed(&address_key(&self.hashers, &resource.address)) {
                        self.doc.resources.push(*resource);
                    }
                }
                PlannedSlot::Taken {
                    key,
                    token,
                    module_address,
                } => {
                    let key = u128::from(key[0]) << 64 | u128::from(key[1]);
                    if !changed(&key) {
                        self.doc.taken.push(Taken {
                            before: self.doc.resources.len(),
                            token,
                            module_address,
                        });
                    }
                }
            }
        }
        self.doc.set_aside += std::mem::take(&mut self.planned_set_aside)
            .into_sorted()
            .iter()
            .filter(|key| !changed(key))
            .count();
        let known: HashSet<String> = self
            .doc
            .resources
            .iter()
            .map(|r| r.address.clone())
            .collect();
        self.doc.resources.extend(
            self.prior_data
                .drain(..)
                .filter(|r| !known.contains(&r.address)),
        );
        Ok(self.doc)
    }

    fn top_level_member(&mut self, key: &[u8], seen: &mut HashSet<Vec<u8>>) -> Result<()> {
        // Every key whose value (or presence) decides something. A duplicate is refused:
        // Terraform never writes one, and parsers disagree on which copy wins, so a plan could
        // look safe here and open to another tool.
        let read = matches!(
            key,
            b"format_version"
                | b"terraform_version"
                | b"planned_values"
                | b"resource_changes"
                | b"configuration"
                | b"errored"
                | b"complete"
                | b"prior_state"
                | b"variables"
        ) || (self.state && matches!(key, b"values" | b"version" | b"resources"));
        if read && !seen.insert(key.to_vec()) {
            return Err(self.sc.error_message(format!(
                "duplicate field `{}`",
                String::from_utf8_lossy(key)
            )));
        }
        let result = match key {
            b"format_version" => self.opt_string().map(|v| self.doc.format_version = v),
            b"terraform_version" => self.opt_string().map(|v| self.doc.terraform_version = v),
            b"errored" => self.opt_bool().map(|v| self.doc.errored = v),
            b"complete" => self.opt_bool().map(|v| self.doc.complete = v),
            b"planned_values" => {
                self.doc.has_planned_values = self.sc.peek()? == Some(b'{');
                self.planned_values("planned_values")
            }
            b"resource_changes" => {
                // Terraform and OpenTofu omit an empty `resource_changes` and never write it
                // as null: a null one is a document that only claims there is nothing to check.
                if self.sc.peek()? == Some(b'n') {
                    Err(self.sc.type_error(
                        "a list (Terraform omits `resource_changes` when nothing changes; it never writes null)",
                    ))
                } else {
                    self.doc.has_resource_changes = true;
                    self.resource_changes()
                }
            }
            b"configuration" => {
                // Read after both lists of resources (Terraform's order), the configuration
                // keeps only the blocks of resources left raw: the rest need none.
                let after_resources = [&b"planned_values"[..], b"resource_changes"]
                    .iter()
                    .all(|k| seen.contains(*k));
                self.configuration(after_resources)
            }
            b"variables" => self.variables(),
            b"values" if self.state => {
                self.doc.has_values = true;
                self.planned_values("values")
            }
            b"version" if self.state => self.state_version(),
            b"resources" if self.state => {
                self.doc.has_state_resources = true;
                self.state_resources()
            }
            _ => {
                if key == b"prior_state" {
                    self.doc.has_prior_state = true;
                    let walked = self.prior_state();
                    return walked.map_err(|e| with_path(e, "prior_state"));
                }
                match key {
                    b"values" => self.doc.has_values = true,
                    b"lineage" | b"serial" => self.doc.has_lineage_or_serial = true,
                    b"encrypted_data" | b"encryption_version" => self.doc.encrypted = true,
                    b"@level" | b"@message" => self.doc.is_log_line = true,
                    _ => {}
                }
                self.sc.skip()
            }
        };
        result.map_err(|e| with_path(e, &String::from_utf8_lossy(key)))
    }

    // ---- planned_values -----------------------------------------------------------------------

    /// `planned_values`, or `values` of `terraform show -json` of a state (`path`), whose
    /// `root_module` has the same layout, with deposed and tainted objects marked.
    fn planned_values(&mut self, path: &str) -> Result<()> {
        if !self.enter_object_or_null()? {
            return Ok(());
        }
        let mut first = true;
        while self.sc.next_key(&mut first)? {
            self.sc.key(&mut self.key)?;
            if self.key == b"root_module" {
                self.planned_module(&format!("{path}.root_module"))
                    .map_err(|e| with_path(e, "root_module"))?;
            } else {
                self.sc.skip()?;
            }
        }
        Ok(())
    }

    /// `variables`: every root variable's value for this plan, whatever set it (a default,
    /// tfvars, `-var`, `TF_VAR_`). Fixes compare it with the file they would patch.
    fn variables(&mut self) -> Result<()> {
        #[derive(serde::Deserialize)]
        struct Variable {
            #[serde(default)]
            value: serde_json::Value,
        }
        if self.sc.peek()? != Some(b'{') {
            return self.sc.skip();
        }
        let mark = self.sc.set_mark();
        self.sc.skip()?;
        let parsed = serde_json::from_slice::<std::collections::BTreeMap<String, Variable>>(
            self.sc.captured(mark),
        );
        self.sc.clear_mark(mark);
        // A shape portgate does not know just gives no values to compare with.
        if let Ok(variables) = parsed {
            self.doc.variables = variables
                .into_iter()
                .map(|(name, v)| (name, v.value))
                .collect();
        }
        Ok(())
    }

    /// `prior_state`: only its `values.root_module` tree is walked, for the data sources read
    /// during the plan (see [`Walker::prior_data`]).
    fn prior_state(&mut self) -> Result<()> {
        if !self.enter_object_or_null()? {
            return Ok(());
        }
        let mut first = true;
        while self.sc.next_key(&mut first)? {
            self.sc.key(&mut self.key)?;
            if self.key != b"values" {
                self.sc.skip()?;
                continue;
            }
            if !self.enter_object_or_null()? {
                continue;
            }
            let mut inner_first = true;
            while self.sc.next_key(&mut inner_first)? {
                self.sc.key(&mut self.key)?;
                if self.key == b"root_module" {
                    self.in_prior_state = true;
                    let walked = self.planned_module("prior_state.values.root_module");
                    self.in_prior_state = false;
                    walked.map_err(|e| with_path(e, "values.root_module"))?;
                } else {
                    self.sc.skip()?;
                }
            }
        }
        Ok(())
    }

    fn planned_module(&mut self, path: &str) -> Result<()> {
        if !self.enter_object_or_null()? {
            return Ok(());
        }
        let kept_before = self.planned_only.len();
        let prior_before = self.prior_data.len();
        let mut address = None;
        let mut first = true;
        while self.sc.next_key(&mut first)? {
            self.sc.key(&mut self.key)?;
            match self.key.as_slice() {
                b"address" => address = self.opt_string()?,
                b"resources" => {
                    self.list(|w, i| {
                        w.planned_resource(path, i)
                            .map_err(|e| with_path(e, &format!("[{i}]")))
                    })
                    .map_err(|e| with_path(e, "resources"))?;
                }
                b"child_modules" => {
                    self.list(|w, i| {
                        w.planned_module(&format!("{path}.child_modules[{i}]"))
                            .map_err(|e| with_path(e, &format!("[{i}]")))
                    })
                    .map_err(|e| with_path(e, "child_modules"))?;
                }
                _ => self.sc.skip()?,
            }
        }
        // `address` may follow `resources` (it does in Terraform's output).
        for slot in &mut self.planned_only[kept_before..] {
            match slot {
                PlannedSlot::Raw(resource) if resource.module_address.is_none() => {
                    resource.module_address.clone_from(&address);
                }
                PlannedSlot::Taken { module_address, .. } if module_address.is_none() => {
                    *module_address = shared(&mut self.module_addresses, address.as_deref());
                }
                _ => {}
            }
        }
        for resource in &mut self.prior_data[prior_before..] {
            if resource.module_address.is_none() {
                resource.module_address.clone_from(&address);
            }
        }
        Ok(())
    }

    fn planned_resource(&mut self, module_path: &str, index: usize) -> Result<()> {
        let Some(mark) = self.resource(Kind::Planned)? else {
            // Prior state holds values from before the plan: never what a reference resolves to.
            if !self.in_prior_state
                && let Some((address, cidrs)) = self.head.known_cidrs()
            {
                self.planned_cidrs.insert(address, cidrs);
            }
            return Ok(());
        };
        if self.in_prior_state && self.head.managed {
            // Only data sources are kept from the prior state (see below), so a managed
            // resource is not read: its grammar and the fields the walk reads were checked.
            self.sc.clear_mark(mark);
            return Ok(());
        }
        if self.defer_planned
            && !self.in_prior_state
            && self.head.managed
            && let Some(address) = self.head.decoded_address()
        {
            // Its change record will supersede it (see `defer_planned`).
            self.planned.add(address_key(&self.hashers, &address));
            self.deferred += 1;
            self.sc.clear_mark(mark);
            return Ok(());
        }
        let state = self.state;
        let parsed = self
            .read_marked(mark, Kind::Planned)
            .map(|kept| PlannedResource {
                module_address: None,
                managed: kept.mode.as_deref().unwrap_or("managed") == "managed",
                resource_type: kept.resource_type,
                name: kept.name,
                // A plan's planned values hold no deposed objects; a state's do.
                deposed: if state { kept.deposed } else { None },
                action: match (state, kept.tainted) {
                    (false, _) => Action::PlannedOnly,
                    (true, false) => Action::Existing,
                    (true, true) => Action::Tainted,
                },
                after: kept.after,
                after_unknown: None,
                from_planned_values: true,
                json_path: format!("{module_path}.resources[{index}]"),
                after_key: "values",
                address: kept.address,
            });
        let parsed = parsed?;
        if self.in_prior_state {
            // Managed objects of the prior state are what exists before the plan, not what
            // the plan makes: only data sources are kept from there.
            if !parsed.managed {
                self.prior_data.push(parsed);
            }
        } else {
            self.offer_planned(parsed);
        }
        Ok(())
    }

    /// Offers a resource of `planned_values` (or of a state) to the collector and keeps its
    /// slot, in order, until the end of the document.
    fn offer_planned(&mut self, parsed: PlannedResource) {
        if parsed.managed {
            self.planned
                .add(address_key(&self.hashers, &parsed.address));
        }
        match self.collector.offer(&parsed) {
            Offered::Keep => self.planned_only.push(PlannedSlot::Raw(Box::new(parsed))),
            Offered::SetAside => {
                let key = address_key(&self.hashers, &parsed.address);
                self.planned_set_aside.push(key);
            }
            Offered::Taken(token) => {
                let key = address_key(&self.hashers, &parsed.address);
                // Two resources of one address (a hand-made plan): the first stays until
                // the end, where it is dropped all the same if superseded.
                self.planned_taken.insert(key, token);
                // Known here for a raw state's resources; set by `planned_module` otherwise.
                let module_address =
                    shared(&mut self.module_addresses, parsed.module_address.as_deref());
                self.planned_only.push(PlannedSlot::Taken {
                    key: [(key >> 64) as u64, key as u64],
                    token,
                    module_address,
                });
            }
        }
    }

    // ---- resource_changes ---------------------------------------------------------------------

    fn resource_changes(&mut self) -> Result<()> {
        if self.doc.has_planned_values {
            self.log_changed = !self.planned_only.is_empty() || !self.planned_set_aside.is_empty();
        }
        self.list(|w, i| {
            w.resource_change(i)
                .map_err(|e| with_path(e, &format!("[{i}]")))
        })
    }

    fn resource_change(&mut self, index: usize) -> Result<()> {
        let mark = self.resource(Kind::Change)?;
        let known_cidrs = self.head.known_cidrs();
        if let Some((address, cidrs)) = known_cidrs {
            self.planned_cidrs.remove(&address);
            self.doc.cidrs.by_address.insert(address, cidrs);
        }
        let Some(mark) = mark else {
            return Ok(());
        };
        let parsed = self
            .read_marked(mark, Kind::Change)
            .map(|kept| PlannedResource {
                module_address: kept.module_address,
                managed: kept.mode.as_deref().unwrap_or("managed") == "managed",
                resource_type: kept.resource_type,
                name: kept.name,
                action: Action::from_actions(&kept.actions),
                after: kept.after,
                after_unknown: kept.after_unknown,
                from_planned_values: false,
                json_path: format!("resource_changes[{index}].change"),
                after_key: "after",
                deposed: kept.deposed,
                address: kept.address,
            });
        let resource = parsed?;
        if resource.deposed.is_none() {
            let key = address_key(&self.hashers, &resource.address);
            if self.log_changed {
                self.changed.push(key);
            }
            if resource.managed && !matches!(resource.action, Action::Delete | Action::Forget) {
                self.superseding.add(key);
            }
            if let Some(token) = self.planned_taken.remove(&key) {
                self.collector.superseded(token);
            }
        }
        match self.collector.offer(&resource) {
            Offered::Keep => self.doc.resources.push(resource),
            Offered::SetAside => self.doc.set_aside += 1,
            Offered::Taken(token) => self.doc.taken.push(Taken {
                before: self.doc.resources.len(),
                token,
                module_address: shared(
                    &mut self.module_addresses,
                    resource.module_address.as_deref(),
                ),
            }),
        }
        Ok(())
    }

    fn change(&mut self) -> Result<()> {
        self.enter_object()?;
        let mut first = true;
        let mut actions = false;
        while self.sc.next_key(&mut first)? {
            self.sc.key(&mut self.key)?;
            match self.key.as_slice() {
                b"actions" => {
                    actions = true;
                    self.list(|w, _| {
                        w.expect_string()
                            .and_then(|()| w.sc.skip_string().map(drop))
                    })
                    .map_err(|e| with_path(e, "actions"))?;
                }
                b"after" => {
                    self.planned_cidrs_of()?;
                    self.head.after_seen = true;
                }
                b"after_unknown" => self.unknown_attributes()?,
                _ => self.sc.skip()?,
            }
        }
        if !actions {
            return Err(self.sc.error_message("missing field `actions`".to_string()));
        }
        Ok(())
    }

    /// The `change` of a resource that is not kept: skipped in one pass, and walked again (a
    /// copy of it, rarely) only when its bytes hold something shaped like a CIDR.
    fn change_of_skipped_resource(&mut self) -> Result<()> {
        if self.sc.peek()? != Some(b'{') {
            return Err(self.sc.type_error("a map"));
        }
        let mark = self.sc.set_mark();
        let skipped = self.sc.skip();
        if skipped.is_ok() {
            let bytes = self.sc.captured(mark);
            if may_hold_cidr(bytes) {
                change_cidrs(bytes, &mut self.head.cidrs, &mut self.head.unknown);
                self.head.after_seen = true;
            }
        }
        self.sc.clear_mark(mark);
        skipped
    }

    /// Notes the top-level attributes of a planned state whose value is a CIDR-like string.
    /// The object is skipped in one pass; only when its bytes hold something shaped like a
    /// CIDR (rare: VPCs, subnets, rules) is it walked again attribute by attribute.
    fn planned_cidrs_of(&mut self) -> Result<()> {
        if self.sc.peek()? != Some(b'{') || !self.head.note_cidrs {
            return self.sc.skip();
        }
        let mark = self.sc.set_mark();
        let skipped = self.sc.skip();
        if skipped.is_ok() {
            let bytes = self.sc.captured(mark);
            if may_hold_cidr(bytes) {
                top_level_cidrs(bytes, &mut self.head.cidrs);
            }
        }
        self.sc.clear_mark(mark);
        skipped
    }

    /// Notes the top-level attributes `after_unknown` marks `true`; only needed when the
    /// planned state has CIDR-like attributes (or has not been seen yet).
    fn unknown_attributes(&mut self) -> Result<()> {
        if self.sc.peek()? != Some(b'{') || (self.head.after_seen && self.head.cidrs.is_empty()) {
            return self.sc.skip();
        }
        unknown_keys(&mut self.sc, &mut self.key, &mut self.head.unknown)
    }

    // ---- configuration ------------------------------------------------------------------------

    /// `filter`: every resource is read, so the blocks no raw resource is declared by can go.
    fn configuration(&mut self, filter: bool) -> Result<()> {
        if !self.enter_object_or_null()? {
            return Ok(());
        }
        if filter {
            self.config_needed = Some(self.raw_blocks());
        }
        let mut first = true;
        while self.sc.next_key(&mut first)? {
            self.sc.key(&mut self.key)?;
            if self.key == b"root_module" {
                self.doc.configuration = self
                    .config_module()
                    .map_err(|e| with_path(e, "root_module"))?;
            } else {
                self.sc.skip()?;
            }
        }
        Ok(())
    }

    fn config_module(&mut self) -> Result<Option<ConfigModule>> {
        if !self.enter_object_or_null()? {
            return Ok(None);
        }
        let mut module = ConfigModule::default();
        let mut first = true;
        while self.sc.next_key(&mut first)? {
            self.sc.key(&mut self.key)?;
            match self.key.as_slice() {
                b"resources" => {
                    self.list(|w, i| {
                        let resource = w
                            .config_resource()
                            .map_err(|e| with_path(e, &format!("[{i}]")))?;
                        module
                            .resources
                            .extend(resource.filter(|r| w.config_block_needed(r)));
                        Ok(())
                    })
                    .map_err(|e| with_path(e, "resources"))?;
                }
                b"module_calls" => {
                    let calls = self.module_calls(&mut module);
                    calls.map_err(|e| with_path(e, "module_calls"))?;
                }
                _ => self.sc.skip()?,
            }
        }
        Ok(Some(module))
    }

    fn module_calls(&mut self, module: &mut ConfigModule) -> Result<()> {
        if !self.enter_object_or_null()? {
            return Ok(());
        }
        let mut first = true;
        while self.sc.next_key(&mut first)? {
            self.sc.key(&mut self.key)?;
            let name = String::from_utf8_lossy(&self.key).into_owned();
            self.config_path.push(name);
            let call = self.module_call();
            let name = self.config_path.pop().unwrap_or_default();
            let call = call.map_err(|e| with_path(e, &name))?;
            module.module_calls.insert(name, call);
        }
        Ok(())
    }

    fn module_call(&mut self) -> Result<ModuleCall> {
        self.enter_object()?;
        let mut call = ModuleCall::default();
        let mut first = true;
        while self.sc.next_key(&mut first)? {
            self.sc.key(&mut self.key)?;
            match self.key.as_slice() {
                b"source" => {
                    call.source = self.opt_string().map_err(|e| with_path(e, "source"))?;
                }
                b"module" => {
                    call.module = self.config_module().map_err(|e| with_path(e, "module"))?;
                }
                _ => self.sc.skip()?,
            }
        }
        Ok(call)
    }

    /// The blocks (module call names, type, name) that declare the managed resources kept raw.
    fn raw_blocks(&self) -> HashSet<(Vec<String>, String, String)> {
        let planned = self.planned_only.iter().filter_map(|slot| match slot {
            PlannedSlot::Raw(resource) => Some(&**resource),
            PlannedSlot::Taken { .. } => None,
        });
        self.doc
            .resources
            .iter()
            .chain(planned)
            .filter(|r| r.managed)
            .filter_map(|r| {
                let calls = match &r.module_address {
                    Some(module) => super::address::module_call_names(module)?,
                    None => Vec::new(),
                };
                Some((calls, r.resource_type.clone(), r.name.clone()))
            })
            .collect()
    }

    /// Whether a configuration block is kept: a managed block some raw resource has (data
    /// blocks are never looked up), or any block when the resources are not all read yet.
    /// [`Walker::config_block_needed`] from the block's head alone, when that can tell it is
    /// not needed: a managed block (mode absent, null or `managed`) with a plain name.
    fn config_block_may_be_needed(&self) -> bool {
        let Some(needed) = &self.config_needed else {
            return true;
        };
        if !self.head.managed || self.head.name_escaped {
            return true; // read whole, and decided from what it reads
        }
        let (Ok(resource_type), Ok(name)) = (
            simdutf8::basic::from_utf8(&self.head.resource_type),
            simdutf8::basic::from_utf8(&self.head.name_text),
        ) else {
            return true;
        };
        needed.contains(&(
            self.config_path.clone(),
            resource_type.to_string(),
            name.to_string(),
        ))
    }

    fn config_block_needed(&self, block: &ConfigResource) -> bool {
        let Some(needed) = &self.config_needed else {
            return true;
        };
        block.mode.as_deref().unwrap_or("managed") == "managed"
            && needed.contains(&(
                self.config_path.clone(),
                block.resource_type.clone(),
                block.name.clone(),
            ))
    }

    fn config_resource(&mut self) -> Result<Option<ConfigResource>> {
        let Some(mark) = self.resource(Kind::Config)? else {
            return Ok(None);
        };
        if !self.config_block_may_be_needed() {
            // Not read at all: what the walk checks of it (repeated keys, the shape of its
            // fields) is about a block nothing looks up, like a resource of a type not kept.
            self.sc.clear_mark(mark);
            return Ok(None);
        }
        let parsed = self
            .read_marked(mark, Kind::Config)
            .map(|kept| ConfigResource {
                address: kept.address,
                mode: kept.mode,
                resource_type: kept.resource_type,
                name: kept.name,
                expressions: kept.after.map(|raw| raw.json),
            });
        parsed.map(Some)
    }

    /// Reads the whole resource that starts at `mark` from the window in one pass, when it is
    /// there, plain and valid: its key check's walk also proves its grammar and finds its
    /// members, and [`read_plain`] takes the fields from them, so the scanner need not walk
    /// the rest of it and [`read_kept`] need not walk it again. Only for the types whose
    /// fields the walk does not note ([`Keep::NotATarget`]: the security groups and rules
    /// portgate checks), where reading the rest of the resource would only check it. `None` leaves the cursor where it was: the walk goes on
    /// token by token, and anything amiss gets the same error as ever.
    fn read_in_one_pass(&mut self, mark: Mark, kind: Kind) -> Option<Kept> {
        let depth = self.sc.depth().checked_sub(1)?;
        let max_depth = super::scan::MAX_DEPTH.checked_sub(depth)?;
        let window = self.sc.window_from(mark);
        let end = unique_keys::members_of_object(window, &mut self.members, max_depth)?;
        let base = self.sc.position_of(mark.offset);
        let window = self.sc.window_from(mark);
        let kept = kept_from_members(&window[..end], base, kind, &self.members)?;
        self.sc.leave_object_at(mark.offset + end as u64);
        Some(kept)
    }

    /// Reads the kept resource under `mark` (see [`read_kept`]) and releases its bytes.
    fn read_marked(&mut self, mark: Mark, kind: Kind) -> Result<Kept> {
        if let Some(kept) = self.read_ahead.take() {
            self.sc.clear_mark(mark);
            return Ok(kept);
        }
        let base = self.sc.position_of(mark.offset);
        let kept = read_kept(self.sc.captured(mark), base, kind, &mut self.members);
        self.sc.clear_mark(mark);
        kept
    }

    // ---- one resource -------------------------------------------------------------------------

    /// Walks one resource object into `self.head`. Returns a mark over its bytes when its
    /// type is kept (the caller deserializes and releases it).
    fn resource(&mut self, kind: Kind) -> Result<Option<Mark>> {
        if self.sc.peek()? != Some(b'{') {
            return Err(self.sc.type_error("a map"));
        }
        let mut mark = Some(self.sc.set_mark());
        self.sc.enter()?;
        self.head.reset();
        self.read_ahead = None;
        // The keys read here decide whether the resource is kept at all, so a repeated one is
        // refused even in a resource that is then skipped: with two `type`s, the plan could be a
        // security group to one reader and a bucket to another.
        let mut read_keys = 0u8;
        let mut first = true;
        while self.sc.next_key(&mut first)? {
            self.sc.key(&mut self.key)?;
            if let Some(i) = HEAD_KEYS.iter().position(|k| k.as_bytes() == self.key) {
                if read_keys & (1 << i) != 0 {
                    if let Some(m) = mark {
                        self.sc.clear_mark(m);
                    }
                    let key = HEAD_KEYS[i];
                    return Err(self.sc.error_message(format!("duplicate field `{key}`")));
                }
                read_keys |= 1 << i;
            }
            match self.key.as_slice() {
                b"address" => {
                    self.expect_string().map_err(|e| with_path(e, "address"))?;
                    self.head.address.clear();
                    self.head.address_escaped = self.sc.raw_string_into(&mut self.head.address)?;
                    self.head.has_address = true;
                }
                b"type" => {
                    self.expect_string().map_err(|e| with_path(e, "type"))?;
                    self.head.resource_type.clear();
                    if self.sc.raw_string_into(&mut self.head.resource_type)? {
                        // An escaped type name (never seen in practice): decode it.
                        let decoded = unescape(&self.head.resource_type).unwrap_or_default();
                        self.head.resource_type = decoded.into_bytes();
                    }
                    self.head.has_type = true;
                    let keep = simdutf8::basic::from_utf8(&self.head.resource_type)
                        .map_or(Keep::Skip, |t| (self.keep)(t));
                    self.head.note_cidrs = keep != Keep::NotATarget;
                    // (Not a planned twin that will be deferred, nor a managed resource of
                    // the prior state: those are only checked, at the scanner's speed.)
                    let decoded = kind == Kind::Change
                        || (kind == Kind::Planned && !self.defer_planned && !self.in_prior_state);
                    if let (Keep::NotATarget, Some(m), true) = (keep, mark, decoded)
                        && let Some(kept) = self.read_in_one_pass(m, kind)
                    {
                        // The cursor is past the resource, and it had every field.
                        self.read_ahead = Some(kept);
                        return Ok(mark);
                    }
                    if keep == Keep::Skip {
                        // Not kept: let the window slide over the rest of it.
                        if let Some(m) = mark.take() {
                            self.sc.clear_mark(m);
                        }
                    }
                }
                b"name" => {
                    self.expect_string().map_err(|e| with_path(e, "name"))?;
                    if kind == Kind::Config {
                        self.head.name_escaped =
                            self.sc.raw_string_into(&mut self.head.name_text)?;
                    } else {
                        self.sc.skip_string()?;
                    }
                    self.head.name = true;
                }
                b"mode" => {
                    if self.sc.peek()? == Some(b'n') {
                        self.sc.skip()?;
                    } else {
                        self.expect_string().map_err(|e| with_path(e, "mode"))?;
                        self.scratch.clear();
                        let escaped = self.sc.raw_string_into(&mut self.scratch)?;
                        // `managed` has no escaped spelling worth decoding: an escaped mode is
                        // not "managed" (nor does it matter: only managed resources are read).
                        self.head.managed = !escaped && self.scratch == b"managed";
                    }
                }
                b"deposed" if kind == Kind::Change => {
                    self.head.deposed = self.sc.peek()? != Some(b'n');
                    self.sc.skip()?;
                }
                b"change" if kind == Kind::Change => {
                    self.head.change = true;
                    let read = if mark.is_none() && self.head.has_type {
                        self.change_of_skipped_resource()
                    } else {
                        self.change()
                    };
                    read.map_err(|e| with_path(e, "change"))?;
                }
                b"values" if kind == Kind::Planned => self.planned_cidrs_of()?,
                _ => self.sc.skip()?,
            }
        }
        let missing = if !self.head.has_address {
            Some("address")
        } else if !self.head.has_type {
            Some("type")
        } else if !self.head.name {
            Some("name")
        } else if kind == Kind::Change && !self.head.change {
            Some("change")
        } else {
            None
        };
        if let Some(field) = missing {
            if let Some(m) = mark {
                self.sc.clear_mark(m);
            }
            return Err(self.sc.error_message(format!("missing field `{field}`")));
        }
        Ok(mark)
    }

    // ---- small values -------------------------------------------------------------------------

    /// Calls `element` for each element of the list under the cursor (`null` is an empty list).
    fn list(&mut self, mut element: impl FnMut(&mut Self, usize) -> Result<()>) -> Result<()> {
        match self.sc.peek()? {
            Some(b'[') => {}
            Some(b'n') => return self.sc.skip(),
            _ => return Err(self.sc.type_error("a list")),
        }
        self.sc.enter()?;
        let mut first = true;
        let mut index = 0;
        while self.sc.next_element(&mut first)? {
            element(self, index)?;
            index += 1;
        }
        Ok(())
    }

    fn enter_object(&mut self) -> Result<()> {
        if self.sc.peek()? != Some(b'{') {
            return Err(self.sc.type_error("a map"));
        }
        self.sc.enter()
    }

    /// Enters the object under the cursor; false (having read it) for `null`.
    fn enter_object_or_null(&mut self) -> Result<bool> {
        match self.sc.peek()? {
            Some(b'n') => {
                self.sc.skip()?;
                Ok(false)
            }
            _ => self.enter_object().map(|()| true),
        }
    }

    fn expect_string(&mut self) -> Result<()> {
        if self.sc.peek()? != Some(b'"') {
            return Err(self.sc.type_error("a string"));
        }
        Ok(())
    }

    fn string(&mut self) -> Result<String> {
        self.expect_string()?;
        self.scratch.clear();
        self.sc.string_into(&mut self.scratch)?;
        // The scanner has checked the bytes are UTF-8.
        Ok(String::from_utf8_lossy(&self.scratch).into_owned())
    }

    fn opt_string(&mut self) -> Result<Option<String>> {
        match self.sc.peek()? {
            Some(b'n') => self.sc.skip().map(|()| None),
            _ => self.string().map(Some),
        }
    }

    fn opt_bool(&mut self) -> Result<Option<bool>> {
        match self.sc.peek()? {
            Some(b'n') => self.sc.skip().map(|()| None),
            Some(b @ (b't' | b'f')) => self.sc.skip().map(|()| Some(b == b't')),
            _ => Err(self.sc.type_error("true, false or null")),
        }
    }
}

/// A multiset of address keys, as their count and wrapping sum: two are equal when the
/// multisets are (but for a collision of keyed 128-bit hashes).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct KeySum {
    count: u64,
    sum: u128,
}

impl KeySum {
    fn add(&mut self, key: u128) {
        self.count += 1;
        self.sum = self.sum.wrapping_add(key);
    }
}

/// Address keys, only looked up once the whole document is read: logged in chunks (no hash
/// table, no doubling: 16 bytes a key), then sorted once.
#[derive(Default)]
struct KeyLog {
    chunks: Vec<Vec<u128>>,
}

impl KeyLog {
    const CHUNK: usize = 4096;

    fn push(&mut self, key: u128) {
        match self.chunks.last_mut() {
            Some(chunk) if chunk.len() < KeyLog::CHUNK => chunk.push(key),
            _ => {
                let mut chunk = Vec::with_capacity(KeyLog::CHUNK);
                chunk.push(key);
                self.chunks.push(chunk);
            }
        }
    }

    fn is_empty(&self) -> bool {
        self.chunks.is_empty()
    }

    /// The keys, sorted, without repeats.
    fn into_sorted(self) -> Vec<u128> {
        let mut keys: Vec<u128> = Vec::with_capacity(self.chunks.iter().map(Vec::len).sum());
        for chunk in self.chunks {
            keys.extend(chunk);
        }
        keys.sort_unstable();
        keys.dedup();
        keys
    }
}

/// The one copy of `address` in `addresses`.
fn shared(addresses: &mut HashSet<Arc<str>>, address: Option<&str>) -> Option<Arc<str>> {
    let address = address?;
    if let Some(known) = addresses.get(address) {
        return Some(known.clone());
    }
    let new: Arc<str> = Arc::from(address);
    addresses.insert(new.clone());
    Some(new)
}

/// The text of a JSON string's raw bytes (between its quotes) with its escapes decoded.
fn unescape(raw: &[u8]) -> Option<String> {
    unescape_quotes(raw)
        .or_else(|| serde_json::from_str(&format!("\"{}\"", String::from_utf8_lossy(raw))).ok())
}

/// The common escapes of an address (`aws_x.y["key"]` is written `aws_x.y[\"key\"]`) decoded
/// without serde_json: `\"`, `\\` and `\/`. `None` for any other escape, or bytes that are not
/// UTF-8 (the caller's general path decides those).
fn unescape_quotes(raw: &[u8]) -> Option<String> {
    let mut out = Vec::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(at) = memchr::memchr(b'\\', rest) {
        out.extend_from_slice(&rest[..at]);
        match rest.get(at + 1)? {
            &(b'"' | b'\\' | b'/') => out.push(rest[at + 1]),
            _ => return None,
        }
        rest = &rest[at + 2..];
    }
    out.extend_from_slice(rest);
    String::from_utf8(out).ok()
}

/// A 128-bit key of an address, from two randomly keyed hashers: sets of these stand in for
/// sets of addresses, at 16 bytes each whatever the address.
fn address_key(hashers: &[std::hash::RandomState; 2], address: &str) -> u128 {
    use std::hash::BuildHasher;
    (u128::from(hashers[0].hash_one(address)) << 64) | u128::from(hashers[1].hash_one(address))
}

/// Prefixes the JSON path of an error with the path of the value it happened in.
fn with_path(error: InputErrorKind, outer: &str) -> InputErrorKind {
    match error {
        InputErrorKind::Json {
            line,
            column,
            path,
            message,
        } => InputErrorKind::Json {
            line,
            column,
            path: if path.is_empty() {
                outer.to_string()
            } else if path.starts_with('[') {
                format!("{outer}{path}")
            } else {
                format!("{outer}.{path}")
            },
            message,
        },
        other => other,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// An element of `resource_changes`.
    Change,
    /// A resource of a `planned_values` module.
    Planned,
    /// A resource block of a `configuration` module.
    Config,
}

/// A CIDR-like string (`10.0.0.0/16`, `2001:db8::/56`): what a reference from a rule's CIDR
/// attribute can resolve to. Anything else is not kept.
fn looks_like_cidr(value: &[u8]) -> bool {
    let Some(slash) = value.iter().rposition(|&b| b == b'/') else {
        return false;
    };
    let (address, prefix) = (&value[..slash], &value[slash + 1..]);
    value.len() <= 49
        && !address.is_empty()
        && address
            .iter()
            .all(|b| b.is_ascii_hexdigit() || matches!(b, b'.' | b':'))
        && (1..=3).contains(&prefix.len())
        && prefix.iter().all(u8::is_ascii_digit)
}

/// Whether the raw JSON `bytes` may contain a string [`looks_like_cidr`] accepts: a `/` after
/// an address character and before one to three digits and the closing quote. A cheap test
/// that lets nearly every resource be skipped in one pass.
fn may_hold_cidr(bytes: &[u8]) -> bool {
    memchr::memchr_iter(b'/', bytes).any(|i| {
        let before_ok =
            i > 0 && (bytes[i - 1].is_ascii_hexdigit() || matches!(bytes[i - 1], b'.' | b':'));
        let digits = bytes[i + 1..]
            .iter()
            .take(4)
            .take_while(|b| b.is_ascii_digit())
            .count();
        before_ok && (1..=3).contains(&digits) && bytes.get(i + 1 + digits) == Some(&b'"')
    })
}

/// The top-level CIDR-like string attributes of the JSON object `bytes` (already validated).
fn top_level_cidrs(bytes: &[u8], out: &mut Vec<(String, String)>) {
    let mut sc = Scanner::for_slice(bytes);
    // The bytes were validated as they were skipped; a failure here cannot happen, and would
    // only mean fewer references resolved (reported as unknown), never a value made up.
    let _ = cidrs_in_object(&mut sc, out);
}

/// For the `change` object `bytes` (already validated): the CIDR-like attributes of `after`
/// and the attributes `after_unknown` marks `true` (each followed by a 0).
fn change_cidrs(bytes: &[u8], cidrs: &mut Vec<(String, String)>, unknown: &mut Vec<u8>) {
    let mut sc = Scanner::for_slice(bytes);
    let mut walk = || -> Result<()> {
        let mut key = Vec::new();
        sc.peek()?;
        sc.enter()?;
        let mut first = true;
        while sc.next_key(&mut first)? {
            sc.key(&mut key)?;
            match key.as_slice() {
                b"after" => cidrs_in_object(&mut sc, cidrs)?,
                b"after_unknown" if sc.peek()? == Some(b'{') => {
                    unknown_keys(&mut sc, &mut key, unknown)?;
                }
                _ => sc.skip()?,
            }
        }
        Ok(())
    };
    let _ = walk();
}

/// Reads the `after_unknown` object under the cursor (an object: the caller peeked `{`) and
/// appends each top-level key marked `true` to `out`, followed by a 0. The one walk of
/// `after_unknown` for the stream and for a captured `change`.
fn unknown_keys<R: std::io::Read>(
    sc: &mut Scanner<R>,
    key: &mut Vec<u8>,
    out: &mut Vec<u8>,
) -> Result<()> {
    sc.enter()?;
    let mut first = true;
    while sc.next_key(&mut first)? {
        sc.key(key)?;
        if sc.peek()? == Some(b't') {
            out.extend_from_slice(key);
            out.push(0);
        }
        sc.skip()?;
    }
    Ok(())
}

/// Reads the value under the cursor; when it is an object, notes its top-level CIDR-like
/// string attributes.
fn cidrs_in_object(sc: &mut Scanner<&[u8]>, out: &mut Vec<(String, String)>) -> Result<()> {
    if sc.peek()? != Some(b'{') {
        return sc.skip();
    }
    sc.enter()?;
    let mut key = Vec::new();
    let mut first = true;
    while sc.next_key(&mut first)? {
        sc.key(&mut key)?;
        if sc.peek()? != Some(b'"') {
            sc.skip()?;
            continue;
        }
        let mark = sc.set_mark();
        sc.skip_string()?;
        let value = sc.captured(mark);
        let value = &value[1..value.len() - 1];
        if looks_like_cidr(value) {
            out.push((
                String::from_utf8_lossy(&key).into_owned(),
                String::from_utf8_lossy(value).into_owned(),
            ));
        }
        sc.clear_mark(mark);
    }
    Ok(())
}

/// Line and column of byte `offset` of `bytes`, whose first byte is at `base`.
fn advance(bytes: &[u8], offset: usize, base: (usize, usize)) -> (usize, usize) {
    let before = &bytes[..offset.min(bytes.len())];
    match memchr::memrchr(b'\n', before) {
        None => (base.0, base.1 + offset),
        Some(last) => (
            base.0 + memchr::memchr_iter(b'\n', before).count(),
            offset - last,
        ),
    }
}

/// Keeps a raw value borrowed from `bytes` (which start at `base`) with its position.
fn locate(raw: &RawValue, bytes: &[u8], base: (usize, usize)) -> RawJson {
    let offset = (raw.get().as_ptr() as usize).saturating_sub(bytes.as_ptr() as usize);
    let (line, column) = advance(bytes, offset, base);
    RawJson {
        json: raw.get().into(),
        line,
        column,
    }
}

/// The fields of a kept resource the walk reads (`values`, or `change.after` and
/// `change.after_unknown`, or a configuration block's `expressions`, kept raw), whichever way
/// they were read.
#[derive(Debug, PartialEq)]
struct Kept {
    address: String,
    module_address: Option<String>,
    mode: Option<String>,
    resource_type: String,
    name: String,
    deposed: Option<String>,
    /// `tainted: true` (a resource of `terraform show -json` of a state).
    tainted: bool,
    actions: Vec<String>,
    after: Option<RawJson>,
    after_unknown: Option<RawJson>,
}

/// Reads a kept resource (of `planned_values`, `resource_changes` or the configuration, as
/// `kind` says) from its bytes, which start at `base`.
///
/// Usually in one pass: the key check's walk ([`unique_keys::members_if_unique`]) also finds
/// the spans of the resource's members and its `change`'s, and when each field is plain (a
/// string, or null where one may be missing) it is taken from there. Anything else
/// (a repeated key, an escape, a value of the wrong type, a missing field) is read by
/// `serde_json` as before, which gives the same fields or the error with its JSON path.
fn read_kept(
    bytes: &[u8],
    base: (usize, usize),
    kind: Kind,
    members: &mut unique_keys::Members,
) -> Result<Kept> {
    match read_plain(bytes, base, kind, members) {
        Some(kept) => Ok(kept),
        None => read_with_serde(bytes, base, kind),
    }
}

/// [`read_kept`] by `serde_json`: every case, every error.
fn read_with_serde(bytes: &[u8], base: (usize, usize), kind: Kind) -> Result<Kept> {
    let located = |raw: Option<&RawValue>| raw.map(|v| locate(v, bytes, base));
    if kind != Kind::Change {
        let raw = deserialize::<RawBlock>(bytes, base)?;
        return Ok(Kept {
            address: raw.address,
            module_address: None,
            mode: raw.mode,
            resource_type: raw.resource_type,
            name: raw.name,
            deposed: raw.deposed_key,
            tainted: raw.tainted.unwrap_or(false),
            actions: Vec::new(),
            after: located(if kind == Kind::Config {
                raw.expressions
            } else {
                raw.values
            }),
            after_unknown: None,
        });
    }
    let rc = deserialize::<RawResourceChange>(bytes, base)?;
    Ok(Kept {
        address: rc.address,
        module_address: rc.module_address,
        mode: rc.mode,
        resource_type: rc.resource_type,
        name: rc.name,
        deposed: rc.deposed,
        tainted: false,
        actions: rc.change.actions,
        after: located(rc.change.after),
        after_unknown: located(rc.change.after_unknown),
    })
}

/// [`read_kept`]'s one-pass reading; `None` leaves the resource to `serde_json`.
fn read_plain(
    bytes: &[u8],
    base: (usize, usize),
    kind: Kind,
    members: &mut unique_keys::Members,
) -> Option<Kept> {
    if !unique_keys::members_if_unique(bytes, members) {
        return None;
    }
    kept_from_members(bytes, base, kind, members)
}

/// The fields of the kept resource `bytes` from its `members` (see
/// [`unique_keys::members_if_unique`]); `None` when one is not plain.
fn kept_from_members(
    bytes: &[u8],
    base: (usize, usize),
    kind: Kind,
    members: &unique_keys::Members,
) -> Option<Kept> {
    let text = |(start, end): (usize, usize)| &bytes[start..end];
    let raw = |(start, end): (usize, usize)| -> Option<Option<RawJson>> {
        if text((start, end)) == b"null" {
            return Some(None);
        }
        let (line, column) = advance(bytes, start, base);
        let json = simdutf8::basic::from_utf8(text((start, end))).ok()?.into();
        Some(Some(RawJson { json, line, column }))
    };
    let (mut address, mut module_address, mut mode) = (None, None, None);
    let (mut resource_type, mut name, mut deposed) = (None, None, None);
    let (mut actions, mut after, mut after_unknown) = (None, None, None);
    let mut change = None;
    let mut tainted = false;
    for member in members.iter() {
        let key = text(member.key);
        if member.depth == 1 {
            let value = text(member.value);
            match (kind, key) {
                (_, b"address") => address = Some(json_string(value)?),
                (_, b"mode") => mode = optional_string(value)?,
                (_, b"type") => resource_type = Some(json_string(value)?),
                (_, b"name") => name = Some(json_string(value)?),
                (Kind::Planned, b"values") | (Kind::Config, b"expressions") => {
                    after = raw(member.value)?;
                }
                (Kind::Planned, b"deposed_key") => deposed = optional_string(value)?,
                (Kind::Planned, b"tainted") => {
                    tainted = match value {
                        b"true" => true,
                        b"false" | b"null" => false,
                        _ => return None,
                    }
                }
                (Kind::Change, b"module_address") => module_address = optional_string(value)?,
                (Kind::Change, b"deposed") => deposed = optional_string(value)?,
                (Kind::Change, b"change") if value.first() == Some(&b'{') => {
                    change = Some(member.value);
                }
                (Kind::Change, b"change") => return None,
                _ => {}
            }
        }
    }
    if kind == Kind::Change {
        let (start, end) = change?;
        // The `change` object's members (depth 2 within it; other objects' are skipped).
        for member in members
            .iter()
            .filter(|m| m.depth == 2 && m.value.0 > start && m.value.1 < end)
        {
            match text(member.key) {
                b"actions" => actions = Some(string_list(text(member.value))?),
                b"after" => after = raw(member.value)?,
                b"after_unknown" => after_unknown = raw(member.value)?,
                _ => {}
            }
        }
    }
    Some(Kept {
        address: address?,
        module_address,
        mode,
        resource_type: resource_type?,
        name: name?,
        deposed,
        tainted,
        actions: if kind == Kind::Change {
            actions?
        } else {
            Vec::new()
        },
        after,
        after_unknown,
    })
}

/// A JSON string value, decoded (by `serde_json` when it has an escape); `None` for anything
/// else.
fn json_string(value: &[u8]) -> Option<String> {
    let inner = value.strip_prefix(b"\"")?.strip_suffix(b"\"")?;
    if memchr::memchr(b'\\', inner).is_some() {
        return unescape_quotes(inner).or_else(|| serde_json::from_slice(value).ok());
    }
    simdutf8::basic::from_utf8(inner).ok().map(str::to_string)
}

/// `null` or a [`json_string`].
fn optional_string(value: &[u8]) -> Option<Option<String>> {
    if value == b"null" {
        Some(None)
    } else {
        json_string(value).map(Some)
    }
}

/// A list of [`json_string`]s (not null: serde refuses a null list).
fn string_list(value: &[u8]) -> Option<Vec<String>> {
    use super::scan::skip_space;
    let inner = value.strip_prefix(b"[")?.strip_suffix(b"]")?;
    let mut out = Vec::new();
    let mut pos = skip_space(inner, 0);
    while pos < inner.len() {
        if inner[pos] != b'"' {
            return None;
        }
        let (end, _) = super::scan::string_end_escaped(inner, pos + 1)?;
        out.push(json_string(&inner[pos..end])?);
        pos = skip_space(inner, end);
        match inner.get(pos) {
            None => break,
            Some(b',') => pos = skip_space(inner, pos + 1),
            Some(_) => return None,
        }
    }
    Some(out)
}

/// The keys of a resource the walk reads itself, before it knows whether to keep it.
const HEAD_KEYS: [&str; 7] = [
    "address", "type", "name", "mode", "deposed", "change", "values",
];

/// Deserializes a kept part of the plan (a resource, a configuration block), first refusing
/// an object in it that repeats a key (see [`UniqueKeys`]). The JSON path of an error is only
/// tracked when there is one: the value is read again for the message.
fn deserialize<'de, T: Deserialize<'de>>(bytes: &'de [u8], base: (usize, usize)) -> Result<T> {
    if unique_keys::may_repeat_a_key(bytes) {
        deserialize_as::<UniqueKeys>(bytes, base)?;
    }
    serde_json::from_slice(bytes).or_else(|_| deserialize_as(bytes, base))
}

fn deserialize_as<'de, T: Deserialize<'de>>(bytes: &'de [u8], base: (usize, usize)) -> Result<T> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let (inner_line, inner_column) = (e.inner().line(), e.inner().column());
        let (line, column) = if inner_line <= 1 {
            (base.0, base.1 + inner_column.saturating_sub(1))
        } else {
            (base.0 + inner_line - 1, inner_column)
        };
        InputErrorKind::Json {
            line,
            column,
            path: if path == "." { String::new() } else { path },
            message: super::describe_json_error(e.inner()),
        }
    })
}

/// A resource of `planned_values` (its `values`) or a configuration block (its `expressions`).
#[derive(Deserialize)]
struct RawBlock<'a> {
    address: String,
    mode: Option<String>,
    #[serde(rename = "type")]
    resource_type: String,
    name: String,
    #[serde(borrow)]
    values: Option<&'a RawValue>,
    #[serde(borrow)]
    expressions: Option<&'a RawValue>,
    /// A deposed object of `terraform show -json` of a state.
    deposed_key: Option<String>,
    tainted: Option<bool>,
}

#[derive(Deserialize)]
struct RawResourceChange<'a> {
    address: String,
    module_address: Option<String>,
    mode: Option<String>,
    #[serde(rename = "type")]
    resource_type: String,
    name: String,
    deposed: Option<String>,
    #[serde(borrow)]
    change: RawChange<'a>,
}

#[derive(Deserialize)]
struct RawChange<'a> {
    actions: Vec<String>,
    #[serde(borrow)]
    after: Option<&'a RawValue>,
    #[serde(borrow)]
    after_unknown: Option<&'a RawValue>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn walk(text: &str, keep: &dyn Fn(&str) -> bool) -> Document {
        let scanner = Scanner::new(text.as_bytes()).unwrap();
        let keep = |t: &str| if keep(t) { Keep::Yes } else { Keep::Skip };
        Walker::new(scanner, &keep, &mut super::super::KeepAll, false)
            .document()
            .unwrap()
    }

    /// A plan of `n` S3 buckets of about 2 KB each, and one security group at the end.
    fn big_plan(n: usize) -> String {
        let mut text = String::from(r#"{"format_version":"1.2","resource_changes":["#);
        let policy = r#"{\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"s3:GetObject\"}]}"#;
        for i in 0..n {
            text.push_str(&format!(
                r#"{{"address":"aws_s3_bucket.b{i}","mode":"managed","type":"aws_s3_bucket","name":"b{i}","change":{{"actions":["create"],"before":null,"after":{{"bucket":"{}","policy":"{policy}","cidr":"10.{}.0.0/16","n":[1,2.5,true,null]}},"after_unknown":{{"id":true}}}}}},"#,
                "x".repeat(1800),
                i % 256
            ));
        }
        text.push_str(r#"{"address":"aws_security_group.g","mode":"managed","type":"aws_security_group","name":"g","change":{"actions":["create"],"after":{"ingress":[]}}}]}"#);
        text
    }

    /// Counts what it is offered, keeping everything.
    #[derive(Default)]
    struct Counting {
        planned: usize,
        changes: usize,
    }

    impl Collector for Counting {
        fn offer(&mut self, resource: &PlannedResource) -> Offered {
            match resource.from_planned_values {
                true => self.planned += 1,
                false => self.changes += 1,
            }
            Offered::Keep
        }
        fn superseded(&mut self, _: u32) {}
    }

    /// With `defer_planned`, a managed resource of `planned_values` is not decoded (nor offered)
    /// when its change record follows; a data source always is; and one without a change record
    /// makes the document ask to be read again (`deferred_missing`), decoding everything.
    /// The quick decoder of addresses' escapes gives what serde_json gives, or leaves the
    /// string to it.
    #[test]
    fn address_escapes_decode_as_serde_json_decodes_them() {
        for raw in [
            r#"aws_security_group.g[\"web\"]"#,
            r#"module.m[\"a\\b\"].x[\"c\/d\"]"#,
            r#"plain"#,
            r#"\\"#,
        ] {
            let serde: String = serde_json::from_str(&format!("\"{raw}\"")).unwrap();
            assert_eq!(
                unescape_quotes(raw.as_bytes()).as_ref(),
                Some(&serde),
                "{raw}"
            );
            assert_eq!(unescape(raw.as_bytes()), Some(serde));
        }
        for raw in [r#"a\u0041"#, r#"tab\t"#, "\\"] {
            assert_eq!(unescape_quotes(raw.as_bytes()), None, "{raw}");
        }
        assert_eq!(unescape(br#"a\u0041\"b"#).as_deref(), Some("aA\"b"));
    }

    #[test]
    fn planned_resources_with_change_records_are_not_decoded_when_deferred() {
        let resource = |address: &str, mode: &str| {
            format!(
                r#"{{"address":"{address}","mode":"{mode}","type":"aws_security_group","name":"g","values":{{"ingress":[]}}}}"#
            )
        };
        let change = |address: &str| {
            format!(
                r#"{{"address":"{address}","mode":"managed","type":"aws_security_group","name":"g","change":{{"actions":["create"],"after":{{"ingress":[]}},"after_unknown":{{}}}}}}"#
            )
        };
        let plan = |planned: &[String], changes: &[String]| {
            format!(
                r#"{{"format_version":"1.2","planned_values":{{"root_module":{{"resources":[{}]}}}},"resource_changes":[{}]}}"#,
                planned.join(","),
                changes.join(",")
            )
        };
        let read = |text: &str, defer: bool| {
            let mut counting = Counting::default();
            let keep = |_: &str| Keep::Yes;
            let doc = Walker::new(
                Scanner::new(text.as_bytes()).unwrap(),
                &keep,
                &mut counting,
                defer,
            )
            .document()
            .unwrap();
            (doc.deferred_missing, counting.planned, counting.changes)
        };
        let twins = plan(
            &[
                resource("aws_security_group.a", "managed"),
                resource("data.aws_security_group.d", "data"),
                resource("aws_security_group.b", "managed"),
                resource(r#"aws_security_group.f[\"k\"]"#, "managed"),
            ],
            &[
                change("aws_security_group.b"),
                change(r#"aws_security_group.f[\"k\"]"#),
                change("aws_security_group.a"),
            ],
        );
        assert_eq!(
            read(&twins, true),
            (false, 1, 3),
            "only the data source is decoded"
        );
        assert_eq!(read(&twins, false), (false, 4, 3));
        // The same with `resource_changes` first (not Terraform's order, still a plan).
        let reversed = {
            let (head, rest) = twins.split_once(r#""planned_values":"#).unwrap();
            let (planned, changes) = rest.split_once(r#","resource_changes":"#).unwrap();
            format!(
                "{head}\"resource_changes\":{},\"planned_values\":{planned}}}",
                changes.strip_suffix('}').unwrap()
            )
        };
        assert_eq!(read(&reversed, true), (false, 1, 3), "{reversed}");
        let lone = plan(
            &[
                resource("aws_security_group.a", "managed"),
                resource("aws_security_group.c", "managed"),
            ],
            &[change("aws_security_group.a")],
        );
        assert_eq!(read(&lone, true), (true, 0, 1), "c has no change record");
        assert_eq!(read(&lone, false), (false, 2, 1));
        // Change records of objects the planned state does not hold (deleted, forgotten,
        // deposed) stand for no planned resource: the twins are still all found...
        let gone = |address: &str, actions: &str, deposed: &str| {
            format!(
                r#"{{"address":"{address}","mode":"managed","type":"aws_security_group","name":"g"{deposed},"change":{{"actions":{actions},"after":null,"after_unknown":{{}}}}}}"#
            )
        };
        let with_gone = plan(
            &[resource("aws_security_group.a", "managed")],
            &[
                gone("aws_security_group.x", r#"["delete"]"#, ""),
                change("aws_security_group.a"),
                gone("aws_security_group.y", r#"["forget"]"#, ""),
                gone(
                    "aws_security_group.a",
                    r#"["delete"]"#,
                    r#","deposed":"00000001""#,
                ),
            ],
        );
        assert!(!read(&with_gone, true).0, "{with_gone}");
        // ...and one resource's change record never stands for another's.
        let swapped = plan(
            &[
                resource("aws_security_group.a", "managed"),
                resource("aws_security_group.c", "managed"),
            ],
            &[
                change("aws_security_group.a"),
                change("aws_security_group.d"),
            ],
        );
        assert!(
            read(&swapped, true).0,
            "c has no change record, d no planned twin"
        );
    }

    #[test]
    fn the_window_stays_small_however_big_the_plan() {
        let text = big_plan(10_000); // about 20 MB
        assert!(text.len() > 20_000_000);
        let keep = |t: &str| t == "aws_security_group";
        let doc = walk(&text, &keep);
        assert_eq!(doc.resources.len(), 1);
        assert_eq!(doc.window, super::super::scan::WINDOW);
        assert_eq!(
            doc.cidrs.get("aws_s3_bucket.b7", "cidr"),
            Some("10.7.0.0/16")
        );
        assert_eq!(doc.cidrs.get("aws_s3_bucket.b7", "bucket"), None);
    }

    #[test]
    fn a_kept_resource_larger_than_the_window_is_captured_whole() {
        let big = "y".repeat(3 * super::super::scan::WINDOW);
        let text = format!(
            r#"{{"format_version":"1.2","resource_changes":[{{"address":"aws_security_group.g","mode":"managed","type":"aws_security_group","name":"g","change":{{"actions":["create"],"after":{{"description":"{big}","ingress":[]}}}}}}]}}"#
        );
        let doc = walk(&text, &|t| t == "aws_security_group");
        let after = doc.resources[0].after.as_ref().unwrap();
        assert!(after.get().contains(&big));
        assert_eq!(
            (after.line, after.column),
            (1, 174),
            "column of its opening brace"
        );
    }

    #[test]
    fn unknown_cidr_attributes_are_not_offered_for_references() {
        let text = r#"{"format_version":"1.2","resource_changes":[{"address":"aws_vpc.a","mode":"managed","type":"aws_vpc","name":"a","change":{"actions":["create"],"after":{"cidr_block":"10.0.0.0/16","ipv6":"2001:db8::/56"},"after_unknown":{"cidr_block":true}}},{"address":"aws_vpc.d","mode":"managed","type":"aws_vpc","name":"d","deposed":"00abc","change":{"actions":["delete"],"after":{"cidr_block":"10.9.0.0/16"}}},{"address":"data.aws_vpc.x","mode":"data","type":"aws_vpc","name":"x","change":{"actions":["read"],"after":{"cidr_block":"10.8.0.0/16"}}}]}"#;
        let doc = walk(text, &|_| false);
        assert_eq!(doc.cidrs.get("aws_vpc.a", "cidr_block"), None);
        assert_eq!(doc.cidrs.get("aws_vpc.a", "ipv6"), Some("2001:db8::/56"));
        assert_eq!(doc.cidrs.get("aws_vpc.d", "cidr_block"), None, "deposed");
        assert_eq!(
            doc.cidrs.get("data.aws_vpc.x", "cidr_block"),
            None,
            "data source"
        );
    }

    #[test]
    fn looks_like_cidr_accepts_cidrs_only() {
        for yes in [
            "10.0.0.0/16",
            "0.0.0.0/0",
            "2001:db8::/56",
            "::/0",
            "10.0.0.0/33",
        ] {
            assert!(looks_like_cidr(yes.as_bytes()), "{yes}");
        }
        for no in [
            "10.0.0.1",
            "vpc-0abc",
            "arn:aws:s3:::b/x",
            "",
            "a/b/c/g",
            "/16",
            "10.0.0.0/",
            "10.0.0.0/1234",
            "0a:/ff",
        ] {
            assert!(!looks_like_cidr(no.as_bytes()), "{no}");
        }
    }

    proptest::proptest! {
        /// The cheap pre-test never hides a CIDR-like top-level string.
        #[test]
        fn may_hold_cidr_never_misses_a_cidr(value in "[0-9a-f.:/]{1,12}(/[0-9]{1,4})?", key in "[a-z_]{1,8}") {
            let object = format!(r#"{{"x":[1,"a/b"],"{key}":"{value}","y":null}}"#);
            if looks_like_cidr(value.as_bytes()) {
                proptest::prop_assert!(may_hold_cidr(object.as_bytes()));
                let mut found = Vec::new();
                top_level_cidrs(object.as_bytes(), &mut found);
                proptest::prop_assert_eq!(found, vec![(key, value)]);
            }
        }
    }

    /// Members of a generated resource: each is a choice between spellings serde reads the
    /// same, spellings it refuses, and plain ones.
    fn resource_text() -> impl proptest::strategy::Strategy<Value = (String, Kind)> {
        use proptest::prelude::*;
        let pick = |options: &'static [&'static str]| proptest::sample::select(options.to_vec());
        let change = (
            pick(&[
                r#""actions":["create"]"#,
                r#""actions": ["delete", "create"]"#,
                r#""actions":[]"#,
                r#""actions":[5]"#,
                r#""actions":null"#,
                r#""actions":["cre\u0061te"]"#,
                "",
            ]),
            pick(&[
                r#""after":{"cidr_blocks":["0.0.0.0/0"],"from_port":445}"#,
                r#""after":null"#,
                r#""after" :  {"a":{"b":[1,{"c":"}"}]}} "#,
                r#""after":{"x":1,"x":2}"#,
                "",
            ]),
            pick(&[
                r#""after_unknown":{"id":true}"#,
                r#""after_unknown":null"#,
                r#""after_unknown":{"cidr_blocks":[false]}"#,
                r#""after_unknown":true"#,
                "",
            ]),
            pick(&[r#""before":{"x":1}"#, r#""before_sensitive":false"#, ""]),
        )
            .prop_map(|(a, b, c, d)| {
                let members: Vec<&str> =
                    [a, b, c, d].into_iter().filter(|m| !m.is_empty()).collect();
                format!("{{{}}}", members.join(","))
            });
        (
            pick(&[
                r#""address":"aws_security_group_rule.r[\"a\"]""#,
                r#""address":"aws_security_group_rule.r""#,
                r#""address":5"#,
                r#""address":null"#,
                "",
            ]),
            pick(&[
                r#""module_address":"module.m""#,
                r#""module_address":null"#,
                r#""module_address":7"#,
                "",
            ]),
            pick(&[
                r#""mode":"managed""#,
                r#""mode":"data""#,
                r#""mode":null"#,
                r#""mode":"m\u0061naged""#,
                "",
            ]),
            pick(&[
                r#""type":"aws_security_group_rule""#,
                r#""type":"aws_security_group_rule","type":"x""#,
            ]),
            pick(&[r#""name":"r""#, r#""name":"r\n""#, r#""name":[]"#, ""]),
            pick(&[
                r#""deposed":"00ab""#,
                r#""deposed":null"#,
                r#""deposed":1"#,
                "",
            ]),
            prop_oneof![
                change.prop_map(|c| format!(r#""change":{c}"#)),
                Just(r#""change":null"#.to_string()),
                Just(String::new())
            ],
            pick(&[
                r#""values":{"to_port":445}"#,
                r#""values":null"#,
                r#""values":[1]"#,
                r#""expressions":{"cidr_blocks":{"references":["var.x"]}}"#,
                r#""expressions":null"#,
                "",
            ]),
            pick(&[
                r#""index":0"#,
                r#""index":"a\"b""#,
                r#""provider_name":"registry.terraform.io/hashicorp/aws""#,
                "",
            ]),
            proptest::sample::select(vec![Kind::Change, Kind::Planned, Kind::Config]),
            any::<bool>(),
        )
            .prop_map(|(a, m, mo, t, n, d, c, v, x, kind, pretty)| {
                let members: Vec<String> = [a, m, mo, t, n, d, &c, v, x]
                    .into_iter()
                    .filter(|m| !m.is_empty())
                    .map(str::to_string)
                    .collect();
                let separator = if pretty { ",\n  " } else { "," };
                (format!("{{{}}}", members.join(separator)), kind)
            })
    }

    proptest::proptest! {
        /// The one-pass reading of a kept resource either leaves it to serde or reads exactly
        /// what serde reads, positions of `after` and `after_unknown` included.
        #[test]
        fn plain_reading_agrees_with_serde((text, kind) in resource_text(), line in 1usize..5, column in 1usize..9) {
            let mut members = unique_keys::Members::default();
            let base = (line, column);
            if let Some(plain) = read_plain(text.as_bytes(), base, kind, &mut members) {
                let exact = read_with_serde(text.as_bytes(), base, kind);
                proptest::prop_assert_eq!(Some(&plain), exact.as_ref().ok(), "{}", text);
            }
        }
    }

    /// What plans hold (escaped `for_each` keys in addresses included) is read in one pass.
    #[test]
    fn a_usual_resource_is_read_without_serde() {
        let text = r#"{"address":"module.m[\"a\"].aws_security_group_rule.r[\"x\"]","module_address":"module.m[\"a\"]","mode":"managed","type":"aws_security_group_rule","name":"r","index":"x",
            "change": {"actions": ["delete", "create"], "before": {"x": 1}, "after": {"cidr_blocks": ["0.0.0.0/0"]},
            "after_unknown": {"id": true}}}"#;
        let mut members = unique_keys::Members::default();
        let kept = read_plain(text.as_bytes(), (3, 5), Kind::Change, &mut members)
            .expect("read in one pass");
        assert_eq!(
            kept.address,
            r#"module.m["a"].aws_security_group_rule.r["x"]"#
        );
        assert_eq!(kept.module_address.as_deref(), Some(r#"module.m["a"]"#));
        assert_eq!(kept.actions, ["delete", "create"]);
        assert_eq!(
            Ok(&kept),
            read_with_serde(text.as_bytes(), (3, 5), Kind::Change).as_ref()
        );
        let after = kept.after.expect("after");
        assert_eq!(
            (after.get(), after.line, after.column),
            (r#"{"cidr_blocks": ["0.0.0.0/0"]}"#, 4, 86)
        );
    }
}
