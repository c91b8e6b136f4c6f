//! `portgate serve` and `portgate healthcheck`: their flags, always; the service itself only
//! in builds with the `serve` feature (the service's HTTP stack is half of portgate's
//! dependencies, and a pre-commit hook builds the checker alone).

use std::path::PathBuf;

use clap::{Args, ValueEnum};

use super::flags::{GateArgs, parse_duration};

/// The service's start-up, signals and health check.
#[cfg(feature = "serve")]
mod run;
#[cfg(feature = "serve")]
pub(super) use run::{run_healthcheck, run_serve};

#[derive(Debug, Args)]
pub struct HealthcheckArgs {
    /// The health endpoint, plain HTTP (e.g. http://127.0.0.1:8080/healthz).
    #[arg(value_name = "URL", default_value = "http://127.0.0.1:8080/healthz")]
    pub url: String,
    /// How long to wait for the answer (e.g. 5s).
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = parse_duration)]
    pub timeout: std::time::Duration,
}

pub(super) const SERVE_ABOUT: &str = "Run the HCP Terraform / Terraform Enterprise run task service.\n\n\
TFC POSTs a signed run task request to / or /runtask; portgate answers 200 at once, fetches the \
plan JSON, runs the same check as `portgate check`, and reports passed or failed with one \
outcome per finding back to TFC. GET /healthz answers ok.\n\n\
Requests must carry a valid X-TFC-Task-Signature (HMAC-SHA512 with the run task's HMAC key, \
from --hmac-key-file or PORTGATE_HMAC_KEY). The access token is only ever sent to --tfc-url. \
Serve plain HTTP behind a TLS-terminating proxy. Logs go to stderr (RUST_LOG sets the level). \
SIGTERM or SIGINT drains: running jobs finish while new requests get 503; a second signal makes \
unfinished jobs report failed and exits with status 2.";

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line, for log collectors.
    Json,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address and port to listen on (plain HTTP: terminate TLS in front of it).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
    pub listen: std::net::SocketAddr,

    /// File holding the run task's HMAC key (a trailing newline is ignored). The environment
    /// variable PORTGATE_HMAC_KEY can hold it instead.
    #[arg(long, value_name = "PATH")]
    pub hmac_key_file: Option<PathBuf>,

    /// Accept requests without verifying their signature (no HMAC key). Only for local trials:
    /// anyone who reaches the service can then submit runs. Every request logs a warning.
    #[arg(long)]
    pub insecure_no_hmac: bool,

    /// The HCP Terraform or Terraform Enterprise address. Plans are fetched from and results
    /// sent to this origin only (scheme, host and port must match); requests naming another
    /// are refused with 400, so the run's token never leaves it.
    #[arg(long, value_name = "URL", default_value = "https://app.terraform.io")]
    pub tfc_url: String,

    #[command(flatten)]
    pub gate: GateArgs,

    /// Jobs checked at once.
    #[arg(long, value_name = "N", default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub max_concurrent: u32,

    /// Accepted jobs that may wait for a free slot; when they are all taken, new requests
    /// get 503 and TFC retries them.
    #[arg(long, value_name = "N", default_value_t = 32)]
    pub max_queue: u32,

    /// Time from a request to its verdict (e.g. 300s, 5m); after it, the run gets `failed`.
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = parse_duration)]
    pub job_timeout: std::time::Duration,

    /// On SIGTERM/SIGINT, how long to wait for running and queued jobs; after it, they report
    /// `failed` and the service exits.
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = parse_duration)]
    pub drain_timeout: std::time::Duration,

    /// Largest plan JSON fetched, in MiB.
    #[arg(long, value_name = "MIB", default_value_t = 512, value_parser = clap::value_parser!(u64).range(1..=65536))]
    pub max_plan_mib: u64,

    /// Connections served at once; beyond it, new connections get 503 with Retry-After (or
    /// are closed) [default: 1024, or the open-file limit less 64 when that is lower].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub max_connections: Option<u32>,

    /// Most MiB of request bodies held at once, over all connections (a body is read before
    /// its signature can be checked, so this bounds what unauthenticated clients can make the
    /// service hold); beyond it, new requests get 503 with Retry-After.
    #[arg(long, value_name = "MIB", default_value_t = 16, value_parser = clap::value_parser!(u64).range(1..=4095))]
    pub max_body_buffer_mib: u64,

    /// Most MiB of the run's Terraform files (`.tf`, `.tf.json`, `.tfvars`) a job reads, for
    /// proofs and patches; beyond it the sources prove and patch nothing more (findings stay,
    /// fixes become suggestions) and the outcomes say why. Parsed HCL takes up to about 26
    /// times its size in memory.
    #[arg(long, value_name = "MIB", default_value_t = 4, value_parser = clap::value_parser!(u64).range(1..=4096))]
    pub max_config_mib: u64,

    /// Directory for the per-job temporary directories (unpacked configurations)
    /// [default: the system temporary directory].
    #[arg(long, value_name = "DIR")]
    pub work_dir: Option<PathBuf>,

    /// Log format (to stderr).
    #[arg(long, value_enum, default_value_t = LogFormat::Text, value_name = "FORMAT")]
    pub log_format: LogFormat,
}
