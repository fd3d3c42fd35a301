//! billrun: a telecom/ISP month-end billing run on a local SQLite store.

pub mod domain;
pub mod render;
