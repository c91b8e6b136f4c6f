//! The ways to get portgate that the docs give: one repository address everywhere, and a
//! package that holds what `cargo install` needs and nothing large (issue 19).

#[path = "common/run.rs"]
mod run;

use std::path::{Path, PathBuf};
use std::process::Command;

use run::root;

const REPOSITORY: &str = env!("CARGO_PKG_REPOSITORY");

/// The files a user reads or copies install instructions from.
fn documents() -> Vec<PathBuf> {
    let mut files = vec![root().join("README.md")];
    let mut docs: Vec<PathBuf> = std::fs::read_dir(root().join("docs"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .collect();
    docs.sort();
    files.extend(docs);
    for extra in ["action.yml", ".pre-commit-hooks.yaml", "Dockerfile"] {
        let path = root().join(extra);
        if path.exists() {
            files.push(path);
        }
    }
    files
}

/// Every `github.com/OWNER/portgate` address in `text`, as written.
fn repository_addresses(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find("github.com/") {
        let tail = &rest[at + "github.com/".len()..];
        let end = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/')))
            .unwrap_or(tail.len());
        let path: Vec<&str> = tail[..end].split('/').collect();
        if path.len() >= 2 && path[1].trim_end_matches('.') == "portgate" {
            found.push(format!("https://github.com/{}/portgate", path[0]));
        }
        rest = &tail[end..];
    }
    found
}

#[test]
fn one_repository_address_everywhere() {
    assert!(
        REPOSITORY.starts_with("https://github.com/"),
        "{REPOSITORY}"
    );
    assert_eq!(env!("CARGO_PKG_HOMEPAGE"), REPOSITORY);
    assert_eq!(portgate::report::sarif::INFORMATION_URI, REPOSITORY);
    let mut seen = 0;
    for path in documents() {
        let text = std::fs::read_to_string(&path).unwrap();
        for address in repository_addresses(&text) {
            assert_eq!(address, REPOSITORY, "{}", path.display());
            seen += 1;
        }
        assert!(
            !text.contains("OWNER/"),
            "{}: a placeholder address",
            path.display()
        );
        // `uses: OWNER/portgate@REF` names the repository on GitHub too.
        for line in text.lines().filter(|l| l.contains("/portgate@")) {
            let at = line.find("/portgate@").unwrap();
            let owner = line[..at].rsplit([' ', '\'', '"']).next().unwrap();
            assert_eq!(
                format!("https://github.com/{owner}/portgate"),
                REPOSITORY,
                "{}: {line}",
                path.display()
            );
            seen += 1;
        }
    }
    assert!(seen > 0, "the docs name the repository somewhere");
}

#[test]
fn the_licenses_the_manifest_names_are_there() {
    assert_eq!(env!("CARGO_PKG_LICENSE"), "MIT OR Apache-2.0");
    let mit = std::fs::read_to_string(root().join("LICENSE-MIT")).unwrap();
    assert!(mit.contains("Permission is hereby granted, free of charge"));
    let apache = std::fs::read_to_string(root().join("LICENSE-APACHE")).unwrap();
    assert!(apache.contains("Apache License") && apache.contains("Version 2.0"));
}

/// `cargo package --list`: what a published crate (and so `cargo install portgate`) would hold.
#[test]
fn the_package_holds_what_install_needs_and_nothing_large() {
    let output = Command::new(env!("CARGO"))
        .args(["package", "--locked", "--list", "--allow-dirty", "--quiet"])
        .current_dir(root())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "cargo package --list failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let listed: Vec<String> = String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    for needed in [
        "Cargo.toml",
        "Cargo.lock",
        "README.md",
        "LICENSE-MIT",
        "LICENSE-APACHE",
        "src/main.rs",
        "src/lib.rs",
        "policies/netbios.toml",
        "policies/smb.toml",
    ] {
        assert!(
            listed.iter().any(|f| f == needed),
            "{needed} is packaged: {listed:?}"
        );
    }
    for kept_out in [
        "testdata/",
        "fuzz/",
        "tests/",
        "benches/",
        "target/",
        "scripts/",
    ] {
        assert!(
            !listed.iter().any(|f| f.starts_with(kept_out)),
            "nothing under {kept_out} is packaged: {listed:?}"
        );
    }
    let bytes: u64 = listed
        .iter()
        .map(Path::new)
        .filter_map(|f| std::fs::metadata(root().join(f)).ok())
        .map(|m| m.len())
        .sum();
    assert!(bytes < 2 * 1024 * 1024, "the package holds {bytes} bytes");
}

/// The stdout of `portgate ARGS`, which must succeed without a word on stderr.
fn portgate(args: &[&str]) -> String {
    let output = run::portgate(args);
    assert!(output.status.success(), "portgate {args:?}: {output:?}");
    assert!(output.stderr.is_empty(), "portgate {args:?}: {output:?}");
    run::text(&output.stdout)
}

/// Runs `program args… FILE` on `text` when the program is installed; `None` when it is not.
fn checked_by(program: &str, args: &[&str], text: &str) -> Option<std::process::Output> {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("input");
    std::fs::write(&file, text).unwrap();
    match Command::new(program).args(args).arg(&file).output() {
        Ok(output) => Some(output),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            eprintln!("{program} is not installed: not checked by it");
            None
        }
        Err(e) => panic!("{program}: {e}"),
    }
}

#[test]
fn completion_scripts_are_given_for_every_shell_and_parse() {
    for (shell, parser) in [
        ("bash", Some(("bash", &["-n"][..]))),
        ("zsh", Some(("zsh", &["-n"][..]))),
        ("fish", Some(("fish", &["--no-execute"][..]))),
        ("powershell", None),
        ("elvish", None),
    ] {
        let script = portgate(&["completions", shell]);
        // Every subcommand and a flag of `check` can be completed.
        for word in ["check", "serve", "policies", "init", "trusted-cidr"] {
            assert!(script.contains(word), "{shell}: {word} in\n{script}");
        }
        if let Some((program, args)) = parser
            && let Some(output) = checked_by(program, args, &script)
        {
            assert!(output.status.success(), "{program} {args:?}: {output:?}");
        }
    }
    let error = Command::new(env!("CARGO_BIN_EXE_portgate"))
        .args(["completions", "tcsh"])
        .output()
        .unwrap();
    assert_eq!(error.status.code(), Some(2));
}

#[test]
fn the_man_page_is_roff_that_renders() {
    let page = portgate(&["man"]);
    assert!(page.contains(".TH portgate 1"), "{page}");
    for section in [".SH NAME", ".SH SYNOPSIS", ".SH SUBCOMMANDS"] {
        assert!(page.contains(section), "{section} in\n{page}");
    }
    if let Some(output) = checked_by("groff", &["-man", "-Tutf8", "-ww", "-z"], &page) {
        assert!(output.status.success(), "{output:?}");
        assert!(output.stderr.is_empty(), "groff warns: {output:?}");
    }
}

/// The crates a build links, as `cargo tree` lists them (one `name vX.Y.Z` per line).
fn linked_crates(features: &[&str]) -> Vec<String> {
    let output = Command::new(env!("CARGO"))
        .args([
            "tree", "--locked", "-e", "normal", "--prefix", "none", "--quiet",
        ])
        .args(features)
        .current_dir(root())
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let mut crates: Vec<String> = String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .filter_map(|line| line.split_whitespace().next().map(str::to_string))
        .collect();
    crates.sort();
    crates.dedup();
    crates
}

/// `cargo install --path .` (what pre-commit's `language: rust` hook runs on every laptop)
/// builds the checker alone: none of the service's HTTP stack, which needs `--features serve`.
/// The default build compiles, and its `portgate serve` says how to get the service.
#[test]
fn the_default_build_is_the_checker_alone() {
    let service_stack = [
        "axum",
        "hyper",
        "tokio",
        "reqwest",
        "rustls",
        "aws-lc-sys",
        "tar",
    ];
    let default = linked_crates(&[]);
    let serve = linked_crates(&["--features", "serve"]);
    for name in service_stack {
        assert!(
            !default.contains(&name.to_string()),
            "{name} in the default build"
        );
    }
    for name in ["axum", "hyper", "tokio", "reqwest"] {
        assert!(
            serve.contains(&name.to_string()),
            "{name} with --features serve"
        );
    }
    assert!(
        default.len() * 2 < serve.len(),
        "{} crates by default, {} with serve",
        default.len(),
        serve.len()
    );

    // Built in its own target directory: the test build holds the usual one.
    let target = root().join("target/default-features");
    let built = Command::new(env!("CARGO"))
        .args([
            "build",
            "--locked",
            "--quiet",
            "--bin",
            "portgate",
            "--target-dir",
        ])
        .arg(&target)
        .current_dir(root())
        .output()
        .unwrap();
    assert!(built.status.success(), "{built:?}");
    let binary = target.join("debug/portgate");
    let serve = Command::new(&binary)
        .args(["serve", "--insecure-no-hmac"])
        .output()
        .unwrap();
    assert_eq!(serve.status.code(), Some(2), "{serve:?}");
    let stderr = String::from_utf8_lossy(&serve.stderr);
    assert!(
        stderr.contains("without the run task service") && stderr.contains("--features serve"),
        "{stderr}"
    );
    let check = Command::new(&binary)
        .args(["check", "testdata/plans/example.json"])
        .current_dir(root())
        .output()
        .unwrap();
    assert_eq!(check.status.code(), Some(1), "the checker works: {check:?}");
}
