//! billrun: a telecom/ISP month-end billing run on a local SQLite store.
//!
//! `domain` is pure logic (no I/O), `store` is the only code that speaks SQL,
//! `cli` is the thin command line on top, `gateway` talks to SMTP and card
//! gateways. See ARCHITECTURE.md.

pub mod cli;
pub mod domain;
pub mod error;
pub mod gateway;
pub mod ops;
pub mod render;
pub mod store;
pub mod whole_file;
