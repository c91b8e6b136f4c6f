//! Walking the plan corpora: the project's `testdata/` and `../shared/testdata/`.

use std::path::{Path, PathBuf};

/// Every plan (`.json`, not an `expected*` file) under `dir`, in name order; nothing when
/// `dir` is absent.
pub fn json_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            json_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "json")
            && !path.to_string_lossy().contains("expected")
        {
            out.push(path);
        }
    }
}
