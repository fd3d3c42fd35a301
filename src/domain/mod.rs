//! Pure domain logic: values in, values out. No SQLite, no terminal, no files.

pub mod cdr_format;
pub mod money;
pub mod rating;
