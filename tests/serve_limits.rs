//! `portgate serve`'s limits and what leaves it (issue 18).

mod common;

use common::fake_tfc::FakeTfc;
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
