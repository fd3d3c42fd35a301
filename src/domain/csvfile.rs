//! Reading a CSV file with a header row, columns by name, and collecting every
//! problem (`file:line:column: column 'name': reason`) instead of stopping at
//! the first (the beancount/rust-analyzer habit: validation returns a list).

use std::collections::HashMap;
use std::fmt;

/// One problem in an input file.
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    pub file: String,
    pub line: u64,
    /// 1-based column number, when a column is at fault.
    pub col: Option<usize>,
    pub column: Option<String>,
    pub reason: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.col, &self.column) {
            (Some(c), Some(name)) => write!(
                f,
                "{}:{}:{}: {}: {}",
                self.file, self.line, c, name, self.reason
            ),
            (None, Some(name)) => {
                write!(f, "{}:{}: {}: {}", self.file, self.line, name, self.reason)
            }
            _ => write!(f, "{}:{}: {}", self.file, self.line, self.reason),
        }
    }
}

/// Render a list of problems as one error message, with a closing hint.
pub fn report(problems: &[Problem], what_to_do: &str) -> String {
    let mut s = String::new();
    for p in problems {
        s.push_str(&p.to_string());
        s.push('\n');
    }
    s.push_str(&format!(
        "{} problem{} found; nothing was changed. {what_to_do}",
        problems.len(),
        if problems.len() == 1 { "" } else { "s" }
    ));
    s
}

/// Characters no imported text may hold: C0 and C1 control characters
/// (line feed, carriage return and tab among them), DEL, and the Unicode
/// line and paragraph separators. A name with a newline would break an email
/// header, a CSV row or a fixed-width bank record.
pub fn is_forbidden_control(c: char) -> bool {
    c.is_control() || c == '\u{2028}' || c == '\u{2029}'
}

/// `U+000A (line feed)` and the like, for error messages.
pub fn describe_control(c: char) -> String {
    let name = match c {
        '\n' => " (line feed)",
        '\r' => " (carriage return)",
        '\t' => " (tab)",
        '\u{7f}' => " (delete)",
        '\u{2028}' => " (line separator)",
        '\u{2029}' => " (paragraph separator)",
        _ => "",
    };
    format!("U+{:04X}{name}", c as u32)
}

/// A text typed on the command line (a charge's description, a fee code, a
/// payment reference) under the import rule: no control characters.
pub fn control_free(s: &str) -> Result<(), String> {
    match s.chars().find(|&c| is_forbidden_control(c)) {
        Some(c) => Err(format!(
            "contains the control character {}: remove it (texts reach email headers, PDFs, CSVs and bank files)",
            describe_control(c)
        )),
        None => Ok(()),
    }
}

/// A text cell made safe for spreadsheets (OWASP "CSV injection"): a cell
/// that begins with `=`, `+`, `-`, `@`, tab or carriage return would be read
/// by Excel, LibreOffice or Google Sheets as a formula, so it gets a leading
/// single quote. Genuine numbers (`-15.00`, `+3`) are left alone. Every CSV
/// billrun writes passes its text cells through this.
pub fn safe_cell(cell: &str) -> std::borrow::Cow<'_, str> {
    let risky = matches!(
        cell.chars().next(),
        Some('=' | '+' | '-' | '@' | '\t' | '\r')
    );
    if risky && crate::domain::money::parse(cell).is_err() {
        std::borrow::Cow::Owned(format!("'{cell}"))
    } else {
        std::borrow::Cow::Borrowed(cell)
    }
}

/// A parsed CSV file: header and rows with their line numbers.
pub struct Table {
    pub file: String,
    index: HashMap<String, usize>,
    pub rows: Vec<(u64, Vec<String>)>,
}

impl Table {
    /// Read `bytes` as CSV with a header. `required` columns must be present,
    /// and every column must be in `known` (a misspelt optional column would
    /// otherwise be silently ignored).
    pub fn read(
        file: &str,
        bytes: &[u8],
        required: &[&str],
        known: &[&str],
    ) -> Result<Table, Vec<Problem>> {
        let prob = |line, reason: String| Problem {
            file: file.to_string(),
            line,
            col: None,
            column: None,
            reason,
        };
        if bytes.contains(&0) {
            return Err(vec![prob(
                1,
                "binary data (NUL bytes): this is not a CSV text file".into(),
            )]);
        }
        if let Err(e) = std::str::from_utf8(bytes) {
            let line = bytes[..e.valid_up_to()]
                .iter()
                .filter(|&&b| b == b'\n')
                .count() as u64
                + 1;
            return Err(vec![prob(
                line,
                "not valid UTF-8: save the file as UTF-8 and import it again".into(),
            )]);
        }
        let text = std::str::from_utf8(bytes).unwrap_or_default();
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let mut rdr = csv::ReaderBuilder::new()
            .has_headers(true)
            .flexible(true)
            .from_reader(text.as_bytes());
        let header: Vec<String> = match rdr.headers() {
            Ok(h) => h.iter().map(|s| s.trim().to_ascii_lowercase()).collect(),
            Err(e) => return Err(vec![prob(1, format!("cannot read the header row: {e}"))]),
        };
        let mut problems = Vec::new();
        if header.iter().all(|h| h.is_empty()) {
            return Err(vec![prob(1, "empty file: expected a header row".into())]);
        }
        let mut index = HashMap::new();
        for (i, h) in header.iter().enumerate() {
            if !known.contains(&h.as_str()) {
                problems.push(Problem {
                    file: file.into(),
                    line: 1,
                    col: Some(i + 1),
                    column: Some(h.clone()),
                    reason: format!("unknown column (expected columns: {})", known.join(", ")),
                });
            } else if index.insert(h.clone(), i).is_some() {
                problems.push(Problem {
                    file: file.into(),
                    line: 1,
                    col: Some(i + 1),
                    column: Some(h.clone()),
                    reason: "column appears twice".into(),
                });
            }
        }
        for r in required {
            if !index.contains_key(*r) {
                problems.push(Problem {
                    file: file.into(),
                    line: 1,
                    col: None,
                    column: Some((*r).into()),
                    reason: "required column is missing from the header".into(),
                });
            }
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        let mut rows = Vec::new();
        // Physical line numbers from byte offsets (csv's own count skips blank lines).
        let newlines: Vec<usize> = text
            .bytes()
            .enumerate()
            .filter(|(_, b)| *b == b'\n')
            .map(|(i, _)| i)
            .collect();
        // csv places a record after blank lines at the first blank line: skip them.
        let tb = text.as_bytes();
        let line_of = |byte: u64| {
            let mut b = byte as usize;
            while b < tb.len() && (tb[b] == b'\n' || tb[b] == b'\r') {
                b += 1;
            }
            newlines.partition_point(|&nl| nl < b) as u64 + 1
        };
        for rec in rdr.records() {
            match rec {
                Ok(r) => {
                    let line = r.position().map(|p| line_of(p.byte())).unwrap_or(0);
                    if r.iter().all(|f| f.trim().is_empty()) {
                        continue;
                    }
                    if r.len() != header.len() {
                        problems.push(prob(
                            line,
                            format!("{} fields, but the header has {}", r.len(), header.len()),
                        ));
                        continue;
                    }
                    let mut clean = true;
                    for (i, f) in r.iter().enumerate() {
                        if let Some(c) = f.chars().find(|&c| is_forbidden_control(c)) {
                            clean = false;
                            problems.push(Problem {
                                file: file.into(),
                                line,
                                col: Some(i + 1),
                                column: Some(header[i].clone()),
                                reason: format!(
                                    "contains the control character {}: remove it (names and texts reach email headers, PDFs, CSVs and bank files)",
                                    describe_control(c)
                                ),
                            });
                        }
                    }
                    if clean {
                        rows.push((line, r.iter().map(|s| s.trim().to_string()).collect()));
                    }
                }
                Err(e) => {
                    let line = e.position().map(|p| line_of(p.byte())).unwrap_or(0);
                    problems.push(prob(line, format!("cannot read this row: {e}")));
                }
            }
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        Ok(Table {
            file: file.into(),
            index,
            rows,
        })
    }

    /// A cursor over one row that records problems as fields are read.
    pub fn row<'a>(&'a self, i: usize, problems: &'a mut Vec<Problem>) -> Row<'a> {
        let (line, fields) = &self.rows[i];
        Row {
            table: self,
            line: *line,
            fields,
            problems,
        }
    }
}

pub struct Row<'a> {
    table: &'a Table,
    pub line: u64,
    fields: &'a [String],
    problems: &'a mut Vec<Problem>,
}

impl Row<'_> {
    /// The trimmed value, None when the column is absent or empty.
    pub fn opt(&self, col: &str) -> Option<String> {
        self.table
            .index
            .get(col)
            .map(|&i| self.fields[i].clone())
            .filter(|s| !s.is_empty())
    }

    /// Record a problem with `col`.
    pub fn problem(&mut self, col: &str, reason: impl Into<String>) {
        let c = self.table.index.get(col).map(|i| i + 1);
        self.problems.push(Problem {
            file: self.table.file.clone(),
            line: self.line,
            col: c,
            column: Some(col.to_string()),
            reason: reason.into(),
        });
    }

    /// A required value: records "required" and returns "" when empty.
    pub fn req(&mut self, col: &str) -> String {
        match self.opt(col) {
            Some(v) => v,
            None => {
                self.problem(col, "required value is empty");
                String::new()
            }
        }
    }

    /// Parse an optional value with `f`; a failure is recorded.
    pub fn parse_opt<T>(
        &mut self,
        col: &str,
        f: impl FnOnce(&str) -> Result<T, String>,
    ) -> Option<T> {
        let v = self.opt(col)?;
        match f(&v) {
            Ok(t) => Some(t),
            Err(e) => {
                self.problem(col, e);
                None
            }
        }
    }

    /// Parse a required value with `f`.
    pub fn parse_req<T>(
        &mut self,
        col: &str,
        f: impl FnOnce(&str) -> Result<T, String>,
    ) -> Option<T> {
        if self.opt(col).is_none() {
            self.problem(col, "required value is empty");
            return None;
        }
        self.parse_opt(col, f)
    }
}

/// Parse a `YYYY-MM-DD` date.
pub fn date(s: &str) -> Result<chrono::NaiveDate, String> {
    chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .map_err(|_| format!("'{s}' is not a date YYYY-MM-DD"))
}

/// Parse one of a fixed set of values.
pub fn one_of<'a>(opts: &'a [&'a str]) -> impl Fn(&str) -> Result<String, String> + 'a {
    move |s: &str| {
        if opts.contains(&s) {
            Ok(s.to_string())
        } else {
            Err(format!("'{s}' is not one of {}", opts.join(", ")))
        }
    }
}

/// Parse `true|false`.
pub fn boolean(s: &str) -> Result<bool, String> {
    match s.to_ascii_lowercase().as_str() {
        "true" | "yes" | "1" => Ok(true),
        "false" | "no" | "0" => Ok(false),
        _ => Err(format!("'{s}' is not true or false")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_missing_and_unknown_columns_at_once() {
        let e = Table::read("x.csv", b"a,zz\n1,2\n", &["a", "b"], &["a", "b"])
            .err()
            .unwrap();
        assert_eq!(e.len(), 2);
        assert_eq!(
            e[0].to_string(),
            "x.csv:1:2: zz: unknown column (expected columns: a, b)"
        );
        assert!(e[1].to_string().starts_with("x.csv:1: b: required column"));
    }

    #[test]
    fn refuses_control_characters_with_line_and_column() {
        let e = Table::read(
            "c.csv",
            b"account,name\nA1,\"Evil\r\nBcc: x@y\"\nA2,ok\nA3,tab\there\n",
            &["account"],
            &["account", "name"],
        )
        .err()
        .unwrap();
        assert_eq!(e.len(), 2, "{e:?}");
        assert_eq!(
            e[0].to_string(),
            "c.csv:2:2: name: contains the control character U+000D (carriage return): remove it (names and texts reach email headers, PDFs, CSVs and bank files)"
        );
        assert_eq!((e[1].line, e[1].col), (5, Some(2)));
        assert!(e[1].reason.contains("U+0009 (tab)"));
        assert!(is_forbidden_control('\u{2028}') && is_forbidden_control('\u{85}'));
        assert!(!is_forbidden_control('é') && !is_forbidden_control(' '));
    }

    #[test]
    fn safe_cell_neutralises_formulas_but_not_numbers() {
        for (cell, want) in [
            ("=HYPERLINK(\"http://x\")", "'=HYPERLINK(\"http://x\")"),
            ("+441234", "+441234"),
            ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"),
            ("-15.00", "-15.00"),
            ("-2+3", "'-2+3"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("\tx", "'\tx"),
            ("\rx", "'\rx"),
            ("Harbour Cafe", "Harbour Cafe"),
            ("", ""),
        ] {
            assert_eq!(safe_cell(cell), want, "{cell:?}");
        }
    }

    #[test]
    fn refuses_binary_and_bad_utf8_with_line() {
        let e = Table::read("x.csv", b"a\n\x00\x01", &["a"], &["a"])
            .err()
            .unwrap();
        assert!(e[0].reason.contains("binary"));
        let e = Table::read("x.csv", b"a\nok\n\xff\xfe\n", &["a"], &["a"])
            .err()
            .unwrap();
        assert_eq!(e[0].line, 3);
        assert!(e[0].reason.contains("UTF-8"));
    }

    #[test]
    fn rows_carry_line_numbers_and_skip_blank_lines() {
        let t = Table::read(
            "x.csv",
            "\u{feff}A,b\n1,2\n\n3,4\n".as_bytes(),
            &["a"],
            &["a", "b"],
        )
        .ok()
        .unwrap();
        assert_eq!(t.rows.len(), 2);
        assert_eq!(t.rows[1].0, 4);
        let mut probs = Vec::new();
        let mut r = t.row(0, &mut probs);
        assert_eq!(r.req("a"), "1");
        assert_eq!(
            r.parse_opt("b", |s| s.parse::<u8>().map_err(|e| e.to_string())),
            Some(2)
        );
        assert!(probs.is_empty());
    }

    #[test]
    fn wrong_field_count_is_a_problem() {
        let e = Table::read("x.csv", b"a,b\n1\n", &["a"], &["a", "b"])
            .err()
            .unwrap();
        assert_eq!(e[0].line, 2);
    }
}
