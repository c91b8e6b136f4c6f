//! What the `portgate serve` tests share: the fake HCP Terraform ([`fake_tfc`]), an
//! in-process service on a free port of 127.0.0.1, run task requests and their signatures.
//! Each test file uses part of it.
#![allow(dead_code)]

pub mod binary;
pub mod fake_tfc;

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use axum::http::{StatusCode, header};
use portgate::runtask::client::Backoff;
use portgate::runtask::job::Checker;
use portgate::runtask::server::{DrainReport, Service, ServiceConfig, ServiceHandle};
use portgate::runtask::signature::{HmacKey, sign};
use reqwest::Url;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use fake_tfc::FakeTfc;

pub const KEY: &str = "run-task-hmac-key";
pub const TOKEN: &str = "atlasv1.secret-run-token";
/// Longest wait for something the service does in the background. Generous on purpose: the
/// tests wait for conditions, never for time, and this only fails a test that is really stuck
/// (on a busy 2-core machine a step that takes milliseconds alone can take seconds).
pub const WAIT: Duration = Duration::from_secs(120);

pub fn testdata(path: &str) -> Vec<u8> {
    std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("testdata")
            .join(path),
    )
    .unwrap()
}

/// The retries of the tests: 4 tries, 20 ms apart at first. The time budget is far beyond
/// what 4 tries take, so the number of tries never depends on how busy the machine is.
pub fn fast() -> Backoff {
    Backoff {
        attempts: 4,
        initial: Duration::from_millis(20),
        max_delay: Duration::from_millis(100),
        budget: Duration::from_secs(600),
    }
}

/// Starts the service in-process on a free port, against `tfc`, with fast retries.
pub async fn start_service(
    tfc: &FakeTfc,
    tweak: impl FnOnce(&mut ServiceConfig),
) -> (SocketAddr, ServiceHandle) {
    let tfc_url = Url::parse(&format!("http://{}", tfc.api)).unwrap();
    let mut config = ServiceConfig::new(tfc_url, HmacKey::new(KEY), Checker::builtin().unwrap());
    config.listen = "127.0.0.1:0".parse().unwrap();
    config.client.download_retry = fast();
    config.client.callback_retry = fast();
    // Only a stuck job reaches this (tests that need the drain timeout set their own), and
    // [`stop`] waits longer than it plus the abort grace.
    config.drain_timeout = Duration::from_secs(60);
    tweak(&mut config);
    Service::bind(config).await.unwrap()
}

/// Starts the service with the test settings and delivers one run task request for
/// `task_result_id`, which must be accepted.
pub async fn start_and_deliver(tfc: &FakeTfc, task_result_id: &str) -> (SocketAddr, ServiceHandle) {
    let (service, handle) = start_service(tfc, |_| {}).await;
    assert_eq!(
        post(service, &run_request(tfc, task_result_id)).await,
        StatusCode::OK
    );
    (service, handle)
}

/// Stops the service, which must stop within [`WAIT`].
pub async fn stop(handle: ServiceHandle) -> DrainReport {
    tokio::time::timeout(WAIT, handle.stop())
        .await
        .expect("the service stops in time")
}

/// A run task request as TFC sends it, for plan `plan-1` and configuration `cv-1`.
pub fn run_request(tfc: &FakeTfc, task_result_id: &str) -> Value {
    json!({
        "payload_version": 1,
        "stage": "post_plan",
        "access_token": TOKEN,
        "capabilities": {"outcomes": true},
        "configuration_version_download_url": tfc.url("/api/v2/configuration-versions/cv-1/download"),
        "configuration_version_id": "cv-1",
        "is_speculative": false,
        "organization_name": "acme",
        "plan_json_api_url": tfc.url("/api/v2/plans/plan-1/json-output"),
        "run_app_url": "https://app.terraform.io/app/acme/ws/runs/run-1",
        "run_id": "run-1",
        "task_result_callback_url": tfc.url(&format!("/api/v2/task-results/{task_result_id}/callback")),
        "task_result_enforcement_level": "mandatory",
        "task_result_id": task_result_id,
        "vcs_pull_request_url": null,
        "workspace_id": "ws-1",
        "workspace_name": "files",
        "workspace_working_directory": "",
        "a_field_tfc_adds_later": {"nested": [1, 2]},
    })
}

/// A client that follows no redirects and uses no proxy.
pub fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .build()
        .unwrap()
}

/// `GET /healthz`: the status the service answers with.
pub async fn healthz(service: SocketAddr) -> StatusCode {
    http()
        .get(format!("http://{service}/healthz"))
        .send()
        .await
        .unwrap()
        .status()
}

/// POSTs `body` to the service, signed with `signature` (None: no header). Returns the status.
pub async fn post_raw(
    service: SocketAddr,
    path: &str,
    body: Vec<u8>,
    signature: Option<String>,
) -> StatusCode {
    let mut request = http()
        .post(format!("http://{service}{path}"))
        .header(header::CONTENT_TYPE, "application/json")
        .header(
            header::USER_AGENT,
            "TFC/1.0 (+https://app.terraform.io; TFC)",
        )
        .body(body);
    if let Some(signature) = signature {
        request = request.header("X-TFC-Task-Signature", signature);
    }
    request.send().await.unwrap().status()
}

/// POSTs a signed run task request. That the answer does not wait for the job is shown where
/// the job cannot end before the test lets it (`PlanMode::Held`), not by timing the answer.
pub async fn post(service: SocketAddr, body: &Value) -> StatusCode {
    let bytes = serde_json::to_vec_pretty(body).unwrap();
    let signature = sign(KEY.as_bytes(), &bytes);
    post_raw(service, "/runtask", bytes, Some(signature)).await
}

/// Polls `done` until it holds; fails the test after [`WAIT`].
pub async fn wait_until(what: &str, done: impl FnMut() -> bool) {
    wait_until_for(what, WAIT, done).await;
}

/// Polls `done` until it holds; fails the test after `limit`.
pub async fn wait_until_for(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < limit, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits until every accepted job has ended and given back its place in the queue.
pub async fn wait_idle(handle: &ServiceHandle) {
    wait_until("jobs to finish", || handle.jobs_in_flight() == 0).await;
}

pub fn attributes(result: &Value) -> &Value {
    &result["data"]["attributes"]
}

pub fn message(result: &Value) -> String {
    attributes(result)["message"].as_str().unwrap().to_string()
}

pub fn outcomes(result: &Value) -> Vec<Value> {
    result["data"]["relationships"]["outcomes"]["data"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// Reads until the server closes the connection (EOF or reset) or `limit` passes. Returns what
/// was read and when the connection ended (`None`: still open after `limit`). Data that arrived
/// before a reset is read first: a reset does not discard it.
pub async fn read_until_closed(
    mut reader: impl tokio::io::AsyncRead + Unpin,
    limit: Duration,
) -> (Vec<u8>, Option<Instant>) {
    let start = Instant::now();
    let mut data = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let left = limit.saturating_sub(start.elapsed());
        match tokio::time::timeout(left, reader.read(&mut chunk)).await {
            Err(_) => return (data, None),
            Ok(Ok(0)) | Ok(Err(_)) => return (data, Some(Instant::now())),
            Ok(Ok(n)) => data.extend_from_slice(&chunk[..n]),
        }
    }
}

/// The status of the first answer in `data`.
pub fn status_of(data: &[u8]) -> Option<u16> {
    let text = std::str::from_utf8(data.get(..12)?).ok()?;
    text.strip_prefix("HTTP/1.1 ")?.parse().ok()
}

/// Sends `head` and then `body` over a raw connection (in 64 KiB writes, while the answer is
/// read), and returns the answer once the server has closed the connection. For bodies the
/// service refuses before reading them: it answers and closes, so an HTTP client could fail
/// writing (a broken pipe) before it reads the answer, depending on timing; this cannot.
pub async fn exchange(service: SocketAddr, head: String, body: Vec<u8>) -> Vec<u8> {
    let (reader, mut writer) = TcpStream::connect(service).await.unwrap().into_split();
    let writing = tokio::spawn(async move {
        if writer.write_all(head.as_bytes()).await.is_err() {
            return;
        }
        for chunk in body.chunks(64 * 1024) {
            if writer.write_all(chunk).await.is_err() {
                return;
            }
        }
    });
    let (answer, closed) = read_until_closed(reader, WAIT).await;
    assert!(closed.is_some(), "the server closed the connection");
    writing.await.unwrap();
    answer
}

/// The head of a signed `POST /runtask` with `extra` headers (each ending in CRLF).
pub fn post_head(service: SocketAddr, signed: &[u8], extra: &str) -> String {
    format!(
        "POST /runtask HTTP/1.1\r\nhost: {service}\r\ncontent-type: application/json\r\nx-tfc-task-signature: {}\r\n{extra}\r\n",
        sign(KEY.as_bytes(), signed)
    )
}

/// A `.tar.gz` configuration of `entries` (path, content), written by hand where the `tar` crate
/// would refuse the unsafe paths some tests need. Paths up to 100 bytes.
pub fn tarball(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut builder = tar::Builder::new(flate2::write::GzEncoder::new(
        Vec::new(),
        flate2::Compression::default(),
    ));
    for (path, data) in entries {
        let mut header = tar::Header::new_gnu();
        // Written by hand: the tar crate refuses to write the unsafe paths some tests need.
        let name = &mut header.as_old_mut().name;
        name[..path.len()].copy_from_slice(path.as_bytes());
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        header.set_entry_type(tar::EntryType::Regular);
        header.set_cksum();
        builder.append(&header, *data).unwrap();
    }
    builder.into_inner().unwrap().finish().unwrap()
}
