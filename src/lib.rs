//! billrun: a telecom/ISP month-end billing run on a local SQLite store.
//!
//! `domain` is pure logic (no I/O), `store` is the only code that speaks SQL,
//! `cli` is the thin command line on top, `gateway` talks to SMTP and card
//! gateways. See ARCHITECTURE.md.

pub mod cli;
pub(crate) mod domain;
pub(crate) mod error;
pub mod gateway;
pub(crate) mod ops;
pub mod render;
pub(crate) mod store;
pub(crate) mod whole_file;
