//! Gathering in bulk: the web-node benchmark spec (`bench/web-node/`) costs a fixed
//! number of round trips on Docker and SSH, however many checks it has. A count, not a
//! time: a regression in batching fails here whatever the machine's speed.

use std::path::PathBuf;
use std::process::Output;

use crate::docker_util::{DEBIAN, Started, have_image};
use crate::ssh_util::{Keys, Sshd};
use crate::util::{ispec, json_report};

/// The generated web-node spec with `checks` checks.
fn web_node(checks: usize) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!(
        "bench/web-node/generated/ispec/web-node-{checks}.toml"
    ))
}

/// `ispec run SPEC -t TARGET --format json` with the test's key and known hosts.
fn over_ssh(keys: &Keys, spec: &std::path::Path, target: &str, extra: &[&str]) -> Output {
    keys.ispec()
        .arg("run")
        .arg(spec)
        .args([
            "-t",
            target,
            "--format",
            "json",
            "--accept-new-host-key",
            "-i",
        ])
        .arg(keys.key())
        .arg("--known-hosts")
        .arg(keys.known_hosts())
        .args(extra)
        .output()
        .expect("ispec runs")
}

/// Every check passed; returns the target's stats from the JSON report.
fn passed_with_stats(
    out: &std::process::Output,
    checks: usize,
) -> (serde_json::Value, serde_json::Value) {
    let (code, doc, err) = json_report(out);
    assert_eq!(code, 0, "{doc:#} {err}");
    assert_eq!(doc["summary"]["passed"], checks, "{doc:#}");
    let stats = doc["targets"][0].clone();
    (doc, stats)
}

#[test]
fn web_node_costs_two_round_trips_in_a_container_at_any_size() {
    if !have_image(DEBIAN) {
        return;
    }
    let started = Started::debian_ready(&[]);
    for checks in [50, 200] {
        let out = ispec()
            .arg("run")
            .arg(web_node(checks))
            .args(["-t", &started.target(), "--format", "json"])
            .output()
            .expect("ispec runs");
        let (_, stats) = passed_with_stats(&out, checks);
        // The probe copied in through the archive endpoint, then one exec.
        assert_eq!(stats["gather"], "probe", "{stats:#}");
        assert_eq!(stats["round_trips"], 2, "{checks} checks: {stats:#}");
    }
    // Without the probe: one shell script, one exec.
    let out = ispec()
        .arg("run")
        .arg(web_node(50))
        .args(["-t", &started.target(), "--format", "json", "--no-probe"])
        .output()
        .expect("ispec runs");
    let (_, stats) = passed_with_stats(&out, 50);
    assert_eq!(stats["gather"], "script", "{stats:#}");
    assert_eq!(stats["round_trips"], 1, "{stats:#}");
    // Neither the probe nor the script's scratch folder stays behind.
    let listing = std::process::Command::new("docker")
        .args(["exec", &started.id, "ls", "-a", "/", "/tmp"])
        .output()
        .unwrap();
    let listing = String::from_utf8_lossy(&listing.stdout);
    assert!(!listing.contains("ispec"), "{listing}");
}

#[test]
fn web_node_costs_one_round_trip_over_ssh_at_any_size() {
    if !have_image(DEBIAN) {
        return;
    }
    let keys = Keys::new();
    let sshd = Sshd::start(&keys);
    let target = sshd.target();
    for checks in [50, 200] {
        // As root through sudo: the 200-check set reads /etc/sudoers.
        let out = over_ssh(&keys, &web_node(checks), &target, &["--sudo"]);
        let (_, stats) = passed_with_stats(&out, checks);
        // The probe goes in on standard input of the one command that runs it.
        assert_eq!(stats["gather"], "probe", "{stats:#}");
        assert_eq!(stats["round_trips"], 1, "{checks} checks: {stats:#}");
        assert!(stats["bytes_sent"].as_u64().unwrap() > 100_000, "{stats:#}");
    }
    // The probe's temporary file is gone.
    let listing = sshd.exec("ls -a /tmp /home/app");
    assert!(!listing.contains("ispec"), "{listing}");

    // The probe does not list the shell that started it (the fixture's own `sh`
    // processes are its init script and its health check).
    let specs = crate::util::Specs::new(&[(
        "spec.toml",
        "[process.sh]\nrunning = true\nargs = { not = { contains = \"ispec-probe\" } }\n\n\
         [process.sshd]\nrunning = true\n",
    )]);
    let out = over_ssh(&keys, &specs.path("spec.toml"), &target, &[]);
    let (_, stats) = passed_with_stats(&out, 3);
    assert_eq!(stats["gather"], "probe", "{stats:#}");
}

#[test]
fn a_read_only_container_is_gathered_by_the_script() {
    if !have_image(DEBIAN) {
        return;
    }
    // The probe cannot be copied into a read-only root; the script needs no file of
    // its own but a scratch folder, which /dev/shm gives.
    let started = Started::run_cmd(DEBIAN, &["--read-only", "--entrypoint", "sleep"], &["600"]);
    let specs = crate::util::Specs::new(&[(
        "spec.toml",
        "[file.\"/etc/passwd\"]\nmode = \"0644\"\nowner = \"root\"\n\n\
         [command.\"echo hi\"]\nstdout = \"hi\"\n",
    )]);
    let out = ispec()
        .arg("run")
        .arg(specs.path("spec.toml"))
        .args(["-t", &started.target(), "--format", "json"])
        .output()
        .expect("ispec runs");
    let (_, stats) = passed_with_stats(&out, 3);
    assert_eq!(stats["gather"], "script", "{stats:#}");
    let why = stats["fallback"].as_str().unwrap_or_default();
    assert!(why.contains("read-only"), "{stats:#}");
    // The failed copy and the script.
    assert_eq!(stats["round_trips"], 2, "{stats:#}");
}

#[test]
fn a_noexec_tmp_over_ssh_is_gathered_by_the_script() {
    if !have_image(DEBIAN) {
        return;
    }
    let keys = Keys::new();
    let sshd = Sshd::start_with(&keys, &["--tmpfs", "/tmp:rw,noexec,mode=1777"]);
    let specs = crate::util::Specs::new(&[(
        "spec.toml",
        "[file.\"/etc/passwd\"]\nmode = \"0644\"\n\n[process.sshd]\nrunning = true\n",
    )]);
    let out = over_ssh(&keys, &specs.path("spec.toml"), &sshd.target(), &[]);
    let (_, stats) = passed_with_stats(&out, 2);
    assert_eq!(stats["gather"], "script", "{stats:#}");
    let why = stats["fallback"].as_str().unwrap_or_default();
    assert!(why.contains("the probe did not run"), "{stats:#}");
    // The probe that could not run, then the script.
    assert_eq!(stats["round_trips"], 2, "{stats:#}");
    let listing = sshd.exec("ls -a /tmp");
    assert!(!listing.contains("ispec"), "{listing}");
}

/// Loads a copy of `image` whose configuration claims the CPU `arch` (its programs
/// stay what they are), as `ispec-test/arch:ARCH`.
fn relabelled(image: &str, arch: &str) -> String {
    use sha2::Digest;
    use std::fmt::Write as _;
    use std::io::{Read, Write};
    let saved = std::process::Command::new("docker")
        .args(["save", image])
        .output()
        .expect("docker runs");
    assert!(saved.status.success());
    let mut files: Vec<(String, Vec<u8>)> = Vec::new();
    for entry in tar::Archive::new(&saved.stdout[..]).entries().unwrap() {
        let mut entry = entry.unwrap();
        let path = entry.path().unwrap().to_string_lossy().into_owned();
        let mut bytes = Vec::new();
        entry.read_to_end(&mut bytes).unwrap();
        files.push((path, bytes));
    }
    let name = format!("ispec-test/arch:{arch}");
    let manifest_at = files
        .iter()
        .position(|(p, _)| p == "manifest.json")
        .unwrap();
    let mut manifest: serde_json::Value = serde_json::from_slice(&files[manifest_at].1).unwrap();
    let config_name = manifest[0]["Config"].as_str().unwrap().to_string();
    let config_at = files.iter().position(|(p, _)| *p == config_name).unwrap();
    let mut config: serde_json::Value = serde_json::from_slice(&files[config_at].1).unwrap();
    config["architecture"] = arch.into();
    let config = serde_json::to_vec(&config).unwrap();
    // The configuration is named by its digest.
    let digest = sha2::Sha256::digest(&config)
        .iter()
        .fold(String::new(), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        });
    files[config_at] = (format!("{digest}.json"), config);
    manifest[0]["Config"] = format!("{digest}.json").into();
    manifest[0]["RepoTags"] = serde_json::json!([name]);
    files[manifest_at].1 = serde_json::to_vec(&manifest).unwrap();
    files.retain(|(p, _)| p != "repositories");
    let mut out = tar::Builder::new(Vec::new());
    for (path, bytes) in &files {
        let mut header = tar::Header::new_gnu();
        header.set_size(bytes.len() as u64);
        header.set_mode(if path.ends_with('/') { 0o755 } else { 0o644 });
        if path.ends_with('/') {
            header.set_entry_type(tar::EntryType::Directory);
        }
        out.append_data(&mut header, path, &bytes[..]).unwrap();
    }
    let tar = out.into_inner().unwrap();
    let mut load = std::process::Command::new("docker")
        .args(["load", "-q"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("docker runs");
    load.stdin.take().unwrap().write_all(&tar).unwrap();
    assert!(load.wait().unwrap().success());
    name
}

#[test]
fn an_image_for_another_cpu_gets_no_probe() {
    if !have_image(crate::docker_util::SCRATCH) {
        return;
    }
    // The scratch server runs here whatever its image claims; the probe is not sent.
    let (here, other) = if cfg!(target_arch = "x86_64") {
        ("amd64", "arm64")
    } else {
        ("arm64", "amd64")
    };
    let image = relabelled(crate::docker_util::SCRATCH, other);
    let specs = crate::util::Specs::new(&[(
        "spec.toml",
        "[file.\"/ispec-scratch-server\"]\nmode = \"0755\"\n",
    )]);
    let label = crate::docker_util::case_label("arch");
    let out = ispec()
        .arg("run")
        .arg(specs.path("spec.toml"))
        .args(["--image", &image, "--wait-port", "8080", "--label", &label])
        .args(["--format", "json"])
        .output()
        .expect("ispec runs");
    let (_, stats) = passed_with_stats(&out, 1);
    assert_eq!(stats["gather"], "per-fact", "{stats:#}");
    let why = stats["fallback"].as_str().unwrap_or_default();
    assert!(
        why.starts_with(&format!(
            "the probe is built for {here}, the image for {other}"
        )),
        "{stats:#}"
    );
    crate::docker_util::assert_none_left(&label);
    let _ = std::process::Command::new("docker")
        .args(["rmi", &image])
        .output();
}

#[test]
fn retries_carry_no_probe() {
    if !have_image(DEBIAN) {
        return;
    }
    let started = Started::debian_ready(&[]);
    let specs = crate::util::Specs::new(&[(
        "spec.toml",
        // The condition holds at once and is not asked again on retries.
        "[file.\"/tmp/flag\"]\nexists = true\nwithin = \"20s\"\nwhen = \"container\"\n",
    )]);
    let id = started.id.clone();
    let later = std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_millis(1500));
        std::process::Command::new("docker")
            .args(["exec", &id, "touch", "/tmp/flag"])
            .status()
            .unwrap()
    });
    let out = ispec()
        .arg("run")
        .arg(specs.path("spec.toml"))
        .args(["-t", &started.target(), "--format", "json"])
        .output()
        .expect("ispec runs");
    assert!(later.join().unwrap().success());
    let (doc, stats) = passed_with_stats(&out, 1);
    let attempts = doc["results"][0]["attempts"].as_u64().unwrap();
    assert!(attempts > 1, "{doc:#}");
    // The probe went in twice (copy + exec each): the condition's facts, then, as
    // it held, the file's. Each retry was one small script, asking for the file
    // alone: the condition is not asked again.
    assert_eq!(stats["round_trips"], 2 * 2 + attempts - 1, "{stats:#}");
    // Two probes of 1.4 MB, and no third.
    assert!(
        stats["bytes_sent"].as_u64().unwrap() < 3_000_000,
        "{stats:#}"
    );
}

#[test]
fn a_host_without_gzip_is_sent_the_probe_as_it_is() {
    if !have_image(DEBIAN) {
        return;
    }
    let keys = Keys::new();
    let sshd = Sshd::start(&keys);
    let specs =
        crate::util::Specs::new(&[("spec.toml", "[file.\"/etc/passwd\"]\nmode = \"0644\"\n")]);
    let spec = specs.path("spec.toml");
    // With gzip: the probe goes compressed, in one round trip.
    let (_, stats) = passed_with_stats(&over_ssh(&keys, &spec, &sshd.target(), &[]), 1);
    assert_eq!(stats["round_trips"], 1, "{stats:#}");
    let compressed = stats["bytes_sent"].as_u64().unwrap();
    assert!(compressed < 1_000_000, "{stats:#}");
    // Without: the host says so, and the probe goes again as it is.
    sshd.exec("rm -f /usr/bin/gzip /bin/gzip");
    let (_, stats) = passed_with_stats(&over_ssh(&keys, &spec, &sshd.target(), &[]), 1);
    assert_eq!(stats["gather"], "probe", "{stats:#}");
    assert_eq!(stats["round_trips"], 2, "{stats:#}");
    assert!(
        stats["bytes_sent"].as_u64().unwrap() > compressed + 1_000_000,
        "{stats:#}"
    );
}
