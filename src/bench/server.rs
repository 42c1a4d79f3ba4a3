//! `loupe serve` as a child process, so that the CPU time and memory read
//! from `/proc` are the server's alone, not the load generator's; and the
//! other readings of `/proc` the bench reports beside them.

use std::io::{BufRead as _, BufReader};
use std::net::SocketAddr;
use std::process::{Child, ChildStdout, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};

/// Linux reports process CPU time in clock ticks of 1/100 s (`USER_HZ`).
const USER_HZ: f64 = 100.0;

/// `loupe serve` as a child process, so its CPU and memory are its own.
pub(super) struct ServerProcess {
    child: Child,
    pub(super) pid: u32,
    pub(super) otlp_grpc: SocketAddr,
    pub(super) otlp_http: SocketAddr,
    pub(super) ui: SocketAddr,
    /// Held open so the child never writes to a closed pipe.
    _stdout: BufReader<ChildStdout>,
    stopped: bool,
}

impl ServerProcess {
    pub(super) async fn start(database_url: &str) -> anyhow::Result<ServerProcess> {
        let exe = std::env::current_exe().context("cannot find the loupe executable")?;
        let mut command = std::process::Command::new(exe);
        command
            .args(["serve", "--database-url", database_url])
            .args(["--otlp-grpc-addr", "127.0.0.1:0"])
            .args(["--otlp-http-addr", "127.0.0.1:0"])
            .args(["--ui-addr", "127.0.0.1:0"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        if std::env::var_os("LOUPE_LOG").is_none() {
            command.env("LOUPE_LOG", "warn");
        }
        let mut child = command.spawn().context("cannot start loupe serve")?;
        let pid = child.id();
        let Some(stdout) = child.stdout.take() else {
            let _ = child.kill();
            let _ = child.wait();
            bail!("loupe serve has no stdout");
        };
        let read = tokio::task::spawn_blocking(move || {
            let mut reader = BufReader::new(stdout);
            let mut line = String::new();
            loop {
                line.clear();
                if reader.read_line(&mut line)? == 0 {
                    bail!("loupe serve exited before it listened");
                }
                if line.starts_with("loupe listening") {
                    return Ok((reader, line));
                }
            }
        });
        let (reader, line) = match tokio::time::timeout(Duration::from_secs(120), read).await {
            Ok(Ok(Ok(read))) => read,
            outcome => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(match outcome {
                    Ok(Ok(Err(err))) => err,
                    Ok(Err(err)) => err.into(),
                    Err(_) => anyhow::anyhow!("loupe serve did not listen within 120 s"),
                    Ok(Ok(Ok(_))) => unreachable!(),
                });
            }
        };
        let addr = |key: &str| -> Option<SocketAddr> {
            line.split_whitespace()
                .find_map(|word| word.strip_prefix(key))
                .and_then(|addr| addr.parse().ok())
        };
        let (Some(otlp_grpc), Some(otlp_http), Some(ui)) =
            (addr("otlp_grpc="), addr("otlp_http="), addr("ui="))
        else {
            let _ = child.kill();
            let _ = child.wait();
            bail!("cannot read the addresses from {:?}", line.trim());
        };
        Ok(ServerProcess {
            child,
            pid,
            otlp_grpc,
            otlp_http,
            ui,
            _stdout: reader,
            stopped: false,
        })
    }

    /// SIGTERM, as a service manager would, then up to a minute to finish.
    pub(super) async fn stop(mut self) -> anyhow::Result<()> {
        let terminated = std::process::Command::new("kill")
            .args(["-TERM", &self.pid.to_string()])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !terminated {
            let _ = self.child.kill();
        }
        let deadline = Instant::now() + Duration::from_secs(60);
        let status = loop {
            if let Some(status) = self.child.try_wait()? {
                break status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                break self.child.wait()?;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        self.stopped = true;
        if terminated && !status.success() {
            bail!("loupe serve stopped with {status}");
        }
        Ok(())
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        if !self.stopped {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub(super) struct WriterStats {
    pub(super) commits: f64,
    pub(super) items: f64,
    pub(super) commit_seconds: f64,
}

/// The writer's counters from the child's `/metrics`.
pub(super) async fn writer_stats(ui: SocketAddr) -> Option<WriterStats> {
    let client = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(10))
        .build()
        .ok()?;
    let text = client
        .get(format!("http://{ui}/metrics"))
        .send()
        .await
        .ok()?
        .text()
        .await
        .ok()?;
    let value = |name: &str| {
        text.lines().find_map(|line| {
            line.strip_prefix(name)?
                .strip_prefix(' ')?
                .trim()
                .parse::<f64>()
                .ok()
        })
    };
    Some(WriterStats {
        commits: value("loupe_commits_total")?,
        items: value("loupe_batch_items_total")?,
        commit_seconds: value("loupe_commit_seconds_sum")?,
    })
}

// ---------------------------------------------------------------------------
// Readings of /proc

fn proc_stat_fields(pid: &str) -> Option<Vec<u64>> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces; the fields after it may not.
    let rest = &stat[stat.rfind(')')? + 1..];
    Some(
        rest.split_whitespace()
            .map(|f| f.parse().unwrap_or(0))
            .collect(),
    )
}

/// User + system CPU seconds of a process and all its threads.
pub(super) fn process_cpu_seconds(pid: &str) -> Option<f64> {
    let fields = proc_stat_fields(pid)?;
    // Fields 14 and 15 of proc(5), counted from the state, field 3.
    Some((fields.get(11)? + fields.get(12)?) as f64 / USER_HZ)
}

pub(super) fn peak_rss_bytes(pid: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kb * 1024)
}

/// (busy, busy + idle) CPU seconds of the whole machine since boot.
pub(super) fn machine_cpu_seconds() -> Option<(f64, f64)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let line = stat.lines().next()?.strip_prefix("cpu ")?;
    let v: Vec<u64> = line
        .split_whitespace()
        .map(|f| f.parse().unwrap_or(0))
        .collect();
    // user nice system idle iowait irq softirq steal
    let busy = v.first()? + v.get(1)? + v.get(2)? + v.get(5)? + v.get(6)? + v.get(7)?;
    let idle = v.get(3)? + v.get(4)?;
    Some((busy as f64 / USER_HZ, (busy + idle) as f64 / USER_HZ))
}

pub(super) fn loadavg() -> Option<String> {
    let text = std::fs::read_to_string("/proc/loadavg").ok()?;
    Some(
        text.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" "),
    )
}
