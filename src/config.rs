//! `portgate.toml`: settings a project keeps next to its Terraform code.
//!
//! Found in the current directory, or named with `--config`. Today it holds the trusted CIDRs
//! that suggested patches put in place of the world; errors point at the file, line and column
//! of the bad key, like policy files.

use std::path::{Path, PathBuf};

use ipnet::IpNet;
use serde::Deserialize;
use serde::de::DeserializeOwned;

/// The file name looked for in the current directory.
pub const FILE_NAME: &str = "portgate.toml";

/// A settings file that cannot be used, or a bad setting given on the command line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("{file}:{line}:{column}: {message}")]
    At {
        file: String,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{file}: {message}")]
    File { file: String, message: String },
    #[error("{flag} {value}: {message}")]
    Flag {
        flag: &'static str,
        value: String,
        message: String,
    },
}

/// Project settings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProjectConfig {
    /// The file they were read from, if any.
    pub path: Option<PathBuf>,
    pub trusted_cidrs: Vec<TrustedCidr>,
}

/// A network trusted to reach NetBIOS/SMB, put in place of `0.0.0.0/0` or `::/0` by fixes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustedCidr {
    pub net: IpNet,
}

impl TrustedCidr {
    /// Parses a trusted CIDR. The world (`/0`) is refused, and so is a CIDR with host bits set,
    /// which AWS would not store as written.
    pub fn parse(text: &str) -> Result<TrustedCidr, String> {
        let net: IpNet = text
            .trim()
            .parse()
            .map_err(|_| "not a CIDR (expected e.g. 10.0.0.0/8 or 2001:db8::/32)".to_string())?;
        if net.prefix_len() == 0 {
            return Err(
                "the world cannot be trusted; give the networks that need access (e.g. 10.0.0.0/8)"
                    .to_string(),
            );
        }
        if net.trunc() != net {
            return Err(format!("host bits are set; did you mean {}?", net.trunc()));
        }
        Ok(TrustedCidr { net })
    }

    pub fn is_ipv4(&self) -> bool {
        matches!(self.net, IpNet::V4(_))
    }
}

impl std::fmt::Display for TrustedCidr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.net.fmt(f)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    trusted_cidrs: Vec<toml::Spanned<String>>,
}

impl ProjectConfig {
    /// Reads `explicit` (which must exist), else `portgate.toml` in `dir` when present.
    pub fn load(explicit: Option<&Path>, dir: &Path) -> Result<ProjectConfig, ConfigError> {
        let path = match explicit {
            Some(path) => path.to_path_buf(),
            None => {
                let candidate = dir.join(FILE_NAME);
                if !candidate.is_file() {
                    return Ok(ProjectConfig::default());
                }
                candidate
            }
        };
        let file = path.display().to_string();
        let text = std::fs::read_to_string(&path).map_err(|e| ConfigError::File {
            file: file.clone(),
            message: format!("cannot read config file: {e}"),
        })?;
        let mut config = ProjectConfig::parse(&text, &file)?;
        config.path = Some(path);
        Ok(config)
    }

    /// Parses the text of a config file; `file` names it in errors.
    pub fn parse(text: &str, file: &str) -> Result<ProjectConfig, ConfigError> {
        let raw: RawConfig = parse_toml(text).map_err(|(position, message)| match position {
            Some((line, column)) => ConfigError::At {
                file: file.to_string(),
                line,
                column,
                message,
            },
            None => ConfigError::File {
                file: file.to_string(),
                message,
            },
        })?;
        let mut trusted_cidrs = Vec::new();
        for entry in raw.trusted_cidrs {
            let (line, column) = crate::plan::line_column(text, entry.span().start);
            let cidr = TrustedCidr::parse(entry.get_ref()).map_err(|message| ConfigError::At {
                file: file.to_string(),
                line,
                column,
                message: format!("trusted_cidrs: {:?}: {message}", entry.get_ref()),
            })?;
            trusted_cidrs.push(cidr);
        }
        Ok(ProjectConfig {
            path: None,
            trusted_cidrs,
        })
    }
}

/// Parses TOML into `T`; on error returns the 1-based line/column (when known) and a one-line
/// message.
pub(crate) fn parse_toml<T: DeserializeOwned>(
    text: &str,
) -> Result<T, (Option<(usize, usize)>, String)> {
    toml::from_str(text).map_err(|e| {
        let message = e.message().trim().replace('\n', " ");
        let position = e.span().map(|s| crate::plan::line_column(text, s.start));
        (position, message)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trusted_cidrs_parse_and_refuse_the_world_and_host_bits() {
        assert!(TrustedCidr::parse("10.0.0.0/8").unwrap().is_ipv4());
        assert!(!TrustedCidr::parse("2001:db8::/32").unwrap().is_ipv4());
        assert!(
            TrustedCidr::parse("0.0.0.0/0")
                .unwrap_err()
                .contains("world")
        );
        assert!(TrustedCidr::parse("::/0").unwrap_err().contains("world"));
        assert!(
            TrustedCidr::parse("10.0.0.1/8")
                .unwrap_err()
                .contains("10.0.0.0/8")
        );
        assert!(
            TrustedCidr::parse("10.0.0.0")
                .unwrap_err()
                .contains("not a CIDR")
        );
    }

    #[test]
    fn config_errors_point_at_the_entry() {
        let err = ProjectConfig::parse(
            "trusted_cidrs = [\n  \"10.0.0.0/8\",\n  \"0.0.0.0/0\",\n]\n",
            "p.toml",
        )
        .unwrap_err()
        .to_string();
        assert!(err.starts_with("p.toml:3:3: "), "{err}");
        assert!(err.contains("world"), "{err}");
        let err = ProjectConfig::parse("trusted = []\n", "p.toml")
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("p.toml:1:1: ") && err.contains("trusted_cidrs"),
            "{err}"
        );
    }

    #[test]
    fn a_missing_default_file_is_no_config_but_a_missing_explicit_one_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(
            ProjectConfig::load(None, dir.path()).unwrap(),
            ProjectConfig::default()
        );
        let missing = dir.path().join("nope.toml");
        assert!(ProjectConfig::load(Some(&missing), dir.path()).is_err());
        std::fs::write(
            dir.path().join(FILE_NAME),
            "trusted_cidrs = [\"192.168.0.0/16\"]\n",
        )
        .unwrap();
        let config = ProjectConfig::load(None, dir.path()).unwrap();
        assert_eq!(config.trusted_cidrs[0].to_string(), "192.168.0.0/16");
    }
}
