//! A TOML file portgate reads (`portgate.toml`, a policy file) that cannot be used: the error
//! names the file, and the line and column when they are known. Below both readers, so that
//! policies (a stage) do not reach up into the settings (beside the gate) for it.

use serde::de::DeserializeOwned;

/// A TOML file (settings or policy) that cannot be used, at the place in it that is wrong
/// when that is known.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FileError {
    #[error("{file}:{line}:{column}: {message}")]
    At {
        file: String,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{file}: {message}")]
    File { file: String, message: String },
}

impl FileError {
    /// An error at byte `offset` of `text`, the contents of `file`.
    pub fn at(text: &str, file: &str, offset: usize, message: String) -> FileError {
        let (line, column) = crate::plan::line_column(text, offset);
        FileError::At {
            file: file.to_string(),
            line,
            column,
            message,
        }
    }
}

/// Parses TOML into `T`; an error names `file`, the line and column when known, and says what
/// is wrong in one line.
pub(crate) fn parse_toml<T: DeserializeOwned>(text: &str, file: &str) -> Result<T, FileError> {
    toml::from_str(text).map_err(|e| {
        let message = e.message().trim().replace('\n', " ");
        match e.span() {
            Some(span) => FileError::at(text, file, span.start, message),
            None => FileError::File {
                file: file.to_string(),
                message,
            },
        }
    })
}
