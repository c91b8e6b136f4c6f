//! `--write`: applying the combined patch to the files, safely.
//!
//! A file is written only if it still holds exactly the bytes the edits were computed against
//! (otherwise someone changed it since, and the edits may land in the wrong place). Writing
//! happens in two phases so that a failure or a kill leaves every file whole:
//!
//! 1. *prepare*: every patched file is written in full to a temporary file beside it
//!    (`.portgate-*.tmp`, same directory so the rename below stays on one file system),
//!    flushed to disk and given the original's permissions. Almost every failure (disk full,
//!    file size limit, read-only directory) happens here, before any `.tf` file is touched;
//!    the temporary files are then removed and nothing has changed.
//! 2. *commit*: each temporary file is renamed over its original. A rename replaces the file
//!    atomically, so a file is always either its old or its new content, even if the process
//!    is killed between two renames. Each directory is flushed once, after the renames.
//!
//! A process killed during phase 1 can leave `.portgate-*.tmp` files behind (nothing can
//! remove them); Terraform ignores them, and their name says where they came from.
//! `tests/write_faults.rs` kills the binary at every write and checks the files.

use std::io::Write;
use std::path::Path;

use tempfile::NamedTempFile;

use super::FilePatch;

/// Why the patches could not be written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WriteError {
    #[error(
        "{file}: changed since portgate read it; nothing was written (run portgate again on the current files)"
    )]
    Changed { file: String },
    #[error("{file}: cannot write: {message}; nothing was written")]
    Io { file: String, message: String },
    /// A rename failed after others succeeded: those files hold the patch, the rest do not.
    #[error("{file}: cannot write: {message}; already written: {written}")]
    Partial {
        file: String,
        message: String,
        written: String,
    },
}

/// Writes every patched file; checks all of them before writing any, and writes all of them
/// to temporary files before replacing any. Returns the paths written, relative to the source
/// directory.
pub fn write_files(patches: &[FilePatch]) -> Result<Vec<String>, WriteError> {
    let io_error = |patch: &FilePatch, e: std::io::Error| WriteError::Io {
        file: patch.path.display().to_string(),
        message: e.to_string(),
    };
    for patch in patches {
        let current = std::fs::read(&patch.path).map_err(|e| io_error(patch, e))?;
        if current != patch.original.as_bytes() {
            return Err(WriteError::Changed {
                file: patch.path.display().to_string(),
            });
        }
    }
    // Phase 1. On an error the temporary files prepared so far are dropped, which deletes them.
    let mut prepared = Vec::with_capacity(patches.len());
    for patch in patches {
        prepared.push(prepare(patch).map_err(|e| io_error(patch, e))?);
    }
    // Phase 2.
    let mut written: Vec<String> = Vec::with_capacity(patches.len());
    for (patch, temp) in patches.iter().zip(prepared) {
        if let Err(e) = temp.persist(&patch.path) {
            let file = patch.path.display().to_string();
            let message = e.error.to_string();
            return Err(if written.is_empty() {
                WriteError::Io { file, message }
            } else {
                WriteError::Partial {
                    file,
                    message,
                    written: written.join(", "),
                }
            });
        }
        written.push(patch.rel.clone());
    }
    let directories: std::collections::BTreeSet<&Path> =
        patches.iter().map(|p| directory(&p.path)).collect();
    for dir in directories {
        sync_dir(dir);
    }
    Ok(written)
}

fn directory(path: &Path) -> &Path {
    path.parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

/// Writes the patched content of one file to a flushed temporary file beside it.
fn prepare(patch: &FilePatch) -> std::io::Result<NamedTempFile> {
    let permissions = std::fs::metadata(&patch.path)?.permissions();
    let mut temp = tempfile::Builder::new()
        .prefix(".portgate-")
        .suffix(".tmp")
        .tempfile_in(directory(&patch.path))?;
    temp.write_all(patch.patched().as_bytes())?;
    temp.as_file().set_permissions(permissions)?;
    temp.as_file().sync_all()?;
    Ok(temp)
}

/// Flushes a directory so a rename in it survives a power loss. Best effort: the rename has
/// happened either way, and some file systems refuse to sync a directory.
fn sync_dir(dir: &Path) {
    #[cfg(unix)]
    if let Ok(handle) = std::fs::File::open(dir) {
        let _ = handle.sync_all();
    }
    #[cfg(not(unix))]
    let _ = dir;
}
