//! Unpacking a configuration version tarball (what `configuration_version_download_url` serves)
//! into a directory, safely.
//!
//! The archive comes from the network, so every entry is checked here instead of trusting
//! `tar::Archive::unpack`:
//!
//! * Paths must be relative and plain: no leading `/`, no `..`, no backslash, no `:` (drive
//!   letters, alternate data streams), no NUL; `.` and empty components are dropped. One unsafe
//!   path rejects the whole archive.
//! * Only regular files and directories are created. Symlinks, hard links, devices, FIFOs and
//!   unknown entry types are skipped (and logged), so the tree never holds a link we made.
//!   GNU sparse files are rejected (a few bytes of header can describe gigabytes of holes).
//! * Nothing already in the destination is followed or overwritten: each parent directory is
//!   checked with `symlink_metadata` (a symlink or a file there is an error) and files are
//!   opened with `create_new` (`O_CREAT | O_EXCL`, which fails on an existing name, symlink or
//!   not). A name that appears twice is an error.
//! * Files are created `0644`, or `0755` when the archive marks them executable, directories
//!   `0755` (the umask can only lower these); no owner, setuid, setgid or sticky bit is taken
//!   from the archive.
//! * Limits: the number of entries, each file's size (the header's claim is checked before
//!   anything is written, and the bytes really written are counted too), and the total size. The
//!   decompressed stream itself is metered, headers, skipped bodies and trailing data included,
//!   so a decompression bomb stops when the budget is spent rather than after writing it out;
//!   the data between two entries (headers, long names, PAX records) is capped at 1 MiB so a
//!   forged long name cannot make the `tar` crate buffer the budget in memory.
//!
//! On error the destination may hold part of the tree: callers unpack into a fresh temporary
//! directory and drop it.

use std::cell::Cell;
use std::collections::HashSet;
use std::fs;
use std::io::{self, Read, Write};
use std::path::{Component, Path, PathBuf};

use flate2::read::MultiGzDecoder;
use tar::{Archive, EntryType};

/// What an archive may hold before [`unpack`] gives up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Most bytes of file content the archive may expand to, all files together.
    pub max_total_bytes: u64,
    /// Most entries the archive may hold: files, directories and skipped entries alike.
    pub max_files: usize,
    /// Most bytes one file may hold.
    pub max_file_bytes: u64,
}

impl Default for Limits {
    /// 256 MiB in all, 20 000 entries, 64 MiB per file: far above any Terraform configuration.
    fn default() -> Limits {
        Limits {
            max_total_bytes: 256 * 1024 * 1024,
            max_files: 20_000,
            max_file_bytes: 64 * 1024 * 1024,
        }
    }
}

/// What [`unpack`] wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Unpacked {
    /// Regular files written.
    pub files: usize,
    /// Bytes of file content written.
    pub bytes: u64,
}

/// Why an archive was not unpacked. Paths from the archive are escaped, so every message is one
/// line, and the only paths a message names are the archive's own: it goes to HCP Terraform,
/// which must not learn where the service keeps its files.
#[derive(Debug, thiserror::Error)]
pub enum TarballError {
    #[error("not a readable tar or tar.gz archive: {0}")]
    Corrupt(String),
    #[error("unsafe path in archive: {path} {reason}")]
    UnsafePath { path: String, reason: &'static str },
    #[error("unsupported entry in archive: {path} is a {kind}")]
    Unsupported { path: String, kind: &'static str },
    #[error("archive holds more than {limit} entries")]
    TooManyFiles { limit: usize },
    #[error("archive entry {path} is larger than the limit of {limit} bytes per file")]
    FileTooLarge { path: String, limit: u64 },
    #[error("archive expands to more than the limit of {limit} bytes")]
    TooLarge { limit: u64 },
    #[error("archive entry {path} collides with an existing path: {reason}")]
    Conflict { path: String, reason: &'static str },
    #[error("cannot write {path}: {message}")]
    Io { path: String, message: String },
    #[error("cannot create the directory to unpack into: {0}")]
    Destination(String),
}

/// Most bytes the `tar` crate may read between two entries: the rest of the previous entry's
/// last block, the next header and any GNU long name, long link, PAX or sparse records.
const MAX_METADATA_BYTES: u64 = 1024 * 1024;

/// Bytes of the decompressed stream allowed per entry on top of file content: a header, its
/// padding and typical PAX or long-name records.
const STREAM_BYTES_PER_ENTRY: u64 = 4096;

/// Unpacks the `.tar.gz` (or plain `.tar`) read from `input` into `dest`, creating `dest` if
/// needed.
///
/// Returns how many files and bytes were written. See the module documentation for what is
/// refused and what is skipped. Nothing is ever created outside `dest`.
pub fn unpack(input: impl Read, dest: &Path, limits: &Limits) -> Result<Unpacked, TarballError> {
    // Read as it is unpacked (a job spools the download to a file): the archive is never
    // held in memory.
    let mut input = io::BufReader::new(input);
    let start = io::BufRead::fill_buf(&mut input)
        .map_err(|e| TarballError::Corrupt(one_line(&e.to_string())))?;
    if start.is_empty() {
        return Err(TarballError::Corrupt("the input is empty".to_string()));
    }
    let gzip = start.starts_with(&[0x1f, 0x8b]);
    let destination = |message: String| {
        tracing::error!(dir = %dest.display(), error = %message, "cannot create the directory to unpack into");
        TarballError::Destination(message)
    };
    fs::create_dir_all(dest).map_err(|e| destination(e.to_string()))?;
    if !fs::metadata(dest)
        .map_err(|e| destination(e.to_string()))?
        .is_dir()
    {
        return Err(destination("not a directory".to_string()));
    }

    let meter = Meter::new(stream_budget(limits));
    let source: Box<dyn Read + '_> = if gzip {
        Box::new(MultiGzDecoder::new(input))
    } else {
        Box::new(input)
    };
    let mut archive = Archive::new(Metered {
        inner: source,
        meter: &meter,
    });

    let mut unpacker = Unpacker {
        dest,
        limits,
        known_dirs: HashSet::new(),
        done: Unpacked::default(),
        entries: 0,
        skipped: 0,
    };
    // The entries borrow the archive; the block ends that borrow before `into_inner`.
    {
        let mut entries = archive
            .entries()
            .map_err(|e| meter.read_error(limits, &e))?;
        loop {
            meter.window.set(Some(MAX_METADATA_BYTES));
            let next = entries.next();
            meter.window.set(None);
            let Some(entry) = next else { break };
            let entry = entry.map_err(|e| meter.read_error(limits, &e))?;
            unpacker.entry(entry, &meter)?;
        }
    }

    // Read whatever follows the end-of-archive marker: for gzip this checks the trailer (a
    // truncated download fails here), and trailing garbage still counts against the budget.
    let mut rest = archive.into_inner();
    io::copy(&mut rest, &mut io::sink()).map_err(|e| meter.read_error(limits, &e))?;

    if unpacker.skipped > 0 {
        tracing::info!(
            skipped = unpacker.skipped,
            "configuration tarball: skipped links and special files"
        );
    }
    Ok(unpacker.done)
}

fn stream_budget(limits: &Limits) -> u64 {
    let entries = u64::try_from(limits.max_files).unwrap_or(u64::MAX);
    limits.max_total_bytes.saturating_add(
        entries
            .saturating_add(2)
            .saturating_mul(STREAM_BYTES_PER_ENTRY)
            .saturating_add(MAX_METADATA_BYTES),
    )
}

struct Unpacker<'a> {
    dest: &'a Path,
    limits: &'a Limits,
    /// Directories under `dest` known to be real directories (created or checked by us).
    known_dirs: HashSet<PathBuf>,
    done: Unpacked,
    entries: usize,
    skipped: usize,
}

impl Unpacker<'_> {
    fn entry<R: Read>(
        &mut self,
        mut entry: tar::Entry<'_, R>,
        meter: &Meter,
    ) -> Result<(), TarballError> {
        self.entries += 1;
        if self.entries > self.limits.max_files {
            return Err(TarballError::TooManyFiles {
                limit: self.limits.max_files,
            });
        }
        let raw = entry.path_bytes().into_owned();
        let shown = shown(&raw);
        let kind = entry.header().entry_type();

        let is_file = matches!(kind, EntryType::Regular | EntryType::Continuous);
        // A v7 header has no directory type: a "file" whose name ends in '/' is a directory.
        let is_dir =
            kind == EntryType::Directory || (is_file && raw.ends_with(b"/") && entry.size() == 0);
        if !is_file && !is_dir {
            return self.skip(entry, kind, &shown, meter);
        }

        let relative = safe_relative_path(&raw).map_err(|reason| TarballError::UnsafePath {
            path: shown.clone(),
            reason,
        })?;
        if is_dir {
            if let Some(relative) = relative {
                self.make_dirs(&relative, &shown)?;
            }
            // A directory has no body; if the header claims one, it goes through the meter.
            io::copy(&mut entry, &mut io::sink()).map_err(|e| meter.read_error(self.limits, &e))?;
            return Ok(());
        }
        let Some(relative) = relative else {
            return Err(TarballError::UnsafePath {
                path: shown,
                reason: "names no file",
            });
        };
        self.write_file(&mut entry, &relative, &shown, meter)
    }

    fn skip<R: Read>(
        &mut self,
        mut entry: tar::Entry<'_, R>,
        kind: EntryType,
        shown: &str,
        meter: &Meter,
    ) -> Result<(), TarballError> {
        let what = match kind {
            EntryType::GNUSparse => {
                return Err(TarballError::Unsupported {
                    path: shown.to_string(),
                    kind: "GNU sparse file",
                });
            }
            // A PAX global header (`git archive` writes one) holds no file.
            EntryType::XGlobalHeader => None,
            EntryType::Symlink => Some("symlink"),
            EntryType::Link => Some("hard link"),
            EntryType::Char | EntryType::Block => Some("device"),
            EntryType::Fifo => Some("FIFO"),
            _ => Some("entry of an unknown type"),
        };
        if let Some(what) = what {
            self.skipped += 1;
            tracing::debug!(path = shown, kind = what, "configuration tarball: skipped");
        }
        // Its body (normally empty) still goes through the meter.
        io::copy(&mut entry, &mut io::sink()).map_err(|e| meter.read_error(self.limits, &e))?;
        Ok(())
    }

    /// Makes sure `dest/relative` is a real directory, creating what is missing, never going
    /// through a symlink.
    fn make_dirs(&mut self, relative: &Path, shown: &str) -> Result<(), TarballError> {
        let mut path = self.dest.to_path_buf();
        for component in relative.components() {
            path.push(component);
            if self.known_dirs.contains(&path) {
                continue;
            }
            match fs::symlink_metadata(&path) {
                Ok(meta) if meta.is_dir() => {}
                Ok(_) => {
                    return Err(TarballError::Conflict {
                        path: shown.to_string(),
                        reason: "a parent is a file or symlink, not a directory",
                    });
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    create_dir(&path).map_err(|e| io_error(shown, &e))?;
                }
                Err(e) => return Err(io_error(shown, &e)),
            }
            self.known_dirs.insert(path.clone());
        }
        Ok(())
    }

    fn write_file<R: Read>(
        &mut self,
        entry: &mut tar::Entry<'_, R>,
        relative: &Path,
        shown: &str,
        meter: &Meter,
    ) -> Result<(), TarballError> {
        let limits = self.limits;
        let size = entry.size();
        if size > limits.max_file_bytes {
            return Err(TarballError::FileTooLarge {
                path: shown.to_string(),
                limit: limits.max_file_bytes,
            });
        }
        if self.done.bytes.saturating_add(size) > limits.max_total_bytes {
            return Err(TarballError::TooLarge {
                limit: limits.max_total_bytes,
            });
        }
        if let Some(parent) = relative.parent() {
            self.make_dirs(parent, shown)?;
        }
        let path = self.dest.join(relative);
        if self.known_dirs.contains(&path) {
            return Err(TarballError::Conflict {
                path: shown.to_string(),
                reason: "a directory of that name exists",
            });
        }
        let executable = entry.header().mode().is_ok_and(|mode| mode & 0o111 != 0);
        let mut file = create_file(&path, executable).map_err(|e| {
            if e.kind() == io::ErrorKind::AlreadyExists {
                TarballError::Conflict {
                    path: shown.to_string(),
                    reason: "the name is already taken",
                }
            } else {
                io_error(shown, &e)
            }
        })?;

        let mut written: u64 = 0;
        let mut buffer = vec![0u8; 64 * 1024];
        loop {
            let n = match entry.read(&mut buffer) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(meter.read_error(limits, &e)),
            };
            // Count before writing: the header's size is not trusted.
            written += n as u64;
            if written > limits.max_file_bytes {
                return Err(TarballError::FileTooLarge {
                    path: shown.to_string(),
                    limit: limits.max_file_bytes,
                });
            }
            if self.done.bytes.saturating_add(written) > limits.max_total_bytes {
                return Err(TarballError::TooLarge {
                    limit: limits.max_total_bytes,
                });
            }
            file.write_all(&buffer[..n])
                .map_err(|e| io_error(shown, &e))?;
        }
        if written != size {
            return Err(TarballError::Corrupt(format!(
                "{shown} ends after {written} of {size} bytes"
            )));
        }
        self.done.files += 1;
        self.done.bytes += written;
        Ok(())
    }
}

/// The path of an entry as a plain relative path (`Ok(None)` when it names the top directory
/// itself, like `./`), or why it is refused.
fn safe_relative_path(raw: &[u8]) -> Result<Option<PathBuf>, &'static str> {
    if raw.contains(&0) {
        return Err("contains a NUL byte");
    }
    let Ok(text) = std::str::from_utf8(raw) else {
        return Err("is not UTF-8");
    };
    if text.contains('\\') {
        return Err("contains a backslash");
    }
    if text.starts_with('/') {
        return Err("is absolute");
    }
    let mut path = PathBuf::new();
    for part in text.split('/') {
        match part {
            "" | "." => continue,
            ".." => return Err("has a .. component"),
            _ => {}
        }
        if part.contains(':') {
            return Err("contains a colon (drive letter or stream name)");
        }
        // Whatever the platform makes of the name, it must be a single plain component.
        let mut components = Path::new(part).components();
        if !matches!(components.next(), Some(Component::Normal(_))) || components.next().is_some() {
            return Err("is not a plain relative path");
        }
        path.push(part);
    }
    Ok((!path.as_os_str().is_empty()).then_some(path))
}

/// An archive path for messages and logs: escaped (one line, no control characters) and
/// shortened.
fn shown(raw: &[u8]) -> String {
    let text = String::from_utf8_lossy(raw);
    let mut shown: String = text.escape_debug().take(200).collect();
    if text.escape_debug().nth(200).is_some() {
        shown.push('…');
    }
    format!("\"{shown}\"")
}

/// A failed write of the entry `shown` (as [`shown`] made it): named as the archive names it,
/// never by where it was being written.
fn io_error(shown: &str, error: &io::Error) -> TarballError {
    TarballError::Io {
        path: shown.to_string(),
        message: error.to_string(),
    }
}

#[cfg(unix)]
fn create_dir(path: &Path) -> io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    fs::DirBuilder::new().mode(0o755).create(path)
}

#[cfg(not(unix))]
fn create_dir(path: &Path) -> io::Result<()> {
    fs::DirBuilder::new().create(path)
}

/// Opens a new file for writing; fails if the name exists in any form (`O_EXCL` does not
/// follow a symlink in the last component).
fn create_file(path: &Path, executable: bool) -> io::Result<fs::File> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(if executable { 0o755 } else { 0o644 });
    }
    #[cfg(not(unix))]
    let _ = executable;
    options.open(path)
}

/// The budget of decompressed bytes, shared by the reader inside the `tar` archive and the loop
/// that drives it.
struct Meter {
    /// Bytes the whole stream may still yield.
    left: Cell<u64>,
    /// Bytes that may still be read before the next entry is handed out, while the `tar` crate
    /// reads headers; `None` while an entry's body is read.
    window: Cell<Option<u64>>,
    tripped: Cell<Option<Trip>>,
}

#[derive(Clone, Copy)]
enum Trip {
    Total,
    Metadata,
}

impl Meter {
    fn new(budget: u64) -> Meter {
        Meter {
            left: Cell::new(budget),
            window: Cell::new(None),
            tripped: Cell::new(None),
        }
    }

    /// Turns a read error into the right message: a spent budget is not corruption.
    fn read_error(&self, limits: &Limits, error: &io::Error) -> TarballError {
        match self.tripped.get() {
            Some(Trip::Total) => TarballError::TooLarge {
                limit: limits.max_total_bytes,
            },
            Some(Trip::Metadata) => TarballError::Corrupt(format!(
                "more than {MAX_METADATA_BYTES} bytes of headers before one entry"
            )),
            None => TarballError::Corrupt(one_line(&error.to_string())),
        }
    }
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A reader that fails once the [`Meter`] is spent (and there is more to read).
struct Metered<'m, R> {
    inner: R,
    meter: &'m Meter,
}

impl<R: Read> Read for Metered<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        let meter = self.meter;
        let window = meter.window.get();
        let allowed = window.map_or(meter.left.get(), |w| w.min(meter.left.get()));
        if allowed == 0 {
            // Spent: fine if the stream ends here, an error if it does not.
            let mut probe = [0u8; 1];
            return match self.inner.read(&mut probe)? {
                0 => Ok(0),
                _ => {
                    let trip = if meter.left.get() == 0 {
                        Trip::Total
                    } else {
                        Trip::Metadata
                    };
                    meter.tripped.set(Some(trip));
                    Err(io::Error::other("decompressed size limit reached"))
                }
            };
        }
        let take = usize::try_from(allowed)
            .unwrap_or(usize::MAX)
            .min(buf.len());
        let n = self.inner.read(&mut buf[..take])?;
        meter.left.set(meter.left.get() - n as u64);
        if let Some(w) = window {
            meter.window.set(Some(w - n as u64));
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::Compression;
    use flate2::write::GzEncoder;
    use proptest::prelude::*;
    use tar::{Builder, Header};

    /// A temporary root holding `dest` (where archives are unpacked) and `outside`, a sibling that
    /// must stay empty.
    struct Fixture {
        root: tempfile::TempDir,
        dest: PathBuf,
        outside: PathBuf,
    }

    impl Fixture {
        fn new() -> Fixture {
            let root = tempfile::tempdir().unwrap();
            let dest = root.path().join("dest");
            let outside = root.path().join("outside");
            fs::create_dir(&dest).unwrap();
            fs::create_dir(&outside).unwrap();
            Fixture {
                root,
                dest,
                outside,
            }
        }

        fn unpack(&self, bytes: &[u8], limits: &Limits) -> Result<Unpacked, TarballError> {
            unpack(bytes, &self.dest, limits)
        }

        /// Nothing but `dest` and an empty `outside` in the root, and no symlink in `dest`.
        fn assert_contained(&self) {
            let mut names: Vec<_> = fs::read_dir(self.root.path())
                .unwrap()
                .map(|e| e.unwrap().file_name().into_string().unwrap())
                .collect();
            names.sort();
            assert_eq!(names, ["dest", "outside"]);
            assert_eq!(fs::read_dir(&self.outside).unwrap().count(), 0);
            for path in walk(&self.dest) {
                let meta = fs::symlink_metadata(&path).unwrap();
                assert!(!meta.file_type().is_symlink(), "{path:?} is a symlink");
            }
        }

        fn read(&self, relative: &str) -> String {
            fs::read_to_string(self.dest.join(relative)).unwrap()
        }
    }

    fn walk(dir: &Path) -> Vec<PathBuf> {
        let mut found = Vec::new();
        for entry in fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if fs::symlink_metadata(&path).unwrap().is_dir() {
                found.extend(walk(&path));
            }
            found.push(path);
        }
        found
    }

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
        encoder.write_all(bytes).unwrap();
        encoder.finish().unwrap()
    }

    /// A tar built with the `tar` crate's checks bypassed: the name and link name bytes go into
    /// the GNU header as they are.
    struct RawTar {
        builder: Option<Builder<Vec<u8>>>,
    }

    impl RawTar {
        fn new() -> RawTar {
            RawTar {
                builder: Some(Builder::new(Vec::new())),
            }
        }

        fn entry(mut self, name: &[u8], kind: EntryType, link: &[u8], data: &[u8]) -> RawTar {
            let mut header = Header::new_gnu();
            {
                let gnu = header.as_gnu_mut().unwrap();
                gnu.name[..name.len()].copy_from_slice(name);
                gnu.linkname[..link.len()].copy_from_slice(link);
            }
            header.set_entry_type(kind);
            header.set_size(data.len() as u64);
            header.set_mode(if kind == EntryType::Directory {
                0o755
            } else {
                0o644
            });
            header.set_cksum();
            self.builder
                .as_mut()
                .unwrap()
                .append(&header, data)
                .unwrap();
            self
        }

        fn file(self, name: &str, data: &[u8]) -> RawTar {
            self.entry(name.as_bytes(), EntryType::Regular, b"", data)
        }

        fn finish(mut self) -> Vec<u8> {
            self.builder.take().unwrap().into_inner().unwrap()
        }
    }

    fn file_header(size: u64, mode: u32) -> Header {
        let mut header = Header::new_gnu();
        header.set_size(size);
        header.set_mode(mode);
        header.set_entry_type(EntryType::Regular);
        header
    }

    fn normal_tree() -> Vec<u8> {
        let mut builder = Builder::new(Vec::new());
        let mut dir = Header::new_gnu();
        dir.set_entry_type(EntryType::Directory);
        dir.set_mode(0o7777);
        dir.set_size(0);
        builder
            .append_data(&mut dir, "modules/", io::empty())
            .unwrap();
        for (path, body, mode) in [
            (
                "main.tf",
                &b"resource \"aws_security_group\" \"a\" {}\n"[..],
                0o644,
            ),
            ("modules/net/sg.tf", b"variable \"cidr\" {}\n", 0o4777),
            ("./scripts/run.sh", b"#!/bin/sh\n", 0o6755),
            ("terraform.tfvars", b"", 0o600),
        ] {
            let mut header = file_header(body.len() as u64, mode);
            builder.append_data(&mut header, path, body).unwrap();
        }
        // A long name (GNU long-name record) deep in the tree.
        let long = format!("{}/deep.tf", "d".repeat(120));
        let mut header = file_header(3, 0o644);
        builder
            .append_data(&mut header, &long, &b"abc"[..])
            .unwrap();
        builder.into_inner().unwrap()
    }

    #[test]
    fn a_normal_tree_unpacks_with_safe_permissions() {
        let fixture = Fixture::new();
        let done = fixture
            .unpack(&gzip(&normal_tree()), &Limits::default())
            .unwrap();
        assert_eq!(done.files, 5);
        let content = "resource \"aws_security_group\" \"a\" {}\n".len()
            + "variable \"cidr\" {}\n".len()
            + "#!/bin/sh\n".len()
            + "abc".len();
        assert_eq!(
            done.bytes, content as u64,
            "content bytes, headers not included"
        );
        assert!(fixture.read("main.tf").starts_with("resource"));
        assert_eq!(fixture.read("modules/net/sg.tf"), "variable \"cidr\" {}\n");
        assert_eq!(fixture.read("scripts/run.sh"), "#!/bin/sh\n");
        assert_eq!(fixture.read("terraform.tfvars"), "");
        assert_eq!(fixture.read(&format!("{}/deep.tf", "d".repeat(120))), "abc");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |p: &str| {
                fs::metadata(fixture.dest.join(p))
                    .unwrap()
                    .permissions()
                    .mode()
                    & 0o7777
            };
            // Never setuid/setgid/sticky, never more than 0755/0644 (the umask may lower them).
            for (path, most) in [
                ("modules", 0o755),
                ("modules/net", 0o755),
                ("main.tf", 0o644),
                ("modules/net/sg.tf", 0o755),
                ("scripts/run.sh", 0o755),
                ("terraform.tfvars", 0o644),
            ] {
                assert_eq!(mode(path) & !most, 0, "{path}: {:o}", mode(path));
            }
            assert_ne!(
                mode("scripts/run.sh") & 0o100,
                0,
                "executable stays executable"
            );
            assert_eq!(mode("main.tf") & 0o111, 0);
        }
        fixture.assert_contained();
    }

    #[test]
    fn an_uncompressed_tar_is_accepted_and_a_missing_dest_is_created() {
        let fixture = Fixture::new();
        let dest = fixture.dest.join("new/sub");
        let done = unpack(&normal_tree()[..], &dest, &Limits::default()).unwrap();
        assert_eq!(done.files, 5);
        assert!(dest.join("modules/net/sg.tf").is_file());
        fixture.assert_contained();
    }

    #[test]
    fn escaping_paths_are_rejected_and_nothing_lands_outside() {
        let fixture = Fixture::new();
        let absolute_outside = format!("{}/evil", fixture.outside.display());
        for name in [
            "../evil",
            "../outside/evil",
            "a/../../evil",
            "a/../b",
            "/etc/portgate-tarball-test-evil",
            absolute_outside.as_str(),
            "..",
            "C:/evil",
            "C:evil",
            "a/c:evil",
            "..\\outside\\evil",
            "\\outside\\evil",
            "a\\..\\..\\evil",
        ] {
            let tar = RawTar::new()
                .file("ok.tf", b"ok")
                .file(name, b"evil")
                .finish();
            for bytes in [gzip(&tar), tar] {
                let error = fixture.unpack(&bytes, &Limits::default()).unwrap_err();
                assert!(
                    matches!(error, TarballError::UnsafePath { .. }),
                    "{name}: {error}"
                );
                fixture.assert_contained();
                fs::remove_file(fixture.dest.join("ok.tf")).unwrap();
            }
        }
        assert!(!Path::new("/etc/portgate-tarball-test-evil").exists());
        let error = fixture
            .unpack(
                &RawTar::new().file("../evil", b"x").finish(),
                &Limits::default(),
            )
            .unwrap_err();
        assert_eq!(
            error.to_string(),
            "unsafe path in archive: \"../evil\" has a .. component"
        );
    }

    #[test]
    fn a_directory_entry_with_an_escaping_path_is_rejected() {
        let fixture = Fixture::new();
        let tar = RawTar::new()
            .entry(b"../outside/sub/", EntryType::Directory, b"", b"")
            .finish();
        assert!(matches!(
            fixture.unpack(&tar, &Limits::default()),
            Err(TarballError::UnsafePath { .. })
        ));
        fixture.assert_contained();
    }

    #[test]
    fn symlinks_are_skipped_and_a_file_written_through_one_stays_inside() {
        let fixture = Fixture::new();
        let outside = fixture.outside.display().to_string();
        let tar = RawTar::new()
            .entry(b"link", EntryType::Symlink, b"../outside", b"")
            .entry(b"abs", EntryType::Symlink, outside.as_bytes(), b"")
            .entry(b"up", EntryType::Symlink, b"..", b"")
            .file("link/evil.tf", b"one")
            .file("abs/evil.tf", b"two")
            .file("up/outside/evil.tf", b"three")
            .finish();
        let done = fixture.unpack(&gzip(&tar), &Limits::default()).unwrap();
        assert_eq!(done.files, 3);
        // The links were not made, so the names became real directories inside dest.
        assert_eq!(fixture.read("link/evil.tf"), "one");
        assert_eq!(fixture.read("abs/evil.tf"), "two");
        assert_eq!(fixture.read("up/outside/evil.tf"), "three");
        fixture.assert_contained();
    }

    #[test]
    fn hard_links_devices_and_fifos_are_skipped() {
        let fixture = Fixture::new();
        let tar = RawTar::new()
            .file("a.tf", b"a")
            .entry(b"hard", EntryType::Link, b"a.tf", b"")
            .entry(b"passwd", EntryType::Link, b"/etc/passwd", b"")
            .entry(b"escape", EntryType::Link, b"../outside/x", b"")
            .entry(b"null", EntryType::Char, b"", b"")
            .entry(b"disk", EntryType::Block, b"", b"")
            .entry(b"pipe", EntryType::Fifo, b"", b"")
            .entry(b"odd", EntryType::new(b'Z'), b"", b"")
            .finish();
        let done = fixture.unpack(&tar, &Limits::default()).unwrap();
        assert_eq!(done, Unpacked { files: 1, bytes: 1 });
        let names: Vec<_> = fs::read_dir(&fixture.dest)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["a.tf"]);
        fixture.assert_contained();
    }

    #[test]
    #[cfg(unix)]
    fn existing_symlinks_in_dest_are_never_followed() {
        let fixture = Fixture::new();
        std::os::unix::fs::symlink(&fixture.outside, fixture.dest.join("dir")).unwrap();
        std::os::unix::fs::symlink(fixture.outside.join("target"), fixture.dest.join("file.tf"))
            .unwrap();

        let through_dir = RawTar::new().file("dir/evil.tf", b"x").finish();
        assert!(matches!(
            fixture.unpack(&through_dir, &Limits::default()),
            Err(TarballError::Conflict { .. })
        ));
        let dir_entry = RawTar::new()
            .entry(b"dir/sub/", EntryType::Directory, b"", b"")
            .finish();
        assert!(matches!(
            fixture.unpack(&dir_entry, &Limits::default()),
            Err(TarballError::Conflict { .. })
        ));
        let onto_link = RawTar::new().file("file.tf", b"x").finish();
        assert!(matches!(
            fixture.unpack(&onto_link, &Limits::default()),
            Err(TarballError::Conflict { .. })
        ));
        assert_eq!(fs::read_dir(&fixture.outside).unwrap().count(), 0);
    }

    #[test]
    fn a_name_that_appears_twice_is_refused() {
        let fixture = Fixture::new();
        let tar = RawTar::new()
            .file("a.tf", b"first")
            .file("./a.tf", b"second")
            .finish();
        assert!(matches!(
            fixture.unpack(&tar, &Limits::default()),
            Err(TarballError::Conflict { .. })
        ));
        assert_eq!(fixture.read("a.tf"), "first");

        let fixture = Fixture::new();
        let tar = RawTar::new()
            .entry(b"m/", EntryType::Directory, b"", b"")
            .file("m", b"file over dir")
            .finish();
        assert!(matches!(
            fixture.unpack(&tar, &Limits::default()),
            Err(TarballError::Conflict { .. })
        ));
    }

    #[test]
    fn too_many_entries_is_an_error() {
        let fixture = Fixture::new();
        let mut tar = RawTar::new();
        for i in 0..11 {
            tar = tar.file(&format!("f{i}.tf"), b"x");
        }
        let limits = Limits {
            max_files: 10,
            ..Limits::default()
        };
        let error = fixture.unpack(&gzip(&tar.finish()), &limits).unwrap_err();
        assert!(matches!(error, TarballError::TooManyFiles { limit: 10 }));
        assert_eq!(error.to_string(), "archive holds more than 10 entries");
        assert_eq!(fs::read_dir(&fixture.dest).unwrap().count(), 10);

        // Skipped entries count too.
        let fixture = Fixture::new();
        let mut tar = RawTar::new();
        for i in 0..11 {
            tar = tar.entry(format!("l{i}").as_bytes(), EntryType::Symlink, b"x", b"");
        }
        assert!(matches!(
            fixture.unpack(&tar.finish(), &limits),
            Err(TarballError::TooManyFiles { .. })
        ));
    }

    #[test]
    fn a_file_over_the_per_file_limit_is_an_error_before_it_is_written() {
        let fixture = Fixture::new();
        let tar = RawTar::new()
            .file("small.tf", &[b'a'; 100])
            .file("big.tf", &[b'b'; 101])
            .finish();
        let limits = Limits {
            max_file_bytes: 100,
            ..Limits::default()
        };
        let error = fixture.unpack(&gzip(&tar), &limits).unwrap_err();
        assert!(
            matches!(&error, TarballError::FileTooLarge { path, limit: 100 } if path == "\"big.tf\""),
            "{error}"
        );
        assert!(fixture.dest.join("small.tf").exists());
        assert!(!fixture.dest.join("big.tf").exists());
    }

    #[test]
    fn the_total_limit_counts_all_files() {
        let fixture = Fixture::new();
        let mut tar = RawTar::new();
        for i in 0..5 {
            tar = tar.file(&format!("f{i}.tf"), &[b'x'; 300]);
        }
        let limits = Limits {
            max_total_bytes: 1000,
            ..Limits::default()
        };
        assert!(matches!(
            fixture.unpack(&tar.finish(), &limits),
            Err(TarballError::TooLarge { limit: 1000 })
        ));
        let written: u64 = walk(&fixture.dest)
            .iter()
            .map(|p| fs::metadata(p).unwrap().len())
            .sum();
        assert_eq!(written, 900, "the fourth file was refused before writing");
    }

    /// 100 MB of zeros, gzipped (about 100 KB). Built once for the bomb tests.
    fn zeros_bomb() -> &'static [u8] {
        static BOMB: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
        BOMB.get_or_init(|| {
            let size: u64 = 100 * 1000 * 1000;
            let mut encoder = GzEncoder::new(Vec::new(), Compression::fast());
            let mut header = file_header(size, 0o644);
            header.set_path("bomb.tf").unwrap();
            header.set_cksum();
            encoder.write_all(header.as_bytes()).unwrap();
            io::copy(&mut io::repeat(0).take(size), &mut encoder).unwrap();
            encoder.write_all(&[0u8; 1024]).unwrap();
            encoder.finish().unwrap()
        })
    }

    #[test]
    fn a_gzip_bomb_stops_before_it_is_written() {
        let fixture = Fixture::new();
        let bomb = zeros_bomb();
        assert!(bomb.len() < 1_000_000, "{} bytes", bomb.len());
        let limits = Limits {
            max_total_bytes: 1024 * 1024,
            max_file_bytes: u64::MAX,
            ..Limits::default()
        };
        let error = fixture.unpack(bomb, &limits).unwrap_err();
        assert!(matches!(error, TarballError::TooLarge { .. }), "{error}");
        assert!(!fixture.dest.join("bomb.tf").exists());
        fixture.assert_contained();

        // With only the per-file limit in the way, the same.
        let limits = Limits {
            max_file_bytes: 1024 * 1024,
            ..Limits::default()
        };
        assert!(matches!(
            fixture.unpack(bomb, &limits),
            Err(TarballError::FileTooLarge { .. })
        ));
        fixture.assert_contained();
    }

    #[test]
    fn a_bomb_of_many_small_files_stops_at_the_total() {
        let fixture = Fixture::new();
        let mut encoder = GzEncoder::new(Vec::new(), Compression::fast());
        let mut builder = Builder::new(&mut encoder);
        for i in 0..100 {
            let mut header = file_header(1_000_000, 0o644);
            builder
                .append_data(
                    &mut header,
                    format!("f{i}.tf"),
                    io::repeat(0).take(1_000_000),
                )
                .unwrap();
        }
        builder.finish().unwrap();
        drop(builder);
        let bomb = encoder.finish().unwrap();
        assert!(bomb.len() < 1_000_000, "{} bytes", bomb.len());
        let limits = Limits {
            max_total_bytes: 10_000_000,
            ..Limits::default()
        };
        let error = fixture.unpack(&bomb, &limits).unwrap_err();
        assert!(matches!(error, TarballError::TooLarge { .. }), "{error}");
        let written: u64 = walk(&fixture.dest)
            .iter()
            .map(|p| fs::metadata(p).unwrap().len())
            .sum();
        assert_eq!(
            written, 10_000_000,
            "ten files, then the eleventh is refused"
        );
        fixture.assert_contained();
    }

    #[test]
    fn bombs_in_skipped_bodies_trailing_data_or_long_names_stop_at_the_budget() {
        let limits = Limits {
            max_total_bytes: 1024 * 1024,
            max_files: 10,
            max_file_bytes: 1024 * 1024,
        };
        let size: u64 = 20 * 1000 * 1000;
        let stream = |kind: EntryType, trailing: u64| {
            let mut encoder = GzEncoder::new(Vec::new(), Compression::fast());
            let mut header = file_header(size, 0o644);
            header.set_entry_type(kind);
            header.set_path("x").unwrap();
            header.set_cksum();
            encoder.write_all(header.as_bytes()).unwrap();
            io::copy(&mut io::repeat(b'a').take(size), &mut encoder).unwrap();
            encoder.write_all(&[0u8; 1024]).unwrap();
            io::copy(&mut io::repeat(0).take(trailing), &mut encoder).unwrap();
            encoder.finish().unwrap()
        };
        for (kind, expect_too_large) in [
            (EntryType::Symlink, true),
            (EntryType::Fifo, true),
            // A 50 MB GNU long name: stopped by the 1 MiB cap between entries.
            (EntryType::GNULongName, false),
            (EntryType::XHeader, false),
        ] {
            let fixture = Fixture::new();
            let error = fixture.unpack(&stream(kind, 0), &limits).unwrap_err();
            if expect_too_large {
                assert!(matches!(error, TarballError::TooLarge { .. }), "{error}");
            } else {
                assert!(matches!(error, TarballError::Corrupt(_)), "{error}");
            }
            fixture.assert_contained();
        }

        // Zeros after the end of the archive.
        let fixture = Fixture::new();
        let mut encoder = GzEncoder::new(Vec::new(), Compression::fast());
        encoder
            .write_all(&RawTar::new().file("a.tf", b"a").finish())
            .unwrap();
        io::copy(&mut io::repeat(0).take(size), &mut encoder).unwrap();
        let error = fixture
            .unpack(&encoder.finish().unwrap(), &limits)
            .unwrap_err();
        assert!(matches!(error, TarballError::TooLarge { .. }), "{error}");
    }

    #[test]
    fn an_archive_that_fills_the_budget_exactly_passes() {
        let fixture = Fixture::new();
        let tar = RawTar::new().file("a.tf", &[b'a'; 1000]).finish();
        let limits = Limits {
            max_total_bytes: 1000,
            max_files: 1,
            max_file_bytes: 1000,
        };
        assert_eq!(
            fixture.unpack(&gzip(&tar), &limits).unwrap(),
            Unpacked {
                files: 1,
                bytes: 1000
            }
        );
    }

    #[test]
    fn truncated_or_garbage_input_is_an_error() {
        let tar = normal_tree();
        let gz = gzip(&tar);
        let mut inputs: Vec<Vec<u8>> = vec![
            Vec::new(),
            b"not a tarball".to_vec(),
            vec![0x1f, 0x8b],
            vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 1, 2, 3],
            vec![0xff; 2048],
            tar[..700].to_vec(),
            tar[..511].to_vec(),
        ];
        for cut in [10, 20, gz.len() / 2, gz.len() - 4, gz.len() - 1] {
            inputs.push(gz[..cut].to_vec());
        }
        // A corrupted checksum.
        let mut bad = tar.clone();
        bad[0] ^= 1;
        inputs.push(bad);
        for (i, input) in inputs.iter().enumerate() {
            let fixture = Fixture::new();
            match fixture.unpack(input, &Limits::default()) {
                Err(TarballError::Corrupt(message)) => {
                    assert!(!message.contains('\n'), "{message}");
                }
                other => panic!("input {i}: {other:?}"),
            }
            fixture.assert_contained();
        }
    }

    #[test]
    fn a_file_cut_short_inside_a_plain_tar_is_an_error() {
        let tar = RawTar::new().file("a.tf", &[b'a'; 2000]).finish();
        let fixture = Fixture::new();
        let error = fixture
            .unpack(&tar[..512 + 1000], &Limits::default())
            .unwrap_err();
        assert_eq!(
            error.to_string(),
            "not a readable tar or tar.gz archive: \"a.tf\" ends after 1000 of 2000 bytes"
        );
    }

    #[test]
    fn paths_are_checked_component_by_component() {
        let ok = |raw: &str| safe_relative_path(raw.as_bytes()).unwrap();
        assert_eq!(ok("a/b.tf"), Some(PathBuf::from("a/b.tf")));
        assert_eq!(ok("./a//./b.tf/"), Some(PathBuf::from("a/b.tf")));
        assert_eq!(ok("..a/b..c/.d"), Some(PathBuf::from("..a/b..c/.d")));
        assert_eq!(ok("./"), None);
        assert_eq!(ok(""), None);
        for bad in [
            "/a",
            "../a",
            "a/..",
            "a/../b",
            "C:\\a",
            "C:a",
            "a\\b",
            "a/b:c",
            "\\\\host\\share",
        ] {
            assert!(safe_relative_path(bad.as_bytes()).is_err(), "{bad}");
        }
        assert!(safe_relative_path(b"a\0b").is_err());
        assert!(safe_relative_path(b"\xff.tf").is_err());
    }

    #[test]
    fn messages_escape_what_the_archive_says() {
        let fixture = Fixture::new();
        let tar = RawTar::new().file("../x\ny", b"").finish();
        let message = fixture
            .unpack(&tar, &Limits::default())
            .unwrap_err()
            .to_string();
        assert_eq!(
            message,
            "unsafe path in archive: \"../x\\ny\" has a .. component"
        );
    }

    /// Names built from pieces that make trouble.
    fn tricky_name() -> impl Strategy<Value = Vec<u8>> {
        let piece = prop::sample::select(vec![
            "a", "b", "..", ".", "", "/", "C:", "\\", "link", "dir", "x.tf",
        ]);
        prop::collection::vec(piece, 1..6).prop_map(|pieces| pieces.join("/").into_bytes())
    }

    fn tricky_entry() -> impl Strategy<Value = (Vec<u8>, EntryType, Vec<u8>, Vec<u8>)> {
        let kind = prop::sample::select(vec![
            EntryType::Regular,
            EntryType::Directory,
            EntryType::Symlink,
            EntryType::Link,
            EntryType::Fifo,
        ]);
        (
            tricky_name(),
            kind,
            tricky_name(),
            prop::collection::vec(any::<u8>(), 0..64),
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn arbitrary_bytes_never_panic_or_escape(
            bytes in prop::collection::vec(any::<u8>(), 0..4096),
            gzipped in any::<bool>(),
        ) {
            let fixture = Fixture::new();
            let input = if gzipped { gzip(&bytes) } else { bytes };
            let _ = fixture.unpack(&input, &Limits::default());
            fixture.assert_contained();
        }

        #[test]
        fn arbitrary_bytes_after_a_valid_header_never_panic_or_escape(
            tail in prop::collection::vec(any::<u8>(), 0..4096),
        ) {
            let fixture = Fixture::new();
            let mut input = RawTar::new().file("a.tf", b"ok").finish();
            input.truncate(1024);
            input.extend(tail);
            let _ = fixture.unpack(&input, &Limits::default());
            fixture.assert_contained();
        }

        #[test]
        fn tricky_entries_never_escape(
            entries in prop::collection::vec(tricky_entry(), 1..8),
            gzipped in any::<bool>(),
        ) {
            let fixture = Fixture::new();
            let mut tar = RawTar::new();
            for (name, kind, link, data) in &entries {
                let data: &[u8] = if *kind == EntryType::Regular { data } else { b"" };
                tar = tar.entry(name, *kind, link, data);
            }
            let tar = tar.finish();
            let input = if gzipped { gzip(&tar) } else { tar };
            let _ = fixture.unpack(&input, &Limits::default());
            fixture.assert_contained();
        }
    }
}
