//! One run task request, worked in the background after the service answered 200.
//!
//! 1. Wait for a worker slot (at most `--max-concurrent` jobs run at once).
//! 2. `pre_plan`: nothing to check yet → `passed`, saying to attach the task at `post_plan`.
//! 3. PATCH `running`; a 401 there means the token is dead and the job gives up.
//! 4. GET the plan JSON and, when trusted CIDRs are set and the request has one, the
//!    configuration tarball (both through [`TfcClient::download_to_file`], each spooled to a
//!    file); unpack the tarball safely into a temporary directory so fixes are real patches of
//!    the run's `.tf` files.
//! 5. Run the same check as `portgate check` and PATCH the verdict with its outcomes.
//!
//! Fail closed: a plan that cannot be fetched or read, a panic of the checker, the job timeout
//! (counted from when the request was accepted) and a shutdown that cannot wait any longer all
//! PATCH `failed` with the reason, so a run is never passed without being checked.

use std::path::{Component, Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use reqwest::Url;
use serde_json::Value;
use tokio::sync::{Semaphore, watch};

use super::client::{Backoff, CallbackError, TfcClient};
use super::outcomes;
use super::request::{RunTaskRequest, Stage};
use super::tarball;
use crate::Error;
use crate::config::TrustedCidr;
use crate::fix::{self, FixOptions};
use crate::gate::CheckOptions;
use crate::policy::PolicySet;

/// The message of a `pre_plan` result.
pub const PRE_PLAN_MESSAGE: &str = "portgate checks the plan, and there is none at pre_plan: nothing was checked. Attach this run task at the post_plan stage (or pre_apply) to gate NetBIOS/SMB exposure.";

/// The message of the `running` update.
pub const RUNNING_MESSAGE: &str = "portgate is checking the plan for NetBIOS/SMB exposure";

/// What the service checks with: the same inputs as `portgate check`.
#[derive(Debug, Clone)]
pub struct Checker {
    pub policies: PolicySet,
    /// Gate options; `today` is replaced by the current date for every run (waiver expiry).
    pub options: CheckOptions,
    /// Trusted CIDRs: with them, findings carry a suggested patch.
    pub trusted: Vec<TrustedCidr>,
    /// `--trusted-cidr vpc`: each group's own VPC CIDRs. Without any trusted CIDR they are
    /// suggested anyway, labelled to be confirmed.
    pub trusted_vpc: bool,
}

impl Checker {
    /// The built-in policies with default options and no trusted CIDRs.
    pub fn builtin() -> Result<Checker, Error> {
        Ok(Checker {
            policies: PolicySet::builtin()?,
            options: CheckOptions::default(),
            trusted: Vec::new(),
            trusted_vpc: false,
        })
    }
}

/// Limits and places of the jobs.
#[derive(Debug, Clone)]
pub struct JobSettings {
    /// From acceptance to the verdict; then `failed` is sent.
    pub timeout: Duration,
    pub max_plan_bytes: u64,
    /// Most bytes of the compressed configuration tarball.
    pub max_config_bytes: u64,
    /// Most bytes of the configuration's Terraform files a job reads (`--max-config-mib`), for
    /// proofs and again for patches; beyond it the sources prove and patch nothing more, and
    /// the outcomes say why.
    pub max_source_bytes: u64,
    pub tarball: tarball::Limits,
    /// Where job directories are made (the system temporary directory by default).
    pub work_dir: Option<PathBuf>,
    /// Callback retries when the service is stopping and cannot wait long.
    pub abort_callback_retry: Backoff,
}

impl Default for JobSettings {
    fn default() -> JobSettings {
        JobSettings {
            timeout: Duration::from_secs(300),
            max_plan_bytes: 512 * 1024 * 1024,
            max_config_bytes: 128 * 1024 * 1024,
            max_source_bytes: 4 * 1024 * 1024,
            tarball: tarball::Limits::default(),
            work_dir: None,
            abort_callback_retry: Backoff {
                attempts: 2,
                initial: Duration::from_millis(500),
                max_delay: Duration::from_millis(500),
                budget: Duration::from_secs(5),
            },
        }
    }
}

/// What every job shares.
#[derive(Debug)]
pub struct JobContext {
    pub client: TfcClient,
    pub checker: Arc<Checker>,
    pub settings: JobSettings,
}

/// An accepted request whose URLs are known to be on the TFC origin.
#[derive(Debug)]
pub struct Job {
    pub request: RunTaskRequest,
    pub callback_url: Url,
    pub plan_url: Option<Url>,
    pub config_url: Option<Url>,
    pub accepted: Instant,
}

/// How a job ended, for the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The plan was checked.
    Checked {
        passed: bool,
        findings: usize,
        blocking: usize,
    },
    /// `pre_plan`: nothing to check.
    PrePlan,
    /// `failed` was sent because the run could not be checked.
    Error(String),
    /// The access token was refused: nothing can be reported.
    GaveUp(String),
}

impl Outcome {
    fn label(&self) -> &'static str {
        match self {
            Outcome::Checked { passed: true, .. } | Outcome::PrePlan => "passed",
            Outcome::Checked { passed: false, .. } => "failed",
            Outcome::Error(_) => "error",
            Outcome::GaveUp(_) => "gave_up",
        }
    }
}

/// A verdict to PATCH, or nothing to send.
enum Verdict {
    Send(Value, Outcome),
    GiveUp(String),
}

fn fail(reason: String) -> Verdict {
    let body = outcomes::failed(&reason);
    Verdict::Send(body, Outcome::Error(reason))
}

/// Works one job to its end, logging the outcome. `abort` turns true when the service stops
/// waiting for jobs: the job then sends `failed` at once.
pub async fn run(
    ctx: Arc<JobContext>,
    job: Job,
    workers: Arc<Semaphore>,
    mut abort: watch::Receiver<bool>,
) -> Outcome {
    let deadline = job.accepted + ctx.settings.timeout;
    let aborted = async move {
        if abort.wait_for(|stop| *stop).await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    let (verdict, retry) = tokio::select! {
        biased;
        () = aborted => (
            fail("portgate was stopped before it could finish checking this run; the run is not passed. Re-run the task.".to_string()),
            ctx.settings.abort_callback_retry.clone(),
        ),
        done = tokio::time::timeout_at(deadline.into(), work(&ctx, &job, &workers)) => (
            done.unwrap_or_else(|_| fail(format!(
                "portgate did not finish checking the plan within {} s; the run is not passed. Re-run the task.",
                ctx.settings.timeout.as_secs_f64()
            ))),
            ctx.client.config().callback_retry.clone(),
        ),
    };
    let outcome = match verdict {
        Verdict::GiveUp(reason) => {
            tracing::error!(reason = %reason, "giving up: no result can be reported to TFC");
            Outcome::GaveUp(reason)
        }
        Verdict::Send(body, outcome) => {
            match ctx
                .client
                .callback(&job.callback_url, &job.request.access_token, &body, &retry)
                .await
            {
                Ok(delivered) => {
                    tracing::debug!(%delivered, "result delivered");
                    outcome
                }
                Err(e) => {
                    tracing::error!(error = %e, outcome = outcome.label(), "the result could not be delivered to TFC");
                    Outcome::GaveUp(format!("callback failed: {e}"))
                }
            }
        }
    };
    let duration_ms = job.accepted.elapsed().as_millis() as u64;
    match &outcome {
        Outcome::Checked {
            findings, blocking, ..
        } => tracing::info!(
            outcome = outcome.label(),
            findings,
            blocking,
            duration_ms,
            "run task finished"
        ),
        Outcome::Error(reason) => tracing::warn!(
            outcome = outcome.label(),
            reason = %reason,
            duration_ms,
            "run task finished"
        ),
        _ => tracing::info!(outcome = outcome.label(), duration_ms, "run task finished"),
    }
    outcome
}

async fn work(ctx: &Arc<JobContext>, job: &Job, workers: &Arc<Semaphore>) -> Verdict {
    // Owned, so the check on the blocking pool can hold it past a timeout: a check that is still
    // running keeps counting against --max-concurrent.
    let Ok(slot) = Arc::clone(workers).acquire_owned().await else {
        return fail("portgate is stopping; the run is not passed. Re-run the task.".to_string());
    };
    let request = &job.request;
    let stage = request.stage();
    if stage == Some(Stage::PrePlan) {
        return Verdict::Send(outcomes::passed(PRE_PLAN_MESSAGE), Outcome::PrePlan);
    }
    if let Some(version) = request.payload_version.filter(|v| *v != 1) {
        return fail(format!(
            "portgate does not understand run task payload_version {version} (only 1); the run is not passed"
        ));
    }

    let token = &request.access_token;
    let running = outcomes::running(RUNNING_MESSAGE);
    match ctx
        .client
        .callback(&job.callback_url, token, &running, &Backoff::once())
        .await
    {
        Ok(_) => {}
        Err(CallbackError::Unauthorized { host }) => {
            return Verdict::GiveUp(format!(
                "{host} refused the access token (401) on the running update"
            ));
        }
        Err(e) => {
            tracing::warn!(error = %e, "the running update was not accepted; checking anyway")
        }
    }

    let Some(plan_url) = &job.plan_url else {
        return fail(format!(
            "the run task request has no plan_json_api_url (stage {}); portgate needs the plan, so the run is not passed",
            if request.stage.is_empty() {
                "unknown"
            } else {
                &request.stage
            }
        ));
    };
    // The configuration is fetched whenever the run offers it: its files prove what the plan
    // cannot show, and patches are made against them.
    // Spooled to a file like the plan, and unpacked from there: a job never holds the
    // tarball in memory.
    let config_download = async {
        match &job.config_url {
            Some(url) => Some(
                ctx.client
                    .download_to_file(
                        url,
                        token,
                        ctx.settings.max_config_bytes,
                        ctx.settings.work_dir.as_deref(),
                    )
                    .await,
            ),
            None => None,
        }
    };
    // The plan goes to a temporary file and is streamed from there: a job's memory does not
    // grow with the plan.
    let (plan, config) = tokio::join!(
        ctx.client.download_to_file(
            plan_url,
            token,
            ctx.settings.max_plan_bytes,
            ctx.settings.work_dir.as_deref()
        ),
        config_download
    );
    let plan = match plan {
        Ok(plan) => plan,
        Err(e) => {
            return fail(format!(
                "portgate could not fetch the plan JSON: {e}. The run is not passed; re-run the task to try again."
            ));
        }
    };

    let ctx = Arc::clone(ctx);
    let mandatory = request.is_mandatory();
    let with_outcomes = request.capabilities.as_ref().is_none_or(|c| c.outcomes);
    let working_directory = request.workspace_working_directory.clone();
    // The blocking check cannot be cancelled from here; when this future is dropped (the job
    // timed out or the service stops), the flag makes the plan reader fail at its next read so
    // the check ends soon, and until it has ended it keeps its worker slot.
    let cancel = CancelOnDrop(Arc::new(AtomicBool::new(false)));
    let cancelled = Arc::clone(&cancel.0);
    let checked = tokio::task::spawn_blocking(move || {
        let _slot = slot;
        // The spooled file can be read again from its start: the plan is then read without
        // decoding what its change records supersede (see `crate::check_input`).
        let again = plan.try_clone().ok();
        let reopen = || -> std::io::Result<Box<dyn std::io::Read>> {
            let mut file = again
                .as_ref()
                .ok_or_else(|| std::io::Error::other("the spooled plan cannot be reopened"))?
                .try_clone()?;
            std::io::Seek::rewind(&mut file)?;
            Ok(Box::new(Cancellable {
                inner: file,
                cancelled: Arc::clone(&cancelled),
            }))
        };
        let plan = Cancellable {
            inner: plan,
            cancelled: Arc::clone(&cancelled),
        };
        evaluate(
            &ctx,
            plan,
            Some(&reopen),
            config,
            working_directory.as_deref(),
            mandatory,
            with_outcomes,
        )
    })
    .await;
    drop(cancel);
    checked.unwrap_or_else(|e| {
        tracing::error!(error = %e, "the check panicked");
        fail(
            "portgate hit an internal error while checking the plan; the run is not passed"
                .to_string(),
        )
    })
}

/// Sets the flag when dropped: the job's future is gone, nobody waits for the check.
struct CancelOnDrop(Arc<AtomicBool>);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// A plan reader that fails once its job is cancelled, so an abandoned check stops early.
struct Cancellable<R> {
    inner: R,
    cancelled: Arc<AtomicBool>,
}

impl<R: std::io::Read> std::io::Read for Cancellable<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.cancelled.load(Ordering::Relaxed) {
            return Err(std::io::Error::other(
                "the job was cancelled (timeout or shutdown)",
            ));
        }
        self.inner.read(buf)
    }
}

/// Resources per batch of a job's check (see [`crate::check_top`]): a job holds the rules and
/// findings of one batch at a time, beside the plan's compact held records.
const BATCH_RESOURCES: usize = 4096;

/// Checks the plan (blocking: runs on the blocking pool) and builds the verdict.
fn evaluate(
    ctx: &JobContext,
    plan: impl std::io::Read,
    reopen: Option<crate::Reopen<'_>>,
    config: Option<Result<std::fs::File, super::client::FetchError>>,
    working_directory: Option<&str>,
    mandatory: bool,
    with_outcomes: bool,
) -> Verdict {
    let checker = &ctx.checker;
    let mut options = checker.options.clone();
    options.today = time::OffsetDateTime::now_utc().date();
    // Notes about the configuration (why there are no source patches) are for runs whose
    // fixes were asked for; without trusted CIDRs, VPC suggestions are still made.
    let with_fixes = !checker.trusted.is_empty() || checker.trusted_vpc;
    let mut notes = Vec::new();
    // The configuration is unpacked before the check: its files can prove what the plan cannot
    // show (see crate::sources). Kept alive until the fixes are made; removed (with everything
    // unpacked) on drop.
    let workspace = match &ctx.settings.work_dir {
        Some(dir) => tempfile::Builder::new()
            .prefix("portgate-job-")
            .tempdir_in(dir),
        None => tempfile::Builder::new().prefix("portgate-job-").tempdir(),
    };
    let workspace = match workspace {
        Ok(dir) => Some(dir),
        Err(e) => {
            tracing::error!(error = %e, "cannot create a job directory");
            if with_fixes {
                notes.push(
                    "(no suggested patches: portgate could not create a temporary directory)"
                        .to_string(),
                );
            }
            None
        }
    };
    let source_dir = workspace.as_ref().map(|dir| {
        let mut unpack_notes = Vec::new();
        let found = source_dir(
            ctx,
            dir.path(),
            config,
            working_directory,
            &mut unpack_notes,
        );
        if with_fixes {
            notes.extend(unpack_notes);
        }
        found
    });
    options.source_dir = source_dir.clone().flatten();
    options.max_source_bytes = Some(ctx.settings.max_source_bytes);
    let top = crate::check_top(
        plan,
        reopen,
        "plan.json",
        &checker.policies,
        &options,
        outcomes::SHOWN,
        BATCH_RESOURCES,
    );
    let mut top = match top {
        Ok(top) => top,
        Err(e) => {
            return fail(format!(
                "portgate could not read the plan JSON: {e}. The run is not passed."
            ));
        }
    };
    top.report
        .warnings
        .extend(crate::config::check_trusted_set(&checker.trusted).unwrap_or_default());
    let fixes = match &workspace {
        Some(dir) => {
            // Without a configuration, fixes are made against an empty directory: they are
            // then suggestions rendered from the plan.
            let source_dir = source_dir.flatten().unwrap_or_else(|| {
                let empty = dir.path().join("empty");
                let _ = std::fs::create_dir(&empty);
                empty
            });
            Some(fix::suggest(
                &top.report.rules,
                top.report.findings.iter().map(|g| &g.finding),
                &checker.policies,
                &FixOptions {
                    trusted: checker.trusted.clone(),
                    source_dir: Some(source_dir),
                    use_vpc: checker.trusted_vpc || checker.trusted.is_empty(),
                    max_source_bytes: Some(ctx.settings.max_source_bytes),
                },
            ))
        }
        _ => None,
    };
    let job_dirs: Vec<PathBuf> = workspace
        .iter()
        .flat_map(|dir| {
            [
                dir.path().to_path_buf(),
                dir.path().canonicalize().unwrap_or_default(),
            ]
        })
        .filter(|dir| !dir.as_os_str().is_empty())
        .collect();
    drop(workspace);

    for warning in top.report.warnings.iter().take(2) {
        notes.push(format!("Warning: {warning}."));
    }
    let mut body = outcomes::result(
        &top,
        &checker.policies,
        fixes.as_ref(),
        mandatory,
        with_outcomes,
        None,
    );
    outcomes::append_message(&mut body, &notes.join(" "));
    for dir in &job_dirs {
        scrub_job_dir(&mut body, dir);
    }
    Verdict::Send(
        body,
        Outcome::Checked {
            passed: !top.fails(),
            findings: top.total,
            blocking: top.blocking,
        },
    )
}

/// Rewrites every mention of the job directory `dir` in the strings of `value` (what goes to
/// HCP Terraform): a file of the configuration is named by its path inside it, anything else
/// in the job directory as "the job directory". Messages are written to name configuration
/// paths only; this is the last line that keeps the service's own paths from leaving it.
fn scrub_job_dir(value: &mut Value, dir: &Path) {
    fn walk(value: &mut Value, dir: &str, configuration: &str) {
        match value {
            Value::String(text) if text.contains(dir) => {
                *text = text
                    .replace(&format!("{configuration}/"), "")
                    .replace(configuration, "the configuration")
                    .replace(dir, "the job directory");
            }
            Value::Array(items) => items.iter_mut().for_each(|v| walk(v, dir, configuration)),
            Value::Object(map) => map.values_mut().for_each(|v| walk(v, dir, configuration)),
            _ => {}
        }
    }
    let dir = dir.display().to_string();
    walk(value, &dir, &format!("{dir}/configuration"));
}

/// The workspace's working directory inside the unpacked configuration: the Terraform root
/// module the plan was made from. `None` when there is none (why goes to `notes`).
fn source_dir(
    ctx: &JobContext,
    root: &Path,
    config: Option<Result<std::fs::File, super::client::FetchError>>,
    working_directory: Option<&str>,
    notes: &mut Vec<String>,
) -> Option<PathBuf> {
    let tarball = match config {
        None => return None,
        Some(Ok(file)) => file,
        Some(Err(e)) => {
            tracing::warn!(error = %e, "the configuration could not be downloaded");
            notes.push(format!(
                "(No source patches: the configuration could not be downloaded: {e}.)"
            ));
            return None;
        }
    };
    let unpack_dir = root.join("configuration");
    match tarball::unpack(tarball, &unpack_dir, &ctx.settings.tarball) {
        Ok(unpacked) => {
            tracing::debug!(
                files = unpacked.files,
                bytes = unpacked.bytes,
                "configuration unpacked"
            );
        }
        Err(e) => {
            tracing::warn!(error = %e, "the configuration could not be unpacked");
            notes.push(format!(
                "(No source patches: the configuration tarball could not be unpacked: {e}.)"
            ));
            return None;
        }
    }
    match working_subdir(working_directory) {
        Some(sub) => {
            let dir = unpack_dir.join(&sub);
            if dir.is_dir() {
                Some(dir)
            } else {
                notes.push(format!(
                    "(No source patches: the working directory {} is not in the configuration.)",
                    sub.display()
                ));
                None
            }
        }
        None => {
            notes.push(format!(
                "(No source patches: the working directory {:?} is not a plain relative path.)",
                working_directory.unwrap_or_default()
            ));
            None
        }
    }
}

/// `workspace_working_directory` as a relative path inside the configuration (`/terraform` and
/// `terraform/` → `terraform`, empty → the root); `None` when it would leave it.
pub fn working_subdir(working_directory: Option<&str>) -> Option<PathBuf> {
    let text = working_directory.unwrap_or("").trim();
    let mut path = PathBuf::new();
    for component in Path::new(text.trim_start_matches('/')).components() {
        match component {
            Component::Normal(part) => path.push(part),
            Component::CurDir => {}
            _ => return None,
        }
    }
    Some(path)
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_cancelled_job_stops_reading_its_plan() {
        let flag = Arc::new(AtomicBool::new(false));
        let plan = br#"{"format_version":"1.2","planned_values":{"root_module":{}},"resource_changes":[]}"#;
        let reader = Cancellable {
            inner: &plan[..],
            cancelled: Arc::clone(&flag),
        };
        drop(CancelOnDrop(Arc::clone(&flag)));
        let policies = PolicySet::builtin().unwrap();
        let error = crate::check_reader(reader, "plan.json", &policies, &CheckOptions::default())
            .unwrap_err()
            .to_string();
        assert!(error.contains("cancelled"), "{error}");
        let reader = Cancellable {
            inner: &plan[..],
            cancelled: Arc::new(AtomicBool::new(false)),
        };
        assert!(
            crate::check_reader(reader, "plan.json", &policies, &CheckOptions::default()).is_ok()
        );
    }

    use super::*;

    #[test]
    fn the_job_directory_never_leaves_in_a_result() {
        let dir = Path::new("/srv/tmp/portgate-job-abc");
        let mut body = serde_json::json!({
            "message": "cannot parse /srv/tmp/portgate-job-abc/configuration/net/a.tf.json: EOF",
            "outcomes": [{"body": "in /srv/tmp/portgate-job-abc/configuration and /srv/tmp/portgate-job-abc/plan"}],
            "n": 3,
        });
        scrub_job_dir(&mut body, dir);
        assert_eq!(
            body,
            serde_json::json!({
                "message": "cannot parse net/a.tf.json: EOF",
                "outcomes": [{"body": "in the configuration and the job directory/plan"}],
                "n": 3,
            })
        );
    }

    #[test]
    fn working_directories_stay_inside_the_configuration() {
        assert_eq!(working_subdir(None), Some(PathBuf::new()));
        assert_eq!(working_subdir(Some("")), Some(PathBuf::new()));
        assert_eq!(
            working_subdir(Some("/terraform")),
            Some(PathBuf::from("terraform"))
        );
        assert_eq!(
            working_subdir(Some("./envs/prod/")),
            Some(PathBuf::from("envs/prod"))
        );
        assert_eq!(working_subdir(Some("../etc")), None);
        assert_eq!(working_subdir(Some("a/../../b")), None);
    }
}
