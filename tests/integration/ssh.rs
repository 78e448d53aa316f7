//! The SSH backend against a real sshd (the Debian fixture, port 22 published on
//! 127.0.0.1): every kind, each way of logging in, host keys, sudo, the SSH config,
//! a jump host, a host lost mid-run, and hosts that cannot be reached.

use std::path::Path;
use std::process::Output;
use std::time::{Duration, Instant};

use crate::docker::{CORE_KINDS, kinds_all_passed};
use crate::docker_util::{DEBIAN, Started, case_label, have_image, wait_ready};
use crate::ssh_util::{Agent, Keys, Network, Sshd, authorize, exec, left_behind, set_up};
use crate::util::{Specs, json_report, outcome, result};

/// `command."id -un"` expecting `user`.
fn whoami(user: &str) -> Specs {
    Specs::new(&[(
        "spec.toml",
        &format!("[command.\"id -un\"]\nstdout = \"{user}\"\n"),
    )])
}

fn arg(path: &Path) -> &str {
    path.to_str().expect("UTF-8 path")
}

/// Runs `ispec run ARGS` as `keys` sets it up, with extra environment variables.
fn run(keys: &Keys, args: &[&str], envs: &[(&str, &str)]) -> Output {
    let mut cmd = keys.ispec();
    cmd.arg("run").args(args);
    for (k, v) in envs {
        cmd.env(k, v);
    }
    cmd.output().expect("ispec runs")
}

/// [`run`] with `--format json`: the exit code, the report and standard error.
fn run_json(keys: &Keys, args: &[&str], envs: &[(&str, &str)]) -> (i32, serde_json::Value, String) {
    let mut all = args.to_vec();
    all.extend(["--format", "json"]);
    json_report(&run(keys, &all, envs))
}

/// `-i KEY --known-hosts FILE`: the test's own key and known hosts.
fn login<'a>(key: &'a Path, known_hosts: &'a Path) -> [&'a str; 4] {
    ["-i", arg(key), "--known-hosts", arg(known_hosts)]
}

fn stderr_of(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The results of one target in a report.
fn results_of<'a>(doc: &'a serde_json::Value, target: &str) -> Vec<&'a serde_json::Value> {
    doc["results"]
        .as_array()
        .expect("results")
        .iter()
        .filter(|r| r["target"] == target)
        .collect()
}

/// `ssh-keygen -lf` of a public key line: its `SHA256:...` fingerprint.
fn fingerprint(public_key: &str) -> String {
    let mut child = std::process::Command::new("ssh-keygen")
        .args(["-l", "-f", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("ssh-keygen runs");
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().expect("stdin");
        stdin.write_all(public_key.as_bytes()).expect("write");
    }
    let out = child.wait_with_output().expect("ssh-keygen");
    let text = String::from_utf8_lossy(&out.stdout);
    text.split_whitespace()
        .nth(1)
        .unwrap_or_else(|| panic!("no fingerprint in {text}"))
        .to_string()
}

#[test]
fn every_kind_passes_over_ssh_with_sudo_and_checks_run_as_the_login_user_without() {
    if !have_image(DEBIAN) {
        return;
    }
    let keys = Keys::new();
    let sshd = Sshd::start(&keys);
    let (key, known_hosts) = (keys.key(), keys.known_hosts());
    let spec = Path::new(env!("CARGO_MANIFEST_DIR")).join("specs/docker/debian-fixture.toml");
    let target = sshd.target();
    let mut args = vec![arg(&spec), "-t", &target];
    args.extend(login(&key, &known_hosts));
    args.extend(["--accept-new-host-key", "--sudo"]);
    let (code, doc, stderr) = run_json(&keys, &args, &[]);
    assert_eq!(code, 0, "{doc:#} {stderr}");
    let (kinds, passed) = kinds_all_passed(&doc);
    assert!(passed, "{doc:#}");
    assert_eq!(kinds, CORE_KINDS, "every core kind is in the fixture spec");
    assert_eq!(doc["summary"]["total"], 44);
    assert_eq!(doc["results"][0]["target"], sshd.target());

    // Without --sudo the checks run as the login user.
    let specs = whoami("app");
    let spec = specs.path("spec.toml");
    let mut args = vec![arg(&spec), "-t", &target];
    args.extend(login(&key, &known_hosts));
    let (code, doc, stderr) = run_json(&keys, &args, &[]);
    assert_eq!(code, 0, "{doc:#} {stderr}");
    assert_eq!(outcome(&doc, "command", "id -un", "stdout"), "pass");

    // `ispec add` takes the same SSH flags.
    let out = keys
        .ispec()
        .args(["add", "user", "app", "-t", &target])
        .args(login(&key, &known_hosts))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    let printed = String::from_utf8_lossy(&out.stdout);
    assert!(printed.contains("uid = 1000\n"), "{printed}");
}

#[test]
fn checks_share_one_connection_and_run_at_once() {
    if !have_image(DEBIAN) {
        return;
    }
    let keys = Keys::new();
    let sshd = Sshd::start(&keys);
    // The four checks meet: each leaves a mark and waits (at most 10 s) for the
    // other three, then says how many it met and counts the connections of `app`
    // (one `sshd: app@notty` process each). Checks run one after another would meet
    // fewer than four.
    let spec = (1..=4)
        .map(|i| {
            format!(
                "[command.\"d=/tmp/ispec-meet; mkdir -p $d; touch $d/{i}; n=0; \
                 until [ $(ls $d | wc -l) -ge 4 ] || [ $n -ge 100 ]; do n=$((n+1)); sleep 0.1; done; \
                 echo $(ls $d | wc -l) $(pgrep -c -f '^sshd: app@notty')\"]\nstdout = \"4 1\"\n"
            )
        })
        .collect::<Vec<_>>()
        .join("\n");
    let specs = Specs::new(&[("spec.toml", &spec)]);
    let (key, known_hosts) = (keys.key(), keys.known_hosts());
    let target = sshd.target();
    let spec = specs.path("spec.toml");
    let mut args = vec![arg(&spec), "-t", &target, "--jobs", "4"];
    args.extend(login(&key, &known_hosts));
    args.push("--accept-new-host-key");
    let (code, doc, stderr) = run_json(&keys, &args, &[]);
    assert_eq!(
        code, 0,
        "one connection for every check, all four at once: {doc:#} {stderr}"
    );
}

#[test]
fn checks_past_the_server_session_limit_wait_for_a_channel() {
    if !have_image(DEBIAN) {
        return;
    }
    let keys = Keys::new();
    let sshd = Sshd::start(&keys);
    sshd.exec("echo 'MaxSessions 2' > /etc/ssh/sshd_config.d/ispec-test.conf");
    sshd.reload();
    let spec = (1..=6)
        .map(|i| format!("[command.\"sleep 0.5; echo {i}\"]\nstdout = \"{i}\"\n"))
        .collect::<Vec<_>>()
        .join("\n");
    let specs = Specs::new(&[("spec.toml", &spec)]);
    let (spec, key, known_hosts, target) = (
        specs.path("spec.toml"),
        keys.key(),
        keys.known_hosts(),
        sshd.target(),
    );
    let mut args = vec![
        arg(&spec),
        "-t",
        &target,
        "--jobs",
        "6",
        // One channel per program: the probe would run all six in one.
        "--gather",
        "per-fact",
        "--accept-new-host-key",
    ];
    args.extend(login(&key, &known_hosts));
    let started = Instant::now();
    let (code, doc, err) = run_json(&keys, &args, &[]);
    let took = started.elapsed();
    assert_eq!(code, 0, "{doc:#} {err}");
    assert!(
        took >= Duration::from_millis(1400),
        "six 0.5 s checks two at a time take 1.5 s, not {took:?}: was the limit set?"
    );
}

#[test]
fn a_key_the_host_does_not_accept_is_exit_3() {
    if !have_image(DEBIAN) {
        return;
    }
    let keys = Keys::new();
    let sshd = Sshd::start(&keys);
    let stranger = keys.generate("stranger", "");
    let specs = whoami("app");
    let (spec, known_hosts, target) = (specs.path("spec.toml"), keys.known_hosts(), sshd.target());
    let mut args = vec![arg(&spec), "-t", &target, "--accept-new-host-key"];
    args.extend(login(&stranger, &known_hosts));
    let out = run(&keys, &args, &[]);
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    let err = stderr_of(&out);
    assert_eq!(
        err,
        format!(
            "error: cannot reach `app@127.0.0.1:{}`: authentication failed for `app`: tried `{}`; \
             no agent (SSH_AUTH_SOCK is not set); no password (ISPEC_SSH_PASSWORD is not set)\n",
            sshd.port,
            stranger.display()
        )
    );
    assert!(out.stdout.is_empty(), "nothing ran");

    // With no key at all (an empty HOME, no agent) it says what it tried.
    let out = run(
        &keys,
        &[
            arg(&spec),
            "-t",
            &target,
            "--known-hosts",
            arg(&known_hosts),
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    assert_eq!(
        stderr_of(&out),
        format!(
            "error: cannot reach `app@127.0.0.1:{}`: authentication failed for `app`: nothing to \
             try: no agent (SSH_AUTH_SOCK is not set); no identity file (no -i, no IdentityFile, \
             no ~/.ssh/id_ed25519, id_ecdsa or id_rsa); no password (ISPEC_SSH_PASSWORD is not set)\n",
            sshd.port
        )
    );
}

#[test]
fn an_agent_logs_in_without_identity_files() {
    if !have_image(DEBIAN) {
        return;
    }
    let keys = Keys::new();
    let sshd = Sshd::start(&keys);
    let specs = whoami("app");
    let (spec, known_hosts, target) = (specs.path("spec.toml"), keys.known_hosts(), sshd.target());
    let args = [
        arg(&spec),
        "-t",
        &target,
        "--known-hosts",
        arg(&known_hosts),
        "--accept-new-host-key",
    ];
    let agent = Agent::with_key(&keys.key());
    let socket = agent.socket.to_str().expect("UTF-8 path");
    let (code, doc, stderr) = run_json(&keys, &args, &[("SSH_AUTH_SOCK", socket)]);
    assert_eq!(code, 0, "{doc:#} {stderr}");
    drop(agent);

    // An agent whose key the host does not know is named in the failure.
    let stranger = Agent::with_key(&keys.generate("stranger", ""));
    let socket = stranger.socket.to_str().expect("UTF-8 path");
    let out = run(&keys, &args, &[("SSH_AUTH_SOCK", socket)]);
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    assert_eq!(
        stderr_of(&out),
        format!(
            "error: cannot reach `app@127.0.0.1:{}`: authentication failed for `app`: tried the \
             agent's key; no identity file (no -i, no IdentityFile, no ~/.ssh/id_ed25519, \
             id_ecdsa or id_rsa); no password (ISPEC_SSH_PASSWORD is not set)\n",
            sshd.port
        )
    );
}

#[test]
fn a_password_logs_in_and_shows_nowhere() {
    if !have_image(DEBIAN) {
        return;
    }
    let keys = Keys::new();
    let sshd = Sshd::start(&keys);
    let password = "Pw-7c1e-only-in-env";
    sshd.exec(&format!("echo 'app:{password}' | chpasswd"));
    assert!(
        sshd.exec("sshd -T")
            .contains("\npasswordauthentication yes\n"),
        "the fixture's sshd allows passwords"
    );
    let specs = whoami("app");
    let (spec, known_hosts, target) = (specs.path("spec.toml"), keys.known_hosts(), sshd.target());
    let args = [
        arg(&spec),
        "-t",
        &target,
        "--known-hosts",
        arg(&known_hosts),
        "--accept-new-host-key",
    ];
    let out = run(&keys, &args, &[("ISPEC_SSH_PASSWORD", "not-it")]);
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    assert_eq!(
        stderr_of(&out),
        format!(
            "error: cannot reach `app@127.0.0.1:{}`: authentication failed for `app`: tried the \
             password in ISPEC_SSH_PASSWORD; no agent (SSH_AUTH_SOCK is not set); no identity \
             file (no -i, no IdentityFile, no ~/.ssh/id_ed25519, id_ecdsa or id_rsa)\n",
            sshd.port
        )
    );

    let out = run(
        &keys,
        &[&args[..], &["--format", "json"]].concat(),
        &[("ISPEC_SSH_PASSWORD", password)],
    );
    let (code, doc, err) = json_report(&out);
    assert_eq!(code, 0, "{doc:#} {err}");
    assert_eq!(outcome(&doc, "command", "id -un", "stdout"), "pass");
    for (name, text) in [("stdout", &out.stdout), ("stderr", &out.stderr)] {
        assert!(
            !String::from_utf8_lossy(text).contains(password),
            "the password is in {name}"
        );
    }
}

#[test]
fn an_encrypted_key_needs_ispec_ssh_passphrase() {
    if !have_image(DEBIAN) {
        return;
    }
    let keys = Keys::new();
    let sshd = Sshd::start(&keys);
    let locked = keys.generate("locked", "correct horse");
    authorize(&sshd.container, &Keys::public(&locked));
    let specs = whoami("app");
    let (spec, known_hosts, target) = (specs.path("spec.toml"), keys.known_hosts(), sshd.target());
    let mut args = vec![arg(&spec), "-t", &target, "--accept-new-host-key"];
    args.extend(login(&locked, &known_hosts));

    let out = run(&keys, &args, &[]);
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    assert_eq!(
        stderr_of(&out),
        format!(
            "error: cannot reach `app@127.0.0.1:{}`: authentication failed for `app`: nothing to \
             try: no agent (SSH_AUTH_SOCK is not set); `{}` is encrypted (set \
             ISPEC_SSH_PASSPHRASE); no password (ISPEC_SSH_PASSWORD is not set)\n",
            sshd.port,
            locked.display()
        )
    );

    let out = run(&keys, &args, &[("ISPEC_SSH_PASSPHRASE", "wrong horse")]);
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    assert!(
        stderr_of(&out).contains(&format!(
            "; `{}` does not decrypt with the passphrase in ISPEC_SSH_PASSPHRASE;",
            locked.display()
        )),
        "{}",
        stderr_of(&out)
    );

    let (code, doc, err) = run_json(&keys, &args, &[("ISPEC_SSH_PASSPHRASE", "correct horse")]);
    assert_eq!(code, 0, "{doc:#} {err}");
}

#[test]
fn an_unknown_host_key_is_refused_unless_accepted_and_is_then_known() {
    if !have_image(DEBIAN) {
        return;
    }
    let keys = Keys::new();
    let sshd = Sshd::start(&keys);
    let specs = whoami("app");
    let (spec, key, known_hosts, target) = (
        specs.path("spec.toml"),
        keys.key(),
        keys.known_hosts(),
        sshd.target(),
    );
    // A known hosts file that knows another host only.
    let other = format!(
        "[127.0.0.1]:1 {}\n",
        Keys::public(&keys.generate("other-host", ""))
            .split_whitespace()
            .take(2)
            .collect::<Vec<_>>()
            .join(" ")
    );
    std::fs::write(&known_hosts, &other).unwrap();
    let mut args = vec![arg(&spec), "-t", &target];
    args.extend(login(&key, &known_hosts));

    let out = run(&keys, &args, &[]);
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    let host_key = sshd.host_key("ed25519");
    let kh = known_hosts.display();
    assert_eq!(
        stderr_of(&out),
        format!(
            "error: cannot reach `app@127.0.0.1:{port}`: its host key ({fp}) is not in `{kh}`; \
             check the fingerprint and add it (`ssh-keyscan -p {port} 127.0.0.1 >> {kh}`), \
             or pass --accept-new-host-key to record it\n",
            port = sshd.port,
            fp = fingerprint(&host_key),
        )
    );
    assert_eq!(std::fs::read_to_string(&known_hosts).unwrap(), other);

    args.push("--accept-new-host-key");
    let (code, doc, err) = run_json(&keys, &args, &[]);
    assert_eq!(code, 0, "{doc:#} {err}");
    assert_eq!(
        std::fs::read_to_string(&known_hosts).unwrap(),
        format!("{other}{} {host_key}\n", sshd.known_name()),
        "the key is recorded as OpenSSH would"
    );

    // Recorded: known from now on, hashed or not.
    args.pop();
    let (code, doc, err) = run_json(&keys, &args, &[]);
    assert_eq!(code, 0, "{doc:#} {err}");
    let hashed = std::process::Command::new("ssh-keygen")
        .arg("-H")
        .arg("-f")
        .arg(&known_hosts)
        .output()
        .expect("ssh-keygen runs");
    assert!(hashed.status.success(), "{hashed:?}");
    let text = std::fs::read_to_string(&known_hosts).unwrap();
    assert!(
        !text.contains("127.0.0.1") && text.starts_with("|1|"),
        "{text}"
    );
    let (code, doc, err) = run_json(&keys, &args, &[]);
    assert_eq!(code, 0, "hashed entries are read: {doc:#} {err}");
}

#[test]
fn a_changed_or_revoked_host_key_is_refused_even_with_accept_new_host_key() {
    if !have_image(DEBIAN) {
        return;
    }
    let keys = Keys::new();
    let sshd = Sshd::start(&keys);
    let specs = whoami("app");
    let (spec, key, known_hosts, target) = (
        specs.path("spec.toml"),
        keys.key(),
        keys.known_hosts(),
        sshd.target(),
    );
    let impostor: String = Keys::public(&keys.generate("impostor", ""))
        .split_whitespace()
        .take(2)
        .collect::<Vec<_>>()
        .join(" ");
    let recorded = format!("{} {impostor}\n", sshd.known_name());
    std::fs::write(&known_hosts, &recorded).unwrap();
    let mut args = vec![arg(&spec), "-t", &target, "--accept-new-host-key"];
    args.extend(login(&key, &known_hosts));
    let out = run(&keys, &args, &[]);
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    let kh = known_hosts.display();
    assert_eq!(
        stderr_of(&out),
        format!(
            "error: cannot reach `app@127.0.0.1:{port}`: HOST KEY MISMATCH: the host's key ({fp}) \
             is not the one `{kh}` records for `[127.0.0.1]:{port}`; someone may be intercepting \
             the connection. If the host was rebuilt, remove the old key with \
             `ssh-keygen -f {kh} -R '[127.0.0.1]:{port}'`\n",
            port = sshd.port,
            fp = fingerprint(&sshd.host_key("ed25519")),
        )
    );
    assert_eq!(std::fs::read_to_string(&known_hosts).unwrap(), recorded);

    // A key marked @revoked is refused, even where another line knows it.
    let host_key = sshd.host_key("ed25519");
    let recorded = format!("@revoked * {host_key}\n{} {host_key}\n", sshd.known_name());
    std::fs::write(&known_hosts, &recorded).unwrap();
    let out = run(&keys, &args, &[]);
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    assert_eq!(
        stderr_of(&out),
        format!(
            "error: cannot reach `app@127.0.0.1:{}`: its host key ({}) is marked @revoked in \
             `{kh}`: it must not be used\n",
            sshd.port,
            fingerprint(&host_key),
        )
    );
    assert_eq!(std::fs::read_to_string(&known_hosts).unwrap(), recorded);
}

#[test]
fn a_host_known_by_another_key_type_is_not_a_mismatch() {
    if !have_image(DEBIAN) {
        return;
    }
    let keys = Keys::new();
    let sshd = Sshd::start(&keys);
    let specs = whoami("app");
    let (spec, key, known_hosts, target) = (
        specs.path("spec.toml"),
        keys.key(),
        keys.known_hosts(),
        sshd.target(),
    );
    let mut args = vec![arg(&spec), "-t", &target];
    args.extend(login(&key, &known_hosts));
    for kind in ["ecdsa", "rsa"] {
        let recorded = format!("{} {}\n", sshd.known_name(), sshd.host_key(kind));
        std::fs::write(&known_hosts, &recorded).unwrap();
        let (code, doc, err) = run_json(&keys, &args, &[]);
        assert_eq!(code, 0, "known by its {kind} key: {doc:#} {err}");
        assert_eq!(std::fs::read_to_string(&known_hosts).unwrap(), recorded);
    }
}

#[test]
fn sudo_runs_checks_as_root_and_takes_the_password_sudoers_asks_for() {
    if !have_image(DEBIAN) {
        return;
    }
    let keys = Keys::new();
    let sshd = Sshd::start(&keys);
    // `cat` shows whatever reaches a command's input: never the sudo password.
    let specs = Specs::new(&[(
        "spec.toml",
        "[command.\"id -un\"]\nstdout = \"root\"\n\n[command.cat]\nstdout = \"\"\n",
    )]);
    let (spec, key, known_hosts, target) = (
        specs.path("spec.toml"),
        keys.key(),
        keys.known_hosts(),
        sshd.target(),
    );
    let mut args = vec![arg(&spec), "-t", &target, "--accept-new-host-key", "--sudo"];
    args.extend(login(&key, &known_hosts));
    let (code, doc, err) = run_json(&keys, &args, &[]);
    assert_eq!(code, 0, "NOPASSWD: {doc:#} {err}");
    let password = "Sudo-3b9d-only-in-env";
    let out = run(
        &keys,
        &[&args[..], &["--format", "json"]].concat(),
        &[("ISPEC_SUDO_PASSWORD", password)],
    );
    let (code, doc, err) = json_report(&out);
    assert_eq!(
        code, 0,
        "NOPASSWD, a password given all the same: {doc:#} {err}"
    );
    for text in [&out.stdout, &out.stderr] {
        assert!(!String::from_utf8_lossy(text).contains(password));
    }

    sshd.exec(&format!(
        "echo 'app:{password}' | chpasswd && echo 'app ALL=(ALL) ALL' > /etc/sudoers.d/app"
    ));
    let message = |doc: &serde_json::Value| {
        result(doc, "command", "id -un", "stdout")["message"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    };
    let (code, doc, _) = run_json(&keys, &args, &[]);
    assert_eq!(code, 1, "{doc:#}");
    assert_eq!(outcome(&doc, "command", "id -un", "stdout"), "error");
    assert_eq!(
        message(&doc),
        format!(
            "permission denied: sudo on `{target}` wants a password: set ISPEC_SUDO_PASSWORD, \
             or allow the user to run sudo without one (NOPASSWD)"
        )
    );

    let (code, doc, _) = run_json(&keys, &args, &[("ISPEC_SUDO_PASSWORD", "not-it")]);
    assert_eq!(code, 1, "{doc:#}");
    assert_eq!(
        message(&doc),
        format!(
            "permission denied: sudo on `{target}` refused the password in ISPEC_SUDO_PASSWORD"
        )
    );

    let out = run(
        &keys,
        &[&args[..], &["--format", "json"]].concat(),
        &[("ISPEC_SUDO_PASSWORD", password)],
    );
    let (code, doc, err) = json_report(&out);
    assert_eq!(code, 0, "{doc:#} {err}");
    for text in [&out.stdout, &out.stderr] {
        assert!(!String::from_utf8_lossy(text).contains(password));
    }

    // A host without sudo says so.
    sshd.exec("mv /usr/bin/sudo /usr/bin/sudo.away");
    let (code, doc, _) = run_json(&keys, &args, &[]);
    assert_eq!(code, 1, "{doc:#}");
    assert_eq!(message(&doc), "`sudo` is not installed on the target");
}

#[test]
fn an_ssh_config_alias_is_reached_through_its_hostname() {
    if !have_image(DEBIAN) {
        return;
    }
    let keys = Keys::new();
    let sshd = Sshd::start(&keys);
    // The key lives in the (test's) home, named with `~` as configs usually do.
    let ssh_dir = keys.home().join(".ssh");
    std::fs::create_dir(&ssh_dir).unwrap();
    std::fs::copy(keys.key(), ssh_dir.join("id_web")).unwrap();
    let config = format!(
        "Host web\n  HostName 127.0.0.1\n  Port {}\n  User app\n  IdentityFile ~/.ssh/id_web\n",
        sshd.port
    );
    let config_file = keys.path("config");
    std::fs::write(&config_file, &config).unwrap();
    let specs = whoami("app");
    let (spec, known_hosts) = (specs.path("spec.toml"), keys.known_hosts());
    let args = [
        arg(&spec),
        "-t",
        "ssh://web",
        "--known-hosts",
        arg(&known_hosts),
        "--accept-new-host-key",
    ];
    let with_config = [&args[..], &["--ssh-config", arg(&config_file)]].concat();
    let (code, doc, err) = run_json(&keys, &with_config, &[]);
    assert_eq!(code, 0, "{doc:#} {err}");
    assert_eq!(doc["results"][0]["target"], "ssh://web");
    let recorded = std::fs::read_to_string(&known_hosts).unwrap();
    assert!(
        recorded.starts_with(&format!("{} ssh-ed25519 ", sshd.known_name())),
        "keys are known by HostName, as OpenSSH records them: {recorded}"
    );

    // `~/.ssh/config` is read when --ssh-config is not given.
    std::fs::write(ssh_dir.join("config"), &config).unwrap();
    let (code, doc, err) = run_json(&keys, &args, &[]);
    assert_eq!(code, 0, "{doc:#} {err}");
}

#[test]
fn a_jump_host_reaches_a_host_only_it_can_see() {
    if !have_image(DEBIAN) {
        return;
    }
    let label = case_label("ssh-jump");
    let keys = Keys::new();
    {
        let network = Network::create("jump", &label);
        let jump = Sshd::start_with(&keys, &["--network", &network.name, "--label", &label]);
        let hidden = Started::run(
            DEBIAN,
            &[
                "--network",
                &network.name,
                "--network-alias",
                "target",
                "--label",
                &label,
            ],
        );
        wait_ready(&hidden);
        set_up(&hidden, &keys);
        let hostname = exec(&hidden, "hostname", None).trim().to_string();
        assert_ne!(hostname, jump.exec("hostname").trim());

        let config_file = keys.path("config");
        std::fs::write(
            &config_file,
            format!(
                "Host target\n  User app\n  IdentityFile {}\n  ProxyJump app@127.0.0.1:{}\n",
                keys.key().display(),
                jump.port
            ),
        )
        .unwrap();
        let specs = Specs::new(&[(
            "spec.toml",
            &format!(
                "[command.hostname]\nstdout = \"{hostname}\"\n\n[command.\"id -un\"]\nstdout = \"root\"\n"
            ),
        )]);
        let (spec, known_hosts) = (specs.path("spec.toml"), keys.known_hosts());
        // `-i` serves every hop; the config's IdentityFile only `target`.
        let key = keys.key();
        let args = [
            arg(&spec),
            "-t",
            "ssh://target",
            "-i",
            arg(&key),
            "--ssh-config",
            arg(&config_file),
            "--known-hosts",
            arg(&known_hosts),
            "--sudo",
        ];
        // Both hosts' keys must be known: the jump host's is checked first.
        let out = run(&keys, &args, &[]);
        assert_eq!(out.status.code(), Some(3), "{out:?}");
        assert!(
            stderr_of(&out).starts_with(&format!(
                "error: cannot reach `app@127.0.0.1:{}`: its host key",
                jump.port
            )),
            "{}",
            stderr_of(&out)
        );

        let accept = [&args[..], &["--accept-new-host-key"]].concat();
        let (code, doc, err) = run_json(&keys, &accept, &[]);
        assert_eq!(code, 0, "the checks ran on the hidden host: {doc:#} {err}");
        let recorded = std::fs::read_to_string(&known_hosts).unwrap();
        assert!(
            recorded.contains(&format!("{} ssh-ed25519 ", jump.known_name()))
                && recorded.contains("\ntarget ssh-ed25519 "),
            "{recorded}"
        );
        let (code, doc, err) = run_json(&keys, &args, &[]);
        assert_eq!(code, 0, "both keys recorded: {doc:#} {err}");
    }
    assert_eq!(left_behind(&label), Vec::<String>::new());
}

#[test]
fn a_host_lost_mid_run_errors_its_remaining_checks_and_the_other_host_passes() {
    if !have_image(DEBIAN) {
        return;
    }
    let keys = Keys::new();
    let (lost, kept) = (Sshd::start(&keys), Sshd::start(&keys));
    lost.exec("touch /etc/ispec-lost");
    // On the host with the marker, the first check freezes the listening sshd (new
    // connections then wait for a banner that never comes) and ends every other
    // sshd, its own connection's too. The check after it finds the connection gone,
    // and making it again runs into --connect-timeout: no race with a listener that
    // is still on its way out. `--jobs 1` keeps the order.
    let specs = Specs::new(&[(
        "spec.toml",
        "[command.\"test ! -e /etc/ispec-lost || { kill -STOP $(cat /run/sshd.pid) && pkill -x sshd; }\"]\n\
         exit-status = 0\n\n\
         [file.\"/etc/ispec-fixture\"]\nexists = true\n\n\
         [command.\"id -un\"]\nstdout = \"root\"\n",
    )]);
    let (spec, key, known_hosts) = (specs.path("spec.toml"), keys.key(), keys.known_hosts());
    let (lost_target, kept_target) = (lost.target(), kept.target());
    let mut args = vec![
        arg(&spec),
        "-t",
        &lost_target,
        "-t",
        &kept_target,
        "--jobs",
        "1",
        "--sudo",
        "--accept-new-host-key",
        "--connect-timeout",
        "2s",
    ];
    args.extend(login(&key, &known_hosts));
    let (code, doc, err) = run_json(&keys, &args, &[]);
    assert_eq!(code, 1, "{doc:#} {err}");
    let lost_results = results_of(&doc, &lost_target);
    assert_eq!(lost_results.len(), 3, "{doc:#}");
    for r in &lost_results {
        assert_eq!(r["outcome"], "error", "{r:#}");
        assert_eq!(
            r["message"],
            format!(
                "cannot reach `{lost_target}`: the connection dropped and could not be made \
                 again: no SSH server answered within 2s (--connect-timeout): [Session(-9)] \
                 Timed out waiting on socket"
            ),
            "{r:#}"
        );
    }
    let kept_results = results_of(&doc, &kept_target);
    assert_eq!(kept_results.len(), 3, "{doc:#}");
    assert!(
        kept_results.iter().all(|r| r["outcome"] == "pass"),
        "{doc:#}"
    );
    assert_eq!(doc["summary"]["errored"], 3);
}

#[test]
fn a_dropped_connection_is_made_again_and_the_check_tried_on_it() {
    if !have_image(DEBIAN) {
        return;
    }
    let keys = Keys::new();
    let sshd = Sshd::start(&keys);
    // The first check, the first time only (its marker belongs to `app`), kills the
    // sshd process serving its connection ($PPID) and notes its pid. The second
    // check runs under another sshd process: a new connection.
    sshd.exec("touch /tmp/drop-once && chown app /tmp/drop-once");
    let specs = Specs::new(&[(
        "spec.toml",
        "[command.\"if [ -e /tmp/drop-once ]; then rm /tmp/drop-once; echo $PPID > /tmp/dropped; kill $PPID; sleep 5; fi\"]\n\
         exit-status = 0\n\n\
         [command.\"test $(cat /tmp/dropped) != $PPID && echo new\"]\nstdout = \"new\"\n",
    )]);
    let (spec, key, known_hosts, target) = (
        specs.path("spec.toml"),
        keys.key(),
        keys.known_hosts(),
        sshd.target(),
    );
    let mut args = vec![
        arg(&spec),
        "-t",
        &target,
        "--jobs",
        "1",
        "--accept-new-host-key",
    ];
    args.extend(login(&key, &known_hosts));
    let (code, doc, err) = run_json(&keys, &args, &[]);
    assert_eq!(code, 0, "{doc:#} {err}");
    let dropped = sshd.exec("cat /tmp/dropped");
    assert!(!dropped.trim().is_empty(), "the first check ran");
    assert_eq!(sshd.exec("test ! -e /tmp/drop-once && echo gone"), "gone\n");
}

#[test]
fn a_closed_port_is_exit_3_at_once() {
    let keys = Keys::new();
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let specs = whoami("app");
    let (spec, key, known_hosts) = (specs.path("spec.toml"), keys.key(), keys.known_hosts());
    let target = format!("ssh://app@127.0.0.1:{port}");
    let mut args = vec![arg(&spec), "-t", &target];
    args.extend(login(&key, &known_hosts));
    let started = Instant::now();
    let out = run(&keys, &args, &[]);
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    assert!(started.elapsed() < Duration::from_secs(3));
    assert_eq!(
        stderr_of(&out),
        format!(
            "error: cannot reach `app@127.0.0.1:{port}`: cannot connect: Connection refused (os error 111)\n"
        )
    );
    assert!(!known_hosts.exists());
}

#[test]
fn a_server_that_never_answers_is_exit_3_after_connect_timeout() {
    let keys = Keys::new();
    // The kernel completes TCP handshakes for a listening socket; nothing ever
    // answers on it.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let specs = whoami("app");
    let (spec, key, known_hosts) = (specs.path("spec.toml"), keys.key(), keys.known_hosts());
    let target = format!("ssh://app@127.0.0.1:{port}");
    let mut args = vec![arg(&spec), "-t", &target, "--connect-timeout", "1s"];
    args.extend(login(&key, &known_hosts));
    let started = Instant::now();
    let out = run(&keys, &args, &[]);
    let took = started.elapsed();
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    assert!(
        took >= Duration::from_secs(1) && took < Duration::from_secs(4),
        "{took:?}"
    );
    assert_eq!(
        stderr_of(&out),
        format!(
            "error: cannot reach `app@127.0.0.1:{port}`: no SSH server answered within 1s \
             (--connect-timeout): [Session(-9)] Timed out waiting on socket\n"
        )
    );
    drop(listener);
}

#[test]
fn a_malformed_target_is_a_command_line_error() {
    let keys = Keys::new();
    let specs = whoami("app");
    let spec = specs.path("spec.toml");
    for (target, cause) in [
        ("ssh://web:99999", "`99999` is not a port from 1 to 65535"),
        ("ssh://@web", "`@web` has an empty user"),
        ("ssh://a b", "`a b` names no valid host"),
    ] {
        let out = run(&keys, &[arg(&spec), "-t", target], &[]);
        assert_eq!(out.status.code(), Some(2), "{target}: {out:?}");
        assert_eq!(
            stderr_of(&out),
            format!(
                "error: invalid target `{target}`: {cause}; write `ssh://[USER@]HOST[:PORT]`, \
                 e.g. `ssh://deploy@web-1:2222`\n"
            )
        );
    }
}

#[test]
fn an_ssh_config_that_cannot_be_read_is_exit_3() {
    let keys = Keys::new();
    let specs = whoami("app");
    let spec = specs.path("spec.toml");
    let missing = keys.path("no-such-config");
    let broken = keys.path("config");
    std::fs::write(&broken, "Host web\n  Port eighty\n").unwrap();
    for (config, cause) in [
        (&missing, "No such file or directory (os error 2)"),
        (&broken, "expected port number"),
    ] {
        let out = run(
            &keys,
            &[arg(&spec), "-t", "ssh://web", "--ssh-config", arg(config)],
            &[],
        );
        assert_eq!(out.status.code(), Some(3), "{out:?}");
        assert_eq!(
            stderr_of(&out),
            format!(
                "error: cannot read the SSH config `{}`: {cause}\n",
                config.display()
            )
        );
    }
}

#[test]
fn a_timed_out_command_is_stopped_on_the_host_with_what_it_started() {
    if !have_image(DEBIAN) {
        return;
    }
    let keys = Keys::new();
    let sshd = Sshd::start(&keys);
    let (key, known_hosts, target) = (keys.key(), keys.known_hosts(), sshd.target());
    let specs = Specs::new(&[(
        "spec.toml",
        "[command.\"sh -c 'sleep 311; echo'\"]\nexit-status = 0\ntimeout = \"1s\"\n",
    )]);
    let spec = specs.path("spec.toml");
    for sudo in [false, true] {
        let mut args = vec![arg(&spec), "-t", &target];
        args.extend(login(&key, &known_hosts));
        args.push("--accept-new-host-key");
        if sudo {
            args.push("--sudo");
        }
        let (code, doc, err) = run_json(&keys, &args, &[]);
        assert_eq!(code, 1, "{doc:#} {err}");
        let r = result(&doc, "command", "sh -c 'sleep 311; echo'", "exit-status");
        assert_eq!(r["message"], "timed out after 1s", "sudo: {sudo}");
        let left = sshd.exec("ps -eo args | grep -c '^sleep 311' || true");
        assert_eq!(
            left.trim(),
            "0",
            "sudo: {sudo}: the timed-out command still runs"
        );
    }
}
