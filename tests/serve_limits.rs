//! `portgate serve`'s limits and what leaves it (issue 18).

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use common::WAIT;
use common::binary::Binary;

use common::fake_tfc::{FakeTfc, PlanMode};
use common::{attributes, message, stop};
use serde_json::Value;

/// Starts `portgate serve` with `args` against `tfc`, delivers one run task request, and
/// returns its final result once the service has stopped cleanly.
async fn verdict_of_the_binary(tfc: &FakeTfc, args: &[&str], task: &str) -> Value {
    let mut server = Binary::start(tfc, args).await;
    let request = common::run_request(tfc, task);
    assert_eq!(common::post(server.addr, &request).await, StatusCode::OK);
    let result = tfc.final_result().await;
    assert_eq!(server.terminate(WAIT).await, Some(0));
    result
}

/// A plan whose `resource_changes` is null is not a plan portgate can check: `failed`, never
/// `passed` with nothing checked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plan_with_null_resource_changes_fails_the_run() {
    for plan in [
        r#"{"format_version": "1.2", "resource_changes": null}"#,
        r#"{"format_version": "1.2"}"#,
        r#"{"format_version": "1.2", "planned_values": {"root_module": {}}, "resource_changes": null}"#,
    ] {
        let tfc = FakeTfc::start(plan.as_bytes().to_vec()).await;
        let result = verdict_of_the_binary(&tfc, &[], "task-null").await;
        assert_eq!(attributes(&result)["status"], "failed", "{plan}: {result}");
        assert!(
            message(&result).contains("could not read the plan"),
            "{plan}: {result}"
        );
    }
}

/// A redirect whose `Location` carries userinfo is refused, on the TFC origin and off it: the
/// HTTP client would send it as a Basic `Authorization` header (on the TFC origin, instead of
/// the bearer token). The run fails saying why, and the target is never asked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redirect_with_credentials_is_refused_and_nothing_is_sent_to_it() {
    let plan = common::testdata("plans/example.json");
    for on_tfc in [true, false] {
        let tfc = FakeTfc::start(plan.clone()).await;
        let host = if on_tfc { tfc.api } else { tfc.archivist };
        let to = format!("http://user:pw@{host}/archive/plan?signature=presigned");
        tfc.set(|s| s.plan_mode = PlanMode::Location(to.clone()));
        let result = verdict_of_the_binary(&tfc, &[], "task-userinfo").await;
        assert_eq!(attributes(&result)["status"], "failed", "{to}: {result}");
        let text = message(&result);
        assert!(text.contains("carries credentials"), "{to}: {text}");
        assert!(!text.contains("pw"), "the password is not repeated: {text}");
        let seen = tfc.seen();
        assert!(
            seen.iter().all(|s| s.path != "/archive/plan"),
            "{to}: the redirect target was fetched: {seen:?}"
        );
        assert!(
            seen.iter().all(|s| s
                .authorization
                .as_deref()
                .is_none_or(|a| a == format!("Bearer {}", common::TOKEN))),
            "{to}: only the bearer token is ever sent: {seen:?}"
        );
    }
}

/// A `.tar.gz` of `entries` (path, content) written by the `tar` crate, whose GNU long names
/// allow paths over 100 bytes (`common::tarball` writes the old header by hand, for the unsafe
/// paths it must be able to write, and so stops at 100).
fn gnu_tarball(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut builder = tar::Builder::new(flate2::write::GzEncoder::new(
        Vec::new(),
        flate2::Compression::default(),
    ));
    for (path, data) in entries {
        let mut header = tar::Header::new_gnu();
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        header.set_entry_type(tar::EntryType::Regular);
        builder.append_data(&mut header, path, *data).unwrap();
    }
    builder.into_inner().unwrap().finish().unwrap()
}

/// Messages sent to HCP Terraform name paths inside the configuration only, never where the
/// service unpacked it: an entry the filesystem cannot write (a 300-byte name) and a
/// `.tf.json` that does not parse, with and without trusted CIDRs (whose runs add notes).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_name_no_path_of_the_server() {
    let plan = common::testdata("plans/group_union.json");
    let main_tf = common::testdata("plans/group_union/main.tf");
    let long_name = format!("{}.tf", "x".repeat(300));
    let unwritable = gnu_tarball(&[("main.tf", &main_tf), (&long_name, b"# x\n")]);
    let unparsable = common::tarball(&[
        ("main.tf", &main_tf),
        ("broken.tf.json", b"{\"resource\": ["),
    ]);
    for (what, tarball, needle) in [
        ("unwritable entry", unwritable, r#"cannot write \"xxxx"#),
        ("unparsable .tf.json", unparsable, "broken.tf.json"),
    ] {
        for with_trusted in [false, true] {
            let tfc = FakeTfc::start(plan.clone()).await;
            tfc.set(|s| s.tarball = Some(tarball.clone()));
            let args: &[&str] = if with_trusted {
                &["--trusted-cidr", "10.0.0.0/8"]
            } else {
                &[]
            };
            // The binary's --work-dir is under the system's temporary directory.
            let result = verdict_of_the_binary(&tfc, args, "task-paths").await;
            let text = result.to_string();
            let temp = std::env::temp_dir().display().to_string();
            assert!(
                !text.contains(&temp)
                    && !text.contains("portgate-job-")
                    && !text.contains("/work/"),
                "{what} (trusted: {with_trusted}): a server path left the service: {text}"
            );
            // Notes on the configuration come with runs that asked for patches.
            assert!(
                !with_trusted || text.contains(needle),
                "{what} (trusted: {with_trusted}): the message names the entry ({needle}): {text}"
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Against the real binary.

/// The status and head of an answer read from `stream` (everything up to the blank line).
async fn read_head(stream: &mut (impl tokio::io::AsyncRead + Unpin)) -> Option<String> {
    use tokio::io::AsyncReadExt;
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match stream.read(&mut byte).await {
            Ok(1) => head.push(byte[0]),
            _ => return None,
        }
    }
    Some(String::from_utf8_lossy(&head).into_owned())
}

/// Many unauthenticated connections that each send most of a 1 MiB body and never finish it
/// cannot make the service hold more than its body budget (16 MiB by default): the requests
/// beyond it get 503 with Retry-After before their bodies are read. Before the budget, 200
/// such connections held 200 MiB.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_sent_unsigned_bodies_cannot_exhaust_memory() {
    const CLIENTS: usize = 200;
    const LENGTH: usize = 1024 * 1024 - 1;
    const BUDGET: usize = 16 * 1024 * 1024;
    let tfc = FakeTfc::start(common::testdata("plans/example.json")).await;
    let mut server = Binary::start(&tfc, &[]).await;
    let addr = server.addr;
    let junk: Arc<Vec<u8>> = Arc::new(vec![b'x'; LENGTH - 1]);
    let refused = Arc::new(AtomicUsize::new(0));
    let mut connections = Vec::new();
    for _ in 0..CLIENTS {
        let stream = TcpStream::connect(addr).await.unwrap();
        let (mut reader, mut writer) = stream.into_split();
        let junk = Arc::clone(&junk);
        let writing = tokio::spawn(async move {
            let head = format!(
                "POST /runtask HTTP/1.1\r\nhost: {addr}\r\ncontent-length: {LENGTH}\r\n\r\n"
            );
            if writer.write_all(head.as_bytes()).await.is_ok() {
                let _ = writer.write_all(&junk).await;
            }
            // The last byte never comes; the write half stays open.
            writer
        });
        let refused = Arc::clone(&refused);
        let reading = tokio::spawn(async move {
            let head = read_head(&mut reader).await;
            if let Some(head) = &head {
                assert!(head.starts_with("HTTP/1.1 503"), "{head}");
                assert!(head.to_ascii_lowercase().contains("retry-after:"), "{head}");
                refused.fetch_add(1, Ordering::SeqCst);
            }
            (reader, head)
        });
        connections.push((writing, reading));
    }
    let admitted = BUDGET / LENGTH;
    // Until every request beyond the budget has its 503, or the memory gives out first.
    const MOST_MIB: u64 = 80;
    common::wait_until("every request beyond the body budget to get 503", || {
        refused.load(Ordering::SeqCst) >= CLIENTS - admitted
            || server.peak_rss_kib() / 1024 >= MOST_MIB
    })
    .await;
    let peak_mib = server.peak_rss_kib() / 1024;
    eprintln!("{CLIENTS} half-sent bodies: peak RSS {peak_mib} MiB");
    assert!(
        peak_mib < MOST_MIB,
        "{CLIENTS} half-sent bodies of 1 MiB: peak RSS {peak_mib} MiB (budget 16 MiB)"
    );
    // Only the requests beyond the budget were answered: the admitted ones still wait for
    // their last byte.
    assert_eq!(refused.load(Ordering::SeqCst), CLIENTS - admitted);
    for (writing, reading) in connections {
        writing.abort();
        reading.abort();
    }
    assert_eq!(server.terminate(WAIT).await, Some(0));
}

/// Beyond `--max-connections`, a new connection is answered 503 with Retry-After; once the
/// others close, connections are served again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_beyond_the_limit_get_503() {
    let tfc = FakeTfc::start(common::testdata("plans/example.json")).await;
    let mut server = Binary::start(&tfc, &["--max-connections", "4"]).await;
    let addr = server.addr;
    // Accepted in the order they connected: these four take every place.
    let mut idle = Vec::new();
    for _ in 0..4 {
        idle.push(TcpStream::connect(addr).await.unwrap());
    }
    let mut extra = TcpStream::connect(addr).await.unwrap();
    extra
        .write_all(format!("GET /healthz HTTP/1.1\r\nhost: {addr}\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let head = read_head(&mut extra).await.expect("an answer");
    assert!(head.starts_with("HTTP/1.1 503"), "{head}");
    assert!(head.to_ascii_lowercase().contains("retry-after:"), "{head}");
    drop(idle);
    // Served again once the service has seen the others close.
    let start = Instant::now();
    loop {
        if common::healthz(addr).await == StatusCode::OK {
            break;
        }
        assert!(start.elapsed() < WAIT, "the service never served again");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(server.terminate(WAIT).await, Some(0));
}

/// A client that writes its whole oversized body before it reads (Python's urllib does) reads
/// the 413, not a broken pipe: the service answers, then reads and discards what still comes
/// before closing. Declared with `Content-Length` (answered before the body is read) and
/// chunked (answered once 1 MiB has come).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_still_writing_reads_its_413() {
    use tokio::io::AsyncReadExt;
    let tfc = FakeTfc::start(common::testdata("plans/example.json")).await;
    let mut server = Binary::start(&tfc, &[]).await;
    let addr = server.addr;
    let body = vec![b'x'; 3 * 1024 * 1024];
    let chunked: Vec<u8> = body
        .chunks(64 * 1024)
        .flat_map(|chunk| {
            let mut framed = format!("{:x}\r\n", chunk.len()).into_bytes();
            framed.extend_from_slice(chunk);
            framed.extend_from_slice(b"\r\n");
            framed
        })
        .chain(b"0\r\n\r\n".iter().copied())
        .collect();
    for (framing, payload) in [
        (format!("content-length: {}\r\n", body.len()), &body),
        ("transfer-encoding: chunked\r\n".to_string(), &chunked),
    ] {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        let head = format!("POST /runtask HTTP/1.1\r\nhost: {addr}\r\n{framing}\r\n");
        stream.write_all(head.as_bytes()).await.unwrap();
        // Every byte is written before anything is read: the writes must all succeed.
        stream
            .write_all(payload)
            .await
            .unwrap_or_else(|e| panic!("{framing}: writing the body failed: {e}"));
        let mut answer = Vec::new();
        stream
            .read_to_end(&mut answer)
            .await
            .unwrap_or_else(|e| panic!("{framing}: reading the answer failed: {e}"));
        assert_eq!(
            common::status_of(&answer),
            Some(413),
            "{framing}: {}",
            String::from_utf8_lossy(&answer)
        );
    }
    assert_eq!(server.terminate(WAIT).await, Some(0));
}

/// On SIGTERM the service drains: the listener stays open, `/healthz` and new requests answer
/// 503, running jobs go on. A second SIGTERM makes every unfinished job send `failed`
/// ("stopped") and the service exit non-zero.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_sigterm_fails_running_jobs_and_exits_non_zero() {
    let tfc = FakeTfc::start(common::testdata("plans/example.json")).await;
    // Held: the job cannot end before the test lets it, however fast the machine is.
    tfc.set(|s| s.plan_mode = PlanMode::Held);
    let mut server = Binary::start(&tfc, &["--drain-timeout", "1h"]).await;
    let addr = server.addr;
    assert_eq!(
        common::post(addr, &common::run_request(&tfc, "task-sigterm")).await,
        StatusCode::OK
    );
    common::wait_until("the job's plan request", || tfc.plan_api_gets() == 1).await;

    server.send_sigterm();
    let start = Instant::now();
    while common::healthz(addr).await != StatusCode::SERVICE_UNAVAILABLE {
        assert!(
            start.elapsed() < WAIT,
            "/healthz never answered 503 while draining"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let answer = common::http()
        .get(format!("http://{addr}/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(answer.headers().contains_key("retry-after"));
    assert_eq!(answer.text().await.unwrap(), "draining");
    assert_eq!(
        common::post(addr, &common::run_request(&tfc, "task-late")).await,
        StatusCode::SERVICE_UNAVAILABLE,
        "a new request while draining"
    );
    assert!(tfc.finals().is_empty(), "the running job goes on");

    server.send_sigterm();
    let code = server.exit_code_within(WAIT).await;
    assert_eq!(code, Some(2), "a stop that did not wait for every job");
    let finals = tfc.finals();
    assert_eq!(finals.len(), 1, "{finals:?}");
    assert_eq!(finals[0].path, "/api/v2/task-results/task-sigterm/callback");
    let result = finals[0].json();
    assert_eq!(attributes(&result)["status"], "failed", "{result}");
    assert!(message(&result).contains("stopped"), "{result}");
}

/// The configuration's Terraform files are read up to `--max-config-mib` (here a few bytes):
/// beyond it the sources prove nothing (the PG003 they would have settled stays) and the
/// outcome says why, instead of the job reading whatever the tarball holds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sources_beyond_the_read_limit_prove_nothing_and_say_why() {
    let main_tf = common::testdata("plans/resolved_vpc_cidr/main.tf");
    for (limit, proven) in [(None, true), (Some(main_tf.len() as u64 - 1), false)] {
        let tfc = FakeTfc::start(common::testdata("plans/resolved_vpc_cidr.json")).await;
        tfc.set(|s| s.tarball = Some(common::tarball(&[("main.tf", &main_tf)])));
        let (service, handle) = common::start_service(&tfc, |c| {
            if let Some(limit) = limit {
                c.jobs.max_source_bytes = limit;
            }
        })
        .await;
        let request = common::run_request(&tfc, "task-limit");
        assert_eq!(common::post(service, &request).await, StatusCode::OK);
        let result = tfc.final_result().await;
        stop(handle).await;
        let pg003: Vec<_> = common::outcomes(&result)
            .into_iter()
            .filter(|o| {
                o["attributes"]["outcome-id"]
                    .as_str()
                    .unwrap()
                    .starts_with("PG003")
            })
            .collect();
        if proven {
            assert!(pg003.is_empty(), "the sources prove the CIDR: {result}");
        } else {
            assert!(!pg003.is_empty(), "{result}");
            for outcome in &pg003 {
                let body = outcome["attributes"]["body"].as_str().unwrap();
                assert!(
                    body.contains("main.tf was not read") && body.contains("--max-config-mib"),
                    "{body}"
                );
            }
        }
    }
}

/// A job's memory does not grow with the configuration's Terraform files beyond
/// `--max-config-mib`: four 40 MiB files (a tarball of a few hundred KiB), read up to the
/// limit of 8 MiB. Before the limit, every file was read and parsed (four 63 MiB files took
/// 260 MB per job).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_terraform_files_are_read_within_the_limit() {
    const FILE_MIB: usize = 40;
    let main_tf = common::testdata("plans/group_union/main.tf");
    let big = {
        let line = format!("# {}\n", "x".repeat(77));
        line.repeat(FILE_MIB * 1024 * 1024 / line.len())
    };
    let names: Vec<String> = (0..4).map(|i| format!("big{i}.tf")).collect();
    let mut entries: Vec<(&str, &[u8])> = vec![("main.tf", &main_tf)];
    entries.extend(names.iter().map(|name| (name.as_str(), big.as_bytes())));
    let tarball = gnu_tarball(&entries);
    let tfc = FakeTfc::start(common::testdata("plans/group_union.json")).await;
    tfc.set(|s| s.tarball = Some(tarball));
    let mut server = Binary::start(
        &tfc,
        &["--max-config-mib", "8", "--trusted-cidr", "10.0.0.0/8"],
    )
    .await;
    let request = common::run_request(&tfc, "task-big-config");
    assert_eq!(common::post(server.addr, &request).await, StatusCode::OK);
    let result = tfc.final_result().await;
    let peak_mib = server.peak_rss_kib() / 1024;
    eprintln!("4 x {FILE_MIB} MiB .tf files, limit 8 MiB: peak RSS {peak_mib} MiB");
    assert!(
        common::message(&result).contains("exposure"),
        "the plan was checked: {result}"
    );
    assert!(
        result.to_string().contains("--max-config-mib"),
        "the outcomes say why the sources were not used: {result}"
    );
    assert!(peak_mib < 96, "peak RSS {peak_mib} MiB");
    assert_eq!(server.terminate(WAIT).await, Some(0));
}

/// A request head over 32 KiB is refused with 431 rather than buffered (hyper's default
/// allows about 400 KiB per connection, 1,024 connections times that beside the body budget).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_head_over_the_limit_is_431() {
    use tokio::io::AsyncReadExt;
    let tfc = FakeTfc::start(common::testdata("plans/example.json")).await;
    let mut server = Binary::start(&tfc, &[]).await;
    let addr = server.addr;
    for (size, status) in [(16 * 1024, 200), (100 * 1024, 431)] {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        let head = format!(
            "GET /healthz HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\nx-padding: {}\r\n\r\n",
            "a".repeat(size)
        );
        // The service may answer 431 and close before the whole head is written.
        let _ = stream.write_all(head.as_bytes()).await;
        let mut answer = Vec::new();
        let _ = stream.read_to_end(&mut answer).await;
        assert_eq!(
            common::status_of(&answer),
            Some(status),
            "a head of {size} bytes: {}",
            String::from_utf8_lossy(&answer)
        );
    }
    assert_eq!(server.terminate(WAIT).await, Some(0));
}
