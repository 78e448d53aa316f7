//! `ispec-probe`: answers the batch in its own file's trailer; see the library.

fn main() {
    std::process::exit(ispec_probe::serve::main());
}
