//! `image`: an image's metadata as the container engine reports it — environment,
//! ports, entrypoint, command, user, labels, volumes, health check, platform, size.
//!
//! The id `self` is the image the target container runs; any other id is an image
//! reference inspected on the target's engine. Only container targets have an engine:
//! on any other target every check is an error, never a pass. Nothing runs inside the
//! container; one inspect answers every property.

use crate::backend::ImageInfo;
use crate::expect::{Ty, Value};
use crate::host::{Host, ProbeError};

use super::{Kind, Observed, Options, PropDef, Resource};

pub(super) const KIND: Kind = Kind {
    key: "image",
    props: &[
        PropDef::gate("exists", "the image is on the engine"),
        PropDef::new(
            "user",
            Ty::Str,
            "the user the container runs as (`USER`), empty when none is set",
        ),
        PropDef::new(
            "workdir",
            Ty::Str,
            "the working directory (`WORKDIR`), empty when none is set",
        ),
        PropDef::new("env", Ty::List, "environment entries as `KEY=value`"),
        PropDef::new("exposed-ports", Ty::List, "exposed ports as `80/tcp`"),
        PropDef::new("volumes", Ty::List, "volume mount points (`VOLUME`)"),
        PropDef::new("labels", Ty::List, "labels as `key=value`"),
        PropDef::new(
            "entrypoint",
            Ty::Words,
            "the entrypoint's words, empty when none is set",
        ),
        PropDef::new(
            "cmd",
            Ty::Words,
            "the default command's words, empty when none is set",
        ),
        PropDef::new(
            "healthcheck",
            Ty::Words,
            "the health check's test, e.g. `CMD-SHELL` and its command; empty when none",
        ),
        PropDef::new("os", Ty::Str, "the operating system, e.g. `linux`"),
        PropDef::new("architecture", Ty::Str, "the architecture, e.g. `amd64`"),
        PropDef::new("size", Ty::Int, "the size in bytes"),
        PropDef::new("tags", Ty::List, "the tags the engine knows it by"),
        PropDef::new("id", Ty::Str, "the image id, `sha256:...`"),
    ],
    options: &[],
    new,
};

/// The id that names the image the target runs.
const SELF: &str = "self";

#[derive(Debug)]
struct Image {
    /// The image reference; `None` for the image the target runs.
    reference: Option<String>,
}

fn new(id: &str, _options: &Options) -> Result<Box<dyn Resource>, String> {
    let reference = if id == SELF {
        None
    } else {
        check_reference(id)?;
        Some(id.to_string())
    };
    Ok(Box::new(Image { reference }))
}

/// Refuses what cannot be an image reference (`NAME[:TAG][@DIGEST]` or an image id),
/// so a typo is a spec error and no id can reach another path of the engine's API.
/// The engine judges the rest.
fn check_reference(id: &str) -> Result<(), String> {
    const HINT: &str = "write `self` for the image the target runs, or a reference such as \
                        `web:candidate` or `registry.local/web@sha256:...`";
    if id.is_empty() {
        return Err(format!("an image reference cannot be empty; {HINT}"));
    }
    if let Some(c) = id
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || "._-/:@".contains(*c)))
    {
        return Err(format!(
            "`{}` cannot be in an image reference; {HINT}",
            c.escape_debug()
        ));
    }
    if id
        .split('/')
        .any(|part| !part.starts_with(|c: char| c.is_ascii_alphanumeric()))
    {
        return Err(format!(
            "each `/`-separated part of an image reference starts with a letter or digit; {HINT}"
        ));
    }
    Ok(())
}

impl Image {
    /// How messages name the image.
    fn name(&self) -> String {
        match &self.reference {
            Some(r) => format!("image `{r}`"),
            None => "the image the target runs".into(),
        }
    }
}

impl Resource for Image {
    fn probe(&self, host: &Host, wanted: &[&'static str]) -> Result<Observed, ProbeError> {
        if let Some(info) = host.image(self.reference.as_deref())? {
            return Ok(observed(info));
        }
        let mut seen = Observed::new();
        seen.set("exists", Value::Bool(false));
        for prop in wanted.iter().filter(|p| **p != "exists") {
            seen.fail(
                prop,
                ProbeError::Failed(format!("{} is not on the engine", self.name())),
            );
        }
        Ok(seen)
    }
}

/// Every property of an image the engine has.
fn observed(info: ImageInfo) -> Observed {
    let mut seen = Observed::new();
    seen.set("exists", Value::Bool(true));
    seen.set("user", Value::Str(info.user));
    seen.set("workdir", Value::Str(info.workdir));
    seen.set("env", Value::List(info.env));
    seen.set("exposed-ports", Value::List(info.exposed_ports));
    seen.set("volumes", Value::List(info.volumes));
    seen.set(
        "labels",
        Value::List(
            info.labels
                .into_iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect(),
        ),
    );
    seen.set("entrypoint", Value::Words(info.entrypoint));
    seen.set("cmd", Value::Words(info.cmd));
    seen.set("healthcheck", Value::Words(info.healthcheck));
    seen.set("os", Value::Str(info.os));
    seen.set("architecture", Value::Str(info.architecture));
    seen.set("size", Value::Int(info.size));
    seen.set("tags", Value::List(info.tags));
    seen.set("id", Value::Str(info.id));
    seen
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::backend::{Backend, BackendError};
    use crate::cmd::{Cmd, Output};

    /// An engine that has one image, `web:candidate`, which its container runs.
    struct Engine;

    fn web() -> ImageInfo {
        ImageInfo {
            id: "sha256:0123".into(),
            tags: vec!["web:candidate".into()],
            env: vec!["PATH=/usr/bin:/bin".into(), "APP_ENV=production".into()],
            exposed_ports: vec!["80/tcp".into()],
            entrypoint: vec![],
            cmd: vec!["nginx".into(), "-g".into(), "daemon off;".into()],
            user: "www-data".into(),
            workdir: "/srv".into(),
            labels: vec![
                ("org.opencontainers.image.title".into(), "web".into()),
                ("tier".into(), "front=end".into()),
            ],
            volumes: vec!["/var/cache/nginx".into()],
            healthcheck: vec!["CMD-SHELL".into(), "curl -f http://127.0.0.1/".into()],
            os: "linux".into(),
            architecture: "amd64".into(),
            size: 105_020_993,
        }
    }

    impl Backend for Engine {
        fn target(&self) -> &'static str {
            "test://engine"
        }

        fn exec(&self, cmd: &Cmd, _timeout: Duration) -> Result<Output, BackendError> {
            Err(BackendError::Failed(format!("no exec in this test: {cmd}")))
        }

        fn image(
            &self,
            reference: Option<&str>,
            _timeout: Duration,
        ) -> Result<ImageInfo, BackendError> {
            match reference {
                None | Some("web:candidate") => Ok(web()),
                Some("broken") => Err(BackendError::Failed("the engine hung up".into())),
                Some(other) => Err(BackendError::NotFound(format!("image {other}"))),
            }
        }
    }

    fn probe(host: &Host, id: &str, wanted: &[&'static str]) -> Result<Observed, ProbeError> {
        new(id, &Options::new()).unwrap().probe(host, wanted)
    }

    fn list(items: &[&str]) -> Value {
        Value::List(items.iter().map(|s| (*s).to_string()).collect())
    }

    #[test]
    fn observes_every_property() {
        let host = Host::new(Box::new(Engine));
        let wanted: Vec<&'static str> = KIND.props.iter().map(|p| p.name).collect();
        for id in ["self", "web:candidate"] {
            let seen = probe(&host, id, &wanted).unwrap();
            for prop in &wanted {
                assert!(seen.get(prop).is_ok(), "{id}: {prop} was not observed");
            }
            assert_eq!(seen.get("exists").unwrap(), &Value::Bool(true));
            assert_eq!(
                seen.get("labels").unwrap(),
                &list(&["org.opencontainers.image.title=web", "tier=front=end"])
            );
            assert_eq!(seen.get("exposed-ports").unwrap(), &list(&["80/tcp"]));
            assert_eq!(seen.get("user").unwrap(), &Value::Str("www-data".into()));
            assert_eq!(seen.get("entrypoint").unwrap(), &Value::Words(vec![]));
            assert_eq!(
                seen.get("healthcheck").unwrap(),
                &Value::Words(vec!["CMD-SHELL".into(), "curl -f http://127.0.0.1/".into()])
            );
            assert_eq!(seen.get("size").unwrap(), &Value::Int(105_020_993));
        }
    }

    #[test]
    fn a_missing_image_does_not_exist() {
        let host = Host::new(Box::new(Engine));
        let seen = probe(&host, "no-such:image", &["exists", "env"]).unwrap();
        assert_eq!(seen.get("exists").unwrap(), &Value::Bool(false));
        assert_eq!(
            seen.get("env").unwrap_err(),
            ProbeError::Failed("image `no-such:image` is not on the engine".into())
        );
        assert_eq!(
            probe(&host, "broken", &["exists"]).unwrap_err(),
            ProbeError::Failed("the engine hung up".into())
        );
    }

    #[test]
    fn a_target_without_an_engine_is_an_error() {
        let err = probe(&Host::local(), "self", &["exists"]).unwrap_err();
        assert!(
            err.to_string().contains("`local` is not a container"),
            "{err}"
        );
        assert!(probe(&Host::local(), "web:candidate", &["exists"]).is_err());
    }

    #[test]
    fn references_are_checked() {
        for good in [
            "self",
            "web",
            "web:candidate",
            "registry.local:5000/team/web:1.2.3-rc_1",
            "web@sha256:0123abcd",
            "sha256:0123abcd",
            "ispec-fixture/debian:bookworm",
        ] {
            assert!(new(good, &Options::new()).is_ok(), "{good}");
        }
        for (bad, why) in [
            ("", "cannot be empty"),
            ("web candidate", "` ` cannot be"),
            ("web:$(touch x)", "`$` cannot be"),
            ("web\n", "`\\n` cannot be"),
            ("web?all=1", "`?` cannot be"),
            ("../containers/x", "starts with a letter or digit"),
            ("team//web", "starts with a letter or digit"),
            ("-web", "starts with a letter or digit"),
        ] {
            let err = new(bad, &Options::new()).unwrap_err();
            assert!(err.contains(why), "{bad:?}: {err}");
        }
    }
}
