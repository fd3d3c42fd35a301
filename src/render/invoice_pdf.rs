//! The invoice PDF: one A4 document per invoice, as many pages as it needs.
//!
//! Page 1 carries the provider header, the customer's address (placed for a
//! DL window envelope), the invoice number and dates, the account summary box,
//! the payment text and the invoice message, then the charges grouped by
//! service. The itemised calls follow and flow over as many pages as needed,
//! the table header repeated on each — or, for an invoice whose calls are in
//! a file beside it ([`render_invoice_summarised`]), a usage summary and a
//! note naming the file. Every page ends with "Page N of M".
//!
//! Coordinates are PDF points (1/72 inch) from the bottom-left corner; `f32`
//! is fine for positions. Amounts stay `Decimal` until formatted.

use std::sync::OnceLock;

use chrono::{NaiveDate, NaiveDateTime};
use printpdf::ParsedFont;
use rust_decimal::Decimal;

use super::PdfError;
use super::pdf_out::{self, DocInfo, FontSets, PageOp};
use crate::domain::money;

mod credit;
pub use credit::{CreditNoteDoc, render_credit_note};

/// DejaVu Sans (Bitstream Vera licence, see `assets/fonts/LICENSE-DejaVu.txt`).
const REGULAR_TTF: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");
/// DejaVu Sans Bold.
const BOLD_TTF: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans-Bold.ttf");

// ---------------------------------------------------------------------------
// Input values
// ---------------------------------------------------------------------------

/// The provider printed at the top of every invoice (settings `company.*`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompanyHeader {
    /// Trading name, e.g. "Acme Telecom Ltd".
    pub name: String,
    /// Postal address, one element per printed line.
    pub address: Vec<String>,
    /// Contact email address.
    pub email: String,
    /// Tax registration number (VAT number, ABN, ...); empty prints nothing.
    pub tax_id: String,
}

/// Who the invoice is addressed to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomerAddress {
    /// Account number.
    pub account: String,
    /// Customer (addressee) name.
    pub name: String,
    /// Address lines, without the postcode.
    pub address: Vec<String>,
    /// Postcode, printed on its own last line (may be empty).
    pub postcode: String,
}

/// The account summary box. All amounts in the invoice currency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvoiceSummary {
    /// Previous invoice's amount due.
    pub opening_balance: Decimal,
    /// Payments received since, as a positive amount; printed as a deduction.
    pub payments: Decimal,
    /// Credit notes brought forward, as a positive amount; printed as a
    /// deduction, only when not zero.
    pub credits: Decimal,
    /// New charges before tax.
    pub charges_ex_tax: Decimal,
    /// Tax on the new charges.
    pub tax: Decimal,
    /// Name of the tax, e.g. "VAT" or "GST".
    pub tax_name: String,
    /// Printed rate, e.g. "20%".
    pub tax_rate_label: String,
    /// New charges including tax.
    pub total_charges: Decimal,
    /// Closing balance: what the customer owes now.
    pub amount_due: Decimal,
}

/// One invoice line; lines are printed grouped by `service` in input order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChargeLine {
    /// Service identifier (phone number, broadband ID) the line belongs to.
    pub service: String,
    /// `usage`, `fixed`, `one_off`, `wholesale` or `adjustment` (others printed as given).
    pub category: String,
    /// What the line is for.
    pub description: String,
    /// Quantity as printed ("1", "42 calls", "1h 12m").
    pub quantity: String,
    /// Amount before tax.
    pub amount: Decimal,
}

/// One itemised call (or other usage record); grouped by `service`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallLine {
    /// Service the call was made from.
    pub service: String,
    /// Start date and time (local).
    pub start: NaiveDateTime,
    /// Number called.
    pub destination: String,
    /// Destination description ("UK mobile", "France").
    pub description: String,
    /// Duration ("3:25") or quantity ("1 SMS", "15 MB") as printed.
    pub duration_or_quantity: String,
    /// Amount charged before tax.
    pub amount: Decimal,
}

/// One line of the usage summary printed instead of the itemised calls when
/// an invoice has too many (`domain::itemised`): the calls of one service,
/// call type and destination description.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SummaryLine {
    /// Service the calls were made from.
    pub service: String,
    /// What they are: "Calls: UK mobile", "Messages", "Data".
    pub description: String,
    /// How many calls (messages, sessions).
    pub count: u64,
    /// Quantity as printed ("42 calls, 1:12:05", "40 messages").
    pub quantity: String,
    /// Amount before tax.
    pub amount: Decimal,
}

/// One inclusive allowance of a service (or pool), as printed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowanceLine {
    /// "07700900001" or "07700900001, 07700900002 (pooled)".
    pub holder: String,
    /// "UK minutes (minutes)".
    pub name: String,
    pub included: String,
    pub used: String,
    pub remaining: String,
}

/// The usage summary and the note naming the file with the itemised calls.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageSummary {
    /// Grouped by `service` when printed.
    pub lines: Vec<SummaryLine>,
    /// "Itemised calls: see INV000123-calls.csv (…)".
    pub note: String,
}

/// Everything printed on one invoice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvoiceDoc {
    /// The provider.
    pub company: CompanyHeader,
    /// Currency symbol printed before amounts ("£", "$", "€").
    pub currency_symbol: String,
    /// Invoice number, e.g. "INV-001234".
    pub number: String,
    /// Invoice date.
    pub invoice_date: NaiveDate,
    /// Payment due date.
    pub due_date: NaiveDate,
    /// The addressee.
    pub customer: CustomerAddress,
    /// Account summary box.
    pub summary: InvoiceSummary,
    /// Charges, grouped by service when printed.
    pub lines: Vec<ChargeLine>,
    /// Itemised calls, in the order to print (usually by service, then time).
    pub calls: Vec<CallLine>,
    /// Inclusive allowances per service (or pool): printed after the charges.
    pub allowances: Vec<AllowanceLine>,
    /// How the amount due will be paid, e.g. "Amount due will be collected by
    /// Direct Debit on 15 Dec 2026".
    pub payment_text: String,
    /// The run's / customer's message, if any.
    pub message: Option<String>,
}

// ---------------------------------------------------------------------------
// Fonts
// ---------------------------------------------------------------------------

/// One parsed font face plus a width table for fast text measuring.
struct Face {
    parsed: ParsedFont,
    /// Advance widths in 1/1000 em for code points below `WIDTH_TABLE_LEN`.
    widths: Vec<u16>,
}

/// Code points with a precomputed width (Latin, punctuation, `€` at U+20AC).
const WIDTH_TABLE_LEN: usize = 0x2200;

impl Face {
    fn parse(bytes: &[u8], name: &'static str) -> Result<Face, PdfError> {
        let parsed =
            ParsedFont::from_bytes(bytes, 0, &mut Vec::new()).ok_or(PdfError::Font(name))?;
        let upm = f32::from(parsed.font_metrics.units_per_em.max(1));
        let widths = (0..WIDTH_TABLE_LEN)
            .map(|cp| {
                let gid = u32::try_from(cp)
                    .ok()
                    .and_then(|cp| parsed.lookup_glyph_index(cp))
                    .unwrap_or(0);
                let w = f32::from(parsed.get_horizontal_advance(gid)) * 1000.0 / upm;
                w.round().clamp(0.0, f32::from(u16::MAX)) as u16
            })
            .collect();
        Ok(Face { parsed, widths })
    }

    /// Advance width of one character in 1/1000 em.
    fn char_width(&self, c: char) -> f32 {
        let cp = c as usize;
        if let Some(w) = self.widths.get(cp) {
            return f32::from(*w);
        }
        let upm = f32::from(self.parsed.font_metrics.units_per_em.max(1));
        let gid = self.parsed.lookup_glyph_index(c as u32).unwrap_or(0);
        f32::from(self.parsed.get_horizontal_advance(gid)) * 1000.0 / upm
    }

    /// Width of `s` at `size` points.
    fn width(&self, s: &str, size: f32) -> f32 {
        s.chars().map(|c| self.char_width(c)).sum::<f32>() * size / 1000.0
    }
}

/// The fonts invoices are set in (DejaVu Sans regular and bold), parsed once.
///
/// Parsing costs a few milliseconds, so production parses once and passes the
/// same `Fonts` to every [`render_invoice`] call; [`Fonts::shared`] keeps one
/// per process. `Fonts` is `Send + Sync`: render on several threads at once.
pub struct Fonts {
    regular: Face,
    bold: Face,
    /// The embedded font programs, subset and compressed once.
    sets: FontSets,
}

impl std::fmt::Debug for Fonts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Fonts(DejaVu Sans, DejaVu Sans Bold)")
    }
}

impl Fonts {
    /// Parse the embedded fonts. Prefer [`Fonts::shared`].
    pub fn load() -> Result<Fonts, PdfError> {
        let regular = Face::parse(REGULAR_TTF, "DejaVuSans.ttf")?;
        let bold = Face::parse(BOLD_TTF, "DejaVuSans-Bold.ttf")?;
        let sets = FontSets::build([&regular.parsed, &bold.parsed])?;
        Ok(Fonts {
            regular,
            bold,
            sets,
        })
    }

    /// The process-wide fonts, parsed on first use.
    pub fn shared() -> Result<&'static Fonts, PdfError> {
        static FONTS: OnceLock<Result<Fonts, &'static str>> = OnceLock::new();
        FONTS
            .get_or_init(|| {
                Fonts::load().map_err(|e| match e {
                    PdfError::Font(name) | PdfError::Subset(name, _) => name,
                    _ => "DejaVu Sans",
                })
            })
            .as_ref()
            .map_err(|name| PdfError::Font(name))
    }

    fn face(&self, bold: bool) -> &Face {
        if bold { &self.bold } else { &self.regular }
    }
}

// ---------------------------------------------------------------------------
// Layout constants (points)
// ---------------------------------------------------------------------------

const PAGE_W: f32 = 595.28;
const LEFT: f32 = 48.0;
const RIGHT: f32 = PAGE_W - 48.0;
/// Lowest baseline for body text; the footer sits below it.
const BOTTOM: f32 = 72.0;
/// First baseline of body text on continuation pages.
const CONT_TOP: f32 = 760.0;

const BLACK: [f32; 3] = [0.10, 0.10, 0.12];
const GREY: [f32; 3] = [0.40, 0.42, 0.45];
const ACCENT: [f32; 3] = [0.09, 0.27, 0.47];
const WHITE: [f32; 3] = [1.0, 1.0, 1.0];
const SHADE: [f32; 3] = [0.93, 0.95, 0.97];
const RULE: [f32; 3] = [0.78, 0.80, 0.83];

/// Font, size and colour of a piece of text.
#[derive(Clone, Copy)]
struct Style {
    size: f32,
    bold: bool,
    color: [f32; 3],
}

const fn style(size: f32, bold: bool, color: [f32; 3]) -> Style {
    Style { size, bold, color }
}

const BODY: Style = style(9.0, false, BLACK);
const BODY_BOLD: Style = style(9.0, true, BLACK);
const SMALL: Style = style(8.0, false, BLACK);
const SMALL_GREY: Style = style(8.0, false, GREY);
const SMALL_BOLD: Style = style(8.0, true, BLACK);
const TABLE_HEAD: Style = style(7.5, true, GREY);
const HEADING: Style = style(11.0, true, ACCENT);

/// Itemised-call column positions: left edges, or right edges for `*_R`.
const CALL_DATE: f32 = LEFT + 4.0;
const CALL_TIME: f32 = LEFT + 62.0;
const CALL_NUMBER: f32 = LEFT + 104.0;
const CALL_DESC: f32 = LEFT + 204.0;
const CALL_DURATION_R: f32 = RIGHT - 70.0;
const CALL_AMOUNT_R: f32 = RIGHT - 4.0;
const CALL_ROW: f32 = 11.0;

/// Charge table columns.
const CHG_DESC: f32 = LEFT + 4.0;
const CHG_TYPE: f32 = LEFT + 270.0;
const CHG_QTY_R: f32 = RIGHT - 90.0;
const CHG_AMOUNT_R: f32 = RIGHT - 4.0;
const CHG_ROW: f32 = 13.0;

// ---------------------------------------------------------------------------
// Page writer
// ---------------------------------------------------------------------------

/// Collects drawing operations page by page, with a cursor `y` for flowing content.
struct Writer<'a> {
    fonts: &'a Fonts,
    doc: &'a InvoiceDoc,
    pages: Vec<Vec<PageOp>>,
    ops: Vec<PageOp>,
    /// Baseline of the next line of flowing content.
    y: f32,
    /// Fill colour in effect, to skip redundant colour operators.
    fill: Option<[f32; 3]>,
}

impl<'a> Writer<'a> {
    fn set_fill(&mut self, c: [f32; 3]) {
        if self.fill != Some(c) {
            self.ops.push(PageOp::Fill(c));
            self.fill = Some(c);
        }
    }

    fn width(&self, s: &str, st: Style) -> f32 {
        self.fonts.face(st.bold).width(s, st.size)
    }

    /// Text with its left edge at `x` and baseline at `y`.
    fn text(&mut self, x: f32, y: f32, st: Style, s: &str) {
        if s.is_empty() {
            return;
        }
        self.set_fill(st.color);
        self.ops.push(PageOp::Text {
            bold: st.bold,
            size: st.size,
            x,
            y,
            text: s.to_owned(),
        });
    }

    /// Text with its right edge at `x`.
    fn text_right(&mut self, x: f32, y: f32, st: Style, s: &str) {
        let w = self.width(s, st);
        self.text(x - w, y, st, s);
    }

    /// Text cut with an ellipsis to fit `max_w`.
    fn text_fit(&mut self, x: f32, y: f32, st: Style, s: &str, max_w: f32) {
        if self.width(s, st) <= max_w {
            self.text(x, y, st, s);
            return;
        }
        let face = self.fonts.face(st.bold);
        let budget = max_w - face.width("…", st.size);
        let mut w = 0.0;
        let mut cut = String::new();
        for c in s.chars() {
            w += face.char_width(c) * st.size / 1000.0;
            if w > budget {
                break;
            }
            cut.push(c);
        }
        cut.truncate(cut.trim_end().len());
        cut.push('…');
        self.text(x, y, st, &cut);
    }

    /// A filled rectangle; `y` is the bottom edge.
    fn rect(&mut self, x: f32, y: f32, w: f32, h: f32, c: [f32; 3]) {
        self.set_fill(c);
        self.ops.push(PageOp::Rect { x, y, w, h });
    }

    /// A horizontal rule.
    fn hline(&mut self, x1: f32, x2: f32, y: f32, thickness: f32, c: [f32; 3]) {
        self.ops.push(PageOp::HLine {
            x1,
            x2,
            y,
            width: thickness,
            color: c,
        });
    }

    /// Word-wrap `s` (honouring its line breaks) to lines at most `max_w` wide.
    fn wrap(&self, s: &str, st: Style, max_w: f32) -> Vec<String> {
        let face = self.fonts.face(st.bold);
        let space = face.width(" ", st.size);
        let mut out = Vec::new();
        for para in s.lines() {
            let mut line = String::new();
            let mut line_w = 0.0;
            for word in para.split_whitespace() {
                let w = face.width(word, st.size);
                if !line.is_empty() && line_w + space + w > max_w {
                    out.push(std::mem::take(&mut line));
                    line_w = 0.0;
                }
                if !line.is_empty() {
                    line.push(' ');
                    line_w += space;
                }
                line.push_str(word);
                line_w += w;
            }
            out.push(line);
        }
        out
    }

    /// Make room for `h` points of content below the cursor, starting a
    /// continuation page if needed. Returns true when a page was started.
    fn need(&mut self, h: f32) -> bool {
        if self.y - h >= BOTTOM {
            return false;
        }
        self.new_page();
        true
    }

    fn new_page(&mut self) {
        let ops = std::mem::take(&mut self.ops);
        self.pages.push(ops);
        self.fill = None;
        // Continuation header: who, which invoice.
        let doc = self.doc;
        self.text(LEFT, 800.0, style(11.0, true, ACCENT), &doc.company.name);
        let right = format!(
            "Invoice {}  ·  Account {}",
            doc.number, doc.customer.account
        );
        self.text_right(RIGHT, 800.0, SMALL_GREY, &right);
        self.hline(LEFT, RIGHT, 790.0, 0.6, RULE);
        self.y = CONT_TOP;
    }

    /// Footer on every page: provider line and "Page N of M".
    fn footers(&mut self) {
        let total = self.pages.len();
        let c = &self.doc.company;
        let mut left = c.name.clone();
        if !c.email.is_empty() {
            left.push_str("  ·  ");
            left.push_str(&c.email);
        }
        if !c.tax_id.is_empty() {
            left.push_str(&format!(
                "  ·  {} no. {}",
                self.doc.summary.tax_name, c.tax_id
            ));
        }
        let pages = std::mem::take(&mut self.pages);
        for (i, ops) in pages.into_iter().enumerate() {
            self.ops = ops;
            self.fill = None;
            self.hline(LEFT, RIGHT, 50.0, 0.5, RULE);
            self.text_fit(LEFT, 38.0, style(7.0, false, GREY), &left, 380.0);
            let label = format!("Page {} of {}", i + 1, total);
            self.text_right(RIGHT, 38.0, style(7.5, false, GREY), &label);
            let ops = std::mem::take(&mut self.ops);
            self.pages.push(ops);
        }
    }
}

// ---------------------------------------------------------------------------
// Formatting
// ---------------------------------------------------------------------------

/// An amount with two decimals and thousands separators: `1,234.50`, `-3.00`.
fn amount(d: Decimal) -> String {
    let s = money::fmt(d);
    let (sign, digits) = match s.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", s.as_str()),
    };
    let (int, frac) = digits.split_once('.').unwrap_or((digits, "00"));
    let mut grouped = String::with_capacity(int.len() + int.len() / 3);
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    format!("{sign}{grouped}.{frac}")
}

/// An amount with the currency symbol: `£1,234.50`, `-£3.00`; zero is
/// `£0.00` whatever its sign (`money::fmt`).
pub(crate) fn money_text(symbol: &str, d: Decimal) -> String {
    let a = amount(d);
    match a.strip_prefix('-') {
        Some(rest) => format!("-{symbol}{rest}"),
        None => format!("{symbol}{a}"),
    }
}

/// Dates as UK invoices print them: `15 Dec 2026`.
fn date_text(d: NaiveDate) -> String {
    d.format("%-d %b %Y").to_string()
}

/// Printed name of a line category.
fn category_text(c: &str) -> &str {
    match c {
        "usage" => "Usage",
        "fixed" => "Recurring",
        "one_off" => "One-off",
        "wholesale" => "Wholesale",
        "adjustment" => "Adjustment",
        other => other,
    }
}

/// Consecutive runs of items with the same service, in input order; a service
/// that appears again later is merged into its first group.
fn group_by_service<'t, T>(
    items: &'t [T],
    service: impl Fn(&T) -> &str,
) -> Vec<(&'t str, Vec<&'t T>)> {
    let mut groups: Vec<(&'t str, Vec<&'t T>)> = Vec::new();
    for item in items {
        let s = service(item);
        match groups.iter_mut().find(|(g, _)| *g == s) {
            Some((_, v)) => v.push(item),
            None => groups.push((s, vec![item])),
        }
    }
    groups
}

// ---------------------------------------------------------------------------
// The invoice
// ---------------------------------------------------------------------------

/// Render one invoice as an A4 PDF.
///
/// The fonts are embedded subset to printable ASCII, `£`, `€` and a little
/// punctuation — built once per process and copied into every file — plus
/// any other character the invoice uses, so the file stays small (~45 KB)
/// whatever it prints. The output is deterministic: the same `doc` gives the
/// same bytes.
pub fn render_invoice(doc: &InvoiceDoc, fonts: &Fonts) -> Result<Vec<u8>, PdfError> {
    render(doc, None, fonts)
}

/// Render one invoice whose calls are in a file beside it: `summary` is
/// printed where the itemised calls would be (and `doc.calls` is ignored).
pub fn render_invoice_summarised(
    doc: &InvoiceDoc,
    summary: &UsageSummary,
    fonts: &Fonts,
) -> Result<Vec<u8>, PdfError> {
    render(doc, Some(summary), fonts)
}

fn render(
    doc: &InvoiceDoc,
    summary: Option<&UsageSummary>,
    fonts: &Fonts,
) -> Result<Vec<u8>, PdfError> {
    let mut w = Writer {
        fonts,
        doc,
        pages: Vec::new(),
        ops: Vec::with_capacity(1024),
        y: 0.0,
        fill: None,
    };
    first_page_top(&mut w);
    charges(&mut w);
    allowances(&mut w);
    match summary {
        Some(sum) => usage_summary(&mut w, sum),
        None => calls(&mut w),
    }
    let last = std::mem::take(&mut w.ops);
    w.pages.push(last);
    w.footers();

    let title = format!("Invoice {}", doc.number);
    let subject = format!(
        "Invoice {} for account {}",
        doc.number, doc.customer.account
    );
    let id = document_id(doc);
    let info = DocInfo {
        title: &title,
        author: &doc.company.name,
        subject: &subject,
        id: &id,
    };
    let bytes = pdf_out::write_pdf(
        &fonts.sets,
        [&fonts.regular.parsed, &fonts.bold.parsed],
        &w.pages,
        &info,
    )?;
    if bytes.is_empty() {
        return Err(PdfError::Empty(doc.number.clone()));
    }
    Ok(bytes)
}

/// The PDF file identifier: a hash of what identifies the invoice (32 hex digits).
fn document_id(doc: &InvoiceDoc) -> Vec<u8> {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    for part in [&doc.company.name, &doc.number, &doc.customer.account] {
        h.update(part.as_bytes());
        h.update([0]);
    }
    h.update(doc.invoice_date.to_string().as_bytes());
    hex::encode(&h.finalize()[..16]).into_bytes()
}

/// Header, address, invoice details, summary box, payment text and message.
fn first_page_top(w: &mut Writer) {
    let doc = w.doc;
    let c = &doc.company;
    let sym = doc.currency_symbol.as_str();

    // Provider, top left.
    w.text(LEFT, 790.0, style(17.0, true, ACCENT), &c.name);
    let mut y = 774.0;
    for line in c.address.iter().filter(|l| !l.trim().is_empty()) {
        w.text(LEFT, y, SMALL_GREY, line);
        y -= 10.0;
    }
    if !c.email.is_empty() {
        w.text(LEFT, y, SMALL_GREY, &c.email);
        y -= 10.0;
    }
    if !c.tax_id.is_empty() {
        let t = format!("{} registration no. {}", doc.summary.tax_name, c.tax_id);
        w.text(LEFT, y, SMALL_GREY, &t);
    }

    // Title and invoice details, top right.
    w.text_right(RIGHT, 786.0, style(22.0, true, ACCENT), "INVOICE");
    let details = [
        ("Invoice number", doc.number.clone()),
        ("Invoice date", date_text(doc.invoice_date)),
        ("Account number", doc.customer.account.clone()),
        ("Payment due", date_text(doc.due_date)),
    ];
    details_block(w, &details);
    let address_bottom = address_block(w, &doc.customer);

    // Account summary box, right.
    let s = &doc.summary;
    let bx = RIGHT - 235.0;
    let bw = 235.0;
    let top = 704.0;
    let mut rows = vec![
        (
            "Opening balance".to_owned(),
            money_text(sym, s.opening_balance),
        ),
        (
            "Payments received, thank you".to_owned(),
            money_text(sym, -s.payments),
        ),
    ];
    if !s.credits.is_zero() {
        rows.push(("Credit notes".to_owned(), money_text(sym, -s.credits)));
    }
    rows.extend([
        (
            format!("New charges (ex {})", s.tax_name),
            money_text(sym, s.charges_ex_tax),
        ),
        (
            format!("{} at {}", s.tax_name, s.tax_rate_label),
            money_text(sym, s.tax),
        ),
        (
            "Total new charges".to_owned(),
            money_text(sym, s.total_charges),
        ),
    ]);
    let box_h = 22.0 + rows.len() as f32 * 14.0 + 52.0;
    w.rect(bx, top - box_h, bw, box_h, SHADE);
    w.rect(bx, top - 20.0, bw, 20.0, ACCENT);
    w.text(
        bx + 10.0,
        top - 14.0,
        style(9.5, true, WHITE),
        "Account summary",
    );
    let mut y = top - 36.0;
    for (label, value) in &rows {
        w.text(bx + 10.0, y, BODY, label);
        w.text_right(bx + bw - 10.0, y, BODY, value);
        y -= 14.0;
    }
    w.hline(bx + 10.0, bx + bw - 10.0, y + 8.0, 0.8, ACCENT);
    y -= 8.0;
    let due_style = style(12.0, true, ACCENT);
    w.text(bx + 10.0, y, due_style, "Amount due");
    w.text_right(bx + bw - 10.0, y, due_style, &money_text(sym, s.amount_due));
    y -= 16.0;
    let due = format!("Please pay by {}", date_text(doc.due_date));
    w.text_right(bx + bw - 10.0, y, SMALL_BOLD, &due);

    // Payment text and message, full width below the address and the box.
    w.y = address_bottom.min(top - box_h) - 22.0;
    if !doc.payment_text.trim().is_empty() {
        for line in w.wrap(&doc.payment_text, BODY_BOLD, RIGHT - LEFT) {
            w.text(LEFT, w.y, BODY_BOLD, &line);
            w.y -= 12.0;
        }
        w.y -= 6.0;
    }
    if let Some(msg) = doc.message.as_deref().filter(|m| !m.trim().is_empty()) {
        let lines = w.wrap(msg, BODY, RIGHT - LEFT - 20.0);
        let h = lines.len() as f32 * 12.0 + 10.0;
        w.need(h);
        w.rect(LEFT, w.y - h + 9.0, 3.0, h, ACCENT);
        w.rect(LEFT + 3.0, w.y - h + 9.0, RIGHT - LEFT - 3.0, h, SHADE);
        w.y -= 5.0;
        for line in lines {
            w.text(LEFT + 12.0, w.y, BODY, &line);
            w.y -= 12.0;
        }
        w.y -= 10.0;
    }
}

/// The document's details (label, value), top right under its title.
fn details_block(w: &mut Writer, details: &[(&str, String)]) {
    let mut y = 764.0;
    for (label, value) in details {
        w.text(RIGHT - 190.0, y, SMALL_GREY, label);
        w.text_right(RIGHT, y, SMALL_BOLD, value);
        y -= 12.0;
    }
}

/// The customer's address, positioned for the window of a DL envelope;
/// returns the height below its last line.
fn address_block(w: &mut Writer, cust: &CustomerAddress) -> f32 {
    let mut y = 690.0;
    w.text(LEFT, y, style(10.0, true, BLACK), &cust.name);
    y -= 12.5;
    for line in cust.address.iter().filter(|l| !l.trim().is_empty()) {
        w.text_fit(LEFT, y, style(10.0, false, BLACK), line, 230.0);
        y -= 12.5;
    }
    if !cust.postcode.is_empty() {
        w.text(LEFT, y, style(10.0, false, BLACK), &cust.postcode);
        y -= 12.5;
    }
    y
}

/// Section heading with a rule under it.
fn heading(w: &mut Writer, title: &str) {
    w.y -= 8.0;
    w.text(LEFT, w.y, HEADING, title);
    w.hline(LEFT, RIGHT, w.y - 5.0, 0.8, ACCENT);
    w.y -= 18.0;
}

/// Charges grouped by service, with subtotals and the invoice totals.
fn charges(w: &mut Writer) {
    let doc = w.doc;
    if doc.lines.is_empty() {
        return;
    }
    let sym = doc.currency_symbol.clone();
    w.need(70.0);
    heading(w, "Charges by service");
    let head = |w: &mut Writer| {
        w.text(CHG_DESC, w.y, TABLE_HEAD, "DESCRIPTION");
        w.text(CHG_TYPE, w.y, TABLE_HEAD, "TYPE");
        w.text_right(CHG_QTY_R, w.y, TABLE_HEAD, "QUANTITY");
        let a = format!("AMOUNT ({sym})");
        w.text_right(CHG_AMOUNT_R, w.y, TABLE_HEAD, &a);
        w.y -= CHG_ROW;
    };
    head(w);
    for (service, lines) in group_by_service(&doc.lines, |l| &l.service) {
        if w.need(CHG_ROW * 3.0) {
            head(w);
        }
        service_band(w, service, false);
        let mut subtotal = Decimal::ZERO;
        for line in lines {
            if w.need(CHG_ROW * 2.0) {
                head(w);
                service_band(w, service, true);
            }
            w.text_fit(
                CHG_DESC,
                w.y,
                BODY,
                &line.description,
                CHG_TYPE - CHG_DESC - 8.0,
            );
            w.text(CHG_TYPE, w.y, SMALL_GREY, category_text(&line.category));
            w.text_right(CHG_QTY_R, w.y, BODY, &line.quantity);
            w.text_right(CHG_AMOUNT_R, w.y, BODY, &amount(line.amount));
            subtotal += line.amount;
            w.y -= CHG_ROW;
        }
        w.hline(CHG_AMOUNT_R - 70.0, CHG_AMOUNT_R, w.y + 9.0, 0.4, RULE);
        let label = format!("Subtotal {service}");
        w.text_right(CHG_QTY_R, w.y, BODY_BOLD, &label);
        w.text_right(CHG_AMOUNT_R, w.y, BODY_BOLD, &amount(subtotal));
        w.y -= CHG_ROW + 4.0;
    }

    // Totals.
    let s = &doc.summary;
    w.need(CHG_ROW * 4.0);
    w.y -= 4.0;
    w.hline(CHG_QTY_R - 150.0, RIGHT, w.y + 9.0, 0.8, ACCENT);
    let totals = [
        (
            format!("Total charges (ex {})", s.tax_name),
            money_text(&sym, s.charges_ex_tax),
            false,
        ),
        (
            format!("{} at {}", s.tax_name, s.tax_rate_label),
            money_text(&sym, s.tax),
            false,
        ),
        (
            format!("Total including {}", s.tax_name),
            money_text(&sym, s.total_charges),
            true,
        ),
    ];
    for (label, value, strong) in &totals {
        let st = if *strong { BODY_BOLD } else { BODY };
        w.text_right(CHG_QTY_R, w.y, st, label);
        w.text_right(CHG_AMOUNT_R, w.y, st, value);
        w.y -= CHG_ROW;
    }
    w.y -= 6.0;
}

/// Allowance columns: right edges of the figures.
const ALW_INC_R: f32 = RIGHT - 180.0;
const ALW_USED_R: f32 = RIGHT - 90.0;
const ALW_REM_R: f32 = RIGHT - 4.0;

/// Inclusive allowances per service (or pool): included, used, remaining.
fn allowances(w: &mut Writer) {
    let doc = w.doc;
    if doc.allowances.is_empty() {
        return;
    }
    w.need(60.0);
    heading(w, "Inclusive allowances");
    let head = |w: &mut Writer| {
        w.text(CHG_DESC, w.y, TABLE_HEAD, "ALLOWANCE");
        w.text_right(ALW_INC_R, w.y, TABLE_HEAD, "INCLUDED");
        w.text_right(ALW_USED_R, w.y, TABLE_HEAD, "USED");
        w.text_right(ALW_REM_R, w.y, TABLE_HEAD, "REMAINING");
        w.y -= CHG_ROW;
    };
    head(w);
    for (holder, rows) in group_by_service(&doc.allowances, |a| &a.holder) {
        if w.need(CHG_ROW * 3.0) {
            head(w);
        }
        service_band(w, holder, false);
        for a in rows {
            if w.need(CHG_ROW * 2.0) {
                head(w);
                service_band(w, holder, true);
            }
            w.text_fit(CHG_DESC, w.y, BODY, &a.name, ALW_INC_R - CHG_DESC - 70.0);
            w.text_right(ALW_INC_R, w.y, BODY, &a.included);
            w.text_right(ALW_USED_R, w.y, BODY, &a.used);
            w.text_right(ALW_REM_R, w.y, BODY, &a.remaining);
            w.y -= CHG_ROW;
        }
        w.y -= 4.0;
    }
    w.y -= 6.0;
}

/// A shaded band naming the service a group of rows belongs to.
fn service_band(w: &mut Writer, service: &str, continued: bool) {
    w.rect(LEFT, w.y - 4.0, RIGHT - LEFT, 14.0, SHADE);
    let label = if continued {
        format!("Service {service} (continued)")
    } else {
        format!("Service {service}")
    };
    w.text(LEFT + 4.0, w.y, BODY_BOLD, &label);
    w.y -= CHG_ROW + 2.0;
}

/// Usage-summary columns: left edge, right edges.
const SUM_DESC: f32 = LEFT + 4.0;
const SUM_COUNT_R: f32 = RIGHT - 200.0;
const SUM_QTY_R: f32 = RIGHT - 90.0;
const SUM_AMOUNT_R: f32 = RIGHT - 4.0;

/// The usage summary and the note naming the itemised-calls file, printed
/// instead of the itemised calls.
fn usage_summary(w: &mut Writer, sum: &UsageSummary) {
    let sym = w.doc.currency_symbol.clone();
    w.need(120.0);
    heading(w, "Usage summary");
    for line in w.wrap(&sum.note, BODY_BOLD, RIGHT - LEFT) {
        w.need(12.0);
        w.text(LEFT, w.y, BODY_BOLD, &line);
        w.y -= 12.0;
    }
    w.y -= 8.0;
    if sum.lines.is_empty() {
        return;
    }
    let head = |w: &mut Writer| {
        w.text(SUM_DESC, w.y, TABLE_HEAD, "DESCRIPTION");
        w.text_right(SUM_COUNT_R, w.y, TABLE_HEAD, "COUNT");
        w.text_right(SUM_QTY_R, w.y, TABLE_HEAD, "QUANTITY");
        let a = format!("AMOUNT ({sym})");
        w.text_right(SUM_AMOUNT_R, w.y, TABLE_HEAD, &a);
        w.y -= CHG_ROW;
    };
    head(w);
    for (service, lines) in group_by_service(&sum.lines, |l| &l.service) {
        if w.need(CHG_ROW * 3.0) {
            head(w);
        }
        service_band(w, service, false);
        let (mut count, mut total) = (0u64, Decimal::ZERO);
        for line in lines {
            if w.need(CHG_ROW * 2.0) {
                head(w);
                service_band(w, service, true);
            }
            w.text_fit(
                SUM_DESC,
                w.y,
                BODY,
                &line.description,
                SUM_COUNT_R - SUM_DESC - 60.0,
            );
            w.text_right(SUM_COUNT_R, w.y, BODY, &line.count.to_string());
            w.text_right(SUM_QTY_R, w.y, BODY, &line.quantity);
            w.text_right(SUM_AMOUNT_R, w.y, BODY, &amount(line.amount));
            count += line.count;
            total += line.amount;
            w.y -= CHG_ROW;
        }
        w.need(CHG_ROW + 4.0);
        w.hline(SUM_AMOUNT_R - 70.0, SUM_AMOUNT_R, w.y + 9.0, 0.4, RULE);
        let label = format!("{count} from {service}");
        w.text_right(SUM_QTY_R, w.y, BODY_BOLD, &label);
        w.text_right(SUM_AMOUNT_R, w.y, BODY_BOLD, &amount(total));
        w.y -= CHG_ROW + 4.0;
    }
}

/// The itemised calls table, flowing over as many pages as needed.
fn calls(w: &mut Writer) {
    let doc = w.doc;
    if doc.calls.is_empty() {
        return;
    }
    let sym = doc.currency_symbol.clone();
    // Start the section on a new page unless a fair part of it fits here.
    w.need(120.0);
    heading(w, "Itemised calls");
    let head = |w: &mut Writer| {
        w.text(CALL_DATE, w.y, TABLE_HEAD, "DATE");
        w.text(CALL_TIME, w.y, TABLE_HEAD, "TIME");
        w.text(CALL_NUMBER, w.y, TABLE_HEAD, "NUMBER");
        w.text(CALL_DESC, w.y, TABLE_HEAD, "DESCRIPTION");
        w.text_right(CALL_DURATION_R, w.y, TABLE_HEAD, "DURATION");
        let a = format!("AMOUNT ({sym})");
        w.text_right(CALL_AMOUNT_R, w.y, TABLE_HEAD, &a);
        w.y -= CALL_ROW + 1.0;
    };
    head(w);
    for (service, calls) in group_by_service(&doc.calls, |c| &c.service) {
        if w.need(CALL_ROW * 4.0) {
            head(w);
        }
        service_band(w, service, false);
        let mut total = Decimal::ZERO;
        for (i, call) in calls.iter().enumerate() {
            if w.need(CALL_ROW) {
                head(w);
                service_band(w, service, true);
            }
            if i % 2 == 1 {
                w.rect(
                    LEFT,
                    w.y - 3.0,
                    RIGHT - LEFT,
                    CALL_ROW,
                    [0.975, 0.98, 0.985],
                );
            }
            let (date, time) = call_date_time(&call.start);
            w.text(CALL_DATE, w.y, SMALL, &date);
            w.text(CALL_TIME, w.y, SMALL, &time);
            w.text_fit(
                CALL_NUMBER,
                w.y,
                SMALL,
                &call.destination,
                CALL_DESC - CALL_NUMBER - 6.0,
            );
            w.text_fit(
                CALL_DESC,
                w.y,
                SMALL,
                &call.description,
                CALL_DURATION_R - CALL_DESC - 50.0,
            );
            w.text_right(CALL_DURATION_R, w.y, SMALL, &call.duration_or_quantity);
            w.text_right(CALL_AMOUNT_R, w.y, SMALL, &amount(call.amount));
            total += call.amount;
            w.y -= CALL_ROW;
        }
        w.need(CALL_ROW + 4.0);
        w.hline(CALL_AMOUNT_R - 60.0, CALL_AMOUNT_R, w.y + 8.0, 0.4, RULE);
        let noun = if calls.len() == 1 { "call" } else { "calls" };
        let label = format!("{} {noun} from {service}", calls.len());
        w.text_right(CALL_DURATION_R, w.y, SMALL_BOLD, &label);
        w.text_right(CALL_AMOUNT_R, w.y, SMALL_BOLD, &amount(total));
        w.y -= CALL_ROW + 6.0;
    }
}

/// A call's `DD Mon YYYY` and `HH:MM:SS`, as chrono's `%d %b %Y` and
/// `%H:%M:%S` write them, without parsing a format string for every call
/// (it was a tenth of rendering an itemised invoice).
fn call_date_time(t: &NaiveDateTime) -> (String, String) {
    use chrono::{Datelike, Timelike};
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let two = |s: &mut String, n: u32| {
        s.push(char::from(b'0' + (n / 10 % 10) as u8));
        s.push(char::from(b'0' + (n % 10) as u8));
    };
    let year = t.year();
    let date = if (0..=9999).contains(&year) {
        let mut d = String::with_capacity(11);
        two(&mut d, t.day());
        d.push(' ');
        d.push_str(MONTHS[t.month0() as usize % 12]);
        d.push(' ');
        two(&mut d, year as u32 / 100);
        two(&mut d, year as u32 % 100);
        d
    } else {
        t.format("%d %b %Y").to_string()
    };
    let mut time = String::with_capacity(8);
    two(&mut time, t.hour());
    time.push(':');
    two(&mut time, t.minute());
    time.push(':');
    // A leap second (60) prints as chrono prints it.
    two(&mut time, t.second() + t.nanosecond() / 1_000_000_000);
    (date, time)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    pub(crate) fn sample(calls: usize) -> InvoiceDoc {
        let start = NaiveDate::from_ymd_opt(2026, 11, 1)
            .unwrap()
            .and_hms_opt(8, 0, 0)
            .unwrap();
        let services = ["01632 960001", "07700 900123"];
        let calls = (0..calls)
            .map(|i| CallLine {
                service: services[i * 2 / calls.max(1)].to_owned(),
                start: start + chrono::Duration::minutes(i as i64 * 397),
                destination: format!("0113 496 {:04}", 1000 + i),
                description: if i % 3 == 0 {
                    "UK mobile".into()
                } else {
                    "UK geographic".into()
                },
                duration_or_quantity: format!("{}:{:02}", i % 17, (i * 7) % 60),
                amount: Decimal::new(5 + (i as i64 * 37) % 250, 2),
            })
            .collect();
        InvoiceDoc {
            company: CompanyHeader {
                name: "Acme Telecom Ltd".into(),
                address: vec!["1 Exchange Street".into(), "Leeds".into(), "LS1 4AB".into()],
                email: "billing@acme-telecom.example".into(),
                tax_id: "GB123456789".into(),
            },
            currency_symbol: "£".into(),
            number: "INV-001234".into(),
            invoice_date: NaiveDate::from_ymd_opt(2026, 12, 1).unwrap(),
            due_date: NaiveDate::from_ymd_opt(2026, 12, 15).unwrap(),
            customer: CustomerAddress {
                account: "ACC-0042".into(),
                name: "Brown & Daughters Café".into(),
                address: vec!["Unit 4, Mill Yard".into(), "Otley Road".into(), "Bradford".into()],
                postcode: "BD1 2XY".into(),
            },
            summary: InvoiceSummary {
                opening_balance: dec!(1082.40),
                payments: dec!(1082.40),
                credits: Decimal::ZERO,
                charges_ex_tax: dec!(1045.67),
                tax: dec!(209.13),
                tax_name: "VAT".into(),
                tax_rate_label: "20%".into(),
                total_charges: dec!(1254.80),
                amount_due: dec!(1254.80),
            },
            lines: vec![
                ChargeLine {
                    service: "01632 960001".into(),
                    category: "fixed".into(),
                    description: "Business Line Plus, 1 Nov to 30 Nov 2026".into(),
                    quantity: "1".into(),
                    amount: dec!(18.00),
                },
                ChargeLine {
                    service: "01632 960001".into(),
                    category: "usage".into(),
                    description: "Calls to UK geographic numbers".into(),
                    quantity: "14 calls".into(),
                    amount: dec!(3.21),
                },
                ChargeLine {
                    service: "07700 900123".into(),
                    category: "fixed".into(),
                    description: "Mobile Unlimited 30 GB".into(),
                    quantity: "1".into(),
                    amount: dec!(1020.00),
                },
                ChargeLine {
                    service: "07700 900123".into(),
                    category: "one_off".into(),
                    description: "Replacement SIM".into(),
                    quantity: "1".into(),
                    amount: dec!(4.46),
                },
            ],
            calls,
            allowances: Vec::new(),
            payment_text: "Amount due will be collected by Direct Debit on 15 Dec 2026 from the account ending 4321.".into(),
            message: Some("Thank you for your business. From January our office opens at 8am; call 0113 496 0000 with any question about this invoice.".into()),
        }
    }

    #[test]
    fn amounts_have_two_decimals_and_thousands_separators() {
        assert_eq!(amount(dec!(0)), "0.00");
        assert_eq!(amount(dec!(12.3)), "12.30");
        assert_eq!(amount(dec!(1234.5)), "1,234.50");
        assert_eq!(amount(dec!(-1234567.891)), "-1,234,567.89");
        assert_eq!(money_text("£", dec!(-3)), "-£3.00");
        // Zero payments are printed negated ("Payments received"): never -£0.00.
        assert_eq!(money_text("£", -dec!(0.00)), "£0.00");
        assert_eq!(money_text("£", -Decimal::ZERO), "£0.00");
        assert_eq!(money_text("€", dec!(999.999)), "€1,000.00");
        assert_eq!(
            date_text(NaiveDate::from_ymd_opt(2026, 12, 5).unwrap()),
            "5 Dec 2026"
        );
    }

    #[test]
    fn groups_keep_first_appearance_order() {
        let items = ["b", "a", "b", "c", "a"];
        let groups = group_by_service(&items, |s| s);
        let names: Vec<&str> = groups.iter().map(|(g, _)| *g).collect();
        assert_eq!(names, ["b", "a", "c"]);
        assert_eq!(groups[0].1.len(), 2);
    }

    #[test]
    fn fonts_are_shareable_across_threads() {
        fn assert_sync<T: Send + Sync>() {}
        assert_sync::<Fonts>();
        let f = Fonts::shared().unwrap();
        assert!(f.regular.width("£€", 10.0) > 5.0);
    }

    /// Text of `pdf` as poppler's `pdftotext` reads it.
    fn text_of(pdf: &[u8]) -> String {
        crate::render::poppler::run("pdftotext", pdf, &[])
    }

    #[test]
    fn two_page_invoice_reads_back_with_pdftotext() {
        let doc = sample(60);
        let pdf = render_invoice(&doc, Fonts::shared().unwrap()).unwrap();
        let text = text_of(&pdf);
        for needle in [
            "INV-001234",
            "Acme Telecom Ltd",
            "Brown & Daughters Café",
            "BD1 2XY",
            "£1,254.80",
            "15 Dec 2026",
            "Amount due will be collected by Direct Debit",
            "Thank you for your business",
            "Charges by service",
            "Subtotal 01632 960001",
            "Itemised calls",
            // First and last itemised call.
            "0113 496 1000",
            "01 Nov 2026",
            "08:00:00",
            "0113 496 1059",
            "Page 1 of 2",
            "Page 2 of 2",
        ] {
            assert!(text.contains(needle), "{needle:?} missing from:\n{text}");
        }
        assert!(
            !text.contains("Page 3"),
            "expected exactly 2 pages:\n{text}"
        );
    }

    #[test]
    fn euro_and_many_calls_flow_over_pages() {
        let mut doc = sample(400);
        doc.currency_symbol = "€".into();
        doc.message = None;
        let pdf = render_invoice(&doc, Fonts::shared().unwrap()).unwrap();
        let text = text_of(&pdf);
        let pages = text.matches("Page ").filter(|_| true).count();
        assert!(
            pages >= 5,
            "400 calls should need several pages, got {pages}"
        );
        let last = format!("Page {pages} of {pages}");
        assert!(text.contains(&last), "{last:?} missing");
        assert!(text.contains("€1,254.80"));
        assert!(text.contains("0113 496 1399"), "last call missing");
        assert!(text.contains("(continued)"));
    }

    #[test]
    fn a_summarised_invoice_prints_the_usage_summary_and_the_note_not_the_calls() {
        let doc = sample(50);
        let summary = UsageSummary {
            lines: vec![
                SummaryLine {
                    service: "01632 960001".into(),
                    description: "Calls: UK mobile".into(),
                    count: 29_000,
                    quantity: "29000 calls, 412:03:10".into(),
                    amount: dec!(2345.67),
                },
                SummaryLine {
                    service: "01632 960001".into(),
                    description: "Messages".into(),
                    count: 1_000,
                    quantity: "1000 messages".into(),
                    amount: dec!(40.00),
                },
            ],
            note: "Itemised calls: see INV-001234-calls.csv (30000 calls, attached).".into(),
        };
        let pdf = render_invoice_summarised(&doc, &summary, Fonts::shared().unwrap()).unwrap();
        let text = text_of(&pdf);
        for needle in [
            "Usage summary",
            "Itemised calls: see INV-001234-calls.csv",
            "Calls: UK mobile",
            "29000 calls, 412:03:10",
            "2,345.67",
            "1000 messages",
            "30000 from 01632 960001",
            "2,385.67",
            "Charges by service",
            "Page 1 of 1",
        ] {
            assert!(text.contains(needle), "{needle:?} missing from:\n{text}");
        }
        // The calls of the document are not printed.
        assert!(!text.contains("0113 496 1000"), "{text}");
        assert!(!text.contains("DURATION"), "{text}");
    }

    #[test]
    fn prints_the_allowances_after_the_charges() {
        let mut doc = sample(2);
        doc.allowances = vec![
            AllowanceLine {
                holder: "01632 960001".into(),
                name: "UK minutes (minutes)".into(),
                included: "100:00".into(),
                used: "12:30".into(),
                remaining: "87:30".into(),
            },
            AllowanceLine {
                holder: "01632 960001, 07700 900123 (pooled)".into(),
                name: "Data (MB)".into(),
                included: "10240".into(),
                used: "0.5".into(),
                remaining: "10239.5".into(),
            },
        ];
        let text = text_of(&render_invoice(&doc, Fonts::shared().unwrap()).unwrap());
        for needle in [
            "Inclusive allowances",
            "UK minutes (minutes)",
            "100:00",
            "12:30",
            "87:30",
            "Service 01632 960001, 07700 900123 (pooled)",
            "10239.5",
        ] {
            assert!(text.contains(needle), "{needle:?} missing from:\n{text}");
        }
        let plain = text_of(&render_invoice(&sample(2), Fonts::shared().unwrap()).unwrap());
        assert!(!plain.contains("Inclusive allowances"));
    }

    #[test]
    fn renders_a_small_pdf_with_a_subset_font() {
        let pdf = render_invoice(&sample(30), Fonts::shared().unwrap()).unwrap();
        assert!(pdf.starts_with(b"%PDF-"));
        assert!(
            pdf.len() < 80_000,
            "PDF is {} bytes; is the font subset?",
            pdf.len()
        );
    }

    #[test]
    fn ascii_invoice_reads_back_with_the_shared_fonts() {
        let mut doc = sample(10);
        doc.customer.name = "Brown & Daughters Cafe".into();
        let pdf = render_invoice(&doc, Fonts::shared().unwrap()).unwrap();
        let text = text_of(&pdf);
        for needle in ["Brown & Daughters Cafe", "£1,254.80", "Page 1 of"] {
            assert!(text.contains(needle), "{needle:?} missing from:\n{text}");
        }
    }

    #[test]
    fn characters_beyond_the_base_set_print_and_read_back() {
        let fonts = Fonts::shared().unwrap();
        let mut doc = sample(3);
        doc.customer.name = "Ζωή Παπαδοπούλου".into();
        doc.customer.address = vec!["ul. Piotrkowska 12".into(), "Łódź".into()];
        doc.message = Some("Grüße — «merci» 10 × 2 ½".into());
        let a = render_invoice(&doc, fonts).unwrap();
        let text = text_of(&a);
        for needle in ["Ζωή Παπαδοπούλου", "Łódź", "Grüße", "«merci»", "×", "½"]
        {
            assert!(text.contains(needle), "{needle:?} missing from:\n{text}");
        }
        // The extended fonts come from the cache the second time, and from a
        // fresh process-like `Fonts`: the same bytes either way.
        assert!(render_invoice(&doc, fonts).unwrap() == a);
        assert!(render_invoice(&doc, &Fonts::load().unwrap()).unwrap() == a);
    }

    #[test]
    fn rendering_is_deterministic() {
        let fonts = Fonts::shared().unwrap();
        let doc = sample(5);
        let (a, b) = (
            render_invoice(&doc, fonts).unwrap(),
            render_invoice(&doc, fonts).unwrap(),
        );
        assert!(a == b, "two renders of the same invoice differ");
    }

    /// Render time and size per invoice. Run in release:
    /// `cargo test --release --lib render_speed -- --ignored --nocapture`;
    /// set `BILLRUN_PDF_OUT=dir` to keep sample PDFs to look at.
    #[test]
    #[ignore = "benchmark"]
    fn render_speed() {
        let t = std::time::Instant::now();
        let fonts = Fonts::load().unwrap();
        println!("font parse: {:.2} ms", t.elapsed().as_secs_f64() * 1e3);
        for calls in [0, 30, 100] {
            let doc = sample(calls);
            let n = 300;
            let t = std::time::Instant::now();
            let mut bytes = 0;
            for i in 0..n {
                let mut d = doc.clone();
                d.number = format!("INV-{i:06}");
                bytes += render_invoice(&d, &fonts).unwrap().len();
            }
            let per = t.elapsed().as_secs_f64() * 1e3 / f64::from(n);
            println!(
                "{calls:>3} calls: {per:.2} ms/invoice, {} bytes/PDF",
                bytes / n as usize
            );
            if let Ok(dir) = std::env::var("BILLRUN_PDF_OUT") {
                let pdf = render_invoice(&doc, &fonts).unwrap();
                std::fs::write(format!("{dir}/invoice-{calls}.pdf"), pdf).unwrap();
            }
        }
    }

    #[test]
    fn call_date_and_time_read_as_chrono_writes_them() {
        for t in [
            "2026-11-02T09:05:07",
            "2026-01-31T00:00:00",
            "0999-12-01T23:59:59",
            "0001-05-09T10:10:10",
        ] {
            let t: NaiveDateTime = t.parse().unwrap();
            assert_eq!(
                call_date_time(&t),
                (
                    t.format("%d %b %Y").to_string(),
                    t.format("%H:%M:%S").to_string()
                ),
                "{t}"
            );
        }
    }
}
