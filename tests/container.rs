//! The container image and its Kubernetes example (issue 19). No base image can be pulled
//! here, so what can be checked is: every file the Dockerfile copies exists, every flag and
//! command it and the Deployment in docs/runtask.md run exists in the binary, their ports and
//! paths agree, and the health check command works against a real `portgate serve`.

mod common;
#[path = "common/run.rs"]
mod run;

use yaml_rust2::{Yaml, YamlLoader};

use common::WAIT;
use common::binary::Binary;
use common::fake_tfc::FakeTfc;
use run::{portgate, root};

/// The long flags `portgate SUBCOMMAND --help` lists.
fn flags_of(subcommand: &str) -> Vec<String> {
    let help = portgate(&[subcommand, "--help"]);
    assert!(help.status.success(), "{help:?}");
    String::from_utf8(help.stdout)
        .unwrap()
        .split_whitespace()
        .filter(|w| w.starts_with("--"))
        .map(|w| {
            w.trim_end_matches([',', '.'])
                .split('=')
                .next()
                .unwrap()
                .to_string()
        })
        .collect()
}

/// Checks a `portgate` command line (without the program): a subcommand the binary has, and
/// flags it lists.
fn assert_command_exists(args: &[String], what: &str) {
    let subcommand = args
        .first()
        .unwrap_or_else(|| panic!("{what}: no subcommand"));
    let flags = flags_of(subcommand);
    for arg in args.iter().filter(|a| a.starts_with("--")) {
        assert!(
            flags.contains(arg),
            "{what}: `portgate {subcommand}` has no {arg}: {flags:?}"
        );
    }
}

/// The value after `flag` in `args`.
fn value_of<'a>(args: &'a [String], flag: &str) -> &'a str {
    let at = args
        .iter()
        .position(|a| a == flag)
        .unwrap_or_else(|| panic!("{flag} in {args:?}"));
    &args[at + 1]
}

/// A JSON-array instruction (`CMD [...]`, `ENTRYPOINT [...]`) of the Dockerfile, with line
/// continuations joined.
fn exec_form(dockerfile: &str, instruction: &str) -> Vec<String> {
    let joined = dockerfile.replace("\\\n", " ");
    let line = joined
        .lines()
        .find(|l| l.starts_with(instruction))
        .unwrap_or_else(|| panic!("{instruction} in the Dockerfile"));
    let array = &line[line.find('[').unwrap()..=line.rfind(']').unwrap()];
    serde_json::from_str(array).unwrap()
}

#[test]
fn the_dockerfile_builds_and_runs_what_exists() {
    let dockerfile = std::fs::read_to_string(root().join("Dockerfile")).unwrap();
    // What it copies into the build stage exists, and is what the package holds.
    for line in dockerfile
        .lines()
        .filter(|l| l.starts_with("COPY ") && !l.contains("--from"))
    {
        let parts: Vec<&str> = line.split_whitespace().collect();
        for source in &parts[1..parts.len() - 1] {
            assert!(root().join(source).exists(), "COPY {source}: no such file");
        }
    }
    // The build enables the feature the service needs, which the manifest defines.
    let build = dockerfile
        .lines()
        .find(|l| l.starts_with("RUN cargo build"))
        .expect("a cargo build step");
    assert!(
        build.contains("--locked") && build.contains("--features serve"),
        "{build}"
    );
    let manifest = std::fs::read_to_string(root().join("Cargo.toml")).unwrap();
    assert!(
        manifest.contains("\nserve = ["),
        "Cargo.toml defines the serve feature"
    );
    // The binary goes where the entrypoint and the health check run it.
    let binary = "/usr/local/bin/portgate";
    assert!(dockerfile.contains(&format!("target/release/portgate {binary}")));
    assert_eq!(exec_form(&dockerfile, "ENTRYPOINT"), [binary]);
    // Its command and health check are commands the binary has.
    let cmd = exec_form(&dockerfile, "CMD [");
    assert_command_exists(&cmd, "CMD");
    let health = exec_form(&dockerfile, "HEALTHCHECK");
    assert_eq!(health[0], binary);
    assert_command_exists(&health[1..], "HEALTHCHECK");
    // One port: listened on, exposed, probed.
    let listen = value_of(&cmd, "--listen");
    let port = listen.rsplit(':').next().unwrap();
    assert!(
        dockerfile.contains(&format!("EXPOSE {port}")),
        "EXPOSE {port}"
    );
    assert!(
        health.last().unwrap().contains(&format!(":{port}/healthz")),
        "{health:?}"
    );
    // The key comes from a file, never the environment.
    assert!(value_of(&cmd, "--hmac-key-file").starts_with("/run/secrets/"));
    assert!(!dockerfile.contains("PORTGATE_HMAC_KEY"));
    assert!(dockerfile.contains("USER nonroot"));
}

#[test]
fn the_kubernetes_example_matches_the_binary_and_the_drain() {
    let doc = std::fs::read_to_string(root().join("docs/runtask.md")).unwrap();
    let block = doc
        .split("```yaml\n")
        .skip(1)
        .map(|b| b.split("\n```").next().unwrap())
        .find(|b| b.contains("kind: Deployment"))
        .expect("a Deployment in docs/runtask.md");
    let yaml = &YamlLoader::load_from_str(block).unwrap()[0];
    let pod = &yaml["spec"]["template"]["spec"];
    let container = &pod["containers"][0];
    let strings = |value: &Yaml| -> Vec<String> {
        value
            .as_vec()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect()
    };
    let args = strings(&container["args"]);
    assert_command_exists(&args, "the Deployment's args");
    let port = value_of(&args, "--listen")
        .rsplit(':')
        .next()
        .unwrap()
        .parse::<i64>()
        .unwrap();
    assert_eq!(container["ports"][0]["containerPort"].as_i64(), Some(port));
    let readiness = &container["readinessProbe"]["httpGet"];
    assert_eq!(readiness["path"].as_str(), Some("/healthz"));
    assert_eq!(readiness["port"].as_i64(), Some(port));
    let liveness = strings(&container["livenessProbe"]["exec"]["command"]);
    assert_eq!(liveness[0], "/usr/local/bin/portgate");
    assert_command_exists(&liveness[1..], "the liveness probe");
    // The grace period covers the drain and the last callbacks.
    let drain: i64 = value_of(&args, "--drain-timeout")
        .trim_end_matches('s')
        .parse()
        .unwrap();
    let grace = pod["terminationGracePeriodSeconds"].as_i64().unwrap();
    assert!(grace >= drain + 10, "grace {grace} s, drain {drain} s");
    // The secret is mounted where the key file is read.
    let mounts = container["volumeMounts"].as_vec().unwrap();
    assert!(
        mounts
            .iter()
            .any(|m| m["mountPath"].as_str() == Some(value_of(&args, "--hmac-key-file"))),
        "{mounts:?}"
    );
    assert!(
        mounts
            .iter()
            .any(|m| m["mountPath"].as_str() == Some(value_of(&args, "--work-dir"))),
        "the work dir is writable with a read-only root: {mounts:?}"
    );
}

/// `portgate healthcheck`: 0 for a service answering 200, 1 for one draining (503) and for
/// none at all; only plain http.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_health_check_command_tells_a_healthy_service_from_a_draining_one() {
    let tfc = FakeTfc::start(common::testdata("plans/example.json")).await;
    let mut server = Binary::start(&tfc, &[]).await;
    let url = format!("http://{}/healthz", server.addr);
    let run = |url: &str| {
        let output = portgate(&["healthcheck", "--timeout", "60s", url]);
        (
            output.status.code(),
            String::from_utf8_lossy(&output.stdout).into_owned(),
        )
    };
    let (code, out) = run(&url);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("200"), "{out}");

    // Draining: a job held at its plan keeps the service draining until the test lets go.
    tfc.set(|s| s.plan_mode = common::fake_tfc::PlanMode::Held);
    assert_eq!(
        common::post(server.addr, &common::run_request(&tfc, "task-health")).await,
        axum::http::StatusCode::OK
    );
    common::wait_until("the job's plan request", || tfc.plan_api_gets() == 1).await;
    server.send_sigterm();
    let start = std::time::Instant::now();
    loop {
        let (code, out) = run(&url);
        if code == Some(1) {
            assert!(out.contains("503"), "{out}");
            break;
        }
        assert!(
            start.elapsed() < WAIT,
            "never unhealthy while draining: {out}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    tfc.release_plans();
    assert_eq!(server.exit_code_within(WAIT).await, Some(0));
    let (code, out) = run(&url);
    assert_eq!(code, Some(1), "nothing listens: {out}");
    assert_eq!(
        portgate(&["healthcheck", "https://127.0.0.1/healthz"])
            .status
            .code(),
        Some(2)
    );
}
