//! Producing a requested run: invoices, numbers, PDFs, resume after a kill.
