//! Suites of throwaway containers that interact: the example suite in
//! `specs/interact/` on its private network, a service stopped, a target that never
//! gets ready, start order.

use std::path::Path;
use std::process::Command;

use crate::docker_util::{
    DEBIAN, SCRATCH, assert_none_left, case_label, have_image, ispec_networks,
};
use crate::util::{Specs, ispec, json_report};

/// The example suite of the book's "Services that interact" chapter.
fn example_suite() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("specs/interact/ispec.toml")
        .display()
        .to_string()
}

fn assert_nothing_left(label: &str) {
    assert_none_left(label);
    let networks = ispec_networks(label);
    assert!(networks.is_empty(), "ispec left networks {networks:?}");
}

/// `ispec` for the example suite: its variables (`TAG`, `API_DOWN`) come from the
/// suite, not from whatever the environment of the tests holds.
fn ispec_example() -> assert_cmd::Command {
    let mut cmd = ispec();
    cmd.env_remove("TAG").env_remove("API_DOWN");
    cmd
}

/// `target › title › property` → outcome, for every result of a JSON report.
fn outcomes(doc: &serde_json::Value) -> Vec<(String, String)> {
    doc["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|r| {
            let name = r["title"].as_str().map_or_else(
                || {
                    format!(
                        "{} {}",
                        r["kind"].as_str().unwrap(),
                        r["id"].as_str().unwrap()
                    )
                },
                str::to_string,
            );
            (
                format!(
                    "{} › {name} › {}",
                    r["target"].as_str().unwrap(),
                    r["property"].as_str().unwrap()
                ),
                r["outcome"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn outcome<'a>(all: &'a [(String, String)], what: &str) -> &'a str {
    all.iter().find(|(name, _)| name == what).map_or_else(
        || panic!("no result `{what}` in {all:#?}"),
        |(_, o)| o.as_str(),
    )
}

#[test]
fn services_interact_and_a_stopped_one_is_named() {
    if !have_image(DEBIAN) || !have_image(SCRATCH) {
        return;
    }
    let label = case_label("suite-interact");
    let run = |extra: &[&str]| {
        let out = ispec_example()
            .args([
                "run",
                "--suite",
                &example_suite(),
                "--format",
                "json",
                "--label",
                &label,
            ])
            .args(extra)
            .output()
            .expect("ispec runs");
        json_report(&out)
    };

    let (code, doc, stderr) = run(&[]);
    let all = outcomes(&doc);
    let failing: Vec<&(String, String)> = all.iter().filter(|(_, o)| o != "pass").collect();
    assert_eq!(code, 0, "the example suite passes: {failing:#?}\n{stderr}");
    // One check cannot apply in a container, and says so; every other one passes.
    assert_eq!(
        failing,
        [&(
            "web › the clock is kept in sync › running".to_string(),
            "skip".to_string()
        )],
        "{stderr}"
    );
    assert!(all.len() >= 15, "{all:#?}");
    // A target whose checks all hold shows no output.
    for target in doc["targets"].as_array().unwrap() {
        assert!(target["output"].is_null(), "{target}");
    }
    // Each target is named by the suite, and each reached the others by name.
    for target in ["api", "web", "client"] {
        assert!(
            all.iter()
                .any(|(n, _)| n.starts_with(&format!("{target} › "))),
            "{all:#?}"
        );
    }
    assert_nothing_left(&label);

    // The api's service stopped: what needs it fails, saying what was seen; the rest holds.
    let (code, doc, stderr) = run(&["--var", "API_DOWN=1"]);
    assert_eq!(code, 1, "{stderr}");
    let all = outcomes(&doc);
    for broken in [
        "api › the api's nginx runs › running",
        "web › web reaches the api › reachable",
        "web › web proxies /api/ to the api › status",
        "client › the client reaches the api through web › status",
        "client › the client reaches the api directly › reachable",
    ] {
        assert_eq!(outcome(&all, broken), "fail", "{broken}: {all:#?}");
    }
    for unrelated in [
        "api › file /var/www/html/hello.txt › exists",
        "web › service nginx › running",
        "web › web serves its own page › status",
        "web › no zombie processes on web › zombies",
        "client › the client resolves web on the suite network › resolvable",
        "client › the client gets web's page › status",
    ] {
        assert_eq!(outcome(&all, unrelated), "pass", "{unrelated}: {all:#?}");
    }
    let proxied = doc["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["title"] == "web proxies /api/ to the api" && r["property"] == "status")
        .unwrap();
    assert_eq!(proxied["actual"], "502", "{proxied}");
    let direct = doc["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["title"] == "the client reaches the api directly")
        .unwrap();
    assert_eq!(direct["actual"], "false", "{direct}");
    assert!(
        direct["note"]
            .as_str()
            .unwrap()
            .ends_with(":80: connection refused"),
        "says why: {direct}"
    );
    assert!(
        proxied["attempts"].as_u64().unwrap() > 1,
        "retried within the suite's default: {proxied}"
    );
    // A failing container's last output comes with the report: here, why the api's
    // service is down.
    let api = doc["targets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["target"] == "api")
        .unwrap();
    let printed: Vec<&str> = api["output"]
        .as_array()
        .unwrap_or_else(|| panic!("the api's output: {api}"))
        .iter()
        .map(|l| l.as_str().unwrap())
        .collect();
    assert_eq!(
        printed,
        [
            "Starting nginx: nginx.",
            "Stopping nginx: nginx.",
            "api: ready"
        ],
        "{api}"
    );
    assert_nothing_left(&label);

    // The image tag is a variable of the suite: a tag that is not there is exit 3,
    // naming the target and the image.
    let out = ispec_example()
        .args([
            "run",
            "--suite",
            &example_suite(),
            "--var",
            "TAG=no-such-tag",
            "--label",
            &label,
        ])
        .output()
        .expect("ispec runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("cannot reach `api`"), "{stderr}");
    assert!(
        stderr.contains("ispec-fixture/debian:no-such-tag"),
        "{stderr}"
    );
    assert_nothing_left(&label);
}

#[test]
fn a_target_that_never_gets_ready_is_exit_3_and_leaves_nothing() {
    if !have_image(DEBIAN) {
        return;
    }
    let label = case_label("suite-never-ready");
    let specs = Specs::new(&[
        (
            "base.toml",
            "[file.\"/etc/ispec-fixture\"]\nexists = true\n",
        ),
        (
            "ispec.toml",
            &format!(
                "[target.db]\nimage = \"{DEBIAN}\"\nwait = {{ port = 5432, within = \"2s\" }}\nspecs = [\"base.toml\"]\n\n\
                 [target.web]\nimage = \"{DEBIAN}\"\nafter = [\"db\"]\nspecs = [\"base.toml\"]\n"
            ),
        ),
    ]);
    let out = ispec()
        .args(["run", "--suite"])
        .arg(specs.path("ispec.toml"))
        .args(["--label", &label])
        .output()
        .expect("ispec runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(
        stderr.contains("cannot reach `db`: not ready: waited 2s for port 5432 to listen"),
        "names the target and what it waited for: {stderr}"
    );
    assert!(
        stderr.contains("`web` was not started: it starts after `db`, which is not up"),
        "{stderr}"
    );
    assert_nothing_left(&label);
}

#[test]
fn only_starts_what_the_chosen_target_needs_without_checking_it() {
    if !have_image(DEBIAN) {
        return;
    }
    let label = case_label("suite-only");
    let specs = Specs::new(&[
        ("db.toml", "[port.80]\nlistening = true\n"),
        (
            "web.toml",
            "[addr.\"tcp://db:80\"]\nreachable = true\n[dns.db]\nresolvable = true\n",
        ),
        (
            "ispec.toml",
            &format!(
                "[target.db]\nimage = \"{DEBIAN}\"\nwait = {{ port = 80 }}\nspecs = [\"db.toml\"]\n\n\
                 [target.web]\nimage = \"{DEBIAN}\"\nafter = [\"db\"]\nspecs = [\"web.toml\"]\n"
            ),
        ),
    ]);
    let out = ispec()
        .args(["run", "--suite"])
        .arg(specs.path("ispec.toml"))
        .args(["--only", "web", "--format", "json", "--label", &label])
        .output()
        .expect("ispec runs");
    let (code, doc, stderr) = json_report(&out);
    assert_eq!(code, 0, "{doc:#}\n{stderr}");
    let targets: Vec<&str> = doc["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["target"].as_str().unwrap())
        .collect();
    assert_eq!(targets, ["web", "web"], "db started for web, not checked");
    assert_nothing_left(&label);
}

/// Starts `ispec run --suite` on the suite in `specs` in the background and returns
/// once `containers` of its containers and its network exist.
fn start_suite(
    specs: &Specs,
    label: &str,
    containers: usize,
    stderr: std::process::Stdio,
) -> std::process::Child {
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("ispec"))
        .args(["run", "--suite"])
        .arg(specs.path("ispec.toml"))
        .args(["--label", label])
        .stdout(std::process::Stdio::null())
        .stderr(stderr)
        .spawn()
        .expect("ispec starts");
    for _ in 0..300 {
        if crate::docker_util::ispec_containers(&format!("label={label}")).len() == containers
            && ispec_networks(label).len() == 1
        {
            return child;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    // SIGTERM: the run removes what it started.
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let _ = child.wait();
    panic!("the suite's {containers} container(s) and network never appeared");
}

#[test]
fn sigterm_while_a_suite_waits_removes_its_containers_and_network() {
    if !have_image(DEBIAN) {
        return;
    }
    let label = case_label("suite-sigterm");
    let specs = Specs::new(&[
        (
            "base.toml",
            "[file.\"/etc/ispec-fixture\"]\nexists = true\n",
        ),
        (
            "ispec.toml",
            &format!(
                "[target.api]\nimage = \"{DEBIAN}\"\nspecs = [\"base.toml\"]\n\n\
                 [target.db]\nimage = \"{DEBIAN}\"\nwait = {{ port = 5432, within = \"60s\" }}\nspecs = [\"base.toml\"]\n"
            ),
        ),
    ]);
    // Both containers up (db waiting forever) and the network there.
    let child = start_suite(&specs, &label, 2, std::process::Stdio::piped());
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(killed.success());
    let out = child.wait_with_output().expect("ispec exits");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(143), "{stderr}");
    assert!(
        stderr.contains("removed 2 containers this run started"),
        "{stderr}"
    );
    assert_nothing_left(&label);
}

#[test]
fn ispec_clean_removes_a_killed_suites_containers_and_network() {
    if !have_image(DEBIAN) {
        return;
    }
    let label = case_label("suite-sigkill");
    let specs = Specs::new(&[
        (
            "base.toml",
            "[file.\"/etc/ispec-fixture\"]\nexists = true\n",
        ),
        (
            "ispec.toml",
            &format!(
                "[target.db]\nimage = \"{DEBIAN}\"\nwait = {{ port = 5432, within = \"60s\" }}\nspecs = [\"base.toml\"]\n"
            ),
        ),
    ]);
    let mut child = start_suite(&specs, &label, 1, std::process::Stdio::null());
    // Killed outright, the run cannot clean up.
    child.kill().expect("SIGKILL");
    let _ = child.wait();
    assert_eq!(ispec_networks(&label).len(), 1, "left behind by SIGKILL");
    let out = ispec()
        .args(["clean", "--label", &label])
        .output()
        .expect("ispec clean runs");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_nothing_left(&label);
}

#[test]
fn ispec_clean_removes_a_kept_suites_network_and_names_it_but_not_another_jobs() {
    if !have_image(DEBIAN) {
        return;
    }
    let label = case_label("suite-kept");
    let specs = Specs::new(&[
        (
            "base.toml",
            "[file.\"/etc/ispec-fixture\"]\nexists = true\n",
        ),
        (
            "ispec.toml",
            &format!("[target.db]\nimage = \"{DEBIAN}\"\nspecs = [\"base.toml\"]\n"),
        ),
    ]);
    let out = ispec()
        .args(["run", "--keep", "--suite"])
        .arg(specs.path("ispec.toml"))
        .args(["--label", &label])
        .output()
        .expect("ispec runs");
    assert!(out.status.success(), "{out:?}");
    // Its network is not even tried: the engine would refuse while a container is
    // on it, and the run would wait for nothing and warn.
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("warning:"), "{stderr}");
    assert!(stderr.contains("kept container"), "{stderr}");
    // A kept container keeps its network; no other run's sweep takes either.
    let networks = ispec_networks(&label);
    assert_eq!(networks.len(), 1, "kept with its container");

    // Another job's `--label` leaves both alone.
    let other = case_label("suite-kept-other");
    let out = ispec()
        .args(["clean", "--label", &other])
        .output()
        .expect("ispec clean runs");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "0 containers removed\n"
    );
    assert_eq!(ispec_networks(&label), networks);

    let out = ispec()
        .args(["clean", "--label", &label])
        .output()
        .expect("ispec clean runs");
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        said.contains(&format!("removed network {}\n", networks[0]))
            && said.ends_with("1 container and 1 network removed\n"),
        "{said}"
    );
    assert_nothing_left(&label);
}
