//! What the `portgate serve` tests share: the fake HCP Terraform ([`fake_tfc`]), an
//! in-process service on a free port of 127.0.0.1, run task requests and their signatures.
//! Each test file uses part of it.
#![allow(dead_code)]

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

use fake_tfc::FakeTfc;

pub const KEY: &str = "run-task-hmac-key";
pub const TOKEN: &str = "atlasv1.secret-run-token";
/// Longest wait for something the service does in the background.
pub const WAIT: Duration = Duration::from_secs(10);

pub fn testdata(path: &str) -> Vec<u8> {
    std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("testdata")
            .join(path),
    )
    .unwrap()
}

/// The retries of the tests: 4 tries, 20 ms apart at first.
pub fn fast() -> Backoff {
    Backoff {
        attempts: 4,
        initial: Duration::from_millis(20),
        max_delay: Duration::from_millis(100),
        budget: Duration::from_secs(5),
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
    config.drain_timeout = Duration::from_secs(10);
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

/// POSTs `body` to the service, signed with `signature` (None: no header). Returns the status
/// and how long the answer took.
pub async fn post_raw(
    service: SocketAddr,
    path: &str,
    body: Vec<u8>,
    signature: Option<String>,
) -> (StatusCode, Duration) {
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
    let start = Instant::now();
    let response = request.send().await.unwrap();
    (response.status(), start.elapsed())
}

/// POSTs a signed run task request; it must be answered within a second.
pub async fn post(service: SocketAddr, body: &Value) -> StatusCode {
    let bytes = serde_json::to_vec_pretty(body).unwrap();
    let signature = sign(KEY.as_bytes(), &bytes);
    let (status, took) = post_raw(service, "/runtask", bytes, Some(signature)).await;
    assert!(took < Duration::from_secs(1), "answered in {took:?}");
    status
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
