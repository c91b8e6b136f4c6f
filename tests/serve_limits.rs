//! `portgate serve`'s limits and what leaves it (issue 18).

mod common;

use common::fake_tfc::{FakeTfc, PlanMode};
use common::{attributes, message, start_and_deliver, stop};

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
        let (_service, handle) = start_and_deliver(&tfc, "task-null").await;
        let result = tfc.final_result().await;
        stop(handle).await;
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
        let (_service, handle) = start_and_deliver(&tfc, "task-userinfo").await;
        let result = tfc.final_result().await;
        stop(handle).await;
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

/// Messages sent to HCP Terraform name paths inside the configuration only, never where the
/// service unpacked it: an entry the filesystem cannot write (a 300-byte name) and a
/// `.tf.json` that does not parse, with and without trusted CIDRs (whose runs add notes).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_name_no_path_of_the_server() {
    let plan = common::testdata("plans/group_union.json");
    let main_tf = common::testdata("plans/group_union/main.tf");
    let long_name = format!("{}.tf", "x".repeat(300));
    let unwritable = {
        let mut builder = tar::Builder::new(flate2::write::GzEncoder::new(
            Vec::new(),
            flate2::Compression::default(),
        ));
        for (path, data) in [("main.tf", &main_tf[..]), (long_name.as_str(), b"# x\n")] {
            let mut header = tar::Header::new_gnu();
            header.set_size(data.len() as u64);
            header.set_mode(0o644);
            header.set_entry_type(tar::EntryType::Regular);
            builder.append_data(&mut header, path, data).unwrap();
        }
        builder.into_inner().unwrap().finish().unwrap()
    };
    let unparsable = common::tarball(&[
        ("main.tf", &main_tf),
        ("broken.tf.json", b"{\"resource\": ["),
    ]);
    for (what, tarball, needle) in [
        ("unwritable entry", unwritable, r#"cannot write \"xxxx"#),
        ("unparsable .tf.json", unparsable, "broken.tf.json"),
    ] {
        for with_trusted in [false, true] {
            let work = tempfile::tempdir().unwrap();
            let work_dir = work.path().to_path_buf();
            let tfc = FakeTfc::start(plan.clone()).await;
            tfc.set(|s| s.tarball = Some(tarball.clone()));
            let (service, handle) = common::start_service(&tfc, |c| {
                c.jobs.work_dir = Some(work_dir.clone());
                if with_trusted {
                    c.checker.trusted =
                        vec![portgate::config::TrustedCidr::parse("10.0.0.0/8").unwrap()];
                }
            })
            .await;
            let request = common::run_request(&tfc, "task-paths");
            assert_eq!(
                common::post(service, &request).await,
                axum::http::StatusCode::OK
            );
            let result = tfc.final_result().await;
            stop(handle).await;
            let text = result.to_string();
            let work_text = work_dir.display().to_string();
            let temp = std::env::temp_dir().display().to_string();
            assert!(
                !text.contains(&work_text)
                    && !text.contains(&temp)
                    && !text.contains("portgate-job-"),
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
