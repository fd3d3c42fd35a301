//! The settings catalogue (docs/settings.md): every key, its default and its validator.
//!
//! Unknown keys and bad values are refused. Secrets are never settings: the SMTP
//! password comes only from `BILLRUN_SMTP_PASSWORD`, the Stripe key only from
//! `STRIPE_API_KEY`.

use chrono::NaiveTime;
use rust_decimal::Decimal;

/// What a value must look like.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Kind {
    Text,
    /// Free text that must not be empty.
    NonEmpty,
    Bool,
    /// A whole number >= 0.
    Count,
    /// A whole number >= 1.
    Positive,
    /// A whole number from 0 to the bound.
    UpTo(u32),
    /// A decimal amount >= 0.
    Amount,
    /// A tax rate as a fraction, 0 <= r < 1 (0.20 for 20 %).
    Fraction,
    /// A percentage >= 0.
    Percent,
    /// HH:MM
    Time,
    Port,
    Currency,
    OneOf(&'static [&'static str]),
    /// An `https://` URL (`http://` only to 127.0.0.1, ::1, localhost).
    Url,
    Email,
    Digits(usize),
}

pub struct Key {
    pub name: &'static str,
    pub default: Option<&'static str>,
    pub kind: Kind,
    pub help: &'static str,
}

macro_rules! key {
    ($n:expr, $d:expr, $k:expr, $h:expr) => {
        Key {
            name: $n,
            default: $d,
            kind: $k,
            help: $h,
        }
    };
}

use Kind::*;

/// Every setting billrun knows, in display order.
pub const KEYS: &[Key] = &[
    key!(
        "company.name",
        Some("Example Telecom Ltd"),
        NonEmpty,
        "provider name on invoices and emails"
    ),
    key!(
        "company.tax_id",
        None,
        Text,
        "VAT/GST/ABN number printed on invoices"
    ),
    key!(
        "company.address",
        None,
        Text,
        "provider address; use '\\n' or '|' between lines"
    ),
    key!("company.email", None, Text, "provider contact email"),
    key!(
        "currency",
        Some("GBP"),
        Currency,
        "ISO code: GBP, AUD or EUR"
    ),
    key!("invoice.prefix", Some("INV"), Text, "invoice number prefix"),
    key!(
        "credit.prefix",
        Some("CN"),
        Text,
        "credit note number prefix (credit notes have their own sequence)"
    ),
    key!(
        "invoice.next_number",
        Some("1"),
        Positive,
        "next sequential invoice number"
    ),
    key!(
        "invoice.due_days",
        Some("14"),
        Count,
        "days from invoice date to due date"
    ),
    key!(
        "invoice.default_message",
        None,
        Text,
        "message printed when neither run nor customer has one"
    ),
    key!(
        "invoice.min_amount",
        Some("0"),
        Amount,
        "totals below this are held over to the next run"
    ),
    key!(
        "invoice.itemise_max_lines",
        Some("2000"),
        UpTo(crate::domain::itemised::MAX_ITEMISE_LINES),
        "calls itemised in a PDF; above, a usage summary and NUMBER-calls.csv"
    ),
    key!(
        "tax.rate",
        Some("0.20"),
        Fraction,
        "tax rate as a fraction (0.20 = 20 %)"
    ),
    key!(
        "tax.name",
        Some("VAT"),
        NonEmpty,
        "tax name on invoices (VAT, GST)"
    ),
    key!(
        "postbill.min_change",
        Some("100"),
        Amount,
        "anomaly: minimum absolute change"
    ),
    key!(
        "prebill.change_percent",
        Some("50"),
        Percent,
        "pre-billing large_change flag threshold"
    ),
    key!(
        "payments.stale_days",
        Some("3"),
        Count,
        "warn when Xero payments are older than this"
    ),
    key!(
        "collect.dishonour_fee",
        Some("0"),
        Amount,
        "charge added when a collection is dishonoured"
    ),
    key!(
        "collect.max_retries",
        Some("2"),
        Count,
        "how often a referred collection is retried"
    ),
    key!(
        "stripe.api_base",
        Some("https://api.stripe.com"),
        Url,
        "Stripe API base URL"
    ),
    key!(
        "dd.provider",
        Some("file"),
        OneOf(&["file", "gocardless"]),
        "How Direct Debits are collected: a payment file (dd.format) or GoCardless"
    ),
    key!(
        "gocardless.api_base",
        Some("https://api.gocardless.com"),
        Url,
        "GoCardless API base URL (sandbox: https://api-sandbox.gocardless.com)"
    ),
    key!(
        "collect.auto",
        Some("false"),
        Bool,
        "Production ends by submitting the run's collections"
    ),
    key!(
        "collect.out_dir",
        None,
        Text,
        "Directory for payment files written by collect.auto (default: beside the database)"
    ),
    key!(
        "dd.format",
        Some("bacs18"),
        OneOf(&["bacs18", "aba", "sepa"]),
        "Direct Debit file format"
    ),
    key!("dd.sun", None, Digits(6), "Bacs service user number"),
    key!(
        "dd.sort_code",
        None,
        Text,
        "originator sort code NN-NN-NN (Bacs)"
    ),
    key!(
        "dd.account",
        None,
        Text,
        "originator account number (Bacs, ABA)"
    ),
    key!(
        "dd.name",
        None,
        Text,
        "originator/creditor name (Bacs, SEPA)"
    ),
    key!(
        "dd.user_name",
        None,
        Text,
        "ABA user name (bank's name for the originator)"
    ),
    key!("dd.user_id", None, Digits(6), "ABA APCA user id"),
    key!("dd.bank", None, Text, "ABA bank mnemonic, e.g. CBA"),
    key!("dd.bsb", None, Text, "ABA trace BSB NNN-NNN"),
    key!("dd.remitter", None, Text, "ABA remitter name"),
    key!("dd.creditor_id", None, Text, "SEPA creditor identifier"),
    key!("dd.iban", None, Text, "SEPA creditor IBAN"),
    key!("dd.bic", None, Text, "SEPA creditor BIC"),
    key!(
        "dd.holidays",
        None,
        Text,
        "file of extra closing days (YYYY-MM-DD a line) for the Direct Debit calendar"
    ),
    key!(
        "bands.peak_start",
        Some("07:00"),
        Time,
        "start of the peak band, Mon-Fri"
    ),
    key!(
        "bands.peak_end",
        Some("19:00"),
        Time,
        "end of the peak band, Mon-Fri"
    ),
    key!(
        "features.wholesale_fees",
        Some("false"),
        Bool,
        "bill carrier wholesale fixed-fee files"
    ),
    key!(
        "fees.markup_percent",
        Some("0"),
        Percent,
        "markup on wholesale fixed fees"
    ),
    key!("xero.enabled", Some("false"), Bool, "send invoices to Xero"),
    key!(
        "xero.mode",
        Some("csv"),
        OneOf(&["csv", "api"]),
        "csv: import files the operator uploads; api: `xero push` and `payments fetch` talk to Xero"
    ),
    key!(
        "xero.identity_base",
        Some("https://identity.xero.com"),
        Url,
        "Xero identity server (token URL BASE/connect/token)"
    ),
    key!(
        "xero.api_base",
        Some("https://api.xero.com/api.xro/2.0"),
        Url,
        "Xero Accounting API base URL"
    ),
    key!(
        "xero.account_code",
        Some("200"),
        Text,
        "Xero sales account code"
    ),
    key!(
        "xero.tax_type",
        None,
        Text,
        "Xero tax rate display name of taxed lines, as Xero lists it under Accounting > Tax rates (unset: '20% (VAT on Income)' for GBP at 20 %, 'GST on Income' for AUD)"
    ),
    key!(
        "xero.exempt_tax_type",
        None,
        Text,
        "Xero tax rate display name of untaxed lines (unset: 'No VAT' for GBP and EUR, 'GST Free Income' for AUD)"
    ),
    key!(
        "expert.users",
        None,
        Text,
        "OS users allowed to `request --expert` (comma-separated; unset: everyone)"
    ),
    key!("smtp.host", None, Text, "SMTP server host"),
    key!("smtp.port", Some("587"), Port, "SMTP server port"),
    key!(
        "smtp.security",
        Some("starttls"),
        OneOf(&["none", "starttls", "tls"]),
        "SMTP transport security"
    ),
    key!(
        "smtp.username",
        None,
        Text,
        "SMTP user (password only from BILLRUN_SMTP_PASSWORD)"
    ),
    key!("smtp.from", None, Email, "From address of invoice emails"),
    key!(
        "notify.email",
        None,
        Email,
        "where `autopilot` sends its summary (a run needs a person, a run completed)"
    ),
    key!(
        "print.out_dir",
        None,
        Text,
        "folder `autopilot` writes print bundles into (auto.print)"
    ),
    key!(
        "xero.out_dir",
        None,
        Text,
        "folder `autopilot` writes Xero import files into (auto.xero, csv mode)"
    ),
    key!(
        "auto.fetch_cdrs",
        Some("false"),
        Bool,
        "autopilot: fetch CDR files from the carriers' inboxes and rate them"
    ),
    key!(
        "auto.fetch_payments",
        Some("false"),
        Bool,
        "autopilot: payments fetch from Xero (xero.mode api; csv mode: nothing to fetch)"
    ),
    key!(
        "auto.confirm_payments",
        Some("false"),
        Bool,
        "autopilot: confirm the Check payments step"
    ),
    key!(
        "auto.confirm_cdrs",
        Some("false"),
        Bool,
        "autopilot: confirm the CDR check when every carrier has delivered and every file is processed"
    ),
    key!(
        "auto.confirm_errors",
        Some("false"),
        Bool,
        "autopilot: confirm billing errors when their carrier cost at risk is at most auto.errors_max_cost"
    ),
    key!(
        "auto.errors_max_cost",
        Some("0"),
        Amount,
        "autopilot: largest carrier cost of open billing errors it confirms"
    ),
    key!(
        "auto.prebill",
        Some("false"),
        Bool,
        "autopilot: run the pre-billing report and confirm it when no customer is flagged and none has a setup problem"
    ),
    key!(
        "auto.prebill_allow_flags",
        Some("new_customer,no_usage"),
        Text,
        "autopilot: pre-billing flags that do not stop auto.prebill (comma-separated)"
    ),
    key!(
        "auto.request",
        Some("false"),
        Bool,
        "autopilot: request bills (on or after the invoice date) and produce them"
    ),
    key!(
        "auto.confirm_postbill",
        Some("false"),
        Bool,
        "autopilot: run the post-billing report and confirm it when production has no anomalies"
    ),
    key!(
        "auto.xero",
        Some("false"),
        Bool,
        "autopilot: send invoices to Xero (csv mode: an import file into xero.out_dir)"
    ),
    key!(
        "auto.email",
        Some("false"),
        Bool,
        "autopilot: email the invoices"
    ),
    key!(
        "auto.print",
        Some("false"),
        Bool,
        "autopilot: write the print bundles into print.out_dir"
    ),
    key!(
        "auto.collect",
        Some("false"),
        Bool,
        "autopilot: collect (Direct Debit file beside the database, cards through Stripe)"
    ),
    key!(
        "auto.card_method",
        Some("stripe"),
        OneOf(&["stripe", "file"]),
        "autopilot, auto.collect: cards charged through Stripe, or a gateway batch file beside the database"
    ),
    key!(
        "auto.sync",
        Some("false"),
        Bool,
        "autopilot: collect sync (Stripe charges left processing, GoCardless events)"
    ),
];

pub fn find(name: &str) -> Option<&'static Key> {
    KEYS.iter().find(|k| k.name == name)
}

/// Validate `value` for `name`; returns the value to store (normalised).
pub fn validate(name: &str, value: &str) -> Result<String, String> {
    let key = find(name).ok_or_else(|| {
        let hint = KEYS
            .iter()
            .find(|k| k.name.split('.').next() == name.split('.').next())
            .map(|k| {
                format!(
                    " (did you mean {}? `billrun config list` shows all)",
                    k.name
                )
            })
            .unwrap_or_else(|| " (`billrun config list` shows all keys)".into());
        format!("unknown setting '{name}'{hint}")
    })?;
    let v = value.trim();
    if let Some(c) = v
        .chars()
        .find(|&c| crate::domain::csvfile::is_forbidden_control(c))
    {
        return Err(format!(
            "bad value {value:?} for {name}: contains the control character {} (settings reach email headers, PDFs and bank files); for line breaks in company.address use '|' or '\\n'",
            crate::domain::csvfile::describe_control(c)
        ));
    }
    let bad = |what: &str| Err(format!("bad value '{value}' for {name}: {what}"));
    match key.kind {
        Text => Ok(v.to_string()),
        NonEmpty if v.is_empty() => bad("must not be empty"),
        NonEmpty => Ok(v.to_string()),
        Bool => match v.to_ascii_lowercase().as_str() {
            "true" | "yes" | "on" | "1" => Ok("true".into()),
            "false" | "no" | "off" | "0" => Ok("false".into()),
            _ => bad("expected true or false"),
        },
        Count => v
            .parse::<u32>()
            .map(|n| n.to_string())
            .or_else(|_| bad("expected a whole number >= 0")),
        UpTo(max) => match v.parse::<u32>() {
            Ok(n) if n <= max => Ok(n.to_string()),
            _ => bad(&format!("expected a whole number from 0 to {max}")),
        },
        Positive => match v.parse::<u64>() {
            Ok(n) if n >= 1 => Ok(n.to_string()),
            _ => bad("expected a whole number >= 1"),
        },
        Amount | Percent => match crate::domain::money::parse(v) {
            Ok(d) if d >= Decimal::ZERO => Ok(d.normalize().to_string()),
            Ok(_) => bad("must not be negative"),
            Err(e) => bad(&e),
        },
        Fraction => match crate::domain::money::parse(v) {
            Ok(d) if d >= Decimal::ZERO && d < Decimal::ONE => Ok(d.to_string()),
            Ok(_) => bad("expected a fraction between 0 and 1, e.g. 0.20 for 20 %"),
            Err(e) => bad(&e),
        },
        Time => NaiveTime::parse_from_str(v, "%H:%M")
            .map(|t| t.format("%H:%M").to_string())
            .or_else(|_| bad("expected HH:MM, e.g. 07:00")),
        Port => match v.parse::<u16>() {
            Ok(p) if p > 0 => Ok(p.to_string()),
            _ => bad("expected a port number 1-65535"),
        },
        Currency => match v.to_ascii_uppercase().as_str() {
            c @ ("GBP" | "AUD" | "EUR") => Ok(c.to_string()),
            _ => bad("supported currencies are GBP, AUD and EUR"),
        },
        OneOf(opts) if opts.contains(&v) => Ok(v.to_string()),
        OneOf(opts) => bad(&format!("expected one of {}", opts.join(", "))),
        Url => match crate::domain::collect::check_api_base(v) {
            Ok(()) => Ok(v.trim_end_matches('/').to_string()),
            Err(e) => bad(&e),
        },
        Email if v.contains('@') && !v.contains(char::is_whitespace) => Ok(v.to_string()),
        Email => bad("expected an email address"),
        Digits(n) if v.len() == n && v.bytes().all(|b| b.is_ascii_digit()) => Ok(v.to_string()),
        Digits(n) => bad(&format!("expected exactly {n} digits")),
    }
}

/// Every setting as a typed value, read once per command (`store::settings::load`).
///
/// Defaults live only in [`KEYS`]; this type parses the effective values
/// (stored, else the catalogue default). Optional settings without a default
/// are `None` when unset or empty.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub company: Company,
    /// ISO code: GBP, AUD or EUR.
    pub currency: String,
    pub invoice: InvoiceSettings,
    pub tax: Tax,
    /// Post-billing anomaly: minimum absolute change.
    pub postbill_min_change: Decimal,
    /// Pre-billing `large_change` flag threshold, in percent.
    pub prebill_change_percent: Decimal,
    /// Warn when Xero payments are older than this many days.
    pub payments_stale_days: u32,
    pub collect: CollectSettings,
    /// Stripe API base URL (no trailing slash).
    pub stripe_api_base: String,
    /// `dd.provider`: `file` or `gocardless`.
    pub dd_provider: String,
    /// GoCardless API base URL (no trailing slash).
    pub gocardless_api_base: String,
    pub dd: DirectDebit,
    /// Start and end of the peak band, Monday to Friday.
    pub peak_start: NaiveTime,
    pub peak_end: NaiveTime,
    /// Bill carrier wholesale fixed-fee files.
    pub wholesale_fees: bool,
    /// Markup on wholesale fixed fees, in percent.
    pub fees_markup_percent: Decimal,
    pub xero: XeroSettings,
    pub smtp: Smtp,
    /// OS users allowed to skip the checks with `request --expert`
    /// (comma-separated); `None`: everyone.
    pub expert_users: Option<String>,
    /// Credit note number prefix (`credit.prefix`).
    pub credit_prefix: String,
    /// Where `autopilot` sends its summaries.
    pub notify_email: Option<String>,
    /// Folder for print bundles written by `autopilot`.
    pub print_out_dir: Option<String>,
    /// Folder for Xero import files written by `autopilot`.
    pub xero_out_dir: Option<String>,
    /// The autopilot's policy (`auto.*`).
    pub auto: AutoPolicy,
}

/// What `billrun autopilot` may do on its own (`auto.*`, all off by default).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AutoPolicy {
    pub fetch_cdrs: bool,
    pub fetch_payments: bool,
    pub confirm_payments: bool,
    pub confirm_cdrs: bool,
    pub confirm_errors: bool,
    /// Largest carrier cost of open billing errors confirmed on its own.
    pub errors_max_cost: Decimal,
    pub prebill: bool,
    /// Pre-billing flags that do not stop `auto.prebill`.
    pub prebill_allow_flags: Vec<String>,
    pub request: bool,
    pub confirm_postbill: bool,
    pub xero: bool,
    pub email: bool,
    pub print: bool,
    pub collect: bool,
    /// Cards through Stripe (`false`: a gateway batch file).
    pub cards_by_stripe: bool,
    pub sync: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Company {
    pub name: String,
    pub tax_id: Option<String>,
    pub address: Option<String>,
    pub email: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct InvoiceSettings {
    pub prefix: String,
    /// The next sequential invoice number (production never reuses one).
    pub next_number: u64,
    pub due_days: u32,
    pub default_message: Option<String>,
    /// Totals below this are held over to the next run.
    pub min_amount: Decimal,
    /// An invoice with more calls than this prints a usage summary and
    /// puts its calls in `NUMBER-calls.csv` (`domain::itemised`).
    pub itemise_max_lines: u32,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Tax {
    /// A fraction: 0.20 for 20 %.
    pub rate: Decimal,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct CollectSettings {
    pub dishonour_fee: Decimal,
    pub max_retries: u32,
    /// `collect.auto`: production ends by submitting the collections.
    pub auto: bool,
    /// `collect.out_dir`: where `collect.auto` writes payment files.
    pub out_dir: Option<String>,
}

/// The originator's Direct Debit details, per `dd.format`.
#[derive(Debug, Clone, PartialEq)]
pub struct DirectDebit {
    /// `bacs18`, `aba` or `sepa`.
    pub format: String,
    pub sun: Option<String>,
    pub sort_code: Option<String>,
    pub account: Option<String>,
    pub name: Option<String>,
    pub user_name: Option<String>,
    pub user_id: Option<String>,
    pub bank: Option<String>,
    pub bsb: Option<String>,
    pub remitter: Option<String>,
    pub creditor_id: Option<String>,
    pub iban: Option<String>,
    pub bic: Option<String>,
    /// A file of extra closing days added to the format's calendar.
    pub holidays: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct XeroSettings {
    pub enabled: bool,
    /// Talk to Xero through its API (`xero.mode = api`), not import files.
    pub api: bool,
    /// Identity server base URL (no trailing slash).
    pub identity_base: String,
    /// Accounting API base URL (no trailing slash).
    pub api_base: String,
    pub account_code: String,
    pub tax_type: String,
    pub exempt_tax_type: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Smtp {
    pub host: Option<String>,
    pub port: u16,
    /// `none`, `starttls` or `tls`.
    pub security: String,
    pub username: Option<String>,
    pub from: Option<String>,
}

impl Settings {
    /// Build from stored values: `stored(key)` is the stored text of a key, if
    /// any. Unset keys take the catalogue default. A stored value that no
    /// longer parses (edited by hand) is an error naming the key and the fix.
    pub fn from_stored(stored: impl Fn(&str) -> Option<String>) -> Result<Settings, String> {
        let text = |name: &str| -> Option<String> {
            let default = find(name).and_then(|k| k.default).map(String::from);
            // An empty stored value means "unset": the default applies.
            stored(name).filter(|v| !v.is_empty()).or(default)
        };
        let bad = |name: &str, v: &str, why: &str| {
            format!(
                "setting {name} = '{v}' is not valid ({why}): fix it with billrun config set {name} VALUE"
            )
        };
        let req = |name: &str| text(name).unwrap_or_default();
        let dec = |name: &str| -> Result<Decimal, String> {
            let v = req(name);
            crate::domain::money::parse(&v).map_err(|e| bad(name, &v, &e))
        };
        fn num<T: std::str::FromStr>(
            v: String,
            name: &str,
            bad: &dyn Fn(&str, &str, &str) -> String,
        ) -> Result<T, String> {
            v.parse()
                .map_err(|_| bad(name, &v, "expected a whole number"))
        }
        let time = |name: &str| -> Result<NaiveTime, String> {
            let v = req(name);
            NaiveTime::parse_from_str(&v, "%H:%M").map_err(|e| bad(name, &v, &e.to_string()))
        };
        let flag = |name: &str| text(name).as_deref() == Some("true");
        Ok(Settings {
            company: Company {
                name: req("company.name"),
                tax_id: text("company.tax_id"),
                address: text("company.address"),
                email: text("company.email"),
            },
            currency: req("currency"),
            invoice: InvoiceSettings {
                prefix: text("invoice.prefix").unwrap_or_default(),
                next_number: num(req("invoice.next_number"), "invoice.next_number", &bad)?,
                due_days: num(req("invoice.due_days"), "invoice.due_days", &bad)?,
                default_message: text("invoice.default_message"),
                min_amount: dec("invoice.min_amount")?,
                itemise_max_lines: num(
                    req("invoice.itemise_max_lines"),
                    "invoice.itemise_max_lines",
                    &bad,
                )?,
            },
            tax: Tax {
                rate: dec("tax.rate")?,
                name: req("tax.name"),
            },
            postbill_min_change: dec("postbill.min_change")?,
            prebill_change_percent: dec("prebill.change_percent")?,
            payments_stale_days: num(req("payments.stale_days"), "payments.stale_days", &bad)?,
            collect: CollectSettings {
                dishonour_fee: dec("collect.dishonour_fee")?,
                max_retries: num(req("collect.max_retries"), "collect.max_retries", &bad)?,
                auto: flag("collect.auto"),
                out_dir: text("collect.out_dir"),
            },
            stripe_api_base: req("stripe.api_base"),
            dd_provider: req("dd.provider"),
            gocardless_api_base: req("gocardless.api_base"),
            dd: DirectDebit {
                format: req("dd.format"),
                sun: text("dd.sun"),
                sort_code: text("dd.sort_code"),
                account: text("dd.account"),
                name: text("dd.name"),
                user_name: text("dd.user_name"),
                user_id: text("dd.user_id"),
                bank: text("dd.bank"),
                bsb: text("dd.bsb"),
                remitter: text("dd.remitter"),
                creditor_id: text("dd.creditor_id"),
                iban: text("dd.iban"),
                bic: text("dd.bic"),
                holidays: text("dd.holidays"),
            },
            peak_start: time("bands.peak_start")?,
            peak_end: time("bands.peak_end")?,
            wholesale_fees: flag("features.wholesale_fees"),
            fees_markup_percent: dec("fees.markup_percent")?,
            xero: XeroSettings {
                enabled: flag("xero.enabled"),
                api: text("xero.mode").as_deref() == Some("api"),
                identity_base: req("xero.identity_base"),
                api_base: req("xero.api_base"),
                account_code: req("xero.account_code"),
                tax_type: text("xero.tax_type").unwrap_or_else(|| {
                    xero_tax_rate_name(&req("currency"), dec("tax.rate").unwrap_or_default())
                }),
                exempt_tax_type: text("xero.exempt_tax_type")
                    .unwrap_or_else(|| xero_exempt_rate_name(&req("currency")).into()),
            },
            smtp: Smtp {
                host: text("smtp.host"),
                port: num(req("smtp.port"), "smtp.port", &bad)?,
                security: req("smtp.security"),
                username: text("smtp.username"),
                from: text("smtp.from"),
            },
            expert_users: text("expert.users"),
            credit_prefix: text("credit.prefix").unwrap_or_default(),
            notify_email: text("notify.email"),
            print_out_dir: text("print.out_dir"),
            xero_out_dir: text("xero.out_dir"),
            auto: AutoPolicy {
                fetch_cdrs: flag("auto.fetch_cdrs"),
                fetch_payments: flag("auto.fetch_payments"),
                confirm_payments: flag("auto.confirm_payments"),
                confirm_cdrs: flag("auto.confirm_cdrs"),
                confirm_errors: flag("auto.confirm_errors"),
                errors_max_cost: dec("auto.errors_max_cost")?,
                prebill: flag("auto.prebill"),
                prebill_allow_flags: req("auto.prebill_allow_flags")
                    .split(',')
                    .map(|f| f.trim().to_string())
                    .filter(|f| !f.is_empty())
                    .collect(),
                request: flag("auto.request"),
                confirm_postbill: flag("auto.confirm_postbill"),
                xero: flag("auto.xero"),
                email: flag("auto.email"),
                print: flag("auto.print"),
                collect: flag("auto.collect"),
                cards_by_stripe: req("auto.card_method") != "file",
                sync: flag("auto.sync"),
            },
        })
    }

    /// The catalogue defaults alone (an empty settings table).
    #[cfg(test)]
    pub fn defaults() -> Settings {
        Settings::from_stored(|_| None).expect("every default parses (tested)")
    }
}

/// Xero's CSV import wants the tax rate's display name as the organisation's
/// Xero shows it (not the API code such as `OUTPUT2`). The default follows the
/// currency's country and the tax rate: UK `20% (VAT on Income)`, Australia
/// `GST on Income`; euro organisations name their rates per country, so the
/// UK pattern is only a starting point there.
pub fn xero_tax_rate_name(currency: &str, rate: Decimal) -> String {
    match currency {
        "AUD" => "GST on Income".into(),
        _ if rate.is_zero() => xero_exempt_rate_name(currency).into(),
        _ => format!(
            "{}% (VAT on Income)",
            (rate * Decimal::ONE_HUNDRED).normalize()
        ),
    }
}

/// The display name of Xero's rate for untaxed lines (tax-exempt customers).
pub fn xero_exempt_rate_name(currency: &str) -> &'static str {
    match currency {
        "AUD" => "GST Free Income",
        _ => "No VAT",
    }
}

/// Currency symbol for documents.
pub fn currency_symbol(code: &str) -> &'static str {
    match code {
        "GBP" => "£",
        "EUR" => "€",
        _ => "$",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_default_is_valid() {
        for k in KEYS {
            if let Some(d) = k.default {
                assert_eq!(
                    validate(k.name, d).as_deref(),
                    Ok(d),
                    "default of {}",
                    k.name
                );
            }
        }
    }

    #[test]
    fn typed_settings_take_defaults_and_stored_values() {
        let d = Settings::defaults();
        assert_eq!(d.invoice.due_days, 14);
        assert_eq!(d.invoice.itemise_max_lines, 2000);
        assert_eq!(d.tax.rate, Decimal::new(20, 2));
        assert_eq!(d.smtp.port, 587);
        assert_eq!(d.dd.sun, None);
        assert!(!d.xero.enabled);
        assert_eq!(
            d.auto,
            AutoPolicy {
                prebill_allow_flags: vec!["new_customer".into(), "no_usage".into()],
                cards_by_stripe: true,
                ..AutoPolicy::default()
            },
            "the autopilot does nothing by default"
        );
        assert_eq!(d.notify_email, None);
        assert!(!d.xero.api, "csv mode by default");
        assert_eq!(d.xero.api_base, "https://api.xero.com/api.xro/2.0");
        assert_eq!(d.xero.identity_base, "https://identity.xero.com");
        assert!(validate("xero.mode", "api").is_ok());
        assert!(validate("xero.mode", "web").is_err());
        assert!(validate("xero.api_base", "http://api.xero.com/api.xro/2.0").is_err());
        assert!(validate("xero.api_base", "http://127.0.0.1:9/api.xro/2.0").is_ok());
        assert_eq!(d.xero.tax_type, "20% (VAT on Income)");
        assert_eq!(d.xero.exempt_tax_type, "No VAT");
        let au = Settings::from_stored(|k| match k {
            "currency" => Some("AUD".into()),
            "tax.rate" => Some("0.10".into()),
            _ => None,
        })
        .unwrap();
        assert_eq!(au.xero.tax_type, "GST on Income");
        assert_eq!(au.xero.exempt_tax_type, "GST Free Income");
        let gb5 = Settings::from_stored(|k| (k == "tax.rate").then(|| "0.05".into())).unwrap();
        assert_eq!(gb5.xero.tax_type, "5% (VAT on Income)");
        let own = Settings::from_stored(|k| (k == "xero.tax_type").then(|| "OUTPUT2".into()));
        assert_eq!(own.unwrap().xero.tax_type, "OUTPUT2");
        let s = Settings::from_stored(|k| match k {
            "invoice.due_days" => Some("30".into()),
            "xero.enabled" => Some("true".into()),
            "dd.sun" => Some("123456".into()),
            "company.tax_id" => Some(String::new()),
            "invoice.prefix" => Some(String::new()),
            _ => None,
        })
        .unwrap();
        assert_eq!(s.invoice.prefix, "INV", "empty means the default");
        assert_eq!(s.invoice.due_days, 30);
        assert!(s.xero.enabled);
        assert_eq!(s.dd.sun.as_deref(), Some("123456"));
        assert_eq!(s.company.tax_id, None);
        let e =
            Settings::from_stored(|k| (k == "tax.rate").then(|| "ten".to_string())).unwrap_err();
        assert!(e.contains("tax.rate") && e.contains("config set"), "{e}");
    }

    #[test]
    fn refuses_unknown_keys_and_bad_values() {
        assert!(
            validate("tax.rat", "0.2")
                .unwrap_err()
                .contains("did you mean tax.rate")
        );
        assert!(validate("nonsense", "1").is_err());
        let e = validate("company.name", "Acme\r\nBcc: x@evil").unwrap_err();
        assert!(e.contains("U+000D (carriage return)"), "{e}");
        assert!(validate("company.address", "1 High St\nLeeds").is_err());
        assert!(validate("company.address", "1 High St|Leeds").is_ok());
        assert!(validate("tax.rate", "20").is_err());
        assert!(validate("tax.rate", "-0.1").is_err());
        assert!(validate("tax.rate", "0.1").is_ok());
        assert!(validate("dd.format", "swift").is_err());
        assert!(validate("bands.peak_start", "7am").is_err());
        assert_eq!(validate("bands.peak_start", "7:00").unwrap(), "07:00");
        assert!(validate("invoice.next_number", "0").is_err());
        assert!(validate("xero.enabled", "maybe").is_err());
        assert_eq!(validate("xero.enabled", "YES").unwrap(), "true");
        assert!(validate("smtp.port", "70000").is_err());
        assert!(validate("currency", "usd").is_err());
        assert_eq!(validate("currency", "aud").unwrap(), "AUD");
        assert!(validate("dd.sun", "12345").is_err());
        assert!(validate("invoice.min_amount", "abc").is_err());
        assert_eq!(validate("invoice.itemise_max_lines", "0").unwrap(), "0");
        assert_eq!(
            validate("invoice.itemise_max_lines", "20000").unwrap(),
            "20000"
        );
        assert!(validate("invoice.itemise_max_lines", "20001").is_err());
        assert!(validate("invoice.itemise_max_lines", "-1").is_err());
    }
}
