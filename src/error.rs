//! The library's error type. Each variant maps to one exit code of docs/commands.md

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
    /// The database itself (exit 1; exit 5 when the file system failed:
    /// disk full, I/O error).
    #[error("{}", describe_db(.0))]
    Db(#[from] rusqlite::Error),
}

impl Error {
    /// The process exit code for this error (docs/commands.md).
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Usage(_) => 2,
            Error::Precondition(_) => 3,
            Error::BadInput(_) => 4,
            Error::External(_) => 5,
            Error::Db(e) if file_system_failure(e) => 5,
            Error::Db(e) if sum_overflow(e) => 4,
            Error::Db(_) => 1,
        }
    }
}

/// SQLite's report of a failing file system (disk full, I/O error, cannot
/// open): an outside failure the operator must fix, not a defect.
fn file_system_failure(e: &rusqlite::Error) -> bool {
    use rusqlite::ErrorCode::*;
    matches!(
        e.sqlite_error_code(),
        Some(DiskFull | SystemIoFailure | CannotOpen | ReadOnly)
    )
}

/// SQLite refused a `SUM` of integers beyond 64 bits: only absurd stored
/// amounts (written around the imports, which refuse them) can cause it.
fn sum_overflow(e: &rusqlite::Error) -> bool {
    e.to_string().contains("integer overflow")
}

fn describe_db(e: &rusqlite::Error) -> String {
    use rusqlite::ErrorCode::*;
    if sum_overflow(e) {
        return format!(
            "database: stored amounts are too large to add up ({e}): an amount was written \
             to the database around the imports (which refuse anything beyond 10000000); \
             find it (billrun prebill names it) and correct it"
        );
    }
    match e.sqlite_error_code() {
        Some(DiskFull) => "database: the disk is full; nothing of this command was saved: free space on the database's file system and run the command again".to_string(),
        Some(SystemIoFailure) => "database: the file system failed; nothing of this command was saved: check the disk, then run the command again".to_string(),
        Some(ReadOnly | CannotOpen) => "database: cannot write the database file: check its permissions and the file system".to_string(),
        _ => format!("database: {e}"),
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
