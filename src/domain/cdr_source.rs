//! Remote CDR sources of a carrier (docs/file-formats.md#remote-sources):
//! the source URL (`sftp://`, `ftp://`, `ftps://`, `imaps://`), the file
//! name pattern, and where a source's password comes from. Pure: values in,
//! values out.

use globset::{Glob, GlobMatcher};

/// How a remote source is reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    Sftp,
    /// Plain FTP (no TLS).
    Ftp,
    /// FTP with explicit TLS (`AUTH TLS` on the control port).
    Ftps,
    /// IMAP over TLS: the attachments of the messages in a mailbox.
    Imaps,
}

impl Scheme {
    pub fn name(self) -> &'static str {
        match self {
            Scheme::Sftp => "sftp",
            Scheme::Ftp => "ftp",
            Scheme::Ftps => "ftps",
            Scheme::Imaps => "imaps",
        }
    }

    pub fn default_port(self) -> u16 {
        match self {
            Scheme::Sftp => 22,
            Scheme::Ftp | Scheme::Ftps => 21,
            Scheme::Imaps => 993,
        }
    }
}

/// A parsed source URL: `SCHEME://USER@HOST[:PORT]/PATH`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceUrl {
    pub scheme: Scheme,
    pub user: String,
    pub host: String,
    pub port: u16,
    /// The remote directory (SFTP/FTP: as written after the host, `/` kept;
    /// `sftp://u@h/~/in` style relative paths are written without the
    /// leading `/` as `sftp://u@h/./in`), or the mailbox (IMAP, without
    /// the leading `/`).
    pub path: String,
}

fn bad(url: &str, why: &str) -> String {
    format!(
        "source '{url}': {why}; write sftp://USER@HOST[:PORT]/DIR, ftp://USER@HOST[:PORT]/DIR, \
         ftps://USER@HOST[:PORT]/DIR or imaps://USER@HOST[:PORT]/MAILBOX (no password in the URL: \
         set BILLRUN_SOURCE_PASSWORD_<CARRIER>)"
    )
}

/// Decode `%XX` escapes (a user name may hold `@` as `%40`).
fn unescape(url: &str, s: &str) -> Result<String, String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = s
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| bad(url, "a '%' is not followed by two hex digits"))?;
            out.push(hex);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| bad(url, "an escape is not UTF-8"))
}

impl SourceUrl {
    /// Parse a source URL. A password in the URL is refused (passwords come
    /// only from the environment).
    pub fn parse(url: &str) -> Result<SourceUrl, String> {
        if url.chars().any(|c| c.is_control() || c == ' ') {
            return Err(bad(url, "it holds a space or a control character"));
        }
        let (scheme, rest) = url.split_once("://").ok_or_else(|| bad(url, "no scheme"))?;
        let scheme = match scheme.to_ascii_lowercase().as_str() {
            "sftp" => Scheme::Sftp,
            "ftp" => Scheme::Ftp,
            "ftps" => Scheme::Ftps,
            "imaps" => Scheme::Imaps,
            other => return Err(bad(url, &format!("unknown scheme '{other}'"))),
        };
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, ""),
        };
        let (userinfo, hostport) = authority
            .rsplit_once('@')
            .ok_or_else(|| bad(url, "no user (USER@HOST)"))?;
        if userinfo.contains(':') {
            return Err(bad(url, "a password may not be written in the URL"));
        }
        let user = unescape(url, userinfo)?;
        if user.is_empty() {
            return Err(bad(url, "the user is empty"));
        }
        let (host, port) = if let Some(h) = hostport.strip_prefix('[') {
            // [IPv6]:port
            let (h, tail) = h
                .split_once(']')
                .ok_or_else(|| bad(url, "an IPv6 address lacks its ']'"))?;
            (h.to_string(), tail.strip_prefix(':'))
        } else {
            match hostport.rsplit_once(':') {
                Some((h, p)) => (h.to_string(), Some(p)),
                None => (hostport.to_string(), None),
            }
        };
        if host.is_empty() {
            return Err(bad(url, "the host is empty"));
        }
        let port = match port {
            None => scheme.default_port(),
            Some(p) => match p.parse::<u16>() {
                Ok(n) if n > 0 => n,
                _ => return Err(bad(url, &format!("'{p}' is not a port"))),
            },
        };
        let path = unescape(url, path)?;
        if path.chars().chain(user.chars()).any(char::is_control) {
            return Err(bad(url, "an escape stands for a control character"));
        }
        let path = match scheme {
            Scheme::Imaps => {
                let m = path.trim_start_matches('/').to_string();
                if m.is_empty() {
                    return Err(bad(url, "no mailbox (e.g. /INBOX)"));
                }
                m
            }
            _ if path.is_empty() => "/".to_string(),
            _ => path,
        };
        Ok(SourceUrl {
            scheme,
            user,
            host,
            port,
            path,
        })
    }

    /// `true` for a loopback host (tests; never a carrier).
    pub fn is_loopback(&self) -> bool {
        self.host == "localhost"
            || self
                .host
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback())
    }
}

impl std::fmt::Display for SourceUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        let path = match self.scheme {
            Scheme::Imaps => format!("/{}", self.path),
            _ => self.path.clone(),
        };
        write!(
            f,
            "{}://{}@{}:{}{}",
            self.scheme.name(),
            self.user,
            host,
            self.port,
            path
        )
    }
}

/// The environment variable holding a carrier's source password:
/// `BILLRUN_SOURCE_PASSWORD_` and the carrier's name upper-cased, every
/// character other than a letter or digit written `_`
/// (`north-tel` → `BILLRUN_SOURCE_PASSWORD_NORTH_TEL`).
pub fn password_var(carrier: &str) -> String {
    let tail: String = carrier
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect();
    format!("BILLRUN_SOURCE_PASSWORD_{tail}")
}

/// A file name pattern (`--pattern`, a glob such as `cdr-*.csv`); none
/// matches every file. Hidden names (leading `.`) and names ending `.tmp`
/// or `.part` (a carrier still uploading) are never taken.
#[derive(Debug, Clone)]
pub struct NamePattern {
    glob: Option<GlobMatcher>,
}

impl NamePattern {
    pub fn new(pattern: Option<&str>) -> Result<NamePattern, String> {
        let glob = match pattern {
            None => None,
            Some(p) => Some(
                Glob::new(p)
                    .map_err(|e| format!("pattern '{p}' is not a glob: {e}"))?
                    .compile_matcher(),
            ),
        };
        Ok(NamePattern { glob })
    }

    pub fn takes(&self, name: &str) -> bool {
        if name.is_empty()
            || name.starts_with('.')
            || name.ends_with(".tmp")
            || name.ends_with(".part")
            || name.contains('/')
            // A name from a server or a mail sender is stored and printed:
            // control characters (terminal escapes) are refused.
            || name.chars().any(char::is_control)
        {
            return false;
        }
        self.glob.as_ref().is_none_or(|g| g.is_match(name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_each_form() {
        let u = SourceUrl::parse("sftp://cdr@sftp.carrier.example/outgoing/cdr").unwrap();
        assert_eq!(
            (
                u.scheme,
                u.user.as_str(),
                u.host.as_str(),
                u.port,
                u.path.as_str()
            ),
            (
                Scheme::Sftp,
                "cdr",
                "sftp.carrier.example",
                22,
                "/outgoing/cdr"
            )
        );
        let u = SourceUrl::parse("ftps://a%40b@10.0.0.1:2121/").unwrap();
        assert_eq!(
            (u.scheme, u.user.as_str(), u.port),
            (Scheme::Ftps, "a@b", 2121)
        );
        let u = SourceUrl::parse("ftp://x@h").unwrap();
        assert_eq!((u.port, u.path.as_str()), (21, "/"));
        let u = SourceUrl::parse("imaps://billing@mail.example/CDRs").unwrap();
        assert_eq!(
            (u.scheme, u.port, u.path.as_str()),
            (Scheme::Imaps, 993, "CDRs")
        );
        let u = SourceUrl::parse("sftp://u@[::1]:2222/in").unwrap();
        assert_eq!((u.host.as_str(), u.port), ("::1", 2222));
        assert!(u.is_loopback());
        assert_eq!(u.to_string(), "sftp://u@[::1]:2222/in");
    }

    #[test]
    fn refuses_what_is_not_a_source() {
        for bad in [
            "http://u@h/x",
            "sftp://h/x",
            "sftp://u:secret@h/x",
            "sftp://u@:22/x",
            "sftp://u@h:99999/x",
            "sftp://u@h:0/x",
            "imaps://u@h",
            "imaps://u@h/",
            "sftp://u@h/a b",
            "sftp://u@h/%zz",
            "ftp://u@h/a%0d%0aDELE%20x",
            "nothing",
        ] {
            assert!(SourceUrl::parse(bad).is_err(), "{bad}");
        }
        let e = SourceUrl::parse("sftp://u:pw@h/x").unwrap_err();
        assert!(e.contains("BILLRUN_SOURCE_PASSWORD_"), "{e}");
    }

    #[test]
    fn password_variable_names() {
        assert_eq!(
            password_var("north-tel"),
            "BILLRUN_SOURCE_PASSWORD_NORTH_TEL"
        );
        assert_eq!(password_var("Acme2"), "BILLRUN_SOURCE_PASSWORD_ACME2");
    }

    #[test]
    fn patterns_select_names_and_skip_partial_uploads() {
        let p = NamePattern::new(Some("cdr-*.csv")).unwrap();
        assert!(p.takes("cdr-2026-11.csv"));
        assert!(!p.takes("cdr-2026-11.txt"));
        assert!(!p.takes("readme.csv"));
        let all = NamePattern::new(None).unwrap();
        assert!(all.takes("Master.csv"));
        for n in [
            ".hidden",
            "x.tmp",
            "x.csv.part",
            "",
            "a/b",
            "cdr\u{1b}[31m.csv",
            "cdr\n.csv",
        ] {
            assert!(!all.takes(n), "{n}");
        }
        assert!(NamePattern::new(Some("cdr-[.csv")).is_err());
    }
}
