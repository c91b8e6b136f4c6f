//! The rules of taken resources (see [`super::intake`]), held compactly until the plan is read,
//! and the choice of those the rule set needs.
//!
//! **Held compactly.** A taken resource is kept as one postcard record (its
//! [`super::CheckedResource`], rules, group hint and VPC id, with each rule's JSON path left out:
//! it follows from the resource's), a few hundred bytes in a chunk of a shared arena rather
//! than a tree of allocations. A chunk is freed as soon as every record in it is superseded
//! (`planned_values` twins, once their change record is read).
//!
//! **Chosen.** Where rules may be set aside (no report lists every rule, no sources to prove
//! patches with), a held resource whose rules can take part in no finding is not put back in
//! the rule set: it is counted with the resources set aside, and a current group among them
//! leaves a [`SetAsideGroup`]. The argument, rule by rule of the policy stage:
//! - PG001/PG002 of one rule (its own CIDRs cover a family) and of a group (the union of its
//!   rules' CIDRs covers it) both need the union of the known CIDRs of the group's rules that
//!   may touch a guarded port to cover a family. That union is made per group once the plan
//!   is read (a group key names a group of the plan, or one outside it: [`Grouping`]), from the
//!   held records with a public CIDR and the rules of the resources left raw. A group whose
//!   union covers no family is not at risk.
//! - PG003 (unknown values, a group the plan cannot tell) and PG004 (a CIDR that does not
//!   parse) are about one rule: a resource with such a rule that may touch a guarded port is
//!   always kept, and so is one with a waiver tag (a stale waiver is reported), a deposed
//!   object, or a group id that two groups of the plan claim.
//!
//! So a resource is put back when it must be kept or when its group is at risk; every rule of
//! a group at risk is then there for the group pass, for the proofs of the fixes and for their
//! messages, exactly as if every rule had been kept.
//!
//! **Bounded.** Records past a budget are not held at all: a plan that can be read again is
//! read twice instead, and the second read holds only what the choice may need (see
//! [`super::spill`]).

use std::collections::{HashMap, HashSet};

use ipnet::IpNet;

use super::cidr::{self, Family};
use super::group::GroupHint;
use super::intake::TakenRules;
use super::spill::{Narrowing, Sketch, Units};
use super::{IngressRule, Known, SetAsideGroup};

/// Chunks of the arena: large enough to hold many records, small enough to be freed early.
const CHUNK: usize = 256 * 1024;

/// What [`super::group`] will key a rule's group by, before the plan tells which ids belong to
/// groups of the plan: a current group's address, or a known `security_group_id`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) enum GroupKey<'a> {
    Address(&'a str),
    Id(&'a str),
}

impl<'a> GroupKey<'a> {
    /// The key of a resource's rules, from its hint (`None`: the group is unknown, or a deposed
    /// object, which is a group of its own).
    pub(super) fn of(hint: &'a GroupHint, address: &'a str, deposed: bool) -> Option<Self> {
        match hint {
            GroupHint::Group { .. } if !deposed => Some(GroupKey::Address(address)),
            GroupHint::Group { .. } => None,
            GroupHint::Rule {
                id: Known::Known(Some(id)),
                ..
            } => Some(GroupKey::Id(id)),
            GroupHint::Rule {
                id: Known::Unknown,
                reference: Some(address),
            } => Some(GroupKey::Address(address)),
            GroupHint::Rule { .. } => None,
        }
    }
}

/// The known networks of one group's rules that may touch a guarded port, both families,
/// merged now and then (most groups have a few).
#[derive(Default)]
struct Union {
    nets: Vec<IpNet>,
    /// Length when last merged.
    merged: u32,
}

impl Union {
    fn add(&mut self, net: IpNet) {
        self.nets.push(net);
        if self.nets.len() >= 2 * self.merged as usize + 8 {
            self.nets = IpNet::aggregate(&self.nets);
            self.merged = self.nets.len() as u32;
        }
    }

    fn add_rule(&mut self, rule: &IngressRule) {
        for net in rule.known_nets() {
            self.add(net);
        }
    }

    fn clear(&mut self) {
        self.nets.clear();
        self.merged = 0;
    }

    fn covers_a_family(&self) -> bool {
        // `covers_world` reads only the networks of the family it is asked about.
        Family::ALL
            .iter()
            .any(|family| cidr::covers_world(&self.nets, *family))
    }
}

/// Where a held record is, and what the choice needs to know of it without reading it: 24
/// bytes, for every resource of a plan of rules.
struct Record {
    /// Its group key ([`GroupKey`]) hashed, when it has one (see [`Key`]).
    key_hash: u64,
    chunk: u32,
    start: u32,
    len: u32,
    /// Index of its type in [`super::RESOURCE_TYPES`] (`u8::MAX`: the type is in the record).
    kind: u8,
    flags: u8,
}

impl Record {
    /// Superseded or read back: its token may be given to a new record.
    const RELEASED: u8 = 1;
    const MUST_KEEP: u8 = 2;
    const CURRENT_GROUP: u8 = 4;
    /// Some rule that may touch a guarded port has a public CIDR: without one, no group it is
    /// in can cover a family on its account.
    const PUBLIC: u8 = 8;
    const HAS_KEY: u8 = 16;
    const KEY_IS_ID: u8 = 32;
    /// Its group is at risk (see [`Held::choose`]).
    const AT_RISK: u8 = 64;
    /// The resource has tags (waivers): a check reads them before it judges any finding.
    const TAGGED: u8 = 128;

    fn is(&self, flag: u8) -> bool {
        self.flags & flag != 0
    }

    fn set(&mut self, flag: u8, on: bool) {
        if on {
            self.flags |= flag;
        } else {
            self.flags &= !flag;
        }
    }

    fn key(&self) -> Option<Key> {
        self.is(Record::HAS_KEY).then_some(Key {
            hash: self.key_hash,
            is_id: self.is(Record::KEY_IS_ID),
        })
    }
}

/// A hashed [`GroupKey`]. Group names are compared by hash: two names that collide only
/// merge two unions, which can put a group at risk, never take one out of it.
#[derive(Clone, Copy)]
struct Key {
    hash: u64,
    is_id: bool,
}

/// Which group of the plan each group key names, by hash, once the plan is read: an id names
/// the group of the plan that has it, else a group outside the plan.
pub(super) struct Grouping {
    /// Which group of the plan each id names: (address, and whether another claims it).
    by_id: HashMap<u64, (u64, bool)>,
    /// The addresses of groups that claim an id another group claims too.
    claimed_twice: HashSet<u64>,
}

impl Grouping {
    /// The group a key names; `None`: an id two groups claim, or one of those groups.
    fn group_of(&self, key: Key) -> Option<u64> {
        if !key.is_id {
            return (!self.claimed_twice.contains(&key.hash)).then_some(key.hash);
        }
        match self.by_id.get(&key.hash) {
            None => Some(key.hash),
            Some((address, false)) => Some(*address),
            Some((_, true)) => None,
        }
    }

    /// The tag of a resource whose rules have group key `key` (`alone` without one).
    fn tag(&self, key: Option<Key>, alone: GroupTag) -> GroupTag {
        match key {
            None => alone,
            Some(key) => match self.group_of(key) {
                Some(group) => GroupTag::Group(group),
                None => GroupTag::Ambiguous,
            },
        }
    }
}

/// Which rules a resource's rules are judged with, as far as a check made in batches must know:
/// resources with one tag are evaluated in one batch (see [`super::Extraction`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum GroupTag {
    /// A group, by the hash of the address or id that names it.
    Group(u64),
    /// Rules whose group is an id two groups of the plan claim, and those groups: judged
    /// together.
    Ambiguous,
    /// A raw resource whose rules have no group key (an unknown group, a deposed object), by
    /// its place among the raw resources.
    Raw(u32),
    /// A held resource whose rules have no group key, by token.
    Held(u32),
}

impl GroupTag {
    /// The batch of `batches` this tag is evaluated in.
    pub(super) fn batch(self, batches: usize) -> usize {
        let n = batches.max(1) as u64;
        let spread = |x: u64| (x.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32) % n;
        (match self {
            GroupTag::Group(hash) => spread(hash),
            GroupTag::Ambiguous => 0,
            GroupTag::Raw(i) => spread(u64::from(i) ^ 0x5555),
            GroupTag::Held(t) => spread(u64::from(t)),
        }) as usize
    }
}

struct Chunk {
    bytes: Vec<u8>,
    live: u32,
    /// Bytes of its released records.
    released: usize,
}

/// What the holding does beyond holding (see `rules::spill`).
#[derive(Default)]
enum Spill {
    /// Hold every record.
    #[default]
    No,
    /// Hold every record until they take `budget` bytes, then sketch them instead.
    Above(usize),
    /// The first of two reads, past its budget: nothing is held; every record's networks go
    /// into the sketch, and the ids the current groups among them claim are kept.
    Sketching(Sketch),
    /// The second read: only records that may be needed are held.
    Narrowed(Narrowing),
}

/// The held records, by token.
#[derive(Default)]
pub(super) struct Held {
    chunks: Vec<Option<Chunk>>,
    records: Vec<Record>,
    /// Tokens of released records, given to new ones: a `planned_values` twin's token goes to
    /// its change record.
    free: Vec<u32>,
    /// The hashed id of each current group held with a known id, by token.
    group_ids: HashMap<u32, u64>,
    /// Bytes of live records, and of released records whose chunks are still there: the
    /// arena is compacted when the second passes a quarter of the first (see `compact`), so
    /// that it holds at most a quarter more than its live records (and a chunk).
    live_bytes: usize,
    released_bytes: usize,
    scratch: Vec<u8>,
    /// Random keys for the hashes of group names.
    hasher: std::hash::RandomState,
    spill: Spill,
    /// `(id, address)` hashed, of the current groups not held while sketching.
    claims: Vec<(u64, u64)>,
    /// What either read of a plan read twice offered, to tell that both read the same plan.
    seen: Seen,
}

/// How many resources were offered to be held, and a sum of their hashed keys, addresses and
/// network sizes: two reads of one plan see the same.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(super) struct Seen {
    count: u64,
    sum: u64,
}

impl Seen {
    fn note(&mut self, hash: u64) {
        self.count += 1;
        self.sum = self
            .sum
            .wrapping_add((hash ^ (hash >> 29)).wrapping_mul(0xBF58_476D_1CE4_E5B9));
    }
}

impl Held {
    /// Holds records until they take `budget` bytes, then only sketches them: the plan must
    /// then be read again (see [`Held::spilled`]).
    pub(super) fn spilling_above(budget: usize) -> Held {
        Held {
            spill: Spill::Above(budget),
            ..Held::default()
        }
    }

    /// Holds only the records a second read may need (see `rules::spill`).
    pub(super) fn narrowed(narrowing: Narrowing) -> Held {
        Held {
            hasher: narrowing.hasher.clone(),
            spill: Spill::Narrowed(narrowing),
            ..Held::default()
        }
    }

    /// Whether this, a second read, saw another plan than the first (see [`Seen`]).
    pub(super) fn saw_another_plan(&self) -> bool {
        match &self.spill {
            Spill::Narrowed(narrowing) => narrowing.first_read != self.seen,
            _ => false,
        }
    }

    /// Whether the records passed their budget: what was held is gone, and the plan must be
    /// read again with [`Held::narrowing`].
    pub(super) fn spilled(&self) -> bool {
        matches!(self.spill, Spill::Sketching(_))
    }

    /// Holds `taken` and returns its token. `concerns` (when rules may be set aside) says
    /// whether a rule may touch a guarded port; without it, every held resource is kept.
    /// A resource not held (see `rules::spill`) is counted as set aside: `Err` then gives the
    /// group it leaves, if a current group.
    pub(super) fn hold(
        &mut self,
        mut taken: TakenRules,
        concerns: Option<&dyn Fn(&IngressRule) -> bool>,
    ) -> Result<u32, Option<SetAsideGroup>> {
        let current_group =
            matches!(taken.hint, GroupHint::Group { .. }) && taken.resource.deposed.is_none();
        let key = GroupKey::of(
            &taken.hint,
            &taken.resource.address,
            taken.resource.deposed.is_some(),
        )
        .map(|key| self.key(&key));
        let id = match (&taken.hint, current_group) {
            (GroupHint::Group { id: Some(id) }, true) => Some(self.hash(id)),
            _ => None,
        };
        let tagged = !taken.resource.tags.is_empty();
        let (must_keep, public) = match concerns {
            Some(concerns) => {
                let concerning = || taken.rules.iter().filter(|rule| concerns(rule));
                (
                    !taken.resource.tags.is_empty()
                        || !taken.prefix_lists.is_empty()
                        || key.is_none()
                        || concerning().any(rule_must_be_kept),
                    concerning().any(has_public_cidr),
                )
            }
            None => (true, false),
        };
        if let (Some(concerns), false) = (concerns, matches!(self.spill, Spill::No)) {
            let units = Units::of_rules(&taken.rules, concerns);
            let address = self.hash(&taken.resource.address);
            self.seen
                .note(address ^ key.map_or(0, |k| k.hash).rotate_left(1) ^ units.bits());
            match &mut self.spill {
                Spill::No | Spill::Above(_) => {}
                Spill::Sketching(sketch) => {
                    if let Some(key) = key {
                        sketch.add(key.hash, units);
                    }
                    if let (Some(id), Some(key)) = (id, key) {
                        self.claims.push((id, key.hash));
                    }
                    return Err(None);
                }
                Spill::Narrowed(narrowing) => {
                    let needed = must_keep || key.is_none_or(|k| narrowing.may_be_at_risk(k.hash));
                    if !needed {
                        return Err(current_group.then(|| taken.into_set_aside_group()));
                    }
                }
            }
        }
        // What follows from the rest is left out of the record (see `read`): the rules' JSON
        // paths (the resource's), the resource's type (its index) and the JSON path of a
        // change record's planned state (its index in `resource_changes`).
        for rule in &mut taken.rules {
            rule.json_path = String::new();
        }
        let kind = super::RESOURCE_TYPES
            .iter()
            .position(|t| *t == taken.resource.resource_type)
            .map_or(u8::MAX, |i| i as u8);
        if kind != u8::MAX {
            taken.resource.resource_type = String::new();
        }
        if let Some(n) = change_index(&taken.resource.json_path) {
            taken.resource.json_path = format!("#{n}");
        }
        let mut scratch = std::mem::take(&mut self.scratch);
        scratch.clear();
        let scratch = postcard::to_extend(&taken, scratch)
            .expect("a rule record always serializes into a vector");
        let (chunk, start) = self.place(&scratch);
        self.live_bytes += scratch.len();
        let mut record = Record {
            key_hash: key.map_or(0, |k| k.hash),
            chunk,
            start,
            len: scratch.len() as u32,
            kind,
            flags: 0,
        };
        record.set(Record::MUST_KEEP, must_keep);
        record.set(Record::CURRENT_GROUP, current_group);
        record.set(Record::PUBLIC, public);
        record.set(Record::HAS_KEY, key.is_some());
        record.set(Record::KEY_IS_ID, key.is_some_and(|k| k.is_id));
        record.set(Record::TAGGED, tagged);
        self.scratch = scratch;
        let token = match self.free.pop() {
            Some(token) => {
                self.records[token as usize] = record;
                token
            }
            None => {
                self.records.push(record);
                (self.records.len() - 1) as u32
            }
        };
        if let Some(id) = id {
            self.group_ids.insert(token, id);
        }
        if let (Spill::Above(budget), Some(concerns)) = (&self.spill, concerns)
            && self.footprint() > *budget
        {
            self.start_sketching(concerns);
        }
        Ok(token)
    }

    /// What the held records cost, about: their bytes in the arena (with released ones not yet
    /// compacted away), their entries in the records table, and the place the plan keeps for
    /// each ([`crate::plan::Taken`]).
    fn footprint(&self) -> usize {
        let per_record = std::mem::size_of::<Record>() + std::mem::size_of::<crate::plan::Taken>();
        self.live_bytes + self.released_bytes + self.records.len() * per_record
    }

    /// Moves every live record into a new sketch, with the ids of the current groups among
    /// them, and forgets them all: their tokens are never read back or given out again.
    fn start_sketching(&mut self, concerns: &dyn Fn(&IngressRule) -> bool) {
        let mut sketch = Sketch::new();
        for token in 0..self.records.len() as u32 {
            let record = &self.records[token as usize];
            if record.is(Record::RELEASED) {
                continue;
            }
            if let Some(key) = record.key() {
                sketch.add(key.hash, Units::of_rules(&self.read(token).rules, concerns));
                if let Some(id) = self.group_ids.get(&token) {
                    self.claims.push((*id, key.hash));
                }
            }
        }
        self.spill = Spill::Sketching(sketch);
        self.chunks = Vec::new();
        self.records = Vec::new();
        self.free = Vec::new();
        self.group_ids = HashMap::new();
        self.live_bytes = 0;
        self.released_bytes = 0;
    }

    /// What the second read needs (see `rules::spill`), once a read that spilled is over:
    /// `raw_groups` and `set_aside` as for [`Held::grouping`], `raw` the rules of the
    /// resources left raw that may touch a guarded port, with their group keys.
    pub(super) fn narrowing(
        self,
        raw_groups: &[(&str, &str)],
        set_aside: &[SetAsideGroup],
        raw: &[(GroupKey<'_>, &IngressRule)],
        concerns: &dyn Fn(&IngressRule) -> bool,
    ) -> Narrowing {
        let grouping = self.grouping(raw_groups, set_aside);
        let raw: Vec<(u64, Units)> = raw
            .iter()
            .map(|(key, rule)| (self.key(key).hash, Units::of_rules([*rule], concerns)))
            .collect();
        let Spill::Sketching(mut sketch) = self.spill else {
            panic!("only a read that spilled is narrowed");
        };
        for (hash, units) in raw {
            sketch.add(hash, units);
        }
        Narrowing::new(
            sketch,
            &grouping.by_id,
            &grouping.claimed_twice,
            self.hasher,
            self.seen,
        )
    }

    /// Live records.
    pub(super) fn len(&self) -> usize {
        self.records.len() - self.free.len()
    }

    /// Bytes the held records take: their chunks of the arena, the records' table and the
    /// ids of the groups among them.
    pub(super) fn bytes(&self) -> usize {
        let chunks: usize = self
            .chunks
            .iter()
            .flatten()
            .map(|c| c.bytes.capacity())
            .sum();
        chunks
            + self.records.capacity() * std::mem::size_of::<Record>()
            + self.free.capacity() * 4
            + self.group_ids.capacity() * 16
    }

    fn hash(&self, name: &str) -> u64 {
        std::hash::BuildHasher::hash_one(&self.hasher, name)
    }

    fn key(&self, key: &GroupKey<'_>) -> Key {
        match key {
            GroupKey::Address(address) => Key {
                hash: self.hash(address),
                is_id: false,
            },
            GroupKey::Id(id) => Key {
                hash: self.hash(id),
                is_id: true,
            },
        }
    }

    /// Copies a record into the arena: (chunk, start).
    fn place(&mut self, record: &[u8]) -> (u32, u32) {
        let fits = matches!(
            self.chunks.last(),
            Some(Some(chunk)) if chunk.bytes.len() + record.len() <= chunk.bytes.capacity()
        );
        if !fits {
            self.chunks.push(Some(Chunk {
                bytes: Vec::with_capacity(CHUNK.max(record.len())),
                live: 0,
                released: 0,
            }));
        }
        let index = self.chunks.len() - 1;
        let chunk = self.chunks[index].as_mut().expect("the last chunk is open");
        let start = chunk.bytes.len();
        chunk.bytes.extend_from_slice(record);
        chunk.live += 1;
        (index as u32, start as u32)
    }

    /// Forgets a record (superseded): its chunk goes when nothing else in it is live, and the
    /// arena is compacted when released records take too much of it.
    pub(super) fn release(&mut self, token: u32) {
        let Some(record) = self
            .records
            .get_mut(token as usize)
            .filter(|r| !r.is(Record::RELEASED))
        else {
            return;
        };
        record.set(Record::RELEASED, true);
        self.free.push(token);
        self.group_ids.remove(&token);
        self.live_bytes -= record.len as usize;
        self.released_bytes += record.len as usize;
        let slot = &mut self.chunks[record.chunk as usize];
        if let Some(chunk) = slot {
            chunk.live -= 1;
            chunk.released += record.len as usize;
            if chunk.live == 0 {
                self.released_bytes -= chunk.released;
                *slot = None; // the next record opens a new chunk
            }
        }
        if self.released_bytes > CHUNK * 4 && self.released_bytes > self.live_bytes / 4 {
            self.compact();
        }
    }

    /// Moves the live records into new chunks, in the order they were written in, freeing
    /// each old chunk once passed: the arena never holds more than the live records and one
    /// chunk more than it will hold after.
    fn compact(&mut self) {
        let mut old = std::mem::take(&mut self.chunks);
        let mut passed = 0;
        let mut live: Vec<u32> = (0..self.records.len() as u32)
            .filter(|&t| !self.records[t as usize].is(Record::RELEASED))
            .collect();
        live.sort_unstable_by_key(|&t| {
            (
                self.records[t as usize].chunk,
                self.records[t as usize].start,
            )
        });
        for token in live {
            let token = token as usize;
            let record = &self.records[token];
            let (from, start, end) = (
                record.chunk as usize,
                record.start as usize,
                (record.start + record.len) as usize,
            );
            if from > passed {
                for chunk in &mut old[passed..from] {
                    *chunk = None;
                }
                passed = from;
            }
            let chunk = old[from]
                .as_ref()
                .expect("a chunk with a live record is kept");
            let (chunk, start) = self.place(&chunk.bytes[start..end]);
            let record = &mut self.records[token];
            record.chunk = chunk;
            record.start = start;
        }
        self.released_bytes = 0;
    }

    /// The record of `token`, read back (its rules' JSON paths restored), and forgotten.
    pub(super) fn take_back(&mut self, token: u32) -> TakenRules {
        let taken = self.read(token);
        self.release(token);
        taken
    }

    /// The record of `token`, read back (its rules' JSON paths restored).
    pub(super) fn read(&self, token: u32) -> TakenRules {
        let record = &self.records[token as usize];
        assert!(
            !record.is(Record::RELEASED),
            "the plan only places records it did not supersede"
        );
        let chunk = self.chunks[record.chunk as usize]
            .as_ref()
            .expect("a chunk with a live record is kept");
        let bytes = &chunk.bytes[record.start as usize..(record.start + record.len) as usize];
        let mut taken: TakenRules =
            postcard::from_bytes(bytes).expect("a record reads back as it was written");
        if let Some(kind) = super::RESOURCE_TYPES.get(usize::from(record.kind)) {
            taken.resource.resource_type = kind.to_string();
        }
        if let Some(n) = taken.resource.json_path.strip_prefix('#') {
            taken.resource.json_path = format!("resource_changes[{n}].change.after");
        }
        for rule in &mut taken.rules {
            rule.json_path = match rule.block {
                Some(i) => format!("{}.ingress[{i}]", taken.resource.json_path),
                None => taken.resource.json_path.clone(),
            };
        }
        taken
    }

    /// Whether the rule set needs the resource of `token`: without a choice (see [`Held::hold`])
    /// always.
    pub(super) fn needed(&self, token: u32) -> bool {
        let record = &self.records[token as usize];
        record.is(Record::MUST_KEEP) || record.is(Record::AT_RISK)
    }

    /// Whether the record of `token` is a current group (a dropped one leaves a
    /// [`SetAsideGroup`]).
    pub(super) fn is_current_group(&self, token: u32) -> bool {
        self.records[token as usize].is(Record::CURRENT_GROUP)
    }

    /// Whether the record of `token` was released (superseded, read back or dropped).
    pub(super) fn is_released(&self, token: u32) -> bool {
        self.records[token as usize].is(Record::RELEASED)
    }

    /// Whether the resource of `token` has tags.
    pub(super) fn is_tagged(&self, token: u32) -> bool {
        self.records[token as usize].is(Record::TAGGED)
    }

    /// Which group of the plan each id and address names, once the plan is read (see
    /// [`Grouping`]). `raw_groups` are the `(id, address)` of the current groups left raw,
    /// `set_aside` the groups the intake set aside.
    pub(super) fn grouping(
        &self,
        raw_groups: &[(&str, &str)],
        set_aside: &[SetAsideGroup],
    ) -> Grouping {
        let mut by_id: HashMap<u64, (u64, bool)> = HashMap::new();
        let held_groups = self
            .group_ids
            .iter()
            .map(|(token, id)| (*id, self.records[*token as usize].key_hash));
        let others = set_aside
            .iter()
            .filter_map(|g| Some((self.hash(g.id.as_deref()?), self.hash(&g.address))))
            .chain(raw_groups.iter().map(|(i, a)| (self.hash(i), self.hash(a))));
        let claims: Vec<(u64, u64)> = held_groups
            .chain(others)
            .chain(self.claims.iter().copied())
            .collect();
        for &(id, address) in &claims {
            let entry = by_id.entry(id).or_insert((address, false));
            entry.1 |= entry.0 != address;
        }
        // The groups an id names when two groups claim it: which of them the rules naming it
        // join is not for a hash to guess.
        let claimed_twice = claims
            .iter()
            .filter(|(id, _)| by_id.get(id).is_some_and(|(_, twice)| *twice))
            .map(|(_, address)| *address)
            .collect();
        Grouping {
            by_id,
            claimed_twice,
        }
    }

    /// The [`GroupTag`] of a resource with group key `key` (`alone`: the tag of a resource
    /// without one).
    pub(super) fn tag_of(
        &self,
        key: Option<&GroupKey<'_>>,
        grouping: &Grouping,
        alone: GroupTag,
    ) -> GroupTag {
        grouping.tag(key.map(|key| self.key(key)), alone)
    }

    /// The [`GroupTag`] of the record of `token`.
    pub(super) fn record_tag(&self, token: u32, grouping: &Grouping) -> GroupTag {
        grouping.tag(self.records[token as usize].key(), GroupTag::Held(token))
    }

    /// Marks the held records whose group is at risk, once the plan is read. `raw` are the
    /// rules of the resources left raw with their group key, `grouping` which group each key
    /// names (see [`Held::grouping`]); only rules that may touch a guarded port (`concerns`)
    /// count. Only the groups with a public CIDR
    /// can cover a family: only their records are read back, for the union.
    pub(super) fn choose(
        &mut self,
        raw: &[(GroupKey<'_>, &IngressRule)],
        grouping: &Grouping,
        concerns: &dyn Fn(&IngressRule) -> bool,
    ) {
        let group_of = |key: Key| grouping.group_of(key);
        // Every held record and raw rule that may touch a guarded port, by group, sorted so
        // that each group's union is made in turn: 16 bytes each, not a union per group.
        #[derive(Clone, Copy)]
        enum Member {
            Held(u32),
            Raw(u32),
        }
        let mut members: Vec<(u64, Member)> = Vec::new();
        for (i, (key, rule)) in raw.iter().enumerate() {
            if let Some(group) = group_of(self.key(key)).filter(|_| concerns(rule)) {
                members.push((group, Member::Raw(i as u32)));
            }
        }
        for (token, record) in self.records.iter().enumerate() {
            if record.is(Record::RELEASED) {
                continue;
            }
            if let Some(group) = record.key().and_then(group_of) {
                members.push((group, Member::Held(token as u32)));
            }
        }
        members.sort_unstable_by_key(|(group, _)| *group);
        // Only a group with a public CIDR can cover a family: only its records are read back.
        let mut covering: HashSet<u64> = HashSet::new();
        let mut union = Union::default();
        for run in members.chunk_by(|a, b| a.0 == b.0) {
            let public = run.iter().any(|(_, member)| match *member {
                Member::Held(token) => self.records[token as usize].is(Record::PUBLIC),
                Member::Raw(i) => has_public_cidr(raw[i as usize].1),
            });
            if !public {
                continue;
            }
            union.clear();
            for (_, member) in run {
                match *member {
                    Member::Held(token) => {
                        for rule in self.read(token).rules.iter().filter(|r| concerns(r)) {
                            union.add_rule(rule);
                        }
                    }
                    Member::Raw(i) => union.add_rule(raw[i as usize].1),
                }
            }
            if union.covers_a_family() {
                covering.insert(run[0].0);
            }
        }
        drop(members);
        for record in self.records.iter_mut() {
            let at_risk = match record.key().map(group_of) {
                Some(Some(group)) => covering.contains(&group),
                Some(None) | None => true,
            };
            record.set(Record::AT_RISK, at_risk);
        }
    }
}

/// Whether a rule has a known public CIDR (without one it cannot help cover a family).
fn has_public_cidr(rule: &IngressRule) -> bool {
    rule.known_nets().any(|net| cidr::is_public(&net))
}

/// `n` when `json_path` is exactly `resource_changes[n].change.after` (written back the same).
fn change_index(json_path: &str) -> Option<u32> {
    let n = json_path
        .strip_prefix("resource_changes[")?
        .strip_suffix("].change.after")?;
    let index: u32 = n.parse().ok()?;
    (index.to_string() == n).then_some(index)
}

/// A rule that may touch a guarded port and has something the policy stage reports on its own
/// (PG003: unknown protocol, ports or direction; PG004: a CIDR that does not parse).
fn rule_must_be_kept(rule: &IngressRule) -> bool {
    rule.protocol == Known::Unknown
        || rule.from_port == Known::Unknown
        || rule.to_port == Known::Unknown
        || !rule.direction_known
        || rule.cidrs.iter().any(|c| match c.text() {
            Some(text) => cidr::parse(text).is_none(),
            None => true,
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::Action;
    use crate::rules::{CheckedResource, CidrEntry, CidrValue};

    fn taken(i: usize) -> TakenRules {
        let path = format!("resource_changes[{i}].change.after");
        TakenRules {
            resource: CheckedResource {
                address: format!("aws_security_group_rule.r{i}"),
                resource_type: "aws_security_group_rule".to_string(),
                name: format!("r{i}"),
                action: Action::Create,
                deposed: None,
                json_path: path.clone(),
                module_calls: None,
                tags: Default::default(),
                plan_line: Some(i),
            },
            rules: vec![IngressRule {
                resource: 0,
                block: None,
                json_path: path,
                protocol: Known::Known(Some("tcp".to_string())),
                from_port: Known::Known(Some(445)),
                to_port: Known::Known(Some(445)),
                cidrs: vec![CidrEntry {
                    attribute: "cidr_blocks",
                    index: Some(0),
                    value: CidrValue::Literal(format!("10.{}.{}.0/24", i / 256 % 256, i % 256)),
                }],
                other_sources: Vec::new(),
                direction_known: true,
                unknown_attributes: Vec::new(),
                note: None,
                group: None,
            }],
            hint: GroupHint::Rule {
                id: Known::Known(Some(format!("sg-{}", i % 7))),
                reference: None,
            },
            vpc_id: None,
            prefix_lists: Vec::new(),
        }
    }

    /// Twins released out of order (as `resource_changes` supersedes `planned_values`): the
    /// arena is compacted, frees what it can, and every live record reads back as written.
    #[test]
    fn records_read_back_as_written_after_releases_and_compaction() {
        let n = 40_000;
        let mut held = Held::default();
        let concerns = |_: &IngressRule| true;
        for i in 0..n {
            assert_eq!(held.hold(taken(i), Some(&concerns)), Ok(i as u32));
        }
        let written: usize = held.live_bytes;
        // Release every other record, from the end: chunks empty late, so only compaction can
        // give their memory back.
        for i in (0..n).rev().filter(|i| i % 2 == 0) {
            held.release(i as u32);
        }
        let allocated: usize = held
            .chunks
            .iter()
            .flatten()
            .map(|c| c.bytes.capacity())
            .sum();
        assert!(
            allocated < written * 3 / 4 + 2 * CHUNK,
            "{allocated} bytes allocated for {} live of {written} written",
            held.live_bytes
        );
        for i in (0..n).filter(|i| i % 2 == 1) {
            let back = held.take_back(i as u32);
            let expected = taken(i);
            assert_eq!(back.resource, expected.resource);
            assert_eq!(back.rules, expected.rules);
            assert_eq!(back.hint, expected.hint);
        }
        assert_eq!(held.live_bytes, 0);
    }

    /// Groups at risk: a union that covers a family across keys of one group (its address and
    /// an id that names it), and one that does not.
    #[test]
    fn a_group_is_at_risk_when_its_rules_cover_a_family_together() {
        let concerns = |_: &IngressRule| true;
        let mut held = Held::default();
        let rule = |address: &str, hint: GroupHint, cidr: &str| {
            let mut t = taken(0);
            t.resource.address = address.to_string();
            t.rules[0].cidrs[0].value = CidrValue::Literal(cidr.to_string());
            t.hint = hint;
            t
        };
        let group = |id: &str| GroupHint::Group {
            id: Some(id.to_string()),
        };
        let by_id = |id: &str| GroupHint::Rule {
            id: Known::Known(Some(id.to_string())),
            reference: None,
        };
        let a = held
            .hold(
                rule("aws_security_group.a", group("sg-a"), "0.0.0.0/1"),
                Some(&concerns),
            )
            .unwrap();
        let b = held
            .hold(
                rule("aws_security_group_rule.b", by_id("sg-a"), "128.0.0.0/1"),
                Some(&concerns),
            )
            .unwrap();
        let c = held
            .hold(
                rule("aws_security_group_rule.c", by_id("sg-c"), "128.0.0.0/1"),
                Some(&concerns),
            )
            .unwrap();
        let grouping = held.grouping(&[], &[]);
        held.choose(&[], &grouping, &concerns);
        assert!(held.needed(a) && held.needed(b));
        assert!(!held.needed(c));
    }
}
