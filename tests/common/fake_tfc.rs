//! A fake HCP Terraform for the run task tests: an API listener plus a second "archivist"
//! listener on another port (so another origin, as HCP Terraform's pre-signed download URLs
//! are), both on 127.0.0.1, recording every request they get.
//!
//! API routes: `GET /api/v2/plans/ID/json-output` (answers as [`PlanMode`] says; normally 307
//! to the archivist), `GET /api/v2/configuration-versions/ID/download` (302 to the archivist
//! when a tarball is set, else 404) and `PATCH /api/v2/task-results/ID/callback` (answers the
//! next of [`FakeState::callback_statuses`], else 200). The archivist serves `/archive/plan` and
//! `/archive/config.tar.gz`.
//!
//! Faults: connections are accepted by hand, so a request can be answered by misbehaving at the
//! TCP level instead of over HTTP: [`FakeState::reset_callbacks`] PATCHes are read and then
//! answered with a TCP reset, and [`FakeState::cut_plan_downloads`] plan downloads get their
//! headers and half the body before a reset. Every other connection is served by hyper without
//! keep-alive, so each request comes on its own connection and can be picked for a fault.
//!
//! The listeners are tasks of the test's runtime: they stop when the test's runtime ends.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// One request the fake received.
#[derive(Debug, Clone)]
pub struct Seen {
    /// `api` or `archivist`.
    pub server: &'static str,
    pub method: String,
    pub path: String,
    pub authorization: Option<String>,
    pub content_type: Option<String>,
    pub body: Vec<u8>,
    pub at: Instant,
    /// The status the fake answered with; `None` when it reset the connection instead.
    pub answer: Option<u16>,
    /// The `status` of a callback PATCH (`running`, `passed`, `failed`).
    pub status: Option<String>,
}

impl Seen {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }

    /// A PATCH of the final (passed/failed) result, delivered or not.
    pub fn is_final_try(&self) -> bool {
        self.method == "PATCH" && self.status.as_deref() != Some("running")
    }

    /// A PATCH of the `running` update, delivered or not.
    pub fn is_running_update(&self) -> bool {
        self.method == "PATCH" && self.status.as_deref() == Some("running")
    }

    /// Answered with a 2xx status.
    pub fn delivered(&self) -> bool {
        self.answer.is_some_and(|s| (200..300).contains(&s))
    }

    /// `ID` of `/api/v2/task-results/ID/callback`, `/api/v2/plans/ID/json-output` or
    /// `/api/v2/configuration-versions/ID/download`.
    pub fn id(&self) -> Option<&str> {
        let rest = self
            .path
            .strip_prefix("/api/v2/task-results/")
            .or_else(|| self.path.strip_prefix("/api/v2/plans/"))
            .or_else(|| self.path.strip_prefix("/api/v2/configuration-versions/"))?;
        rest.split('/').next()
    }
}

#[derive(Debug, Clone)]
pub enum PlanMode {
    /// 307 to the archivist, which serves the plan.
    Redirect,
    /// This status from the API.
    Status(u16),
    /// 204 this many times, then 307.
    NotReady(usize),
    /// Wait until [`FakeTfc::release_plans`], then 307: the job cannot get past its plan
    /// request before the test lets it, however fast or slow the machine is.
    Held,
    /// 307 to this `Location`, whatever it is.
    Location(String),
}

pub struct FakeState {
    pub plan: Vec<u8>,
    pub plan_mode: PlanMode,
    pub tarball: Option<Vec<u8>>,
    /// Statuses of the next callback PATCHes; 200 when empty.
    pub callback_statuses: VecDeque<u16>,
    pub plan_api_gets: usize,
    pub seen: Vec<Seen>,
    /// The next this many callback PATCHes are read and then answered with a TCP reset.
    pub reset_callbacks: usize,
    /// The next this many plan downloads from the archivist get their headers and half the
    /// body, then a TCP reset.
    pub cut_plan_downloads: usize,
    /// Plan downloads the archivist is serving now, and the most at once.
    pub plan_downloads_in_flight: usize,
    pub max_plan_downloads_in_flight: usize,
    archivist: Option<SocketAddr>,
    release: watch::Sender<bool>,
    /// False: the archivist holds plan downloads until [`FakeTfc::release_downloads`].
    downloads_open: watch::Sender<bool>,
}

pub type Shared = Arc<Mutex<FakeState>>;

pub struct FakeTfc {
    pub api: SocketAddr,
    pub archivist: SocketAddr,
    pub state: Shared,
}

impl FakeTfc {
    /// Starts both listeners; the archivist serves `plan`.
    pub async fn start(plan: Vec<u8>) -> FakeTfc {
        let state = Arc::new(Mutex::new(FakeState {
            plan,
            plan_mode: PlanMode::Redirect,
            tarball: None,
            callback_statuses: VecDeque::new(),
            plan_api_gets: 0,
            seen: Vec::new(),
            reset_callbacks: 0,
            cut_plan_downloads: 0,
            plan_downloads_in_flight: 0,
            max_plan_downloads_in_flight: 0,
            archivist: None,
            release: watch::Sender::new(false),
            downloads_open: watch::Sender::new(true),
        }));
        let api = listen(
            Router::new().fallback(api).with_state(Arc::clone(&state)),
            Arc::clone(&state),
            "api",
        )
        .await;
        let archivist = listen(
            Router::new()
                .fallback(archivist)
                .with_state(Arc::clone(&state)),
            Arc::clone(&state),
            "archivist",
        )
        .await;
        state.lock().unwrap().archivist = Some(archivist);
        FakeTfc {
            api,
            archivist,
            state,
        }
    }

    pub fn set(&self, change: impl FnOnce(&mut FakeState)) {
        change(&mut self.state.lock().unwrap());
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.state.lock().unwrap().seen.clone()
    }

    /// How many requests received so far match (without copying them).
    pub fn count(&self, matches: impl Fn(&Seen) -> bool) -> usize {
        self.state
            .lock()
            .unwrap()
            .seen
            .iter()
            .filter(|s| matches(s))
            .count()
    }

    /// The callback PATCHes that got an HTTP answer.
    pub fn callbacks(&self) -> Vec<Seen> {
        self.seen()
            .into_iter()
            .filter(|s| s.method == "PATCH" && s.answer.is_some())
            .collect()
    }

    /// The final (passed/failed) callbacks that got an HTTP answer.
    pub fn finals(&self) -> Vec<Seen> {
        self.callbacks()
            .into_iter()
            .filter(Seen::is_final_try)
            .collect()
    }

    /// Waits for the first final callback.
    pub async fn final_result(&self) -> Value {
        super::wait_until("a final callback", || !self.finals().is_empty()).await;
        self.finals()[0].json()
    }

    pub fn plan_api_gets(&self) -> usize {
        self.state.lock().unwrap().plan_api_gets
    }

    /// Lets plan requests held by [`PlanMode::Held`] go on.
    pub fn release_plans(&self) {
        self.state.lock().unwrap().release.send_replace(true);
    }

    /// From now on the archivist holds every plan download (after counting it in
    /// [`FakeState::plan_downloads_in_flight`]) until [`FakeTfc::release_downloads`].
    pub fn hold_downloads(&self) {
        self.state
            .lock()
            .unwrap()
            .downloads_open
            .send_replace(false);
    }

    /// Lets held plan downloads go on, and every later one too.
    pub fn release_downloads(&self) {
        self.state.lock().unwrap().downloads_open.send_replace(true);
    }

    /// Plan downloads the archivist has answered.
    pub fn plan_downloads_answered(&self) -> usize {
        self.count(|s| s.server == "archivist" && s.path == "/archive/plan" && s.answer.is_some())
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.api)
    }
}

/// Serves `router` on a free port of 127.0.0.1, connection by connection, so that a fault can
/// take over a connection instead.
async fn listen(router: Router, state: Shared, server: &'static str) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            tokio::spawn(connection(
                stream,
                router.clone(),
                Arc::clone(&state),
                server,
            ));
        }
    });
    addr
}

#[derive(Debug, Clone, Copy)]
enum Fault {
    /// Read the request, then reset the connection without an answer.
    Reset,
    /// Read the request, send the headers and half the plan, then reset.
    CutBody,
}

async fn connection(stream: TcpStream, router: Router, state: Shared, server: &'static str) {
    let Some(line) = request_line(&stream).await else {
        return;
    };
    let fault = {
        let mut s = state.lock().unwrap();
        if server == "api" && line.starts_with("PATCH ") && s.reset_callbacks > 0 {
            s.reset_callbacks -= 1;
            Some(Fault::Reset)
        } else if server == "archivist"
            && line.starts_with("GET /archive/plan")
            && s.cut_plan_downloads > 0
        {
            s.cut_plan_downloads -= 1;
            Some(Fault::CutBody)
        } else {
            None
        }
    };
    match fault {
        Some(fault) => misbehave(stream, &state, server, fault).await,
        None => {
            let service = hyper_util::service::TowerToHyperService::new(router);
            let _ = hyper::server::conn::http1::Builder::new()
                .keep_alive(false)
                .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                .await;
        }
    }
}

/// The request line of the next request on `stream`, without reading it (`None`: the
/// connection closed first).
async fn request_line(stream: &TcpStream) -> Option<String> {
    let mut buf = [0u8; 1024];
    loop {
        let n = stream.peek(&mut buf).await.ok()?;
        if n == 0 {
            return None;
        }
        if let Some(end) = buf[..n].windows(2).position(|w| w == b"\r\n") {
            return Some(String::from_utf8_lossy(&buf[..end]).into_owned());
        }
        if n == buf.len() {
            return Some(String::from_utf8_lossy(&buf[..n]).into_owned());
        }
        // Part of the line is here: peek again once more has arrived.
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// Waits until the peer's kernel has acknowledged every byte written to `stream` (the send
/// queue is empty), so a reset that follows cannot discard data still waiting to be sent.
async fn wait_until_sent(stream: &TcpStream) {
    use std::os::fd::AsRawFd;
    loop {
        let mut queued: libc::c_int = 0;
        // SAFETY: TIOCOUTQ (SIOCOUTQ for TCP) writes one int through the pointer.
        let ok = unsafe { libc::ioctl(stream.as_raw_fd(), libc::TIOCOUTQ, &mut queued) } == 0;
        if !ok || queued == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// Reads one whole request (head and `Content-Length` body) by hand.
async fn read_request(stream: &mut TcpStream, server: &'static str) -> Option<Seen> {
    let mut data = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(end) = data.windows(4).position(|w| w == b"\r\n\r\n") {
            break end;
        }
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 || data.len() > 1024 * 1024 {
            return None;
        }
        data.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&data[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut request_line = lines.next()?.split(' ');
    let method = request_line.next()?.to_string();
    let target = request_line.next()?;
    let path = target.split('?').next()?.to_string();
    let mut headers = Vec::new();
    for line in lines {
        let (name, value) = line.split_once(':')?;
        headers.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
    }
    let header = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
    };
    let length: usize = header("content-length").map_or(0, |v| v.parse().unwrap_or(0));
    let mut body = data[head_end + 4..].to_vec();
    while body.len() < length {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    Some(Seen {
        server,
        path,
        authorization: header("authorization"),
        content_type: header("content-type"),
        status: callback_status(&method, &body),
        method,
        body,
        at: Instant::now(),
        answer: None,
    })
}

/// The `status` of a callback PATCH.
fn callback_status(method: &str, body: &[u8]) -> Option<String> {
    if method != "PATCH" {
        return None;
    }
    let result: Value = serde_json::from_slice(body).ok()?;
    Some(result["data"]["attributes"]["status"].as_str()?.to_string())
}

async fn misbehave(mut stream: TcpStream, state: &Shared, server: &'static str, fault: Fault) {
    let Some(seen) = read_request(&mut stream, server).await else {
        return;
    };
    let plan = {
        let mut s = state.lock().unwrap();
        s.seen.push(seen);
        s.plan.clone()
    };
    if let Fault::CutBody = fault {
        let head = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
            plan.len()
        );
        let _ = stream.write_all(head.as_bytes()).await;
        let _ = stream.write_all(&plan[..plan.len() / 2]).await;
        let _ = stream.flush().await;
        // The client has the headers and part of the body before the reset (data that has
        // arrived stays readable before the reset's error).
        wait_until_sent(&stream).await;
    }
    // SO_LINGER 0: closing sends a TCP reset instead of a FIN.
    let _ = stream.set_zero_linger();
    drop(stream);
}

async fn record(server: &'static str, request: Request) -> Seen {
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, 64 * 1024 * 1024).await.unwrap();
    let header = |name: header::HeaderName| {
        parts
            .headers
            .get(name)
            .map(|v| v.to_str().unwrap().to_string())
    };
    let method = parts.method.to_string();
    Seen {
        server,
        status: callback_status(&method, &body),
        method,
        path: parts.uri.path().to_string(),
        authorization: header(header::AUTHORIZATION),
        content_type: header(header::CONTENT_TYPE),
        body: body.to_vec(),
        at: Instant::now(),
        answer: None,
    }
}

/// Records `seen` with the status of `response`.
fn answered(state: &Shared, mut seen: Seen, response: Response) -> Response {
    seen.answer = Some(response.status().as_u16());
    state.lock().unwrap().seen.push(seen);
    response
}

fn redirect(status: StatusCode, to: String) -> Response {
    (status, [(header::LOCATION, to)]).into_response()
}

async fn api(State(state): State<Shared>, request: Request) -> Response {
    let seen = record("api", request).await;
    let response = api_answer(&state, &seen).await;
    answered(&state, seen, response)
}

async fn api_answer(state: &Shared, seen: &Seen) -> Response {
    let archivist = state.lock().unwrap().archivist.unwrap();
    let path = seen.path.as_str();
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match (seen.method.as_str(), segments.as_slice()) {
        ("GET", ["api", "v2", "plans", _, "json-output"]) => {
            let (mode, gets, mut release) = {
                let mut s = state.lock().unwrap();
                s.plan_api_gets += 1;
                (s.plan_mode.clone(), s.plan_api_gets, s.release.subscribe())
            };
            let to_archivist = || {
                redirect(
                    StatusCode::TEMPORARY_REDIRECT,
                    format!("http://{archivist}/archive/plan?signature=presigned"),
                )
            };
            match mode {
                PlanMode::Redirect => to_archivist(),
                PlanMode::Status(status) => (
                    StatusCode::from_u16(status).unwrap(),
                    r#"{"errors":[{"status":"x"}]}"#,
                )
                    .into_response(),
                PlanMode::NotReady(n) if gets <= n => StatusCode::NO_CONTENT.into_response(),
                PlanMode::NotReady(_) => to_archivist(),
                PlanMode::Held => {
                    let _ = release.wait_for(|go| *go).await;
                    to_archivist()
                }
                PlanMode::Location(to) => redirect(StatusCode::TEMPORARY_REDIRECT, to),
            }
        }
        ("GET", ["api", "v2", "configuration-versions", _, "download"]) => {
            if state.lock().unwrap().tarball.is_some() {
                redirect(
                    StatusCode::FOUND,
                    format!("http://{archivist}/archive/config.tar.gz?signature=presigned"),
                )
            } else {
                StatusCode::NOT_FOUND.into_response()
            }
        }
        ("PATCH", ["api", "v2", "task-results", _, "callback"]) => {
            let status = state
                .lock()
                .unwrap()
                .callback_statuses
                .pop_front()
                .unwrap_or(200);
            (StatusCode::from_u16(status).unwrap(), "").into_response()
        }
        _ => StatusCode::NOT_FOUND.into_response(),
    }
}

/// Counts a plan download from its start until it is answered or abandoned.
struct PlanDownload(Shared);

impl PlanDownload {
    fn start(state: &Shared) -> PlanDownload {
        let mut s = state.lock().unwrap();
        s.plan_downloads_in_flight += 1;
        s.max_plan_downloads_in_flight = s
            .max_plan_downloads_in_flight
            .max(s.plan_downloads_in_flight);
        PlanDownload(Arc::clone(state))
    }
}

impl Drop for PlanDownload {
    fn drop(&mut self) {
        self.0.lock().unwrap().plan_downloads_in_flight -= 1;
    }
}

async fn archivist(State(state): State<Shared>, request: Request) -> Response {
    let seen = record("archivist", request).await;
    let response = match seen.path.as_str() {
        "/archive/plan" => {
            let _counted = PlanDownload::start(&state);
            let mut open = state.lock().unwrap().downloads_open.subscribe();
            let _ = open.wait_for(|open| *open).await;
            (StatusCode::OK, state.lock().unwrap().plan.clone()).into_response()
        }
        "/archive/config.tar.gz" => match &state.lock().unwrap().tarball {
            Some(bytes) => (StatusCode::OK, bytes.clone()).into_response(),
            None => StatusCode::NOT_FOUND.into_response(),
        },
        _ => StatusCode::NOT_FOUND.into_response(),
    };
    answered(&state, seen, response)
}
