//! The pre-billing report.
