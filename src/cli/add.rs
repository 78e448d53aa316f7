//! `ispec add KIND ID`: observe one resource and print its state as spec TOML, the
//! quickest way to start a spec from a machine that is known to be good.

use std::fmt::Write as _;

use super::AddArgs;
use crate::backend::{self, ConnectError};
use crate::exit::Exit;
use crate::expect::{Ty, Value};
use crate::host::Host;
use crate::resource::{self, Kind, Observed, Options};
use crate::spec::did_you_mean;

/// Properties (`kind`, `property`; `*` for any kind) whose value changes by itself or
/// with every build: a spec pinned to it would fail tomorrow, or on the next image.
const VOLATILE: &[(&str, &str)] = &[
    ("*", "mtime-age"),
    ("image", "id"),
    ("image", "size"),
    ("image", "tags"),
    ("process", "open-fds"),
    ("process", "total-open-fds"),
];

/// Longer texts (file content, response bodies) are left out of the printed spec.
const MAX_TEXT: usize = 200;

pub(super) fn add(args: &AddArgs) -> u8 {
    let Some(kind) = resource::kind(&args.kind) else {
        let hint = did_you_mean(&args.kind, resource::KINDS.iter().map(|k| k.key))
            .map(|k| format!("; did you mean `{k}`?"))
            .unwrap_or_default();
        eprintln!("error: unknown resource kind `{}`{hint}", args.kind);
        return Exit::INVALID;
    };
    let resource = match (kind.new)(&args.id, &Options::new()) {
        Ok(r) => r,
        Err(why) => {
            eprintln!("error: invalid `{}` id `{}`: {why}", kind.key, args.id);
            return Exit::INVALID;
        }
    };
    let options = backend::ConnectOptions {
        user: args.user.clone(),
        ssh: args.ssh.options(),
    };
    let host = match backend::connect(&args.target, &options) {
        Ok(b) => Host::new(b),
        Err(e @ ConnectError::Backend(_)) => {
            eprintln!("error: {e}");
            return Exit::UNREACHABLE;
        }
        Err(e) => {
            eprintln!("error: {e}");
            return Exit::INVALID;
        }
    };
    let wanted: Vec<&'static str> = kind.props.iter().map(|p| p.name).collect();
    match resource.probe(&host, &wanted) {
        Ok(seen) => {
            print!("{}", render(kind, &args.id, &seen));
            Exit::PASSED
        }
        Err(e) => {
            eprintln!("error: cannot observe `{} {}`: {e}", kind.key, args.id);
            Exit::FAILED
        }
    }
}

/// The spec TOML for what was observed; what cannot be pinned is left as a comment.
fn render(kind: &Kind, id: &str, seen: &Observed) -> String {
    let mut out = format!("[{}.{}]\n", kind.key, toml_str(id));
    for prop in kind.props {
        let value = match seen.get(prop.name) {
            Ok(v) => v,
            Err(e) => {
                if !prop.gate {
                    let _ = writeln!(out, "# {}: not observed: {e}", prop.name);
                }
                continue;
            }
        };
        if prop.gate && value == &Value::Bool(false) {
            let _ = writeln!(out, "{} = false", prop.name);
            break;
        }
        let volatile = VOLATILE
            .iter()
            .any(|(k, p)| (*k == "*" || *k == kind.key) && *p == prop.name);
        if volatile || prop.ty == Ty::Patterns {
            continue;
        }
        match value {
            Value::Str(s) if s.len() > MAX_TEXT || s.contains('\n') => {
                let _ = writeln!(out, "# {}: {} bytes, not shown", prop.name, s.len());
            }
            v => {
                let _ = writeln!(out, "{} = {}", prop.name, toml_value(v));
            }
        }
    }
    out
}

fn toml_str(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

fn toml_value(v: &Value) -> String {
    match v {
        Value::Bool(b) => b.to_string(),
        Value::Int(i) => i.to_string(),
        Value::Str(s) => toml_str(s),
        Value::List(items) | Value::Words(items) => {
            let parts: Vec<String> = items.iter().map(|s| toml_str(s)).collect();
            format!("[{}]", parts.join(", "))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_a_spec_that_loads_back() {
        let kind = resource::kind("user").unwrap();
        let mut seen = Observed::new();
        seen.set("exists", Value::Bool(true));
        seen.set("uid", Value::Int(33));
        seen.set("gid", Value::Int(33));
        seen.set("home", Value::Str("/var/www".into()));
        seen.set("shell", Value::Str("/usr/sbin/nologin".into()));
        seen.set("groups", Value::List(vec!["www-data".into()]));
        let text = render(kind, "www-data", &seen);
        assert_eq!(
            text,
            "[user.\"www-data\"]\nexists = true\nuid = 33\ngid = 33\nhome = \"/var/www\"\n\
             shell = \"/usr/sbin/nologin\"\ngroups = [\"www-data\"]\n"
        );
        let spec = crate::spec::load_str(std::path::Path::new("added.toml"), &text).unwrap();
        assert_eq!(spec.check_count(), 6);
    }

    #[test]
    fn absent_resources_and_long_texts() {
        let kind = resource::kind("file").unwrap();
        let mut seen = Observed::new();
        seen.set("exists", Value::Bool(false));
        assert_eq!(render(kind, "/x", &seen), "[file.\"/x\"]\nexists = false\n");
        let kind = resource::kind("command").unwrap();
        let mut seen = Observed::new();
        seen.set("exit-status", Value::Int(0));
        seen.set("stdout", Value::Str("a\nb".into()));
        seen.set("stderr", Value::Str(String::new()));
        assert_eq!(
            render(kind, "ls", &seen),
            "[command.\"ls\"]\nexit-status = 0\n# stdout: 3 bytes, not shown\nstderr = \"\"\n"
        );
    }
}
