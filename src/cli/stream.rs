//! Listings printed row by row as they are read (bounded memory whatever
//! their length), in exactly the format of the whole-document output:
//! [`Table`] draws the table `Ctx::table` + `print_table` would draw
//! (comfy-table's `UTF8_FULL_CONDENSED`, left-aligned plain cells, widths
//! from a first pass over the rows), and [`Json`] writes the pretty JSON
//! `print_json` would write, one array element at a time.

use serde::Serialize;
use unicode_width::UnicodeWidthStr;

/// The display width of a cell: its widest line (as comfy-table measures).
fn cell_width(s: &str) -> usize {
    s.split('\n').map(UnicodeWidthStr::width).max().unwrap_or(0)
}

/// Column widths, measured over the header and every row (first pass).
#[derive(Debug, Clone)]
pub struct Widths(Vec<usize>);

impl Widths {
    pub fn of(header: &[&str]) -> Widths {
        Widths(header.iter().map(|h| cell_width(h)).collect())
    }

    /// Widen the columns to fit `cells`.
    pub fn fit(&mut self, cells: &[String]) {
        for (w, c) in self.0.iter_mut().zip(cells) {
            *w = (*w).max(cell_width(c));
        }
    }
}

/// A table printed row by row with known column widths; the caller ends
/// it with [`Table::finish`]. Cells must be plain text (no colour).
pub struct Table {
    widths: Vec<usize>,
}

impl Table {
    /// Print the top border and the header.
    pub fn start(header: &[&str], widths: &Widths) -> Table {
        let t = Table {
            widths: widths.0.clone(),
        };
        crate::out!("{}", t.head(header));
        t
    }

    /// Print one row.
    pub fn row(&self, cells: &[String]) {
        crate::out!("{}", self.cells(cells));
    }

    /// Print the bottom border.
    pub fn finish(self) {
        crate::out!("{}", self.foot());
    }

    /// The top border and the header, each line ending in a newline.
    fn head(&self, header: &[&str]) -> String {
        let header: Vec<String> = header.iter().map(|h| h.to_string()).collect();
        format!(
            "{}\n{}{}\n",
            self.rule('┌', '┬', '┐'),
            self.cells(&header),
            self.rule_with('╞', '═', '╪', '╡')
        )
    }

    fn foot(&self) -> String {
        format!("{}\n", self.rule('└', '┴', '┘'))
    }

    fn rule(&self, left: char, mid: char, right: char) -> String {
        self.rule_with(left, '─', mid, right)
    }

    fn rule_with(&self, left: char, line: char, mid: char, right: char) -> String {
        let mut s = String::new();
        s.push(left);
        for (i, w) in self.widths.iter().enumerate() {
            if i > 0 {
                s.push(mid);
            }
            s.extend(std::iter::repeat_n(line, w + 2));
        }
        s.push(right);
        s
    }

    fn cells(&self, cells: &[String]) -> String {
        let mut out = String::new();
        let lines: Vec<Vec<&str>> = cells.iter().map(|c| c.split('\n').collect()).collect();
        let height = lines.iter().map(Vec::len).max().unwrap_or(1);
        for l in 0..height {
            let mut s = String::from("│");
            for (i, w) in self.widths.iter().enumerate() {
                if i > 0 {
                    s.push('┆');
                }
                let text = lines.get(i).and_then(|c| c.get(l)).copied().unwrap_or("");
                s.push(' ');
                s.push_str(text);
                s.extend(std::iter::repeat_n(' ', w.saturating_sub(text.width()) + 1));
            }
            s.push('│');
            out.push_str(&s);
            out.push('\n');
        }
        out
    }
}

/// Pretty JSON written piece by piece, byte for byte as `print_json` of
/// the whole value (serde_json's pretty printer, two-space indent).
pub struct Json {
    /// Per open container: whether it has an element yet.
    open: Vec<bool>,
    /// Tests: collect the text instead of printing it.
    buf: Option<String>,
}

impl Json {
    fn emit(&mut self, s: &str) {
        match &mut self.buf {
            Some(b) => b.push_str(s),
            None => crate::out!("{s}"),
        }
    }

    fn indent(&self) -> String {
        "  ".repeat(self.open.len())
    }

    /// Begin the document with an object (`{`).
    pub fn object() -> Json {
        Json::begin('{', None)
    }

    /// Begin the document with an array (`[`).
    pub fn array() -> Json {
        Json::begin('[', None)
    }

    fn begin(c: char, buf: Option<String>) -> Json {
        let mut j = Json {
            open: vec![false],
            buf,
        };
        j.emit(&c.to_string());
        j
    }

    /// Before the next element of the innermost container.
    fn next(&mut self) {
        let first = self.open.last_mut().map(|f| !std::mem::replace(f, true));
        let sep = if first == Some(true) { "" } else { "," };
        let s = format!("{sep}\n{}", self.indent());
        self.emit(&s);
    }

    fn value<T: Serialize + ?Sized>(&mut self, v: &T) -> anyhow::Result<()> {
        let text = serde_json::to_string_pretty(v)?;
        let pad = self.indent();
        let mut out = String::with_capacity(text.len() + 64);
        for (i, l) in text.split('\n').enumerate() {
            if i > 0 {
                out.push('\n');
                out.push_str(&pad);
            }
            out.push_str(l);
        }
        self.emit(&out);
        Ok(())
    }

    /// A field of the current object.
    pub fn field<T: Serialize + ?Sized>(&mut self, key: &str, v: &T) -> anyhow::Result<()> {
        self.next();
        let k = format!("{}: ", serde_json::to_string(key)?);
        self.emit(&k);
        self.value(v)
    }

    /// Open an array as a field of the current object.
    pub fn begin_array(&mut self, key: &str) -> anyhow::Result<()> {
        self.next();
        let k = format!("{}: [", serde_json::to_string(key)?);
        self.emit(&k);
        self.open.push(false);
        Ok(())
    }

    /// An element of the current array.
    pub fn item<T: Serialize + ?Sized>(&mut self, v: &T) -> anyhow::Result<()> {
        self.next();
        self.value(v)
    }

    /// Close the current array.
    pub fn end_array(&mut self) {
        self.close(']');
    }

    fn close(&mut self, c: char) {
        let s = if self.open.pop() == Some(true) {
            format!("\n{}{c}", self.indent())
        } else {
            c.to_string()
        };
        self.emit(&s);
    }

    /// Close the document's object (`}`) and end the line.
    pub fn end_object(mut self) -> Option<String> {
        self.close('}');
        self.emit("\n");
        self.buf
    }

    /// Close the document's array (`]`) and end the line.
    pub fn end_array_document(mut self) -> Option<String> {
        self.close(']');
        self.emit("\n");
        self.buf
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn comfy(header: &[&str], rows: &[Vec<String>]) -> String {
        let mut t = comfy_table::Table::new();
        t.load_style(comfy_table::presets::UTF8_FULL_CONDENSED);
        t.force_no_tty();
        t.set_header(header.iter().map(|h| h.to_string()).collect::<Vec<_>>());
        for r in rows {
            t.add_row(r.clone());
        }
        format!("{t}\n")
    }

    fn streamed(header: &[&str], rows: &[Vec<String>]) -> String {
        let mut w = Widths::of(header);
        for r in rows {
            w.fit(r);
        }
        let t = Table {
            widths: w.0.clone(),
        };
        let mut s = t.head(header);
        for r in rows {
            s.push_str(&t.cells(r));
        }
        s.push_str(&t.foot());
        s
    }

    #[test]
    fn the_streamed_table_is_the_whole_table() {
        let header = ["id", "kind", "detail", "file:line"];
        let rows: Vec<Vec<String>> = vec![
            vec![
                "1".into(),
                "no_rate".into(),
                "no rate — for 44 …".into(),
                "a.csv:2".into(),
            ],
            vec![
                "22".into(),
                "".into(),
                "Café 東京 wide".into(),
                "?:0".into(),
            ],
            vec![
                "333".into(),
                "malformed".into(),
                "two\nlines here".into(),
                "b.csv:10".into(),
            ],
        ];
        assert_eq!(streamed(&header, &rows), comfy(&header, &rows));
        assert_eq!(streamed(&header, &[]), comfy(&header, &[]));
        let long = [vec!["x".repeat(300), String::new(), "y".into(), "z".into()]];
        assert_eq!(streamed(&header, &long), comfy(&header, &long));
    }

    fn json_streamed(summary: &serde_json::Value, items: &[serde_json::Value]) -> String {
        let mut j = Json::begin('{', Some(String::new()));
        j.field("summary", summary).unwrap();
        j.begin_array("errors").unwrap();
        for i in items {
            j.item(i).unwrap();
        }
        j.end_array();
        j.field("suggestions", &json!([])).unwrap();
        j.end_object().unwrap()
    }

    #[test]
    fn the_streamed_json_is_the_whole_document() {
        let summary = json!([{"kind": "no_rate", "open": 2, "x": {"a": [1, 2], "b": {}}}]);
        let items = vec![
            json!({"id": 1, "detail": "line\nbreak \"q\"", "n": null}),
            json!({"id": 2, "list": [], "obj": {"k": [{"z": 1}]}}),
        ];
        for items in [&items[..], &[]] {
            let whole = json!({"summary": summary, "errors": items, "suggestions": []});
            let want = format!("{}\n", serde_json::to_string_pretty(&whole).unwrap());
            assert_eq!(json_streamed(&summary, items), want);
        }
        let mut a = Json::begin('[', Some(String::new()));
        for i in &items {
            a.item(i).unwrap();
        }
        let want = format!("{}\n", serde_json::to_string_pretty(&items).unwrap());
        assert_eq!(a.end_array_document().unwrap(), want);
        let a = Json::begin('[', Some(String::new()));
        assert_eq!(a.end_array_document().unwrap(), "[]\n");
    }
}
