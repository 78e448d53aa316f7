//! The `ispec` binary: a thin layer over the library.

fn main() -> std::process::ExitCode {
    ispec::cli::run(ispec::cli::parse())
}
