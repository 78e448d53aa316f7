//! What `when` conditions ask of a target, answered from the host's memo (filled by
//! the run's first batch when [`crate::spec::When::facts`] named them).

use crate::backend::{TargetSpec, Transport};
use crate::spec::when::{CONTAINER_MARKERS, Target, arch_cmd, uid_cmd};

use super::Host;

impl Host {
    /// The same host named as a suite names `target` (`[target.NAME]`), see
    /// [`Host::named`]; an image target also answers `when = 'target == "image:IMAGE"'`,
    /// as it would with `--image IMAGE`.
    #[must_use]
    pub fn named_in_suite(self, name: &str, target: &TargetSpec) -> Self {
        let mut host = self.named(name);
        if let TargetSpec::Image(spec) = target {
            host.alias = Some(format!("image:{}", spec.image).into());
        }
        host
    }
}

impl Target for Host {
    fn transport(&self) -> Transport {
        Host::transport(self)
    }

    fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.name.iter().map(ToString::to_string).collect();
        names.push(self.target().to_string());
        names.extend(self.alias.iter().map(ToString::to_string));
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::docker::ContainerSpec;
    use crate::spec::When;

    #[test]
    fn a_suites_image_target_answers_to_its_image_too() {
        let image = TargetSpec::Image(Box::new(ContainerSpec {
            image: "web:candidate".into(),
            ..ContainerSpec::default()
        }));
        let when = When::parse("target == 'image:web:candidate' && target == 'web'").unwrap();
        let host = Host::local().named_in_suite("web", &image);
        assert_eq!(when.skip_reason(&host), Ok(None));
        // Any other target of the suite keeps its names alone.
        let local = Host::local().named_in_suite("web", &TargetSpec::Uri("local".into()));
        assert_eq!(local.names(), ["web", "local"]);
    }
}
