//! Memory that grows with findings, counted by the allocator (never timed): where findings
//! pile up, a check holds each with the rule behind it until the reports are written, and
//! nothing else per finding. docs/performance.md quotes the bound checked here.
//!
//! One test in this file on purpose: the counting allocator sees every thread of the test
//! binary, so nothing may run beside it.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use portgate::policy::PolicySet;
use portgate::{CheckOptions, check_reader};

struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let ptr = unsafe { System.alloc(layout) };
        if !ptr.is_null() {
            let live = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(live, Ordering::Relaxed);
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let new = unsafe { System.realloc(ptr, layout, new_size) };
        if !new.is_null() {
            LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
            let live = LIVE.fetch_add(new_size, Ordering::Relaxed) + new_size;
            PEAK.fetch_max(live, Ordering::Relaxed);
        }
        new
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// A plan of `n` standalone rules, each opening SMB to the world in a group of its own: `n`
/// PG002 findings, none of which the group pass or a waiver changes.
fn open_rules(n: usize) -> Vec<u8> {
    let mut plan = String::from(
        r#"{"format_version":"1.2","terraform_version":"1.9.0","planned_values":{"root_module":{}},"resource_changes":["#,
    );
    for i in 0..n {
        if i > 0 {
            plan.push(',');
        }
        plan.push_str(&format!(
            r#"{{"address":"aws_security_group_rule.smb[{i}]","mode":"managed","type":"aws_security_group_rule","name":"smb","index":{i},"change":{{"actions":["create"],"before":null,"after":{{"type":"ingress","protocol":"tcp","from_port":445,"to_port":445,"cidr_blocks":["0.0.0.0/0"],"ipv6_cidr_blocks":null,"prefix_list_ids":null,"security_group_id":"sg-{i:017x}","self":false,"source_security_group_id":null,"description":"smb from anywhere"}},"after_unknown":{{"id":true}}}}}}"#
        ));
    }
    plan.push_str(r#"],"configuration":{"root_module":{}}}"#);
    plan.into_bytes()
}

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
