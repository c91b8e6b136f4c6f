//! `portgate serve` end to end, over real HTTP on 127.0.0.1: a fake HCP Terraform (API plus a
//! second "archivist" listener on another port, so another origin) records every request, and
//! the service is started in-process on a free port and stopped after each test.
//! The fake TFC and the helpers are in `tests/common` (shared with `tests/serve_robustness.rs`).

mod common;

use std::collections::VecDeque;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use portgate::config::TrustedCidr;
use portgate::runtask::server::ServiceConfig;
use portgate::runtask::signature::sign;
use serde_json::{Value, json};

use common::fake_tfc::{FakeTfc, PlanMode};
use common::{
    KEY, TOKEN, WAIT, attributes, exchange, http, message, outcomes, post, post_head, post_raw,
    run_request, start_and_deliver, start_service, status_of, stop, tarball, testdata, wait_idle,
    wait_until,
};

// ---------------------------------------------------------------------------------------------
// Helpers of these tests (the fake TFC and the service are in tests/common).

fn trusted(config: &mut ServiceConfig) {
    config.checker.trusted = vec![TrustedCidr::parse("10.0.0.0/8").unwrap()];
}

/// Every request the token was sent with went to the fake API, and none to the archivist.
fn assert_token_only_sent_to_tfc(tfc: &FakeTfc) {
    let seen = tfc.seen();
    for s in &seen {
        match s.server {
            "api" => assert_eq!(
                s.authorization.as_deref(),
                Some(format!("Bearer {TOKEN}").as_str()),
                "{} {}",
                s.method,
                s.path
            ),
            _ => assert_eq!(s.authorization, None, "no token to {}", s.path),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Tests.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_verification_request_gets_200_and_no_callback() {
    let tfc = FakeTfc::start(testdata("plans/example.json")).await;
    let (service, handle) = start_service(&tfc, |_| {}).await;
    let mut request = run_request(&tfc, "taskrs-verify");
    request["access_token"] = json!("test-token");
    // The dummy payload's URLs are not checked: TFC's test request is only about the key.
    request["task_result_callback_url"] = json!("https://example.invalid/callback");
    assert_eq!(post(service, &request).await, StatusCode::OK);
    let health = http()
        .get(format!("http://{service}/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), StatusCode::OK);
    assert_eq!(health.text().await.unwrap(), "ok");
    assert_eq!(handle.jobs_in_flight(), 0);
    // Stopped: anything the request had started would have ended, so nothing can come later.
    assert!(stop(handle).await.drained);
    assert!(tfc.seen().is_empty(), "{:?}", tfc.seen());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clean_plan_passes_after_a_running_update() {
    let tfc = FakeTfc::start(testdata("plans/resolved_vpc_cidr.json")).await;
    // The configuration proves what the plan cannot show: the rule's CIDR is exactly
    // aws_vpc.main.cidr_block, and the group declares no inline rules.
    let main_tf = testdata("plans/resolved_vpc_cidr/main.tf");
    tfc.set(|s| s.tarball = Some(tarball(&[("main.tf", &main_tf)])));
    let (_, handle) = start_and_deliver(&tfc, "taskrs-clean").await;
    let result = tfc.final_result().await;
    assert_eq!(attributes(&result)["status"], "passed", "{result}");
    assert!(
        message(&result).starts_with("No NetBIOS/SMB exposure"),
        "{result}"
    );
    let callbacks = tfc.callbacks();
    assert_eq!(
        callbacks[0].json()["data"]["attributes"]["status"],
        "running"
    );
    for c in &callbacks {
        assert_eq!(c.content_type.as_deref(), Some("application/vnd.api+json"));
        assert_eq!(c.path, "/api/v2/task-results/taskrs-clean/callback");
    }
    // The plan went through the redirect to another origin, and the token stayed with TFC.
    assert_ne!(tfc.api.port(), tfc.archivist.port());
    let seen = tfc.seen();
    assert!(
        seen.iter()
            .any(|s| s.server == "archivist" && s.path == "/archive/plan")
    );
    assert_token_only_sent_to_tfc(&tfc);
    assert!(
        seen.iter()
            .any(|s| s.server == "archivist" && s.path == "/archive/config.tar.gz")
    );
    handle.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_trusted_cidrs_an_outcome_suggests_the_vpcs_own_cidr_to_confirm() {
    let tfc = FakeTfc::start(testdata("plans/example.json")).await;
    let (_, handle) = start_and_deliver(&tfc, "taskrs-vpc").await;
    let result = tfc.final_result().await;
    let bodies: Vec<String> = outcomes(&result)
        .iter()
        .filter_map(|o| o["attributes"]["body"].as_str().map(str::to_string))
        .collect();
    let file_share = bodies
        .iter()
        .find(|b| b.contains("aws_security_group.file_share"))
        .unwrap_or_else(|| panic!("{result}"));
    assert!(
        file_share.contains(
            "10.40.0.0/16 is the VPC's own CIDR (aws_vpc.main) — confirm before applying"
        ),
        "{file_share}"
    );
    assert!(
        file_share.contains("+    cidr_blocks = [\"10.40.0.0/16\"]"),
        "{file_share}"
    );
    handle.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_its_configuration_a_plan_with_unknowns_gets_warnings_not_a_silent_pass() {
    let tfc = FakeTfc::start(testdata("plans/resolved_vpc_cidr.json")).await;
    let (_, handle) = start_and_deliver(&tfc, "taskrs-noconfig").await;
    let result = tfc.final_result().await;
    assert_eq!(attributes(&result)["status"], "passed", "{result}");
    let outcomes = outcomes(&result);
    assert_eq!(outcomes.len(), 2, "{result}");
    assert!(
        outcomes.iter().all(|o| o["attributes"]["body"]
            .as_str()
            .is_some_and(|b| b.contains("a run task that sends its configuration"))),
        "{result}"
    );
    handle.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_exposure_fails_with_one_outcome_per_finding() {
    let tfc = FakeTfc::start(testdata("plans/example.json")).await;
    let (_, handle) = start_and_deliver(&tfc, "taskrs-example").await;
    let result = tfc.final_result().await;
    assert_eq!(attributes(&result)["status"], "failed");
    assert!(message(&result).contains("PG002 aws_security_group.file_share"));
    let outcomes = outcomes(&result);
    assert_eq!(outcomes.len(), 2, "{result}");
    let ids: Vec<&str> = outcomes
        .iter()
        .map(|o| o["attributes"]["outcome-id"].as_str().unwrap())
        .collect();
    assert!(ids[0].starts_with("PG002-") && ids[1].starts_with("PG001-"));
    for o in &outcomes {
        assert_eq!(o["type"], "task-result-outcomes");
        assert_eq!(
            o["attributes"]["tags"]["Status"][0]["label"], "Denied",
            "mandatory"
        );
        assert!(
            o["attributes"]["body"]
                .as_str()
                .unwrap()
                .contains("--trusted-cidr")
        );
    }
    assert_token_only_sent_to_tfc(&tfc);
    handle.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn findings_carry_a_patch_of_the_configuration_tarball() {
    let tfc = FakeTfc::start(testdata("fix/inline_second_of_three/plan.json")).await;
    let main_tf = testdata("fix/inline_second_of_three/main.tf");
    tfc.set(|s| {
        s.tarball = Some(tarball(&[
            ("README.md", b"not terraform"),
            ("terraform/main.tf", &main_tf),
        ]))
    });
    let work = tempfile::tempdir().unwrap();
    let work_dir = work.path().to_path_buf();
    let (service, handle) = start_service(&tfc, |c| {
        trusted(c);
        c.jobs.work_dir = Some(work_dir);
    })
    .await;
    let mut request = run_request(&tfc, "taskrs-patch");
    request["workspace_working_directory"] = json!("/terraform");
    request["task_result_enforcement_level"] = json!("advisory");
    assert_eq!(post(service, &request).await, StatusCode::OK);
    let result = tfc.final_result().await;
    assert_eq!(attributes(&result)["status"], "failed");
    let outcomes = outcomes(&result);
    assert_eq!(outcomes.len(), 1, "{result}");
    let body = outcomes[0]["attributes"]["body"].as_str().unwrap();
    let expected =
        String::from_utf8(testdata("fix/inline_second_of_three/expected.patch")).unwrap();
    assert!(body.contains("Suggested patch (main.tf)"), "{body}");
    assert!(body.contains(&expected), "{body}\n---\n{expected}");
    assert_eq!(
        outcomes[0]["attributes"]["tags"]["Status"][0]["label"],
        "Advisory"
    );
    let seen = tfc.seen();
    assert!(
        seen.iter()
            .any(|s| s.server == "archivist" && s.path == "/archive/config.tar.gz")
    );
    assert_token_only_sent_to_tfc(&tfc);
    wait_idle(&handle).await;
    assert_eq!(
        std::fs::read_dir(work.path()).unwrap().count(),
        0,
        "the job directory is removed"
    );
    handle.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_or_missing_signature_is_401_and_nothing_is_fetched() {
    let tfc = FakeTfc::start(testdata("plans/example.json")).await;
    let (service, handle) = start_service(&tfc, |_| {}).await;
    let body = serde_json::to_vec(&run_request(&tfc, "taskrs-sig")).unwrap();
    let other_body = serde_json::to_vec(&run_request(&tfc, "taskrs-other")).unwrap();
    for signature in [
        None,
        Some(String::new()),
        Some("not hex".to_string()),
        Some(sign(b"another key", &body)),
        Some(sign(KEY.as_bytes(), &other_body)),
        Some(sign(KEY.as_bytes(), &body)[..64].to_string()),
    ] {
        let status = post_raw(service, "/", body.clone(), signature.clone()).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{signature:?}");
    }
    // The same body, correctly signed, is accepted on both paths (upper-case hex too).
    let status = post_raw(
        service,
        "/",
        body.clone(),
        Some(sign(KEY.as_bytes(), &body).to_uppercase()),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    tfc.final_result().await;
    assert_eq!(tfc.plan_api_gets(), 1);
    handle.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_over_1_mib_is_413_before_the_signature_check() {
    let tfc = FakeTfc::start(testdata("plans/example.json")).await;
    let (service, handle) = start_service(&tfc, |_| {}).await;
    let mut request = run_request(&tfc, "taskrs-big");
    request["padding"] = json!("x".repeat(1024 * 1024));
    let body = serde_json::to_vec(&request).unwrap();
    // Over raw connections: the service answers before reading the body and closes, so an
    // HTTP client could fail writing before it reads the answer.
    let length = format!("content-length: {}\r\n", body.len());
    let answer = exchange(service, post_head(service, &body, &length), body).await;
    assert_eq!(
        status_of(&answer),
        Some(413),
        "{}",
        String::from_utf8_lossy(&answer)
    );
    // Unsigned: 413, not 401, so the size is checked first.
    let answer = exchange(
        service,
        format!(
            "POST /runtask HTTP/1.1\r\nhost: {service}\r\ncontent-length: {}\r\n\r\n",
            1024 * 1024 + 1
        ),
        vec![b' '; 1024 * 1024 + 1],
    )
    .await;
    assert_eq!(
        status_of(&answer),
        Some(413),
        "{}",
        String::from_utf8_lossy(&answer)
    );
    // Signed, but not a run task request.
    let status = post_raw(
        service,
        "/runtask",
        b"{\"no\":1}".to_vec(),
        Some(sign(KEY.as_bytes(), b"{\"no\":1}")),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(tfc.seen().is_empty());
    handle.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plan_that_cannot_be_fetched_fails_the_run_with_the_reason() {
    let tfc = FakeTfc::start(testdata("plans/example.json")).await;
    let (service, handle) = start_service(&tfc, |_| {}).await;

    tfc.set(|s| s.plan_mode = PlanMode::Status(404));
    assert_eq!(
        post(service, &run_request(&tfc, "taskrs-404")).await,
        StatusCode::OK
    );
    let result = tfc.final_result().await;
    assert_eq!(attributes(&result)["status"], "failed");
    assert!(
        message(&result).contains("could not fetch the plan JSON: HTTP 404"),
        "{result}"
    );
    assert_eq!(tfc.plan_api_gets(), 1, "a 404 is not retried");
    wait_idle(&handle).await;

    tfc.set(|s| {
        s.plan_mode = PlanMode::Status(500);
        s.seen.clear();
        s.plan_api_gets = 0;
    });
    assert_eq!(
        post(service, &run_request(&tfc, "taskrs-500")).await,
        StatusCode::OK
    );
    let result = tfc.final_result().await;
    assert_eq!(attributes(&result)["status"], "failed");
    assert!(message(&result).contains("HTTP 500"), "{result}");
    assert_eq!(
        tfc.plan_api_gets(),
        4,
        "a 500 is retried (4 tries in tests)"
    );
    handle.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_plan_fails_the_run() {
    let tfc =
        FakeTfc::start(b"{\"format_version\": \"1.2\", \"resource_changes\": [".to_vec()).await;
    let (_, handle) = start_and_deliver(&tfc, "taskrs-bad").await;
    let result = tfc.final_result().await;
    assert_eq!(attributes(&result)["status"], "failed");
    assert!(
        message(&result).contains("could not read the plan JSON"),
        "{result}"
    );
    assert!(result["data"].get("relationships").is_none());
    handle.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn callback_errors_are_retried_and_422_drops_the_outcomes() {
    let tfc = FakeTfc::start(testdata("plans/example.json")).await;
    let (service, handle) = start_service(&tfc, |_| {}).await;

    // running: 200; final: 503, 502, then 200.
    tfc.set(|s| s.callback_statuses = VecDeque::from([200, 503, 502]));
    assert_eq!(
        post(service, &run_request(&tfc, "taskrs-retry")).await,
        StatusCode::OK
    );
    wait_until("three final tries", || tfc.finals().len() == 3).await;
    wait_idle(&handle).await;
    let finals = tfc.finals();
    assert_eq!(finals.len(), 3);
    assert!(finals.iter().all(|f| f.body == finals[0].body));
    assert_eq!(outcomes(&finals[2].json()).len(), 2);

    // A 422 gets the result once more without outcomes.
    tfc.set(|s| {
        s.seen.clear();
        s.callback_statuses = VecDeque::from([200, 422]);
    });
    assert_eq!(
        post(service, &run_request(&tfc, "taskrs-422")).await,
        StatusCode::OK
    );
    wait_until("two final tries", || tfc.finals().len() == 2).await;
    wait_idle(&handle).await;
    let finals = tfc.finals();
    assert_eq!(finals.len(), 2);
    assert_eq!(outcomes(&finals[0].json()).len(), 2);
    assert!(finals[1].json()["data"].get("relationships").is_none());
    assert_eq!(attributes(&finals[1].json())["status"], "failed");

    // A 401 is final: no retry.
    tfc.set(|s| {
        s.seen.clear();
        s.callback_statuses = VecDeque::from([200, 401]);
    });
    assert_eq!(
        post(service, &run_request(&tfc, "taskrs-401")).await,
        StatusCode::OK
    );
    wait_until("a final try", || tfc.finals().len() == 1).await;
    wait_idle(&handle).await;
    assert_eq!(tfc.finals().len(), 1);
    handle.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn urls_off_the_tfc_origin_are_refused_without_any_request() {
    let tfc = FakeTfc::start(testdata("plans/example.json")).await;
    // A server that must never be called.
    let foreign = FakeTfc::start(Vec::new()).await;
    let (service, handle) = start_service(&tfc, |_| {}).await;
    let api_port = tfc.api.port();
    let elsewhere = [
        format!("http://{}/api/v2/x", foreign.api),
        format!("https://127.0.0.1:{api_port}/api/v2/x"),
        format!("http://localhost:{api_port}/api/v2/x"),
        format!("http://user:pw@127.0.0.1:{api_port}/api/v2/x"),
        "ftp://127.0.0.1/x".to_string(),
        "/api/v2/relative".to_string(),
    ];
    for field in [
        "task_result_callback_url",
        "plan_json_api_url",
        "configuration_version_download_url",
    ] {
        for url in &elsewhere {
            let mut request = run_request(&tfc, &format!("taskrs-{field}"));
            request[field] = json!(url);
            assert_eq!(
                post(service, &request).await,
                StatusCode::BAD_REQUEST,
                "{field} = {url}"
            );
        }
    }
    let mut request = run_request(&tfc, "taskrs-no-callback");
    request
        .as_object_mut()
        .unwrap()
        .remove("task_result_callback_url");
    assert_eq!(post(service, &request).await, StatusCode::BAD_REQUEST);
    assert_eq!(handle.jobs_in_flight(), 0);
    // Stopped: anything a request had started would have ended, so nothing can come later.
    assert!(stop(handle).await.drained);
    assert!(foreign.seen().is_empty());
    assert!(tfc.seen().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_duplicate_task_result_id_runs_one_job() {
    let tfc = FakeTfc::start(testdata("plans/example.json")).await;
    let (service, handle) = start_service(&tfc, |_| {}).await;
    let request = run_request(&tfc, "taskrs-dup");
    for _ in 0..3 {
        assert_eq!(post(service, &request).await, StatusCode::OK);
    }
    tfc.final_result().await;
    wait_idle(&handle).await;
    assert_eq!(tfc.plan_api_gets(), 1);
    assert_eq!(tfc.finals().len(), 1);
    handle.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plan_not_ready_yet_is_asked_again() {
    let tfc = FakeTfc::start(testdata("plans/example.json")).await;
    tfc.set(|s| s.plan_mode = PlanMode::NotReady(2));
    let (_, handle) = start_and_deliver(&tfc, "taskrs-204").await;
    let result = tfc.final_result().await;
    assert_eq!(attributes(&result)["status"], "failed");
    assert_eq!(outcomes(&result).len(), 2);
    assert_eq!(tfc.plan_api_gets(), 3, "204, 204, then 307");
    assert_token_only_sent_to_tfc(&tfc);
    handle.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malicious_tarball_writes_nothing_outside_and_the_run_is_still_reported() {
    let tfc = FakeTfc::start(testdata("fix/inline_second_of_three/plan.json")).await;
    let main_tf = testdata("fix/inline_second_of_three/main.tf");
    tfc.set(|s| {
        s.tarball = Some(tarball(&[
            ("main.tf", &main_tf),
            ("../escape-1.tf", b"resource \"x\" \"y\" {}"),
            ("../../escape-2.tf", b"resource \"x\" \"y\" {}"),
            ("../../../escape-3.tf", b"resource \"x\" \"y\" {}"),
        ]))
    });
    let work = tempfile::tempdir().unwrap();
    let jobs_dir = work.path().join("jobs");
    std::fs::create_dir(&jobs_dir).unwrap();
    let dir = jobs_dir.clone();
    let (service, handle) = start_service(&tfc, |c| {
        trusted(c);
        c.jobs.work_dir = Some(dir);
    })
    .await;
    assert_eq!(
        post(service, &run_request(&tfc, "taskrs-evil")).await,
        StatusCode::OK
    );
    let result = tfc.final_result().await;
    assert_eq!(attributes(&result)["status"], "failed");
    assert!(
        message(&result).contains("configuration tarball could not be unpacked"),
        "{result}"
    );
    let outcomes = outcomes(&result);
    assert_eq!(outcomes.len(), 1);
    let body = outcomes[0]["attributes"]["body"].as_str().unwrap();
    assert!(body.contains("no source patch"), "{body}");
    wait_idle(&handle).await;
    let entries: Vec<_> = std::fs::read_dir(work.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(entries, ["jobs"], "nothing next to the job directories");
    assert_eq!(std::fs::read_dir(&jobs_dir).unwrap().count(), 0);
    handle.stop().await;
}

/// The job is held at its plan request until shutdown has begun, so it is running when
/// shutdown starts and can only end during the drain, however fast or slow the machine is.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_drains_a_running_job() {
    let tfc = FakeTfc::start(testdata("plans/example.json")).await;
    tfc.set(|s| s.plan_mode = PlanMode::Held);
    let (service, handle) = start_and_deliver(&tfc, "taskrs-drain").await;
    // Answered while the job cannot have ended: the answer does not wait for the job.
    assert_eq!(handle.jobs_in_flight(), 1);
    wait_until("the plan request", || tfc.plan_api_gets() == 1).await;
    handle.shutdown();
    assert!(
        tfc.finals().is_empty(),
        "still running when shutdown starts"
    );
    tfc.release_plans();
    let report = tokio::time::timeout(WAIT, handle.wait()).await.unwrap();
    assert!(report.drained);
    let finals = tfc.finals();
    assert_eq!(finals.len(), 1);
    assert_eq!(attributes(&finals[0].json())["status"], "failed");
    assert_eq!(outcomes(&finals[0].json()).len(), 2);
    // Stopped: nothing listens any more.
    assert!(
        http()
            .get(format!("http://{service}/healthz"))
            .send()
            .await
            .is_err()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_that_cannot_finish_report_failed() {
    // The job timeout. The plan is held (never released): only the timeout can end the job.
    let tfc = FakeTfc::start(testdata("plans/resolved_vpc_cidr.json")).await;
    tfc.set(|s| s.plan_mode = PlanMode::Held);
    let (service, handle) = start_service(&tfc, |c| {
        c.jobs.timeout = Duration::from_millis(300);
    })
    .await;
    assert_eq!(
        post(service, &run_request(&tfc, "taskrs-slow")).await,
        StatusCode::OK
    );
    let result = tfc.final_result().await;
    assert_eq!(attributes(&result)["status"], "failed");
    assert!(
        message(&result).contains("did not finish checking the plan within 0.3 s"),
        "{result}"
    );
    handle.stop().await;

    // A shutdown whose drain timeout runs out: the plan is held (never released).
    let tfc = FakeTfc::start(testdata("plans/resolved_vpc_cidr.json")).await;
    tfc.set(|s| s.plan_mode = PlanMode::Held);
    let (service, handle) = start_service(&tfc, |c| {
        c.drain_timeout = Duration::from_millis(200);
    })
    .await;
    assert_eq!(
        post(service, &run_request(&tfc, "taskrs-abort")).await,
        StatusCode::OK
    );
    wait_until("the plan request", || tfc.plan_api_gets() == 1).await;
    let report = stop(handle).await;
    assert!(!report.drained);
    assert_eq!(
        report.abandoned, 0,
        "the job reported before the grace ran out"
    );
    let finals = tfc.finals();
    assert_eq!(finals.len(), 1);
    assert!(message(&finals[0].json()).contains("stopped"));
}

/// The first job is held at its plan request until the second delivery has been refused, so
/// the queue is full when it arrives, whatever the speed of the machine.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_queue_answers_503_and_takes_the_retry() {
    let tfc = FakeTfc::start(testdata("plans/example.json")).await;
    tfc.set(|s| s.plan_mode = PlanMode::Held);
    let (service, handle) = start_service(&tfc, |c| {
        c.max_concurrent = 1;
        c.max_queue = 0;
    })
    .await;
    assert_eq!(
        post(service, &run_request(&tfc, "taskrs-first")).await,
        StatusCode::OK
    );
    let second = run_request(&tfc, "taskrs-second");
    assert_eq!(
        post(service, &second).await,
        StatusCode::SERVICE_UNAVAILABLE
    );
    tfc.release_plans();
    wait_idle(&handle).await;
    assert_eq!(post(service, &second).await, StatusCode::OK, "TFC's retry");
    wait_until("two results", || tfc.finals().len() == 2).await;
    handle.stop().await;
}

/// An SMB-open group that carries a `portgate:waive` tag written by the change's author.
const TAG_WAIVED_PLAN: &str = r#"{"format_version":"1.2","planned_values":{"root_module":{}},"resource_changes":[{"address":"aws_security_group.files","mode":"managed","type":"aws_security_group","name":"files","change":{"actions":["create"],"after_unknown":{},"after":{"tags":{"portgate:waive":"PG002: file share behind VPN, until 2999-01-31"},"ingress":[{"protocol":"tcp","from_port":445,"to_port":445,"cidr_blocks":["0.0.0.0/0"],"ipv6_cidr_blocks":[],"prefix_list_ids":[],"security_groups":[],"self":false}]}}}]}"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gate_owner_can_refuse_waivers_from_tags() {
    for (tag_waivers, status) in [(true, "passed"), (false, "failed")] {
        let tfc = FakeTfc::start(TAG_WAIVED_PLAN.as_bytes().to_vec()).await;
        let (service, handle) =
            start_service(&tfc, |c| c.checker.options.tag_waivers = tag_waivers).await;
        assert_eq!(
            post(service, &run_request(&tfc, "taskrs-tag-waiver")).await,
            StatusCode::OK
        );
        let result = tfc.final_result().await;
        assert_eq!(
            attributes(&result)["status"],
            status,
            "tag waivers {tag_waivers}: {result}"
        );
        assert!(stop(handle).await.drained);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pre_plan_passes_and_asks_for_post_plan() {
    let tfc = FakeTfc::start(testdata("plans/example.json")).await;
    let (service, handle) = start_service(&tfc, |_| {}).await;
    let mut request = run_request(&tfc, "taskrs-pre");
    request["stage"] = json!("pre_plan");
    request.as_object_mut().unwrap().remove("plan_json_api_url");
    assert_eq!(post(service, &request).await, StatusCode::OK);
    let result = tfc.final_result().await;
    assert_eq!(attributes(&result)["status"], "passed");
    assert!(message(&result).contains("post_plan"));
    assert!(tfc.seen().iter().all(|s| s.method == "PATCH"));
    handle.stop().await;
}

// ---------------------------------------------------------------------------------------------
// The command line.

#[test]
fn serve_refuses_to_start_without_a_key() {
    let output = assert_cmd::Command::cargo_bin("portgate")
        .unwrap()
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env_remove("PORTGATE_HMAC_KEY")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--hmac-key-file"), "{stderr}");
    assert!(stderr.contains("--insecure-no-hmac"), "{stderr}");

    let output = assert_cmd::Command::cargo_bin("portgate")
        .unwrap()
        .args(["serve", "--listen", "127.0.0.1:0", "--insecure-no-hmac"])
        .env("PORTGATE_HMAC_KEY", "k")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(!String::from_utf8_lossy(&output.stderr).contains("k\n"));
}

#[test]
fn serve_runs_until_sigterm_and_exits_0() {
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("portgate"))
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--log-format",
            "json",
            "--tfc-url",
            "http://127.0.0.1:9",
            "--no-tag-waivers",
            "--max-waiver-days",
            "90",
        ])
        .env("PORTGATE_HMAC_KEY", KEY)
        .env("RUST_LOG", "info")
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Log lines come through a channel, so every wait for one has a deadline.
    let stderr = child.stderr.take().unwrap();
    let (line_tx, lines) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if line_tx.send(line).is_err() {
                break;
            }
        }
    });
    let addr: SocketAddr = loop {
        let line = lines
            .recv_timeout(WAIT)
            .expect("the service logs where it listens");
        let event: Value = serde_json::from_str(&line).unwrap();
        if event["message"] == "portgate serve listening" {
            break event["addr"].as_str().unwrap().parse().unwrap();
        }
    };
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let body = br#"{"access_token":"test-token","stage":"post_plan"}"#.to_vec();
        let signature = sign(KEY.as_bytes(), &body);
        let status = post_raw(addr, "/", body.clone(), Some(signature)).await;
        assert_eq!(status, StatusCode::OK);
        let status = post_raw(addr, "/", body, Some(sign(b"wrong", b"x"))).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    });
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(start.elapsed() < WAIT, "the service did not stop");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(status.code(), Some(0));
    // Exited: the channel ends once the last line is read.
    let rest: Vec<String> = lines.iter().collect();
    let logs = rest.join("\n");
    assert!(logs.contains("shutting down"), "{logs}");
    assert!(!logs.contains(KEY));
}
