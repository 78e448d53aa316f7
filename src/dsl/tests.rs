use std::path::Path;

use super::*;
use crate::spec::Declared;

/// What a declaration says, location aside: kind, id, settings, and each check as
/// `property: expectation`.
fn summary(d: &Declared) -> String {
    let checks: Vec<String> = d
        .checks
        .iter()
        .map(|c| format!("{}: {}", c.prop.name, c.expect))
        .collect();
    format!(
        "{} {} title={:?} skip={} when={:?} timeout={:?} within={:?} options={:?} [{}]",
        d.kind.key,
        d.id,
        d.title,
        d.skip,
        d.when.as_ref().map(ToString::to_string),
        d.timeout,
        d.within,
        d.resource,
        checks.join(", ")
    )
}

/// Builds `dsl` and loads `toml`, and asserts they declare the same.
#[track_caller]
fn same(dsl: Vec<Resource>, toml: &str) -> Spec {
    let from_dsl = build(dsl).unwrap_or_else(|e| panic!("DSL: {e}"));
    let from_toml = load_str(Path::new("t.toml"), toml).unwrap_or_else(|e| panic!("TOML: {e}"));
    let a: Vec<String> = from_dsl.decls.iter().map(summary).collect();
    let b: Vec<String> = from_toml.decls.iter().map(summary).collect();
    assert_eq!(a, b);
    from_dsl
}

#[test]
fn every_kind_declares_what_its_toml_declares() {
    let spec = same(
        vec![
            addr("tcp://127.0.0.1:18080")
                .title("app port")
                .reachable(true)
                .timeout(secs(3))
                .into(),
            command("nginx -v")
                .when("!container && os == 'debian'")
                .exit_status(one_of([0, 1]))
                .stdout("")
                .stderr(matches(r"nginx/1\.2[0-9]\."))
                .into(),
            command("ls")
                .exec(["ls", "-l"])
                .exit_status(not(2))
                .stdout(all([contains("a"), version(">= 1")]))
                .stderr(any([lt(3), ge(10)]))
                .into(),
            dns("localhost")
                .resolvable(true)
                .addrs(contains("127.0.0.1"))
                .into(),
            file("/etc/nginx/nginx.conf")
                .exists(true)
                .type_("file")
                .mode(0o644)
                .owner("root")
                .group("root")
                .uid(0)
                .gid(0)
                .size(gt(0))
                .mtime_age(le(86400))
                .contains(["worker", "http"])
                .content(matches("^user"))
                .sha256("ab")
                .sha512("cd")
                .md5("ef")
                .into(),
            file("/etc/link")
                .linked_to("/etc/target")
                .contains(not("gzip on"))
                .mode(one_of([0o600, 0o640]))
                .skip()
                .into(),
            group("www-data")
                .exists(true)
                .gid(33)
                .members(vec!["a", "b"])
                .into(),
            http("http://localhost/")
                .status(200)
                .headers(contains(matches("^server: nginx")))
                .body(contains(["a", "b"]))
                .method("POST")
                .request_headers([("Authorization", "Bearer x")])
                .request_body("{}")
                .tls_verify(false)
                .follow_redirects(true)
                .ca_file("/etc/ca.pem")
                .within(secs(20))
                .into(),
            image("self")
                .exists(true)
                .user("")
                .workdir("/srv")
                .env(contains("PATH=/bin"))
                .exposed_ports(["80/tcp"])
                .volumes(Vec::<String>::new())
                .labels(contains(matches("^a=")))
                .entrypoint(["/bin/sh", "-c"])
                .cmd(["nginx", "-g", "daemon off;"])
                .healthcheck(contains("CMD"))
                .os("linux")
                .architecture(one_of(["amd64", "arm64"]))
                .size(lt(1_000_000))
                .tags(contains("web:1"))
                .id(matches("^sha256:"))
                .into(),
            interface("lo")
                .exists(true)
                .addrs(contains("127.0.0.1/8"))
                .mtu(ge(1280))
                .up(true)
                .into(),
            kernel_param("net.ipv4.ip_forward").value(1).into(),
            mount("/")
                .exists(true)
                .source("/dev/sda1")
                .filesystem("ext4")
                .opts(contains("rw"))
                .into(),
            package("nginx")
                .installed(true)
                .version(version(">= 1.22"))
                .versions(contains(version("< 2")))
                .into(),
            port("tcp:80").listening(true).ip(["0.0.0.0", "::"]).into(),
            process("nginx")
                .running(true)
                .count(ge(1))
                .users(contains("www-data"))
                .args(matches("master"))
                .zombies(0)
                .open_fds(lt(1000))
                .into(),
            process("*").total_open_fds(lt(100_000)).into(),
            service("nginx").running(true).enabled(not(false)).into(),
            user("www-data")
                .exists(true)
                .uid(33)
                .gid(33)
                .home("/var/www")
                .shell(matches("nologin$"))
                .groups(contains("www-data"))
                .into(),
        ],
        r#"
[addr."tcp://127.0.0.1:18080"]
title = "app port"
reachable = true
timeout = "3s"
[command."nginx -v"]
when = "!container && os == 'debian'"
exit-status = { one-of = [0, 1] }
stdout = ""
stderr = { matches = 'nginx/1\.2[0-9]\.' }
[command.ls]
exec = ["ls", "-l"]
exit-status = { not = 2 }
stdout = { all = [{ contains = "a" }, { version = ">= 1" }] }
stderr = { any = [{ lt = 3 }, { ge = 10 }] }
[dns.localhost]
resolvable = true
addrs = { contains = "127.0.0.1" }
[file."/etc/nginx/nginx.conf"]
exists = true
type = "file"
mode = "0644"
owner = "root"
group = "root"
uid = 0
gid = 0
size = { gt = 0 }
mtime-age = { le = 86400 }
contains = ["worker", "http"]
content = { matches = "^user" }
sha256 = "ab"
sha512 = "cd"
md5 = "ef"
[file."/etc/link"]
linked-to = "/etc/target"
contains = { not = "gzip on" }
mode = { one-of = ["0600", "0640"] }
skip = true
[group.www-data]
exists = true
gid = 33
members = ["a", "b"]
[http."http://localhost/"]
status = 200
headers = { contains = { matches = "^server: nginx" } }
body = { contains = ["a", "b"] }
method = "POST"
request-headers = { Authorization = "Bearer x" }
request-body = "{}"
tls-verify = false
follow-redirects = true
ca-file = "/etc/ca.pem"
within = "20s"
[image.self]
exists = true
user = ""
workdir = "/srv"
env = { contains = "PATH=/bin" }
exposed-ports = ["80/tcp"]
volumes = []
labels = { contains = { matches = "^a=" } }
entrypoint = ["/bin/sh", "-c"]
cmd = ["nginx", "-g", "daemon off;"]
healthcheck = { contains = "CMD" }
os = "linux"
architecture = { one-of = ["amd64", "arm64"] }
size = { lt = 1000000 }
tags = { contains = "web:1" }
id = { matches = "^sha256:" }
[interface.lo]
exists = true
addrs = { contains = "127.0.0.1/8" }
mtu = { ge = 1280 }
up = true
[kernel-param."net.ipv4.ip_forward"]
value = 1
[mount."/"]
exists = true
source = "/dev/sda1"
filesystem = "ext4"
opts = { contains = "rw" }
[package.nginx]
installed = true
version = { version = ">= 1.22" }
versions = { contains = { version = "< 2" } }
[port."tcp:80"]
listening = true
ip = ["0.0.0.0", "::"]
[process.nginx]
running = true
count = { ge = 1 }
users = { contains = "www-data" }
args = { matches = "master" }
zombies = 0
open-fds = { lt = 1000 }
[process."*"]
total-open-fds = { lt = 100000 }
[service.nginx]
running = true
enabled = { not = false }
[user.www-data]
exists = true
uid = 33
gid = 33
home = "/var/www"
shell = { matches = "nologin$" }
groups = { contains = "www-data" }
"#,
    );
    // Every property of every kind has a builder method, and the test above uses it.
    for kind in crate::resource::KINDS {
        let mut used: Vec<&str> = spec
            .decls
            .iter()
            .filter(|d| d.kind.key == kind.key)
            .flat_map(|d| d.checks.iter().map(|c| c.prop.name))
            .collect();
        used.sort_unstable();
        used.dedup();
        let mut props: Vec<&str> = kind.props.iter().map(|p| p.name).collect();
        props.sort_unstable();
        assert_eq!(used, props, "{}", kind.key);
    }
}

#[test]
fn every_kind_has_a_builder() {
    let keys: Vec<&str> = [
        Resource::from(addr("tcp://h:1")),
        command("c").into(),
        dns("d").into(),
        file("/f").into(),
        group("g").into(),
        http("http://h/").into(),
        image("i").into(),
        interface("i").into(),
        kernel_param("k").into(),
        mount("/m").into(),
        package("p").into(),
        port("tcp:1").into(),
        process("p").into(),
        service("s").into(),
        user("u").into(),
    ]
    .iter()
    .map(Resource::kind)
    .collect();
    let kinds: Vec<&str> = crate::resource::KINDS.iter().map(|k| k.key).collect();
    assert_eq!(keys, kinds);
}

#[test]
fn locations_are_the_calling_lines() {
    let here = line!();
    let spec = build([
        Resource::from(file("/etc/hosts").exists(true)), // here + 2
        user("root") // here + 3
            .uid(0) // here + 4
            .shell(matches("sh$")) // here + 5
            .into(),
    ])
    .expect("valid");
    let file_path = Path::new(file!());
    let [hosts, root] = &spec.decls[..] else {
        panic!("two resources")
    };
    assert_eq!(hosts.location.file.as_ref(), file_path);
    assert_eq!(hosts.location.line, here + 2);
    assert_eq!(hosts.location.column, 24);
    assert_eq!(hosts.checks[0].location.line, here + 2);
    assert_eq!(root.location.line, here + 3);
    let lines: Vec<u32> = root.checks.iter().map(|c| c.location.line).collect();
    assert_eq!(lines, [here + 4, here + 5]);
    assert_eq!(root.checks[0].location.file.as_ref(), file_path);
    assert_eq!(spec.files, [Arc::from(file_path)]);
}

/// Builds and returns the rendered errors.
fn errors(resources: Vec<Resource>) -> String {
    build(resources).expect_err("invalid").to_string()
}

#[test]
fn errors_name_the_call_site() {
    let here = line!();
    let text = errors(vec![
        command("x").stdout(matches("(unclosed")).into(), // here + 2
    ]);
    let at = format!("{}:{}:", file!(), here + 2);
    assert!(text.contains("invalid regex for `stdout`"), "{text}");
    assert!(text.contains(&at), "{text}");
    assert!(text.contains("`.stdout(...)`"), "{text}");
    assert!(text.contains("help: escape"), "{text}");
    assert!(!text.contains(RENDERED), "{text}");

    let here = line!();
    let text = errors(vec![file("relative/path").exists(true).into()]);
    assert!(text.contains("invalid `file` id `relative/path`"), "{text}");
    assert!(
        text.contains(&format!("{}:{}:", file!(), here + 1)),
        "{text}"
    );
    assert!(text.contains("`file(\"relative/path\")`"), "{text}");

    let here = line!();
    let text = errors(vec![
        package("nginx").version(version("~> 1")).into(),
        file("/x").mode(0o17777).into(),
        command("y").exit_status(one_of(Vec::<i64>::new())).into(),
        port("tcp:80").listening(true).timeout(secs(0)).into(),
        service("s").into(),
    ]);
    for (line, message) in [
        (1, "invalid version constraint for `version`"),
        (2, "`mode` must be an octal mode"),
        (3, "`one-of` takes a non-empty list"),
        (4, "`timeout` must be longer than 0s"),
        (5, "`service s` checks nothing"),
    ] {
        let at = format!("{}:{}:", file!(), here + 1 + line);
        assert!(text.contains(message), "{message}: {text}");
        let error = text
            .split("error: ")
            .find(|e| e.starts_with(message))
            .unwrap();
        assert!(error.contains(&at), "{at}: {error}");
        let help = error
            .lines()
            .find_map(|l| l.split_once("help:"))
            .map_or("", |(_, help)| help);
        assert!(!help.contains(" = "), "TOML in the help: {error}");
    }
    assert!(text.contains("`.mode(0o644)`"), "{text}");
    assert!(
        text.contains(
            "call a property method on `service(\"s\")`: `.running(...)`, `.enabled(...)`"
        ),
        "{text}"
    );
}

#[test]
fn twice_is_an_error_at_the_second_call() {
    let here = line!();
    let text = errors(vec![
        file("/x").mode(0o644).mode(0o600).into(),
        file("/x").exists(true).into(),
    ]);
    assert!(text.contains("`mode` is set twice on `file /x`"), "{text}");
    assert!(text.contains("combine matchers: `all([...])`"), "{text}");
    assert!(text.contains("`file /x` is declared twice"), "{text}");
    assert!(
        text.contains(&format!(" --> {}:{}:", file!(), here + 3)),
        "{text}"
    );
}

#[test]
fn awkward_ids_and_text_survive_rendering() {
    let id = "printf '%s\\n' \"a b\" 'c'\necho [x].y = 1";
    let out = "line 1\nline \"2\"\t'''\n\"\"\"";
    let spec = build([command(id).stdout(out).stderr(contains(out))]).expect("valid");
    assert_eq!(spec.decls[0].id, id);
    assert_eq!(
        spec.decls[0].checks[0].expect.to_string(),
        format!("{out:?}")
    );
    // An error after a multi-line value still finds its line.
    let here = line!();
    let text = errors(vec![
        command(id).stdout(out).into(),
        command("z").stdout(matches("[")).into(),
    ]);
    assert!(
        text.contains(&format!("{}:{}:", file!(), here + 3)),
        "{text}"
    );
}

#[test]
fn conditions_are_checked_and_dollar_braces_are_literal() {
    // Rust strings are not spec files: `${...}` stays as written.
    let spec = build([command("echo ${HOME}").exit_status(0).when("local")]).expect("valid");
    assert_eq!(spec.decls[0].id, "echo ${HOME}");
    let here = line!();
    let text = errors(vec![command("x").exit_status(0).when("local &&").into()]);
    assert!(text.contains("`when` ends too soon"), "{text}");
    assert!(
        text.contains(&format!("{}:{}:", file!(), here + 1)),
        "{text}"
    );
}

#[test]
fn resources_are_send_sync_clone_debug() {
    fn check<T: Send + Sync + Clone + std::fmt::Debug>() {}
    check::<Resource>();
    check::<File>();
    check::<Expect<List>>();
    let r = Resource::from(port("tcp:80").listening(true));
    assert_eq!(r.to_toml(), "[port.\"tcp:80\"]\nlistening = true\n");
    assert_eq!(r.table().len(), 1);
    assert_eq!(r.id(), "tcp:80");
}

#[test]
fn runs_against_the_local_machine() {
    use crate::host::Host;
    use crate::plan::{Filter, Plan};
    use crate::report::{self, Format};
    use crate::run::{self, Outcome, RunOptions};

    let here = line!();
    let spec = build([
        command("echo hello").stdout("hello"), // here + 2
        command("echo bye").stdout("hello"),   // here + 3
    ])
    .expect("valid");
    let plan = Plan::build(spec, &Filter::default());
    let mut out = report::reporter(Format::Tap, Box::new(std::io::sink()), false);
    let summary =
        run::execute(&plan, &Host::local(), &RunOptions::default(), out.as_mut()).unwrap();
    assert_eq!((summary.passed, summary.failed), (1, 1));

    // The results carry the DSL call sites.
    let results: Vec<_> = plan
        .decls
        .iter()
        .flat_map(|d| run::check_resource(d, &Host::local(), &RunOptions::default()))
        .collect();
    assert_eq!(results[0].outcome, Outcome::Pass);
    assert_eq!(results[1].outcome, Outcome::Fail);
    assert_eq!(results[1].location.line, here + 3);
    assert_eq!(results[1].location.file.as_ref(), Path::new(file!()));
}

#[test]
fn plain_values_and_matchers_mix() {
    let spec = build([
        Resource::from(
            command("x")
                .stdout(contains([Expect::from("ready"), matches(":80")]))
                .stderr(not(contains("error")))
                .exit_status(all([ge(0), lt(2)])),
        ),
        file("/x")
            .contains(any([Expect::from("a"), matches("^b")]))
            .mode(not(0o777))
            .content(one_of(["a", "b"]))
            .into(),
        file("/y").contains(all(["a", "b"])).into(),
        image("i")
            .cmd(vec!["a".to_string()])
            .tags(&["x", "y"][..])
            .into(),
        dns("d").addrs(matches("^127")).into(),
        package("p").version(not(version("< 1"))).into(),
        process("p").count(one_of([1u8, 2])).into(),
        kernel_param("k").value(one_of([0, 1])).into(),
    ])
    .expect("valid");
    let texts: Vec<String> = spec
        .decls
        .iter()
        .flat_map(|d| d.checks.iter().map(|c| c.expect.to_string()))
        .collect();
    assert_eq!(
        texts,
        [
            r#"contains "ready" and matches /:80/"#,
            r#"not contains "error""#,
            "all of (>= 0; < 2)",
            r#"any of (contains "a"; matches /^b/)"#,
            r#"not "0777""#,
            r#"one of ["a", "b"]"#,
            r#"all of (contains "a"; contains "b")"#,
            r#"["a"]"#,
            r#"["x", "y"]"#,
            "matches /^127/",
            "not version < 1",
            "one of [1, 2]",
            r#"one of ["0", "1"]"#,
        ]
    );
}
