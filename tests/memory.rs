//! Memory that grows with findings, counted by the allocator (never timed): where findings
//! pile up, a check holds each with the rule behind it until the reports are written, and
//! nothing else per finding. docs/performance.md quotes the bound checked here.
//!
//! One test in this file on purpose: the counting allocator sees every thread of the test
//! binary, so nothing may run beside it.

#[path = "common/counting.rs"]
mod counting;

use std::sync::atomic::Ordering;

use portgate::policy::PolicySet;
use portgate::{CheckOptions, check_reader};

use counting::{Counting, LIVE, PEAK, open_rules};

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Bytes a finished check holds (its report) and the most it held while checking, beyond
/// what was live before it started.
fn measure(plan: &[u8], policies: &PolicySet) -> (usize, usize, usize) {
    let options = CheckOptions::default();
    let before = LIVE.load(Ordering::Relaxed);
    PEAK.store(before, Ordering::Relaxed);
    let report = check_reader(plan, "plan.json", policies, &options).unwrap();
    let held = LIVE.load(Ordering::Relaxed) - before;
    let peak = PEAK.load(Ordering::Relaxed) - before;
    let findings = report.findings.len();
    drop(report);
    (findings, held, peak)
}

#[test]
fn each_finding_costs_a_bounded_number_of_bytes() {
    let policies = PolicySet::builtin().unwrap();
    let (small, large) = (1_000, 5_000);
    let small_plan = open_rules(small);
    let large_plan = open_rules(large);
    // Once first, so one-time allocations (lazy statics, the thread's buffers) are not counted.
    measure(&small_plan, &policies);
    let (found_small, held_small, peak_small) = measure(&small_plan, &policies);
    let (found_large, held_large, peak_large) = measure(&large_plan, &policies);
    assert_eq!((found_small, found_large), (small, large));
    let per_finding = (held_large - held_small) / (large - small);
    let peak_per_finding = (peak_large - peak_small) / (large - small);
    println!(
        "per finding: {per_finding} B held by the report, {peak_per_finding} B at the peak of the check"
    );
    // Measured: 1,496 B held (the finding with its message, rule and resource), 2,255 B at
    // the peak (the policy stage's findings beside the gated ones). The bounds leave room
    // for longer names, not for a second copy of anything.
    assert!(per_finding <= 1_700, "{per_finding} B per finding held");
    assert!(
        peak_per_finding <= 2_600,
        "{peak_per_finding} B per finding at the peak"
    );
}
