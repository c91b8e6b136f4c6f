//! Load benchmark for `portgate serve`.
//!
//! Starts an in-process fake HCP Terraform on 127.0.0.1 (an API listener, plus an "archivist"
//! listener on another port that serves the plan JSON and the configuration tarball behind a
//! redirect, as HCP Terraform does), spawns the release `portgate serve` binary against it with
//! an HMAC key file, and sends `--requests` signed run task requests from `--clients`
//! concurrent clients, each with its own task result, callback URL, plan URL and access token.
//! `503` answers (queue full) are retried after `--retry-ms`, as TFC would retry them (TFC waits
//! longer). When every accepted task has its final callback (or the deadline passes) it waits
//! `--settle-ms` for late duplicates, reads the server's peak RSS (VmHWM), stops it with
//! SIGTERM, and prints a one-line JSON summary to stdout.
//!
//! Exits 1 when any task did not get exactly one final callback, when a final result says the
//! plan could not be checked, when the verdicts differ between tasks (they all check the same
//! plan), when a token was sent where it should not be, or when the server did not exit 0;
//! exits 2 when the benchmark cannot run (no binary, no port, the server does not start).
//!
//! ```sh
//! cargo build --release --bins --examples --features serve
//! target/release/examples/load_serve --requests 500 --clients 50 --max-concurrent 8
//! target/release/examples/load_serve --plan big.json --source-dir tf/ --requests 50
//! # TFC hiccups: every 7th final callback answered 503 (portgate must retry it)
//! target/release/examples/load_serve --fail-every-nth-callback 7
//! # checks slower than the job timeout, arriving every 2.5 s, one slot
//! target/release/examples/load_serve --plan slow.json --requests 6 --clients 1 \
//!     --interval-ms 2500 --max-concurrent 1 --serve-arg=--job-timeout=2s
//! ```

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use clap::Parser;
use hmac::{Hmac, KeyInit, Mac};
use serde_json::{Value, json};
use sha2::Sha512;

const KEY: &str = "load-serve-hmac-key";

#[derive(Debug, Parser)]
#[command(about = "Load benchmark for `portgate serve` against an in-process fake HCP Terraform")]
struct Args {
    /// Run task requests to send (each a distinct task result).
    #[arg(long, default_value_t = 500)]
    requests: usize,

    /// Concurrent clients sending them.
    #[arg(long, default_value_t = 50)]
    clients: usize,

    /// `portgate serve --max-concurrent`.
    #[arg(long, default_value_t = 8)]
    max_concurrent: u32,

    /// `portgate serve --max-queue` [default: portgate's].
    #[arg(long)]
    max_queue: Option<u32>,

    /// Plan JSON the fake TFC serves to every task [default: testdata/plans/example.json].
    #[arg(long, value_name = "FILE")]
    plan: Option<PathBuf>,

    /// Serve a configuration tarball of this directory's files and start portgate with
    /// `--trusted-cidr`, so every job downloads, unpacks and patches it.
    #[arg(long, value_name = "DIR")]
    source_dir: Option<PathBuf>,

    /// The trusted CIDR passed with `--source-dir`.
    #[arg(long, default_value = "10.0.0.0/8")]
    trusted_cidr: String,

    /// The `portgate` binary.
    #[arg(long, value_name = "PATH", default_value = "target/release/portgate")]
    portgate: PathBuf,

    /// More arguments for `portgate serve` (repeatable), e.g. `--serve-arg=--job-timeout=60s`.
    #[arg(long = "serve-arg", value_name = "ARG", allow_hyphen_values = true)]
    serve_args: Vec<String>,

    /// Seconds from the first request until the benchmark stops waiting for callbacks.
    #[arg(long, default_value_t = 300)]
    timeout: u64,

    /// Wait before re-sending a request answered 503.
    #[arg(long, default_value_t = 100)]
    retry_ms: u64,

    /// After the last expected final callback, how long to wait for duplicates.
    #[arg(long, default_value_t = 1000)]
    settle_ms: u64,

    /// Answer every Nth final callback with 503 without recording it, as a TFC hiccup that
    /// portgate must retry (0: never).
    #[arg(long, value_name = "N", default_value_t = 0)]
    fail_every_nth_callback: usize,

    /// Each client waits this long between its requests (0: back to back).
    #[arg(long, value_name = "MS", default_value_t = 0)]
    interval_ms: u64,

    /// The fake TFC waits this long before answering each plan request (a slow TFC keeps jobs
    /// busy longer, so the queue fills).
    #[arg(long, value_name = "MS", default_value_t = 0)]
    plan_delay_ms: u64,
}

// ---------------------------------------------------------------------------------------------
// The fake TFC.

#[derive(Debug, Default)]
struct Task {
    token: String,
    first_sent: Option<Instant>,
    accepted: Option<Instant>,
    /// Time from sending the request that got 200 to its answer.
    answer: Option<Duration>,
    running: usize,
    finals: Vec<Final>,
}

#[derive(Debug, Clone)]
struct Final {
    at: Instant,
    status: String,
    message: String,
    outcomes: usize,
}

#[derive(Default)]
struct Counters {
    plan_api_gets: AtomicUsize,
    plan_downloads: AtomicUsize,
    config_api_gets: AtomicUsize,
    config_downloads: AtomicUsize,
    /// API requests with a missing or wrong bearer token.
    bad_auth: AtomicUsize,
    /// Archivist requests that carried a token (must never happen).
    token_leaks: AtomicUsize,
    /// Requests the fake did not expect (unknown path or task).
    unexpected: AtomicUsize,
}

struct Fake {
    fail_every_nth_callback: usize,
    plan_delay: Duration,
    /// Final callbacks received, recorded or not.
    final_tries: AtomicUsize,
    /// Final callbacks answered 503 on purpose.
    failed_on_purpose: AtomicUsize,
    plan: Bytes,
    tarball: Option<Bytes>,
    archivist: OnceLock<SocketAddr>,
    tasks: Mutex<Vec<Task>>,
    counters: Counters,
}

type Shared = Arc<Fake>;

async fn listen(router: Router) -> std::io::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, router).await {
            eprintln!("load_serve: fake TFC listener failed: {e}");
        }
    });
    Ok(addr)
}

/// `task-00042` → 42.
fn task_index(id: &str) -> Option<usize> {
    id.strip_prefix("task-")?.parse().ok()
}

impl Fake {
    /// Whether `authorization` is the bearer token of task `index`.
    fn authorized(&self, index: usize, authorization: Option<&str>) -> bool {
        let tasks = self.tasks.lock().unwrap();
        let ok = match (tasks.get(index), authorization) {
            (Some(task), Some(auth)) => auth.strip_prefix("Bearer ") == Some(task.token.as_str()),
            _ => false,
        };
        if !ok {
            self.counters.bad_auth.fetch_add(1, Ordering::Relaxed);
        }
        ok
    }
}

async fn api(State(fake): State<Shared>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let path = parts.uri.path().to_string();
    let authorization = parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let archivist = *fake.archivist.get().expect("archivist started");
    let counters = &fake.counters;
    match (parts.method.as_str(), segments.as_slice()) {
        ("GET", ["api", "v2", "plans", id, "json-output"]) => {
            counters.plan_api_gets.fetch_add(1, Ordering::Relaxed);
            let Some(index) = id.strip_prefix("plan-").and_then(|i| i.parse().ok()) else {
                counters.unexpected.fetch_add(1, Ordering::Relaxed);
                return StatusCode::NOT_FOUND.into_response();
            };
            if !fake.authorized(index, authorization.as_deref()) {
                return StatusCode::UNAUTHORIZED.into_response();
            }
            if !fake.plan_delay.is_zero() {
                tokio::time::sleep(fake.plan_delay).await;
            }
            (
                StatusCode::TEMPORARY_REDIRECT,
                [(
                    header::LOCATION,
                    format!("http://{archivist}/archive/plan/{index}?signature=presigned"),
                )],
            )
                .into_response()
        }
        ("GET", ["api", "v2", "configuration-versions", id, "download"]) => {
            counters.config_api_gets.fetch_add(1, Ordering::Relaxed);
            let Some(index) = id.strip_prefix("cv-").and_then(|i| i.parse().ok()) else {
                counters.unexpected.fetch_add(1, Ordering::Relaxed);
                return StatusCode::NOT_FOUND.into_response();
            };
            if !fake.authorized(index, authorization.as_deref()) {
                return StatusCode::UNAUTHORIZED.into_response();
            }
            if fake.tarball.is_none() {
                return StatusCode::NOT_FOUND.into_response();
            }
            (
                StatusCode::FOUND,
                [(
                    header::LOCATION,
                    format!("http://{archivist}/archive/config/{index}.tar.gz?signature=presigned"),
                )],
            )
                .into_response()
        }
        ("PATCH", ["api", "v2", "task-results", id, "callback"]) => {
            let Some(index) = task_index(id) else {
                counters.unexpected.fetch_add(1, Ordering::Relaxed);
                return StatusCode::NOT_FOUND.into_response();
            };
            if !fake.authorized(index, authorization.as_deref()) {
                return StatusCode::UNAUTHORIZED.into_response();
            }
            let Ok(bytes) = axum::body::to_bytes(body, 16 * 1024 * 1024).await else {
                return StatusCode::BAD_REQUEST.into_response();
            };
            let at = Instant::now();
            let Ok(result) = serde_json::from_slice::<Value>(&bytes) else {
                counters.unexpected.fetch_add(1, Ordering::Relaxed);
                return StatusCode::UNPROCESSABLE_ENTITY.into_response();
            };
            let attributes = &result["data"]["attributes"];
            let status = attributes["status"].as_str().unwrap_or("").to_string();
            let mut tasks = fake.tasks.lock().unwrap();
            let Some(task) = tasks.get_mut(index) else {
                counters.unexpected.fetch_add(1, Ordering::Relaxed);
                return StatusCode::NOT_FOUND.into_response();
            };
            if status == "running" {
                task.running += 1;
            } else {
                let tries = fake.final_tries.fetch_add(1, Ordering::Relaxed) + 1;
                let nth = fake.fail_every_nth_callback;
                if nth > 0 && tries.is_multiple_of(nth) {
                    fake.failed_on_purpose.fetch_add(1, Ordering::Relaxed);
                    return StatusCode::SERVICE_UNAVAILABLE.into_response();
                }
                task.finals.push(Final {
                    at,
                    status,
                    message: attributes["message"].as_str().unwrap_or("").to_string(),
                    outcomes: result["data"]["relationships"]["outcomes"]["data"]
                        .as_array()
                        .map_or(0, Vec::len),
                });
            }
            StatusCode::OK.into_response()
        }
        _ => {
            counters.unexpected.fetch_add(1, Ordering::Relaxed);
            StatusCode::NOT_FOUND.into_response()
        }
    }
}

async fn archivist(State(fake): State<Shared>, request: Request) -> Response {
    if request.headers().contains_key(header::AUTHORIZATION) {
        fake.counters.token_leaks.fetch_add(1, Ordering::Relaxed);
    }
    let path = request.uri().path();
    if path.starts_with("/archive/plan/") {
        fake.counters.plan_downloads.fetch_add(1, Ordering::Relaxed);
        return (StatusCode::OK, fake.plan.clone()).into_response();
    }
    if path.starts_with("/archive/config/")
        && let Some(tarball) = &fake.tarball
    {
        fake.counters
            .config_downloads
            .fetch_add(1, Ordering::Relaxed);
        return (StatusCode::OK, tarball.clone()).into_response();
    }
    fake.counters.unexpected.fetch_add(1, Ordering::Relaxed);
    StatusCode::NOT_FOUND.into_response()
}

/// A `.tar.gz` of the regular files under `dir`, with paths relative to it.
fn tarball_of(dir: &Path) -> std::io::Result<Vec<u8>> {
    let mut builder = tar::Builder::new(flate2::write::GzEncoder::new(
        Vec::new(),
        flate2::Compression::fast(),
    ));
    builder.follow_symlinks(false);
    builder.append_dir_all(".", dir)?;
    builder.into_inner()?.finish()
}

// ---------------------------------------------------------------------------------------------
// The requests.

fn sign(key: &[u8], body: &[u8]) -> String {
    let mut mac = Hmac::<Sha512>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

/// A run task request as HCP Terraform sends it (the shape of tests/runtask.rs).
fn run_request(api: SocketAddr, index: usize, token: &str) -> Value {
    let url = |path: String| format!("http://{api}{path}");
    json!({
        "payload_version": 1,
        "stage": "post_plan",
        "access_token": token,
        "capabilities": {"outcomes": true},
        "configuration_version_download_url": url(format!("/api/v2/configuration-versions/cv-{index}/download")),
        "configuration_version_id": format!("cv-{index}"),
        "is_speculative": false,
        "organization_name": "acme",
        "plan_json_api_url": url(format!("/api/v2/plans/plan-{index}/json-output")),
        "run_app_url": format!("https://app.terraform.io/app/acme/ws/runs/run-{index}"),
        "run_id": format!("run-{index}"),
        "task_result_callback_url": url(format!("/api/v2/task-results/task-{index:05}/callback")),
        "task_result_enforcement_level": "mandatory",
        "task_result_id": format!("task-{index:05}"),
        "vcs_pull_request_url": null,
        "workspace_id": "ws-1",
        "workspace_name": "load",
        "workspace_working_directory": "",
        "a_field_tfc_adds_later": {"nested": [1, 2]},
    })
}

#[derive(Default)]
struct ClientStats {
    /// Non-200 answers, by status.
    rejected: Mutex<BTreeMap<u16, usize>>,
    /// Requests that failed without an answer.
    errors: AtomicUsize,
    /// Tasks never accepted (a non-retryable answer, or the deadline).
    never_accepted: AtomicUsize,
}

/// What every client shares.
struct Sender {
    service: SocketAddr,
    api: SocketAddr,
    fake: Shared,
    stats: ClientStats,
    retry: Duration,
    deadline: Instant,
}

/// Sends task `index` until it is accepted (retrying 503 and network errors) or the deadline.
async fn send_one(sender: &Sender, http: &reqwest::Client, index: usize) {
    let Sender {
        service,
        api,
        fake,
        stats,
        retry,
        deadline,
    } = sender;
    let (service, api, retry, deadline) = (*service, *api, *retry, *deadline);
    let token = fake.tasks.lock().unwrap()[index].token.clone();
    let body = serde_json::to_vec(&run_request(api, index, &token)).expect("JSON");
    let signature = sign(KEY.as_bytes(), &body);
    let first = Instant::now();
    fake.tasks.lock().unwrap()[index].first_sent = Some(first);
    loop {
        let start = Instant::now();
        let sent = http
            .post(format!("http://{service}/runtask"))
            .header(header::CONTENT_TYPE, "application/json")
            .header(
                header::USER_AGENT,
                "TFC/1.0 (+https://app.terraform.io; TFC)",
            )
            .header("X-TFC-Task-Signature", &signature)
            .body(body.clone())
            .send()
            .await;
        let answered = Instant::now();
        match sent {
            Ok(response) if response.status() == StatusCode::OK => {
                let mut tasks = fake.tasks.lock().unwrap();
                let task = &mut tasks[index];
                task.accepted = Some(answered);
                task.answer = Some(answered - start);
                return;
            }
            Ok(response) => {
                let status = response.status().as_u16();
                *stats.rejected.lock().unwrap().entry(status).or_default() += 1;
                if status != 503 {
                    stats.never_accepted.fetch_add(1, Ordering::Relaxed);
                    return;
                }
            }
            Err(e) => {
                if stats.errors.fetch_add(1, Ordering::Relaxed) < 5 {
                    eprintln!("load_serve: task {index}: request failed: {e}");
                }
            }
        }
        if Instant::now() + retry > deadline {
            stats.never_accepted.fetch_add(1, Ordering::Relaxed);
            return;
        }
        tokio::time::sleep(retry).await;
    }
}

// ---------------------------------------------------------------------------------------------
// The server process.

struct Server {
    child: Child,
    addr: SocketAddr,
    log: Arc<LogStats>,
}

impl Drop for Server {
    /// A server still running when the benchmark gives up early is killed, not left behind.
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

#[derive(Default)]
struct LogStats {
    warn: AtomicUsize,
    error: AtomicUsize,
    /// Warning and error messages ("LEVEL message") and how often each was logged.
    messages: Mutex<BTreeMap<String, usize>>,
    /// The first few warning and error lines.
    samples: Mutex<Vec<String>>,
}

/// A port on 127.0.0.1 that was free a moment ago.
fn free_port() -> Result<u16, String> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")
        .map_err(|e| format!("cannot find a free port: {e}"))?;
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(|e| format!("cannot find a free port: {e}"))
}

/// Starts `portgate serve` on a free port; [`wait_ready`] waits until it answers.
fn start_server(args: &Args, tfc: SocketAddr, dir: &Path) -> Result<Server, String> {
    let key_file = dir.join("hmac-key");
    {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&key_file)
            .map_err(|e| format!("cannot write the key file: {e}"))?;
        file.write_all(KEY.as_bytes())
            .map_err(|e| format!("cannot write the key file: {e}"))?;
    }
    let work_dir = dir.join("work");
    std::fs::create_dir_all(&work_dir).map_err(|e| format!("cannot create {work_dir:?}: {e}"))?;
    let portgate = std::fs::canonicalize(&args.portgate).map_err(|e| {
        format!(
            "{}: {e} (build it: cargo build --release --features serve)",
            args.portgate.display()
        )
    })?;
    let addr = SocketAddr::from(([127, 0, 0, 1], free_port()?));
    let mut command = Command::new(&portgate);
    command
        .arg("serve")
        .args(["--listen", &addr.to_string(), "--log-format", "json"])
        .arg("--hmac-key-file")
        .arg(&key_file)
        .args(["--tfc-url", &format!("http://{tfc}")])
        .args(["--max-concurrent", &args.max_concurrent.to_string()])
        .arg("--work-dir")
        .arg(&work_dir);
    if let Some(queue) = args.max_queue {
        command.args(["--max-queue", &queue.to_string()]);
    }
    if args.source_dir.is_some() {
        command.args(["--trusted-cidr", &args.trusted_cidr]);
    }
    command.args(&args.serve_args);
    // An empty working directory: no portgate.toml is picked up by accident.
    command
        .current_dir(dir)
        .env_remove("PORTGATE_HMAC_KEY")
        .env(
            "RUST_LOG",
            std::env::var("RUST_LOG").unwrap_or_else(|_| "info".to_string()),
        )
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut child = command
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", portgate.display()))?;
    let stderr = child.stderr.take().expect("piped");
    let log = Arc::new(LogStats::default());
    let thread_log = Arc::clone(&log);
    // Reads every log line, so the pipe never fills and blocks the server.
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let event: Value = serde_json::from_str(&line).unwrap_or(Value::Null);
            let level = event["level"].as_str().unwrap_or("");
            let counter = match level {
                "WARN" => Some(&thread_log.warn),
                "ERROR" => Some(&thread_log.error),
                _ if event.is_null() => Some(&thread_log.error),
                _ => None,
            };
            if let Some(counter) = counter {
                counter.fetch_add(1, Ordering::Relaxed);
                let message = event["fields"]["message"]
                    .as_str()
                    .or(event["message"].as_str())
                    .unwrap_or("(not a JSON log line)");
                let key: String = format!("{level} {message}").chars().take(100).collect();
                *thread_log.messages.lock().unwrap().entry(key).or_default() += 1;
                let mut samples = thread_log.samples.lock().unwrap();
                if samples.len() < 10 {
                    samples.push(line);
                }
            }
        }
    });
    Ok(Server { child, addr, log })
}

/// Waits until the server answers `GET /healthz` with 200.
async fn wait_ready(server: &mut Server) -> Result<(), String> {
    let probe = reqwest::Client::new();
    let ready_by = Instant::now() + Duration::from_secs(30);
    loop {
        let healthy = probe
            .get(format!("http://{}/healthz", server.addr))
            .send()
            .await
            .is_ok_and(|r| r.status() == StatusCode::OK);
        if healthy {
            return Ok(());
        }
        let samples = || server.log.samples.lock().unwrap().join("\n");
        if let Ok(Some(status)) = server.child.try_wait() {
            // Give the log thread a moment to read the last lines.
            tokio::time::sleep(Duration::from_millis(100)).await;
            return Err(format!("portgate serve exited ({status})\n{}", samples()));
        }
        if Instant::now() > ready_by {
            stop_server(&mut server.child, Duration::from_secs(5));
            return Err(format!(
                "portgate serve on {} never answered /healthz\n{}",
                server.addr,
                samples()
            ));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Peak resident set size in KiB (VmHWM) of a running process.
fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}

/// SIGTERM, then up to `wait` for the exit; SIGKILL after that. The exit code, if any.
fn stop_server(child: &mut Child, wait: Duration) -> Option<i32> {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let start = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return status.code(),
            Ok(None) if start.elapsed() < wait => std::thread::sleep(Duration::from_millis(20)),
            _ => {
                eprintln!("load_serve: portgate serve did not stop after SIGTERM; killing it");
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------

fn percentile(sorted: &[f64], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (p / 100.0 * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

fn ms(value: Option<f64>) -> Value {
    value.map_or(Value::Null, |v| json!((v * 10.0).round() / 10.0))
}

fn main() {
    let args = Args::parse();
    if args.requests == 0 || args.clients == 0 {
        eprintln!("load_serve: --requests and --clients must be at least 1");
        std::process::exit(2);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    match runtime.block_on(run(args)) {
        Ok(true) => {}
        Ok(false) => std::process::exit(1),
        Err(e) => {
            eprintln!("load_serve: {e}");
            std::process::exit(2);
        }
    }
}

async fn run(args: Args) -> Result<bool, String> {
    let plan_path = args.plan.clone().unwrap_or_else(|| {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/plans/example.json")
    });
    let plan = std::fs::read(&plan_path).map_err(|e| format!("{}: {e}", plan_path.display()))?;
    let plan_bytes = plan.len();
    let tarball = match &args.source_dir {
        Some(dir) => {
            Some(Bytes::from(tarball_of(dir).map_err(|e| {
                format!("cannot pack {}: {e}", dir.display())
            })?))
        }
        None => None,
    };
    let fake = Arc::new(Fake {
        fail_every_nth_callback: args.fail_every_nth_callback,
        plan_delay: Duration::from_millis(args.plan_delay_ms),
        final_tries: AtomicUsize::new(0),
        failed_on_purpose: AtomicUsize::new(0),
        plan: Bytes::from(plan),
        tarball,
        archivist: OnceLock::new(),
        tasks: Mutex::new(
            (0..args.requests)
                .map(|i| Task {
                    token: format!("atlasv1.load-token-{i:05}"),
                    ..Task::default()
                })
                .collect(),
        ),
        counters: Counters::default(),
    });
    let listen_err = |e: std::io::Error| format!("cannot listen on 127.0.0.1: {e}");
    let api_addr = listen(Router::new().fallback(api).with_state(Arc::clone(&fake)))
        .await
        .map_err(listen_err)?;
    let archivist_addr = listen(
        Router::new()
            .fallback(archivist)
            .with_state(Arc::clone(&fake)),
    )
    .await
    .map_err(listen_err)?;
    let _ = fake.archivist.set(archivist_addr);

    let dir = tempfile::Builder::new()
        .prefix("load-serve-")
        .tempdir()
        .map_err(|e| format!("cannot create a temporary directory: {e}"))?;
    let mut server = start_server(&args, api_addr, dir.path())?;
    let service = server.addr;

    wait_ready(&mut server).await?;

    // HTTP clients are built before the clock starts: building one sets up TLS roots, which
    // takes milliseconds of CPU and would be counted as the server's answer time.
    let https: Vec<reqwest::Client> = (0..args.clients.min(args.requests))
        .map(|_| {
            reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .timeout(Duration::from_secs(30))
                .build()
                .map_err(|e| format!("cannot build an HTTP client: {e}"))
        })
        .collect::<Result<_, _>>()?;
    let start = Instant::now();
    let deadline = start + Duration::from_secs(args.timeout);
    let sender = Arc::new(Sender {
        service,
        api: api_addr,
        fake: Arc::clone(&fake),
        stats: ClientStats::default(),
        retry: Duration::from_millis(args.retry_ms),
        deadline,
    });
    let next = Arc::new(AtomicUsize::new(0));
    let mut clients = Vec::new();
    for http in https {
        let (sender, next) = (Arc::clone(&sender), Arc::clone(&next));
        let requests = args.requests;
        let interval = Duration::from_millis(args.interval_ms);
        clients.push(tokio::spawn(async move {
            loop {
                let index = next.fetch_add(1, Ordering::Relaxed);
                if index >= requests {
                    break;
                }
                send_one(&sender, &http, index).await;
                if !interval.is_zero() {
                    tokio::time::sleep(interval).await;
                }
            }
        }));
    }
    for client in clients {
        client
            .await
            .map_err(|e| format!("a client task failed: {e}"))?;
    }
    let sent_all = start.elapsed();

    // Every accepted task has a final callback, or the deadline.
    let mut timed_out = false;
    loop {
        let done = fake
            .tasks
            .lock()
            .unwrap()
            .iter()
            .all(|t| t.accepted.is_none() || !t.finals.is_empty());
        if done {
            break;
        }
        if Instant::now() > deadline {
            timed_out = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let finished = Instant::now();
    tokio::time::sleep(Duration::from_millis(args.settle_ms)).await;

    let pid = server.child.id();
    let peak_rss = peak_rss_kib(pid);
    let exit = stop_server(&mut server.child, Duration::from_secs(90));

    // The summary.
    let tasks = fake.tasks.lock().unwrap();
    let accepted = tasks.iter().filter(|t| t.accepted.is_some()).count();
    let finals: usize = tasks.iter().map(|t| t.finals.len()).sum();
    let with_one = tasks.iter().filter(|t| t.finals.len() == 1).count();
    let missing = tasks.iter().filter(|t| t.finals.is_empty()).count();
    let duplicates: usize = tasks.iter().map(|t| t.finals.len().saturating_sub(1)).sum();
    let running: usize = tasks.iter().map(|t| t.running).sum();
    let last_final = tasks
        .iter()
        .filter_map(|t| t.finals.first().map(|f| f.at))
        .max();
    let wall = last_final.map_or(finished, |at| at.max(start)) - start;
    let mut latency: Vec<f64> = tasks
        .iter()
        .filter_map(|t| Some((t.finals.first()?.at - t.first_sent?).as_secs_f64() * 1000.0))
        .collect();
    latency.sort_by(f64::total_cmp);
    let mut answers: Vec<f64> = tasks
        .iter()
        .filter_map(|t| Some(t.answer?.as_secs_f64() * 1000.0))
        .collect();
    answers.sort_by(f64::total_cmp);

    // Every task checks the same plan: the verdicts must agree, and none may be an error.
    let mut verdicts: BTreeMap<String, usize> = BTreeMap::new();
    let mut not_checked = 0;
    for f in tasks.iter().flat_map(|t| &t.finals) {
        // Results of a check start with "No NetBIOS" or a count; errors with "portgate ...".
        if f.message.starts_with("portgate") || f.message.starts_with("the run task request") {
            not_checked += 1;
        }
        let short: String = f.message.chars().take(120).collect();
        *verdicts
            .entry(format!("{} ({} outcomes): {short}", f.status, f.outcomes))
            .or_default() += 1;
    }
    let mut statuses: BTreeMap<&str, usize> = BTreeMap::new();
    for f in tasks.iter().flat_map(|t| &t.finals) {
        *statuses.entry(f.status.as_str()).or_default() += 1;
    }
    let stats = &sender.stats;
    let rejected = stats.rejected.lock().unwrap().clone();
    let rejected_total: usize = rejected.values().sum();
    let c = &fake.counters;
    let load = |a: &AtomicUsize| a.load(Ordering::Relaxed);
    let bad_auth = load(&c.bad_auth);
    let token_leaks = load(&c.token_leaks);
    let completed = tasks.iter().filter(|t| !t.finals.is_empty()).count();

    let ok = with_one == args.requests
        && not_checked == 0
        && verdicts.len() <= 1
        && bad_auth == 0
        && token_leaks == 0
        && exit == Some(0);
    let summary = json!({
        "ok": ok,
        "requests": args.requests,
        "concurrency": args.clients,
        "max_concurrent": args.max_concurrent,
        "max_queue": args.max_queue,
        "plan_bytes": plan_bytes,
        "with_configuration": args.source_dir.is_some(),
        "accepted": accepted,
        "rejected": rejected_total,
        "rejected_by_status": rejected.iter().map(|(k, v)| (k.to_string(), json!(v))).collect::<serde_json::Map<_, _>>(),
        "never_accepted": load(&stats.never_accepted),
        "request_errors": load(&stats.errors),
        "final_callbacks": finals,
        "tasks_with_one_final": with_one,
        "duplicates": duplicates,
        "missing": missing,
        "running_callbacks": running,
        "callbacks_failed_on_purpose": load(&fake.failed_on_purpose),
        "final_statuses": statuses,
        "not_checked": not_checked,
        "distinct_verdicts": verdicts.len(),
        "plan_downloads": load(&c.plan_downloads),
        "config_downloads": load(&c.config_downloads),
        "bad_auth": bad_auth,
        "token_leaks": token_leaks,
        "unexpected_requests": load(&c.unexpected),
        "timed_out": timed_out,
        "send_seconds": (sent_all.as_secs_f64() * 1000.0).round() / 1000.0,
        "wall_seconds": (wall.as_secs_f64() * 1000.0).round() / 1000.0,
        "requests_per_second": if wall.is_zero() { 0.0 } else { ((completed as f64 / wall.as_secs_f64()) * 10.0).round() / 10.0 },
        "latency_ms": {
            "p50": ms(percentile(&latency, 50.0)),
            "p95": ms(percentile(&latency, 95.0)),
            "p99": ms(percentile(&latency, 99.0)),
            "max": ms(latency.last().copied()),
        },
        "answer_ms": {
            "p50": ms(percentile(&answers, 50.0)),
            "p99": ms(percentile(&answers, 99.0)),
            "max": ms(answers.last().copied()),
        },
        "server_peak_rss_mb": peak_rss.map(|kib| (kib as f64 / 1024.0 * 10.0).round() / 10.0),
        "server_exit": exit,
        "server_warnings": load(&server.log.warn),
        "server_errors": load(&server.log.error),
        "server_log": server.log.messages.lock().unwrap().clone(),
    });
    println!("{summary}");

    if !ok {
        eprintln!("load_serve: FAILED");
        if verdicts.len() > 1 || not_checked > 0 {
            for (verdict, n) in &verdicts {
                eprintln!("  {n} × {verdict}");
            }
        }
        let problems: Vec<String> = tasks
            .iter()
            .enumerate()
            .filter(|(_, t)| t.finals.len() != 1)
            .take(10)
            .map(|(i, t)| {
                format!(
                    "  task-{i:05}: accepted={} running={} finals={:?}",
                    t.accepted.is_some(),
                    t.running,
                    t.finals
                        .iter()
                        .map(|f| format!("{} {}", f.status, f.message))
                        .collect::<Vec<_>>()
                )
            })
            .collect();
        for line in problems {
            eprintln!("{line}");
        }
        for line in server.log.samples.lock().unwrap().iter() {
            eprintln!("  server: {line}");
        }
    }
    Ok(ok)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_use_the_nearest_rank() {
        let values: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&values, 50.0), Some(50.0));
        assert_eq!(percentile(&values, 99.0), Some(99.0));
        assert_eq!(percentile(&[7.0], 95.0), Some(7.0));
        assert_eq!(percentile(&[], 50.0), None);
    }
}
