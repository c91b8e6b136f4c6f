//! Walking trees of files: the plan corpora (the project's `testdata/` and
//! `../shared/testdata/`), the Rego policies, the sources.

use std::path::{Path, PathBuf};

/// Every file under `dir` whose extension is `extension`, in name order (each directory's
/// entries sorted, subdirectories walked where they sort); nothing when `dir` is absent.
pub fn files_with_extension(dir: &Path, extension: &str, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            files_with_extension(&path, extension, out);
        } else if path.extension().is_some_and(|e| e == extension) {
            out.push(path);
        }
    }
}

/// Every plan (`.json`, not an `expected*` file) under `dir`, in name order; nothing when
/// `dir` is absent.
#[allow(dead_code)]
pub fn json_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut found = Vec::new();
    files_with_extension(dir, "json", &mut found);
    out.extend(
        found
            .into_iter()
            .filter(|path| !path.to_string_lossy().contains("expected")),
    );
}
