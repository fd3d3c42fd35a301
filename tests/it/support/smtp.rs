//! The real SMTP server the tests send to: billrun's local mailbox
//! (`billrun::gateway::mailbox`, also used by the demo).
#![allow(dead_code)]

#[allow(unused_imports)]
pub use billrun::gateway::mailbox::{Received, SmtpServer};
