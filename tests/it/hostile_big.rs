//! Issue 15, item 20: an account with very many calls. Above
//! `invoice.itemise_max_lines` the PDF carries a usage summary and a note,
//! the calls go to `NUMBER-calls.csv` beside it (recorded with its SHA-256,
//! re-rendered on resume like a PDF) and the invoice email attaches it.

use crate::support::sha256_hex;

use crate::support::Env;
use crate::support::smtp::SmtpServer;
use mail_parser::{MessageParser, MimeHeaders};

/// Calls of the big account (the test keeps `invoice.itemise_max_lines` at
/// 100 so that this stays quick).
const CALLS: usize = 30_000;

fn pdftotext(path: &str) -> String {
    let out = std::process::Command::new("pdftotext")
        .args(["-layout", path, "-"])
        .output()
        .expect("pdftotext (poppler-utils) is needed: apt-get install poppler-utils");
    assert!(out.status.success(), "pdftotext rejected {path}");
    String::from_utf8(out.stdout).unwrap()
}

fn db(e: &Env) -> rusqlite::Connection {
    rusqlite::Connection::open(&e.db).unwrap()
}

/// One email customer with CALLS calls (voice to mobiles and landlines, and
/// text messages) and one print customer with 3 calls; a run `2026-11`
/// produced with `invoice.itemise_max_lines` = 100.
fn produced(smtp_port: u16) -> Env {
    let e = Env::new();
    e.ok(&["init"]);
    for (k, v) in [
        ("company.name", "Big Calls Telecom"),
        ("company.email", "billing@bigcalls.example"),
        ("invoice.itemise_max_lines", "100"),
        ("smtp.host", "127.0.0.1"),
        ("smtp.port", &smtp_port.to_string()),
        ("smtp.security", "none"),
        ("smtp.from", "billing@bigcalls.example"),
    ] {
        e.ok(&["config", "set", k, v]);
    }
    let customers = e.write(
        "customers.csv",
        "account,name,email,delivery,payment_method,address1,town,postcode\n\
         BIG001,Big Call Centre Ltd,accounts@bigcalls.example,email,manual,1 Exchange Quay,Salford,M5 3EQ\n\
         SML001,Corner Cafe,cafe@corner.example,print,manual,3 High Street,Leeds,LS1 1AB\n",
    );
    let services = e.write(
        "services.csv",
        "service,account,plan,start_date,end_date,description,billed_to\n\
         01610000001,BIG001,HOME,2025-01-01,,Call centre trunk,2026-10-31\n\
         01130000002,SML001,HOME,2025-01-01,,Cafe line,2026-10-31\n",
    );
    for (what, file) in [
        (
            "tariffs",
            crate::support::fixture("tariffs.csv").display().to_string(),
        ),
        (
            "plans",
            crate::support::fixture("plans.csv").display().to_string(),
        ),
        ("customers", customers),
        ("services", services),
    ] {
        e.ok(&[what, "import", &file]);
    }
    let mut cdrs = String::from(
        "service,start,duration,destination,call_type,quantity,carrier_cost,record_id\n",
    );
    let start = chrono::NaiveDate::from_ymd_opt(2026, 11, 1)
        .unwrap()
        .and_hms_opt(0, 0, 0)
        .unwrap();
    for k in 0..CALLS {
        let at = (start + chrono::Duration::seconds(k as i64 * 80)).format("%Y-%m-%dT%H:%M:%S");
        let line = match k % 3 {
            0 => format!(
                "01610000001,{at},{},447700{:06},voice,,0.01,B{k}",
                5 + k % 1795,
                k
            ),
            1 => format!(
                "01610000001,{at},{},44113{:07},voice,,0.01,B{k}",
                5 + k % 900,
                k
            ),
            _ => format!("01610000001,{at},,447700{:06},sms,1,0.01,B{k}", k),
        };
        cdrs.push_str(&line);
        cdrs.push('\n');
    }
    for k in 0..3 {
        cdrs.push_str(&format!(
            "01130000002,2026-11-0{}T10:00:00,60,441134960{k:03},voice,,0.01,S{k}\n",
            k + 2
        ));
    }
    let file = e.write("cdrs.csv", &cdrs);
    e.ok(&["carriers", "add", "bench", "--format", "billrun"]);
    e.ok(&["cdr", "import", &file, "--carrier", "bench"]);
    e.ok(&[
        "new",
        "--name",
        "2026-11",
        "--invoice-date",
        "2026-12-01",
        "--cutoff",
        "2026-11-30",
    ]);
    e.ok(&["request", "2026-11", "--expert", "--yes"]);
    e
}

/// (number, id, pdf path, calls path) of an account's invoice.
fn invoice(e: &Env, account: &str) -> (String, i64, String, Option<String>) {
    db(e)
        .query_row(
            "SELECT number, id, pdf_path, calls_path FROM invoices WHERE account = ?1",
            [account],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .unwrap()
}

#[test]
fn a_big_account_gets_a_summary_in_its_pdf_and_its_calls_in_a_csv_beside_it_and_in_its_email() {
    let server = SmtpServer::start().unwrap();
    let e = produced(server.port());
    assert_eq!(e.json(&["status", "2026-11"])["run"]["status"], "completed");
    let (number, id, pdf_path, calls_path) = invoice(&e, "BIG001");
    let calls_path = calls_path.expect("the big invoice's calls file is recorded");
    let csv_name = format!("{number}-calls.csv");
    assert_eq!(
        std::path::Path::new(&calls_path).file_name().unwrap(),
        csv_name.as_str()
    );
    assert_eq!(
        std::path::Path::new(&calls_path).parent(),
        std::path::Path::new(&pdf_path).parent(),
        "written beside the PDF"
    );

    // The PDF: the usage summary and the note, not the calls.
    let text = pdftotext(&pdf_path);
    for needle in [
        "Usage summary",
        &format!("Itemised calls: see {csv_name} ({CALLS} calls"),
        "Calls: UK mobile",
        "Calls: UK landline",
        "Messages: SMS",
        &format!("{CALLS} from 01610000001"),
    ] {
        assert!(text.contains(needle), "{needle:?} missing from:\n{text}");
    }
    assert!(
        !text.contains("DURATION"),
        "no itemised calls table:\n{text}"
    );
    assert!(text.matches("Page ").count() <= 2, "a short PDF:\n{text}");
    let pdf_len = std::fs::metadata(&pdf_path).unwrap().len();
    assert!(pdf_len < 200_000, "the PDF is {pdf_len} bytes");

    // The CSV: every call exactly once, with the invoice's usage total.
    let csv_bytes = std::fs::read(&calls_path).unwrap();
    let mut reader = csv::Reader::from_reader(csv_bytes.as_slice());
    assert_eq!(
        reader.headers().unwrap().iter().collect::<Vec<_>>(),
        [
            "service",
            "date",
            "time",
            "destination",
            "description",
            "type",
            "quantity",
            "units",
            "amount"
        ]
    );
    let mut seen = std::collections::HashSet::new();
    let mut total = rust_decimal::Decimal::ZERO;
    let mut rows = 0;
    for r in reader.records() {
        let r = r.unwrap();
        assert_eq!(&r[0], "01610000001");
        assert!(
            seen.insert(format!("{} {} {}", &r[1], &r[2], &r[3])),
            "a call twice: {r:?}"
        );
        total += r[8].parse::<rust_decimal::Decimal>().unwrap();
        rows += 1;
    }
    assert_eq!(rows, CALLS);
    let conn = db(&e);
    let (billed, usage_lines): (i64, i64) = conn
        .query_row(
            "SELECT (SELECT SUM(charge_minor) FROM cdrs WHERE invoice_id = ?1),
                    (SELECT SUM(amount_minor) FROM invoice_lines
                     WHERE invoice_id = ?1 AND category = 'usage')",
            [id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(billed, usage_lines);
    assert_eq!(total, rust_decimal::Decimal::new(usage_lines, 2));
    let recorded: String = conn
        .query_row(
            "SELECT calls_sha256 FROM invoices WHERE id = ?1",
            [id],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(recorded, sha256_hex(&csv_bytes));

    let shown = e.json(&["invoices", "show", &number]);
    assert_eq!(shown["calls_file"], calls_path.as_str());

    // The small invoice lists its calls and has no calls file.
    let (_, _, small_pdf, small_calls) = invoice(&e, "SML001");
    assert_eq!(small_calls, None);
    let small = pdftotext(&small_pdf);
    assert!(small.contains("Itemised calls"), "{small}");
    assert!(small.contains("441134960001"), "{small}");

    // The email carries the PDF and the CSV.
    let out = e.json(&["email", "2026-11"]);
    assert_eq!(out["sent"].as_array().unwrap().len(), 1, "{out}");
    let got = server.messages();
    assert_eq!(got.len(), 1);
    let m = MessageParser::default().parse(&got[0].data).unwrap();
    assert_eq!(m.attachment_count(), 2);
    let pdf_att = m.attachment(0).unwrap();
    assert_eq!(
        pdf_att.attachment_name(),
        Some(format!("{number}.pdf").as_str())
    );
    let csv_att = m.attachment(1).unwrap();
    assert_eq!(csv_att.attachment_name(), Some(csv_name.as_str()));
    let ct = csv_att.content_type().unwrap();
    assert_eq!((ct.ctype(), ct.subtype()), ("text", Some("csv")));
    assert_eq!(csv_att.contents(), csv_bytes.as_slice());
    assert!(got[0].data.len() < 25_000_000);
}

#[test]
fn a_resume_recreates_a_deleted_calls_file_byte_identically() {
    let server = SmtpServer::start().unwrap();
    let e = produced(server.port());
    let (number, _, pdf_path, calls_path) = invoice(&e, "BIG001");
    let calls_path = calls_path.unwrap();
    let csv_before = std::fs::read(&calls_path).unwrap();
    let pdf_before = std::fs::read(&pdf_path).unwrap();
    // What a kill after recording the files, before the run completed,
    // leaves; then the calls file is lost.
    db(&e)
        .execute(
            "UPDATE runs SET status = 'running' WHERE name = '2026-11'",
            [],
        )
        .unwrap();
    std::fs::remove_file(&calls_path).unwrap();
    // A temporary file of a killed writer of the calls file.
    let dir = std::path::Path::new(&calls_path).parent().unwrap();
    let leftover = dir.join(format!(".{number}-calls.csv.K1ll3d.tmp"));
    std::fs::write(&leftover, b"service,date").unwrap();

    let out = e.ok(&["produce", "2026-11"]);
    assert!(
        out.contains("1 recorded PDFs are missing or changed"),
        "{out}"
    );
    assert!(
        !leftover.exists(),
        "the killed writer's temporary file is removed"
    );
    assert_eq!(std::fs::read(&calls_path).unwrap(), csv_before);
    assert_eq!(std::fs::read(&pdf_path).unwrap(), pdf_before);
    assert_eq!(
        invoice(&e, "BIG001").3.as_deref(),
        Some(calls_path.as_str())
    );
    assert_eq!(e.json(&["status", "2026-11"])["run"]["status"], "completed");

    // A calls file changed on disk is found and rendered again too.
    db(&e)
        .execute(
            "UPDATE runs SET status = 'running' WHERE name = '2026-11'",
            [],
        )
        .unwrap();
    std::fs::write(&calls_path, b"service\n").unwrap();
    e.ok(&["produce", "2026-11"]);
    assert_eq!(std::fs::read(&calls_path).unwrap(), csv_before);

    // An email over 25 MB is refused for that invoice, saying why; nothing
    // goes to the server. (A calls file of 24 MB: sparse, written at once.)
    std::fs::OpenOptions::new()
        .write(true)
        .open(&calls_path)
        .unwrap()
        .set_len(24_000_000)
        .unwrap();
    let err = e.fails(5, &["email", "2026-11"]);
    assert!(err.contains("1 invoices could not be emailed"), "{err}");
    let reason: String = db(&e)
        .query_row(
            "SELECT reply FROM email_attempts ORDER BY id DESC LIMIT 1",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(
        reason.contains(&format!("{number}-calls.csv (24.0 MB)")) && reason.contains("25.0 MB"),
        "{reason}"
    );
    assert!(server.messages().is_empty());
}
