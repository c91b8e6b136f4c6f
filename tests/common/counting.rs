//! A counting allocator and the plan of many open rules, for the memory tests (`tests/memory.rs`,
//! `tests/memory_top.rs`): each is a test binary of its own, since the allocator sees every
//! thread of its binary.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

/// An allocator that counts the bytes live and the most live at once; a test binary makes it
/// its `#[global_allocator]`.
pub struct Counting;

pub static LIVE: AtomicUsize = AtomicUsize::new(0);
pub static PEAK: AtomicUsize = AtomicUsize::new(0);

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

/// A plan of `n` standalone rules, each opening SMB to the world in a group of its own: `n`
/// PG002 findings, none of which the group pass or a waiver changes.
pub fn open_rules(n: usize) -> Vec<u8> {
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
