//! `addr`, `dns` and `http` from inside a container on a private Docker network: a
//! Debian fixture named `web` by a network alias serves nginx, and the checks run
//! from a `FROM scratch` container (no shell, `curl` or `getent`: the probe answers
//! them itself) and, with `--no-probe`, from the Debian container (its own `bash`,
//! `getent` and `curl`).
//!
//! The network is `--internal`: nothing in it reaches, or asks a resolver, beyond
//! the machine. No name that does not exist is looked up: Docker's embedded DNS does
//! not answer such a name on an internal network (it would forward it off the
//! machine on any other), so it only ever times out.

use std::process::Command;

use crate::docker_util::{DEBIAN, SCRATCH, Started, have_image, wait_ready};
use crate::util::{Specs, ispec, json_report, outcome, result};

/// A Docker network the test created, removed (by id) on drop, after the
/// containers on it, which are declared after it and so dropped first.
struct Network {
    id: String,
}

impl Network {
    fn create(case: &str) -> Self {
        let name = format!("ispec-test-{case}-{}", std::process::id());
        let out = Command::new("docker")
            .args(["network", "create", "--internal", "--label"])
            .arg(format!("io.ispec.test={case}"))
            .arg(name)
            .output()
            .expect("docker runs");
        assert!(
            out.status.success(),
            "docker network create failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Self {
            id: String::from_utf8_lossy(&out.stdout).trim().to_string(),
        }
    }
}

impl Drop for Network {
    fn drop(&mut self) {
        let _ = Command::new("docker")
            .args(["network", "rm", &self.id])
            .output();
    }
}

const SPEC: &str = r#"
[addr."tcp://web:80"]
reachable = true

[addr."tcp://web:81"]
reachable = false

[dns.web]
resolvable = true

[http."http://web/"]
status = 200
body = { contains = "Welcome to nginx" }
headers = { contains = "content-type: text/html" }
"#;

/// Runs `spec` on `target` with the JSON report: exit code, report, stderr.
fn run_spec(spec: &str, target: &str, extra: &[&str]) -> (i32, serde_json::Value, String) {
    let specs = Specs::new(&[("spec.toml", spec)]);
    let out = ispec()
        .arg("run")
        .arg(specs.path("spec.toml"))
        .args(["-t", target, "--format", "json"])
        .args(extra)
        .output()
        .expect("ispec runs");
    json_report(&out)
}

fn check(target: &str, extra: &[&str]) -> (serde_json::Value, String) {
    let (code, doc, stderr) = run_spec(SPEC, target, extra);
    assert_eq!(code, 0, "{doc:#} {stderr}");
    for (kind, id, prop) in [
        ("addr", "tcp://web:80", "reachable"),
        ("addr", "tcp://web:81", "reachable"),
        ("dns", "web", "resolvable"),
        ("http", "http://web/", "status"),
        ("http", "http://web/", "body"),
        ("http", "http://web/", "headers"),
    ] {
        assert_eq!(outcome(&doc, kind, id, prop), "pass", "{kind} {id} {prop}");
    }
    let gather = doc["targets"][0]["gather"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    (doc, gather)
}

#[test]
fn a_shell_less_container_reaches_its_network_neighbours() {
    if !have_image(DEBIAN) || !have_image(SCRATCH) {
        return;
    }
    let network = Network::create("net-inside");
    let on_it = format!("--network={}", network.id);
    let web = Started::run(DEBIAN, &[&on_it, "--network-alias", "web"]);
    let bare = Started::run(SCRATCH, &[&on_it]);
    wait_ready(&web);

    // The probe, alone: the scratch image has nothing else to ask. Copied in, run
    // as the image's user (nobody), removed by a second exec as root.
    let (doc, gather) = check(&bare.target(), &[]);
    assert_eq!(gather, "probe", "{doc:#}");
    assert_eq!(doc["targets"][0]["round_trips"], 3, "{doc:#}");

    // The container's own tools, without the probe: the same answers.
    let (_, gather) = check(&web.target(), &["--no-probe"]);
    assert_eq!(gather, "script");

    // https is not spoken by the probe: it needs `curl` in the target, and says so.
    let https = "[http.\"https://web/\"]\nstatus = 200\n";
    let (code, doc, _) = run_spec(https, &bare.target(), &[]);
    assert_eq!(code, 1, "{doc:#}");
    let https = result(&doc, "http", "https://web/", "status");
    assert_eq!(https["outcome"], "error");
    assert_eq!(
        https["message"],
        "https:// from inside a target needs `curl` there, and it is not installed"
    );
}

#[test]
fn a_neighbour_that_is_down_is_not_reachable_over_udp_or_tcp() {
    if !have_image(SCRATCH) {
        return;
    }
    let network = Network::create("net-down");
    let bare = Started::run(SCRATCH, &[&format!("--network={}", network.id)]);
    // An address of the test's own network that no container has.
    let out = Command::new("docker")
        .args([
            "network",
            "inspect",
            "-f",
            "{{(index .IPAM.Config 0).Subnet}}",
        ])
        .arg(&network.id)
        .output()
        .expect("docker runs");
    let subnet = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let octets: Vec<&str> = subnet.split('/').next().unwrap().split('.').collect();
    assert_eq!(octets.len(), 4, "an IPv4 subnet: {subnet}");
    let nobody = format!("{}.{}.{}.250", octets[0], octets[1], octets[2]);
    let spec = format!(
        "[addr.\"udp://{nobody}:53\"]\nreachable = false\n\n[addr.\"tcp://{nobody}:53\"]\nreachable = false\n"
    );
    let (code, doc, stderr) = run_spec(&spec, &bare.target(), &[]);
    assert_eq!(code, 0, "{doc:#} {stderr}");
    // UDP hears of it too: the kernel gives up finding the neighbour, and says so.
    for proto in ["udp", "tcp"] {
        let r = result(&doc, "addr", &format!("{proto}://{nobody}:53"), "reachable");
        assert_eq!(r["actual"], "false", "{r}");
        assert_eq!(
            r["note"],
            format!("{nobody}:53: no route to host"),
            "{proto}: {r}"
        );
    }
}
