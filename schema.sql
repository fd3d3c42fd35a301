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
