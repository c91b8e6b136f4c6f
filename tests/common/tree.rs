//! Source trees in tests: copying a case to a scratch directory and applying a patch there with
//! git, as a user would (included with `#[path]` by the fix, formats, real-sources and
//! generator tests, without the service helpers of `common/mod.rs`).
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Copies a directory tree; symbolic links are copied as links, so a case whose module
/// directory or file is a link stays one in the copy.
pub fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        let kind = entry.file_type().unwrap();
        if kind.is_symlink() {
            let link = std::fs::read_link(entry.path()).unwrap();
            #[cfg(unix)]
            std::os::unix::fs::symlink(link, &target).unwrap();
            #[cfg(not(unix))]
            panic!("symbolic link {link:?} in a test tree: unix only");
        } else if kind.is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// A directory of a test's own (`TMP/src`), outside any git repository, with a place for a
/// patch beside it (`TMP/fix.patch`); removed when dropped.
pub struct Scratch {
    tmp: tempfile::TempDir,
    pub dir: PathBuf,
    pub patch_file: PathBuf,
}

impl Scratch {
    /// `TMP/src`, not created.
    pub fn new() -> Scratch {
        let tmp = tempfile::tempdir().unwrap();
        Scratch {
            dir: tmp.path().join("src"),
            patch_file: tmp.path().join("fix.patch"),
            tmp,
        }
    }

    /// A copy of the tree at `from` in `TMP/src`.
    pub fn copy_of(from: &Path) -> Scratch {
        let scratch = Scratch::new();
        copy_tree(from, &scratch.dir);
        scratch
    }

    /// The temporary directory `src` and the patch are in.
    pub fn parent(&self) -> &Path {
        self.tmp.path()
    }

    /// Applies a unified diff to the tree with `git apply --check`, then `git apply`; panics
    /// with what git said and the patch when it refuses.
    pub fn apply(&self, patch: &str) {
        if let Err(e) = self.try_apply(patch) {
            panic!("{e}\npatch:\n{patch}");
        }
    }

    /// [`Scratch::apply`], with what git said when it refused.
    pub fn try_apply(&self, patch: &str) -> Result<(), String> {
        std::fs::write(&self.patch_file, patch).unwrap();
        let patch_file = self.patch_file.to_str().unwrap();
        for args in [
            ["apply", "--check", patch_file].as_slice(),
            &["apply", patch_file],
        ] {
            let out = git(&self.dir, args);
            if !out.status.success() {
                return Err(format!(
                    "git {args:?} failed: {}",
                    String::from_utf8_lossy(&out.stderr)
                ));
            }
        }
        Ok(())
    }
}

/// `git -C DIR ARGS`, outside any repository around `DIR`: `git apply` inside a repository
/// applies paths relative to the top of its work tree, so the search for one stops above `DIR`.
pub fn git(dir: &Path, args: &[&str]) -> Output {
    Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .env("GIT_CEILING_DIRECTORIES", dir.parent().unwrap_or(dir))
        .output()
        .expect("git runs")
}
