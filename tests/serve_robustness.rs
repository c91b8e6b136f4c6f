//! `portgate serve` under load, against a failing HCP Terraform, and against hostile clients.
//!
//! The fake HCP Terraform (tests/common/fake_tfc.rs) runs in-process on 127.0.0.1; the service
//! runs in-process too, except in the load test, which spawns the real `portgate serve` binary
//! so its peak memory can be read from /proc. Every test starts its own servers and stops them.
//!
//! What each test covers is listed in docs/robustness.md.

mod common;

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::{StatusCode, header};
use portgate::runtask::signature::sign;
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use common::binary::Binary;
use common::fake_tfc::{FakeTfc, PlanMode, Seen};
use common::{
    KEY, WAIT, attributes, exchange, fast, healthz, http, message, outcomes, post, post_head,
    post_raw, read_until_closed, run_request, start_and_deliver, start_service, status_of, stop,
    testdata, wait_idle, wait_until, wait_until_for,
};

/// The verdict on testdata/plans/example.json: two findings, so `failed` with two outcomes.
fn assert_checked_verdict(result: &Value) {
    assert_eq!(attributes(result)["status"], "failed", "{result}");
    assert!(
        message(result).contains("PG002 aws_security_group.file_share"),
        "the plan was checked: {result}"
    );
    assert_eq!(outcomes(result).len(), 2, "{result}");
}

fn final_tries(tfc: &FakeTfc) -> Vec<Seen> {
    tfc.seen().into_iter().filter(Seen::is_final_try).collect()
}

fn delivered_finals(tfc: &FakeTfc) -> Vec<Seen> {
    final_tries(tfc)
        .into_iter()
        .filter(Seen::delivered)
        .collect()
}

fn plan_downloads(tfc: &FakeTfc) -> usize {
    tfc.count(|s| s.server == "archivist" && s.path == "/archive/plan")
}

// ---------------------------------------------------------------------------------------------
// 1. Load, against the real binary.

/// `task-00042` and friends: every task has its own result, callback, plan, configuration
/// and token.
fn load_request(tfc: &FakeTfc, index: usize) -> Value {
    let id = format!("task-{index:05}");
    let mut request = run_request(tfc, &id);
    request["access_token"] = json!(load_token(index));
    request["run_id"] = json!(format!("run-{index}"));
    request["plan_json_api_url"] =
        json!(tfc.url(&format!("/api/v2/plans/plan-{index}/json-output")));
    request["configuration_version_download_url"] = json!(tfc.url(&format!(
        "/api/v2/configuration-versions/cv-{index}/download"
    )));
    request
}

fn load_token(index: usize) -> String {
    format!("atlasv1.load-token-{index:05}")
}

/// The task index of `task-00042`, `plan-42` or `cv-42`.
fn load_index(id: &str) -> usize {
    id.trim_start_matches("task-")
        .trim_start_matches("plan-")
        .trim_start_matches("cv-")
        .parse()
        .unwrap()
}

#[derive(Default)]
struct LoadClients {
    /// 503 answers, each retried.
    busy: AtomicUsize,
    /// Anything else than 200 or 503: answers and errors.
    problems: Mutex<Vec<String>>,
    accepted: AtomicUsize,
}

/// Whether one of the load's requests was answered 503 yet.
fn turned_away(clients: &LoadClients) -> bool {
    clients.busy.load(Ordering::Relaxed) > 0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn load_500_requests_from_50_clients_get_exactly_one_verdict_each() {
    const TASKS: usize = 500;
    const CLIENTS: usize = 50;
    const MAX_CONCURRENT: usize = 4;
    /// Generous (about 25 MiB is usual): a few MiB per job, and at most 4 + 16 jobs at once.
    const PEAK_RSS_LIMIT_KIB: u64 = 256 * 1024;
    /// Only a stuck service gets near this (the load takes seconds alone, under a minute on a
    /// busy 2-core machine).
    const LOAD_WAIT: Duration = Duration::from_secs(600);

    let tfc = FakeTfc::start(testdata("plans/example.json")).await;
    // Plan downloads are held until the test has seen --max-concurrent of them at once and a
    // request turned away: both then happen whatever the speed of the machine.
    tfc.hold_downloads();
    let mut server = Binary::start(
        &tfc,
        &[
            "--max-concurrent",
            &MAX_CONCURRENT.to_string(),
            "--max-queue",
            "16",
        ],
    )
    .await;
    let service = server.addr;
    let start = Instant::now();
    let deadline = start + LOAD_WAIT;

    let clients = Arc::new(LoadClients::default());
    let next = Arc::new(AtomicUsize::new(0));
    let requests: Arc<Vec<(Vec<u8>, String)>> = Arc::new(
        (0..TASKS)
            .map(|i| {
                let body = serde_json::to_vec(&load_request(&tfc, i)).unwrap();
                let signature = sign(KEY.as_bytes(), &body);
                (body, signature)
            })
            .collect(),
    );
    let mut tasks = Vec::new();
    for _ in 0..CLIENTS {
        let (clients, next, requests) = (
            Arc::clone(&clients),
            Arc::clone(&next),
            Arc::clone(&requests),
        );
        let http = reqwest::Client::builder()
            .no_proxy()
            .timeout(WAIT)
            .build()
            .unwrap();
        tasks.push(tokio::spawn(async move {
            loop {
                let index = next.fetch_add(1, Ordering::Relaxed);
                if index >= TASKS {
                    break;
                }
                let (body, signature) = &requests[index];
                loop {
                    let sent = http
                        .post(format!("http://{service}/runtask"))
                        .header(header::CONTENT_TYPE, "application/json")
                        .header("X-TFC-Task-Signature", signature)
                        .body(body.clone())
                        .send()
                        .await;
                    match sent.map(|r| r.status()) {
                        Ok(StatusCode::OK) => {
                            clients.accepted.fetch_add(1, Ordering::Relaxed);
                            break;
                        }
                        // Queue full: TFC retries (later than this).
                        Ok(StatusCode::SERVICE_UNAVAILABLE) if Instant::now() < deadline => {
                            clients.busy.fetch_add(1, Ordering::Relaxed);
                            tokio::time::sleep(Duration::from_millis(100)).await;
                        }
                        other => {
                            clients
                                .problems
                                .lock()
                                .unwrap()
                                .push(format!("task {index}: {other:?}"));
                            break;
                        }
                    }
                }
            }
        }));
    }
    wait_until_for(
        "--max-concurrent plan downloads at once and a request answered 503",
        LOAD_WAIT,
        || {
            tfc.state.lock().unwrap().plan_downloads_in_flight >= MAX_CONCURRENT
                && turned_away(&clients)
        },
    )
    .await;
    tfc.release_downloads();
    for task in tasks {
        task.await.unwrap();
    }
    let problems = clients.problems.lock().unwrap().clone();
    assert!(problems.is_empty(), "requests not answered: {problems:?}");
    assert_eq!(clients.accepted.load(Ordering::Relaxed), TASKS);

    wait_until_for(
        "a final callback for every task",
        deadline.saturating_duration_since(Instant::now()),
        || tfc.count(|s| s.is_final_try() && s.delivered()) >= TASKS,
    )
    .await;
    let peak_rss_kib = server.peak_rss_kib();
    // Stopped: no callback can come after this, so the counts below are final.
    assert_eq!(server.terminate(WAIT).await, Some(0));
    let took = start.elapsed();

    let seen = tfc.seen();
    let mut finals: BTreeMap<usize, Vec<&Seen>> = BTreeMap::new();
    let mut running: HashMap<usize, usize> = HashMap::new();
    for s in &seen {
        if s.server == "archivist" {
            assert_eq!(s.authorization, None, "no token to the archivist");
            continue;
        }
        let index = load_index(s.id().expect("a known API path"));
        assert_eq!(
            s.authorization.as_deref(),
            Some(format!("Bearer {}", load_token(index)).as_str()),
            "each task's requests carry its own token: {} {}",
            s.method,
            s.path
        );
        if s.is_final_try() {
            finals.entry(index).or_default().push(s);
        } else if s.is_running_update() {
            *running.entry(index).or_default() += 1;
        }
    }
    assert_eq!(finals.len(), TASKS, "every task got a final callback");
    for (index, tries) in &finals {
        assert_eq!(tries.len(), 1, "task {index}: exactly one final callback");
        assert!(tries[0].delivered());
        assert_checked_verdict(&tries[0].json());
        assert!(running.get(index).copied().unwrap_or(0) <= 1);
    }
    assert_eq!(tfc.plan_api_gets(), TASKS, "one job per task");
    assert_eq!(plan_downloads(&tfc), TASKS);
    let max_in_flight = tfc.state.lock().unwrap().max_plan_downloads_in_flight;
    assert_eq!(
        max_in_flight, MAX_CONCURRENT,
        "plan downloads at once with --max-concurrent {MAX_CONCURRENT}: reached, never passed"
    );
    assert!(
        peak_rss_kib < PEAK_RSS_LIMIT_KIB,
        "peak RSS {peak_rss_kib} KiB"
    );
    let errors = server.log_lines_at("ERROR");
    assert!(errors.is_empty(), "{errors:#?}");
    eprintln!(
        "load: {TASKS} tasks in {took:?}, {} answers 503 (retried), at most {max_in_flight} plan downloads at once, peak RSS {} MiB",
        clients.busy.load(Ordering::Relaxed),
        peak_rss_kib / 1024
    );
}

// ---------------------------------------------------------------------------------------------
// 2. HCP Terraform failing.

/// The download is held until the verdict is in, so the verdict can only come from the job
/// timeout: never from the download ending, whatever the speed of the machine.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plan_download_slower_than_the_job_timeout_fails_the_run_saying_so() {
    let tfc = FakeTfc::start(testdata("plans/example.json")).await;
    tfc.hold_downloads();
    let timeout = Duration::from_secs(1);
    let (service, handle) = start_service(&tfc, |c| c.jobs.timeout = timeout).await;
    let start = Instant::now();
    assert_eq!(
        post(service, &run_request(&tfc, "taskrs-slow-download")).await,
        StatusCode::OK
    );
    let result = tfc.final_result().await;
    assert_eq!(attributes(&result)["status"], "failed");
    assert!(
        message(&result).contains("did not finish checking the plan within 1 s"),
        "{result}"
    );
    // Timers never fire early; how much later depends on the machine, so there is no upper bound.
    assert!(start.elapsed() >= timeout, "not before the timeout");
    assert_eq!(tfc.plan_downloads_answered(), 0, "the download never ended");
    assert!(tfc.state.lock().unwrap().max_plan_downloads_in_flight <= 1);
    tfc.release_downloads();
    let report = stop(handle).await;
    assert!(report.drained);
    // Stopped, so nothing more can come: the abandoned download sent no second verdict.
    assert_eq!(final_tries(&tfc).len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_callback_5xx_is_retried_and_the_result_arrives_once() {
    let tfc = FakeTfc::start(testdata("plans/example.json")).await;
    // running: 503 (not retried, the check goes on); the final result: 503, 500, then 200.
    tfc.set(|s| s.callback_statuses = [503, 503, 500].into());
    let (_, handle) = start_and_deliver(&tfc, "taskrs-5xx").await;
    wait_until("a delivered result", || !delivered_finals(&tfc).is_empty()).await;
    wait_idle(&handle).await;
    assert!(
        stop(handle).await.drained,
        "every job ended before the drain timeout"
    );
    let tries = final_tries(&tfc);
    let answers: Vec<Option<u16>> = tries.iter().map(|t| t.answer).collect();
    assert_eq!(answers, [Some(503), Some(500), Some(200)]);
    assert!(tries.iter().all(|t| t.body == tries[0].body));
    assert_checked_verdict(&tries[2].json());
    assert_eq!(tfc.count(Seen::is_running_update), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plan_download_cut_off_mid_body_is_retried() {
    let tfc = FakeTfc::start(testdata("plans/example.json")).await;
    tfc.set(|s| s.cut_plan_downloads = 1);
    let (_, handle) = start_and_deliver(&tfc, "taskrs-cut-once").await;
    let result = tfc.final_result().await;
    assert_checked_verdict(&result);
    assert!(
        stop(handle).await.drained,
        "every job ended before the drain timeout"
    );
    let downloads: Vec<Option<u16>> = tfc
        .seen()
        .iter()
        .filter(|s| s.path == "/archive/plan")
        .map(|s| s.answer)
        .collect();
    assert_eq!(downloads, [None, Some(200)], "cut off, then retried");
    assert_eq!(tfc.plan_api_gets(), 2, "the retry asks the API again");
    assert_eq!(delivered_finals(&tfc).len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plan_download_always_cut_off_fails_the_run_with_the_reason() {
    let tfc = FakeTfc::start(testdata("plans/example.json")).await;
    tfc.set(|s| s.cut_plan_downloads = usize::MAX);
    let (_, handle) = start_and_deliver(&tfc, "taskrs-cut-always").await;
    let result = tfc.final_result().await;
    assert_eq!(attributes(&result)["status"], "failed");
    let text = message(&result);
    assert!(
        text.contains("could not fetch the plan JSON: cannot reach")
            && text.contains(&tfc.archivist.to_string()),
        "{result}"
    );
    assert!(outcomes(&result).is_empty());
    assert!(
        stop(handle).await.drained,
        "every job ended before the drain timeout"
    );
    assert_eq!(plan_downloads(&tfc), fast().attempts as usize);
    assert_eq!(delivered_finals(&tfc).len(), 1);
    assert_eq!(final_tries(&tfc).len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_callback_connection_reset_before_the_answer_is_retried_and_arrives_once() {
    let tfc = FakeTfc::start(testdata("plans/example.json")).await;
    // The running update and the first try of the result are reset.
    tfc.set(|s| s.reset_callbacks = 2);
    let (_, handle) = start_and_deliver(&tfc, "taskrs-reset").await;
    wait_until("a delivered result", || !delivered_finals(&tfc).is_empty()).await;
    wait_idle(&handle).await;
    assert!(
        stop(handle).await.drained,
        "every job ended before the drain timeout"
    );
    let patches: Vec<(String, Option<u16>)> = tfc
        .seen()
        .iter()
        .filter(|s| s.method == "PATCH")
        .map(|s| (s.status.clone().unwrap(), s.answer))
        .collect();
    assert_eq!(
        patches,
        [
            ("running".to_string(), None),
            ("failed".to_string(), None),
            ("failed".to_string(), Some(200)),
        ]
    );
    assert_checked_verdict(&delivered_finals(&tfc)[0].json());
}

/// TFC that never takes the result: the job tries `callback_retry.attempts` times, logs that the
/// result could not be delivered, and ends (TFC then errors the task after its own timeout,
/// which stops a mandatory run). It neither hangs nor retries forever.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_callback_that_can_never_be_delivered_is_given_up_after_the_retries() {
    let tfc = FakeTfc::start(testdata("plans/example.json")).await;
    let (service, handle) = start_service(&tfc, |_| {}).await;
    let attempts = fast().attempts as usize;

    // Every PATCH answered 503.
    tfc.set(|s| s.callback_statuses = vec![503; 100].into());
    assert_eq!(
        post(service, &run_request(&tfc, "taskrs-always-503")).await,
        StatusCode::OK
    );
    wait_until("the last try", || final_tries(&tfc).len() == attempts).await;
    wait_idle(&handle).await;
    assert_eq!(final_tries(&tfc).len(), attempts);
    assert!(delivered_finals(&tfc).is_empty());

    // Every PATCH reset.
    tfc.set(|s| {
        s.seen.clear();
        s.callback_statuses.clear();
        s.reset_callbacks = usize::MAX;
    });
    assert_eq!(
        post(service, &run_request(&tfc, "taskrs-always-reset")).await,
        StatusCode::OK
    );
    wait_until("the last try", || final_tries(&tfc).len() == attempts).await;
    wait_idle(&handle).await;
    let report = stop(handle).await;
    assert!(report.drained);
    assert_eq!(
        final_tries(&tfc).len(),
        attempts,
        "no more tries after the last"
    );
    assert!(final_tries(&tfc).iter().all(|t| t.answer.is_none()));
}

// ---------------------------------------------------------------------------------------------
// 3. Hostile clients.

/// Writes `head`, then `trickle` one byte every `every` until the write fails or it is all out.
fn trickle(
    mut writer: tokio::net::tcp::OwnedWriteHalf,
    head: Vec<u8>,
    trickle: Vec<u8>,
    every: Duration,
) -> tokio::task::JoinHandle<usize> {
    tokio::spawn(async move {
        if writer.write_all(&head).await.is_err() {
            return 0;
        }
        let mut sent = 0;
        for byte in trickle {
            tokio::time::sleep(every).await;
            if writer.write_all(&[byte]).await.is_err() {
                break;
            }
            sent += 1;
        }
        sent
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slowloris_body_gets_408_within_the_body_timeout_and_starts_no_job() {
    let tfc = FakeTfc::start(testdata("plans/example.json")).await;
    let body_timeout = Duration::from_secs(1);
    let (service, handle) = start_service(&tfc, |c| c.body_timeout = body_timeout).await;
    // A real, signed request: had the server waited for all of it, a job would start.
    let body = serde_json::to_vec(&run_request(&tfc, "taskrs-slowloris")).unwrap();
    let head = post_head(
        service,
        &body,
        &format!("content-length: {}\r\n", body.len()),
    );
    let connected = Instant::now();
    let (reader, writer) = TcpStream::connect(service).await.unwrap().into_split();
    // One byte every 250 ms: the connection is never idle for long, and the body would take
    // minutes, far longer than the test waits.
    let writing = trickle(
        writer,
        head.into_bytes(),
        body.clone(),
        Duration::from_millis(250),
    );
    let (answer, closed) = read_until_closed(reader, WAIT).await;
    let closed = closed.expect("the server closed the connection") - connected;
    // The body timeout starts after the connection, so it cannot end sooner; it may end later
    // on a busy machine, and 408 says it was the body timeout.
    assert!(closed >= body_timeout, "closed after {closed:?}");
    assert_eq!(
        status_of(&answer),
        Some(408),
        "{}",
        String::from_utf8_lossy(&answer)
    );
    let sent = writing.await.unwrap();
    assert!(sent < body.len(), "the body was never complete");
    assert_eq!(handle.jobs_in_flight(), 0);
    assert!(tfc.seen().is_empty());
    handle.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn headers_that_never_end_are_cut_off_by_the_header_timeout() {
    let tfc = FakeTfc::start(testdata("plans/example.json")).await;
    let header_timeout = Duration::from_secs(1);
    let (service, handle) = start_service(&tfc, |c| c.header_timeout = header_timeout).await;

    // Headers trickled one byte every 100 ms, never ending (no line ever ends, so only the
    // header timeout can end the connection).
    let connected = Instant::now();
    let (reader, writer) = TcpStream::connect(service).await.unwrap().into_split();
    let writing = trickle(
        writer,
        b"POST /runtask HTTP/1.1\r\nhost: portgate\r\n".to_vec(),
        b"x-slow: ".iter().copied().cycle().take(100_000).collect(),
        Duration::from_millis(100),
    );
    let (answer, closed) = read_until_closed(reader, WAIT).await;
    let closed = closed.expect("the server closed the connection") - connected;
    assert!(closed >= header_timeout, "closed after {closed:?}");
    assert!(
        answer.is_empty() || status_of(&answer) == Some(408),
        "{}",
        String::from_utf8_lossy(&answer)
    );
    assert!(writing.await.unwrap() < 100_000);

    // A connection that sends nothing at all is closed too.
    let connected = Instant::now();
    let stream = TcpStream::connect(service).await.unwrap();
    let (answer, closed) = read_until_closed(stream, WAIT).await;
    let closed = closed.expect("the server closed the idle connection") - connected;
    assert!(closed >= header_timeout, "{closed:?}");
    assert!(answer.is_empty());

    // The service still works, and nothing was started.
    assert_eq!(healthz(service).await, StatusCode::OK);
    assert_eq!(handle.jobs_in_flight(), 0);
    assert!(tfc.seen().is_empty());
    // Shutdown is not held up by a slow client either: its headers would take hours.
    let (_reader, writer) = TcpStream::connect(service).await.unwrap().into_split();
    let _writing = trickle(
        writer,
        b"POST /runtask HTTP/1.1\r\n".to_vec(),
        vec![b'x'; 100_000],
        Duration::from_millis(100),
    );
    // Connections are accepted in the order they were made: once a later one is answered,
    // the service is serving the slow one.
    assert_eq!(healthz(service).await, StatusCode::OK);
    let report = stop(handle).await;
    assert!(report.drained);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_json_with_a_valid_signature_is_400_and_starts_nothing() {
    let tfc = FakeTfc::start(testdata("plans/example.json")).await;
    let (service, handle) = start_service(&tfc, |_| {}).await;
    let mut deep = vec![b'['; 200_000];
    deep.extend(vec![b']'; 200_000]);
    let bodies: Vec<Vec<u8>> = vec![
        b"".to_vec(),
        b"{".to_vec(),
        b"not json".to_vec(),
        b"null".to_vec(),
        b"[]".to_vec(),
        b"{\"access_token\": 5}".to_vec(),
        b"{\"task_result_id\": \"taskrs-x\"}".to_vec(),
        b"{\"access_token\": \"\xff\xfe\", \"stage\": \"post_plan\"}".to_vec(),
        b"{\"access_token\": \"a\", \"access_token\": \"b\"}".to_vec(),
        serde_json::to_vec(&run_request(&tfc, "taskrs-trailing"))
            .unwrap()
            .into_iter()
            .chain(*b"}")
            .collect(),
        // Nesting far deeper than the parser's recursion limit: an error, not a stack overflow.
        deep,
    ];
    for body in bodies {
        let signature = sign(KEY.as_bytes(), &body);
        let shown = String::from_utf8_lossy(&body[..body.len().min(60)]).into_owned();
        let status = post_raw(service, "/runtask", body, Some(signature)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{shown}");
    }
    assert_eq!(healthz(service).await, StatusCode::OK);
    assert_eq!(handle.jobs_in_flight(), 0);
    assert!(tfc.seen().is_empty(), "no outbound request");
    handle.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn huge_or_lying_bodies_are_413_and_start_nothing() {
    let tfc = FakeTfc::start(testdata("plans/example.json")).await;
    let (service, handle) = start_service(&tfc, |_| {}).await;

    // A 5 MiB access token, correctly signed.
    let mut request = run_request(&tfc, "taskrs-huge-token");
    request["access_token"] = json!("t".repeat(5 * 1024 * 1024));
    let body = serde_json::to_vec(&request).unwrap();
    // Sent over a raw connection: the service answers as soon as it sees the length and
    // closes without reading the rest, so an HTTP client may fail writing before it reads
    // the answer (a broken pipe, not a test failure).
    let answer = exchange(
        service,
        post_head(
            service,
            &body,
            &format!("connection: close\r\ncontent-length: {}\r\n", body.len()),
        ),
        body,
    )
    .await;
    assert_eq!(
        status_of(&answer),
        Some(413),
        "{}",
        String::from_utf8_lossy(&answer)
    );

    // Content-Length says 10 GiB: refused before any of it is sent (none is: an answer that
    // waited for the body would be the body timeout's 408).
    let answer = exchange(
        service,
        post_head(
            service,
            b"",
            &format!("connection: close\r\ncontent-length: {}\r\n", 10u64 << 30),
        ),
        Vec::new(),
    )
    .await;
    assert_eq!(
        status_of(&answer),
        Some(413),
        "{}",
        String::from_utf8_lossy(&answer)
    );

    // Chunked, no length: 2 MiB in 64 KiB chunks.
    let chunk = vec![b' '; 64 * 1024];
    let mut chunked = Vec::new();
    for _ in 0..32 {
        chunked.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        chunked.extend_from_slice(&chunk);
        chunked.extend_from_slice(b"\r\n");
    }
    chunked.extend_from_slice(b"0\r\n\r\n");
    let answer = exchange(
        service,
        post_head(
            service,
            b"",
            "connection: close\r\ntransfer-encoding: chunked\r\n",
        ),
        chunked,
    )
    .await;
    assert_eq!(
        status_of(&answer),
        Some(413),
        "{}",
        String::from_utf8_lossy(&answer)
    );

    // Content-Length says 100 bytes and 2 MiB follow: only the 100 bytes are the body (a
    // signed, truncated request: 400), and the rest is not read as a request body at all.
    let full = serde_json::to_vec(&run_request(&tfc, "taskrs-lying-length")).unwrap();
    let mut sent = full.clone();
    sent.extend(vec![b' '; 2 * 1024 * 1024]);
    let answer = exchange(
        service,
        post_head(service, &full[..100], "content-length: 100\r\n"),
        sent,
    )
    .await;
    let text = String::from_utf8_lossy(&answer);
    assert_eq!(status_of(&answer), Some(400), "{text}");
    assert!(!text.contains("200 OK"), "{text}");

    assert_eq!(healthz(service).await, StatusCode::OK);
    assert_eq!(handle.jobs_in_flight(), 0);
    assert!(tfc.seen().is_empty(), "no outbound request");
    handle.stop().await;
}

// ---------------------------------------------------------------------------------------------
// 4. Duplicates while the queue is full.

/// A full queue answers 503 and must not remember the task result: a duplicate delivery that
/// arrives meanwhile must not be answered 200 without a job (the run would wait for a verdict
/// that never comes).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_duplicate_delivery_while_the_queue_is_full_is_never_dropped_silently() {
    const ROUNDS: usize = 60;
    const DELIVERIES: usize = 40;
    let tfc = FakeTfc::start(testdata("plans/example.json")).await;
    tfc.set(|s| s.plan_mode = PlanMode::Held);
    let (service, handle) = start_service(&tfc, |c| {
        c.max_concurrent = 1;
        c.max_queue = 0;
    })
    .await;
    // The one slot is taken until the plan is released.
    assert_eq!(
        post(service, &run_request(&tfc, "taskrs-blocker")).await,
        StatusCode::OK
    );
    wait_until("the blocker's plan request", || tfc.plan_api_gets() == 1).await;

    let client = http();
    let mut rounds = Vec::new();
    for round in 0..ROUNDS {
        let id = format!("taskrs-hammer-{round}");
        let body = serde_json::to_vec(&run_request(&tfc, &id)).unwrap();
        let signature = sign(KEY.as_bytes(), &body);
        let deliveries: Vec<_> = (0..DELIVERIES)
            .map(|_| {
                let request = client
                    .post(format!("http://{service}/runtask"))
                    .header("X-TFC-Task-Signature", &signature)
                    .body(body.clone());
                tokio::spawn(async move { request.send().await.unwrap().status() })
            })
            .collect();
        let mut statuses = Vec::new();
        for delivery in deliveries {
            statuses.push(delivery.await.unwrap());
        }
        rounds.push((id, statuses));
    }
    assert_eq!(handle.jobs_in_flight(), 1, "only the blocker was running");

    tfc.release_plans();
    wait_until("the blocker's result", || delivered_finals(&tfc).len() == 1).await;
    wait_idle(&handle).await;
    let finals_of =
        |id: &str| tfc.count(|s| s.is_final_try() && s.delivered() && s.id() == Some(id));
    let mut refused = Vec::new();
    for (id, statuses) in &rounds {
        assert!(
            statuses
                .iter()
                .all(|s| *s == StatusCode::OK || *s == StatusCode::SERVICE_UNAVAILABLE),
            "{id}: {statuses:?}"
        );
        if statuses.contains(&StatusCode::OK) {
            // Accepted: exactly one job, whose result has arrived by now.
            assert_eq!(finals_of(id), 1, "{id} was answered 200: {statuses:?}");
        } else {
            assert_eq!(finals_of(id), 0, "{id}");
            refused.push(id.clone());
        }
    }
    // Every delivery that got 503 left nothing behind: TFC's retry is accepted and checked.
    // One slot and no queue: each retry waits until the one before has ended and given its
    // slot back (whichever task would win a race, the retry is then admitted).
    for id in &refused {
        assert_eq!(
            post(service, &run_request(&tfc, id)).await,
            StatusCode::OK,
            "{id}"
        );
        wait_until("the retry's result", || finals_of(id) == 1).await;
        wait_idle(&handle).await;
    }
    assert!(
        stop(handle).await.drained,
        "every job ended before the drain timeout"
    );
    for (id, _) in &rounds {
        assert_eq!(finals_of(id), 1, "{id}");
    }
}
