//! The words a generated plan is written in: environments, regions, teams, module names and
//! `for_each` keys, and the long values real resources carry (tags, ARNs, IAM policy
//! documents, ECS container definitions) for the instance they describe.

use std::collections::BTreeSet;

use serde_json::{Map, Value, json};

use super::tools::Rng;

pub const ENVS: [&str; 5] = ["prod", "staging", "dev", "qa", "sandbox"];
pub const REGIONS: [&str; 4] = ["eu-west-1", "us-east-1", "eu-central-1", "ap-southeast-2"];
pub const ACCOUNTS: [&str; 3] = ["123456789012", "210987654321", "555566667777"];
pub const TEAMS: [&str; 8] = [
    "payments", "identity", "platform", "data-eng", "search", "growth", "billing", "sre",
];
pub const WORDS: [&str; 24] = [
    "web", "api", "worker", "batch", "etl", "ingest", "export", "report", "auth", "billing",
    "search", "cache", "queue", "audit", "media", "notify", "gateway", "ledger", "orders", "sync",
    "backup", "metrics", "profile", "catalog",
];
pub const TOP_MODULES: [&str; 24] = [
    "app",
    "network",
    "data",
    "platform",
    "edge",
    "batch",
    "shared",
    "monitoring",
    "security",
    "storage",
    "dns",
    "identity",
    "analytics",
    "payments",
    "search",
    "ml",
    "messaging",
    "backoffice",
    "legacy",
    "files",
    "reporting",
    "ingest",
    "gateway",
    "audit",
];
pub const CHILD_MODULES: [&str; 10] = [
    "sg", "vpc", "workers", "cache", "queue", "lambda", "bucket", "alarms", "iam", "records",
];
/// for_each keys, some with the dots and slashes real keys have.
pub const KEYS: [&str; 16] = [
    "prod",
    "staging",
    "eu",
    "us",
    "blue",
    "green",
    "primary",
    "secondary",
    "team-a",
    "team-b",
    "api.example.com",
    "files.corp.example",
    "eu-west-1a",
    "eu-west-1b",
    "team/data",
    "v2",
];
pub const INSTANCE_TYPES: [&str; 8] = [
    "t3.micro",
    "t3.medium",
    "m6i.large",
    "m6i.xlarge",
    "c6g.2xlarge",
    "r6i.large",
    "t4g.small",
    "m7g.medium",
];
pub const RUNTIMES: [&str; 5] = [
    "python3.12",
    "nodejs20.x",
    "java21",
    "provided.al2023",
    "python3.11",
];
pub const IAM_ACTIONS: [&str; 20] = [
    "s3:GetObject",
    "s3:PutObject",
    "s3:ListBucket",
    "s3:DeleteObject",
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "dynamodb:Query",
    "dynamodb:UpdateItem",
    "sqs:SendMessage",
    "sqs:ReceiveMessage",
    "sqs:DeleteMessage",
    "kms:Decrypt",
    "kms:GenerateDataKey",
    "logs:CreateLogStream",
    "logs:PutLogEvents",
    "secretsmanager:GetSecretValue",
    "ssm:GetParameter",
    "ssm:GetParametersByPath",
    "ecr:BatchGetImage",
    "xray:PutTraceSegments",
];

/// The identity of one resource instance, for values that mention it.
pub struct Ctx {
    pub env: &'static str,
    pub region: &'static str,
    pub account: &'static str,
    pub team: &'static str,
    /// A name unique to the instance: `orders-worker-3-blue`.
    pub name: String,
}

pub fn tags(r: &mut Rng, ctx: &Ctx, extra: usize) -> Value {
    let mut m = Map::new();
    m.insert("Name".into(), Value::String(ctx.name.clone()));
    m.insert("Environment".into(), Value::String(ctx.env.into()));
    m.insert("Team".into(), Value::String(ctx.team.into()));
    m.insert("ManagedBy".into(), Value::String("terraform".into()));
    for i in 0..extra {
        m.insert(
            format!(
                "acme:{}",
                ["owner", "data-class", "backup", "review", "ticket"][i % 5]
            ),
            Value::String(
                [
                    format!("{}@acme-corp.example", ctx.team),
                    "internal".to_string(),
                    "daily-35d".to_string(),
                    format!("2025-{:02}-{:02}", r.range(1, 12), r.range(1, 28)),
                    format!("OPS-{}", r.digits(4)),
                ][i % 5]
                    .clone(),
            ),
        );
    }
    Value::Object(m)
}

pub fn arn(ctx: &Ctx, service: &str, rest: &str) -> String {
    format!("arn:aws:{service}:{}:{}:{rest}", ctx.region, ctx.account)
}

pub fn policy_document(r: &mut Rng, ctx: &Ctx, statements: usize) -> String {
    let statements: Vec<Value> = (0..statements)
        .map(|i| {
            let n = r.range(2, 6) as usize;
            let actions: BTreeSet<&str> = (0..n).map(|_| *r.pick(&IAM_ACTIONS)).collect();
            let resources: Vec<String> = (0..r.range(1, 4))
                .map(|_| match r.below(3) {
                    0 => format!(
                        "arn:aws:s3:::acme-{}-{}-{}/*",
                        ctx.env,
                        r.pick(&WORDS),
                        r.hex(6)
                    ),
                    1 => arn(
                        ctx,
                        "dynamodb",
                        &format!("table/{}-{}", ctx.env, r.pick(&WORDS)),
                    ),
                    _ => arn(
                        ctx,
                        "sqs",
                        &format!("{}-{}-events", ctx.env, r.pick(&WORDS)),
                    ),
                })
                .collect();
            let mut s = Map::new();
            s.insert("Sid".into(), Value::String(format!("Statement{i}")));
            s.insert("Effect".into(), Value::String("Allow".into()));
            s.insert("Action".into(), json!(actions));
            s.insert("Resource".into(), json!(resources));
            if r.chance(30) {
                s.insert(
                    "Condition".into(),
                    json!({"StringEquals": {"aws:PrincipalTag/team": ctx.team,
                        "aws:RequestedRegion": ctx.region}}),
                );
            }
            Value::Object(s)
        })
        .collect();
    json!({"Version": "2012-10-17", "Statement": statements}).to_string()
}

pub fn assume_role_policy(service: &str) -> String {
    json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
        "Principal": {"Service": service}}]})
    .to_string()
}

pub fn container_definitions(r: &mut Rng, ctx: &Ctx) -> String {
    let containers: Vec<Value> = (0..r.range(1, 2))
        .map(|i| {
            let env: Vec<Value> = (0..r.range(1, 3))
                .map(|j| {
                    json!({"name": format!("{}_{}", ["DB_HOST", "QUEUE_URL", "LOG_LEVEL",
                        "FEATURE_FLAGS", "OTEL_ENDPOINT", "CACHE_URL", "REGION", "BUCKET"][j as usize % 8], j),
                        "value": format!("{}-{}.{}.internal.acme-corp.example", ctx.name, r.hex(8), ctx.env)})
                })
                .collect();
            json!({
                "name": if i == 0 { ctx.name.clone() } else { "log-router".to_string() },
                "image": format!("{}.dkr.ecr.{}.amazonaws.com/{}:{}", ctx.account, ctx.region,
                    ctx.name, r.hex(12)),
                "cpu": 256, "memory": 512, "essential": i == 0,
                "portMappings": [{"containerPort": 8080, "hostPort": 8080, "protocol": "tcp"}],
                "environment": env,
                "logConfiguration": {"logDriver": "awslogs", "options": {
                    "awslogs-group": format!("/ecs/{}/{}", ctx.env, ctx.name),
                    "awslogs-region": ctx.region, "awslogs-stream-prefix": "ecs"}}
            })
        })
        .collect();
    Value::Array(containers).to_string()
}
