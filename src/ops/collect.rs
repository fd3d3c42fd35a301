//! Collection: Direct Debit files, card charges, results.
