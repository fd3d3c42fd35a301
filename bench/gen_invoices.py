#!/usr/bin/env python3
"""Generate reference data and rated CDRs for the production benchmark.

usage: gen_invoices.py DIR CUSTOMERS CALLS_PER_CUSTOMER
Writes DIR/customers.csv, DIR/services.csv and DIR/cdrs.sql (rated CDRs
inserted straight into the store: rating speed is measured separately by
bench/cdr_import.sh; this benchmark is about invoice production).
"""
import random
import sys

out, n, calls = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rnd = random.Random(42)
methods = ["direct_debit", "card", "manual"]
deliveries = ["email", "print", "both"]
with open(f"{out}/customers.csv", "w") as c, open(f"{out}/services.csv", "w") as s:
    c.write("account,name,email,delivery,payment_method,bank_branch,bank_account,"
            "bank_account_name,mandate_ref,mandate_date,card_token,address1,town,postcode\n")
    s.write("service,account,plan,start_date,end_date,description,billed_to\n")
    for i in range(n):
        acc = f"B{i:06d}"
        m = methods[i % 3]
        bank = ("20-00-00", f"{10000000 + i}", f"CUSTOMER {i}", f"MD{i:06d}", "2025-01-01", "") \
            if m == "direct_debit" else ("", "", "", "", "", f"pm_{i:08d}" if m == "card" else "")
        c.write(",".join([acc, f"Customer {i}", f"c{i}@example.com", deliveries[i % 3], m, *bank,
                          f"{i} Long Road", "Leeds", f"LS{i % 30} {i % 9}AB"]) + "\n")
        s.write(f"0113{i:07d},{acc},HOME,2025-01-01,,Home line,2026-10-31\n")
with open(f"{out}/cdrs.sql", "w") as q:
    q.write("BEGIN;\nINSERT INTO carriers VALUES ('bench','billrun',NULL,'now');\n")
    q.write("INSERT INTO cdr_files (id, carrier, name, sha256, lines, state, imported_at) "
            "VALUES (1,'bench','bench.csv','x',0,'processed','now');\n")
    line = 1
    for i in range(n):
        for k in range(calls):
            dest = f"447700{rnd.randrange(10**6):06d}" if k % 2 else f"44113{rnd.randrange(10**7):07d}"
            prefix = "447" if k % 2 else "44"
            secs = rnd.randrange(5, 1800)
            # start: seconds since 1970-01-01T00:00:00 of the local time
            # (schema migration 9); the description comes through rate_id;
            # call type voice = 0, state rated = 1, band peak = 1 (migration 11).
            start = (f"CAST(strftime('%s','2026-11-{1 + k % 28:02d}T{8 + k % 10:02d}:"
                     f"{k % 60:02d}:00') AS INTEGER)")
            q.write(f"INSERT INTO cdrs (file_id,line,service,start,destination,call_type,units,"
                    f"state,rate_id,band,billable,charge_minor) VALUES (1,{line},'0113{i:07d}',"
                    f"{start},'{dest}',0,{secs},1,"
                    f"(SELECT id FROM rates WHERE tariff='STD' AND prefix='{prefix}' "
                    f"AND call_type='voice' AND band='peak'),1,{secs},{secs // 10});\n")
            line += 1
    q.write("COMMIT;\n")
