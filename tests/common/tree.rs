//! Copying Terraform source trees in tests: the one helper the fix, formats and real-sources
//! tests share (included with `#[path]`, without the service helpers of `common/mod.rs`).

use std::path::Path;

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
