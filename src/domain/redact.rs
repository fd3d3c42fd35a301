//! Masking secrets in text that billrun did not write: a payment
//! gateway's error bodies and messages, reasons in a results file. Such
//! text is printed and stored on payment items, so anything in it that
//! looks like a credential is masked first ([`secrets`]).
//!
//! What is masked (a token starts after a character that is not a letter,
//! digit or `_`):
//! - Stripe secret and restricted keys: `sk_live_…`, `sk_test_…`,
//!   `rk_live_…`, `rk_test_…` (and any other `sk_…`/`rk_…`) become
//!   `sk_live_****` followed by the key's last 4 characters when the key is
//!   long enough that these say nothing (20 or more after the prefix), as
//!   Stripe's own messages show them; a key Stripe masked already
//!   (`sk_test_****1234`) is left as it is;
//! - webhook signing secrets: `whsec_…` become `whsec_****`;
//! - bearer tokens: `Bearer …` (any case) becomes `Bearer ****`.
//!
//! Publishable keys (`pk_…`) are not secret and are left alone.

/// Characters a key or token is made of.
fn token_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '*'
}

/// Characters of a bearer token (RFC 6750 `b64token`, and `_`, `*`).
fn bearer_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "-._~+/=*".contains(c)
}

/// `text` with everything that looks like a secret key or token masked.
pub fn secrets(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    let mut prev: Option<char> = None;
    while let Some(c) = rest.chars().next() {
        let at_word_start = !prev.is_some_and(|p| p.is_ascii_alphanumeric() || p == '_');
        if at_word_start && let Some((masked, used)) = mask_at(rest) {
            out.push_str(&masked);
            prev = rest[..used].chars().next_back();
            rest = &rest[used..];
            continue;
        }
        out.push(c);
        prev = Some(c);
        rest = &rest[c.len_utf8()..];
    }
    out
}

/// The masked form of a secret starting at the beginning of `s`, and how
/// many bytes of `s` it replaces; `None` when `s` does not start with one.
fn mask_at(s: &str) -> Option<(String, usize)> {
    let lower: String = s.chars().take(7).collect::<String>().to_ascii_lowercase();
    if lower.starts_with("bearer") {
        let after = &s[6..];
        let spaces = after.len() - after.trim_start_matches([' ', '\t']).len();
        if spaces == 0 {
            return None;
        }
        let token = after[spaces..]
            .find(|c: char| !bearer_char(c))
            .unwrap_or(after.len() - spaces);
        if token == 0 {
            return None;
        }
        return Some((
            format!("{}{}****", &s[..6], &after[..spaces]),
            6 + spaces + token,
        ));
    }
    if let Some(rest) = s.strip_prefix("whsec_") {
        let tail = token_len(rest);
        return (tail > 0).then(|| ("whsec_****".to_string(), 6 + tail));
    }
    if !(s.starts_with("sk_") || s.starts_with("rk_")) {
        return None;
    }
    let prefix = ["sk_live_", "sk_test_", "rk_live_", "rk_test_"]
        .into_iter()
        .find(|p| s.starts_with(p))
        .map_or(3, str::len);
    let tail_len = token_len(&s[prefix..]);
    if tail_len == 0 {
        return None;
    }
    let tail = &s[prefix..prefix + tail_len];
    let masked = if already_masked(tail) {
        tail.to_string()
    } else if tail.len() >= 20 {
        format!("****{}", &tail[tail.len() - 4..])
    } else {
        "****".to_string()
    };
    Some((format!("{}{masked}", &s[..prefix]), prefix + tail_len))
}

/// Length in bytes of the key characters at the start of `s` (all ASCII).
fn token_len(s: &str) -> usize {
    s.find(|c: char| !token_char(c)).unwrap_or(s.len())
}

/// `****1234`: stars, then at most 4 letters or digits.
fn already_masked(tail: &str) -> bool {
    let shown = tail.trim_start_matches('*');
    shown.len() < tail.len() && shown.len() <= 4 && shown.bytes().all(|b| b.is_ascii_alphanumeric())
}

#[cfg(test)]
mod tests {
    use super::secrets;

    #[test]
    fn stripe_keys_are_masked_keeping_the_last_four_of_long_ones() {
        let live = "sk_live_51HqLyjWDarjtT1zdp7dcXlvhzxZ3bUeGMrSuBlBL0kQ4yk2a";
        assert_eq!(
            secrets(&format!("Invalid API Key provided: {live}")),
            "Invalid API Key provided: sk_live_****yk2a"
        );
        assert_eq!(secrets("key sk_test_abc."), "key sk_test_****.");
        assert_eq!(
            secrets("restricted rk_live_0123456789abcdefghijKLMN!"),
            "restricted rk_live_****KLMN!"
        );
        assert_eq!(secrets("rk_test_short"), "rk_test_****");
        assert_eq!(secrets("\"sk_abcdef\""), "\"sk_****\"");
    }

    #[test]
    fn stripes_own_masking_is_kept() {
        let m = "Invalid API Key provided: sk_test_****1234";
        assert_eq!(secrets(m), m);
        assert_eq!(secrets("sk_live_********"), "sk_live_********");
    }

    #[test]
    fn webhook_secrets_and_bearer_tokens_are_masked() {
        assert_eq!(secrets("whsec_abcDEF123 used"), "whsec_**** used");
        assert_eq!(
            secrets("Authorization: Bearer sk_live_zzz/abc+=.x, next"),
            "Authorization: Bearer ****, next"
        );
        assert_eq!(secrets("bearer  tok-en_1"), "bearer  ****");
        assert_eq!(
            secrets(r#"{"auth":"BEARER abc"}"#),
            r#"{"auth":"BEARER ****"}"#
        );
    }

    #[test]
    fn ordinary_text_is_left_alone() {
        for t in [
            "Your card has insufficient funds.",
            "task_test_1 risk_level ask_ me",
            "pk_live_51Publishable",
            "Bearer",
            "Bearer: none",
            "sk_ alone, whsec_",
            "pi_3MtwBwLkdIwHu7ix28a3tqPa",
            "bearers of news",
            "ünïcødé £425.43 — sk",
            "",
        ] {
            assert_eq!(secrets(t), t, "{t}");
        }
    }

    #[test]
    fn every_occurrence_is_masked_and_no_input_panics() {
        assert_eq!(
            secrets("a sk_test_1 b sk_test_2 c whsec_3 Bearer 4"),
            "a sk_test_**** b sk_test_**** c whsec_**** Bearer ****"
        );
        for t in [
            "sk_",
            "rk_live_",
            "whsec_",
            "Bearer ",
            "béarer x",
            "Bearé",
            "BEAR",
        ] {
            let _ = secrets(t);
        }
    }
}
