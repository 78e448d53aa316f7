//! Compiles the static probe (`probe/`) and leaves it in `OUT_DIR` for
//! `include_bytes!`: ispec carries its probe inside its own executable, so a target
//! needs nothing installed.
//!
//! The probe has no dependencies, so `rustc` builds it directly (no nested cargo, no
//! lock on the target folder). If it cannot be built (not Linux, no static C
//! library), an empty probe is embedded and ispec falls back to gathering with the
//! target's own tools; the build says so in a warning.

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=probe/src");
    println!("cargo:rerun-if-changed=build.rs");
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let probe = out.join("ispec-probe");
    if let Err(why) = build(&out, &probe) {
        println!(
            "cargo:warning=the static probe was not built ({why}); this ispec gathers facts with each target's own tools"
        );
        std::fs::write(&probe, b"").expect("OUT_DIR is writable");
    }
    // Compressed once here, for targets reached through a shell (SSH): less than
    // half the bytes on the wire.
    let compressed = gzip(&std::fs::read(&probe).expect("the probe was written"));
    std::fs::write(out.join("ispec-probe.gz"), compressed).expect("OUT_DIR is writable");
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    if bytes.is_empty() {
        return Vec::new();
    }
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(bytes).expect("writing to memory");
    gz.finish().expect("writing to memory")
}

fn build(out: &Path, probe: &Path) -> Result<(), String> {
    let target = env::var("TARGET").map_err(|_| "cargo did not say the target")?;
    if !target.contains("-linux-") {
        return Err(format!(
            "the probe runs on Linux targets only, not `{target}`"
        ));
    }
    let rustc = env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let rlib = out.join("libispec_probe_static.rlib");
    let common = [
        "--edition=2024",
        "--target",
        &target,
        "-C",
        "target-feature=+crt-static",
        "-C",
        "opt-level=s",
        "-C",
        "panic=abort",
        "-C",
        "codegen-units=1",
        "--cap-lints=allow",
    ];
    run(Command::new(&rustc)
        .args(common)
        .args([
            "--crate-type=rlib",
            "--crate-name=ispec_probe",
            "probe/src/lib.rs",
            "-o",
        ])
        .arg(&rlib))?;
    run(Command::new(&rustc)
        .args(common)
        .args([
            "--crate-type=bin",
            "--crate-name=ispec_probe_bin",
            "-C",
            "lto=fat",
        ])
        .args(["-C", "strip=symbols", "probe/src/main.rs", "--extern"])
        .arg(format!("ispec_probe={}", rlib.display()))
        .arg("-o")
        .arg(probe))
}

fn run(cmd: &mut Command) -> Result<(), String> {
    let out = cmd.output().map_err(|e| format!("cannot run rustc: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "rustc failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}
