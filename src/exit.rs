//! Exit codes: a contract CI scripts rely on, owned here and nowhere else.
//!
//! A gate can tell "the image is bad" (1) from "the pipeline is broken" (2, 3).

/// The exit codes of `ispec`.
pub enum Exit {}

impl Exit {
    /// Every check passed.
    pub const PASSED: u8 = 0;
    /// At least one check failed or could not be evaluated.
    pub const FAILED: u8 = 1;
    /// The specs or the command line are wrong; nothing was run.
    pub const INVALID: u8 = 2;
    /// A target could not be reached or set up.
    pub const UNREACHABLE: u8 = 3;
}
