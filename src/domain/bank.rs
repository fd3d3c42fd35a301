//! Bank detail validators and masking.
//!
//! Every validator takes what an operator typed (spaces, dashes and lower
//! case tolerated where the format allows) and returns either the
//! normalised form that billrun stores and writes into payment files, or a
//! one-line message an operator can act on. None of them guesses: a value
//! that could be read two ways is refused.
//!
//! Sources:
//! - UK sort code / account: 6 and 8 digits (Bacs Standard 18 destination
//!   sorting code and account fields, see `payfile::bacs18`). Seven-digit
//!   and ten-digit accounts exist but need bank-specific conversion rules,
//!   so they are refused rather than padded.
//! - AU BSB `NNN-NNN` and account (up to 9 characters in the ABA detail
//!   record; BECS account numbers are 5–9 digits in practice), see
//!   `payfile::aba`.
//! - IBAN: ISO 13616 structure, ISO 7064 MOD 97-10 check digits; lengths
//!   from the SWIFT IBAN registry for the countries of the SEPA schemes
//!   (EPC409-09 "EPC list of countries and territories of the SEPA
//!   schemes"). Other countries are refused: billrun only uses IBANs for
//!   SEPA Direct Debit.
//! - BIC: ISO 9362, 4 letters institution, 2 letters country, 2
//!   alphanumerics location, optional 3 alphanumerics branch.
//! - SEPA creditor identifier: EPC262-08 "Creditor Identifier Overview":
//!   country, 2 check digits (MOD 97-10 over the national identifier and
//!   country, business code excluded), 3-character business code, national
//!   identifier.

/// The normalised text of a validated bank field.
pub type Normalised = String;

/// A payer's bank account, in the form of the Direct Debit scheme that
/// collects it: one value for a customer's details as read from the store,
/// for a payment item, and for the payment-file writer of the scheme.
///
/// Values are as stored (customers.csv, possibly unset); the writer of the
/// scheme validates them and says why an account does not suit it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BankDetails {
    /// UK Bacs: sort code and 8-digit account.
    Bacs {
        sort_code: Option<String>,
        account: Option<String>,
        /// The account holder's name.
        name: String,
    },
    /// Australian BECS (ABA files): BSB and account.
    Aba {
        bsb: Option<String>,
        account: Option<String>,
        name: String,
    },
    /// SEPA: IBAN and, optionally, BIC.
    Sepa {
        iban: Option<String>,
        bic: Option<String>,
        name: String,
    },
}

impl BankDetails {
    /// The account holder's name.
    #[cfg(test)]
    pub fn name(&self) -> &str {
        match self {
            BankDetails::Bacs { name, .. }
            | BankDetails::Aba { name, .. }
            | BankDetails::Sepa { name, .. } => name,
        }
    }

    /// For display: branch and masked account (`20-00-00 ****5678`), or the
    /// masked IBAN (`IBAN ****3000`).
    pub fn masked(&self) -> String {
        let t = |o: &Option<String>| o.as_deref().unwrap_or("").trim().to_string();
        match self {
            BankDetails::Bacs {
                sort_code: branch,
                account,
                ..
            }
            | BankDetails::Aba {
                bsb: branch,
                account,
                ..
            } => format!("{} {}", t(branch), mask_account(&t(account))),
            BankDetails::Sepa { iban, .. } => format!("IBAN {}", mask_account(&t(iban))),
        }
    }
}

/// The name on a payer's bank account: `bank_account_name` when set, else
/// the customer's name.
pub fn holder_name(bank_account_name: Option<&str>, customer_name: &str) -> String {
    bank_account_name
        .filter(|s| !s.trim().is_empty())
        .unwrap_or(customer_name)
        .to_string()
}

/// Keep only the characters an operator may use as separators out of the way.
fn squash(s: &str, seps: &[char]) -> String {
    s.trim().chars().filter(|c| !seps.contains(c)).collect()
}

/// The digits of `s` if it is written either as plain digits or as digit
/// groups of exactly the sizes `groups`, separated by one `-` or space.
/// Anything else (e.g. a UK sort code `20-00-00` offered as a BSB) is `None`.
fn grouped(s: &str, groups: &[usize]) -> Option<String> {
    let t = s.trim();
    let total: usize = groups.iter().sum();
    if t.len() == total && all_digits(t) {
        return Some(t.to_string());
    }
    for sep in ['-', ' '] {
        let parts: Vec<&str> = t.split(sep).collect();
        if parts.len() == groups.len()
            && parts
                .iter()
                .zip(groups)
                .all(|(p, &n)| p.len() == n && all_digits(p))
        {
            return Some(parts.concat());
        }
    }
    None
}

fn all_digits(s: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| c.is_ascii_digit())
}

/// UK sort code: `NN-NN-NN` or `NNNNNN` (spaces tolerated) → `NN-NN-NN`.
pub fn uk_sort_code(s: &str) -> Result<Normalised, String> {
    let Some(d) = grouped(s, &[2, 2, 2]) else {
        return Err(format!(
            "sort code '{}' must be 6 digits, written NN-NN-NN (e.g. 20-00-00)",
            s.trim()
        ));
    };
    Ok(format!("{}-{}-{}", &d[0..2], &d[2..4], &d[4..6]))
}

/// UK account number: exactly 8 digits (spaces tolerated).
pub fn uk_account(s: &str) -> Result<Normalised, String> {
    let d = squash(s, &[' ']);
    if d.len() != 8 || !all_digits(&d) {
        return Err(format!(
            "UK account number '{}' must be exactly 8 digits (ask the bank how to convert a 7- or 10-digit number)",
            mask_account(s.trim())
        ));
    }
    Ok(d)
}

/// AU BSB: `NNN-NNN` or `NNNNNN` (spaces tolerated) → `NNN-NNN`.
pub fn au_bsb(s: &str) -> Result<Normalised, String> {
    let Some(d) = grouped(s, &[3, 3]) else {
        return Err(format!(
            "BSB '{}' must be 6 digits, written NNN-NNN (e.g. 062-000)",
            s.trim()
        ));
    };
    Ok(format!("{}-{}", &d[0..3], &d[3..6]))
}

/// AU account number: 5 to 9 digits (spaces and dashes tolerated and
/// removed). Leading zeros are kept: they are part of the number.
pub fn au_account(s: &str) -> Result<Normalised, String> {
    let d = squash(s, &['-', ' ']);
    if !(5..=9).contains(&d.len()) || !all_digits(&d) {
        return Err(format!(
            "AU account number '{}' must be 5 to 9 digits",
            mask_account(s.trim())
        ));
    }
    if d.chars().all(|c| c == '0') {
        return Err("AU account number must not be all zeros".into());
    }
    Ok(d)
}

/// IBAN lengths of the SEPA scheme countries (SWIFT IBAN registry).
const IBAN_LENGTHS: &[(&str, usize)] = &[
    ("AD", 24),
    ("AT", 20),
    ("BE", 16),
    ("BG", 22),
    ("CH", 21),
    ("CY", 28),
    ("CZ", 24),
    ("DE", 22),
    ("DK", 18),
    ("EE", 20),
    ("ES", 24),
    ("FI", 18),
    ("FR", 27),
    ("GB", 22),
    ("GI", 23),
    ("GR", 27),
    ("HR", 21),
    ("HU", 28),
    ("IE", 22),
    ("IS", 26),
    ("IT", 27),
    ("LI", 21),
    ("LT", 20),
    ("LU", 20),
    ("LV", 21),
    ("MC", 27),
    ("MT", 31),
    ("NL", 18),
    ("NO", 15),
    ("PL", 28),
    ("PT", 25),
    ("RO", 24),
    ("SE", 24),
    ("SI", 19),
    ("SK", 24),
    ("SM", 27),
    ("VA", 22),
];

/// ISO 7064 MOD 97-10 remainder of an alphanumeric string, letters counted
/// as A=10 … Z=35. `None` if a character is not ASCII alphanumeric.
fn mod97(s: &str) -> Option<u32> {
    let mut r: u32 = 0;
    for c in s.chars() {
        let v = c.to_digit(36)?;
        r = if v >= 10 {
            (r * 100 + v) % 97
        } else {
            (r * 10 + v) % 97
        };
    }
    Some(r)
}

/// IBAN: spaces removed, upper-cased, country length checked, MOD 97-10
/// check digits verified. Returns the electronic form (no spaces). Error
/// messages show the IBAN masked (`****3000`).
pub fn iban(s: &str) -> Result<Normalised, String> {
    let v: String = squash(s, &[' ', '-']).to_ascii_uppercase();
    let m = mask_account(&v);
    if v.len() < 5 || !v.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(format!(
            "IBAN '{m}' must be letters and digits only, starting with a country code (e.g. DE89 3704 0044 0532 0130 00)"
        ));
    }
    let country = &v[0..2];
    if !country.chars().all(|c| c.is_ascii_uppercase()) || !all_digits(&v[2..4]) {
        return Err(format!(
            "IBAN '{m}' must start with a 2-letter country code and 2 check digits"
        ));
    }
    let Some(&(_, len)) = IBAN_LENGTHS.iter().find(|(c, _)| *c == country) else {
        return Err(format!(
            "IBAN '{m}': country {country} is not in the SEPA schemes, so it cannot be collected by SEPA Direct Debit"
        ));
    };
    if v.len() != len {
        return Err(format!(
            "IBAN '{m}' has {} characters; a {country} IBAN has {len}",
            v.len()
        ));
    }
    let rearranged = format!("{}{}", &v[4..], &v[..4]);
    if mod97(&rearranged) != Some(1) {
        return Err(format!(
            "IBAN '{m}' has wrong check digits (a typing mistake?)"
        ));
    }
    Ok(v)
}

/// BIC (ISO 9362): 8 or 11 characters, `AAAA CC LL [BBB]`; spaces removed,
/// upper-cased.
pub fn bic(s: &str) -> Result<Normalised, String> {
    let v: String = squash(s, &[' ']).to_ascii_uppercase();
    let ok_len = v.len() == 8 || v.len() == 11;
    let ok = ok_len
        && v.chars().all(|c| c.is_ascii_alphanumeric())
        && v[0..6].chars().all(|c| c.is_ascii_uppercase());
    if !ok {
        return Err(format!(
            "BIC '{}' must be 8 or 11 characters: 4-letter bank code, 2-letter country, 2-character location, optional 3-character branch (e.g. DEUTDEFF or DEUTDEFF500)",
            s.trim()
        ));
    }
    Ok(v)
}

/// SEPA creditor identifier (EPC262-08), e.g. `DE98ZZZ09999999999`.
/// Spaces removed, upper-cased, check digits verified.
pub fn sepa_creditor_id(s: &str) -> Result<Normalised, String> {
    let v: String = squash(s, &[' ']).to_ascii_uppercase();
    let shape = v.len() >= 8
        && v.len() <= 35
        && v.chars().all(|c| c.is_ascii_alphanumeric())
        && v[0..2].chars().all(|c| c.is_ascii_uppercase())
        && all_digits(&v[2..4]);
    if !shape {
        return Err(format!(
            "creditor identifier '{}' must look like DE98ZZZ09999999999: country, 2 check digits, 3-character business code, national identifier",
            s.trim()
        ));
    }
    let check = format!("{}{}{}", &v[7..], &v[0..2], &v[2..4]);
    if mod97(&check) != Some(1) {
        return Err(format!("creditor identifier '{v}' has wrong check digits"));
    }
    Ok(v)
}

/// Mask an account number (or IBAN) for display: `****` and the last four
/// characters. The mask has a fixed width so it does not reveal the length.
pub fn mask_account(s: &str) -> String {
    let chars: Vec<char> = s.chars().filter(|c| !c.is_whitespace()).collect();
    if chars.len() <= 4 {
        return "****".into();
    }
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("****{tail}")
}

/// Mask a gateway payment-method token for display: its type prefix up to
/// the first `_` (e.g. `pm_`), an ellipsis, and the last four characters:
/// `pm_…1234`. Tokens too short to keep four characters hidden show only
/// the prefix.
pub fn mask_token(s: &str) -> String {
    let s = s.trim();
    let (prefix, rest) = match s.find('_') {
        Some(i) if i < s.len() => s.split_at(i + 1),
        _ => ("", s),
    };
    let rest: Vec<char> = rest.chars().collect();
    if rest.len() <= 8 {
        return format!("{prefix}…");
    }
    let tail: String = rest[rest.len() - 4..].iter().collect();
    format!("{prefix}…{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sort_codes_normalise_to_dashes() {
        assert_eq!(uk_sort_code("200000").unwrap(), "20-00-00");
        assert_eq!(uk_sort_code(" 20-00-00 ").unwrap(), "20-00-00");
        assert_eq!(uk_sort_code("20 00 00").unwrap(), "20-00-00");
        assert!(uk_sort_code("20-00-0").unwrap_err().contains("6 digits"));
        assert!(uk_sort_code("2O-00-00").is_err());
        assert!(uk_sort_code("").is_err());
        assert!(uk_sort_code("200-000").is_err(), "a BSB is not a sort code");
    }

    #[test]
    fn uk_accounts_are_eight_digits_and_errors_mask_them() {
        assert_eq!(uk_account("12345678").unwrap(), "12345678");
        assert_eq!(uk_account("1234 5678").unwrap(), "12345678");
        let e = uk_account("1234567").unwrap_err();
        assert!(e.contains("8 digits"), "{e}");
        assert!(
            !e.contains("1234567"),
            "error must not show the number: {e}"
        );
        assert!(uk_account("123456789").is_err());
        assert!(uk_account("1234567a").is_err());
    }

    #[test]
    fn bsb_and_au_accounts() {
        assert_eq!(au_bsb("062000").unwrap(), "062-000");
        assert_eq!(au_bsb("062-000").unwrap(), "062-000");
        assert!(au_bsb("62-000").is_err());
        assert!(au_bsb("20-00-00").is_err(), "a sort code is not a BSB");
        assert_eq!(au_account("12345").unwrap(), "12345");
        assert_eq!(au_account("00-1234").unwrap(), "001234");
        assert_eq!(au_account("123456789").unwrap(), "123456789");
        assert!(au_account("1234").is_err());
        assert!(au_account("1234567890").is_err());
        assert!(au_account("00000").is_err());
    }

    #[test]
    fn ibans_check_country_length_and_digits() {
        assert_eq!(
            iban("de89 3704 0044 0532 0130 00").unwrap(),
            "DE89370400440532013000"
        );
        assert_eq!(
            iban("GB29 NWBK 6016 1331 9268 19").unwrap(),
            "GB29NWBK60161331926819"
        );
        assert_eq!(iban("NO9386011117947").unwrap(), "NO9386011117947");
        assert_eq!(
            iban("MT84MALT011000012345MTLCAST001S").unwrap(),
            "MT84MALT011000012345MTLCAST001S"
        );
        // one digit changed
        let e = iban("DE89370400440532013001").unwrap_err();
        assert!(e.contains("check digits") && e.contains("****3001"), "{e}");
        assert!(!e.contains("DE8937"), "masked: {e}");
        // wrong length
        assert!(
            iban("DE8937040044053201300")
                .unwrap_err()
                .contains("has 21")
        );
        // not a SEPA country
        assert!(iban("US12345678901234").unwrap_err().contains("SEPA"));
        assert!(iban("DE89-3704!").is_err());
        assert!(iban("").is_err());
    }

    #[test]
    fn bics() {
        assert_eq!(bic("deutdeff").unwrap(), "DEUTDEFF");
        assert_eq!(bic("DEUT DE FF 500").unwrap(), "DEUTDEFF500");
        assert!(bic("DEUTDEF").is_err());
        assert!(bic("DEUTDEFF50").is_err());
        assert!(bic("DEU1DEFF").is_err());
        assert!(bic("DEUTDEF!").is_err());
    }

    #[test]
    fn creditor_ids() {
        assert_eq!(
            sepa_creditor_id("de98 zzz0 9999 9999 99").unwrap(),
            "DE98ZZZ09999999999"
        );
        // business code is not part of the check
        assert_eq!(
            sepa_creditor_id("DE98ABC09999999999").unwrap(),
            "DE98ABC09999999999"
        );
        assert!(sepa_creditor_id("DE97ZZZ09999999999").is_err());
        assert!(sepa_creditor_id("DE98").is_err());
    }

    #[test]
    fn masking() {
        assert_eq!(mask_account("12345678"), "****5678");
        assert_eq!(mask_account("DE89370400440532013000"), "****3000");
        assert_eq!(mask_account("123"), "****");
        assert_eq!(mask_account("1234"), "****");
        assert_eq!(mask_token("pm_1MqLiJLkdIwHu7ixUEgbFdYF"), "pm_…FdYF");
        assert_eq!(mask_token("tok_abcdefghij1234"), "tok_…1234");
        assert_eq!(mask_token("abcdefghij1234"), "…1234");
        assert_eq!(mask_token("pm_1234"), "pm_…");
        assert_eq!(mask_token(""), "…");
    }

    #[test]
    fn bank_details_mask_for_display_and_fall_back_to_the_customer_name() {
        let b = BankDetails::Bacs {
            sort_code: Some(" 20-00-00".into()),
            account: Some("31415926".into()),
            name: "A".into(),
        };
        assert_eq!(b.masked(), "20-00-00 ****5926");
        let s = BankDetails::Sepa {
            iban: Some("DE89370400440532013000".into()),
            bic: None,
            name: "B".into(),
        };
        assert_eq!(s.masked(), "IBAN ****3000");
        assert_eq!(s.name(), "B");
        let none = BankDetails::Aba {
            bsb: None,
            account: None,
            name: "C".into(),
        };
        assert_eq!(none.masked(), " ****");
        assert_eq!(holder_name(Some("  "), "Cust"), "Cust");
        assert_eq!(holder_name(None, "Cust"), "Cust");
        assert_eq!(holder_name(Some("Holder"), "Cust"), "Holder");
    }
}
