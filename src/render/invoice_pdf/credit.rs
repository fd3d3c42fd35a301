//! The credit note PDF: the invoice's letterhead and layout, titled
//! "CREDIT NOTE", naming the invoice it credits and why, its lines, the tax
//! and the total credited. A child of `invoice_pdf` so it draws with the
//! same page writer, fonts and styles.

use super::*;

/// Everything printed on one credit note.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreditNoteDoc {
    /// The credit note's number, date (as `invoice_date`), customer,
    /// company, currency, tax name and rate label; `summary.charges_ex_tax`,
    /// `tax` and `total_charges` are the amounts credited; `lines` the lines
    /// credited; `payment_text` what the credit does to the account.
    pub base: InvoiceDoc,
    /// The invoice credited and its date.
    pub invoice_number: String,
    pub invoice_date: NaiveDate,
    /// Why it is credited.
    pub reason: String,
}

/// Render one credit note (deterministic: the same `doc`, the same bytes).
pub fn render_credit_note(doc: &CreditNoteDoc, fonts: &Fonts) -> Result<Vec<u8>, PdfError> {
    let base = &doc.base;
    let mut w = Writer {
        fonts,
        doc: base,
        pages: Vec::new(),
        ops: Vec::with_capacity(512),
        y: 0.0,
        fill: None,
    };
    top(&mut w, doc);
    credited_lines(&mut w);
    let last = std::mem::take(&mut w.ops);
    w.pages.push(last);
    w.footers();
    let title = format!("Credit note {}", base.number);
    let subject = format!(
        "Credit note {} crediting invoice {} for account {}",
        base.number, doc.invoice_number, base.customer.account
    );
    let id = document_id(base);
    let info = DocInfo {
        title: &title,
        author: &base.company.name,
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
        return Err(PdfError::Empty(base.number.clone()));
    }
    Ok(bytes)
}

fn top(w: &mut Writer, doc: &CreditNoteDoc) {
    let base = w.doc;
    let c = &base.company;
    let sym = base.currency_symbol.as_str();
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
        let t = format!("{} registration no. {}", base.summary.tax_name, c.tax_id);
        w.text(LEFT, y, SMALL_GREY, &t);
    }
    w.text_right(RIGHT, 786.0, style(22.0, true, ACCENT), "CREDIT NOTE");
    let details = [
        ("Credit note number", base.number.clone()),
        ("Date", date_text(base.invoice_date)),
        ("Account number", base.customer.account.clone()),
        ("Credits invoice", doc.invoice_number.clone()),
        ("Invoice date", date_text(doc.invoice_date)),
    ];
    details_block(w, &details);
    let address_bottom = address_block(w, &base.customer);

    let s = &base.summary;
    let bx = RIGHT - 235.0;
    let bw = 235.0;
    let top = 690.0;
    let rows = [
        (
            format!("Credit (ex {})", s.tax_name),
            money_text(sym, s.charges_ex_tax),
        ),
        (
            format!("{} at {}", s.tax_name, s.tax_rate_label),
            money_text(sym, s.tax),
        ),
    ];
    let box_h = 22.0 + rows.len() as f32 * 14.0 + 30.0;
    w.rect(bx, top - box_h, bw, box_h, SHADE);
    w.rect(bx, top - 20.0, bw, 20.0, ACCENT);
    w.text(
        bx + 10.0,
        top - 14.0,
        style(9.5, true, WHITE),
        "Credit note summary",
    );
    let mut y = top - 36.0;
    for (label, value) in &rows {
        w.text(bx + 10.0, y, BODY, label);
        w.text_right(bx + bw - 10.0, y, BODY, value);
        y -= 14.0;
    }
    w.hline(bx + 10.0, bx + bw - 10.0, y + 8.0, 0.8, ACCENT);
    y -= 8.0;
    let total_style = style(12.0, true, ACCENT);
    w.text(bx + 10.0, y, total_style, "Total credit");
    w.text_right(
        bx + bw - 10.0,
        y,
        total_style,
        &money_text(sym, s.total_charges),
    );

    w.y = address_bottom.min(top - box_h) - 22.0;
    let reason = format!("Reason: {}", doc.reason);
    for line in w.wrap(&reason, BODY_BOLD, RIGHT - LEFT) {
        w.text(LEFT, w.y, BODY_BOLD, &line);
        w.y -= 12.0;
    }
    w.y -= 4.0;
    if !base.payment_text.trim().is_empty() {
        for line in w.wrap(&base.payment_text, BODY, RIGHT - LEFT) {
            w.text(LEFT, w.y, BODY, &line);
            w.y -= 12.0;
        }
    }
    w.y -= 6.0;
}

/// The lines credited, then the totals.
fn credited_lines(w: &mut Writer) {
    let doc = w.doc;
    let sym = doc.currency_symbol.clone();
    w.need(70.0);
    heading(w, "Credited");
    let head = |w: &mut Writer| {
        w.text(CHG_DESC, w.y, TABLE_HEAD, "DESCRIPTION");
        w.text(CHG_TYPE, w.y, TABLE_HEAD, "SERVICE");
        w.text_right(CHG_QTY_R, w.y, TABLE_HEAD, "QUANTITY");
        let a = format!("AMOUNT ({sym})");
        w.text_right(CHG_AMOUNT_R, w.y, TABLE_HEAD, &a);
        w.y -= CHG_ROW;
    };
    head(w);
    for line in &doc.lines {
        if w.need(CHG_ROW * 2.0) {
            head(w);
        }
        w.text_fit(
            CHG_DESC,
            w.y,
            BODY,
            &line.description,
            CHG_TYPE - CHG_DESC - 8.0,
        );
        w.text_fit(CHG_TYPE, w.y, SMALL_GREY, &line.service, 120.0);
        w.text_right(CHG_QTY_R, w.y, BODY, &line.quantity);
        w.text_right(CHG_AMOUNT_R, w.y, BODY, &amount(line.amount));
        w.y -= CHG_ROW;
    }
    let s = &doc.summary;
    w.need(CHG_ROW * 4.0);
    w.y -= 4.0;
    w.hline(CHG_QTY_R - 150.0, RIGHT, w.y + 9.0, 0.8, ACCENT);
    let totals = [
        (
            format!("Total credit (ex {})", s.tax_name),
            money_text(&sym, s.charges_ex_tax),
            false,
        ),
        (
            format!("{} at {}", s.tax_name, s.tax_rate_label),
            money_text(&sym, s.tax),
            false,
        ),
        (
            format!("Total credit including {}", s.tax_name),
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
}
