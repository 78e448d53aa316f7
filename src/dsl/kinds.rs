//! One builder per resource kind: a constructor taking the id, one typed method per
//! property (snake_case of the spec key), the kind's options, and the settings every
//! resource has (`title`, `skip`, `when`, `timeout`, `within`).

use std::time::Duration;

use toml::Value;

use super::expect::{Bool, Expect, Int, List, Mode, Patterns, Str, Words};
use super::{Resource, caller};

/// The settings every builder has.
macro_rules! common {
    () => {
        /// A human title, shown in reports instead of `kind id`.
        #[track_caller]
        pub fn title(mut self, title: impl Into<String>) -> Self {
            self.0
                .set("title", Value::String(title.into()), caller(), false);
            self
        }

        /// Declares the resource but skips its checks.
        #[track_caller]
        pub fn skip(mut self) -> Self {
            self.0.set("skip", Value::Boolean(true), caller(), false);
            self
        }

        /// Checks the resource only on targets where `condition` holds (`"!container"`,
        /// `"os == 'debian'"`); elsewhere its checks are skipped with the reason. A
        /// condition that does not parse is an error from [`super::build`].
        #[track_caller]
        pub fn when(mut self, condition: impl Into<String>) -> Self {
            self.0
                .set("when", Value::String(condition.into()), caller(), false);
            self
        }

        /// The time limit for observing the resource (default: the run's timeout);
        /// zero is an error from [`super::build`].
        #[track_caller]
        pub fn timeout(mut self, limit: Duration) -> Self {
            self.0.set("timeout", duration(limit), caller(), false);
            self
        }

        /// Retries until every check holds or this much time has passed.
        #[track_caller]
        pub fn within(mut self, limit: Duration) -> Self {
            self.0.set("within", duration(limit), caller(), false);
            self
        }
    };
}

fn duration(d: Duration) -> Value {
    Value::String(humantime::format_duration(d).to_string())
}

macro_rules! kinds {
    ($(
        $(#[doc = $doc:literal])*
        $ctor:ident -> $B:ident ($key:literal, $id:ident) {
            $( $(#[doc = $pdoc:literal])* $method:ident($prop:literal): $T:ident; )*
        }
    )*) => {$(
        $(#[doc = $doc])*
        #[track_caller]
        pub fn $ctor($id: impl Into<String>) -> $B {
            $B(Resource::new($key, $id.into(), caller()))
        }

        #[doc = concat!("A `", $key, "` resource being declared, made by [`", stringify!($ctor), "`](super::", stringify!($ctor), ").")]
        #[derive(Clone, Debug)]
        #[must_use]
        pub struct $B(Resource);

        impl $B {
            $(
                $(#[doc = $pdoc])*
                #[doc = concat!("\n\nThe spec key is `", $prop, "`.")]
                #[track_caller]
                pub fn $method(mut self, expect: impl Into<Expect<$T>>) -> Self {
                    self.0.set($prop, expect.into().into_toml(), caller(), true);
                    self
                }
            )*
            common!();
        }

        impl From<$B> for Resource {
            fn from(b: $B) -> Resource {
                b.0
            }
        }
    )*};
}

kinds! {
    /// An address the target must reach: `tcp://HOST:PORT` or `udp://HOST:PORT`.
    addr -> Addr("addr", address) {
        /// A TCP connection is accepted, or a UDP datagram is not refused.
        reachable("reachable"): Bool;
    }
    /// A command run on the target: the id is a shell command line (or a name, with
    /// [`Command::exec`]).
    command -> Command("command", command) {
        /// The exit status.
        exit_status("exit-status"): Int;
        /// Standard output, trailing newlines removed.
        stdout("stdout"): Str;
        /// Standard error, trailing newlines removed.
        stderr("stderr"): Str;
    }
    /// A name the target resolves.
    dns -> Dns("dns", name) {
        /// The name resolves to at least one address.
        resolvable("resolvable"): Bool;
        /// The IP addresses it resolves to.
        addrs("addrs"): List;
    }
    /// A file, directory or other path on the target (absolute).
    file -> File("file", path) {
        /// The path exists (a dangling symlink exists).
        exists("exists"): Bool;
        /// `file`, `directory`, `symlink`, `socket`, `pipe`, `block-device` or
        /// `character-device` (named `type_` because `type` is a Rust keyword).
        type_("type"): Str;
        /// Permission bits, written in octal: `mode(0o644)`.
        mode("mode"): Mode;
        /// The owning user's name.
        owner("owner"): Str;
        /// The owning group's name.
        group("group"): Str;
        /// The owning user's id.
        uid("uid"): Int;
        /// The owning group's id.
        gid("gid"): Int;
        /// Size in bytes.
        size("size"): Int;
        /// Seconds since the last modification.
        mtime_age("mtime-age"): Int;
        /// A symlink's target, as stored in the link.
        linked_to("linked-to"): Str;
        /// The content holds every pattern: a substring, a list of them, or matchers.
        contains("contains"): Patterns;
        /// The whole content.
        content("content"): Str;
        /// The SHA-256 of the content, lowercase hex.
        sha256("sha256"): Str;
        /// The SHA-512 of the content, lowercase hex.
        sha512("sha512"): Str;
        /// The MD5 of the content, lowercase hex.
        md5("md5"): Str;
    }
    /// A group in /etc/group.
    group -> Group("group", name) {
        /// The group is in /etc/group.
        exists("exists"): Bool;
        /// The group id.
        gid("gid"): Int;
        /// The members listed in /etc/group.
        members("members"): List;
    }
    /// An HTTP or HTTPS request made from the target: the id is the URL.
    http -> Http("http", url) {
        /// The response's status code.
        status("status"): Int;
        /// Response headers as `name: value`, names in lowercase.
        headers("headers"): List;
        /// The response body.
        body("body"): Str;
    }
    /// A container image's metadata (`self`: the image the target runs).
    image -> Image("image", name) {
        /// The image is on the engine.
        exists("exists"): Bool;
        /// The user the container runs as, empty when none is set.
        user("user"): Str;
        /// The working directory, empty when none is set.
        workdir("workdir"): Str;
        /// Environment entries as `KEY=value`.
        env("env"): List;
        /// Exposed ports as `80/tcp`.
        exposed_ports("exposed-ports"): List;
        /// Volume mount points.
        volumes("volumes"): List;
        /// Labels as `key=value`.
        labels("labels"): List;
        /// The entrypoint's words.
        entrypoint("entrypoint"): Words;
        /// The default command's words.
        cmd("cmd"): Words;
        /// The health check's test words.
        healthcheck("healthcheck"): Words;
        /// The operating system, e.g. `linux`.
        os("os"): Str;
        /// The architecture, e.g. `amd64`.
        architecture("architecture"): Str;
        /// The size in bytes.
        size("size"): Int;
        /// The tags the engine knows it by.
        tags("tags"): List;
        /// The image id, `sha256:...`.
        id("id"): Str;
    }
    /// A network interface.
    interface -> Interface("interface", name) {
        /// The interface exists.
        exists("exists"): Bool;
        /// Its addresses as `ADDR/PREFIX`.
        addrs("addrs"): List;
        /// Its MTU in bytes.
        mtu("mtu"): Int;
        /// Administratively and operationally up.
        up("up"): Bool;
    }
    /// A kernel parameter, named as sysctl names it.
    kernel_param -> KernelParam("kernel-param", name) {
        /// The value as `sysctl -n` shows it.
        value("value"): Str;
    }
    /// A mount point (absolute path).
    mount -> Mount("mount", path) {
        /// Something is mounted on the path.
        exists("exists"): Bool;
        /// What is mounted, e.g. `/dev/sda1` or `tmpfs`.
        source("source"): Str;
        /// The filesystem type, e.g. `ext4`.
        filesystem("filesystem"): Str;
        /// The mount options.
        opts("opts"): List;
    }
    /// An installed package.
    package -> Package("package", name) {
        /// The package is installed.
        installed("installed"): Bool;
        /// The installed version (the newest, if several).
        version("version"): Str;
        /// Every installed version.
        versions("versions"): List;
    }
    /// A listening port: `tcp:80`, `udp:53`, `tcp6:443`, ...
    port -> Port("port", port) {
        /// A socket listens on the port (TCP) or is bound to it (UDP).
        listening("listening"): Bool;
        /// The addresses it listens on.
        ip("ip"): List;
    }
    /// Processes by name; `"*"` is every process of the target.
    process -> Process("process", name) {
        /// At least one process of that name runs.
        running("running"): Bool;
        /// How many processes of that name run.
        count("count"): Int;
        /// The distinct users the processes run as.
        users("users"): List;
        /// The full command lines, one per line.
        args("args"): Str;
        /// How many of the processes are zombies.
        zombies("zombies"): Int;
        /// The most descriptors one of the processes holds open (root for other
        /// users' processes).
        open_fds("open-fds"): Int;
        /// The descriptors all the processes hold open together (root for other
        /// users' processes).
        total_open_fds("total-open-fds"): Int;
    }
    /// A service, as the init system knows it.
    service -> Service("service", name) {
        /// The service is running.
        running("running"): Bool;
        /// The service is started at boot.
        enabled("enabled"): Bool;
    }
    /// A user in /etc/passwd.
    user -> User("user", name) {
        /// The user is in /etc/passwd.
        exists("exists"): Bool;
        /// The user id.
        uid("uid"): Int;
        /// The primary group's id.
        gid("gid"): Int;
        /// The home directory.
        home("home"): Str;
        /// The login shell.
        shell("shell"): Str;
        /// The primary group's name and every group that lists the user.
        groups("groups"): List;
    }
}

impl Command {
    /// Runs this argv instead of the id as a shell command (the id is then a name).
    #[track_caller]
    pub fn exec<S: Into<String>>(mut self, argv: impl IntoIterator<Item = S>) -> Self {
        let argv = argv.into_iter().map(|s| Value::String(s.into())).collect();
        self.0.set("exec", Value::Array(argv), caller(), false);
        self
    }
}

impl Http {
    /// The request method (default `GET`).
    #[track_caller]
    pub fn method(mut self, method: impl Into<String>) -> Self {
        self.0
            .set("method", Value::String(method.into()), caller(), false);
        self
    }

    /// Headers to send, as `(name, value)` pairs.
    #[track_caller]
    pub fn request_headers<K: Into<String>, V: Into<String>>(
        mut self,
        headers: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        let table = headers
            .into_iter()
            .map(|(k, v)| (k.into(), Value::String(v.into())))
            .collect();
        self.0
            .set("request-headers", Value::Table(table), caller(), false);
        self
    }

    /// A body to send.
    #[track_caller]
    pub fn request_body(mut self, body: impl Into<String>) -> Self {
        self.0
            .set("request-body", Value::String(body.into()), caller(), false);
        self
    }

    /// Verify the server's certificate and name (default `true`).
    #[track_caller]
    pub fn tls_verify(mut self, verify: bool) -> Self {
        self.0
            .set("tls-verify", Value::Boolean(verify), caller(), false);
        self
    }

    /// Follow up to 10 redirects and report the last response (default `false`).
    #[track_caller]
    pub fn follow_redirects(mut self, follow: bool) -> Self {
        self.0
            .set("follow-redirects", Value::Boolean(follow), caller(), false);
        self
    }

    /// A PEM bundle of CA certificates, on the target, to trust instead of the
    /// default roots.
    #[track_caller]
    pub fn ca_file(mut self, path: impl Into<String>) -> Self {
        self.0
            .set("ca-file", Value::String(path.into()), caller(), false);
        self
    }
}
