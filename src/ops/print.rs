//! Print bundles.
