//! The post-billing report.
