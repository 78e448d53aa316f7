//! The fallback when the probe cannot run on a target: one POSIX shell script that
//! answers a batch with the target's own `cat`, `stat`, `readlink` and `wc`, in the
//! probe's reply format. Programs run one after another, each under `timeout` when
//! the target has it.
//!
//! Every path and argument reaches the script through [`quote`], never spliced raw.

use std::fmt::Write as _;

use ispec_probe::wire::Query;

use crate::cmd::quote;

/// What every script starts with: the C locale, `sbin` on `PATH`, a private scratch
/// folder removed on exit (in `$TMPDIR` or `/tmp`, else `/dev/shm`, which a
/// read-only container still has, else `/var/tmp`), and the helpers each query calls.
const PRELUDE: &str = r#"LC_ALL=C; export LC_ALL
PATH=${PATH:-/usr/bin:/bin}:/usr/local/sbin:/usr/sbin:/sbin; export PATH
for d in "${TMPDIR:-/tmp}" /dev/shm /var/tmp; do
  t=$(mktemp -d "$d/.ispec-gather.XXXXXX" 2>/dev/null) && break
  t=$d/.ispec-gather.$$; mkdir -m 700 "$t" 2>/dev/null && break
  t=
done
[ -n "$t" ] || { echo 'no folder to write in: tried $TMPDIR (or /tmp), /dev/shm and /var/tmp' >&2; exit 125; }
trap 'rm -rf "$t"' EXIT
emit() {
  h="$1 $2"; shift 2
  for f in "$@"; do h="$h $(wc -c <"$f")"; done
  printf '%s\n' "$h"; [ $# -eq 0 ] || cat "$@"
}
say() { printf '%s' "$3" >"$t/m"; emit "$1" "$2" "$t/m"; }
r() {
  if [ -d "$2" ]; then say "$1" failed "\`$2\`: Is a directory"
  elif cat -- "$2" >"$t/o" 2>"$t/e"; then emit "$1" ok "$t/o"
  elif [ ! -e "$2" ] && [ ! -L "$2" ]; then emit "$1" none
  elif [ ! -r "$2" ]; then say "$1" denied "cannot read \`$2\`"
  else say "$1" failed "cannot read \`$2\`: $(cat "$t/e")"; fi
}
l() {
  if [ ! -e "$2" ] && [ ! -L "$2" ]; then emit "$1" none; return; fi
  if ! stat -c '%F|%a|%u|%g|%s|%Y' -- "$2" >"$t/o" 2>"$t/e"; then
    if command -v stat >/dev/null 2>&1; then say "$1" failed "cannot stat \`$2\`: $(cat "$t/e")"
    else say "$1" missing stat; fi
    return
  fi
  IFS='|' read -r k m u g s y <"$t/o"
  case $k in
    "regular file"|"regular empty file") k=file ;;
    directory|socket) ;;
    "symbolic link") k=symlink ;;
    fifo) k=pipe ;;
    "block special file") k=block-device ;;
    "character special file") k=character-device ;;
    *) k=unknown ;;
  esac
  printf '%s %s %s %s %s %s' "$k" "$m" "$u" "$g" "$s" "$y" >"$t/o"
  if [ "$k" = symlink ]; then
    printf '%s' "$(readlink -- "$2")" >"$t/l"; emit "$1" ok "$t/o" "$t/l"
  else emit "$1" ok "$t/o"; fi
}
x() {
  i=$1; s=$2; shift 2
  if command -v timeout >/dev/null 2>&1; then
    timeout -k 1 "$s" "$@" <"$t/i" >"$t/o" 2>"$t/e"; c=$?
    if [ $c -eq 124 ]; then emit "$i" timeout; return; fi
  else
    "$@" <"$t/i" >"$t/o" 2>"$t/e"; c=$?
  fi
  if [ $c -eq 127 ] && ! command -v "$1" >/dev/null 2>&1; then say "$i" missing "$1"; return; fi
  printf '%s' "$c" >"$t/c"; emit "$i" ok "$t/c" "$t/o" "$t/e"
}
p() {
  /bin/sh -c "$2" ispec $$ >"$t/o" 2>"$t/e"; c=$?
  case $c in
    0) emit "$1" ok "$t/o" ;;
    4) say "$1" denied "\`/proc\` hides other users' processes (\`hidepid\`); check as root" ;;
    *) say "$1" failed "$(cat "$t/e")" ;;
  esac
}
printf 'ISPEC-PROBE 1\n'
"#;

/// The script that answers `queries`.
pub(super) fn build(queries: &[Query]) -> String {
    let mut script = String::from(PRELUDE);
    for (i, query) in queries.iter().enumerate() {
        match query {
            Query::Read(path) => {
                let _ = writeln!(script, "r {i} {}", quote(path));
            }
            Query::Lstat(path) => {
                let _ = writeln!(script, "l {i} {}", quote(path));
            }
            Query::Processes => {
                let _ = writeln!(script, "p {i} {}", quote(crate::resource::PROCESS_SCRIPT));
            }
            Query::Run(run) => {
                // The input goes to a file first, byte by byte as octal escapes, which
                // `printf` turns back into bytes: any byte survives.
                let input: String = run.input.iter().flatten().fold(String::new(), |mut s, b| {
                    let _ = write!(s, "\\{b:03o}");
                    s
                });
                let _ = writeln!(script, "printf '{input}' >\"$t/i\"");
                let secs = run.timeout_ms.div_ceil(1000).max(1);
                let argv: Vec<String> = run.argv.iter().map(|w| quote(w)).collect();
                let _ = writeln!(script, "x {i} {secs} {}", argv.join(" "));
            }
            // Gathering sends these as their fallback programs instead.
            Query::Connect(_) | Query::Resolve(_) | Query::Http(_) => {
                let _ = writeln!(script, "say {i} failed 'the script cannot answer this'");
            }
        }
    }
    script.push_str("printf 'end 1\\n'\n");
    script
}

#[cfg(test)]
mod tests {
    use ispec_probe::wire::{Reply, Run, parse_replies};

    use super::*;
    use crate::backend::{Backend, Local};
    use crate::cmd::Cmd;

    fn run_script(queries: &[Query]) -> Vec<Option<Reply>> {
        let out = Local::new()
            .exec(
                &Cmd::shell(build(queries)),
                std::time::Duration::from_secs(20),
            )
            .unwrap();
        let replies = parse_replies(&out.stdout, queries.len()).unwrap();
        assert!(replies.complete, "{}", out.stderr_text());
        replies.replies
    }

    #[test]
    fn the_script_answers_like_the_probe() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("it's $(here)");
        std::fs::write(&file, "a\0b\n").unwrap();
        std::os::unix::fs::symlink("target with space", dir.path().join("l")).unwrap();
        let path = |p: &std::path::Path| p.to_str().unwrap().to_string();
        let queries = vec![
            Query::Read(path(&file)),
            Query::Read(path(&dir.path().join("none"))),
            Query::Read(path(dir.path())),
            Query::Lstat(path(&file)),
            Query::Lstat(path(&dir.path().join("l"))),
            Query::Lstat(path(&dir.path().join("none/x"))),
            Query::Run(Run {
                argv: vec!["sh".into(), "-c".into(), "cat; echo e >&2; exit 3".into()],
                input: Some(b"in\0'\\put".to_vec()),
                timeout_ms: 5000,
            }),
            Query::Run(Run {
                argv: vec!["ispec-no-such-program".into()],
                input: None,
                timeout_ms: 5000,
            }),
            Query::Run(Run {
                argv: vec!["sleep".into(), "5".into()],
                input: None,
                timeout_ms: 1000,
            }),
            Query::Processes,
        ];
        let r = run_script(&queries);
        assert_eq!(r[0], Some(Reply::Ok(vec![b"a\0b\n".to_vec()])));
        assert_eq!(r[1], Some(Reply::NotFound));
        assert!(matches!(&r[2], Some(Reply::Failed(m)) if m.contains("Is a directory")));
        let Some(Reply::Ok(meta)) = &r[3] else {
            panic!("{:?}", r[3])
        };
        assert!(meta[0].starts_with(b"file 644 "), "{meta:?}");
        let Some(Reply::Ok(link)) = &r[4] else {
            panic!("{:?}", r[4])
        };
        assert!(link[0].starts_with(b"symlink 777 "));
        assert_eq!(link[1], b"target with space");
        assert_eq!(r[5], Some(Reply::NotFound));
        assert_eq!(
            r[6],
            Some(Reply::Ok(vec![
                b"3".to_vec(),
                b"in\0'\\put".to_vec(),
                b"e\n".to_vec()
            ]))
        );
        assert_eq!(r[7], Some(Reply::Missing("ispec-no-such-program".into())));
        assert_eq!(r[8], Some(Reply::Timeout));
        let Some(Reply::Ok(listing)) = &r[9] else {
            panic!("{:?}", r[9])
        };
        let text = String::from_utf8_lossy(&listing[0]);
        assert!(!text.contains("ispec-gather") && !text.contains("emit()"));
    }
}
