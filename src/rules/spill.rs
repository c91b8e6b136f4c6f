//! Held rules in bounded memory: when the records of a plan's taken resources (see
//! [`super::held`]) pass a budget, the plan is read twice, and only the second read holds rules,
//! those that can take part in a finding.
//!
//! **Why a second read.** A rule that may touch a guarded port can only be judged once the
//! plan is read: whether its group's rules together cover a family is known at the end. Held
//! records cost a few hundred bytes each, so a plan of a million rules would hold a hundred
//! megabytes of rules, nearly all of which no finding needs. A plan that can be read again (a
//! file, the run task's spooled body) is read once to learn which groups *may* be at risk, in
//! fixed memory, and once more holding only the rules of those groups and those that must be
//! kept anyway (see `held::rule_must_be_kept` and its neighbours). The second read ends with
//! the same choice as a single read, made from the same records, so reports are identical.
//!
//! **Which groups may be at risk.** A group's rules can only cover a family when the sizes of
//! their networks add up to the family's size at least (a union is never larger than the sum).
//! The first read adds up those sizes per group key in a count-min sketch ([`Sketch`]): a
//! fixed table where keys that share a cell add up together, so an estimate is never below the
//! true sum. Sizes are rounded up to whole units, so the estimate stays above the truth. Once
//! the plan is read, the keys that name one group (a group's address and its id) are given the
//! group's total, and keys that two groups claim are marked ambiguous. Every error the sketch
//! can make is one way: a group held that need not be, never one dropped that a finding needs.

use std::collections::{HashMap, HashSet};

use ipnet::IpNet;

use super::IngressRule;
use super::held::Seen;

/// Rows of the sketch: a key is dropped only when each row shows it small.
const ROWS: usize = 3;
/// Cells per row, as a power of two (3 rows of 2^18 four-byte cells: 3 MiB).
const WIDTH_BITS: u32 = 18;
/// A family's size in [`Units`]: a network of prefix length `l` is `2^(UNIT_BITS - l)` units
/// (one unit when longer than `UNIT_BITS`).
const UNIT_BITS: u8 = 15;
const WORLD: u16 = 1 << UNIT_BITS;

/// The summed sizes of networks, each family in units of a `/15` of that family, saturating.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Units {
    v4: u16,
    v6: u16,
}

impl Units {
    /// Sizes of the known networks of `rules` that may touch a guarded port (`concerns`).
    pub(super) fn of_rules<'r>(
        rules: impl IntoIterator<Item = &'r IngressRule>,
        concerns: &dyn Fn(&IngressRule) -> bool,
    ) -> Units {
        let mut units = Units::default();
        for rule in rules.into_iter().filter(|rule| concerns(rule)) {
            for net in rule.known_nets() {
                units = units.plus(Units::of_net(&net));
            }
        }
        units
    }

    fn of_net(net: &IpNet) -> Units {
        let size = |len: u8| match len {
            l if l <= UNIT_BITS => 1u16 << (UNIT_BITS - l),
            _ => 1,
        };
        match net {
            IpNet::V4(n) => Units {
                v4: size(n.prefix_len()),
                v6: 0,
            },
            IpNet::V6(n) => Units {
                v4: 0,
                v6: size(n.prefix_len()),
            },
        }
    }

    fn plus(self, other: Units) -> Units {
        Units {
            v4: self.v4.saturating_add(other.v4),
            v6: self.v6.saturating_add(other.v6),
        }
    }

    fn min(self, other: Units) -> Units {
        Units {
            v4: self.v4.min(other.v4),
            v6: self.v6.min(other.v6),
        }
    }

    /// Whether networks of these sizes could cover a family.
    fn may_cover(self) -> bool {
        self.v4 >= WORLD || self.v6 >= WORLD
    }

    /// Both sizes in one word.
    pub(super) fn bits(self) -> u64 {
        u64::from(self.v4) | u64::from(self.v6) << 16
    }

    fn is_zero(self) -> bool {
        self == Units::default()
    }
}

/// A count-min sketch of [`Units`] by hashed group key: never below the true sum of a key.
pub(super) struct Sketch {
    /// `ROWS` rows of `2^WIDTH_BITS` cells: v4 units in the low half, v6 in the high.
    cells: Vec<u32>,
}

impl Sketch {
    pub(super) fn new() -> Sketch {
        Sketch {
            cells: vec![0; ROWS << WIDTH_BITS],
        }
    }

    /// The cell of `hash` in each row. Key hashes come from a keyed hasher (SipHash with
    /// random keys), so disjoint bits of one hash index the rows independently.
    fn cells_of(hash: u64) -> [usize; ROWS] {
        let mask = (1u64 << WIDTH_BITS) - 1;
        std::array::from_fn(|row| {
            (row << WIDTH_BITS) | ((hash >> (row as u32 * WIDTH_BITS)) & mask) as usize
        })
    }

    pub(super) fn add(&mut self, hash: u64, units: Units) {
        if units.is_zero() {
            return;
        }
        for cell in Sketch::cells_of(hash) {
            let sum = unpack(self.cells[cell]).plus(units);
            self.cells[cell] = u32::from(sum.v4) | u32::from(sum.v6) << 16;
        }
    }

    pub(super) fn estimate(&self, hash: u64) -> Units {
        Sketch::cells_of(hash)
            .into_iter()
            .map(|cell| unpack(self.cells[cell]))
            .reduce(Units::min)
            .unwrap_or_default()
    }
}

fn unpack(cell: u32) -> Units {
    Units {
        v4: cell as u16,
        v6: (cell >> 16) as u16,
    }
}

/// What the second read of a plan needs to tell which rules to hold (see the module
/// documentation): made by [`super::narrowing`] from the first read.
pub struct Narrowing {
    sketch: Sketch,
    /// Hashed keys that name a group two groups of the plan claim, or such a group.
    ambiguous: HashSet<u64>,
    /// The first read's keys for the hashes of group names: the second read hashes alike.
    pub(super) hasher: std::hash::RandomState,
    /// What the first read offered: the second must offer the same (the file may have been
    /// replaced between the reads).
    pub(super) first_read: Seen,
}

impl Narrowing {
    /// Folds the first read's sketch into a narrowing: each key of a group of the plan (its
    /// address, the id it claims) gets the group's total. `by_id` maps each id a group of the
    /// plan claims to (its address, whether another group claims it too); `claimed_twice`
    /// holds the addresses of such groups.
    pub(super) fn new(
        mut sketch: Sketch,
        by_id: &HashMap<u64, (u64, bool)>,
        claimed_twice: &HashSet<u64>,
        hasher: std::hash::RandomState,
        first_read: Seen,
    ) -> Narrowing {
        let mut totals: HashMap<u64, Units> = HashMap::new();
        for (&id, &(address, twice)) in by_id {
            if !twice {
                let total = totals.entry(address).or_default();
                *total = total.plus(sketch.estimate(id));
            }
        }
        for (&address, total) in totals.iter_mut() {
            *total = total.plus(sketch.estimate(address));
        }
        for (&id, &(address, twice)) in by_id {
            if !twice {
                sketch.add(id, totals[&address]);
            }
        }
        for (&address, &total) in &totals {
            sketch.add(address, total);
        }
        let ambiguous = by_id
            .iter()
            .filter(|(_, (_, twice))| *twice)
            .map(|(id, _)| *id)
            .chain(claimed_twice.iter().copied())
            .collect();
        Narrowing {
            sketch,
            ambiguous,
            hasher,
            first_read,
        }
    }

    /// Whether the rules with this hashed group key may be in a group at risk.
    pub(super) fn may_be_at_risk(&self, hash: u64) -> bool {
        self.ambiguous.contains(&hash) || self.sketch.estimate(hash).may_cover()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn units(nets: &[&str]) -> Units {
        nets.iter()
            .map(|n| Units::of_net(&n.parse().unwrap()))
            .fold(Units::default(), Units::plus)
    }

    /// Networks that cover a family always add up to its size: the test is never below the
    /// truth, however the space is cut.
    #[test]
    fn a_cover_always_adds_up_to_the_world() {
        assert!(units(&["0.0.0.0/0"]).may_cover());
        assert!(units(&["::/0"]).may_cover());
        assert!(units(&["0.0.0.0/1", "128.0.0.0/1"]).may_cover());
        let mut cut: Vec<String> = (0..=255).map(|i| format!("{i}.0.0.0/8")).collect();
        assert!(units(&cut.iter().map(String::as_str).collect::<Vec<_>>()).may_cover());
        cut.pop();
        assert!(!units(&cut.iter().map(String::as_str).collect::<Vec<_>>()).may_cover());
        // Long prefixes round up: 2^15 networks of /32 count as the world.
        let long = Units::of_net(&"10.0.0.1/32".parse().unwrap());
        assert_eq!(long.v4, 1);
        assert!(!units(&["128.0.0.0/1", "10.0.0.0/8", "2001:db8::/32"]).may_cover());
    }

    /// The estimate is never below the sum added for a key, whatever else shares its cells.
    #[test]
    fn the_sketch_never_underestimates() {
        let mut sketch = Sketch::new();
        let mut truth: HashMap<u64, Units> = HashMap::new();
        let mut state = 0x2545_F491_4F6C_DD1Du64;
        for _ in 0..200_000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let key = state % 150_000;
            let hash = key.wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(17);
            let add = Units {
                v4: (state >> 40) as u16 % 3000,
                v6: (state >> 20) as u16 % 7,
            };
            sketch.add(hash, add);
            let t = truth.entry(hash).or_default();
            *t = t.plus(add);
        }
        for (hash, t) in truth {
            let e = sketch.estimate(hash);
            assert!(e.v4 >= t.v4 && e.v6 >= t.v6, "{e:?} < {t:?}");
        }
    }

    /// A group's keys share its total: the rules naming it by id and by address both see it.
    #[test]
    fn the_keys_of_a_group_share_its_total() {
        // Spread like the keyed hashes of real keys: each row sees other bits.
        let h = |i: u64| i.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let (address, id, alone) = (h(11), h(22), h(33));
        let mut sketch = Sketch::new();
        sketch.add(address, units(&["0.0.0.0/1"]));
        sketch.add(id, units(&["128.0.0.0/1"]));
        sketch.add(alone, units(&["128.0.0.0/1"]));
        let by_id = HashMap::from([(id, (address, false)), (h(44), (h(55), true))]);
        let twice = HashSet::from([h(55)]);
        let narrowing = Narrowing::new(sketch, &by_id, &twice, Default::default(), Seen::default());
        assert!(narrowing.may_be_at_risk(address));
        assert!(narrowing.may_be_at_risk(id));
        assert!(!narrowing.may_be_at_risk(alone));
        assert!(narrowing.may_be_at_risk(h(44)) && narrowing.may_be_at_risk(h(55)));
    }
}
