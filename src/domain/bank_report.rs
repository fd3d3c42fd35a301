//! Bank reports read by `collect results` (docs/collection.md, "Bank
//! reports"), recognised by their content. Pure: bytes in, items out.
//!
//! - **Bacs ARUDD** (Automated Return of Unpaid Direct Debits), the XML
//!   `BACSDocument/Data/ARUDD` with one `ReturnedDebitItem` per returned
//!   debit: attributes `ref` (the payer's DDI reference), `transCode`,
//!   `returnCode`, `returnDescription`, `originalProcessingDate`,
//!   `valueOf`, `currency`. Return codes and meanings as published by
//!   Bacs (e.g. accesspaysuite.com/blog/arudd-reason-codes): 0 refer to
//!   payer, 1 instruction cancelled, 2 payer deceased, 3 account
//!   transferred, 4 advance notice disputed, 5 no account, 6 no
//!   instruction, 7 amount differs, 8 amount not yet due, 9 presentation
//!   overdue, A service user differs, B account closed.
//! - **Bacs ADDACS** (Automated Direct Debit Amendment and Cancellation
//!   Service), `BACSDocument/Data/MessagingAdvices/MessagingAdvice` with
//!   attributes `user-number`, `record-type`, `effective-date`,
//!   `reference`, `reason-code`, `payer-name`, `payer-new-sort-code`,
//!   `payer-new-account-number` …; reason codes (accesspaysuite.com/blog/
//!   addacs-reason-codes): 0 instruction cancelled (refer to payer), 1
//!   cancelled by payer, 2 payer deceased, 3 account transferred to a new
//!   bank, B account closed, C account transferred to another branch, D
//!   advance notice disputed, E instruction amended, R instruction
//!   re-instated.
//! - **SEPA pain.002.001.03** (`CustomerPaymentStatusReportV03`,
//!   `Document/CstmrPmtStsRpt`): `OrgnlGrpInfAndSts` (`OrgnlMsgId`,
//!   `GrpSts`, `StsRsnInf/Rsn/Cd`), `OrgnlPmtInfAndSts` (`OrgnlPmtInfId`,
//!   `PmtInfSts`) and `TxInfAndSts` (`OrgnlEndToEndId`, `TxSts`,
//!   `StsRsnInf/Rsn/Cd`, ISO external status reason codes). Only `RJCT`
//!   changes anything: a rejected transaction, payment information block
//!   or whole message.
//! - **ABA (BECS) return file**: 120-character records; type 0 header, type
//!   2 returned item, type 7 total. The type 2 record is the type 1 layout
//!   with the return code in position 18 and, at 113–120, the original day
//!   of processing (2) and the original user id (6): 1 `2`, 2–8 BSB, 9–17
//!   account, 18 return code, 19–20 transaction code, 21–30 amount in
//!   cents, 31–62 account title, 63–80 lodgement reference, 81–87 trace
//!   BSB, 88–96 trace account, 97–112 remitter. Return codes (BECS
//!   procedures): 1 invalid BSB number, 2 payment stopped, 3 account
//!   closed, 4 customer deceased, 5 no account / incorrect account number,
//!   6 refer to customer, 7 deleted (not processed), 8 invalid user id
//!   number, 9 technically invalid.
//!
//! Anything else is billrun's own results CSV (`reference,status,reason`).

use super::money;
use chrono::NaiveDate;
use rust_decimal::Decimal;
use std::fmt;

/// Which report a file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    /// billrun's `reference,status,reason` CSV.
    Csv,
    Arudd,
    Addacs,
    Pain002,
    AbaReturn,
}

impl Format {
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Arudd => "arudd",
            Format::Addacs => "addacs",
            Format::Pain002 => "pain.002",
            Format::AbaReturn => "aba_return",
        }
    }
    pub fn describe(self) -> &'static str {
        match self {
            Format::Csv => "billrun results CSV",
            Format::Arudd => "Bacs ARUDD report (returned Direct Debits)",
            Format::Addacs => "Bacs ADDACS report (mandate amendments and cancellations)",
            Format::Pain002 => "SEPA pain.002 payment status report",
            Format::AbaReturn => "ABA (BECS) return file",
        }
    }
}

/// What a mandate became, as a bank reported it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MandateStatus {
    /// Cancelled (by the payer, the bank, closure or death): never
    /// collected again under this mandate.
    Cancelled,
    /// Moved to another bank or branch: not collected until the customer's
    /// new details are imported.
    Transferred,
    /// Advance notice disputed: not collected until resolved.
    Disputed,
    /// Amended by the bank: still collected.
    Amended,
    /// Reinstated: collected again.
    Active,
}

impl MandateStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            MandateStatus::Cancelled => "cancelled",
            MandateStatus::Transferred => "transferred",
            MandateStatus::Disputed => "disputed",
            MandateStatus::Amended => "amended",
            MandateStatus::Active => "active",
        }
    }
    /// Whether a customer with this mandate status may be collected from.
    pub fn collectable(status: Option<&str>) -> bool {
        !matches!(status, Some("cancelled" | "transferred" | "disputed"))
    }
}

/// Where in the file an item is: `line:column` of its element or record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct At {
    pub line: u64,
    pub col: u64,
}

impl fmt::Display for At {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.col)
    }
}

/// One item of a bank report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    /// ARUDD: a returned debit, matched by the DDI reference, the amount
    /// and the original processing day.
    BacsReturn {
        at: At,
        mandate_ref: String,
        amount_minor: i64,
        processing_date: NaiveDate,
        code: String,
        reason: String,
    },
    /// ADDACS: a mandate amended or cancelled.
    Mandate {
        at: At,
        mandate_ref: String,
        status: MandateStatus,
        effective: NaiveDate,
        code: String,
        reason: String,
    },
    /// pain.002: a rejected transaction, by end-to-end id.
    SepaRejected {
        at: At,
        end_to_end_id: String,
        code: String,
        reason: String,
    },
    /// pain.002: a rejected message (`pmt_inf_id` `None`) or payment
    /// information block.
    SepaGroupRejected {
        at: At,
        msg_id: String,
        pmt_inf_id: Option<String>,
        code: String,
        reason: String,
    },
    /// ABA return: matched by lodgement reference (the item reference) and
    /// amount.
    AbaReturn {
        at: At,
        reference: String,
        amount_minor: i64,
        code: String,
        reason: String,
    },
    /// A status that changes nothing (accepted, pending), listed.
    Info { at: At, what: String },
}

impl Item {
    pub fn at(&self) -> At {
        match self {
            Item::BacsReturn { at, .. }
            | Item::Mandate { at, .. }
            | Item::SepaRejected { at, .. }
            | Item::SepaGroupRejected { at, .. }
            | Item::AbaReturn { at, .. }
            | Item::Info { at, .. } => *at,
        }
    }
}

/// A problem in a report: where and what. Every problem is reported at once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub at: At,
    pub reason: String,
}

/// The file's format, from its content: XML by its root and first
/// elements, an ABA return file by its fixed 120-character records with a
/// type 2, else CSV.
pub fn detect(bytes: &[u8]) -> Result<Format, String> {
    let text = String::from_utf8_lossy(bytes);
    let t = text.trim_start_matches('\u{feff}').trim_start();
    if t.starts_with('<') {
        let doc = parse_xml(bytes).map_err(|p| format!("{}: {}", p.at, p.reason))?;
        return xml_format(&doc).ok_or_else(|| {
            format!(
                "an XML file whose root is <{}>: not a report billrun reads (Bacs ARUDD or ADDACS \
                 BACSDocument, SEPA pain.002.001.03 Document)",
                doc.root_element().tag_name().name()
            )
        });
    }
    let first = t.lines().next().unwrap_or("");
    let aba_like = first.starts_with('0') && first.trim_end_matches('\r').len() == 120;
    if aba_like {
        return Ok(Format::AbaReturn);
    }
    Ok(Format::Csv)
}

fn xml_format(doc: &roxmltree::Document<'_>) -> Option<Format> {
    let root = doc.root_element();
    match root.tag_name().name() {
        "BACSDocument" => {
            if root.descendants().any(|n| n.has_tag_name("ARUDD")) {
                Some(Format::Arudd)
            } else if root
                .descendants()
                .any(|n| n.has_tag_name("MessagingAdvices"))
            {
                Some(Format::Addacs)
            } else {
                None
            }
        }
        "Document" => root
            .children()
            .any(|n| n.has_tag_name("CstmrPmtStsRpt"))
            .then_some(Format::Pain002),
        _ => None,
    }
}

fn parse_xml(bytes: &[u8]) -> Result<roxmltree::Document<'_>, Problem> {
    let text = std::str::from_utf8(bytes).map_err(|e| Problem {
        at: At { line: 1, col: 1 },
        reason: format!("not UTF-8 text: {e}"),
    })?;
    let text = text.trim_start_matches('\u{feff}');
    // No DTD (no entity expansion): reports never carry one.
    roxmltree::Document::parse(text).map_err(|e| {
        let p = e.pos();
        Problem {
            at: At {
                line: u64::from(p.row),
                col: u64::from(p.col),
            },
            reason: format!("not well-formed XML: {e}"),
        }
    })
}

/// Parse a report of `format` (not CSV): every item, or every problem.
pub fn parse(format: Format, bytes: &[u8]) -> Result<Vec<Item>, Vec<Problem>> {
    match format {
        Format::Csv => Ok(Vec::new()),
        Format::AbaReturn => parse_aba(bytes),
        Format::Arudd | Format::Addacs | Format::Pain002 => {
            let doc = parse_xml(bytes).map_err(|p| vec![p])?;
            let mut problems = Vec::new();
            let items = match format {
                Format::Arudd => arudd(&doc, &mut problems),
                Format::Addacs => addacs(&doc, &mut problems),
                _ => pain002(&doc, &mut problems),
            };
            if problems.is_empty() {
                Ok(items)
            } else {
                Err(problems)
            }
        }
    }
}

fn at_of(doc: &roxmltree::Document<'_>, n: roxmltree::Node<'_, '_>) -> At {
    let p = doc.text_pos_at(n.range().start);
    At {
        line: u64::from(p.row),
        col: u64::from(p.col),
    }
}

/// A required attribute, trimmed and free of control characters.
fn attr<'a>(
    doc: &roxmltree::Document<'_>,
    n: roxmltree::Node<'a, '_>,
    name: &str,
    problems: &mut Vec<Problem>,
) -> Option<&'a str> {
    match n.attribute(name).map(str::trim) {
        Some(v) if !v.is_empty() && !v.chars().any(char::is_control) => Some(v),
        Some(v) if !v.is_empty() => {
            problems.push(Problem {
                at: at_of(doc, n),
                reason: format!("<{}> {name}: a control character", n.tag_name().name()),
            });
            None
        }
        _ => {
            problems.push(Problem {
                at: at_of(doc, n),
                reason: format!("<{}> has no {name}", n.tag_name().name()),
            });
            None
        }
    }
}

fn date_of(
    doc: &roxmltree::Document<'_>,
    n: roxmltree::Node<'_, '_>,
    name: &str,
    v: &str,
    problems: &mut Vec<Problem>,
) -> Option<NaiveDate> {
    let d = NaiveDate::parse_from_str(v, "%Y-%m-%d").ok();
    if d.is_none() {
        problems.push(Problem {
            at: at_of(doc, n),
            reason: format!("{name} '{v}' is not a date YYYY-MM-DD"),
        });
    }
    d
}

/// An amount in units with at most 2 decimals, above zero, as minor units.
fn amount_of(v: &str) -> Option<i64> {
    let d: Decimal = v.parse().ok()?;
    if d <= Decimal::ZERO || d.scale() > 2 {
        return None;
    }
    money::to_minor(d).ok()
}

/// The meaning of an ARUDD return code.
pub fn arudd_reason(code: &str) -> Option<&'static str> {
    Some(match code {
        "0" => "refer to payer",
        "1" => "instruction cancelled",
        "2" => "payer deceased",
        "3" => "account transferred",
        "4" => "advance notice disputed",
        "5" => "no account (or wrong account type)",
        "6" => "no instruction",
        "7" => "amount differs",
        "8" => "amount not yet due",
        "9" => "presentation overdue",
        "A" => "service user differs",
        "B" => "account closed",
        _ => return None,
    })
}

fn arudd(doc: &roxmltree::Document<'_>, problems: &mut Vec<Problem>) -> Vec<Item> {
    let mut items = Vec::new();
    for n in doc
        .descendants()
        .filter(|n| n.has_tag_name("ReturnedDebitItem"))
    {
        let at = at_of(doc, n);
        let mandate = attr(doc, n, "ref", problems);
        let code = attr(doc, n, "returnCode", problems);
        let value = attr(doc, n, "valueOf", problems);
        let opd = attr(doc, n, "originalProcessingDate", problems);
        let amount = value.and_then(|v| {
            let a = amount_of(v);
            if a.is_none() {
                problems.push(Problem {
                    at,
                    reason: format!("valueOf '{v}' is not an amount above 0 (pounds and pence)"),
                });
            }
            a
        });
        let date = opd.and_then(|v| date_of(doc, n, "originalProcessingDate", v, problems));
        if let (Some(m), Some(c), Some(a), Some(d)) = (mandate, code, amount, date) {
            let description = n.attribute("returnDescription").map(str::trim);
            let meaning = arudd_reason(c)
                .map(String::from)
                .or_else(|| description.map(|s| s.to_lowercase()))
                .unwrap_or_else(|| "returned".into());
            items.push(Item::BacsReturn {
                at,
                mandate_ref: m.to_string(),
                amount_minor: a,
                processing_date: d,
                code: c.to_string(),
                reason: format!("ARUDD {c}: {meaning}"),
            });
        }
    }
    items
}

/// The status and meaning of an ADDACS reason code.
pub fn addacs_meaning(code: &str) -> Option<(MandateStatus, &'static str)> {
    use MandateStatus::*;
    Some(match code {
        "0" => (Cancelled, "instruction cancelled, refer to payer"),
        "1" => (Cancelled, "instruction cancelled by payer"),
        "2" => (Cancelled, "payer deceased"),
        "3" => (
            Transferred,
            "account transferred to a new bank or building society",
        ),
        "B" => (Cancelled, "account closed"),
        "C" => (Transferred, "account transferred to a different branch"),
        "D" => (Disputed, "advance notice disputed"),
        "E" => (Amended, "instruction amended"),
        "R" => (Active, "instruction re-instated"),
        _ => return None,
    })
}

fn addacs(doc: &roxmltree::Document<'_>, problems: &mut Vec<Problem>) -> Vec<Item> {
    let mut items = Vec::new();
    for n in doc
        .descendants()
        .filter(|n| n.has_tag_name("MessagingAdvice"))
    {
        let at = at_of(doc, n);
        let mandate = attr(doc, n, "reference", problems);
        let code = attr(doc, n, "reason-code", problems);
        let eff = attr(doc, n, "effective-date", problems)
            .and_then(|v| date_of(doc, n, "effective-date", v, problems));
        let meaning = code.and_then(|c| {
            let m = addacs_meaning(c);
            if m.is_none() {
                problems.push(Problem {
                    at,
                    reason: format!(
                        "reason-code '{c}' is not an ADDACS code (0, 1, 2, 3, B, C, D, E, R)"
                    ),
                });
            }
            m
        });
        if let (Some(m), Some(c), Some(d), Some((status, meaning))) = (mandate, code, eff, meaning)
        {
            items.push(Item::Mandate {
                at,
                mandate_ref: m.to_string(),
                status,
                effective: d,
                code: c.to_string(),
                reason: format!("ADDACS {c}: {meaning}"),
            });
        }
    }
    items
}

/// Text of the child `path` (element names) of `n`.
fn child_text<'a>(n: roxmltree::Node<'a, '_>, path: &[&str]) -> Option<&'a str> {
    let mut cur = n;
    for name in path {
        cur = cur.children().find(|c| c.has_tag_name(*name))?;
    }
    cur.text().map(str::trim).filter(|t| !t.is_empty())
}

/// `StsRsnInf/Rsn/Cd` (or `Prtry`) and the first `AddtlInf`, as a reason.
fn sepa_reason(n: roxmltree::Node<'_, '_>) -> (String, String) {
    let code = child_text(n, &["StsRsnInf", "Rsn", "Cd"])
        .or_else(|| child_text(n, &["StsRsnInf", "Rsn", "Prtry"]))
        .unwrap_or("")
        .to_string();
    let meaning = iso_reason(&code)
        .map(String::from)
        .or_else(|| child_text(n, &["StsRsnInf", "AddtlInf"]).map(String::from))
        .unwrap_or_else(|| "rejected".into());
    let reason = if code.is_empty() {
        format!("pain.002 RJCT: {meaning}")
    } else {
        format!("pain.002 RJCT {code}: {meaning}")
    };
    (code, reason)
}

/// The meaning of the common ISO 20022 status reason codes of SEPA Direct
/// Debit rejections (ExternalStatusReason1Code).
pub fn iso_reason(code: &str) -> Option<&'static str> {
    Some(match code {
        "AC01" => "incorrect account number",
        "AC04" => "account closed",
        "AC06" => "account blocked",
        "AC13" => "invalid debtor account type",
        "AG01" => "transaction forbidden on this account",
        "AG02" => "invalid bank operation code",
        "AM04" => "insufficient funds",
        "AM05" => "duplicate",
        "BE05" => "unrecognised creditor",
        "CNOR" => "creditor bank is not registered",
        "DNOR" => "debtor bank is not registered",
        "FF01" => "invalid file format",
        "MD01" => "no mandate",
        "MD02" => "mandate data missing or incorrect",
        "MD06" => "refund requested by the debtor",
        "MD07" => "debtor deceased",
        "MS02" => "refused by the debtor",
        "MS03" => "reason not specified",
        "RC01" => "bank identifier (BIC) incorrect",
        "RR01" => "debtor account or identification missing",
        "RR02" => "debtor name or address missing",
        "RR03" => "creditor name or address missing",
        "RR04" => "regulatory reason",
        "SL01" => "specific service offered by the debtor bank",
        "DT01" => "invalid date",
        _ => return None,
    })
}

fn pain002(doc: &roxmltree::Document<'_>, problems: &mut Vec<Problem>) -> Vec<Item> {
    let mut items = Vec::new();
    let root = doc.root_element();
    let Some(rpt) = root.children().find(|n| n.has_tag_name("CstmrPmtStsRpt")) else {
        return items;
    };
    let grp = rpt.children().find(|n| n.has_tag_name("OrgnlGrpInfAndSts"));
    let Some(grp) = grp else {
        problems.push(Problem {
            at: at_of(doc, rpt),
            reason: "no <OrgnlGrpInfAndSts>".into(),
        });
        return items;
    };
    let Some(msg_id) = child_text(grp, &["OrgnlMsgId"]) else {
        problems.push(Problem {
            at: at_of(doc, grp),
            reason: "<OrgnlGrpInfAndSts> has no <OrgnlMsgId>".into(),
        });
        return items;
    };
    match child_text(grp, &["GrpSts"]) {
        Some("RJCT") => {
            let (code, reason) = sepa_reason(grp);
            items.push(Item::SepaGroupRejected {
                at: at_of(doc, grp),
                msg_id: msg_id.to_string(),
                pmt_inf_id: None,
                code,
                reason,
            });
        }
        Some(s) => items.push(Item::Info {
            at: at_of(doc, grp),
            what: format!("message {msg_id}: group status {s}"),
        }),
        None => {}
    }
    for p in rpt
        .children()
        .filter(|n| n.has_tag_name("OrgnlPmtInfAndSts"))
    {
        let pmt = child_text(p, &["OrgnlPmtInfId"]);
        match (child_text(p, &["PmtInfSts"]), pmt) {
            (Some("RJCT"), Some(id)) => {
                let (code, reason) = sepa_reason(p);
                items.push(Item::SepaGroupRejected {
                    at: at_of(doc, p),
                    msg_id: msg_id.to_string(),
                    pmt_inf_id: Some(id.to_string()),
                    code,
                    reason,
                });
            }
            (Some("RJCT"), None) => problems.push(Problem {
                at: at_of(doc, p),
                reason: "a rejected <OrgnlPmtInfAndSts> without <OrgnlPmtInfId>".into(),
            }),
            (Some(s), id) => items.push(Item::Info {
                at: at_of(doc, p),
                what: format!("payment information {}: status {s}", id.unwrap_or("?")),
            }),
            (None, _) => {}
        }
        for t in p.children().filter(|n| n.has_tag_name("TxInfAndSts")) {
            let e2e = child_text(t, &["OrgnlEndToEndId"]);
            match (child_text(t, &["TxSts"]), e2e) {
                (Some("RJCT"), Some(id)) => {
                    let (code, reason) = sepa_reason(t);
                    items.push(Item::SepaRejected {
                        at: at_of(doc, t),
                        end_to_end_id: id.to_string(),
                        code,
                        reason,
                    });
                }
                (Some("RJCT"), None) => problems.push(Problem {
                    at: at_of(doc, t),
                    reason: "a rejected <TxInfAndSts> without <OrgnlEndToEndId>".into(),
                }),
                (Some(s), id) => items.push(Item::Info {
                    at: at_of(doc, t),
                    what: format!("transaction {}: status {s}", id.unwrap_or("?")),
                }),
                (None, _) => problems.push(Problem {
                    at: at_of(doc, t),
                    reason: "<TxInfAndSts> has no <TxSts>".into(),
                }),
            }
        }
    }
    items
}

/// The meaning of a BECS return code (ABA type 2 record, position 18).
pub fn aba_reason(code: &str) -> Option<&'static str> {
    Some(match code {
        "1" => "invalid BSB number",
        "2" => "payment stopped",
        "3" => "account closed",
        "4" => "customer deceased",
        "5" => "no account or incorrect account number",
        "6" => "refer to customer",
        "7" => "deleted",
        "8" => "invalid user id number",
        "9" => "technically invalid",
        _ => return None,
    })
}

fn parse_aba(bytes: &[u8]) -> Result<Vec<Item>, Vec<Problem>> {
    let mut items = Vec::new();
    let mut problems = Vec::new();
    let text = String::from_utf8_lossy(bytes);
    let mut saw_header = false;
    let mut saw_total = false;
    for (i, raw) in text.lines().enumerate() {
        let line = u64::try_from(i).unwrap_or(u64::MAX).saturating_add(1);
        let rec = raw.trim_end_matches('\r');
        if rec.trim().is_empty() {
            continue;
        }
        let at = At { line, col: 1 };
        if !rec.is_ascii() || rec.len() != 120 {
            problems.push(Problem {
                at,
                reason: format!(
                    "an ABA record is 120 ASCII characters; this one has {}",
                    rec.chars().count()
                ),
            });
            continue;
        }
        let f = |a: usize, b: usize| &rec[a - 1..b];
        match f(1, 1) {
            "0" => saw_header = true,
            "7" => saw_total = true,
            "1" => items.push(Item::Info {
                at,
                what: format!("type 1 record {}: not a return", f(63, 80).trim()),
            }),
            "2" => {
                let code = f(18, 18).to_string();
                let reference = f(63, 80).trim().to_string();
                let amount = f(21, 30);
                let amount_minor = amount
                    .bytes()
                    .all(|b| b.is_ascii_digit())
                    .then(|| amount.parse::<i64>().ok())
                    .flatten()
                    .filter(|a| *a > 0);
                let mut ok = true;
                if reference.is_empty() {
                    ok = false;
                    problems.push(Problem {
                        at: At { line, col: 63 },
                        reason: "empty lodgement reference".into(),
                    });
                }
                let Some(amount_minor) = amount_minor else {
                    problems.push(Problem {
                        at: At { line, col: 21 },
                        reason: format!("amount '{amount}' is not 10 digits of cents above 0"),
                    });
                    continue;
                };
                let Some(meaning) = aba_reason(&code) else {
                    problems.push(Problem {
                        at: At { line, col: 18 },
                        reason: format!("return code '{code}' is not a BECS return code (1-9)"),
                    });
                    continue;
                };
                if ok {
                    items.push(Item::AbaReturn {
                        at,
                        reference,
                        amount_minor,
                        reason: format!("BECS return {code}: {meaning}"),
                        code,
                    });
                }
            }
            other => problems.push(Problem {
                at,
                reason: format!("record type '{other}' is not 0, 1, 2 or 7"),
            }),
        }
    }
    if !saw_header || !saw_total {
        problems.push(Problem {
            at: At { line: 1, col: 1 },
            reason: "an ABA file starts with a type 0 record and ends with a type 7 record".into(),
        });
    }
    if problems.is_empty() {
        Ok(items)
    } else {
        Err(problems)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ARUDD: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<BACSDocument xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
 <Data>
  <ARUDD>
   <Header reportType="REFT1027" adviceNumber="001" currentProcessingDate="2026-12-17"/>
   <ServiceLicenseInformation userName="NORTHERN FIBRE" userNumber="123456"/>
   <Advice>
    <OriginatingAccountRecords>
     <OriginatingAccountRecord>
      <OriginatingAccount name="NORTHERN FIBRE" number="12345678" sortCode="40-12-34" type="0"/>
      <ReturnedDebitItem ref="BRC1002" transCode="17" returnCode="0" returnDescription="REFER TO PAYER" originalProcessingDate="2026-12-14" valueOf="48.00" currency="GBP">
       <PayerAccount number="31687754" ref="BRC1002" name="NORTHGATE DENTAL" sortCode="21-13-29"/>
      </ReturnedDebitItem>
     </OriginatingAccountRecord>
    </OriginatingAccountRecords>
   </Advice>
  </ARUDD>
 </Data>
</BACSDocument>
"#;

    #[test]
    fn arudd_items_carry_reference_amount_date_and_meaning() {
        assert_eq!(detect(ARUDD.as_bytes()), Ok(Format::Arudd));
        let items = parse(Format::Arudd, ARUDD.as_bytes()).unwrap();
        assert_eq!(
            items,
            vec![Item::BacsReturn {
                at: At { line: 11, col: 7 },
                mandate_ref: "BRC1002".into(),
                amount_minor: 4800,
                processing_date: NaiveDate::from_ymd_opt(2026, 12, 14).unwrap(),
                code: "0".into(),
                reason: "ARUDD 0: refer to payer".into(),
            }]
        );
        let bad = ARUDD
            .replace(r#"valueOf="48.00""#, r#"valueOf="-1""#)
            .replace("2026-12-14", "14/12/2026");
        let p = parse(Format::Arudd, bad.as_bytes()).unwrap_err();
        assert_eq!(p.len(), 2, "{p:?}");
        assert!(p.iter().all(|p| p.at.line == 11));
    }

    #[test]
    fn formats_are_told_by_content() {
        assert_eq!(
            detect(b"reference,status,reason\nINV-1,approved,\n"),
            Ok(Format::Csv)
        );
        let x = r#"<?xml version="1.0"?><Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.002.001.03"><CstmrPmtStsRpt/></Document>"#;
        assert_eq!(detect(x.as_bytes()), Ok(Format::Pain002));
        let a = r#"<BACSDocument><Data><MessagingAdvices/></Data></BACSDocument>"#;
        assert_eq!(detect(a.as_bytes()), Ok(Format::Addacs));
        assert!(
            detect(b"<html><body/></html>")
                .unwrap_err()
                .contains("<html>")
        );
        assert!(detect(b"<a><b></a>").unwrap_err().starts_with("1:"));
        let dtd = r#"<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><BACSDocument/>"#;
        assert!(detect(dtd.as_bytes()).is_err());
        let aba = format!("0{}\r\n", " ".repeat(119));
        assert_eq!(detect(aba.as_bytes()), Ok(Format::AbaReturn));
    }

    #[test]
    fn addacs_codes_give_mandate_statuses() {
        let x = r#"<BACSDocument><Data><MessagingAdvices>
<MessagingHeader reportType="REFT1019" adviceNumber="002"/>
<MessagingAdvice user-number="123456" record-type="A" effective-date="2026-12-10" reference="BRC1001" payer-name="HARBOUR CAFE LTD" reason-code="1"/>
<MessagingAdvice user-number="123456" record-type="A" effective-date="2026-12-11" reference="BRC1002" reason-code="Z"/>
</MessagingAdvices></Data></BACSDocument>"#;
        let p = parse(Format::Addacs, x.as_bytes()).unwrap_err();
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].at.line, 4);
        let ok = x.replace(r#"reason-code="Z""#, r#"reason-code="C""#);
        let items = parse(Format::Addacs, ok.as_bytes()).unwrap();
        assert!(
            matches!(&items[0], Item::Mandate { status: MandateStatus::Cancelled, mandate_ref, .. } if mandate_ref == "BRC1001")
        );
        assert!(matches!(
            &items[1],
            Item::Mandate {
                status: MandateStatus::Transferred,
                ..
            }
        ));
        assert!(!MandateStatus::collectable(Some("cancelled")));
        assert!(MandateStatus::collectable(Some("amended")));
        assert!(MandateStatus::collectable(None));
    }

    #[test]
    fn aba_return_records_by_position() {
        // The type 2 layout (positions as in the module doc).
        let rec2 = format!(
            "2062-001{:>9}{}{}{:010}{:<32}{:<18}{}{:>9}{:<16}{}{}",
            "98765",
            "6",
            "13",
            12345,
            "Z OBRIEN",
            "INV-2",
            "062-000",
            "12345678",
            "OUTBACK TELECOM",
            "14",
            "301500"
        );
        assert_eq!(rec2.len(), 120);
        let file = format!("0{}\r\n{rec2}\r\n7{}\r\n", " ".repeat(119), " ".repeat(119));
        let items = parse(Format::AbaReturn, file.as_bytes()).unwrap();
        assert_eq!(
            items,
            vec![Item::AbaReturn {
                at: At { line: 2, col: 1 },
                reference: "INV-2".into(),
                amount_minor: 12345,
                code: "6".into(),
                reason: "BECS return 6: refer to customer".into(),
            }]
        );
        let bad = file.replace("2062-001", "X062-001");
        assert!(parse(Format::AbaReturn, bad.as_bytes()).is_err());
    }
}
