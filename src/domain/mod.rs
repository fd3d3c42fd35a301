//! Pure domain logic: values in, values out. No SQLite, no terminal, no files.

pub mod bank;
pub mod billing;
pub mod billing_errors;
pub mod cdr_format;
pub mod cdrs;
pub mod checklist;
pub mod collect;
pub mod csvfile;
pub mod cycles;
pub mod fees;
pub mod invoice;
pub mod invoice_email;
pub mod itemised;
pub mod lifecycle;
pub mod money;
pub mod payfile;
pub mod payments;
pub mod postbill;
pub mod prebill;
pub mod prorata;
pub mod rating;
pub mod redact;
pub mod reference;
pub mod settings;
pub mod setup_check;
pub mod xero;
