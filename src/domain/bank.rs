//! PLACEHOLDER until the payfile branch lands: bank detail validators.
fn digits(s: &str) -> String {
    s.chars().filter(|c| c.is_ascii_digit()).collect()
}
pub fn sort_code(s: &str) -> Result<String, String> {
    let d = digits(s);
    if d.len() == 6 && s.chars().all(|c| c.is_ascii_digit() || c == '-') {
        Ok(format!("{}-{}-{}", &d[0..2], &d[2..4], &d[4..6]))
    } else {
        Err(format!("'{s}' is not a UK sort code NN-NN-NN"))
    }
}
pub fn bsb(s: &str) -> Result<String, String> {
    let d = digits(s);
    if d.len() == 6 && s.chars().all(|c| c.is_ascii_digit() || c == '-') {
        Ok(format!("{}-{}", &d[0..3], &d[3..6]))
    } else {
        Err(format!("'{s}' is not an AU BSB NNN-NNN"))
    }
}
pub fn uk_account(s: &str) -> Result<String, String> {
    if s.len() == 8 && s.bytes().all(|b| b.is_ascii_digit()) {
        Ok(s.into())
    } else {
        Err(format!("'{s}' is not an 8-digit UK account number"))
    }
}
pub fn au_account(s: &str) -> Result<String, String> {
    if (5..=9).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit()) {
        Ok(s.into())
    } else {
        Err(format!("'{s}' is not a 5-9 digit AU account number"))
    }
}
pub fn iban(s: &str) -> Result<String, String> {
    Ok(s.replace(' ', "").to_uppercase())
}
pub fn bic(s: &str) -> Result<String, String> {
    Ok(s.to_uppercase())
}
pub fn mask(s: &str) -> String {
    let n = s.chars().count();
    let tail: String = s.chars().skip(n.saturating_sub(4)).collect();
    format!("****{tail}")
}
