//! `service` end to end on this machine, a container with no init system: every
//! service check is an error that names PID 1 and points to the `process` kind.

use crate::util::{Specs, result, run, run_json};

/// PID 1's command on the test machine.
fn pid1() -> String {
    std::fs::read_to_string("/proc/1/comm")
        .unwrap()
        .trim()
        .to_string()
}

fn no_init_message(name: &str) -> String {
    format!(
        "no init system on the target (PID 1 is `{}`); services cannot be checked here \
         — check the process with `[process.\"{name}\"]` instead",
        pid1()
    )
}

#[test]
fn no_init_system_is_an_error_for_every_check() {
    assert!(
        !["systemd", "init", "openrc-init"].contains(&pid1().as_str()),
        "these tests expect a target without an init system"
    );
    let spec = r#"
[service.cron]
running = true
enabled = true

[service."nginx.service"]
running = false
"#;
    let (code, doc) = run_json(spec);
    assert_eq!(code, 1);
    assert_eq!(doc["summary"]["errored"], 3);
    assert_eq!(doc["summary"]["passed"], 0);
    for prop in ["running", "enabled"] {
        let r = result(&doc, "service", "cron", prop);
        assert_eq!(r["outcome"], "error", "{prop}");
        assert_eq!(r["message"], no_init_message("cron"));
    }
    // `running = false` is not a pass when nothing can be known.
    let r = result(&doc, "service", "nginx.service", "running");
    assert_eq!(r["outcome"], "error");
    assert_eq!(r["message"], no_init_message("nginx"));
}

#[test]
fn bad_names_are_spec_errors() {
    let specs = Specs::new(&[(
        "spec.toml",
        "[service.\"/etc/init.d/nginx\"]\nrunning = true\n",
    )]);
    let out = run(&["validate", specs.path("spec.toml").to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("`/etc/init.d/nginx` is not a service name"),
        "{stderr}"
    );
}
