//! Pure domain logic: values in, values out. No SQLite, no terminal, no files.

pub mod bank;
pub mod money;
pub mod payfile;
