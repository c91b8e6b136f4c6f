//! Reviewed snapshots of the text and JSON reports (insta). The snapshots in tests/snapshots/
//! are the contract: a change in wording or shape shows up as a diff to review.

#[path = "common/run.rs"]
mod run;

/// Runs portgate from the crate root so paths in the output are relative and stable.
fn run(args: &[&str]) -> String {
    run::text(&run::portgate(args).stdout).replace(env!("CARGO_PKG_VERSION"), "[version]")
}

#[test]
fn text_report_of_the_example_plan() {
    insta::assert_snapshot!(run(&[
        "check",
        "testdata/plans/example.json",
        "--color",
        "never"
    ]));
}

#[test]
fn text_report_with_a_source_patch() {
    insta::assert_snapshot!(run(&[
        "check",
        "testdata/fix/no_trusted_ipv6/plan.json",
        "--source",
        "testdata/fix/no_trusted_ipv6",
        "--trusted-cidr",
        "10.0.0.0/8",
        "--color",
        "never",
    ]));
}

#[test]
fn text_report_with_unknown_values_and_an_invalid_cidr() {
    insta::assert_snapshot!(run(&[
        "check",
        "testdata/plans/unknown_cidr.json",
        "--source",
        "testdata/plans/unknown_cidr",
        "--color",
        "never"
    ]));
    insta::assert_snapshot!(run(&[
        "check",
        "testdata/plans/invalid_cidr.json",
        "--source",
        "testdata/plans/invalid_cidr",
        "--color",
        "never"
    ]));
}

#[test]
fn json_report_of_the_example_plan_with_fixes() {
    insta::assert_snapshot!(run(&[
        "check",
        "testdata/plans/example.json",
        "--format",
        "json",
        "--trusted-cidr",
        "10.0.0.0/8",
        "--trusted-cidr",
        "2001:db8::/32",
        "--source",
        "testdata/plans",
    ]));
}
