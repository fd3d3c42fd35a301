//! Gateway batch CSV for offline card collection (docs/collection.md, `collect card
//! --out F`): header `reference,account,card_token,amount_minor,currency`,
//! one row per invoice, amounts in integer minor units.
//!
//! Decisions:
//! - The token is written in full (a payment file is the one place it is
//!   not masked); an item without a token is left out, not guessed.
//! - `currency` is the run's ISO 4217 code, upper case, as configured.
//! - RFC 4180 quoting by the `csv` crate; records end with `\n`.

use super::{DebitItem, Limits, PayFile, PayFileError, accept};

const FORMAT: &str = "card batch CSV";
const HEADER: [&str; 5] = [
    "reference",
    "account",
    "card_token",
    "amount_minor",
    "currency",
];

fn token_ok(t: &str) -> bool {
    !t.is_empty() && t.len() <= 255 && t.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Write the batch CSV for `items` in `currency` (e.g. `GBP`).
pub fn write_card_batch(items: &[DebitItem], currency: &str) -> Result<PayFile, PayFileError> {
    let cur = currency.trim().to_ascii_uppercase();
    let settings = if cur.len() != 3 || !cur.chars().all(|c| c.is_ascii_uppercase()) {
        Err(vec![format!(
            "currency: '{}' must be a 3-letter ISO 4217 code such as GBP",
            currency.trim()
        )])
    } else {
        Ok(cur)
    };
    let limits = Limits {
        format: FORMAT,
        max_minor: i64::MAX,
        max_ref: 255,
        ref_ok: |c| !c.is_control(),
        max_total: None,
    };
    let (cur, acc) = accept(&limits, settings, items, |it| {
        match it.card_token.as_deref().map(str::trim) {
            Some(t) if token_ok(t) => Ok((it.account.clone(), t.to_string())),
            Some(t) if !t.is_empty() => Err(format!(
                "card token '{}' is not a gateway payment-method id",
                crate::domain::bank::mask_token(t)
            )),
            _ => Err("no card token".into()),
        }
    })?;
    let internal = |e: csv::Error| PayFileError::Internal(format!("writing CSV: {e}"));
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(HEADER).map_err(internal)?;
    for line in &acc.lines {
        let (account, token) = &line.item;
        w.write_record([
            line.reference.as_str(),
            account.as_str(),
            token.as_str(),
            &line.minor.to_string(),
            &cur,
        ])
        .map_err(internal)?;
    }
    let contents = w
        .into_inner()
        .map_err(|e| PayFileError::Internal(format!("writing CSV: {e}")))?;
    Ok(acc.into_file(contents))
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::item;
    use super::*;
    use rust_decimal_macros::dec;

    fn card(reference: &str, amount: rust_decimal::Decimal, token: &str) -> DebitItem {
        let mut it = item(reference, amount);
        it.card_token = Some(token.into());
        it
    }

    #[test]
    fn writes_header_and_rows_in_minor_units() {
        let mut quoted = card("INV-2", dec!(0.995), "pm_2");
        quoted.account = "ACME, \"North\"".into();
        let items = vec![
            card("INV-1", dec!(12.30), "pm_1MqLiJLkdIwHu7ixUEgbFdYF"),
            quoted,
            item("INV-3", dec!(5)),
            card("INV-4", dec!(5), "pm 1234567890"),
        ];
        let f = write_card_batch(&items, "gbp").unwrap();
        let s = String::from_utf8(f.contents).unwrap();
        assert_eq!(
            s,
            "reference,account,card_token,amount_minor,currency\n\
             INV-1,C-INV-1,pm_1MqLiJLkdIwHu7ixUEgbFdYF,1230,GBP\n\
             INV-2,\"ACME, \"\"North\"\"\",pm_2,100,GBP\n"
        );
        assert_eq!(f.total_minor, 1330);
        assert_eq!(f.included, ["INV-1", "INV-2"]);
        let r: Vec<String> = f.unsuitable.iter().map(|u| u.to_string()).collect();
        assert_eq!(r[0], "INV-3: no card token");
        assert_eq!(
            r[1],
            "INV-4: card token '…7890' is not a gateway payment-method id"
        );
    }

    #[test]
    fn bad_currency_and_amounts_fail_with_every_problem() {
        let items = vec![
            card("INV-1", dec!(0), "pm_1"),
            card("INV-2", dec!(-1), "pm_2"),
        ];
        let Err(PayFileError::Invalid {
            settings, items, ..
        }) = write_card_batch(&items, "pounds")
        else {
            panic!()
        };
        assert_eq!(settings.len(), 1);
        assert_eq!(items.len(), 2);
    }

    #[test]
    fn no_tokens_nothing_to_collect() {
        let e = write_card_batch(&[item("INV-1", dec!(1))], "EUR").unwrap_err();
        assert!(matches!(e, PayFileError::NothingToCollect { .. }));
    }
}
