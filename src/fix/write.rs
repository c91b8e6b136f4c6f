//! `--write`: applying the combined patch to the files, safely.
//!
//! A file is written only if it still holds exactly the bytes the edits were computed against
//! (otherwise someone changed it since, and the edits may land in the wrong place). Each file
//! is written to a temporary file in the same directory and renamed over the original, so a
//! crash or a full disk never leaves a half-written `.tf` file.

use std::io::Write;

use super::FilePatch;

/// Why the patches could not be written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WriteError {
    #[error(
        "{file}: changed since portgate read it; nothing was written (run portgate again on the current files)"
    )]
    Changed { file: String },
    #[error("{file}: cannot write: {message}")]
    Io { file: String, message: String },
}

/// Writes every patched file; checks all of them before writing any. Returns the paths written,
/// relative to the source directory.
pub fn write_files(patches: &[FilePatch]) -> Result<Vec<String>, WriteError> {
    for patch in patches {
        let current = std::fs::read(&patch.path).map_err(|e| WriteError::Io {
            file: patch.path.display().to_string(),
            message: e.to_string(),
        })?;
        if current != patch.original.as_bytes() {
            return Err(WriteError::Changed {
                file: patch.path.display().to_string(),
            });
        }
    }
    let mut written = Vec::new();
    for patch in patches {
        write_atomically(patch).map_err(|e| WriteError::Io {
            file: patch.path.display().to_string(),
            message: e.to_string(),
        })?;
        written.push(patch.rel.clone());
    }
    Ok(written)
}

fn write_atomically(patch: &FilePatch) -> std::io::Result<()> {
    let dir = patch
        .path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."));
    let permissions = std::fs::metadata(&patch.path)?.permissions();
    let mut temp = tempfile::NamedTempFile::new_in(dir)?;
    temp.write_all(patch.patched().as_bytes())?;
    temp.as_file().sync_all()?;
    temp.as_file().set_permissions(permissions)?;
    temp.persist(&patch.path).map_err(|e| e.error)?;
    Ok(())
}
