//! Importing, fetching and processing carrier CDR files.
