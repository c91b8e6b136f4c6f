//! `portgate serve`: the HMAC key, the TFC origin, logging, the runtime and the signals of the
//! run task service (the service itself is [`crate::runtask`]).

use std::io;

use super::super::flags::Gate;
use super::super::{EXIT_ERROR, EXIT_FINDINGS, EXIT_PASS};
use super::{HealthcheckArgs, LogFormat, ServeArgs};
use crate::Error;
use crate::config::ConfigError;
use crate::runtask::job::Checker;
use crate::runtask::server::{Service, ServiceConfig};
use crate::runtask::signature::HmacKey;

/// The environment variable that can hold the run task's HMAC key.
pub const HMAC_KEY_ENV: &str = "PORTGATE_HMAC_KEY";

/// The HMAC key of `portgate serve`: from the file, else the environment; none only with
/// `--insecure-no-hmac`.
fn serve_hmac_key(
    args: &ServeArgs,
    env: Option<std::ffi::OsString>,
) -> Result<Option<HmacKey>, Error> {
    let env = env.filter(|v| !v.is_empty());
    let key = match (&args.hmac_key_file, env) {
        (Some(_), Some(_)) => {
            return Err(Error::Usage(format!(
                "both --hmac-key-file and {HMAC_KEY_ENV} are set; give the HMAC key one way"
            )));
        }
        (Some(path), None) => {
            let shown = path.display().to_string();
            let bytes = std::fs::read(path).map_err(|e| Error::Io {
                path: shown.clone(),
                message: format!("cannot read the HMAC key file: {e}"),
            })?;
            warn_if_readable_by_others(path);
            Some(HmacKey::from_text(&bytes).ok_or_else(|| Error::Io {
                path: shown,
                message: "the HMAC key file is empty".to_string(),
            })?)
        }
        (None, Some(value)) => HmacKey::from_text(value.as_encoded_bytes()),
        (None, None) => None,
    };
    match (key, args.insecure_no_hmac) {
        (Some(_), true) => Err(Error::Usage(format!(
            "--insecure-no-hmac turns signature checks off, but an HMAC key is given (--hmac-key-file or {HMAC_KEY_ENV}); drop one of them"
        ))),
        (None, false) => Err(Error::Usage(format!(
            "portgate serve needs the run task's HMAC key to verify requests: pass --hmac-key-file PATH or set {HMAC_KEY_ENV} (the key entered on the run task in HCP Terraform). For a local trial only, --insecure-no-hmac runs without one"
        ))),
        (key, _) => Ok(key),
    }
}

#[cfg(unix)]
fn warn_if_readable_by_others(path: &std::path::Path) {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(meta) = std::fs::metadata(path)
        && meta.permissions().mode() & 0o004 != 0
    {
        tracing::warn!(file = %path.display(), "the HMAC key file is readable by every user; chmod 600 it");
    }
}

#[cfg(not(unix))]
fn warn_if_readable_by_others(_path: &std::path::Path) {}

/// `--tfc-url`: `http(s)://HOST[:PORT]`, nothing more.
fn tfc_origin(text: &str) -> Result<reqwest::Url, Error> {
    let bad = |message: &str| {
        Error::Config(ConfigError::Flag {
            flag: "--tfc-url",
            value: text.to_string(),
            message: message.to_string(),
        })
    };
    let url = reqwest::Url::parse(text.trim())
        .map_err(|_| bad("not a URL (expected e.g. https://app.terraform.io)"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(bad("must be http(s)://HOST[:PORT]"));
    }
    if !url.username().is_empty()
        || url.password().is_some()
        || url.path() != "/"
        || url.query().is_some()
        || url.fragment().is_some()
    {
        return Err(bad(
            "give only the scheme, host and port (e.g. https://tfe.example.com)",
        ));
    }
    Ok(url)
}

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let ansi = io::IsTerminal::is_terminal(&io::stderr())
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(io::stderr);
    // A second initialisation (tests running the CLI twice in one process) keeps the first.
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .try_init(),
    };
}

pub(in crate::cli) fn run_serve(args: &ServeArgs) -> Result<u8, Error> {
    init_logging(args.log_format);
    let key = serve_hmac_key(args, std::env::var_os(HMAC_KEY_ENV))?;
    let tfc_url = tfc_origin(&args.tfc_url)?;
    // The date is set again for each job (waivers expire while the service runs).
    let Gate {
        config,
        policies,
        trusted,
        trusted_vpc,
        options,
    } = args.gate.resolve(time::OffsetDateTime::now_utc().date())?;
    if let Some(dir) = &args.work_dir
        && !dir.is_dir()
    {
        return Err(Error::Io {
            path: dir.display().to_string(),
            message: "--work-dir must be an existing directory".to_string(),
        });
    }
    if let Some(path) = &config.path {
        tracing::info!(config = %path.display(), "settings read");
    }
    for warning in crate::config::check_trusted_set(&trusted).unwrap_or_default() {
        tracing::warn!("{warning}");
    }
    let checker = Checker {
        policies,
        options,
        trusted,
        trusted_vpc,
    };
    let mut service = ServiceConfig::new(tfc_url, key, checker);
    service.listen = args.listen;
    service.max_concurrent = args.max_concurrent as usize;
    service.max_queue = args.max_queue as usize;
    service.drain_timeout = args.drain_timeout;
    service.jobs.timeout = args.job_timeout;
    service.jobs.max_plan_bytes = args.max_plan_mib * 1024 * 1024;
    service.jobs.work_dir = args.work_dir.clone();
    if let Some(n) = args.max_connections {
        service.max_connections = n as usize;
    }
    service.max_body_buffer_bytes = (args.max_body_buffer_mib * 1024 * 1024) as usize;
    service.jobs.max_source_bytes = args.max_config_mib * 1024 * 1024;

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("portgate-serve")
        .build()
        .map_err(|e| Error::Io {
            path: "<runtime>".to_string(),
            message: format!("cannot start the async runtime: {e}"),
        })?;
    let result = runtime.block_on(serve(service));
    // Checks still running on the blocking pool (abandoned jobs) do not hold up the exit.
    runtime.shutdown_timeout(std::time::Duration::from_secs(2));
    result
}

async fn serve(service: ServiceConfig) -> Result<u8, Error> {
    let insecure = service.hmac_key.is_none();
    let tfc = service.client.tfc_url.to_string();
    let trusted = service.checker.trusted.len();
    let (max_concurrent, max_queue) = (service.max_concurrent, service.max_queue);
    let listen = service.listen;
    let mut signals = StopSignals::new();
    let (addr, handle) = Service::bind(service).await.map_err(|e| Error::Io {
        path: listen.to_string(),
        message: e.to_string(),
    })?;
    if insecure {
        tracing::warn!("--insecure-no-hmac: request signatures are NOT verified");
    }
    tracing::info!(
        %addr,
        tfc = %tfc,
        trusted_cidrs = trusted,
        max_concurrent,
        max_queue,
        "portgate serve listening"
    );
    signals.recv().await;
    tracing::info!(
        "signal received: draining (new requests get 503; a second signal stops waiting for jobs)"
    );
    let control = handle.control();
    control.shutdown();
    let wait = handle.wait();
    tokio::pin!(wait);
    let report = tokio::select! {
        report = &mut wait => report,
        () = signals.recv() => {
            tracing::warn!("second signal: unfinished jobs report failed; stopping");
            control.force_stop();
            wait.await
        }
    };
    if !report.drained {
        tracing::warn!(
            abandoned = report.abandoned,
            "stopped before every job finished"
        );
    }
    // A stop that did not wait for every job is not a clean exit: whoever sent the second
    // signal (or a supervisor) sees it.
    Ok(if report.forced { EXIT_ERROR } else { EXIT_PASS })
}

/// SIGINT (Ctrl-C) and, on Unix, SIGTERM, listened to from creation on: a signal that comes
/// before the service is waiting for one still counts (not the default action, which would
/// kill the process without draining).
struct StopSignals {
    #[cfg(unix)]
    terminate: Option<tokio::signal::unix::Signal>,
    #[cfg(unix)]
    interrupt: Option<tokio::signal::unix::Signal>,
}

impl StopSignals {
    fn new() -> StopSignals {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            StopSignals {
                terminate: signal(SignalKind::terminate()).ok(),
                interrupt: signal(SignalKind::interrupt()).ok(),
            }
        }
        #[cfg(not(unix))]
        StopSignals {}
    }

    /// The next signal.
    async fn recv(&mut self) {
        #[cfg(unix)]
        {
            async fn next(signal: &mut Option<tokio::signal::unix::Signal>) {
                match signal {
                    Some(signal) => {
                        signal.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            }
            tokio::select! {
                () = next(&mut self.terminate) => {}
                () = next(&mut self.interrupt) => {}
            }
        }
        #[cfg(not(unix))]
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

/// `portgate healthcheck URL`: one plain-HTTP GET; 0 for a 200, 1 for anything else (Docker's
/// and most probes' meaning), with the status or the error on stdout. Written on the standard
/// library: it runs every few seconds in the container, and needs no TLS (the probe is local).
pub(in crate::cli) fn run_healthcheck(
    args: &HealthcheckArgs,
    stdout: &mut dyn io::Write,
) -> Result<u8, Error> {
    use std::io::{Read, Write};
    let usage = |message: String| Error::Usage(format!("healthcheck {}: {message}", args.url));
    let url = reqwest::Url::parse(&args.url).map_err(|e| usage(format!("not a URL ({e})")))?;
    if url.scheme() != "http" {
        return Err(usage(
            "only plain http:// (the check runs beside the service, inside TLS)".to_string(),
        ));
    }
    let host = url.host_str().ok_or_else(|| usage("no host".to_string()))?;
    let port = url.port_or_known_default().unwrap_or(80);
    let target = match url.query() {
        Some(query) => format!("{}?{query}", url.path()),
        None => url.path().to_string(),
    };
    let answer = (|| -> io::Result<String> {
        let address = std::net::ToSocketAddrs::to_socket_addrs(&(host, port))?
            .next()
            .ok_or_else(|| io::Error::other("the host has no address"))?;
        let mut stream = std::net::TcpStream::connect_timeout(&address, args.timeout)?;
        stream.set_read_timeout(Some(args.timeout))?;
        stream.set_write_timeout(Some(args.timeout))?;
        write!(
            stream,
            "GET {target} HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\nUser-Agent: portgate-healthcheck\r\n\r\n"
        )?;
        let mut head = Vec::new();
        stream.take(8 * 1024).read_to_end(&mut head)?;
        let text = String::from_utf8_lossy(&head);
        Ok(text.lines().next().unwrap_or("").to_string())
    })();
    let (line, healthy) = match answer {
        Ok(status) => {
            let healthy = status.split_whitespace().nth(1) == Some("200");
            (status, healthy)
        }
        Err(e) => (format!("no answer: {e}"), false),
    };
    super::super::ignore_broken_pipe(writeln!(stdout, "{}: {line}", args.url))?;
    Ok(if healthy { EXIT_PASS } else { EXIT_FINDINGS })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{Cli, Command};
    use clap::Parser;

    #[test]
    fn the_tfc_url_is_a_bare_origin() {
        assert!(tfc_origin("https://app.terraform.io").is_ok());
        assert!(tfc_origin("https://tfe.example.com:8443/").is_ok());
        assert!(tfc_origin("http://127.0.0.1:8080").is_ok());
        for bad in [
            "app.terraform.io",
            "ftp://tfe.example.com",
            "https://tfe.example.com/api/v2",
            "https://user@tfe.example.com",
            "https://tfe.example.com/?x=1",
        ] {
            assert!(tfc_origin(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_hmac_key_comes_from_one_place_or_insecure_is_explicit() {
        let args = |extra: &[&str]| {
            let mut argv = vec!["portgate", "serve"];
            argv.extend_from_slice(extra);
            match Cli::try_parse_from(argv).unwrap().command {
                Command::Serve(args) => args,
                _ => unreachable!(),
            }
        };
        let key = serve_hmac_key(&args(&[]), Some("secret\n".into())).unwrap();
        assert_eq!(key, HmacKey::new("secret"));
        assert!(serve_hmac_key(&args(&[]), None).is_err());
        assert!(serve_hmac_key(&args(&[]), Some("".into())).is_err());
        assert_eq!(
            serve_hmac_key(&args(&["--insecure-no-hmac"]), None).unwrap(),
            None
        );
        assert!(serve_hmac_key(&args(&["--insecure-no-hmac"]), Some("k".into())).is_err());

        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("key");
        std::fs::write(&file, "from-file\r\n").unwrap();
        let path = file.to_str().unwrap();
        let from_file = serve_hmac_key(&args(&["--hmac-key-file", path]), None).unwrap();
        assert_eq!(from_file, HmacKey::new("from-file"));
        assert!(serve_hmac_key(&args(&["--hmac-key-file", path]), Some("k".into())).is_err());
        std::fs::write(&file, "\n").unwrap();
        assert!(serve_hmac_key(&args(&["--hmac-key-file", path]), None).is_err());
    }
}
