//! Adapters to the outside world that billing hands its results to: the SMTP
//! server that carries invoice emails (docs/commands.md#email) and Stripe's PaymentIntents API
//! that charges card customers (docs/collection.md).
//!
//! Both adapters are synchronous and report every per-item result as a value
//! (`SendOutcome`, `ChargeOutcome`) rather than an error, so a caller working
//! through many invoices records each result and carries on with the next.
//! Neither ever writes a password or API key into a message, log or error.

pub(crate) mod email;
pub(crate) mod gocardless;
pub mod mailbox;
pub mod sources;
pub(crate) mod stripe;
pub mod xero;
