//! Readiness of a throwaway container: what must hold before the first check (a port
//! that listens, a line in its output, its HEALTHCHECK), polled with backoff until it
//! holds, the container stops, or time runs out.

use std::time::{Duration, Instant};

use bollard::models::HealthStatusEnum;
use bollard::query_parameters::LogsOptionsBuilder;
use futures_util::StreamExt;

use super::{Container, Wait};
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
                if !self.port_listening(port) {
                    missing.push(format!("port {port} to listen"));
                }
            }
            if let Some(text) = &wait.log {
                if !self.logs().contains(text.as_str()) {
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
    fn port_listening(&self, port: u16) -> bool {
        let wanted = format!(":{port:04X}");
        ["/proc/net/tcp", "/proc/net/tcp6"].iter().any(|table| {
            self.read_file(table, Duration::from_secs(10))
                .is_ok_and(|bytes| {
                    String::from_utf8_lossy(&bytes).lines().skip(1).any(|line| {
                        let fields: Vec<&str> = line.split_whitespace().collect();
                        fields.len() > 3 && fields[1].ends_with(&wanted) && fields[3] == "0A"
                    })
                })
        })
    }

    /// Everything the container printed so far.
    fn logs(&self) -> String {
        let options = LogsOptionsBuilder::new().stdout(true).stderr(true).build();
        self.engine
            .block_on(Duration::from_secs(10), async {
                let mut stream = self.engine.api.logs(&self.id, Some(options));
                let mut text = String::new();
                while let Some(Ok(chunk)) = stream.next().await {
                    text.push_str(&String::from_utf8_lossy(chunk.as_ref()));
                }
                Ok(text)
            })
            .unwrap_or_default()
    }

    /// The container's last lines of output, for messages.
    fn log_tail(&self) -> String {
        let logs = self.logs();
        let lines: Vec<&str> = logs.lines().collect();
        if lines.is_empty() {
            return "; it printed nothing".into();
        }
        let tail = &lines[lines.len().saturating_sub(5)..];
        format!("; its last output:\n    {}", tail.join("\n    "))
    }
}
