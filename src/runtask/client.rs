//! The service's HTTP client for HCP Terraform / Terraform Enterprise.
//!
//! Every request that carries the run's access token goes to the one configured TFC origin
//! (scheme, host and port): [`TfcClient::check_url`] refuses anything else before a job starts,
//! and each request checks again. Redirects are followed by hand (reqwest's policy is `none`),
//! so the `Authorization` header is only ever sent to that origin: the plan JSON endpoint
//! answers `307` to a short-lived pre-signed URL on another host (archivist), which is fetched
//! without the token, and once a redirect chain has left the TFC origin the token is not sent
//! again. Errors name hosts, never whole URLs (pre-signed URLs are credentials too).
//!
//! Downloads retry `204 No Content` (plan not ready), `429`, `5xx`, network errors and `4xx`
//! answers of a pre-signed URL (expired: the API URL is asked again) with a bounded exponential
//! backoff. Callbacks retry `429`, `5xx` and network errors the same way, give up at once on
//! `401`, and answer `422` by sending the result once more without its outcomes.

use std::fmt;
use std::hash::BuildHasher;
use std::path::Path;
use std::time::{Duration, Instant};

use reqwest::header::{ACCEPT, CONTENT_TYPE, LOCATION, RETRY_AFTER};
use reqwest::redirect::Policy;
use reqwest::{Client, StatusCode, Url};
use serde_json::Value;

use super::outcomes;
use super::request::AccessToken;

/// JSON:API media type of TFC's API.
pub const JSON_API: &str = "application/vnd.api+json";

/// A bounded exponential backoff: at most `attempts` tries, waits doubling from `initial` up to
/// `max_delay` (with up to 25% jitter), and no retry that would start after `budget`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backoff {
    pub attempts: u32,
    pub initial: Duration,
    pub max_delay: Duration,
    pub budget: Duration,
}

impl Backoff {
    /// The wait before retry number `retry` (0 = the first retry).
    pub fn delay(&self, retry: u32) -> Duration {
        let base = self
            .initial
            .saturating_mul(2u32.saturating_pow(retry.min(20)))
            .min(self.max_delay);
        base.mul_f64(0.75 + 0.25 * jitter())
    }

    /// Whether another try is allowed after `tries` tries that began `elapsed` ago, waiting
    /// `wait` first.
    fn allows(&self, tries: u32, elapsed: Duration, wait: Duration) -> bool {
        tries < self.attempts && elapsed + wait <= self.budget
    }

    /// One try, no retry.
    pub fn once() -> Backoff {
        Backoff {
            attempts: 1,
            initial: Duration::ZERO,
            max_delay: Duration::ZERO,
            budget: Duration::ZERO,
        }
    }
}

/// A number in [0, 1) that differs between calls (std's per-`RandomState` random keys).
fn jitter() -> f64 {
    let bits = std::collections::hash_map::RandomState::new().hash_one(0u8);
    (bits >> 11) as f64 / (1u64 << 53) as f64
}

/// Where and how the client talks to TFC.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// The TFC/TFE origin: the only one that gets the token. `https://app.terraform.io` for
    /// HCP Terraform.
    pub tfc_url: Url,
    pub connect_timeout: Duration,
    /// Whole-request timeout of one callback PATCH.
    pub request_timeout: Duration,
    /// Whole-request timeout (body included) of one download try.
    pub download_timeout: Duration,
    pub max_redirects: usize,
    /// Retries of plan and configuration downloads (204, 429, 5xx, network errors).
    pub download_retry: Backoff,
    /// Retries of the final callback (429, 5xx, network errors).
    pub callback_retry: Backoff,
}

impl ClientConfig {
    /// Production defaults for `tfc_url`: downloads up to 6 tries within 90 s, callbacks up to
    /// 5 tries within 60 s.
    pub fn new(tfc_url: Url) -> ClientConfig {
        ClientConfig {
            tfc_url,
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(15),
            download_timeout: Duration::from_secs(60),
            max_redirects: 5,
            download_retry: Backoff {
                attempts: 6,
                initial: Duration::from_secs(1),
                max_delay: Duration::from_secs(10),
                budget: Duration::from_secs(90),
            },
            callback_retry: Backoff {
                attempts: 5,
                initial: Duration::from_secs(1),
                max_delay: Duration::from_secs(16),
                budget: Duration::from_secs(60),
            },
        }
    }
}

/// A URL of a request that does not point at the configured TFC origin, or is not a URL.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field} {problem}")]
pub struct UrlError {
    pub field: &'static str,
    pub problem: String,
}

/// Why a download did not produce a body.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FetchError {
    #[error("HTTP {status} from {host}{hint}", hint = status_hint(*.status))]
    Status {
        status: u16,
        host: String,
        /// Answered by a redirect target rather than the TFC API itself.
        redirected: bool,
    },
    #[error("still not ready (HTTP 204 from {host}) after {tries} tries")]
    NotReady { host: String, tries: u32 },
    #[error("larger than the limit of {limit} bytes")]
    TooLarge { limit: u64 },
    #[error("cannot reach {host}: {message}")]
    Network { host: String, message: String },
    #[error("bad redirect from {host}: {message}")]
    Redirect { host: String, message: String },
    #[error("{0}")]
    Refused(String),
    #[error("cannot store the download: {0}")]
    Spool(String),
}

fn status_hint(status: u16) -> &'static str {
    match status {
        401 => " (the run's access token was refused)",
        403 => " (not allowed)",
        404 => " (not found)",
        422 => " (HCP Terraform has no JSON plan for this run; Terraform older than 0.12?)",
        429 => " (rate limited)",
        500..=599 => " (server error)",
        _ => "",
    }
}

impl FetchError {
    /// Worth another try: not ready, rate limited, server or network trouble, or a 4xx of a
    /// pre-signed URL (which expires after a minute; the API URL is asked again).
    fn is_transient(&self) -> bool {
        match self {
            FetchError::Status {
                status, redirected, ..
            } => *status == 429 || *status >= 500 || (*redirected && *status >= 400),
            FetchError::NotReady { .. } | FetchError::Network { .. } => true,
            _ => false,
        }
    }
}

/// Why a callback was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallbackError {
    #[error("HTTP 401 from {host}: the run's access token was refused (expired or revoked)")]
    Unauthorized { host: String },
    #[error("HTTP {status} from {host}: {detail}")]
    Rejected {
        status: u16,
        host: String,
        detail: String,
    },
    #[error("gave up after {tries} tries: {last}")]
    Exhausted { tries: u32, last: String },
    #[error("{0}")]
    Refused(String),
}

/// A callback TFC accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Delivered {
    pub tries: u32,
    /// TFC refused the outcomes (422) and took the result without them.
    pub without_outcomes: bool,
}

/// The HTTP client of the run task service. Cheap to clone.
#[derive(Debug, Clone)]
pub struct TfcClient {
    http: Client,
    config: std::sync::Arc<ClientConfig>,
}

/// `host` or `host:port` of a URL, for messages.
pub fn host_of(url: &Url) -> String {
    let host = url.host_str().unwrap_or("?");
    match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_string(),
    }
}

/// `scheme://host[:port]` of a URL, for messages.
pub fn origin_of(url: &Url) -> String {
    format!("{}://{}", url.scheme(), host_of(url))
}

/// Same scheme, host and port (default ports filled in).
pub fn same_origin(a: &Url, b: &Url) -> bool {
    matches!(a.scheme(), "http" | "https") && a.origin() == b.origin()
}

/// A reqwest error as text without its URL, with its innermost cause.
fn describe(error: reqwest::Error) -> String {
    let error = error.without_url();
    let kind = if error.is_timeout() {
        "timed out"
    } else if error.is_connect() {
        "connection failed"
    } else if error.is_body() || error.is_decode() {
        "reading the response failed"
    } else {
        "request failed"
    };
    let mut cause = None;
    let mut source = std::error::Error::source(&error);
    while let Some(inner) = source {
        cause = Some(inner.to_string());
        source = inner.source();
    }
    match cause {
        Some(cause) => format!("{kind}: {cause}"),
        None => kind.to_string(),
    }
}

enum Try {
    Body(std::fs::File),
    NotReady(String),
}

/// An anonymous temporary file for a download's body (in `dir`, else the system's temporary
/// directory): the plan and the configuration tarball can be hundreds of megabytes and are
/// streamed from there, so a job's memory does not grow with them. Unlinked at once: nothing
/// is left behind whatever happens to the process. Writes go to the page cache, so they do
/// not stall the async runtime in practice.
fn spool_file(dir: Option<&Path>) -> std::io::Result<std::fs::File> {
    match dir {
        Some(dir) => tempfile::tempfile_in(dir),
        None => tempfile::tempfile(),
    }
}

impl TfcClient {
    /// A client for `config`. Fails when the TLS backend cannot be set up.
    pub fn new(config: ClientConfig) -> Result<TfcClient, String> {
        if !matches!(config.tfc_url.scheme(), "http" | "https")
            || config.tfc_url.host_str().is_none()
        {
            return Err(format!(
                "the TFC URL must be http(s)://HOST[:PORT], not {}",
                config.tfc_url
            ));
        }
        let http = Client::builder()
            .redirect(Policy::none())
            .connect_timeout(config.connect_timeout)
            .user_agent(concat!(
                "portgate/",
                env!("CARGO_PKG_VERSION"),
                " (run task)"
            ))
            .build()
            .map_err(describe)?;
        Ok(TfcClient {
            http,
            config: std::sync::Arc::new(config),
        })
    }

    pub fn config(&self) -> &ClientConfig {
        &self.config
    }

    /// Whether `url` is on the configured TFC origin.
    pub fn is_tfc(&self, url: &Url) -> bool {
        same_origin(url, &self.config.tfc_url)
    }

    /// Parses a URL of a run task request and checks it is on the TFC origin, so the token can
    /// be sent to it.
    pub fn check_url(&self, field: &'static str, text: &str) -> Result<Url, UrlError> {
        let problem = |problem: String| UrlError { field, problem };
        let url = Url::parse(text.trim()).map_err(|e| problem(format!("is not a URL ({e})")))?;
        if !self.is_tfc(&url) {
            return Err(problem(format!(
                "points to {}, not to the configured TFC address {}",
                origin_of(&url),
                origin_of(&self.config.tfc_url)
            )));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(problem("carries credentials".to_string()));
        }
        Ok(url)
    }

    fn refuse_foreign(&self, url: &Url) -> Result<(), String> {
        if self.is_tfc(url) {
            Ok(())
        } else {
            Err(format!(
                "refusing to send the access token to {}: not the configured TFC address",
                origin_of(url)
            ))
        }
    }

    /// GETs `url` (on the TFC origin) with the bearer token, following redirects by hand, into
    /// an anonymous temporary file (in `dir`, else the system's temporary directory) of at
    /// most `max_bytes`, rewound to its start. Retries as the module documentation says.
    pub async fn download_to_file(
        &self,
        url: &Url,
        token: &AccessToken,
        max_bytes: u64,
        dir: Option<&Path>,
    ) -> Result<std::fs::File, FetchError> {
        let mut file = self.download_into(url, token, max_bytes, dir).await?;
        std::io::Seek::rewind(&mut file).map_err(|e| FetchError::Spool(e.to_string()))?;
        Ok(file)
    }

    async fn download_into(
        &self,
        url: &Url,
        token: &AccessToken,
        max_bytes: u64,
        dir: Option<&Path>,
    ) -> Result<std::fs::File, FetchError> {
        self.refuse_foreign(url).map_err(FetchError::Refused)?;
        let retry = &self.config.download_retry;
        let start = Instant::now();
        let mut tries = 0;
        loop {
            tries += 1;
            let error = match self.download_once(url, token, max_bytes, dir).await {
                Ok(Try::Body(body)) => return Ok(body),
                Ok(Try::NotReady(host)) => FetchError::NotReady { host, tries },
                Err(e) if e.is_transient() => e,
                Err(e) => return Err(e),
            };
            let wait = retry.delay(tries - 1);
            if !retry.allows(tries, start.elapsed(), wait) {
                return Err(error);
            }
            tracing::debug!(try_number = tries, error = %error, wait_ms = wait.as_millis() as u64, "download will be retried");
            tokio::time::sleep(wait).await;
        }
    }

    async fn download_once(
        &self,
        url: &Url,
        token: &AccessToken,
        max_bytes: u64,
        dir: Option<&Path>,
    ) -> Result<Try, FetchError> {
        let mut current = url.clone();
        // Once the chain leaves the TFC origin, the token is never sent again.
        let mut left_tfc = false;
        for hop in 0..=self.config.max_redirects {
            let host = host_of(&current);
            let mut request = self
                .http
                .get(current.clone())
                .timeout(self.config.download_timeout);
            if !left_tfc && self.is_tfc(&current) {
                request = request.bearer_auth(token.expose());
            } else {
                left_tfc = true;
            }
            let response = request.send().await.map_err(|e| FetchError::Network {
                host: host.clone(),
                message: describe(e),
            })?;
            let status = response.status();
            if status.is_redirection() && status != StatusCode::NOT_MODIFIED {
                let next = redirect_target(&current, &response).map_err(|message| {
                    FetchError::Redirect {
                        host: host.clone(),
                        message,
                    }
                })?;
                if !self.is_tfc(&next) {
                    left_tfc = true;
                }
                current = next;
                continue;
            }
            return match status {
                StatusCode::OK => {
                    let spool = spool_file(dir).map_err(|e| FetchError::Spool(e.to_string()))?;
                    read_limited(response, &host, max_bytes, spool)
                        .await
                        .map(Try::Body)
                }
                StatusCode::NO_CONTENT => Ok(Try::NotReady(host)),
                other => Err(FetchError::Status {
                    status: other.as_u16(),
                    host,
                    redirected: hop > 0,
                }),
            };
        }
        Err(FetchError::Redirect {
            host: host_of(&current),
            message: format!("more than {} redirects", self.config.max_redirects),
        })
    }

    /// PATCHes `body` to the callback URL with the bearer token, retrying with `retry`; a 422
    /// is answered by sending the body once more without outcomes.
    pub async fn callback(
        &self,
        url: &Url,
        token: &AccessToken,
        body: &Value,
        retry: &Backoff,
    ) -> Result<Delivered, CallbackError> {
        self.refuse_foreign(url).map_err(CallbackError::Refused)?;
        let host = host_of(url);
        let mut body = body.clone();
        let mut without_outcomes = false;
        let start = Instant::now();
        let mut tries = 0;
        loop {
            tries += 1;
            let bytes = serde_json::to_vec(&body).unwrap_or_default();
            let sent = self
                .http
                .patch(url.clone())
                .bearer_auth(token.expose())
                .header(CONTENT_TYPE, JSON_API)
                .header(ACCEPT, JSON_API)
                .timeout(self.config.request_timeout)
                .body(bytes)
                .send()
                .await;
            let (last, retry_after) = match sent {
                Ok(response) if response.status().is_success() => {
                    return Ok(Delivered {
                        tries,
                        without_outcomes,
                    });
                }
                Ok(response) => {
                    let status = response.status();
                    let retry_after = retry_after(&response);
                    match status.as_u16() {
                        401 => return Err(CallbackError::Unauthorized { host }),
                        422 => {
                            let detail = error_detail(response).await;
                            match outcomes::without_outcomes(&body) {
                                Some(stripped) if !without_outcomes => {
                                    tracing::warn!(%detail, "TFC refused the result with outcomes (422); sending it without outcomes");
                                    body = stripped;
                                    without_outcomes = true;
                                    continue;
                                }
                                _ => {
                                    return Err(CallbackError::Rejected {
                                        status: 422,
                                        host,
                                        detail,
                                    });
                                }
                            }
                        }
                        408 | 425 | 429 | 500..=599 => {
                            (format!("HTTP {} from {host}", status.as_u16()), retry_after)
                        }
                        other => {
                            let detail = error_detail(response).await;
                            return Err(CallbackError::Rejected {
                                status: other,
                                host,
                                detail,
                            });
                        }
                    }
                }
                Err(e) => (format!("cannot reach {host}: {}", describe(e)), None),
            };
            let wait = retry_after
                .filter(|d| *d <= retry.max_delay.max(retry.initial) * 4)
                .unwrap_or_else(|| retry.delay(tries - 1));
            if !retry.allows(tries, start.elapsed(), wait) {
                return Err(CallbackError::Exhausted { tries, last });
            }
            tracing::warn!(try_number = tries, error = %last, wait_ms = wait.as_millis() as u64, "callback will be retried");
            tokio::time::sleep(wait).await;
        }
    }
}

/// The absolute URL a redirect points to; only http(s), never from https down to http, and
/// never with credentials in it.
fn redirect_target(current: &Url, response: &reqwest::Response) -> Result<Url, String> {
    let location = response
        .headers()
        .get(LOCATION)
        .ok_or("no Location header")?
        .to_str()
        .map_err(|_| "the Location header is not text".to_string())?;
    let next = current
        .join(location)
        .map_err(|e| format!("the Location header is not a URL ({e})"))?;
    if !matches!(next.scheme(), "http" | "https") {
        return Err(format!("redirect to a {} URL", next.scheme()));
    }
    if current.scheme() == "https" && next.scheme() == "http" {
        return Err("redirect from https to plain http".to_string());
    }
    // The HTTP client would turn them into a Basic `Authorization` header, replacing the
    // bearer token on the TFC origin: a redirect must not choose the credentials sent.
    if !next.username().is_empty() || next.password().is_some() {
        return Err("redirect to a URL that carries credentials".to_string());
    }
    Ok(next)
}

/// `Retry-After` in seconds, when given that way.
fn retry_after(response: &reqwest::Response) -> Option<Duration> {
    let seconds: u64 = response
        .headers()
        .get(RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()?;
    Some(Duration::from_secs(seconds))
}

/// The start of an error response (a JSON:API error object), for logs and messages.
async fn error_detail(response: reqwest::Response) -> String {
    let text = match tokio::time::timeout(Duration::from_secs(5), response.text()).await {
        Ok(Ok(text)) => text,
        _ => String::new(),
    };
    let text: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if text.is_empty() {
        "no details".to_string()
    } else {
        outcomes::truncate(&text, 500)
    }
}

/// Reads a response body, refusing more than `max_bytes`.
async fn read_limited(
    mut response: reqwest::Response,
    host: &str,
    max_bytes: u64,
    mut body: std::fs::File,
) -> Result<std::fs::File, FetchError> {
    if response.content_length().is_some_and(|n| n > max_bytes) {
        return Err(FetchError::TooLarge { limit: max_bytes });
    }
    let mut length = 0u64;
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                length += chunk.len() as u64;
                if length > max_bytes {
                    return Err(FetchError::TooLarge { limit: max_bytes });
                }
                std::io::Write::write_all(&mut body, &chunk)
                    .map_err(|e| FetchError::Spool(e.to_string()))?;
            }
            Ok(None) => return Ok(body),
            Err(e) => {
                return Err(FetchError::Network {
                    host: host.to_string(),
                    message: describe(e),
                });
            }
        }
    }
}

impl fmt::Display for Delivered {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "delivered after {} tr{}{}",
            self.tries,
            if self.tries == 1 { "y" } else { "ies" },
            if self.without_outcomes {
                ", without outcomes"
            } else {
                ""
            }
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(tfc: &str) -> TfcClient {
        TfcClient::new(ClientConfig::new(Url::parse(tfc).unwrap())).unwrap()
    }

    #[test]
    fn only_urls_on_the_tfc_origin_pass() {
        let c = client("https://app.terraform.io");
        assert!(
            c.check_url("u", "https://app.terraform.io/api/v2/x")
                .is_ok()
        );
        assert!(
            c.check_url("u", "https://APP.terraform.io:443/api").is_ok(),
            "case and default port"
        );
        for bad in [
            "http://app.terraform.io/api",
            "https://app.terraform.io:8443/api",
            "https://app.terraform.io.evil.example/api",
            "https://evil.example/api",
            "https://user:pw@app.terraform.io/api",
            "file:///etc/passwd",
            "not a url",
        ] {
            assert!(c.check_url("u", bad).is_err(), "{bad}");
        }
        let local = client("http://127.0.0.1:8080");
        assert!(local.check_url("u", "http://127.0.0.1:8080/cb").is_ok());
        assert!(local.check_url("u", "http://127.0.0.1:8081/cb").is_err());
        assert!(local.check_url("u", "http://localhost:8080/cb").is_err());
    }

    #[test]
    fn backoff_doubles_up_to_its_cap_and_respects_its_budget() {
        let b = Backoff {
            attempts: 5,
            initial: Duration::from_millis(100),
            max_delay: Duration::from_millis(300),
            budget: Duration::from_secs(1),
        };
        assert!(
            b.delay(0) >= Duration::from_millis(75) && b.delay(0) <= Duration::from_millis(100)
        );
        assert!(b.delay(1) >= Duration::from_millis(150));
        assert!(b.delay(9) <= Duration::from_millis(300));
        let ms = Duration::from_millis;
        assert!(b.allows(4, ms(0), ms(10)));
        assert!(!b.allows(5, ms(0), ms(10)), "attempts");
        assert!(b.allows(1, ms(990), ms(10)), "just within the budget");
        assert!(!b.allows(1, ms(991), ms(10)), "past the budget");
        assert!(!b.allows(1, ms(0), Duration::from_secs(2)));
        assert!(!Backoff::once().allows(1, ms(0), Duration::ZERO));
    }

    #[test]
    fn errors_name_hosts_and_hint_at_the_cause() {
        let e = FetchError::Status {
            status: 404,
            host: "app.terraform.io".into(),
            redirected: false,
        };
        assert_eq!(e.to_string(), "HTTP 404 from app.terraform.io (not found)");
        assert!(!e.is_transient());
        assert!(
            FetchError::Status {
                status: 403,
                host: "archivist".into(),
                redirected: true
            }
            .is_transient()
        );
    }
}
