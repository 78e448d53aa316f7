"""The web-node check set, described once: every tool's spec is rendered from this.

The 50 checks are the table of the scenario (`web-node.md` in the bench notes),
C01..C50, in its order. The larger sets add file checks over real files of the
fixture image's /etc; the list below was picked once from

    docker run --rm ispec-fixture/debian:bookworm find /etc -maxdepth 2 -type f

and is written out here so that the sets never change under a benchmark: files
that Docker mounts into a container (/etc/hosts, /etc/hostname, /etc/resolv.conf)
and files that change with each image build (the SSH host keys) are left out,
and every expected value was read from the image.
"""

from collections import namedtuple

# kind: file | package | user | group | process | port | command | kernel-param | interface
# prop: what is checked (see the renderers in generate.py for what each means)
Check = namedtuple("Check", "id kind target prop expected")

# A command run inside the target; C47/C48 are HTTP checks made with curl from
# inside, as the scenario says, so every tool makes them the same way.
CURL_CODE = "curl -s -o /dev/null -w '%{http_code}' http://localhost/"
CURL_BODY = "curl -s http://localhost/"

WEB_NODE_50 = [
    Check("C01", "package", "nginx-light", "installed", True),
    Check("C02", "package", "openssh-server", "installed", True),
    Check("C03", "package", "procps", "installed", True),
    Check("C04", "package", "iproute2", "installed", True),
    Check("C05", "package", "curl", "installed", True),
    Check("C06", "package", "ca-certificates", "installed", True),
    Check("C07", "package", "apache2", "installed", False),
    Check("C08", "file", "/etc/nginx/nginx.conf", "exists", True),
    Check("C09", "file", "/etc/nginx/nginx.conf", "type", "file"),
    Check("C10", "file", "/etc/nginx/nginx.conf", "mode", "644"),
    Check("C11", "file", "/etc/nginx/nginx.conf", "owner", "root"),
    Check("C12", "file", "/etc/nginx/nginx.conf", "group", "root"),
    Check("C13", "file", "/etc/nginx/nginx.conf", "contains", "worker_processes"),
    Check("C14", "file", "/etc/ssh/sshd_config", "type", "file"),
    Check("C15", "file", "/etc/ssh/sshd_config", "mode", "644"),
    Check("C16", "file", "/etc/ssh/sshd_config", "owner", "root"),
    Check("C17", "file", "/etc/ssh/sshd_config", "contains", "Subsystem"),
    Check("C18", "file", "/var/www/html", "type", "directory"),
    Check("C19", "file", "/var/www/html", "mode", "755"),
    Check("C20", "file", "/var/www/html", "owner", "root"),
    Check("C21", "file", "/var/www/html/index.nginx-debian.html", "contains", "Welcome to nginx"),
    Check("C22", "file", "/etc/passwd", "type", "file"),
    Check("C23", "file", "/etc/passwd", "mode", "644"),
    Check("C24", "file", "/etc/passwd", "owner", "root"),
    Check("C25", "file", "/etc/passwd", "contains", "www-data:"),
    Check("C26", "file", "/etc/shadow", "mode", "640"),
    Check("C27", "file", "/etc/shadow", "group", "shadow"),
    Check("C28", "file", "/etc/nginx/sites-enabled/default", "type", "symlink"),
    Check("C29", "file", "/etc/nginx/sites-enabled/default", "linked-to", "/etc/nginx/sites-available/default"),
    Check("C30", "file", "/etc/apache2", "exists", False),
    Check("C31", "user", "root", "exists", True),
    Check("C32", "user", "root", "uid", 0),
    Check("C33", "user", "www-data", "exists", True),
    Check("C34", "user", "www-data", "home", "/var/www"),
    Check("C35", "user", "www-data", "shell", "/usr/sbin/nologin"),
    Check("C36", "user", "www-data", "member-of", "www-data"),
    Check("C37", "group", "www-data", "exists", True),
    Check("C38", "group", "www-data", "gid", 33),
    Check("C39", "process", "nginx", "running", True),
    Check("C40", "process", "sshd", "running", True),
    Check("C41", "port", 80, "listening", True),
    Check("C42", "port", 22, "listening", True),
    Check("C43", "port", 8080, "listening", False),
    Check("C44", "command", "nginx -v", "exit-status", 0),
    Check("C45", "command", "nginx -v", "stderr-contains", "nginx/"),
    Check("C46", "command", "uname -s", "stdout-contains", "Linux"),
    Check("C47", "command", CURL_CODE, "stdout-equals", "200"),
    Check("C48", "command", CURL_BODY, "stdout-contains", "Welcome to nginx"),
    Check("C49", "kernel-param", "net.ipv4.ip_forward", "value", "1"),
    Check("C50", "interface", "eth0", "exists", True),
]

# (path, mode, owner, group, a plain substring of the content), read from the image.
# The first 10 make the 100-check set, all 30 the 200-check set. The first ones
# mix modes and groups (755, 440, 640/shadow) so the sets are not all alike.
EXTRA_FILES = [
    ("/etc/adduser.conf", "644", "root", "root", "DSHELL"),
    ("/etc/init.d/nginx", "755", "root", "root", "DAEMON"),
    ("/etc/sudoers", "440", "root", "root", "Defaults"),
    ("/etc/gshadow", "640", "root", "shadow", "shadow:"),
    ("/etc/nginx/mime.types", "644", "root", "root", "text/html"),
    ("/etc/login.defs", "644", "root", "root", "UID_MIN"),
    ("/etc/pam.d/sshd", "644", "root", "root", "pam_motd.so"),
    ("/etc/security/limits.conf", "644", "root", "root", "nofile"),
    ("/etc/update-motd.d/10-uname", "755", "root", "root", "uname"),
    ("/etc/ssh/ssh_config", "644", "root", "root", "SendEnv"),
    ("/etc/bash.bashrc", "644", "root", "root", "PS1"),
    ("/etc/ca-certificates.conf", "644", "root", "root", "mozilla/"),
    ("/etc/debconf.conf", "644", "root", "root", "Templates"),
    ("/etc/default/nginx", "644", "root", "root", "nginx"),
    ("/etc/default/useradd", "644", "root", "root", "SHELL"),
    ("/etc/deluser.conf", "644", "root", "root", "REMOVE_HOME"),
    ("/etc/dpkg/dpkg.cfg", "644", "root", "root", "no-debsig"),
    ("/etc/gai.conf", "644", "root", "root", "precedence"),
    ("/etc/group", "644", "root", "root", "www-data:x:33:"),
    ("/etc/host.conf", "644", "root", "root", "multi on"),
    ("/etc/init.d/ssh", "755", "root", "root", "sshd"),
    ("/etc/iproute2/rt_tables", "644", "root", "root", "main"),
    ("/etc/logrotate.d/nginx", "644", "root", "root", "/var/log/nginx"),
    ("/etc/nginx/fastcgi_params", "644", "root", "root", "QUERY_STRING"),
    ("/etc/nginx/proxy_params", "644", "root", "root", "X-Real-IP"),
    ("/etc/nsswitch.conf", "644", "root", "root", "passwd:"),
    ("/etc/pam.d/common-auth", "644", "root", "root", "pam_unix.so"),
    ("/etc/profile", "644", "root", "root", "PATH"),
    ("/etc/shells", "644", "root", "root", "/bin/bash"),
    ("/etc/ssl/openssl.cnf", "644", "root", "root", "openssl_conf"),
]

SIZES = (50, 100, 200)
CHECKS_PER_EXTRA_FILE = 5


def extra_file_checks(path, mode, owner, group, text, first_id):
    """The five checks made of one extra file: type, mode, owner, group, content."""
    props = [("type", "file"), ("mode", mode), ("owner", owner), ("group", group), ("contains", text)]
    return [Check(f"F{first_id + i:03d}", "file", path, p, v) for i, (p, v) in enumerate(props)]


def check_set(size):
    """The first `size` checks: the 50 of the scenario, then whole extra files."""
    extra = size - len(WEB_NODE_50)
    if extra < 0 or extra % CHECKS_PER_EXTRA_FILE:
        raise ValueError(f"size {size}: must be 50 plus a multiple of {CHECKS_PER_EXTRA_FILE}")
    files = extra // CHECKS_PER_EXTRA_FILE
    if files > len(EXTRA_FILES):
        raise ValueError(f"size {size}: only {len(EXTRA_FILES)} extra files are listed")
    checks = list(WEB_NODE_50)
    for n, entry in enumerate(EXTRA_FILES[:files]):
        checks += extra_file_checks(*entry, first_id=51 + n * CHECKS_PER_EXTRA_FILE)
    return checks


def grouped(checks):
    """Checks grouped by (kind, target), in the order the groups first appear.

    ispec and serverspec write one resource per target with several properties;
    grouping here keeps both renderings in the table's order.
    """
    groups = {}
    for c in checks:
        groups.setdefault((c.kind, c.target), []).append(c)
    return list(groups.items())
