//! The HTTP side of `portgate serve`: routes, request checks, de-duplication, admission
//! control and graceful shutdown.
//!
//! Routes: `POST /` and `POST /runtask` take run task requests; `GET /healthz` answers `ok`
//! (`503 draining` while shutting down, so load balancers stop sending).
//!
//! A run task request is checked in this order, and nothing is fetched or called before the
//! last check passes:
//!
//! | check | answer |
//! |---|---|
//! | body larger than the limit (1 MiB), before anything else | 413 |
//! | body not received within 30 s | 408 |
//! | `X-TFC-Task-Signature` missing or not the HMAC-SHA512 of the body | 401 |
//! | body not a run task request | 400 |
//! | verification request (`access_token` = `test-token`) | 200, nothing else |
//! | callback, plan or configuration URL not on the `--tfc-url` origin | 400 |
//! | service shutting down | 503 (TFC retries) |
//! | `task_result_id` already seen within the TTL (2 h) | 200, no second job |
//! | `--max-concurrent` jobs running and `--max-queue` waiting | 503 (TFC retries) |
//! | otherwise | 200, job queued |
//!
//! Admission: up to `max_concurrent` jobs run at once; up to `max_queue` more wait for a slot
//! (their timeout already runs). Beyond that the service answers 503 instead of queueing
//! without bound, and forgets the `task_result_id` so TFC's retry is accepted.
//!
//! Shutdown ([`ServiceHandle::shutdown`], or SIGTERM/SIGINT in `portgate serve`): stop
//! accepting connections, answer 503 to requests still arriving, wait up to the drain timeout
//! for running and queued jobs, then tell the rest to send `failed` ("portgate was stopped") and
//! give them a few seconds to deliver it.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, FromRequest, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use reqwest::Url;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio::task::JoinHandle;
use tracing::Instrument;

use super::client::{ClientConfig, TfcClient};
use super::job::{self, Checker, Job, JobContext, JobSettings};
use super::request::RunTaskRequest;
use super::signature::HmacKey;

/// The header TFC signs requests with.
pub const SIGNATURE_HEADER: &str = "x-tfc-task-signature";

/// Everything the service needs. [`ServiceConfig::new`] fills in production defaults.
#[derive(Debug, Clone)]
pub struct ServiceConfig {
    pub listen: SocketAddr,
    /// `None` accepts unsigned requests (`--insecure-no-hmac`), with a warning per request.
    pub hmac_key: Option<HmacKey>,
    pub checker: Checker,
    /// The TFC origin, timeouts and retries of outbound requests.
    pub client: ClientConfig,
    pub jobs: JobSettings,
    /// Jobs that run at once.
    pub max_concurrent: usize,
    /// Accepted jobs that may wait for a slot; more are answered 503.
    pub max_queue: usize,
    /// How long shutdown waits for running and queued jobs.
    pub drain_timeout: Duration,
    /// After the drain timeout, how long jobs get to send their `failed` result.
    pub abort_grace: Duration,
    /// How long a `task_result_id` is remembered.
    pub dedupe_ttl: Duration,
    /// Most `task_result_id`s remembered (the oldest are forgotten first).
    pub dedupe_capacity: usize,
    /// Largest request body accepted.
    pub max_body_bytes: usize,
    /// How long a client may take to send the request body.
    pub body_timeout: Duration,
}

impl ServiceConfig {
    /// A service for the TFC at `tfc_url` with production defaults: 127.0.0.1:8080, 8 jobs at
    /// once and 32 waiting, 5 min job timeout, 60 s drain, 1 MiB bodies, 2 h de-duplication.
    pub fn new(tfc_url: Url, hmac_key: Option<HmacKey>, checker: Checker) -> ServiceConfig {
        ServiceConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            hmac_key,
            checker,
            client: ClientConfig::new(tfc_url),
            jobs: JobSettings::default(),
            max_concurrent: 8,
            max_queue: 32,
            drain_timeout: Duration::from_secs(60),
            abort_grace: Duration::from_secs(10),
            dedupe_ttl: Duration::from_secs(2 * 60 * 60),
            dedupe_capacity: 100_000,
            max_body_bytes: 1024 * 1024,
            body_timeout: Duration::from_secs(30),
        }
    }
}

/// Why the service did not start.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("{0}")]
    Config(String),
}

/// How shutdown went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DrainReport {
    /// Every job finished within the drain timeout.
    pub drained: bool,
    /// Jobs still unfinished when the service gave up on them.
    pub abandoned: usize,
}

/// `task_result_id`s seen recently.
struct Dedupe {
    seen: HashMap<String, Instant>,
    ttl: Duration,
    capacity: usize,
    last_sweep: Instant,
}

impl Dedupe {
    /// Records `key`; false when it was already seen within the TTL.
    fn insert(&mut self, key: &str, now: Instant) -> bool {
        if now.duration_since(self.last_sweep) > Duration::from_secs(60)
            || self.seen.len() >= self.capacity
        {
            let ttl = self.ttl;
            self.seen.retain(|_, at| now.duration_since(*at) < ttl);
            self.last_sweep = now;
            while self.seen.len() >= self.capacity.max(1) {
                let oldest = self
                    .seen
                    .iter()
                    .min_by_key(|(_, at)| **at)
                    .map(|(k, _)| k.clone());
                match oldest {
                    Some(k) => self.seen.remove(&k),
                    None => break,
                };
            }
        }
        match self.seen.get(key) {
            Some(at) if now.duration_since(*at) < self.ttl => false,
            _ => {
                self.seen.insert(key.to_string(), now);
                true
            }
        }
    }

    fn remove(&mut self, key: &str) {
        self.seen.remove(key);
    }
}

struct AppState {
    key: Option<HmacKey>,
    ctx: Arc<JobContext>,
    dedupe: Mutex<Dedupe>,
    /// Running + waiting jobs.
    admission: Arc<Semaphore>,
    /// Running jobs.
    workers: Arc<Semaphore>,
    /// Number of unfinished jobs.
    jobs: watch::Sender<usize>,
    /// True: unfinished jobs send `failed` now.
    abort: watch::Sender<bool>,
    /// True: shutting down.
    shutdown: watch::Sender<bool>,
    draining: AtomicBool,
    max_body_bytes: usize,
    body_timeout: Duration,
}

/// Counts a job from acceptance to its end.
struct InFlight {
    state: Arc<AppState>,
    _admission: OwnedSemaphorePermit,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.state.jobs.send_modify(|n| *n = n.saturating_sub(1));
    }
}

/// The running service.
pub struct Service;

impl Service {
    /// Binds `config.listen` (port 0 picks a free port) and serves in the background. Returns
    /// the bound address and the handle that stops the service.
    pub async fn bind(config: ServiceConfig) -> Result<(SocketAddr, ServiceHandle), ServeError> {
        if config.max_concurrent == 0 {
            return Err(ServeError::Config(
                "max_concurrent must be at least 1".to_string(),
            ));
        }
        let client = TfcClient::new(config.client.clone()).map_err(ServeError::Config)?;
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .map_err(|source| ServeError::Bind {
                addr: config.listen,
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| ServeError::Bind {
            addr: config.listen,
            source,
        })?;

        let now = Instant::now();
        let state = Arc::new(AppState {
            key: config.hmac_key.clone(),
            ctx: Arc::new(JobContext {
                client,
                checker: Arc::new(config.checker.clone()),
                settings: config.jobs.clone(),
            }),
            dedupe: Mutex::new(Dedupe {
                seen: HashMap::new(),
                ttl: config.dedupe_ttl,
                capacity: config.dedupe_capacity,
                last_sweep: now,
            }),
            admission: Arc::new(Semaphore::new(config.max_concurrent + config.max_queue)),
            workers: Arc::new(Semaphore::new(config.max_concurrent)),
            jobs: watch::Sender::new(0),
            abort: watch::Sender::new(false),
            shutdown: watch::Sender::new(false),
            draining: AtomicBool::new(false),
            max_body_bytes: config.max_body_bytes,
            body_timeout: config.body_timeout,
        });

        let app = Router::new()
            .route("/", post(runtask))
            .route("/runtask", post(runtask))
            .route("/healthz", get(healthz))
            .layer(DefaultBodyLimit::max(config.max_body_bytes))
            .with_state(Arc::clone(&state));

        let mut stop = state.shutdown.subscribe();
        let task_state = Arc::clone(&state);
        let drain_timeout = config.drain_timeout;
        let abort_grace = config.abort_grace;
        let task = tokio::spawn(async move {
            let mut stop_serving = stop.clone();
            let serve = axum::serve(listener, app).with_graceful_shutdown(async move {
                let _ = stop_serving.wait_for(|s| *s).await;
            });
            let started = tokio::spawn(async move { serve.await });
            // Connections that stay open do not hold up the shutdown beyond the drain timeout.
            let _ = stop.wait_for(|s| *s).await;
            let shutdown_started = Instant::now();
            tracing::info!(
                jobs = *task_state.jobs.borrow(),
                "shutting down: no new requests; draining jobs"
            );
            match tokio::time::timeout(drain_timeout, started).await {
                Ok(Ok(Ok(()))) => {}
                Ok(Ok(Err(e))) => tracing::error!(error = %e, "the HTTP server failed"),
                Ok(Err(e)) => tracing::error!(error = %e, "the HTTP server task failed"),
                Err(_) => tracing::warn!("connections still open after the drain timeout"),
            }
            drain(
                &task_state,
                drain_timeout.saturating_sub(shutdown_started.elapsed()),
                abort_grace,
            )
            .await
        });
        Ok((
            addr,
            ServiceHandle {
                state,
                task: Some(task),
            },
        ))
    }
}

async fn drain(state: &AppState, timeout: Duration, abort_grace: Duration) -> DrainReport {
    let mut jobs = state.jobs.subscribe();
    if tokio::time::timeout(timeout, jobs.wait_for(|n| *n == 0))
        .await
        .is_ok()
    {
        tracing::info!("all jobs finished; stopped");
        return DrainReport {
            drained: true,
            abandoned: 0,
        };
    }
    let left = *jobs.borrow();
    tracing::warn!(
        jobs = left,
        "drain timeout: telling unfinished jobs to report failed"
    );
    state.abort.send_replace(true);
    let _ = tokio::time::timeout(abort_grace, jobs.wait_for(|n| *n == 0)).await;
    let abandoned = *jobs.borrow();
    if abandoned > 0 {
        tracing::error!(
            jobs = abandoned,
            "stopped with jobs that could not report their result"
        );
    }
    DrainReport {
        drained: false,
        abandoned,
    }
}

/// Controls a service started by [`Service::bind`]. Dropping it does not stop the service.
pub struct ServiceHandle {
    state: Arc<AppState>,
    task: Option<JoinHandle<DrainReport>>,
}

impl ServiceHandle {
    /// Starts the graceful shutdown (idempotent): see the module documentation.
    pub fn shutdown(&self) {
        self.state.draining.store(true, Ordering::SeqCst);
        self.state.shutdown.send_replace(true);
    }

    /// Waits until the service has stopped (after [`ServiceHandle::shutdown`]).
    pub async fn wait(mut self) -> DrainReport {
        match self.task.take() {
            Some(task) => task.await.unwrap_or(DrainReport {
                drained: false,
                abandoned: *self.state.jobs.borrow(),
            }),
            None => DrainReport {
                drained: true,
                abandoned: 0,
            },
        }
    }

    /// Shuts down and waits.
    pub async fn stop(self) -> DrainReport {
        self.shutdown();
        self.wait().await
    }

    /// Jobs accepted and not finished.
    pub fn jobs_in_flight(&self) -> usize {
        *self.state.jobs.borrow()
    }
}

async fn healthz(State(state): State<Arc<AppState>>) -> Response {
    if state.draining.load(Ordering::SeqCst) {
        (StatusCode::SERVICE_UNAVAILABLE, "draining").into_response()
    } else {
        (StatusCode::OK, "ok").into_response()
    }
}

fn answer(status: StatusCode, text: &'static str) -> Response {
    let mut response = (status, text).into_response();
    if status == StatusCode::SERVICE_UNAVAILABLE {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("30"));
    }
    response
}

async fn runtask(State(state): State<Arc<AppState>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let headers = parts.headers.clone();
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > state.max_body_bytes as u64) {
        tracing::warn!(bytes = declared, "request refused: body too large");
        return answer(StatusCode::PAYLOAD_TOO_LARGE, "request body too large\n");
    }
    let read = Bytes::from_request(Request::from_parts(parts, body), &());
    let bytes = match tokio::time::timeout(state.body_timeout, read).await {
        Err(_) => return answer(StatusCode::REQUEST_TIMEOUT, "request body too slow\n"),
        Ok(Err(rejection)) => {
            let status = rejection.into_response().status();
            tracing::warn!(status = status.as_u16(), "request refused: body not read");
            return if status == StatusCode::PAYLOAD_TOO_LARGE {
                answer(status, "request body too large\n")
            } else {
                answer(StatusCode::BAD_REQUEST, "cannot read the request body\n")
            };
        }
        Ok(Ok(bytes)) => bytes,
    };
    handle(&state, &headers, &bytes)
}

/// Everything after the body is read: signature, parsing, URL checks, admission.
fn handle(state: &Arc<AppState>, headers: &HeaderMap, body: &[u8]) -> Response {
    match &state.key {
        Some(key) => {
            let signature = headers
                .get(SIGNATURE_HEADER)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            if signature.trim().is_empty() || !key.verify(body, signature) {
                tracing::warn!(
                    signature_present = !signature.trim().is_empty(),
                    "request refused: bad or missing X-TFC-Task-Signature"
                );
                return answer(StatusCode::UNAUTHORIZED, "invalid signature\n");
            }
        }
        None => tracing::warn!(
            "accepting a request WITHOUT signature verification (--insecure-no-hmac): anyone who can reach this service can submit run tasks"
        ),
    }
    let request: RunTaskRequest = match serde_json::from_slice(body) {
        Ok(request) => request,
        Err(e) => {
            // Only the kind and place of the error: serde's message can quote the body.
            tracing::warn!(
                error = ?e.classify(),
                line = e.line(),
                column = e.column(),
                "request refused: not a run task request"
            );
            return answer(StatusCode::BAD_REQUEST, "not a run task request\n");
        }
    };
    if request.is_verification() {
        tracing::info!("verification request from TFC: answered 200");
        return StatusCode::OK.into_response();
    }

    let span = tracing::info_span!(
        "run_task",
        run_id = request.run_id.as_deref().unwrap_or("-"),
        task_result_id = request.task_result_id.as_str(),
        organization = request.organization_name.as_deref().unwrap_or("-"),
        workspace = request.workspace_name.as_deref().unwrap_or("-"),
        stage = request.stage.as_str(),
    );
    let _entered = span.enter();

    let client = &state.ctx.client;
    let urls = (|| {
        if request.task_result_callback_url.trim().is_empty() {
            return Err("the request has no task_result_callback_url".to_string());
        }
        let callback = client
            .check_url(
                "task_result_callback_url",
                &request.task_result_callback_url,
            )
            .map_err(|e| e.to_string())?;
        let optional = |field, value: &Option<String>| match value.as_deref().map(str::trim) {
            Some(text) if !text.is_empty() => client
                .check_url(field, text)
                .map(Some)
                .map_err(|e| e.to_string()),
            _ => Ok(None),
        };
        let plan = optional("plan_json_api_url", &request.plan_json_api_url)?;
        let config = optional(
            "configuration_version_download_url",
            &request.configuration_version_download_url,
        )?;
        Ok((callback, plan, config))
    })();
    let (callback_url, plan_url, config_url) = match urls {
        Ok(urls) => urls,
        Err(problem) => {
            tracing::warn!(problem = %problem, "request refused: nothing is fetched or called");
            return answer(
                StatusCode::BAD_REQUEST,
                "run task URLs must be on the configured TFC address\n",
            );
        }
    };

    if state.draining.load(Ordering::SeqCst) {
        tracing::warn!("request refused: shutting down");
        return answer(StatusCode::SERVICE_UNAVAILABLE, "shutting down\n");
    }

    let key = if request.task_result_id.is_empty() {
        callback_url.as_str().to_string()
    } else {
        request.task_result_id.clone()
    };
    let now = Instant::now();
    let is_new = state
        .dedupe
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(&key, now);
    if !is_new {
        tracing::info!("duplicate delivery of a task result: answered 200, no second job");
        return StatusCode::OK.into_response();
    }
    let Ok(permit) = Arc::clone(&state.admission).try_acquire_owned() else {
        state
            .dedupe
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&key);
        tracing::warn!("request refused: job queue full (503, TFC retries)");
        return answer(StatusCode::SERVICE_UNAVAILABLE, "busy, retry later\n");
    };
    state.jobs.send_modify(|n| *n += 1);
    let in_flight = InFlight {
        state: Arc::clone(state),
        _admission: permit,
    };
    let job = Job {
        request,
        callback_url,
        plan_url,
        config_url,
        accepted: now,
    };
    let ctx = Arc::clone(&state.ctx);
    let workers = Arc::clone(&state.workers);
    let abort = state.abort.subscribe();
    tracing::info!("run task accepted");
    drop(_entered);
    tokio::spawn(
        async move {
            let _in_flight = in_flight;
            job::run(ctx, job, workers, abort).await;
        }
        .instrument(span),
    );
    StatusCode::OK.into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dedupe_remembers_within_the_ttl_and_stays_bounded() {
        let start = Instant::now();
        let mut d = Dedupe {
            seen: HashMap::new(),
            ttl: Duration::from_secs(10),
            capacity: 3,
            last_sweep: start,
        };
        assert!(d.insert("a", start));
        assert!(!d.insert("a", start + Duration::from_secs(5)));
        assert!(d.insert("a", start + Duration::from_secs(11)), "expired");
        let t = start + Duration::from_secs(12);
        assert!(d.insert("b", t));
        assert!(d.insert("c", t + Duration::from_millis(1)));
        assert!(d.insert("d", t + Duration::from_millis(2)));
        assert!(d.seen.len() <= 3);
        d.remove("d");
        assert!(d.insert("d", t + Duration::from_millis(3)));
    }
}
