//! Readiness of a throwaway container: what must hold before the first check (a port
//! that listens, a line in its output, its HEALTHCHECK), polled with backoff until it
//! holds, the container stops, or time runs out.

use std::time::{Duration, Instant};

use bollard::models::HealthStatusEnum;
use bollard::query_parameters::LogsOptionsBuilder;
use futures_util::StreamExt;

use super::{Container, Wait, engine};
use crate::backend::{Backend, BackendError};

impl Container {
    fn state(&self) -> Result<bollard::models::ContainerState, BackendError> {
        Ok(self.inspect()?.state.unwrap_or_default())
    }

    /// Polls until every readiness condition holds, the container stops, or time runs out.
    pub(super) fn wait_ready(
        &self,
        wait: &Wait,
        health: bool,
        say: &dyn Fn(&str),
    ) -> Result<(), String> {
        let mut waiting_for = Vec::new();
        if let Some(port) = wait.port {
            waiting_for.push(format!("port {port} to listen"));
        }
        if let Some(text) = &wait.log {
            waiting_for.push(format!("a log line containing {text:?}"));
        }
        if health {
            waiting_for.push("the image's HEALTHCHECK to pass".to_string());
        }
        let deadline = Instant::now() + wait.within;
        // One engine call may take what is left of the wait, and at least a moment.
        let limit = || {
            deadline
                .saturating_duration_since(Instant::now())
                .clamp(Duration::from_millis(200), Duration::from_secs(10))
        };
        let mut log = LogWatch::default();
        let mut pause = Duration::from_millis(50);
        loop {
            let state = self.state().map_err(|e| e.to_string())?;
            if state.running != Some(true) {
                return Err(format!(
                    "the container stopped (exit code {}){}",
                    state.exit_code.unwrap_or(-1),
                    self.log_tail()
                ));
            }
            let mut missing = Vec::new();
            if let Some(port) = wait.port {
                if !self.port_listening(port, limit()) {
                    missing.push(format!("port {port} to listen"));
                }
            }
            if let Some(text) = &wait.log {
                if !log.found(self, text, limit()) {
                    missing.push(format!("a log line containing {text:?}"));
                }
            }
            if health {
                let health = state.health.unwrap_or_default();
                match health.status {
                    Some(HealthStatusEnum::HEALTHY) => {}
                    Some(HealthStatusEnum::UNHEALTHY) => {
                        let last = health
                            .log
                            .and_then(|l| l.last().and_then(|r| r.output.clone()))
                            .unwrap_or_default();
                        return Err(format!(
                            "its HEALTHCHECK reports unhealthy: {}",
                            last.trim()
                        ));
                    }
                    _ => missing.push("the image's HEALTHCHECK to pass".into()),
                }
            }
            if missing.is_empty() {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "waited {} for {}{}",
                    humantime::format_duration(wait.within),
                    missing.join(" and "),
                    self.log_tail()
                ));
            }
            say(&format!("waiting for {}", waiting_for.join(" and ")));
            std::thread::sleep(pause.min(deadline.saturating_duration_since(Instant::now())));
            pause = (pause * 2).min(Duration::from_millis(500));
        }
    }

    /// True if a TCP socket listens on `port` (IPv4 or IPv6) inside the container.
    fn port_listening(&self, port: u16, limit: Duration) -> bool {
        let wanted = format!(":{port:04X}");
        ["/proc/net/tcp", "/proc/net/tcp6"].iter().any(|table| {
            self.read_file(table, limit).is_ok_and(|bytes| {
                String::from_utf8_lossy(&bytes).lines().skip(1).any(|line| {
                    let fields: Vec<&str> = line.split_whitespace().collect();
                    fields.len() > 3 && fields[1].ends_with(&wanted) && fields[3] == "0A"
                })
            })
        })
    }

    /// What the container printed (standard output and error, in order): since
    /// `since` (unix seconds; 0: from the start), only the last `tail` lines if given,
    /// each line behind its timestamp when `timestamps`.
    fn logs(
        &self,
        since: i32,
        tail: Option<usize>,
        timestamps: bool,
        limit: Duration,
    ) -> Result<String, BackendError> {
        let mut options = LogsOptionsBuilder::new()
            .stdout(true)
            .stderr(true)
            .since(since)
            .timestamps(timestamps);
        if let Some(tail) = tail {
            options = options.tail(&tail.to_string());
        }
        let options = options.build();
        self.engine.block_on(limit, async {
            let mut stream = self.engine.api.logs(&self.id, Some(options));
            let mut text = String::new();
            while let Some(chunk) = stream.next().await {
                let chunk = chunk.map_err(|e| BackendError::Failed(engine::message(&e)))?;
                text.push_str(&String::from_utf8_lossy(chunk.as_ref()));
            }
            Ok(text)
        })
    }

    /// The container's last `lines` lines of output.
    pub(super) fn logs_tail(&self, lines: usize) -> Result<String, BackendError> {
        self.logs(0, Some(lines), false, Duration::from_secs(10))
    }

    /// The container's last lines of output, for messages.
    fn log_tail(&self) -> String {
        let logs = self.logs_tail(5).unwrap_or_default();
        if logs.trim().is_empty() {
            return "; it printed nothing".into();
        }
        format!(
            "; its last output:\n    {}",
            logs.trim_end().lines().collect::<Vec<_>>().join("\n    ")
        )
    }
}

/// Reads a container's output a piece at a time while waiting for a line: each poll
/// asks only for the lines since the second of the last one seen, so a chatty
/// container's whole log is not fetched twice a second.
#[derive(Default)]
struct LogWatch {
    /// Unix second of the last line seen: the engine's `since` counts whole seconds.
    since: i32,
    /// Timestamp of the last line seen (fixed width, so later ones compare greater).
    last: String,
}

impl LogWatch {
    /// True once a line printed so far contains `text`.
    fn found(&mut self, container: &Container, text: &str, limit: Duration) -> bool {
        let Ok(logs) = container.logs(self.since, None, true, limit) else {
            return false;
        };
        self.seen(&logs, text)
    }

    /// Looks through new lines (`TIMESTAMP TEXT`) for `text`, skipping those seen.
    fn seen(&mut self, logs: &str, text: &str) -> bool {
        for line in logs.lines() {
            let (stamp, line) = line.split_once(' ').unwrap_or((line, ""));
            if stamp <= self.last.as_str() {
                continue;
            }
            if line.contains(text) {
                return true;
            }
            self.last = stamp.to_string();
            if let Some(second) = stamp
                .get(..19)
                .and_then(|s| humantime::parse_rfc3339(&format!("{s}Z")).ok())
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .and_then(|d| i32::try_from(d.as_secs()).ok())
            {
                self.since = second;
            }
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::LogWatch;

    #[test]
    fn a_log_watch_reads_each_line_once_and_asks_from_its_second() {
        let mut watch = LogWatch::default();
        let first = "2026-12-04T18:00:01.000000001Z starting\n\
                     2026-12-04T18:00:02.500000000Z loading\n";
        assert!(!watch.seen(first, "ready"));
        assert_eq!(watch.since, 1_796_407_202);
        // The engine answers from the whole second again: the line seen is skipped,
        // and a line is matched by itself, never across two.
        let second = "2026-12-04T18:00:02.500000000Z loading\n\
                      2026-12-04T18:00:02.700000000Z re\n\
                      2026-12-04T18:00:03.000000000Z ady\n";
        assert!(!watch.seen(second, "ready"));
        assert!(!watch.seen(second, "loading"));
        assert!(watch.seen("2026-12-04T18:00:03.100000000Z server ready\n", "ready"));
    }
}
