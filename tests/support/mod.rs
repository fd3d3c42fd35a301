//! Shared helpers for integration tests: `mod support;` in a test file.
//! Each helper file is also compiled into the unit tests of the module it
//! serves (through `#[path]`), so it must stand alone.

pub mod smtp;
pub mod stripe;
