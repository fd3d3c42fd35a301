//! Emailing a run's invoices.
