//! Memory of a run task's check where findings pile up, counted by the allocator (never
//! timed): `check_top` keeps the findings it shows and the plan's compact held records, so
//! a finding costs a held record, not a finding and its rule. docs/performance.md quotes the
//! bound checked here.
//!
//! One test in this file on purpose: the counting allocator sees every thread of the test
//! binary, so nothing may run beside it.

#[path = "common/counting.rs"]
mod counting;

use std::sync::atomic::Ordering;

use portgate::policy::PolicySet;
use portgate::{CheckOptions, check_top};

use counting::{Counting, LIVE, PEAK, open_rules};

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// The most a run task's check held while checking, beyond what was live before it started.
fn measure(plan: &[u8], policies: &PolicySet) -> (usize, usize) {
    let options = CheckOptions::default();
    let before = LIVE.load(Ordering::Relaxed);
    PEAK.store(before, Ordering::Relaxed);
    let top = check_top(plan, None, "plan.json", policies, &options, 249, 4096).unwrap();
    let peak = PEAK.load(Ordering::Relaxed) - before;
    (top.total, peak)
}

/// A run task's job with 200,000 findings must stay under 64 MiB (the bound).
const JOB_LIMIT: usize = 64 << 20;

#[test]
fn a_run_task_check_holds_a_compact_record_per_finding() {
    let policies = PolicySet::builtin().unwrap();
    let (small, large) = (5_000, 25_000);
    let small_plan = open_rules(small);
    let large_plan = open_rules(large);
    // Once first, so one-time allocations (lazy statics, the thread's buffers) are not counted.
    measure(&small_plan, &policies);
    let (found_small, peak_small) = measure(&small_plan, &policies);
    let (found_large, peak_large) = measure(&large_plan, &policies);
    assert_eq!((found_small, found_large), (small, large));
    let per_finding = (peak_large - peak_small) / (large - small);
    let at_200k = peak_large + per_finding * (200_000 - large);
    println!(
        "run task check: {per_finding} B per finding at the peak ({peak_small} B at {small}, {peak_large} B at {large}); {} MiB at 200,000",
        at_200k >> 20
    );
    // Measured: 252 B (the held record of each rule, its place in the plan, the address
    // key): the findings themselves are not kept. 200,000 findings measured directly in a
    // release build: 61 MB at the peak.
    assert!(per_finding <= 300, "{per_finding} B per finding");
    assert!(at_200k < JOB_LIMIT, "{at_200k} B for 200,000 findings");
}
