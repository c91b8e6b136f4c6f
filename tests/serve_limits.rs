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
        assert!(message(&result).contains("could not read the plan"), "{plan}: {result}");
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
