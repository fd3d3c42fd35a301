//! The library's error type. Each variant maps to one exit code of SPEC §2.

use thiserror::Error;

/// What went wrong, classified by who must act. The message says what is
/// wrong, where (file:line: column when input data is at fault) and what to do.
#[derive(Debug, Error)]
pub enum Error {
    /// Wrong use of the command line (exit 2).
    #[error("{0}")]
    Usage(String),
    /// A precondition is not met: step not confirmed, run locked, wrong status (exit 3).
    #[error("{0}")]
    Precondition(String),
    /// Bad input data: a file, a value, a reference (exit 4).
    #[error("{0}")]
    BadInput(String),
    /// An external party failed: SMTP, file system, gateway (exit 5).
    #[error("{0}")]
    External(String),
    /// The database itself (exit 1).
    #[error("database: {0}")]
    Db(#[from] rusqlite::Error),
}

impl Error {
    /// The process exit code for this error (SPEC §2).
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Usage(_) => 2,
            Error::Precondition(_) => 3,
            Error::BadInput(_) => 4,
            Error::External(_) => 5,
            Error::Db(_) => 1,
        }
    }
}

/// Shorthand constructors.
pub fn precondition(msg: impl Into<String>) -> Error {
    Error::Precondition(msg.into())
}
pub fn bad_input(msg: impl Into<String>) -> Error {
    Error::BadInput(msg.into())
}
pub fn external(msg: impl Into<String>) -> Error {
    Error::External(msg.into())
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
