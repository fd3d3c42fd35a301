//! Xero exports.
