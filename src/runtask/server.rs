//! The HTTP side of `portgate serve`: routes, request checks, de-duplication, admission
//! control and graceful shutdown.
//!
//! Routes: `POST /` and `POST /runtask` take run task requests; `GET /healthz` answers `ok`
//! (`503 draining` while shutting down, so load balancers and readiness probes stop sending).
//!
//! A run task request is checked in this order, and nothing is fetched or called before the
//! last check passes:
//!
//! | check | answer |
//! |---|---|
//! | `max_connections` connections open (then 64 more are answered, the rest closed) | 503 |
//! | request headers not received within 30 s (also: a connection idle that long) | connection closed |
//! | request head over 32 KiB | 431, connection closed |
//! | body larger than the limit (1 MiB), before anything else | 413 |
//! | bodies in flight would pass the body budget (16 MiB), before the body is read | 503 |
//! | body not received within 30 s | 408 |
//! | `X-TFC-Task-Signature` missing or not the HMAC-SHA512 of the body (computed as it arrives) | 401 |
//! | body not a run task request | 400 |
//! | verification request (`access_token` = `test-token`) | 200, nothing else |
//! | callback, plan or configuration URL not on the `--tfc-url` origin | 400 |
//! | service shutting down | 503 (TFC retries) |
//! | `task_result_id` already seen within the TTL (2 h) | 200, no second job |
//! | `--max-concurrent` jobs running and `--max-queue` waiting | 503 (TFC retries) |
//! | otherwise | 200, job queued |
//!
//! Every 503 carries `Retry-After`. What an unauthenticated client can make the service hold
//! is bounded: the body budget, plus at most 64 KiB of hyper's buffer per connection. A
//! connection ends with a lingering close (RFC 9112 §9.6): after the answer, what the client
//! still sends is read and thrown away (up to 8 MiB, 30 s, 5 s without a byte), so a client
//! still writing a refused body reads its 413 or 503 instead of a reset.
//!
//! Admission: up to `max_concurrent` jobs run at once; up to `max_queue` more wait for a slot
//! (their timeout already runs). Beyond that the service answers 503 instead of queueing
//! without bound, and does not record the `task_result_id`, so TFC's retry is accepted. The
//! duplicate check, the admission and the recording happen under one lock: a duplicate
//! delivery arriving meanwhile gets 503 as well, or 200 once the job is really queued, never
//! 200 for a job that does not exist.
//!
//! Connections are served by hyper's HTTP/1.1 server with a header read timeout (`axum::serve`
//! has none), so a client that trickles its headers, or opens a connection and sends nothing,
//! cannot hold a connection (and a task) open for long.
//!
//! Shutdown ([`ServiceHandle::shutdown`], or SIGTERM/SIGINT in `portgate serve`): connections
//! finish the request they are in and close, the listener stays open and answers every request
//! 503 (`/healthz`: `draining`), and running and queued jobs get up to the drain timeout; then
//! the rest are told to send `failed` ("portgate was stopped") and get a few seconds to deliver
//! it, and the listener closes. [`ServiceControl::force_stop`] (a second signal) cuts the wait
//! for jobs short: they send `failed` at once, and `portgate serve` exits with status 2.

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use http_body_util::BodyExt;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use reqwest::Url;
use tokio::net::TcpListener;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio::task::JoinHandle;
use tracing::Instrument;

use super::client::{ClientConfig, TfcClient};
use super::job::{self, Checker, Job, JobContext, JobSettings};
use super::request::RunTaskRequest;
use super::signature::{HmacKey, Verifier};

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
    /// How long a client may take to send a request's headers, counted from when the service
    /// starts waiting for them (so an idle keep-alive connection is closed after it too).
    pub header_timeout: Duration,
    /// Most bytes of request bodies held at once, over all connections. A body must be read
    /// before its signature can be checked, so this is what an unauthenticated client can make
    /// the service hold; beyond it new requests get 503.
    pub max_body_buffer_bytes: usize,
    /// Connections served at once; beyond it new connections get 503 (a few at a time) or are
    /// closed.
    pub max_connections: usize,
    /// After the answer on a connection whose client may still be sending (a 413, a 503, any
    /// request whose body was not read), how much more is read and thrown away, for how long
    /// at most, and for how long without a byte, before the connection is closed: closing with
    /// unread data would reset it, and the client would see a broken pipe instead of the
    /// answer (RFC 9112 §9.6). nginx's `lingering_time` and `lingering_timeout` are 30 s and
    /// 5 s.
    pub linger_bytes: u64,
    pub linger_time: Duration,
    pub linger_idle: Duration,
}

/// The default of `--max-connections`: 1,024, or fewer when the open-file limit leaves less
/// than that with 64 to spare (jobs open connections and files too).
pub fn default_max_connections() -> usize {
    const MOST: usize = 1024;
    const SPARE: u64 = 64;
    #[cfg(unix)]
    {
        let soft = rustix::process::getrlimit(rustix::process::Resource::Nofile).current;
        if let Some(soft) = soft {
            return usize::try_from(soft.saturating_sub(SPARE))
                .unwrap_or(MOST)
                .clamp(1, MOST);
        }
    }
    MOST
}

impl ServiceConfig {
    /// A service for the TFC at `tfc_url` with production defaults: 127.0.0.1:8080, 8 jobs at
    /// once and 32 waiting, 5 min job timeout, 60 s drain, 1 MiB bodies and 16 MiB of them at
    /// once, [`default_max_connections`], 2 h de-duplication.
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
            header_timeout: Duration::from_secs(30),
            max_body_buffer_bytes: 16 * 1024 * 1024,
            max_connections: default_max_connections(),
            linger_bytes: 8 * 1024 * 1024,
            linger_time: Duration::from_secs(30),
            linger_idle: Duration::from_secs(5),
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
    /// [`ServiceHandle::force_stop`] cut the drain short.
    pub forced: bool,
}

/// `task_result_id`s seen recently. Checking, recording and forgetting cost O(1) (amortised):
/// keys are forgotten oldest first, from a queue in recording order.
struct Dedupe {
    /// Key → when it was recorded, and the number of that recording.
    seen: HashMap<String, (Instant, u64)>,
    /// (number, time, key) of every recording, oldest first. An entry whose number is no
    /// longer its key's in `seen` is stale and skipped.
    order: VecDeque<(u64, Instant, String)>,
    next: u64,
    ttl: Duration,
    capacity: usize,
}

impl Dedupe {
    fn new(ttl: Duration, capacity: usize) -> Dedupe {
        Dedupe {
            seen: HashMap::new(),
            order: VecDeque::new(),
            next: 0,
            ttl,
            capacity,
        }
    }

    /// Whether `key` was recorded within the TTL before `now`.
    fn contains(&mut self, key: &str, now: Instant) -> bool {
        self.expire(now);
        self.seen
            .get(key)
            .is_some_and(|(at, _)| now.saturating_duration_since(*at) < self.ttl)
    }

    /// Records `key` at `now`; beyond the capacity the oldest keys are forgotten. `now` must
    /// not go back in time between calls.
    fn record(&mut self, key: &str, now: Instant) {
        self.expire(now);
        if !self.seen.contains_key(key) {
            while self.seen.len() >= self.capacity.max(1) && self.forget_oldest() {}
        }
        let number = self.next;
        self.next += 1;
        self.seen.insert(key.to_string(), (now, number));
        self.order.push_back((number, now, key.to_string()));
    }

    /// Records `key`; false when it was already seen within the TTL.
    #[cfg(test)]
    fn insert(&mut self, key: &str, now: Instant) -> bool {
        if self.contains(key, now) {
            return false;
        }
        self.record(key, now);
        true
    }

    /// Forgets the keys recorded a TTL or more before `now`.
    fn expire(&mut self, now: Instant) {
        while let Some((_, at, _)) = self.order.front() {
            if now.saturating_duration_since(*at) < self.ttl {
                break;
            }
            if let Some((number, _, key)) = self.order.pop_front() {
                self.forget(&key, number);
            }
        }
    }

    /// Forgets the oldest key still remembered; false when there is none.
    fn forget_oldest(&mut self) -> bool {
        while let Some((number, _, key)) = self.order.pop_front() {
            if self.forget(&key, number) {
                return true;
            }
        }
        false
    }

    /// Forgets `key` if `number` is its current recording.
    fn forget(&mut self, key: &str, number: u64) -> bool {
        if self.seen.get(key).is_some_and(|(_, n)| *n == number) {
            self.seen.remove(key);
            true
        } else {
            false
        }
    }

    #[cfg(test)]
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
    /// True: stop waiting for jobs now ([`ServiceHandle::force_stop`]).
    force: watch::Sender<bool>,
    draining: AtomicBool,
    max_body_bytes: usize,
    body_timeout: Duration,
    /// One permit per byte of request bodies held at once.
    body_budget: Arc<Semaphore>,
}

/// Counts a job from acceptance to its end.
struct InFlight {
    state: Arc<AppState>,
    admission: Option<OwnedSemaphorePermit>,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        // The queue place is given back before the count goes down: whoever sees the job
        // ended ([`ServiceHandle::jobs_in_flight`]) can be sure its place can be taken again.
        drop(self.admission.take());
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
        if config.max_connections == 0 {
            return Err(ServeError::Config(
                "max_connections must be at least 1".to_string(),
            ));
        }
        if config.max_body_buffer_bytes < config.max_body_bytes {
            return Err(ServeError::Config(format!(
                "the body buffer budget ({} bytes) must hold at least one largest body ({} bytes)",
                config.max_body_buffer_bytes, config.max_body_bytes
            )));
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

        let state = Arc::new(AppState {
            key: config.hmac_key.clone(),
            ctx: Arc::new(JobContext {
                client,
                checker: Arc::new(config.checker.clone()),
                settings: config.jobs.clone(),
            }),
            dedupe: Mutex::new(Dedupe::new(config.dedupe_ttl, config.dedupe_capacity)),
            admission: Arc::new(Semaphore::new(config.max_concurrent + config.max_queue)),
            workers: Arc::new(Semaphore::new(config.max_concurrent)),
            jobs: watch::Sender::new(0),
            abort: watch::Sender::new(false),
            shutdown: watch::Sender::new(false),
            force: watch::Sender::new(false),
            draining: AtomicBool::new(false),
            max_body_bytes: config.max_body_bytes,
            body_timeout: config.body_timeout,
            body_budget: Arc::new(Semaphore::new(config.max_body_buffer_bytes)),
        });

        let app = Router::new()
            .route("/", post(runtask))
            .route("/runtask", post(runtask))
            .route("/healthz", get(healthz))
            .with_state(Arc::clone(&state));
        let connections = Connections {
            header_timeout: config.header_timeout,
            linger: Linger {
                bytes: config.linger_bytes,
                time: config.linger_time,
                idle: config.linger_idle,
            },
            served: Arc::new(Semaphore::new(config.max_connections)),
            refused: Arc::new(Semaphore::new(REFUSED_AT_ONCE)),
        };

        let mut stop = state.shutdown.subscribe();
        let task_state = Arc::clone(&state);
        let drain_timeout = config.drain_timeout;
        let abort_grace = config.abort_grace;
        let task = tokio::spawn(async move {
            let (close, closed) = watch::channel(false);
            let http = tokio::spawn(serve_http(listener, app, connections, stop.clone(), closed));
            let _ = stop.wait_for(|s| *s).await;
            tracing::info!(
                jobs = *task_state.jobs.borrow(),
                "shutting down: new requests get 503; draining jobs"
            );
            // The listener stays open while jobs drain, so load balancers and readiness probes
            // see `503 draining` rather than a refused connection.
            let report = drain(&task_state, drain_timeout, abort_grace).await;
            close.send_replace(true);
            match tokio::time::timeout(CLOSE_GRACE, http).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => tracing::error!(error = %e, "the HTTP server task failed"),
                Err(_) => tracing::warn!("connections still open after the drain; closed"),
            }
            report
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

/// Connections refused with a 503 at once, beyond `max_connections`; further ones are closed
/// unanswered. Each holds a socket for at most [`REFUSAL_HEADER_TIMEOUT`] plus the linger.
const REFUSED_AT_ONCE: usize = 64;
/// How long a connection beyond the limit may take to send the request its 503 answers.
const REFUSAL_HEADER_TIMEOUT: Duration = Duration::from_secs(2);
/// hyper's read buffer limit per connection (its default is about 400 KiB): a request head
/// must fit in it (else 431). The limit is checked between reads and the buffer grows by
/// doubling, so one connection holds at most about twice this: 64 KiB, 64 MiB for the default
/// 1,024 connections, beside the body budget. TFC's request heads are under 2 KiB.
const CONNECTION_BUFFER: usize = 32 * 1024;
/// After the drain, how long open connections get to finish before the service stops anyway.
const CLOSE_GRACE: Duration = Duration::from_secs(5);

/// How connections are served and limited.
struct Connections {
    header_timeout: Duration,
    linger: Linger,
    /// One permit per connection served.
    served: Arc<Semaphore>,
    /// One permit per connection over the limit being answered 503.
    refused: Arc<Semaphore>,
}

/// Serves `app` on `listener` until `closed` turns true: HTTP/1.1, each connection in its own
/// task, with a timeout on reading each request's headers, at most `max_connections` at once
/// (see [`Connections`]). Once `draining` turns true, connections serve the request they are
/// in and close (new ones are still served, with keep-alive off: the routes answer 503). Once
/// `closed` turns true, stops accepting and returns when every connection has closed.
async fn serve_http(
    listener: TcpListener,
    app: Router,
    limits: Connections,
    draining: watch::Receiver<bool>,
    mut closed: watch::Receiver<bool>,
) {
    // Every connection task holds a receiver; `closed()` resolves when they are all gone.
    let (open_tx, open_rx) = watch::channel(());
    let refusal = Router::new().fallback(refuse_connection);
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = stopped(&mut closed) => break,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(e) => {
                // Aborted handshakes are the client's business; anything else (such as running
                // out of file descriptors) is retried after a pause.
                if !matches!(
                    e.kind(),
                    std::io::ErrorKind::ConnectionAborted
                        | std::io::ErrorKind::ConnectionReset
                        | std::io::ErrorKind::ConnectionRefused
                ) {
                    tracing::error!(error = %e, "cannot accept connections; retrying in 1 s");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let (permit, app, header_timeout) = match Arc::clone(&limits.served).try_acquire_owned() {
            Ok(permit) => (permit, app.clone(), limits.header_timeout),
            Err(_) => match Arc::clone(&limits.refused).try_acquire_owned() {
                Ok(permit) => {
                    tracing::warn!(%peer, "connection limit reached: answering 503");
                    (permit, refusal.clone(), REFUSAL_HEADER_TIMEOUT)
                }
                Err(_) => {
                    tracing::warn!(%peer, "connection limit reached: connection closed");
                    continue;
                }
            },
        };
        let connection =
            serve_connection(stream, app, header_timeout, limits.linger, draining.clone());
        let open = open_rx.clone();
        tokio::spawn(
            async move {
                let _open = open;
                let _permit = permit;
                connection.await;
            }
            .instrument(tracing::debug_span!("connection", %peer)),
        );
    }
    drop(open_rx);
    drop(listener);
    open_tx.closed().await;
}

/// The answer to every request on a connection beyond the limit.
async fn refuse_connection() -> Response {
    let mut response = answer(
        StatusCode::SERVICE_UNAVAILABLE,
        "too many connections, retry later\n",
    );
    response
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

/// One connection, to its end: requests served by `app` until the client or `draining` ends
/// it, then a lingering close (see [`ServiceConfig::linger_bytes`]).
async fn serve_connection(
    stream: tokio::net::TcpStream,
    app: Router,
    header_timeout: Duration,
    linger: Linger,
    mut draining: watch::Receiver<bool>,
) {
    // A connection that starts while draining serves its one request (which gets 503) and
    // closes; the others serve the request they are in when draining starts.
    let drain_from_start = *draining.borrow();
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout)
        .max_buf_size(CONNECTION_BUFFER)
        .keep_alive(!drain_from_start);
    let service = Unpinned(TowerToHyperService::new(app));
    let mut connection = builder.serve_connection(TokioIo::new(stream), service);
    // Polled without shutting the socket down, so that it can be closed with a linger.
    let result = tokio::select! {
        result = std::future::poll_fn(|cx| connection.poll_without_shutdown(cx)) => result,
        () = stopped(&mut draining), if !drain_from_start => {
            Pin::new(&mut connection).graceful_shutdown();
            std::future::poll_fn(|cx| connection.poll_without_shutdown(cx)).await
        }
    };
    match &result {
        Ok(()) => {}
        Err(e) if e.is_timeout() => {
            // A client that sends nothing gets nothing more: no linger.
            tracing::debug!("connection closed: request headers not received in time");
            return;
        }
        // A head too large (431) or broken (400) was answered with the rest still unread.
        Err(e) => tracing::debug!(error = %e, "connection ended with an error"),
    }
    let stream = connection.into_parts().io.into_inner();
    linger.close(stream).await;
}

/// How a connection is closed (see [`ServiceConfig::linger_bytes`]).
#[derive(Debug, Clone, Copy)]
struct Linger {
    bytes: u64,
    time: Duration,
    idle: Duration,
}

impl Linger {
    /// Closes `stream` the way RFC 9112 §9.6 asks: the write side first, so the client gets
    /// the whole answer and its end, then whatever it still sends is read and thrown away
    /// (within the bounds) before the socket closes. Closing at once with unread data would
    /// reset the connection, and a client still sending its body would see a broken pipe
    /// instead of the 413 or 503 it was answered.
    async fn close(self, mut stream: tokio::net::TcpStream) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        if stream.shutdown().await.is_err() {
            return;
        }
        let discard = async {
            let mut buf = vec![0u8; 16 * 1024];
            let mut left = self.bytes;
            while left > 0 {
                match tokio::time::timeout(self.idle, stream.read(&mut buf)).await {
                    Ok(Ok(0) | Err(_)) | Err(_) => break,
                    Ok(Ok(n)) => left = left.saturating_sub(n as u64),
                }
            }
        };
        let _ = tokio::time::timeout(self.time, discard).await;
    }
}

/// A hyper service whose futures are boxed, so the connection is `Unpin` and can be polled
/// without shutting its socket down ([`serve_connection`]).
#[derive(Clone)]
struct Unpinned<S>(S);

impl<S, R> hyper::service::Service<R> for Unpinned<S>
where
    S: hyper::service::Service<R>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, S::Error>> + Send>>;

    fn call(&self, request: R) -> Self::Future {
        Box::pin(self.0.call(request))
    }
}

/// Resolves once `stop` is true (or its sender is gone).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

/// Waits for every job to end, up to `timeout` or until [`ServiceHandle::force_stop`]; then
/// tells the rest to send `failed` and gives them `abort_grace` to deliver it.
async fn drain(state: &AppState, timeout: Duration, abort_grace: Duration) -> DrainReport {
    let mut jobs = state.jobs.subscribe();
    let mut force = state.force.subscribe();
    let forced = tokio::select! {
        finished = tokio::time::timeout(timeout, jobs.wait_for(|n| *n == 0)) => {
            if finished.is_ok() {
                tracing::info!("all jobs finished; stopped");
                return DrainReport {
                    drained: true,
                    abandoned: 0,
                    forced: false,
                };
            }
            false
        }
        () = stopped(&mut force) => true,
    };
    let left = *jobs.borrow();
    if forced {
        tracing::warn!(
            jobs = left,
            "second signal: telling unfinished jobs to report failed"
        );
    } else {
        tracing::warn!(
            jobs = left,
            "drain timeout: telling unfinished jobs to report failed"
        );
    }
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
        drained: left == 0,
        abandoned,
        forced,
    }
}

/// Stops a service started by [`Service::bind`]; any number of them, beside its handle.
#[derive(Clone)]
pub struct ServiceControl {
    state: Arc<AppState>,
}

impl ServiceControl {
    /// Starts the graceful shutdown (idempotent): see the module documentation.
    pub fn shutdown(&self) {
        self.state.draining.store(true, Ordering::SeqCst);
        self.state.shutdown.send_replace(true);
    }

    /// Stops waiting for jobs (a second SIGTERM): starts the shutdown if it has not started,
    /// and every unfinished job sends `failed` at once; the service stops once they have, or
    /// after the abort grace.
    pub fn force_stop(&self) {
        self.shutdown();
        self.state.force.send_replace(true);
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
        self.control().shutdown();
    }

    /// Waits until the service has stopped (after [`ServiceHandle::shutdown`]).
    pub async fn wait(mut self) -> DrainReport {
        match self.task.take() {
            Some(task) => task.await.unwrap_or(DrainReport {
                drained: false,
                abandoned: *self.state.jobs.borrow(),
                forced: false,
            }),
            None => DrainReport {
                drained: true,
                abandoned: 0,
                forced: false,
            },
        }
    }

    /// Stops waiting for jobs (a second SIGTERM): see [`ServiceControl::force_stop`].
    pub fn force_stop(&self) {
        self.control().force_stop();
    }

    /// What stops the service while [`ServiceHandle::wait`] holds the handle.
    pub fn control(&self) -> ServiceControl {
        ServiceControl {
            state: Arc::clone(&self.state),
        }
    }

    /// Shuts down and waits.
    pub async fn stop(self) -> DrainReport {
        self.shutdown();
        self.wait().await
    }

    /// Jobs accepted and not finished. A job stops counting only after its place in the queue
    /// is free, so a request that comes after this reads 0 is admitted (unless shutting down).
    pub fn jobs_in_flight(&self) -> usize {
        *self.state.jobs.borrow()
    }
}

async fn healthz(State(state): State<Arc<AppState>>) -> Response {
    if state.draining.load(Ordering::SeqCst) {
        answer(StatusCode::SERVICE_UNAVAILABLE, "draining")
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
    let declared = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > state.max_body_bytes as u64) {
        tracing::warn!(bytes = declared, "request refused: body too large");
        return answer(StatusCode::PAYLOAD_TOO_LARGE, "request body too large\n");
    }
    let mut verifier = state.key.as_ref().map(HmacKey::verifier);
    let read = read_body(&state, body, declared, verifier.as_mut());
    let (bytes, _held) = match tokio::time::timeout(state.body_timeout, read).await {
        Err(_) => return answer(StatusCode::REQUEST_TIMEOUT, "request body too slow\n"),
        Ok(Err(refusal)) => return refusal.answer(),
        Ok(Ok(read)) => read,
    };
    handle(&state, &parts.headers, &bytes, verifier)
}

/// Why a request body was not read to its end.
#[derive(Debug, Clone, Copy)]
enum BodyRefusal {
    /// Over `max_body_bytes`.
    TooLarge,
    /// The body budget is spent.
    Busy,
    /// The connection failed or the framing was broken.
    Unreadable,
}

impl BodyRefusal {
    fn answer(self) -> Response {
        match self {
            BodyRefusal::TooLarge => {
                answer(StatusCode::PAYLOAD_TOO_LARGE, "request body too large\n")
            }
            BodyRefusal::Busy => answer(StatusCode::SERVICE_UNAVAILABLE, "busy, retry later\n"),
            BodyRefusal::Unreadable => {
                answer(StatusCode::BAD_REQUEST, "cannot read the request body\n")
            }
        }
    }
}

/// Reads a request body of at most `max_body_bytes` into memory, feeding `verifier` as it
/// goes, and holding a permit of the body budget for every byte held (released when the
/// returned permit is dropped, once the request is answered). Bodies beyond the budget are
/// refused with 503 before they are read: with the `Content-Length` they declare at once,
/// else as they grow.
async fn read_body(
    state: &AppState,
    mut body: axum::body::Body,
    declared: Option<u64>,
    mut verifier: Option<&mut Verifier>,
) -> Result<(Vec<u8>, Option<OwnedSemaphorePermit>), BodyRefusal> {
    let mut held: Option<OwnedSemaphorePermit> = None;
    let reserve = |held: &mut Option<OwnedSemaphorePermit>, total: usize| {
        let have = held.as_ref().map_or(0, OwnedSemaphorePermit::num_permits);
        if total <= have {
            return Ok(());
        }
        // At most `max_body_bytes` (1 MiB by default): fits a u32.
        let more = u32::try_from(total - have).unwrap_or(u32::MAX);
        match Arc::clone(&state.body_budget).try_acquire_many_owned(more) {
            Ok(permit) => {
                match held {
                    Some(held) => held.merge(permit),
                    None => *held = Some(permit),
                }
                Ok(())
            }
            Err(_) => {
                tracing::warn!(
                    bytes = total,
                    "request refused: request bodies in flight fill the body budget (503)"
                );
                Err(BodyRefusal::Busy)
            }
        }
    };
    let mut bytes = Vec::new();
    if let Some(declared) = declared {
        // No more than the limit, checked by the caller.
        let declared = declared as usize;
        reserve(&mut held, declared)?;
        bytes.reserve_exact(declared);
    }
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| {
            tracing::warn!(error = %e, "request refused: body not read");
            BodyRefusal::Unreadable
        })?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        let total = bytes.len() + data.len();
        if total > state.max_body_bytes {
            tracing::warn!(bytes = total, "request refused: body too large");
            return Err(BodyRefusal::TooLarge);
        }
        reserve(&mut held, total)?;
        if let Some(verifier) = verifier.as_deref_mut() {
            verifier.update(&data);
        }
        bytes.extend_from_slice(&data);
    }
    Ok((bytes, held))
}

/// Everything after the body is read: signature (its MAC fed while the body was read),
/// parsing, URL checks, admission.
fn handle(
    state: &Arc<AppState>,
    headers: &HeaderMap,
    body: &[u8],
    verifier: Option<Verifier>,
) -> Response {
    match verifier {
        Some(verifier) => {
            let signature = headers
                .get(SIGNATURE_HEADER)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            if signature.trim().is_empty() || !verifier.verify(signature) {
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
    // The duplicate check, the admission and the recording under one lock: the id is only
    // recorded once its job is really queued, so a duplicate delivery arriving meanwhile sees
    // either nothing (and meets the same full queue) or the queued job.
    let admitted = {
        let mut dedupe = state.dedupe.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        if dedupe.contains(&key, now) {
            None
        } else {
            match Arc::clone(&state.admission).try_acquire_owned() {
                Ok(permit) => {
                    dedupe.record(&key, now);
                    Some(Ok((permit, now)))
                }
                Err(_) => Some(Err(())),
            }
        }
    };
    let (permit, now) = match admitted {
        None => {
            tracing::info!("duplicate delivery of a task result: answered 200, no second job");
            return StatusCode::OK.into_response();
        }
        Some(Err(())) => {
            tracing::warn!("request refused: job queue full (503, TFC retries)");
            return answer(StatusCode::SERVICE_UNAVAILABLE, "busy, retry later\n");
        }
        Some(Ok(admitted)) => admitted,
    };
    state.jobs.send_modify(|n| *n += 1);
    let in_flight = InFlight {
        state: Arc::clone(state),
        admission: Some(permit),
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
        let mut d = Dedupe::new(Duration::from_secs(10), 3);
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

    #[test]
    fn dedupe_forgets_the_oldest_first_and_skips_stale_entries() {
        let start = Instant::now();
        let at = |ms| start + Duration::from_millis(ms);
        let mut d = Dedupe::new(Duration::from_secs(10), 2);
        assert!(d.insert("a", at(0)));
        assert!(d.insert("b", at(1)));
        d.remove("a");
        // "a"'s entry in the queue is stale: making room for "d" forgets "b", not "c".
        assert!(d.insert("c", at(2)));
        assert!(d.insert("d", at(3)));
        assert_eq!(d.seen.len(), 2);
        assert!(!d.insert("c", at(4)));
        assert!(!d.insert("d", at(4)));
        assert!(d.insert("b", at(5)), "forgotten at capacity");
        // Everything recorded before the TTL is forgotten, and the queue with it.
        assert!(d.insert("e", at(20_000)));
        assert_eq!(d.seen.len(), 1);
        assert_eq!(d.order.len(), 1);
        // At capacity, each insert stays cheap: 200,000 keys through a small window.
        let mut d = Dedupe::new(Duration::from_secs(3600), 1000);
        for i in 0..200_000u64 {
            assert!(d.insert(&i.to_string(), at(i / 1000)));
        }
        assert_eq!(d.seen.len(), 1000);
        assert!(d.order.len() <= 1000);
    }
}
