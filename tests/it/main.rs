//! billrun's integration tests: one test binary (as ripgrep and cargo do),
//! one module per area, each running the real `billrun` binary in a
//! temporary directory. Shared helpers live in `support`; `golden`
//! compares payment files and report CSVs with `golden/` (regenerate with
//! `UPDATE_GOLDEN=1 cargo test --test it golden::`).
//!
//! Run one area with `cargo test --test it collect::`.

mod support;

mod allowances;
mod autopilot;
mod autopilot_month;
mod banks;
mod billing;
mod cdrs;
mod charges;
mod collect;
mod credit;
mod email;
mod fees;
mod foundation;
mod gateways;
mod golden;
mod hostile;
mod hostile_big;
mod hostile_collect;
mod hostile_mail;
mod hostile_produce;
mod hostile_steps;
mod payments;
mod progress;
mod read;
mod sources;
mod sources_imap;
mod sources_sftp_password;
mod xero;
mod xero_api;
mod xero_credit;
