//! The common AWS resources that fill a plan around its security groups: one [`Kind`] each,
//! with the long attribute values real ones carry, and how often each is drawn.

use serde_json::{Map, Value, json};

use super::kinds::{Attrs, Expr, Kind, Scope, Site, constant, reference};
use super::tools::Rng;
use super::words::{
    INSTANCE_TYPES, RUNTIMES, arn, assume_role_policy, container_definitions, policy_document,
};

/// The common kinds and their weights among the resources a plan is filled with. A data source
/// ([`POLICY_DOCUMENT`]) is drawn apart, for one filler in a hundred.
pub const FILLERS: [(&Kind, u32); 15] = [
    (&INSTANCE, 10),
    (&BUCKET, 10),
    (&IAM_POLICY, 10),
    (&IAM_ROLE, 10),
    (&LAMBDA, 9),
    (&SUBNET, 8),
    (&VPC, 2),
    (&RECORD, 15),
    (&LOG_GROUP, 12),
    (&TASK_DEFINITION, 4),
    (&NACL_RULE, 3),
    (&TABLE, 4),
    (&QUEUE, 6),
    (&ATTACHMENT, 14),
    (&ROUTE_ASSOCIATION, 6),
];

pub const INSTANCE: Kind = Kind {
    resource_type: "aws_instance",
    data: false,
    schema_version: 1,
    arguments: instance_arguments,
    state: instance_state,
    unknown_on_create: &[
        "arn",
        "id",
        "instance_state",
        "ipv6_addresses",
        "primary_network_interface_id",
        "private_dns",
        "private_ip",
        "public_ip",
        "tags_all",
        "host_id",
        "cpu_core_count",
    ],
    inline_rules: false,
};

fn instance_arguments(scope: &Scope, r: &mut Rng) -> Vec<(&'static str, Expr)> {
    vec![
        ("ami", constant(json!(format!("ami-0{}", r.hex(16))))),
        ("instance_type", constant(json!(r.pick(&INSTANCE_TYPES)))),
        ("monitoring", constant(json!(r.chance(50)))),
        ("subnet_id", reference("var.subnet_id")),
        ("tags", scope.tags()),
    ]
}

fn instance_state(a: &mut Attrs, r: &mut Rng, site: &Site) {
    let ctx = &site.ctx;
    let name = &ctx.name;
    let t = site.tags.clone();
    let id = format!("i-0{}", r.hex(16));
    let volume_size = [20, 50, 100][r.below(3)];
    a.set("arn", json!(arn(ctx, "ec2", &format!("instance/{id}"))));
    a.set("associate_public_ip_address", json!(false));
    a.set(
        "availability_zone",
        json!(format!("{}{}", ctx.region, ["a", "b", "c"][r.below(3)])),
    );
    a.set("cpu_core_count", json!(2));
    a.set(
        "credit_specification",
        json!([{"cpu_credits": "unlimited"}]),
    );
    a.set("disable_api_termination", json!(ctx.env == "prod"));
    a.set("ebs_block_device", json!([]));
    a.set("ebs_optimized", json!(true));
    a.set("hibernation", json!(false));
    a.set("host_id", Value::Null);
    a.set(
        "iam_instance_profile",
        json!(format!("{}-{}", ctx.env, name)),
    );
    a.set("id", json!(id));
    a.set("instance_initiated_shutdown_behavior", json!("stop"));
    a.set("instance_state", json!("running"));
    a.set("ipv6_address_count", json!(0));
    a.set("ipv6_addresses", json!([]));
    a.set("key_name", json!(format!("{}-deploy", ctx.env)));
    a.set(
        "metadata_options",
        json!([{"http_endpoint": "enabled", "http_protocol_ipv6": "disabled",
            "http_put_response_hop_limit": 2, "http_tokens": "required",
            "instance_metadata_tags": "disabled"}]),
    );
    a.set(
        "primary_network_interface_id",
        json!(format!("eni-0{}", r.hex(16))),
    );
    a.set(
        "private_dns",
        json!(format!(
            "ip-10-{}-{}-{}.{}.compute.internal",
            r.range(0, 255),
            r.range(0, 255),
            r.range(1, 254),
            ctx.region
        )),
    );
    a.set(
        "private_ip",
        json!(format!(
            "10.{}.{}.{}",
            r.range(0, 255),
            r.range(0, 255),
            r.range(1, 254)
        )),
    );
    a.set("public_ip", json!(""));
    a.set(
        "root_block_device",
        json!([{"delete_on_termination": true, "device_name": "/dev/xvda",
            "encrypted": true, "iops": 3000,
            "kms_key_id": arn(ctx, "kms", &format!("key/{}-{}-{}", r.hex(8), r.hex(4), r.hex(12))),
            "tags": null, "throughput": 125, "volume_id": format!("vol-0{}", r.hex(16)),
            "volume_size": volume_size, "volume_type": "gp3"}]),
    );
    a.set("source_dest_check", json!(true));
    a.set("subnet_id", json!(format!("subnet-0{}", r.hex(16))));
    a.set("tags", t.clone());
    a.set("tags_all", t);
    a.set("tenancy", json!("default"));
    a.set("user_data", json!(r.hex(40)));
    a.set(
        "vpc_security_group_ids",
        json!([format!("sg-0{}", r.hex(16)), format!("sg-0{}", r.hex(16))]),
    );
}

pub const BUCKET: Kind = Kind {
    resource_type: "aws_s3_bucket",
    data: false,
    schema_version: 0,
    arguments: bucket_arguments,
    state: bucket_state,
    unknown_on_create: &[
        "acceleration_status",
        "arn",
        "bucket_domain_name",
        "bucket_regional_domain_name",
        "hosted_zone_id",
        "id",
        "region",
        "request_payer",
        "tags_all",
    ],
    inline_rules: false,
};

fn bucket_arguments(scope: &Scope, _r: &mut Rng) -> Vec<(&'static str, Expr)> {
    vec![
        ("force_destroy", constant(json!(false))),
        ("tags", scope.tags()),
    ]
}

fn bucket_state(a: &mut Attrs, r: &mut Rng, site: &Site) {
    let ctx = &site.ctx;
    let name = &ctx.name;
    let t = site.tags.clone();
    let bucket = format!("acme-{}-{}-{}", ctx.env, name, r.hex(6));
    a.set("acceleration_status", json!(""));
    a.set("arn", json!(format!("arn:aws:s3:::{bucket}")));
    a.set("bucket", json!(bucket.clone()));
    a.set(
        "bucket_domain_name",
        json!(format!("{bucket}.s3.amazonaws.com")),
    );
    a.set("bucket_prefix", json!(""));
    a.set(
        "bucket_regional_domain_name",
        json!(format!("{bucket}.s3.{}.amazonaws.com", ctx.region)),
    );
    a.set("hosted_zone_id", json!("Z1BKCTXD74EZPE"));
    a.set("id", json!(bucket));
    a.set("object_lock_enabled", json!(false));
    a.set("region", json!(ctx.region));
    a.set("request_payer", json!("BucketOwner"));
    a.set("tags", t.clone());
    a.set("tags_all", t);
}

pub const IAM_POLICY: Kind = Kind {
    resource_type: "aws_iam_policy",
    data: false,
    schema_version: 0,
    arguments: iam_policy_arguments,
    state: iam_policy_state,
    unknown_on_create: &["arn", "id", "policy_id", "tags_all"],
    inline_rules: false,
};

fn iam_policy_arguments(scope: &Scope, _r: &mut Rng) -> Vec<(&'static str, Expr)> {
    vec![
        ("path", constant(json!("/service/"))),
        ("policy", reference("local.policy_documents")),
        ("tags", scope.tags()),
    ]
}

fn iam_policy_state(a: &mut Attrs, r: &mut Rng, site: &Site) {
    let ctx = &site.ctx;
    let name = &ctx.name;
    let t = site.tags.clone();
    let n = r.range(1, 3) as usize;
    a.set(
        "arn",
        json!(format!(
            "arn:aws:iam::{}:policy/service/{name}",
            ctx.account
        )),
    );
    a.set(
        "description",
        json!(format!(
            "Least-privilege access for {name} in {} (owned by {}; reviewed quarterly)",
            ctx.env, ctx.team
        )),
    );
    a.set(
        "id",
        json!(format!(
            "arn:aws:iam::{}:policy/service/{name}",
            ctx.account
        )),
    );
    a.set("name", json!(name));
    a.set("policy", json!(policy_document(r, ctx, n)));
    a.set(
        "policy_id",
        json!(format!("ANPA{}", r.hex(16).to_uppercase())),
    );
    a.set("tags", t.clone());
    a.set("tags_all", t);
}

pub const IAM_ROLE: Kind = Kind {
    resource_type: "aws_iam_role",
    data: false,
    schema_version: 0,
    arguments: iam_role_arguments,
    state: iam_role_state,
    unknown_on_create: &[
        "arn",
        "create_date",
        "id",
        "inline_policy",
        "managed_policy_arns",
        "tags_all",
        "unique_id",
    ],
    inline_rules: false,
};

fn iam_role_arguments(scope: &Scope, _r: &mut Rng) -> Vec<(&'static str, Expr)> {
    vec![
        (
            "assume_role_policy",
            reference("local.assume_role_policies"),
        ),
        ("max_session_duration", constant(json!(3600))),
        ("path", constant(json!("/service-role/"))),
        ("tags", scope.tags()),
    ]
}

fn iam_role_state(a: &mut Attrs, r: &mut Rng, site: &Site) {
    let ctx = &site.ctx;
    let name = &ctx.name;
    let t = site.tags.clone();
    a.set(
        "arn",
        json!(format!(
            "arn:aws:iam::{}:role/service-role/{name}",
            ctx.account
        )),
    );
    a.set(
        "assume_role_policy",
        json!(assume_role_policy(
            [
                "lambda.amazonaws.com",
                "ecs-tasks.amazonaws.com",
                "ec2.amazonaws.com"
            ][r.below(3)]
        )),
    );
    a.set(
        "create_date",
        json!(format!(
            "2024-{:02}-{:02}T09:12:44Z",
            r.range(1, 12),
            r.range(1, 28)
        )),
    );
    a.set("description", json!(format!("Execution role of {name}")));
    a.set("force_detach_policies", json!(false));
    a.set("id", json!(name));
    a.set("inline_policy", json!([]));
    a.set(
        "managed_policy_arns",
        json!([
            "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
            format!("arn:aws:iam::{}:policy/service/{name}", ctx.account)
        ]),
    );
    a.set("name", json!(name));
    a.set("permissions_boundary", Value::Null);
    a.set("tags", t.clone());
    a.set("tags_all", t);
    a.set(
        "unique_id",
        json!(format!("AROA{}", r.hex(16).to_uppercase())),
    );
}

pub const LAMBDA: Kind = Kind {
    resource_type: "aws_lambda_function",
    data: false,
    schema_version: 0,
    arguments: lambda_arguments,
    state: lambda_state,
    unknown_on_create: &[
        "arn",
        "id",
        "invoke_arn",
        "last_modified",
        "qualified_arn",
        "source_code_hash",
        "tags_all",
        "version",
    ],
    inline_rules: false,
};

fn lambda_arguments(scope: &Scope, r: &mut Rng) -> Vec<(&'static str, Expr)> {
    vec![
        ("handler", constant(json!("app.handler"))),
        (
            "memory_size",
            constant(json!([128, 256, 512, 1024][r.below(4)])),
        ),
        ("role", reference("aws_iam_role.lambda.arn")),
        ("runtime", constant(json!(r.pick(&RUNTIMES)))),
        ("timeout", constant(json!(r.range(3, 300)))),
        ("tags", scope.tags()),
    ]
}

fn lambda_state(a: &mut Attrs, r: &mut Rng, site: &Site) {
    let ctx = &site.ctx;
    let name = &ctx.name;
    let t = site.tags.clone();
    let vars: Map<String, Value> = (0..r.range(2, 5))
        .map(|i| {
            let key = format!(
                "{}_{i}",
                [
                    "TABLE_NAME",
                    "QUEUE_URL",
                    "BUCKET",
                    "LOG_LEVEL",
                    "API_BASE_URL",
                    "SECRET_ARN",
                    "POWERTOOLS_SERVICE_NAME"
                ][i as usize % 7]
            );
            let value = match i % 3 {
                0 => arn(
                    ctx,
                    "secretsmanager",
                    &format!("secret:{}/{name}/{}", ctx.env, r.hex(6)),
                ),
                1 => format!(
                    "https://{}.{}.internal.acme-corp.example/v1/{}",
                    name,
                    ctx.env,
                    r.hex(10)
                ),
                _ => format!("{}-{}-{}", ctx.env, name, r.hex(8)),
            };
            (key, Value::String(value))
        })
        .collect();
    let fn_arn = arn(ctx, "lambda", &format!("function:{name}"));
    a.set("architectures", json!(["arm64"]));
    a.set("arn", json!(fn_arn.clone()));
    a.set("description", json!(format!("{name} ({})", ctx.team)));
    a.set("environment", json!([{"variables": vars}]));
    a.set("function_name", json!(name));
    a.set("id", json!(name));
    a.set(
        "invoke_arn",
        json!(format!(
            "arn:aws:apigateway:{}:lambda:path/2015-03-31/functions/{fn_arn}/invocations",
            ctx.region
        )),
    );
    a.set("last_modified", json!("2025-01-14T08:31:02.000+0000"));
    a.set("package_type", json!("Zip"));
    a.set("publish", json!(true));
    a.set(
        "qualified_arn",
        json!(format!("{fn_arn}:{}", r.range(1, 40))),
    );
    a.set("reserved_concurrent_executions", json!(-1));
    a.set("s3_bucket", json!(format!("acme-{}-artifacts", ctx.env)));
    a.set("s3_key", json!(format!("lambda/{name}/{}.zip", r.hex(40))));
    a.set("source_code_hash", json!(format!("{}=", r.hex(43))));
    a.set("tags", t.clone());
    a.set("tags_all", t);
    a.set("tracing_config", json!([{"mode": "Active"}]));
    a.set("version", json!(r.range(1, 40).to_string()));
    a.set(
        "vpc_config",
        json!([{"ipv6_allowed_for_dual_stack": false,
            "security_group_ids": [format!("sg-0{}", r.hex(16))],
            "subnet_ids": [format!("subnet-0{}", r.hex(16)), format!("subnet-0{}", r.hex(16))],
            "vpc_id": format!("vpc-0{}", r.hex(16))}]),
    );
}

pub const SUBNET: Kind = Kind {
    resource_type: "aws_subnet",
    data: false,
    schema_version: 0,
    arguments: subnet_arguments,
    state: subnet_state,
    unknown_on_create: &[
        "arn",
        "id",
        "ipv6_cidr_block",
        "owner_id",
        "private_dns_hostname_type_on_launch",
        "tags_all",
    ],
    inline_rules: false,
};

fn subnet_arguments(scope: &Scope, _r: &mut Rng) -> Vec<(&'static str, Expr)> {
    vec![
        ("map_public_ip_on_launch", constant(json!(false))),
        ("vpc_id", reference("var.vpc_id")),
        ("tags", scope.tags()),
    ]
}

fn subnet_state(a: &mut Attrs, r: &mut Rng, site: &Site) {
    let ctx = &site.ctx;
    let t = site.tags.clone();
    let id = format!("subnet-0{}", r.hex(16));
    a.set("arn", json!(arn(ctx, "ec2", &format!("subnet/{id}"))));
    a.set("assign_ipv6_address_on_creation", json!(false));
    a.set(
        "availability_zone",
        json!(format!("{}{}", ctx.region, ["a", "b", "c"][r.below(3)])),
    );
    a.set(
        "cidr_block",
        json!(format!("10.{}.{}.0/24", r.range(0, 255), r.range(0, 255))),
    );
    a.set("enable_dns64", json!(false));
    a.set("id", json!(id));
    a.set("ipv6_cidr_block", Value::Null);
    a.set("ipv6_native", json!(false));
    a.set("owner_id", json!(ctx.account));
    a.set("private_dns_hostname_type_on_launch", json!("ip-name"));
    a.set("tags", t.clone());
    a.set("tags_all", t);
    a.set("vpc_id", json!(format!("vpc-0{}", r.hex(16))));
}

pub const VPC: Kind = Kind {
    resource_type: "aws_vpc",
    data: false,
    schema_version: 0,
    arguments: vpc_arguments,
    state: vpc_state,
    unknown_on_create: &[
        "arn",
        "default_network_acl_id",
        "default_route_table_id",
        "default_security_group_id",
        "dhcp_options_id",
        "id",
        "main_route_table_id",
        "owner_id",
        "tags_all",
    ],
    inline_rules: false,
};

fn vpc_arguments(scope: &Scope, _r: &mut Rng) -> Vec<(&'static str, Expr)> {
    vec![
        ("enable_dns_hostnames", constant(json!(true))),
        ("enable_dns_support", constant(json!(true))),
        ("tags", scope.tags()),
    ]
}

fn vpc_state(a: &mut Attrs, r: &mut Rng, site: &Site) {
    let ctx = &site.ctx;
    let t = site.tags.clone();
    let id = format!("vpc-0{}", r.hex(16));
    a.set("arn", json!(arn(ctx, "ec2", &format!("vpc/{id}"))));
    a.set(
        "cidr_block",
        json!(format!("10.{}.0.0/16", r.range(0, 255))),
    );
    a.set(
        "default_network_acl_id",
        json!(format!("acl-0{}", r.hex(16))),
    );
    a.set(
        "default_route_table_id",
        json!(format!("rtb-0{}", r.hex(16))),
    );
    a.set(
        "default_security_group_id",
        json!(format!("sg-0{}", r.hex(16))),
    );
    a.set("dhcp_options_id", json!(format!("dopt-0{}", r.hex(16))));
    a.set("id", json!(id));
    a.set("instance_tenancy", json!("default"));
    a.set("main_route_table_id", json!(format!("rtb-0{}", r.hex(16))));
    a.set("owner_id", json!(ctx.account));
    a.set("tags", t.clone());
    a.set("tags_all", t);
}

pub const RECORD: Kind = Kind {
    resource_type: "aws_route53_record",
    data: false,
    schema_version: 0,
    arguments: record_arguments,
    state: record_state,
    unknown_on_create: &["fqdn", "id", "allow_overwrite"],
    inline_rules: false,
};

fn record_arguments(_scope: &Scope, r: &mut Rng) -> Vec<(&'static str, Expr)> {
    vec![
        ("ttl", constant(json!([60, 300, 3600][r.below(3)]))),
        ("type", constant(json!(["A", "CNAME", "TXT"][r.below(3)]))),
        ("zone_id", reference("var.zone_id")),
    ]
}

fn record_state(a: &mut Attrs, r: &mut Rng, site: &Site) {
    let ctx = &site.ctx;
    let name = &ctx.name;
    let fqdn = format!("{name}.{}.acme-corp.example", ctx.env);
    let records = match a.get("type").and_then(Value::as_str) {
        Some("A") => json!([format!(
            "10.{}.{}.{}",
            r.range(0, 255),
            r.range(0, 255),
            r.range(1, 254)
        )]),
        Some("TXT") => json!([format!(
            "v=spf1 include:_spf.acme-corp.example ~all {}",
            r.hex(24)
        )]),
        _ => json!([format!(
            "{name}-{}.elb.{}.amazonaws.com",
            r.hex(12),
            ctx.region
        )]),
    };
    a.set("alias", json!([]));
    a.set("allow_overwrite", Value::Null);
    a.set("fqdn", json!(fqdn.clone()));
    a.set("health_check_id", json!(""));
    a.set(
        "id",
        json!(format!("Z{}_{fqdn}_A", r.hex(12).to_uppercase())),
    );
    a.set("name", json!(fqdn));
    a.set("records", records);
    a.set("set_identifier", json!(""));
    a.set("zone_id", json!(format!("Z{}", r.hex(12).to_uppercase())));
}

pub const LOG_GROUP: Kind = Kind {
    resource_type: "aws_cloudwatch_log_group",
    data: false,
    schema_version: 0,
    arguments: log_group_arguments,
    state: log_group_state,
    unknown_on_create: &["arn", "id", "log_group_class", "tags_all"],
    inline_rules: false,
};

fn log_group_arguments(scope: &Scope, r: &mut Rng) -> Vec<(&'static str, Expr)> {
    vec![
        (
            "retention_in_days",
            constant(json!([7, 14, 30, 90, 365][r.below(5)])),
        ),
        ("tags", scope.tags()),
    ]
}

fn log_group_state(a: &mut Attrs, r: &mut Rng, site: &Site) {
    let ctx = &site.ctx;
    let name = &ctx.name;
    let t = site.tags.clone();
    let group = format!(
        "/aws/{}/{}/{name}",
        ["lambda", "ecs", "apigateway"][r.below(3)],
        ctx.env
    );
    a.set(
        "arn",
        json!(arn(ctx, "logs", &format!("log-group:{group}"))),
    );
    a.set("id", json!(group.clone()));
    a.set("kms_key_id", json!(""));
    a.set("log_group_class", json!("STANDARD"));
    a.set("name", json!(group));
    a.set("skip_destroy", json!(false));
    a.set("tags", t.clone());
    a.set("tags_all", t);
}

pub const TASK_DEFINITION: Kind = Kind {
    resource_type: "aws_ecs_task_definition",
    data: false,
    schema_version: 0,
    arguments: task_definition_arguments,
    state: task_definition_state,
    unknown_on_create: &["arn", "id", "revision"],
    inline_rules: false,
};

fn task_definition_arguments(_scope: &Scope, _r: &mut Rng) -> Vec<(&'static str, Expr)> {
    vec![
        (
            "container_definitions",
            reference("local.container_definitions"),
        ),
        ("cpu", constant(json!("512"))),
        ("memory", constant(json!("1024"))),
        ("network_mode", constant(json!("awsvpc"))),
        ("requires_compatibilities", constant(json!(["FARGATE"]))),
    ]
}

fn task_definition_state(a: &mut Attrs, r: &mut Rng, site: &Site) {
    let ctx = &site.ctx;
    let name = &ctx.name;
    a.set(
        "arn",
        json!(arn(
            ctx,
            "ecs",
            &format!("task-definition/{name}:{}", r.range(1, 90))
        )),
    );
    a.set(
        "container_definitions",
        json!(container_definitions(r, ctx)),
    );
    a.set(
        "execution_role_arn",
        json!(format!("arn:aws:iam::{}:role/{name}-exec", ctx.account)),
    );
    a.set("family", json!(name));
    a.set("id", json!(name));
    a.set("revision", json!(r.range(1, 90)));
    a.set(
        "task_role_arn",
        json!(format!("arn:aws:iam::{}:role/{name}-task", ctx.account)),
    );
}

pub const NACL_RULE: Kind = Kind {
    resource_type: "aws_network_acl_rule",
    data: false,
    schema_version: 0,
    arguments: nacl_rule_arguments,
    state: nacl_rule_state,
    unknown_on_create: &["id"],
    inline_rules: false,
};

fn nacl_rule_arguments(_scope: &Scope, r: &mut Rng) -> Vec<(&'static str, Expr)> {
    vec![
        ("cidr_block", constant(json!("0.0.0.0/0"))),
        ("egress", constant(json!(false))),
        ("from_port", constant(json!(445))),
        ("network_acl_id", reference("var.network_acl_id")),
        ("protocol", constant(json!("tcp"))),
        ("rule_action", constant(json!("deny"))),
        ("rule_number", constant(json!(r.range(90, 120)))),
        ("to_port", constant(json!(445))),
    ]
}

fn nacl_rule_state(a: &mut Attrs, r: &mut Rng, _site: &Site) {
    a.set("icmp_code", Value::Null);
    a.set("icmp_type", Value::Null);
    a.set("id", json!(format!("nacl-{}", r.digits(10))));
    a.set("ipv6_cidr_block", Value::Null);
    a.set("network_acl_id", json!(format!("acl-0{}", r.hex(16))));
}

pub const TABLE: Kind = Kind {
    resource_type: "aws_dynamodb_table",
    data: false,
    schema_version: 1,
    arguments: table_arguments,
    state: table_state,
    unknown_on_create: &["arn", "id", "stream_arn", "tags_all"],
    inline_rules: false,
};

fn table_arguments(scope: &Scope, _r: &mut Rng) -> Vec<(&'static str, Expr)> {
    vec![
        ("billing_mode", constant(json!("PAY_PER_REQUEST"))),
        ("hash_key", constant(json!("pk"))),
        ("range_key", constant(json!("sk"))),
        ("tags", scope.tags()),
    ]
}

fn table_state(a: &mut Attrs, r: &mut Rng, site: &Site) {
    let ctx = &site.ctx;
    let name = &ctx.name;
    let t = site.tags.clone();
    a.set("arn", json!(arn(ctx, "dynamodb", &format!("table/{name}"))));
    a.set(
        "attribute",
        json!([{"name": "gsi1pk", "type": "S"}, {"name": "pk", "type": "S"}, {"name": "sk", "type": "S"}])
    );
    a.set(
        "global_secondary_index",
        json!([{"hash_key": "gsi1pk", "name": "gsi1", "non_key_attributes": [],
            "projection_type": "ALL", "range_key": "sk", "read_capacity": 0, "write_capacity": 0}]),
    );
    a.set("id", json!(name));
    a.set("name", json!(name));
    a.set(
        "point_in_time_recovery",
        json!([{"enabled": ctx.env == "prod"}]),
    );
    a.set(
        "server_side_encryption",
        json!([{"enabled": true, "kms_key_arn": arn(ctx, "kms", &format!("key/{}", r.hex(32)))}]),
    );
    a.set("stream_arn", json!(""));
    a.set("tags", t.clone());
    a.set("tags_all", t);
    a.set(
        "ttl",
        json!([{"attribute_name": "expires_at", "enabled": true}]),
    );
}

pub const QUEUE: Kind = Kind {
    resource_type: "aws_sqs_queue",
    data: false,
    schema_version: 0,
    arguments: queue_arguments,
    state: queue_state,
    unknown_on_create: &["arn", "id", "tags_all", "url"],
    inline_rules: false,
};

fn queue_arguments(scope: &Scope, r: &mut Rng) -> Vec<(&'static str, Expr)> {
    vec![
        ("message_retention_seconds", constant(json!(1_209_600))),
        (
            "visibility_timeout_seconds",
            constant(json!(r.range(30, 900))),
        ),
        ("tags", scope.tags()),
    ]
}

fn queue_state(a: &mut Attrs, _r: &mut Rng, site: &Site) {
    let ctx = &site.ctx;
    let name = &ctx.name;
    let t = site.tags.clone();
    let q = format!("{}-{name}", ctx.env);
    let q_arn = arn(ctx, "sqs", &q);
    a.set("arn", json!(q_arn.clone()));
    a.set("fifo_queue", json!(false));
    a.set(
        "id",
        json!(format!(
            "https://sqs.{}.amazonaws.com/{}/{q}",
            ctx.region, ctx.account
        )),
    );
    a.set("name", json!(q));
    a.set(
        "redrive_policy",
        json!(
            json!({"deadLetterTargetArn": format!("{q_arn}-dlq"), "maxReceiveCount": 5})
                .to_string()
        ),
    );
    a.set("sqs_managed_sse_enabled", json!(true));
    a.set("tags", t.clone());
    a.set("tags_all", t);
    a.set(
        "url",
        json!(format!(
            "https://sqs.{}.amazonaws.com/{}/{q}",
            ctx.region, ctx.account
        )),
    );
}

pub const ATTACHMENT: Kind = Kind {
    resource_type: "aws_iam_role_policy_attachment",
    data: false,
    schema_version: 0,
    arguments: attachment_arguments,
    state: attachment_state,
    unknown_on_create: &["id"],
    inline_rules: false,
};

fn attachment_arguments(_scope: &Scope, _r: &mut Rng) -> Vec<(&'static str, Expr)> {
    vec![
        ("policy_arn", reference("aws_iam_policy.service.arn")),
        ("role", reference("aws_iam_role.service.name")),
    ]
}

fn attachment_state(a: &mut Attrs, r: &mut Rng, site: &Site) {
    let ctx = &site.ctx;
    let name = &ctx.name;
    a.set("id", json!(format!("{name}-{}", r.digits(20))));
    a.set(
        "policy_arn",
        json!(format!(
            "arn:aws:iam::{}:policy/service/{name}",
            ctx.account
        )),
    );
    a.set("role", json!(format!("{}-{name}", ctx.env)));
}

pub const ROUTE_ASSOCIATION: Kind = Kind {
    resource_type: "aws_route_table_association",
    data: false,
    schema_version: 0,
    arguments: route_association_arguments,
    state: route_association_state,
    unknown_on_create: &["id"],
    inline_rules: false,
};

fn route_association_arguments(_scope: &Scope, _r: &mut Rng) -> Vec<(&'static str, Expr)> {
    vec![
        ("route_table_id", reference("var.route_table_id")),
        ("subnet_id", reference("var.subnet_id")),
    ]
}

fn route_association_state(a: &mut Attrs, r: &mut Rng, _site: &Site) {
    a.set("gateway_id", Value::Null);
    a.set("id", json!(format!("rtbassoc-0{}", r.hex(16))));
    a.set("route_table_id", json!(format!("rtb-0{}", r.hex(16))));
    a.set("subnet_id", json!(format!("subnet-0{}", r.hex(16))));
}

pub const POLICY_DOCUMENT: Kind = Kind {
    resource_type: "aws_iam_policy_document",
    data: true,
    schema_version: 0,
    arguments: policy_document_arguments,
    state: policy_document_state,
    unknown_on_create: &["id", "json"],
    inline_rules: false,
};

fn policy_document_arguments(_scope: &Scope, _r: &mut Rng) -> Vec<(&'static str, Expr)> {
    vec![]
}

fn policy_document_state(a: &mut Attrs, r: &mut Rng, site: &Site) {
    let ctx = &site.ctx;
    let n = r.range(1, 3) as usize;
    a.set("id", json!(r.digits(10)));
    a.set("json", json!(policy_document(r, ctx, n)));
    a.set("version", json!("2012-10-17"));
}
