//! `command`: runs a program on the target and checks its exit status and output.
//!
//! The id is a shell command by intent (`[command."nginx -v"]`), run with `/bin/sh -c`.
//! `exec = ["nginx", "-v"]` runs an argv instead, with no shell at all (the form for
//! images without a shell).

use crate::cmd::Cmd;
use crate::expect::{Ty, Value};
use crate::gather::{Ask, Fact};
use crate::host::{Host, ProbeError};

use super::{Kind, Observed, OptDef, OptTy, Options, PropDef, Resource};

pub(super) const KIND: Kind = Kind {
    key: "command",
    props: &[
        PropDef::new("exit-status", Ty::Int, "the exit status"),
        PropDef::new(
            "stdout",
            Ty::Str,
            "standard output, trailing newlines removed",
        ),
        PropDef::new(
            "stderr",
            Ty::Str,
            "standard error, trailing newlines removed",
        ),
    ],
    options: &[OptDef {
        name: "exec",
        ty: OptTy::StrList,
        doc: "an argv to run instead of the id as a shell command",
    }],
    new,
};

#[derive(Debug)]
struct Command {
    cmd: Cmd,
}

fn new(id: &str, options: &Options) -> Result<Box<dyn Resource>, String> {
    let cmd = match options.list("exec") {
        Some([]) => return Err("`exec` is empty; give the program and its arguments".into()),
        Some([program, args @ ..]) => Cmd::new(program.clone()).args(args.iter().cloned()),
        None if id.trim().is_empty() => return Err("the command is empty".into()),
        None => Cmd::shell(id),
    };
    Ok(Box::new(Command { cmd }))
}

impl Resource for Command {
    fn facts(&self, _wanted: &[&'static str], _ask: &Ask<'_>) -> Vec<Fact> {
        vec![Fact::Run(self.cmd.clone())]
    }

    fn probe(&self, host: &Host, _wanted: &[&'static str]) -> Result<Observed, ProbeError> {
        let out = host.run_memo(&self.cmd)?;
        let mut seen = Observed::new();
        match out.status {
            Some(code) => seen.set("exit-status", Value::Int(i64::from(code))),
            None => seen.fail(
                "exit-status",
                ProbeError::Failed("the command was killed by a signal".into()),
            ),
        }
        seen.set("stdout", Value::Str(trim_end(&out.stdout)));
        seen.set("stderr", Value::Str(trim_end(&out.stderr)));
        Ok(seen)
    }
}

fn trim_end(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes)
        .trim_end_matches(['\n', '\r'])
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resource::OptValue;

    fn observe(id: &str, options: &Options) -> Observed {
        let host = Host::local();
        new(id, options).unwrap().probe(&host, &[]).unwrap()
    }

    #[test]
    fn shell_form() {
        let seen = observe("echo out; echo err >&2; exit 4", &Options::new());
        assert_eq!(seen.get("exit-status").unwrap(), &Value::Int(4));
        assert_eq!(seen.get("stdout").unwrap(), &Value::Str("out".into()));
        assert_eq!(seen.get("stderr").unwrap(), &Value::Str("err".into()));
    }

    #[test]
    fn argv_form_passes_data_untouched() {
        let mut options = Options::new();
        options.insert(
            "exec",
            OptValue::StrList(vec!["printf".into(), "%s".into(), "$(id)".into()]),
        );
        let seen = observe("ignored", &options);
        assert_eq!(seen.get("stdout").unwrap(), &Value::Str("$(id)".into()));
    }

    #[test]
    fn missing_program_is_an_error() {
        let mut options = Options::new();
        options.insert("exec", OptValue::StrList(vec!["ispec-no-such-tool".into()]));
        let host = Host::local();
        let err = new("x", &options).unwrap().probe(&host, &[]).unwrap_err();
        assert_eq!(err, ProbeError::ToolMissing("ispec-no-such-tool".into()));
        assert!(new("  ", &Options::new()).is_err());
    }
}
