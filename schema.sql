-- billrun database schema.
--
-- Numbered, append-only migrations: each begins with a line `-- migration: N`.
-- At open, every migration above `PRAGMA user_version` runs in its own
-- transaction and user_version becomes N. Never edit a migration that has
-- landed on main; append a new one instead.
--
-- Money: rounded amounts are INTEGER minor units (pence/cents, columns named
-- `*_minor`) so SQL sums stay exact; unrounded prices (rates, plan fees) are
-- decimal TEXT. Never REAL. Dates are TEXT `YYYY-MM-DD`, times
-- `YYYY-MM-DDTHH:MM:SS` (local), audit times RFC 3339 UTC.

-- migration: 1
CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE cycles (
    name     TEXT PRIMARY KEY,
    day      INTEGER NOT NULL CHECK (day BETWEEN 1 AND 31),
    due_days INTEGER CHECK (due_days IS NULL OR due_days >= 0)
);
INSERT INTO cycles (name, day, due_days) VALUES ('monthly', 1, NULL);

CREATE TABLE customers (
    account           TEXT PRIMARY KEY,
    name              TEXT NOT NULL,
    email             TEXT,
    delivery          TEXT NOT NULL CHECK (delivery IN ('email', 'print', 'both')),
    payment_method    TEXT NOT NULL CHECK (payment_method IN ('direct_debit', 'card', 'manual')),
    bank_branch       TEXT,
    bank_account      TEXT,
    bank_account_name TEXT,
    iban              TEXT,
    bic               TEXT,
    mandate_ref       TEXT,
    mandate_date      TEXT,
    card_token        TEXT,
    address1          TEXT,
    address2          TEXT,
    town              TEXT,
    region            TEXT,
    postcode          TEXT,
    invoice_message   TEXT,
    tax_exempt        INTEGER NOT NULL DEFAULT 0,
    cycle             TEXT NOT NULL DEFAULT 'monthly',
    min_invoice       TEXT,
    created_at        TEXT NOT NULL
);

CREATE TABLE rates (
    id             INTEGER PRIMARY KEY,
    tariff         TEXT NOT NULL,
    prefix         TEXT NOT NULL,
    description    TEXT NOT NULL,
    call_type      TEXT NOT NULL CHECK (call_type IN ('voice', 'sms', 'data')),
    band           TEXT NOT NULL CHECK (band IN ('all', 'peak', 'offpeak')),
    flagfall       TEXT NOT NULL,
    rate           TEXT NOT NULL,
    increment      TEXT NOT NULL,
    minimum_charge TEXT NOT NULL,
    maximum_charge TEXT,
    UNIQUE (tariff, prefix, call_type, band)
);

CREATE TABLE plans (
    plan        TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    monthly_fee TEXT NOT NULL,
    tariff      TEXT NOT NULL
);

CREATE TABLE services (
    service     TEXT PRIMARY KEY,
    account     TEXT NOT NULL REFERENCES customers(account),
    plan        TEXT NOT NULL REFERENCES plans(plan),
    start_date  TEXT NOT NULL,
    end_date    TEXT,
    description TEXT NOT NULL DEFAULT ''
);
CREATE INDEX services_account ON services(account);

CREATE TABLE runs (
    id               INTEGER PRIMARY KEY,
    name             TEXT NOT NULL UNIQUE,
    cycle            TEXT NOT NULL REFERENCES cycles(name),
    status           TEXT NOT NULL CHECK (status IN
                        ('pending', 'ready', 'approved', 'requested', 'running', 'completed')),
    invoice_date     TEXT,
    cutoff_date      TEXT,
    due_date         TEXT,
    invoice_message  TEXT,
    expert_by        TEXT,
    prebill_snapshot TEXT,
    prebill_at       TEXT,
    created_at       TEXT NOT NULL,
    requested_at     TEXT,
    completed_at     TEXT
);
-- `cycles tick` is idempotent: one run per cycle and invoice date.
CREATE UNIQUE INDEX runs_cycle_date ON runs(cycle, invoice_date) WHERE invoice_date IS NOT NULL;

-- Operator confirmations of checklist steps (the only stored step state).
CREATE TABLE confirmations (
    run_id       INTEGER NOT NULL REFERENCES runs(id),
    step         TEXT NOT NULL,
    operator     TEXT NOT NULL,
    confirmed_at TEXT NOT NULL,
    PRIMARY KEY (run_id, step)
);

CREATE TABLE audit (
    id       INTEGER PRIMARY KEY,
    at       TEXT NOT NULL,
    operator TEXT NOT NULL,
    command  TEXT NOT NULL,
    run_id   INTEGER,
    action   TEXT NOT NULL,
    detail   TEXT NOT NULL DEFAULT ''
);
CREATE INDEX audit_run ON audit(run_id);

-- migration: 2
-- CDR sources, files, lines and billing errors (SPEC §4, §5); charges,
-- payments and wholesale fees (§6, §7); invoices (§9).

CREATE TABLE carriers (
    name       TEXT PRIMARY KEY,
    format     TEXT NOT NULL,            -- billrun | asterisk | mapped:PATH
    inbox      TEXT,
    created_at TEXT NOT NULL
);

CREATE TABLE cdr_files (
    id           INTEGER PRIMARY KEY,
    carrier      TEXT NOT NULL REFERENCES carriers(name),
    name         TEXT NOT NULL,           -- file name as received
    sha256       TEXT NOT NULL UNIQUE,    -- a file is stored once
    lines        INTEGER NOT NULL DEFAULT 0,
    state        TEXT NOT NULL CHECK (state IN
                    ('pending', 'processing', 'processed', 'failed', 'ignored')),
    failure      TEXT,
    imported_at  TEXT NOT NULL,
    processed_at TEXT
);

-- One row per readable CDR line. `state`: unrated (file pending), rated, error.
-- How a rated CDR was rated is kept: rate_id, band, billable units, charge.
-- invoice_id is set by production; a CDR with an invoice is never billed again.
CREATE TABLE cdrs (
    id           INTEGER PRIMARY KEY,
    file_id      INTEGER NOT NULL REFERENCES cdr_files(id),
    line         INTEGER NOT NULL,
    service      TEXT NOT NULL,           -- normalised digits
    start        TEXT NOT NULL,           -- YYYY-MM-DDTHH:MM:SS
    destination  TEXT NOT NULL,           -- normalised digits
    call_type    TEXT NOT NULL CHECK (call_type IN ('voice', 'sms', 'data')),
    units        INTEGER NOT NULL,        -- seconds (voice), messages (sms), bytes (data)
    carrier_cost TEXT NOT NULL DEFAULT '0',
    record_id    TEXT,
    state        TEXT NOT NULL CHECK (state IN ('unrated', 'rated', 'error')),
    rate_id      INTEGER,
    band         TEXT,
    billable     INTEGER,                 -- billable seconds / messages / KB
    charge_minor INTEGER,
    description  TEXT,                    -- the rate's destination description
    invoice_id   INTEGER REFERENCES invoices(id)
);
CREATE INDEX cdrs_file ON cdrs(file_id);
CREATE INDEX cdrs_unbilled ON cdrs(service, start) WHERE invoice_id IS NULL AND state = 'rated';
CREATE INDEX cdrs_invoice ON cdrs(invoice_id) WHERE invoice_id IS NOT NULL;

-- Billing errors (CDRs) and fee errors (wholesale fee lines).
CREATE TABLE billing_errors (
    id           INTEGER PRIMARY KEY,
    kind         TEXT NOT NULL CHECK (kind IN ('malformed', 'duplicate', 'unknown_service',
                    'service_inactive', 'no_rate', 'fee_unknown_service', 'fee_unknown_code')),
    state        TEXT NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'resolved', 'ignored')),
    cdr_id       INTEGER REFERENCES cdrs(id),
    fee_id       INTEGER REFERENCES fees(id),
    file_id      INTEGER,                 -- cdr_files.id or fee_files.id by kind
    line         INTEGER NOT NULL,
    service      TEXT,
    destination  TEXT,
    start        TEXT,
    carrier_cost TEXT NOT NULL DEFAULT '0',
    detail       TEXT NOT NULL DEFAULT '',
    raw          TEXT,
    created_at   TEXT NOT NULL,
    closed_at    TEXT,
    closed_by    TEXT
);
CREATE INDEX billing_errors_open ON billing_errors(state, kind);
CREATE INDEX billing_errors_cdr ON billing_errors(cdr_id);

-- One-off charges and credits (negative). `source`: manual, dishonour_fee.
CREATE TABLE charges (
    id           INTEGER PRIMARY KEY,
    account      TEXT NOT NULL REFERENCES customers(account),
    service      TEXT REFERENCES services(service),
    date         TEXT NOT NULL,
    description  TEXT NOT NULL,
    amount_minor INTEGER NOT NULL,
    source       TEXT NOT NULL DEFAULT 'manual',
    created_at   TEXT NOT NULL,
    created_by   TEXT NOT NULL,
    invoice_id   INTEGER REFERENCES invoices(id)
);
CREATE INDEX charges_unbilled ON charges(account) WHERE invoice_id IS NULL;

-- Payments received. Unallocated until production applies them (invoice_id).
-- `source`: manual, csv, xero, collection. A reversal (dishonour) is a
-- negative payment with reverses = the payment it cancels.
CREATE TABLE payments (
    id           INTEGER PRIMARY KEY,
    account      TEXT NOT NULL REFERENCES customers(account),
    date         TEXT NOT NULL,
    amount_minor INTEGER NOT NULL,
    method       TEXT NOT NULL CHECK (method IN
                    ('direct_debit', 'card', 'bank_transfer', 'cash', 'cheque', 'xero')),
    reference    TEXT NOT NULL,
    source       TEXT NOT NULL DEFAULT 'manual',
    reverses     INTEGER REFERENCES payments(id),
    imported_at  TEXT NOT NULL,
    invoice_id   INTEGER REFERENCES invoices(id),
    UNIQUE (account, reference)
);
CREATE INDEX payments_unallocated ON payments(account) WHERE invoice_id IS NULL;

-- Payment files imported (for the stale Xero payments warning).
CREATE TABLE payment_imports (
    id          INTEGER PRIMARY KEY,
    format      TEXT NOT NULL,            -- csv | xero
    file        TEXT NOT NULL,
    sha256      TEXT NOT NULL,
    rows        INTEGER NOT NULL,
    imported_at TEXT NOT NULL
);

-- Wholesale fixed-fee files and lines (SPEC §6.2).
CREATE TABLE fee_files (
    id          INTEGER PRIMARY KEY,
    carrier     TEXT NOT NULL REFERENCES carriers(name),
    name        TEXT NOT NULL,
    sha256      TEXT NOT NULL UNIQUE,
    lines       INTEGER NOT NULL,
    imported_at TEXT NOT NULL
);
CREATE TABLE fees (
    id           INTEGER PRIMARY KEY,
    file_id      INTEGER NOT NULL REFERENCES fee_files(id),
    line         INTEGER NOT NULL,
    service      TEXT NOT NULL,           -- normalised
    fee_code     TEXT NOT NULL,
    description  TEXT NOT NULL,
    amount       TEXT NOT NULL,           -- carrier's cost, decimal
    period_start TEXT NOT NULL,
    period_end   TEXT NOT NULL,
    state        TEXT NOT NULL CHECK (state IN ('matched', 'error')),
    account      TEXT REFERENCES customers(account),
    invoice_id   INTEGER REFERENCES invoices(id)
);
CREATE INDEX fees_unbilled ON fees(account) WHERE invoice_id IS NULL AND state = 'matched';

-- Invoices. Figures are copied at production and never recomputed.
CREATE TABLE invoices (
    id                    INTEGER PRIMARY KEY,
    run_id                INTEGER NOT NULL REFERENCES runs(id),
    number                TEXT NOT NULL UNIQUE,
    seq                   INTEGER NOT NULL UNIQUE,
    account               TEXT NOT NULL REFERENCES customers(account),
    invoice_date          TEXT NOT NULL,
    due_date              TEXT NOT NULL,
    cutoff_date           TEXT NOT NULL,
    currency              TEXT NOT NULL,
    opening_balance_minor INTEGER NOT NULL,
    payments_minor        INTEGER NOT NULL,  -- applied, positive = received
    charges_ex_tax_minor  INTEGER NOT NULL,
    tax_minor             INTEGER NOT NULL,
    total_charges_minor   INTEGER NOT NULL,
    amount_due_minor      INTEGER NOT NULL,
    message               TEXT NOT NULL DEFAULT '',
    delivery              TEXT NOT NULL,     -- customer's, at production
    payment_method        TEXT NOT NULL,     -- customer's, at production
    pdf_path              TEXT,              -- set when the PDF is complete
    pdf_sha256            TEXT,
    created_at            TEXT NOT NULL,
    UNIQUE (run_id, account)
);
CREATE INDEX invoices_account ON invoices(account, seq);

CREATE TABLE invoice_lines (
    id           INTEGER PRIMARY KEY,
    invoice_id   INTEGER NOT NULL REFERENCES invoices(id),
    position     INTEGER NOT NULL,
    category     TEXT NOT NULL CHECK (category IN
                    ('usage', 'fixed', 'one_off', 'wholesale', 'adjustment')),
    service      TEXT,
    description  TEXT NOT NULL,
    quantity     TEXT NOT NULL,
    amount_minor INTEGER NOT NULL,
    taxable      INTEGER NOT NULL DEFAULT 1,
    period_start TEXT,                       -- fixed fees: the span charged
    period_end   TEXT
);
CREATE INDEX invoice_lines_invoice ON invoice_lines(invoice_id);

-- Customers of a run that got no invoice, and why (empty | too_low).
CREATE TABLE not_produced (
    run_id       INTEGER NOT NULL REFERENCES runs(id),
    account      TEXT NOT NULL REFERENCES customers(account),
    reason       TEXT NOT NULL CHECK (reason IN ('empty', 'too_low')),
    amount_minor INTEGER NOT NULL,
    PRIMARY KEY (run_id, account)
);

-- migration: 3
-- Print bundles (SPEC §2 `print`): merged PDFs of invoices for print/both
-- customers. An invoice is printed once unless `--reprint`.
CREATE TABLE print_bundles (
    id         INTEGER PRIMARY KEY,
    run_id     INTEGER NOT NULL REFERENCES runs(id),
    path       TEXT NOT NULL,
    invoices   INTEGER NOT NULL,
    pages      INTEGER NOT NULL,
    sha256     TEXT NOT NULL,
    created_at TEXT NOT NULL,
    created_by TEXT NOT NULL
);
CREATE TABLE print_items (
    bundle_id  INTEGER NOT NULL REFERENCES print_bundles(id),
    invoice_id INTEGER NOT NULL REFERENCES invoices(id),
    position   INTEGER NOT NULL,
    PRIMARY KEY (bundle_id, invoice_id)
);
CREATE INDEX print_items_invoice ON print_items(invoice_id);

-- Plan fees billed before billrun (services.csv `billed_to`, optional).
ALTER TABLE services ADD COLUMN billed_to TEXT;

-- migration: 4
-- Wholesale fee codes registered by the operator (`fees codes add`). A fee
-- line's code is known when it is a plan code or registered here.
CREATE TABLE fee_codes (
    code        TEXT PRIMARY KEY,
    description TEXT NOT NULL,
    created_at  TEXT NOT NULL
);
CREATE INDEX billing_errors_fee ON billing_errors(fee_id) WHERE fee_id IS NOT NULL;

-- migration: 5
-- Payment runs (collection, SPEC §11): one row per `collect dd` / `collect
-- card` invocation that had something to collect, and one item per invoice
-- collected in it. An invoice is in at most one `live` item (partial unique
-- index). Item states: live (in a file or sent to the gateway, no final
-- result yet), approved, declined, dishonoured, refer (the bank will take a
-- re-presentation), failed (never reached the bank/gateway: e.g. a card that
-- needs 3-D Secure, or an invalid request).
CREATE TABLE payment_runs (
    id              INTEGER PRIMARY KEY,
    kind            TEXT NOT NULL CHECK (kind IN ('dd', 'card')),
    format          TEXT NOT NULL,        -- bacs18 | aba | sepa | card_batch | stripe
    run_id          INTEGER NOT NULL REFERENCES runs(id),
    collection_date TEXT,                 -- DD: the date in the file
    currency        TEXT NOT NULL,
    state           TEXT NOT NULL CHECK (state IN ('created', 'submitted', 'settled')),
    file            TEXT,                 -- the payment file written (not for stripe)
    sha256          TEXT,
    items           INTEGER NOT NULL DEFAULT 0,
    total_minor     INTEGER NOT NULL DEFAULT 0,
    created_at      TEXT NOT NULL,
    created_by      TEXT NOT NULL
);
CREATE INDEX payment_runs_run ON payment_runs(run_id);

CREATE TABLE payment_items (
    id              INTEGER PRIMARY KEY,
    payment_run_id  INTEGER NOT NULL REFERENCES payment_runs(id),
    invoice_id      INTEGER NOT NULL REFERENCES invoices(id),
    account         TEXT NOT NULL REFERENCES customers(account),
    reference       TEXT NOT NULL UNIQUE, -- what comes back in the results file
    amount_minor    INTEGER NOT NULL CHECK (amount_minor > 0),
    sequence        TEXT,                 -- SEPA FRST/RCUR, Bacs 01/17/18, ABA 13
    mandate_ref     TEXT,                 -- DD: the mandate collected under
    payee_masked    TEXT NOT NULL DEFAULT '', -- bank account / card token, masked, for display
    attempt         INTEGER NOT NULL DEFAULT 1,
    idempotency_key TEXT UNIQUE,          -- card via the gateway: recorded before the request
    state           TEXT NOT NULL CHECK (state IN
                        ('live', 'approved', 'declined', 'dishonoured', 'refer', 'failed')),
    reason          TEXT,
    gateway_id      TEXT,                 -- e.g. Stripe PaymentIntent id
    payment_id      INTEGER REFERENCES payments(id),   -- the payment an approval recorded
    reversal_id     INTEGER REFERENCES payments(id),   -- its reversal after a dishonour
    fee_charge_id   INTEGER REFERENCES charges(id),    -- the dishonour fee charged
    created_at      TEXT NOT NULL,
    result_at       TEXT
);
CREATE UNIQUE INDEX payment_items_one_live ON payment_items(invoice_id) WHERE state = 'live';
CREATE INDEX payment_items_invoice ON payment_items(invoice_id);
CREATE INDEX payment_items_run ON payment_items(payment_run_id);

-- migration: 6
-- Delivery (SPEC §10, `xero export`): email attempts and Xero exports.

-- One row per attempt to email an invoice. The row is committed as
-- `in_flight` BEFORE the message goes to the SMTP server, then updated to
-- `sent` (server reply) or `failed` (reason). An invoice whose last attempt is
-- still `in_flight` was interrupted between send and record: it is never
-- re-sent automatically, only with `email RUN --resend NUMBER`.
CREATE TABLE email_attempts (
    id          INTEGER PRIMARY KEY,
    invoice_id  INTEGER NOT NULL REFERENCES invoices(id),
    attempt     INTEGER NOT NULL,         -- 1, 2, … per invoice
    state       TEXT NOT NULL CHECK (state IN ('in_flight', 'sent', 'failed')),
    recipient   TEXT,                     -- the address used (NULL: none on file)
    message_id  TEXT,
    reply       TEXT,                     -- server reply (sent) or reason (failed)
    resend      INTEGER NOT NULL DEFAULT 0,
    started_at  TEXT NOT NULL,
    finished_at TEXT,
    operator    TEXT NOT NULL,
    UNIQUE (invoice_id, attempt)
);

-- Invoices written to a Xero import file (one row per invoice and export).
CREATE TABLE xero_exports (
    id          INTEGER PRIMARY KEY,
    invoice_id  INTEGER NOT NULL REFERENCES invoices(id),
    file        TEXT NOT NULL,
    exported_at TEXT NOT NULL,
    operator    TEXT NOT NULL
);
CREATE INDEX xero_exports_invoice ON xero_exports(invoice_id);

-- migration: 7
-- CDR import (issue 3). `dedupe` is the compact identity key of a CDR
-- (domain::cdrs::dedupe_key: start seconds << 28 | 28-bit hash), unique so
-- the insert itself detects a possible duplicate; copies keep NULL. A key
-- hit is always confirmed by comparing the fields. `not_billable` counts the
-- lines read but deliberately not billed (unanswered Asterisk calls).
ALTER TABLE cdrs ADD COLUMN dedupe INTEGER;
CREATE UNIQUE INDEX cdrs_dedupe ON cdrs(dedupe);
ALTER TABLE cdr_files ADD COLUMN not_billable INTEGER NOT NULL DEFAULT 0;

-- migration: 8
-- The card token a gateway item charges, recorded with its idempotency key
-- before the request: a resend after a crash repeats exactly the same
-- request even if the customer's token changed meanwhile (Stripe refuses a
-- reused key with other parameters). Never printed.
ALTER TABLE payment_items ADD COLUMN card_token TEXT;

-- migration: 9
-- CDR storage narrowed for import speed (SPEC §13; README, Performance).
-- `start` is INTEGER seconds since 1970-01-01T00:00:00 of the CDR's local
-- time (no zone: the same wall clock as the old TEXT, 4 bytes instead of
-- 19; domain::cdrs::start_secs). The rate's `description` is no longer
-- copied into every row: it is read through `rate_id` (rates are updated
-- in place, never deleted), so an invoice shows the description current at
-- production, which invoice_lines then keep. `cdrs_file` is gone (readers
-- by file scan; nothing looks one file's CDRs up on a hot path). The
-- unbilled index is keyed by `start` alone: a time-ordered file appends to
-- it instead of landing at random places in a (service, start) index, so
-- the import no longer drops and rebuilds it; billing and production read
-- the unbilled CDRs before the cutoff as one range of it, bounded by the
-- open period, not by history. The rows keep their ids (billing_errors.cdr_id).
-- The CHECKs are written with OR, not IN (...): SQLite evaluates a CHECK's
-- IN list by building a temporary b-tree for every row inserted, which cost
-- about 1 s per million CDRs. store::Store::migrate turns foreign keys off around migrations (SQLite's
-- documented table rebuild).
CREATE TABLE cdrs_v9 (
    id           INTEGER PRIMARY KEY,
    file_id      INTEGER NOT NULL REFERENCES cdr_files(id),
    line         INTEGER NOT NULL,
    service      TEXT NOT NULL,           -- normalised digits
    start        INTEGER NOT NULL,        -- seconds since 1970-01-01T00:00:00, local time
    destination  TEXT NOT NULL,           -- normalised digits
    call_type    TEXT NOT NULL CHECK (call_type = 'voice' OR call_type = 'sms' OR call_type = 'data'),
    units        INTEGER NOT NULL,        -- seconds (voice), messages (sms), bytes (data)
    carrier_cost TEXT NOT NULL DEFAULT '0',
    record_id    TEXT,
    state        TEXT NOT NULL CHECK (state = 'rated' OR state = 'error' OR state = 'unrated'),
    rate_id      INTEGER,                 -- rates.id; the description is read through it
    band         TEXT,
    billable     INTEGER,                 -- billable seconds / messages / KB
    charge_minor INTEGER,
    invoice_id   INTEGER REFERENCES invoices(id),
    dedupe       INTEGER
);
INSERT INTO cdrs_v9 (id, file_id, line, service, start, destination, call_type, units,
    carrier_cost, record_id, state, rate_id, band, billable, charge_minor, invoice_id, dedupe)
SELECT id, file_id, line, service, CAST(strftime('%s', start) AS INTEGER), destination, call_type,
    units, carrier_cost, record_id, state, rate_id, band, billable, charge_minor, invoice_id, dedupe
FROM cdrs;
DROP TABLE cdrs;
ALTER TABLE cdrs_v9 RENAME TO cdrs;
CREATE UNIQUE INDEX cdrs_dedupe ON cdrs(dedupe);
CREATE INDEX cdrs_unbilled ON cdrs(start) WHERE invoice_id IS NULL AND state = 'rated';
CREATE INDEX cdrs_invoice ON cdrs(invoice_id) WHERE invoice_id IS NOT NULL;

-- migration: 10
-- The two references of `cdrs` are checked at commit (DEFERRABLE INITIALLY
-- DEFERRED) instead of at each statement: still enforced (a transaction
-- that leaves a CDR pointing at a missing file or invoice fails to commit
-- and is rolled back), but an immediate foreign key makes every multi-row
-- INSERT open a statement journal (SQLite must be able to undo the one
-- statement), which wrote the original of every page the CDR import's
-- 32-row INSERTs touched to a temporary file: ~146,000 pages (600 MB) per
-- million CDRs, and 15-20 % of the import's wall time. The import's INSERT
-- also says OR FAIL for its NOT NULL and CHECK constraints (an error still
-- fails, and rolls back, the whole import). Rebuilt as in migration 9,
-- keeping every id.
CREATE TABLE cdrs_v10 (
    id           INTEGER PRIMARY KEY,
    file_id      INTEGER NOT NULL REFERENCES cdr_files(id) DEFERRABLE INITIALLY DEFERRED,
    line         INTEGER NOT NULL,
    service      TEXT NOT NULL,           -- normalised digits
    start        INTEGER NOT NULL,        -- seconds since 1970-01-01T00:00:00, local time
    destination  TEXT NOT NULL,           -- normalised digits
    call_type    TEXT NOT NULL CHECK (call_type = 'voice' OR call_type = 'sms' OR call_type = 'data'),
    units        INTEGER NOT NULL,        -- seconds (voice), messages (sms), bytes (data)
    carrier_cost TEXT NOT NULL DEFAULT '0',
    record_id    TEXT,
    state        TEXT NOT NULL CHECK (state = 'rated' OR state = 'error' OR state = 'unrated'),
    rate_id      INTEGER,                 -- rates.id; the description is read through it
    band         TEXT,
    billable     INTEGER,                 -- billable seconds / messages / KB
    charge_minor INTEGER,
    invoice_id   INTEGER REFERENCES invoices(id) DEFERRABLE INITIALLY DEFERRED,
    dedupe       INTEGER
);
INSERT INTO cdrs_v10 (id, file_id, line, service, start, destination, call_type, units,
    carrier_cost, record_id, state, rate_id, band, billable, charge_minor, invoice_id, dedupe)
SELECT id, file_id, line, service, start, destination, call_type, units,
    carrier_cost, record_id, state, rate_id, band, billable, charge_minor, invoice_id, dedupe
FROM cdrs;
DROP TABLE cdrs;
ALTER TABLE cdrs_v10 RENAME TO cdrs;
CREATE UNIQUE INDEX cdrs_dedupe ON cdrs(dedupe);
CREATE INDEX cdrs_unbilled ON cdrs(start) WHERE invoice_id IS NULL AND state = 'rated';
CREATE INDEX cdrs_invoice ON cdrs(invoice_id) WHERE invoice_id IS NOT NULL;

-- migration: 11
-- `call_type`, `state` and `band` of `cdrs` stored as small integer codes
-- instead of words (README, Performance): a CDR row is ~14 bytes (16 %)
-- smaller, the import binds them as they are (no CASE per row) and its
-- CHECKs and the partial unbilled index compare integers. The codes (the
-- one place they are defined in code: the module store::cdrs::code):
--   call_type  0 voice, 1 sms, 2 data
--   state      0 error, 1 rated, 2 unrated
--   band       0 all, 1 peak, 2 offpeak (NULL unless rated)
-- Rebuilt as in migration 10 (same ids, deferred references).
CREATE TABLE cdrs_v11 (
    id           INTEGER PRIMARY KEY,
    file_id      INTEGER NOT NULL REFERENCES cdr_files(id) DEFERRABLE INITIALLY DEFERRED,
    line         INTEGER NOT NULL,
    service      TEXT NOT NULL,           -- normalised digits
    start        INTEGER NOT NULL,        -- seconds since 1970-01-01T00:00:00, local time
    destination  TEXT NOT NULL,           -- normalised digits
    call_type    INTEGER NOT NULL CHECK (call_type BETWEEN 0 AND 2),  -- 0 voice, 1 sms, 2 data
    units        INTEGER NOT NULL,        -- seconds (voice), messages (sms), bytes (data)
    carrier_cost TEXT NOT NULL DEFAULT '0',
    record_id    TEXT,
    state        INTEGER NOT NULL CHECK (state BETWEEN 0 AND 2),      -- 0 error, 1 rated, 2 unrated
    rate_id      INTEGER,                 -- rates.id; the description is read through it
    band         INTEGER CHECK (band BETWEEN 0 AND 2),                -- 0 all, 1 peak, 2 offpeak
    billable     INTEGER,                 -- billable seconds / messages / KB
    charge_minor INTEGER,
    invoice_id   INTEGER REFERENCES invoices(id) DEFERRABLE INITIALLY DEFERRED,
    dedupe       INTEGER
);
INSERT INTO cdrs_v11 (id, file_id, line, service, start, destination, call_type, units,
    carrier_cost, record_id, state, rate_id, band, billable, charge_minor, invoice_id, dedupe)
SELECT id, file_id, line, service, start, destination,
    CASE call_type WHEN 'voice' THEN 0 WHEN 'sms' THEN 1 WHEN 'data' THEN 2 END,
    units, carrier_cost, record_id,
    CASE state WHEN 'error' THEN 0 WHEN 'rated' THEN 1 WHEN 'unrated' THEN 2 END,
    rate_id,
    CASE band WHEN 'all' THEN 0 WHEN 'peak' THEN 1 WHEN 'offpeak' THEN 2 END,
    billable, charge_minor, invoice_id, dedupe
FROM cdrs;
DROP TABLE cdrs;
ALTER TABLE cdrs_v11 RENAME TO cdrs;
CREATE UNIQUE INDEX cdrs_dedupe ON cdrs(dedupe);
CREATE INDEX cdrs_unbilled ON cdrs(start) WHERE invoice_id IS NULL AND state = 1;
CREATE INDEX cdrs_invoice ON cdrs(invoice_id) WHERE invoice_id IS NOT NULL;

-- migration: 12
-- Issue 15 (run steps). A run can be cancelled before bills are requested
-- (`billrun cancel RUN`): it keeps its row, status `cancelled`. A cancelled
-- run's name and (cycle, invoice date) are free again, so both unique
-- indexes skip cancelled runs. `postbill_at`: when the post-billing report
-- was last run (`confirm RUN postbill` needs it). Rebuilt keeping every id
-- (foreign keys are off during migrations, see migration 9).
CREATE TABLE runs_v12 (
    id               INTEGER PRIMARY KEY,
    name             TEXT NOT NULL,
    cycle            TEXT NOT NULL REFERENCES cycles(name),
    status           TEXT NOT NULL CHECK (status IN
                        ('pending', 'ready', 'approved', 'requested', 'running', 'completed',
                         'cancelled')),
    invoice_date     TEXT,
    cutoff_date      TEXT,
    due_date         TEXT,
    invoice_message  TEXT,
    expert_by        TEXT,
    prebill_snapshot TEXT,
    prebill_at       TEXT,
    created_at       TEXT NOT NULL,
    requested_at     TEXT,
    completed_at     TEXT,
    postbill_at      TEXT
);
INSERT INTO runs_v12 (id, name, cycle, status, invoice_date, cutoff_date, due_date,
    invoice_message, expert_by, prebill_snapshot, prebill_at, created_at, requested_at, completed_at)
SELECT id, name, cycle, status, invoice_date, cutoff_date, due_date,
    invoice_message, expert_by, prebill_snapshot, prebill_at, created_at, requested_at, completed_at
FROM runs;
DROP TABLE runs;
ALTER TABLE runs_v12 RENAME TO runs;
CREATE UNIQUE INDEX runs_name ON runs(name) WHERE status <> 'cancelled';
CREATE UNIQUE INDEX runs_cycle_date ON runs(cycle, invoice_date)
    WHERE invoice_date IS NOT NULL AND status <> 'cancelled';
-- A removed cycle (`billrun cycles remove NAME`) keeps its row (its runs
-- refer to it) but is no longer listed, ticked, or accepted for new runs
-- and customers; `cycles add NAME` brings it back.
ALTER TABLE cycles ADD COLUMN removed_at TEXT;
-- A carrier that sent no file in a run's period, acknowledged by the
-- operator (`confirm RUN cdrs --missing CARRIER --reason TEXT`; audited).
CREATE TABLE cdr_missing_acks (
    run_id          INTEGER NOT NULL REFERENCES runs(id),
    carrier         TEXT NOT NULL REFERENCES carriers(name),
    reason          TEXT NOT NULL,
    operator        TEXT NOT NULL,
    acknowledged_at TEXT NOT NULL,
    PRIMARY KEY (run_id, carrier)
);

-- migration: 13
-- A payment file is put in place only after its payment run is committed
-- (ops::collect). `contents` keeps the file's bytes so that a run killed
-- in between can always be finished: the next `collect dd` / `collect card
-- --out` writes the recorded bytes (checked against `sha256`) to `file`.
-- `placed_at` is set once the file is in place; until then `status` shows
-- the collect step as not done. Payment runs recorded before this
-- migration are taken as placed.
ALTER TABLE payment_runs ADD COLUMN contents BLOB;
ALTER TABLE payment_runs ADD COLUMN placed_at TEXT;
UPDATE payment_runs SET placed_at = created_at WHERE file IS NOT NULL;

-- migration: 14
-- Xero payments keep Xero's own type (issue 15): the payment method/type
-- column of the export, else the bank account the payment went into. The
-- method is mapped from it when it names one of billrun's (card, direct
-- debit, …), else it stays `xero`; `check_payments` then shows such
-- payments by type (`xero (PayPal)`). NULL for payments not from Xero.
ALTER TABLE payments ADD COLUMN xero_type TEXT;

-- migration: 15
-- What an invoice asks to be collected (issue 15 item 5): at production,
-- the amount due less the unallocated payments dated after the cutoff that
-- were already recorded (received_since_minor), never below zero. Collection
-- takes at most this. Existing invoices: as their amount due (nothing
-- received since), never below zero.
ALTER TABLE invoices ADD COLUMN received_since_minor INTEGER NOT NULL DEFAULT 0;
ALTER TABLE invoices ADD COLUMN to_collect_minor INTEGER;  -- NULL: MAX(0, amount_due_minor)
UPDATE invoices SET to_collect_minor = MAX(0, amount_due_minor);

-- migration: 16
-- Itemised calls beside the PDF (issue 15, item 20): an invoice with more
-- calls than `invoice.itemise_max_lines` prints a usage summary, and its
-- calls go to `NUMBER-calls.csv` (`.csv.gz` when over 5 MB) written and
-- recorded with its SHA-256 together with the PDF (NULL: no such file).
ALTER TABLE invoices ADD COLUMN calls_path TEXT;
ALTER TABLE invoices ADD COLUMN calls_sha256 TEXT;

-- migration: 17
-- Autopilot notifications (`billrun autopilot`): what was told to
-- notify.email, so a run that needs a person (at a step) or completes is
-- told once, not at every invocation. `kind` is 'person' or 'complete';
-- `state` 'sending' (committed before the message goes: a kill then counts
-- as told, never twice), 'sent' or 'failed' (told again next time);
-- `cleared_at` is set when a run no longer waits at that step, so a later
-- stop there is news again.
CREATE TABLE autopilot_notices (
    id INTEGER PRIMARY KEY,
    run_id INTEGER NOT NULL REFERENCES runs(id),
    kind TEXT NOT NULL CHECK (kind IN ('person', 'complete')),
    step TEXT NOT NULL,
    why TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('sending', 'sent', 'failed')),
    message_id TEXT NOT NULL,
    created_at TEXT NOT NULL,
    cleared_at TEXT
);
CREATE INDEX autopilot_notices_run ON autopilot_notices(run_id);

-- migration: 18
-- Credit notes (`billrun credit add`): a numbered document of its own
-- (`credit.prefix` + its own gap-free sequence `seq`) crediting part or all
-- of a produced invoice. Amounts in minor units: ex tax, tax (rounded once
-- per credit note) and total, all positive. `applied_invoice_id`: the later
-- invoice that brought the credit forward (NULL: not yet, the credit is on
-- the account and reduces what collection takes). The PDF is recorded
-- (path, SHA-256) only once it is complete on disk. `xero_id`: Xero's id
-- once the credit note is pushed to Xero's API (NULL: not pushed).
CREATE TABLE credit_notes (
    id                  INTEGER PRIMARY KEY,
    number              TEXT NOT NULL UNIQUE,
    seq                 INTEGER NOT NULL UNIQUE,
    invoice_id          INTEGER NOT NULL REFERENCES invoices(id),
    account             TEXT NOT NULL REFERENCES customers(account),
    credit_date         TEXT NOT NULL,
    currency            TEXT NOT NULL,
    reason              TEXT NOT NULL,
    amount_ex_tax_minor INTEGER NOT NULL CHECK (amount_ex_tax_minor > 0),
    tax_minor           INTEGER NOT NULL CHECK (tax_minor >= 0),
    total_minor         INTEGER NOT NULL CHECK (total_minor > 0),
    tax_rate            TEXT NOT NULL,     -- the rate applied ('0': the invoice had no tax)
    delivery            TEXT NOT NULL,     -- customer's, at issue
    payment_method      TEXT NOT NULL,     -- customer's, at issue
    applied_invoice_id  INTEGER REFERENCES invoices(id),
    pdf_path            TEXT,
    pdf_sha256          TEXT,
    xero_id             TEXT,
    created_at          TEXT NOT NULL,
    created_by          TEXT NOT NULL
);
CREATE INDEX credit_notes_invoice ON credit_notes(invoice_id);
CREATE INDEX credit_notes_unapplied ON credit_notes(account) WHERE applied_invoice_id IS NULL;
CREATE TABLE credit_note_lines (
    id              INTEGER PRIMARY KEY,
    credit_note_id  INTEGER NOT NULL REFERENCES credit_notes(id),
    position        INTEGER NOT NULL,
    invoice_line_id INTEGER REFERENCES invoice_lines(id),  -- a whole line credited
    service         TEXT,
    description     TEXT NOT NULL,
    quantity        TEXT NOT NULL,
    amount_minor    INTEGER NOT NULL
);
CREATE INDEX credit_note_lines_note ON credit_note_lines(credit_note_id);
-- A line is credited whole at most once.
CREATE UNIQUE INDEX credit_note_lines_line ON credit_note_lines(invoice_line_id)
    WHERE invoice_line_id IS NOT NULL;
-- Credit notes brought forward by an invoice (total, positive = credit).
ALTER TABLE invoices ADD COLUMN credits_minor INTEGER NOT NULL DEFAULT 0;
-- Email attempts of credit notes (the same at-most-once rule as invoices).
CREATE TABLE credit_email_attempts (
    id             INTEGER PRIMARY KEY,
    credit_note_id INTEGER NOT NULL REFERENCES credit_notes(id),
    attempt        INTEGER NOT NULL,
    state          TEXT NOT NULL CHECK (state IN ('in_flight', 'sent', 'failed')),
    recipient      TEXT,
    message_id     TEXT,
    reply          TEXT,
    started_at     TEXT NOT NULL,
    finished_at    TEXT,
    operator       TEXT NOT NULL,
    UNIQUE (credit_note_id, attempt)
);
-- Credit notes written to a Xero import file.
CREATE TABLE xero_credit_exports (
    id             INTEGER PRIMARY KEY,
    credit_note_id INTEGER NOT NULL REFERENCES credit_notes(id),
    file           TEXT NOT NULL,
    exported_at    TEXT NOT NULL
);

-- migration: 19
-- Xero through its API (xero.mode = api, `billrun xero push`, `payments
-- fetch`). `xero_contacts`: the Xero contact of each customer (matched by
-- ContactNumber = account) and a fingerprint of what was last sent, so an
-- unchanged customer is not sent again. `xero_pushes`: one row per
-- document (kind `invoice`; `credit_note` the same way) sent through the
-- API. The Idempotency-Key is stored and committed before the request;
-- `xero_id` is set once Xero confirmed the document (its answer, or a
-- look-up by number after a crash); `error` keeps Xero's validation
-- messages of the last attempt. `xero_sync` keeps the time of the last
-- successful payments fetch (the next one asks for what changed since).
-- Payments fetched carry Xero's PaymentID (each recorded once) and the
-- number of the invoice they paid in Xero.
CREATE TABLE xero_contacts (
    account      TEXT PRIMARY KEY REFERENCES customers(account),
    contact_id   TEXT NOT NULL,
    fingerprint  TEXT NOT NULL,
    sent_at      TEXT NOT NULL
);
CREATE TABLE xero_pushes (
    id              INTEGER PRIMARY KEY,
    kind            TEXT NOT NULL CHECK (kind IN ('invoice', 'credit_note')),
    doc_id          INTEGER NOT NULL,
    number          TEXT NOT NULL,
    run_id          INTEGER REFERENCES runs(id),
    idempotency_key TEXT NOT NULL,
    attempted_at    TEXT NOT NULL,
    xero_id         TEXT,
    confirmed_at    TEXT,
    error           TEXT,
    UNIQUE (kind, doc_id)
);
CREATE TABLE xero_sync (
    what TEXT PRIMARY KEY,
    at   TEXT NOT NULL
);
ALTER TABLE payments ADD COLUMN xero_payment_id TEXT;
ALTER TABLE payments ADD COLUMN xero_invoice TEXT;
CREATE UNIQUE INDEX payments_xero_payment ON payments(xero_payment_id)
    WHERE xero_payment_id IS NOT NULL;

-- migration: 20
-- Working days and bank reports (issue 17, parts 2 and 3).
-- `payment_runs.debit_date`: the day a Direct Debit run debits its
-- customers (Bacs entry day); `collection_date` stays the date written in
-- the file (Bacs processing day = the working day before). NULL for runs
-- recorded before, and for card runs.
ALTER TABLE payment_runs ADD COLUMN debit_date TEXT;
-- A customer's mandate as the bank last reported it (Bacs ADDACS, or a
-- gateway): NULL (nothing reported: active), `cancelled`, `transferred`,
-- `disputed`, `amended`, `active` (reinstated); with the date it took
-- effect. `cancelled`, `transferred` and `disputed` are not collected.
ALTER TABLE customers ADD COLUMN mandate_status TEXT;
ALTER TABLE customers ADD COLUMN mandate_status_on TEXT;
-- Bank reports read by `collect results` (ARUDD, ADDACS, pain.002, ABA
-- returns), by their SHA-256: a report read twice changes nothing the
-- second time.
CREATE TABLE bank_reports (
    sha256      TEXT PRIMARY KEY,
    format      TEXT NOT NULL,
    label       TEXT NOT NULL,
    items       INTEGER NOT NULL,
    imported_at TEXT NOT NULL,
    imported_by TEXT NOT NULL
);

-- migration: 21
-- Collection through real gateways (issue 17).
-- Customers: the Stripe Customer a saved card (`card_token`, `pm_…`) is
-- attached to (`cus_…`; Stripe cannot charge such a card without it), the
-- GoCardless mandate (`MD…`) of a `dd.provider gocardless` customer, and the
-- mandate's status (`customers.mandate_status`, migration 20) is also set by
-- GoCardless events (`failed`, `expired`, `cancelled`).
ALTER TABLE customers ADD COLUMN stripe_customer TEXT;
ALTER TABLE customers ADD COLUMN gocardless_mandate TEXT;
-- The Stripe Customer a gateway item charges, recorded with its key before
-- the request (like `card_token`): a resend repeats the same request.
ALTER TABLE payment_items ADD COLUMN stripe_customer TEXT;
-- Facts about this database, written once. `idempotency_prefix`: random,
-- generated when the database is created (or migrated to 21), put in every
-- gateway idempotency key so that two databases (a test and a live one)
-- sharing a Stripe or GoCardless account never send the same key.
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
INSERT INTO meta (key, value) VALUES ('idempotency_prefix', lower(hex(randomblob(6))));
-- Where `collect sync` goes on reading a gateway's event stream
-- (GoCardless: the id of the last event recorded, sent as `after`).
CREATE TABLE gateway_cursors (
    gateway    TEXT PRIMARY KEY,
    cursor     TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

-- migration: 22
-- Inclusive allowances (README "Allowances", docs/rating.md#inclusive-allowances).
-- One row per allowance of a plan, keyed by (plan, name); `id` keeps the
-- order rows were first imported: "listed first" when several allowances
-- match a CDR equally. `prefixes`: space-separated digits, empty = every
-- destination; `quantity`: a whole number of minutes (voice), messages
-- (sms) or MB (data), or `unlimited`.
CREATE TABLE allowances (
    id        INTEGER PRIMARY KEY,
    plan      TEXT NOT NULL REFERENCES plans(plan),
    name      TEXT NOT NULL,
    call_type TEXT NOT NULL CHECK (call_type = 'voice' OR call_type = 'sms' OR call_type = 'data'),
    prefixes  TEXT NOT NULL DEFAULT '',
    quantity  TEXT NOT NULL,
    pooled    INTEGER NOT NULL CHECK (pooled = 0 OR pooled = 1),
    UNIQUE (plan, name)
);
-- What a billed CDR cost after allowances, set by production on the CDRs an
-- allowance covered (NULL: not covered, it cost `charge_minor` as rated):
-- `covered` billable units, `charged_minor` the charge after allowances.
-- Adding nullable columns does not rewrite the table.
ALTER TABLE cdrs ADD COLUMN covered INTEGER;
ALTER TABLE cdrs ADD COLUMN charged_minor INTEGER;
-- Each invoice's allowances as billed (figures in billable units: seconds,
-- messages, KB; included NULL = unlimited), in the order shown.
CREATE TABLE invoice_allowances (
    invoice_id     INTEGER NOT NULL REFERENCES invoices(id),
    position       INTEGER NOT NULL,
    plan           TEXT NOT NULL,
    name           TEXT NOT NULL,
    call_type      TEXT NOT NULL,
    pooled         INTEGER NOT NULL,
    services       TEXT NOT NULL,          -- space-separated
    included_units INTEGER,
    used_units     INTEGER NOT NULL,
    PRIMARY KEY (invoice_id, position)
);

-- migration: 23
-- Remote CDR sources of carriers (issue 19): `carriers add NAME --source
-- URL` (sftp://, ftp://, ftps://; the password only from the environment),
-- a file name glob, an SFTP key path, an extra CA file, where fetched files
-- are moved on the server (NULL: left in place), the pinned SFTP host key
-- (fingerprint, `SHA256:…`, recorded at the first fetch), a different key
-- the server offered since (accepted by `carriers accept-host-key`), and
-- the outcome of the carrier's latest fetch (for `status`).
CREATE TABLE carrier_sources (
    carrier          TEXT PRIMARY KEY REFERENCES carriers(name),
    url              TEXT NOT NULL,
    pattern          TEXT,
    key_path         TEXT,
    ca_file          TEXT,
    remote_done      TEXT,
    host_key         TEXT,
    host_key_offered TEXT,
    last_fetch_at    TEXT,
    last_fetch_files INTEGER,
    last_fetch_error TEXT
);
-- Every remote file fetched (or found to hold bytes already stored), by
-- name, size and modification time: a later fetch skips it without
-- downloading. Recorded in the transaction that records the stored file.
CREATE TABLE remote_files (
    carrier    TEXT NOT NULL REFERENCES carriers(name),
    name       TEXT NOT NULL,
    size       INTEGER NOT NULL,
    mtime      INTEGER NOT NULL,
    sha256     TEXT NOT NULL,
    file_id    INTEGER REFERENCES cdr_files(id),  -- NULL: same bytes as an earlier file
    fetched_at TEXT NOT NULL,
    moved      INTEGER NOT NULL DEFAULT 0,        -- moved to the remote done directory
    PRIMARY KEY (carrier, name, size, mtime)
);

-- migration: 24
-- Issue 16 (speed on real-shaped files). The partial index of unbilled
-- rated CDRs is keyed by `file_id` instead of `start`: an import appends
-- to it whatever the order of the file's lines (a file in no time order
-- inserted its keys at random places, most of the import's B-tree work),
-- and billing reads the unbilled CDRs through it in file and id order, so
-- their rows are read in table order. The set it covers is unchanged
-- (unbilled rated CDRs: bounded by the open period, not by history); the
-- readers (store::billing, store::production) name it (`INDEXED BY
-- cdrs_unbilled`) and filter `start` themselves.
DROP INDEX cdrs_unbilled;
CREATE INDEX cdrs_unbilled ON cdrs(file_id) WHERE invoice_id IS NULL AND state = 1;

-- migration: 25
-- IMAP carrier sources (`imaps://USER@HOST/MAILBOX`): `carriers add
-- --mark-seen` flags a message `\Seen` once every attachment of it that the
-- pattern takes is fetched (without it the mailbox is never changed). An
-- attachment is recorded in remote_files under the name
-- `imap:UIDVALIDITY/UID/PART/FILENAME` with its decoded size and mtime 0.
ALTER TABLE carrier_sources ADD COLUMN mark_seen INTEGER NOT NULL DEFAULT 0;
-- IMAP messages done (`imap:UIDVALIDITY/UID`): every attachment of it that
-- the pattern takes is recorded (and, with --mark-seen, it is flagged
-- \Seen). A later fetch does not read such a message again.
CREATE TABLE remote_messages_done (
    carrier TEXT NOT NULL REFERENCES carriers(name),
    message TEXT NOT NULL,
    done_at TEXT NOT NULL,
    PRIMARY KEY (carrier, message)
);

-- migration: 26
-- Credit notes through Xero's API: a credit note in Xero that an invoice
-- brought forward (`credit_notes.applied_invoice_id`) is allocated to that
-- invoice's Xero copy once both are in Xero. `alloc_key`: the
-- Idempotency-Key of the allocation request, committed before it is sent
-- (set: a request may have reached Xero, so the next push first asks Xero
-- for the credit note's allocations); `allocated_at`: Xero confirmed it.
ALTER TABLE xero_pushes ADD COLUMN alloc_key TEXT;
ALTER TABLE xero_pushes ADD COLUMN allocated_at TEXT;

-- migration: 27
-- Issue 16 (read side at 10M CDRs). The CDRs of each file per day of their
-- start (`day` = start div 86400: days since 1970-01-01 in the same local
-- clock as `cdrs.start`), so `status` and `runs` count a carrier's files
-- and lines in a run's period from a few rows per file instead of reading
-- every CDR. CDRs are never deleted and their start never changes; every
-- CDR row a file stores (rated, error, or the copy of a duplicate) is
-- counted in the transaction that stores it (`store::cdrs::add_file_days`,
-- once per file). Filled here from the CDRs already stored.
CREATE TABLE cdr_file_days (
    file_id INTEGER NOT NULL REFERENCES cdr_files(id),
    day     INTEGER NOT NULL,
    cdrs    INTEGER NOT NULL,
    PRIMARY KEY (file_id, day)
) WITHOUT ROWID;
INSERT INTO cdr_file_days (file_id, day, cdrs)
SELECT file_id, (start - (((start % 86400) + 86400) % 86400)) / 86400 AS day, count(*)
FROM cdrs GROUP BY file_id, day;

-- migration: 28
-- Issue 16 (read side). The columns the `errors` summary reads, in an
-- index a tenth of the table's size (the table also holds each error's
-- raw line and detail): the summary is one scan of it, not of the table.
-- Keyed by kind, state, file and line, so an import (errors of its own
-- file, in line order) appends to it.
CREATE INDEX billing_errors_summary ON billing_errors(kind, state, file_id, line, start, service,
    destination, carrier_cost);

-- migration: 29
-- Issue 16 (import of unsorted files). The dedupe keys (see
-- domain::cdrs::dedupe_key) move from the unique index `cdrs_dedupe` to a
-- table of their own: `cdr_keys`, key -> the CDR stored under it. An
-- import stores a file's CDRs first, then settles their keys all at once,
-- sorted (store::cdrs::settle_keys): the keys go in in key order, where
-- the index took each line's key as it came, at a random place for a file
-- in no time order (most of such an import's time, and past the page
-- cache at 10M CDRs). `cdr_keys` is the record of keys from now on:
-- `cdrs.dedupe` is no longer written (8 bytes less per CDR; CDRs stored
-- before keep theirs). No foreign key on `cdr_id`: it would look every
-- CDR up again, in key order; CDRs are never deleted.
CREATE TABLE cdr_keys (
    key    INTEGER PRIMARY KEY,
    cdr_id INTEGER NOT NULL
);
INSERT INTO cdr_keys (key, cdr_id)
SELECT dedupe, id FROM cdrs WHERE dedupe IS NOT NULL ORDER BY dedupe;
DROP INDEX cdrs_dedupe;
