//! The progress bar of a long `check` or `audit`: inputs done and bytes read, on stderr.
//!
//! Shown only where a person watches it: stderr is a terminal and the environment is not CI
//! (`CI` is set by GitHub Actions, GitLab, Jenkins' plugins, Buildkite, CircleCI and most
//! others), and only once the run has taken about a second, so quick runs never flicker. It
//! never writes to stdout, and it is cleared before the report is written.

use std::io::Read;
use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::Terminal;

/// How long a run goes before its progress is shown.
const QUIET_FOR: Duration = Duration::from_secs(1);

pub(super) struct Progress {
    /// `None` when progress is not shown.
    bar: Option<ProgressBar>,
    inputs: usize,
    done: AtomicUsize,
    /// Dropping it (at [`Progress::finish`]) tells the thread that shows the bar to stop.
    stop: Mutex<Option<mpsc::Sender<()>>>,
    shower: Mutex<Option<std::thread::JoinHandle<()>>>,
}

impl Progress {
    /// Starts counting a run over `paths`; the bar appears after [`QUIET_FOR`] when the
    /// terminal wants it.
    pub(super) fn start(paths: &[PathBuf], terminal: &Terminal) -> Progress {
        let mut progress = Progress {
            bar: None,
            inputs: paths.len(),
            done: AtomicUsize::new(0),
            stop: Mutex::new(None),
            shower: Mutex::new(None),
        };
        if !terminal.show_progress {
            return progress;
        }
        let total: u64 = paths
            .iter()
            .filter_map(|p| std::fs::metadata(p).ok())
            .map(|m| m.len())
            .sum();
        let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::hidden());
        if let Ok(style) = ProgressStyle::with_template(
            "{spinner} {msg} [{wide_bar}] {bytes}/{total_bytes} ({bytes_per_sec}, {eta})",
        ) {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.set_message(format!("0/{} inputs", paths.len()));
        let (tx, rx) = mpsc::channel::<()>();
        let shown = bar.clone();
        let shower = std::thread::spawn(move || {
            if let Err(mpsc::RecvTimeoutError::Timeout) = rx.recv_timeout(QUIET_FOR) {
                shown.set_draw_target(ProgressDrawTarget::stderr());
                shown.enable_steady_tick(Duration::from_millis(100));
                // Until the run ends (the sender is dropped).
                let _ = rx.recv();
            }
        });
        *progress.stop.get_mut().unwrap_or_else(|e| e.into_inner()) = Some(tx);
        *progress.shower.get_mut().unwrap_or_else(|e| e.into_inner()) = Some(shower);
        progress.bar = Some(bar);
        progress
    }

    /// Whether a bar is kept (it is drawn once the run has taken [`QUIET_FOR`]).
    #[cfg(test)]
    pub(super) fn is_shown(&self) -> bool {
        self.bar.is_some()
    }

    /// `reader`, counting what is read from it.
    pub(super) fn reader<R: Read>(&self, reader: R) -> Counting<R> {
        Counting {
            inner: reader,
            bar: self.bar.clone(),
        }
    }

    /// One more input has been read.
    pub(super) fn input_done(&self) {
        let done = self.done.fetch_add(1, Ordering::Relaxed) + 1;
        if let Some(bar) = &self.bar {
            bar.set_message(format!("{done}/{} inputs", self.inputs));
        }
    }

    /// Stops and clears the bar (before the report is written).
    pub(super) fn finish(&self) {
        drop(self.stop.lock().unwrap_or_else(|e| e.into_inner()).take());
        if let Some(shower) = self.shower.lock().unwrap_or_else(|e| e.into_inner()).take() {
            let _ = shower.join();
        }
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

/// A reader that adds what it reads to the progress bar.
pub(super) struct Counting<R> {
    inner: R,
    bar: Option<ProgressBar>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Some(bar) = &self.bar {
            bar.inc(n as u64);
        }
        Ok(n)
    }
}
