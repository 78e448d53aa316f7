//! The probe ispec copies into a target: one static executable that answers every
//! fact query of a run in one reply, so a check costs no round trip of its own.
//!
//! ispec's build script compiles `main.rs` with this library into a static
//! executable and embeds it; [`wire`] is the format both sides speak.

pub mod http;
pub mod net;
pub mod resolve;
pub mod serve;
pub mod wire;
