//! In-process benchmarks of portgate's hot paths: reading a plan (the streaming scanner),
//! extracting ingress rules, and the CIDR world-cover test.
//!
//! `cargo bench --bench hot_paths`. Whole-program numbers (wall time and peak memory against a
//! plain `serde_json` pass, and against Checkov) come from `scripts/bench.sh`.

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use ipnet::IpNet;
use portgate::plan::Plan;
use portgate::rules::{self, cidr};

/// A plan of `resources` resources, one in fifty a security group with a few inline rules, the
/// rest S3 buckets with long attribute values (about 2 KB each), like most of a real plan.
fn plan(resources: usize) -> String {
    let mut text =
        String::from(r#"{"format_version":"1.2","terraform_version":"1.9.8","resource_changes":["#);
    let policy = r#"{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":{\"AWS\":\"arn:aws:iam::123456789012:root\"},\"Action\":[\"s3:GetObject\",\"s3:PutObject\"],\"Resource\":\"arn:aws:s3:::bucket/*\"}]}"#;
    for i in 0..resources {
        if i > 0 {
            text.push(',');
        }
        if i % 50 == 0 {
            text.push_str(&format!(
                r#"{{"address":"module.net[{i}].aws_security_group.sg","module_address":"module.net[{i}]","mode":"managed","type":"aws_security_group","name":"sg","index":null,"provider_name":"registry.terraform.io/hashicorp/aws","change":{{"actions":["create"],"before":null,"after":{{"description":"managed by terraform","egress":[{{"cidr_blocks":["0.0.0.0/0"],"description":"","from_port":0,"ipv6_cidr_blocks":[],"prefix_list_ids":[],"protocol":"-1","security_groups":[],"self":false,"to_port":0}}],"ingress":[{{"cidr_blocks":["10.0.0.0/8"],"description":"https","from_port":443,"ipv6_cidr_blocks":[],"prefix_list_ids":[],"protocol":"tcp","security_groups":[],"self":false,"to_port":443}},{{"cidr_blocks":["0.0.0.0/1","128.0.0.0/1"],"description":"smb","from_port":445,"ipv6_cidr_blocks":["::/0"],"prefix_list_ids":[],"protocol":"tcp","security_groups":[],"self":false,"to_port":445}}],"name":"sg-{i}","revoke_rules_on_delete":false,"tags":{{"Name":"sg-{i}"}},"timeouts":null}},"after_unknown":{{"arn":true,"id":true,"owner_id":true,"vpc_id":true,"ingress":[{{"cidr_blocks":[false]}},{{"cidr_blocks":[false,false]}}]}},"before_sensitive":false,"after_sensitive":{{"tags":{{}}}}}}}}"#
            ));
        } else {
            text.push_str(&format!(
                r#"{{"address":"module.data[{i}].aws_s3_bucket.b","module_address":"module.data[{i}]","mode":"managed","type":"aws_s3_bucket","name":"b","index":null,"provider_name":"registry.terraform.io/hashicorp/aws","change":{{"actions":["update"],"before":{{"bucket":"bucket-{i}","policy":"{policy}","tags":{{"team":"storage","cost-center":"{i:08}"}},"versioning":[{{"enabled":true,"mfa_delete":false}}]}},"after":{{"bucket":"bucket-{i}","policy":"{policy}","tags":{{"team":"storage","cost-center":"{i:08}"}},"versioning":[{{"enabled":true,"mfa_delete":false}}],"object_lock_enabled":false,"force_destroy":false,"lifecycle_rule":[{{"id":"expire","enabled":true,"expiration":[{{"days":365,"expired_object_delete_marker":false}}],"prefix":"logs/"}}]}},"after_unknown":{{"arn":true,"id":true}},"before_sensitive":false,"after_sensitive":{{"tags":{{}}}}}}}}"#
            ));
        }
    }
    text.push_str("]}");
    text
}

fn keep(resource_type: &str) -> portgate::plan::Keep {
    if rules::RESOURCE_TYPES.contains(&resource_type) {
        portgate::plan::Keep::NotATarget
    } else {
        portgate::plan::Keep::Skip
    }
}

fn parse(c: &mut Criterion) {
    let mut group = c.benchmark_group("parse");
    for resources in [1_000, 10_000] {
        let text = plan(resources);
        group.throughput(Throughput::Bytes(text.len() as u64));
        group.bench_with_input(
            BenchmarkId::new("portgate_stream", resources),
            &text,
            |b, text| b.iter(|| Plan::read(black_box(text.as_bytes()), "p.json", &keep).unwrap()),
        );
        group.bench_with_input(
            BenchmarkId::new("serde_json_ignored_any", resources),
            &text,
            |b, text| {
                b.iter(|| {
                    serde_json::from_slice::<serde::de::IgnoredAny>(black_box(text.as_bytes()))
                        .unwrap()
                })
            },
        );
    }
    group.finish();
}

fn extract(c: &mut Criterion) {
    let text = plan(10_000);
    let parsed = Plan::read(text.as_bytes(), "p.json", &keep).unwrap();
    c.bench_function("extract/200_security_groups", |b| {
        b.iter(|| rules::extract(black_box(&parsed), None).unwrap())
    });
}

fn cover(c: &mut Criterion) {
    let mut group = c.benchmark_group("covers_world");
    let sets: [(&str, Vec<&str>); 3] = [
        ("one_world", vec!["0.0.0.0/0"]),
        ("halves", vec!["0.0.0.0/1", "128.0.0.0/1"]),
        (
            "256_slices_missing_one",
            (0..256)
                .filter(|i| *i != 77)
                .map(|i| Box::leak(format!("{i}.0.0.0/8").into_boxed_str()) as &str)
                .collect(),
        ),
    ];
    for (name, set) in sets {
        let nets: Vec<IpNet> = set.iter().filter_map(|s| cidr::parse(s)).collect();
        group.bench_function(name, |b| {
            b.iter(|| cidr::covers_world(black_box(&nets), cidr::Family::Ipv4))
        });
    }
    group.finish();
}

criterion_group!(benches, parse, extract, cover);
criterion_main!(benches);
