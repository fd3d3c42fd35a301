//! Text for payment files: transliterate to ASCII, then keep only the
//! characters a format allows.
//!
//! Decision: accented Latin letters become their base letter (`é`→`e`,
//! `ß`→`ss`, `Æ`→`AE`); typographic quotes and dashes become `'` and `-`;
//! `&` becomes `+` where the set lacks `&` (SEPA); anything else outside
//! the set becomes a space, and runs of spaces are collapsed. Names are
//! descriptive fields, so this is safe; references are never rewritten —
//! the writers refuse a reference with a character outside the set.

/// The base-letter spelling of a non-ASCII character, if known.
fn fold(c: char) -> Option<&'static str> {
    Some(match c {
        'À' | 'Á' | 'Â' | 'Ã' | 'Ä' | 'Å' | 'Ā' | 'Ă' | 'Ą' => "A",
        'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'ā' | 'ă' | 'ą' => "a",
        'Æ' => "AE",
        'æ' => "ae",
        'Ç' | 'Ć' | 'Č' | 'Ĉ' | 'Ċ' => "C",
        'ç' | 'ć' | 'č' | 'ĉ' | 'ċ' => "c",
        'Ð' | 'Ď' | 'Đ' => "D",
        'ð' | 'ď' | 'đ' => "d",
        'È' | 'É' | 'Ê' | 'Ë' | 'Ē' | 'Ė' | 'Ę' | 'Ě' => "E",
        'è' | 'é' | 'ê' | 'ë' | 'ē' | 'ė' | 'ę' | 'ě' => "e",
        'Ğ' | 'Ģ' => "G",
        'ğ' | 'ģ' => "g",
        'Ì' | 'Í' | 'Î' | 'Ï' | 'Ī' | 'Į' | 'İ' => "I",
        'ì' | 'í' | 'î' | 'ï' | 'ī' | 'į' | 'ı' => "i",
        'Ķ' => "K",
        'ķ' => "k",
        'Ł' | 'Ļ' | 'Ľ' | 'Ĺ' => "L",
        'ł' | 'ļ' | 'ľ' | 'ĺ' => "l",
        'Ñ' | 'Ń' | 'Ň' | 'Ņ' => "N",
        'ñ' | 'ń' | 'ň' | 'ņ' => "n",
        'Ò' | 'Ó' | 'Ô' | 'Õ' | 'Ö' | 'Ø' | 'Ō' | 'Ő' => "O",
        'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' | 'ō' | 'ő' => "o",
        'Œ' => "OE",
        'œ' => "oe",
        'Ŕ' | 'Ř' => "R",
        'ŕ' | 'ř' => "r",
        'Ś' | 'Š' | 'Ş' | 'Ș' => "S",
        'ś' | 'š' | 'ş' | 'ș' => "s",
        'ß' => "ss",
        'Ť' | 'Ţ' | 'Ț' => "T",
        'ť' | 'ţ' | 'ț' => "t",
        'Þ' => "TH",
        'þ' => "th",
        'Ù' | 'Ú' | 'Û' | 'Ü' | 'Ū' | 'Ů' | 'Ű' | 'Ų' => "U",
        'ù' | 'ú' | 'û' | 'ü' | 'ū' | 'ů' | 'ű' | 'ų' => "u",
        'Ý' | 'Ÿ' => "Y",
        'ý' | 'ÿ' => "y",
        'Ź' | 'Ż' | 'Ž' => "Z",
        'ź' | 'ż' | 'ž' => "z",
        '‘' | '’' | '‚' | '′' => "'",
        '‐' | '‑' | '‒' | '–' | '—' => "-",
        _ => return None,
    })
}

/// Transliterate `s`, map characters outside `allowed` to a space (`&` to
/// `+` when `+` is allowed and `&` is not), collapse spaces, trim, and
/// optionally upper-case.
pub(super) fn clean(s: &str, allowed: fn(char) -> bool, upper: bool) -> String {
    let mut ascii = String::with_capacity(s.len());
    for c in s.chars() {
        match fold(c) {
            Some(f) => ascii.push_str(f),
            None => ascii.push(c),
        }
    }
    if upper {
        ascii = ascii.to_uppercase();
    }
    let mut out = String::with_capacity(ascii.len());
    for c in ascii.chars() {
        let c = if allowed(c) {
            c
        } else if c == '&' && allowed('+') {
            '+'
        } else {
            ' '
        };
        if c == ' ' && (out.is_empty() || out.ends_with(' ')) {
            continue;
        }
        out.push(c);
    }
    out.trim_end().to_string()
}

/// The SEPA (EPC) basic Latin character set:
/// `a-z A-Z 0-9 / - ? : ( ) . , ' +` and space.
pub(super) fn sepa_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || " /-?:().,'+".contains(c)
}

/// Bacs: upper-case letters, digits, space, `. & / -`.
pub(super) fn bacs_char(c: char) -> bool {
    c.is_ascii_uppercase() || c.is_ascii_digit() || " .&/-".contains(c)
}

/// BECS (ABA) text: letters, digits, space and common punctuation.
pub(super) fn becs_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || " &'()*+,-./:;?@#".contains(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transliterates_and_restricts() {
        assert_eq!(
            clean("Müller & Söhne GmbH", sepa_char, false),
            "Muller + Sohne GmbH"
        );
        assert_eq!(clean("Łódź  Straße", sepa_char, false), "Lodz Strasse");
        assert_eq!(clean("O’Brien – Ltd", sepa_char, false), "O'Brien - Ltd");
        assert_eq!(clean("Zoë's café!", bacs_char, true), "ZOE S CAFE");
        assert_eq!(clean("A&B Pty Ltd", becs_char, false), "A&B Pty Ltd");
        assert_eq!(clean("张伟", sepa_char, false), "");
        assert_eq!(clean("  x\t y ", sepa_char, false), "x y");
    }
}
