//! The real `portgate serve` binary as a child process on a free port of 127.0.0.1, for the
//! tests that need its exit code, its signals or its peak memory.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::fake_tfc::FakeTfc;
use super::{KEY, WAIT};

/// `portgate serve` as a child process, killed if the test fails before stopping it.
pub struct Binary {
    pub child: Child,
    pub addr: SocketAddr,
    pub log: Arc<Mutex<Vec<String>>>,
    _dir: tempfile::TempDir,
}

impl Binary {
    /// Starts `portgate serve` on a free port against `tfc`, with the HMAC key in a file.
    pub async fn start(tfc: &FakeTfc, args: &[&str]) -> Binary {
        let dir = tempfile::tempdir().unwrap();
        let key_file = dir.path().join("hmac-key");
        {
            use std::io::Write;
            use std::os::unix::fs::OpenOptionsExt;
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&key_file)
                .unwrap();
            writeln!(file, "{KEY}").unwrap();
        }
        let work_dir = dir.path().join("work");
        std::fs::create_dir(&work_dir).unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_portgate"))
            .arg("serve")
            .args(["--listen", "127.0.0.1:0", "--log-format", "json"])
            .arg("--hmac-key-file")
            .arg(&key_file)
            .args(["--tfc-url", &format!("http://{}", tfc.api)])
            .arg("--work-dir")
            .arg(&work_dir)
            .args(args)
            // No portgate.toml is picked up, the key only comes from the file, and nothing
            // goes through a proxy.
            .current_dir(dir.path())
            .env_remove("PORTGATE_HMAC_KEY")
            .env_remove("HTTP_PROXY")
            .env_remove("HTTPS_PROXY")
            .env_remove("ALL_PROXY")
            .env_remove("http_proxy")
            .env_remove("https_proxy")
            .env_remove("all_proxy")
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let log = Arc::new(Mutex::new(Vec::new()));
        let (addr_tx, addr_rx) = tokio::sync::oneshot::channel();
        let lines = Arc::clone(&log);
        // Reads every log line, so the pipe never fills up and blocks the service.
        std::thread::spawn(move || {
            let mut addr_tx = Some(addr_tx);
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Ok(event) = serde_json::from_str::<Value>(&line)
                    && event["message"] == "portgate serve listening"
                    && let Some(tx) = addr_tx.take()
                {
                    let _ = tx.send(event["addr"].as_str().unwrap_or("").to_string());
                }
                lines.lock().unwrap().push(line);
            }
        });
        let mut binary = Binary {
            child,
            addr: "127.0.0.1:9".parse().unwrap(),
            log,
            _dir: dir,
        };
        let addr = tokio::time::timeout(WAIT, addr_rx).await;
        let Ok(Ok(addr)) = addr else {
            panic!(
                "portgate serve did not say where it listens:\n{}",
                binary.log.lock().unwrap().join("\n")
            );
        };
        binary.addr = addr.parse().unwrap();
        binary
    }

    /// Peak resident set size in KiB (VmHWM), from /proc.
    pub fn peak_rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        status
            .lines()
            .find_map(|line| line.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmHWM in /proc/PID/status")
    }

    /// SIGTERM; the exit code once it has stopped.
    pub async fn terminate(&mut self, limit: Duration) -> Option<i32> {
        self.send_sigterm();
        self.exit_code_within(limit).await
    }

    /// Sends SIGTERM and returns at once.
    pub fn send_sigterm(&self) {
        let killed = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(killed.success());
    }

    /// The exit code once the process has stopped, which it must within `limit`.
    pub async fn exit_code_within(&mut self, limit: Duration) -> Option<i32> {
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.code();
            }
            assert!(
                start.elapsed() < limit,
                "portgate serve did not stop within {limit:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Whether a log line's `message` is `message`.
    pub fn logged(&self, message: &str) -> bool {
        self.log
            .lock()
            .unwrap()
            .iter()
            .any(|line| serde_json::from_str::<Value>(line).is_ok_and(|e| e["message"] == message))
    }

    pub fn log_lines_at(&self, level: &str) -> Vec<String> {
        self.log
            .lock()
            .unwrap()
            .iter()
            .filter(|line| {
                serde_json::from_str::<Value>(line).map_or(true, |e| e["level"] == level)
            })
            .cloned()
            .collect()
    }
}

impl Drop for Binary {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
