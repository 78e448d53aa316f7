//! What `when` conditions ask of a target, answered from the host's memo (filled by
//! the run's first batch when [`crate::spec::When::facts`] named them).

use crate::backend::Transport;
use crate::spec::when::{CONTAINER_MARKERS, Target, arch_cmd, uid_cmd};

use super::Host;

impl Target for Host {
    fn transport(&self) -> Transport {
        Host::transport(self)
    }

    fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.name.iter().map(ToString::to_string).collect();
        names.push(self.target().to_string());
        names
    }

    fn container_marker(&self) -> Result<Option<&'static str>, String> {
        for marker in CONTAINER_MARKERS {
            if self.read_opt(marker).map_err(|e| e.to_string())?.is_some() {
                return Ok(Some(marker));
            }
        }
        Ok(None)
    }

    fn os(&self) -> Result<crate::os::OsInfo, String> {
        Host::os(self).map_err(|e| e.to_string())
    }

    fn arch(&self) -> Result<String, String> {
        output(self, &arch_cmd())
    }

    fn uid(&self) -> Result<String, String> {
        output(self, &uid_cmd())
    }
}

/// What `cmd` printed, if it succeeded.
fn output(host: &Host, cmd: &crate::cmd::Cmd) -> Result<String, String> {
    let out = host.run_memo(cmd).map_err(|e| e.to_string())?;
    if out.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!("`{cmd}` failed: {}", out.stderr_text().trim()))
    }
}
