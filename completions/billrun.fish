# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_billrun_global_optspecs
    string join \n db= json y/yes q/quiet h/help V/version
end

function __fish_billrun_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_billrun_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_billrun_using_subcommand
    set -l cmd (__fish_billrun_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c billrun -n "__fish_billrun_needs_command" -l db -d 'Database file' -r -F
complete -c billrun -n "__fish_billrun_needs_command" -l json -d 'Machine output: one JSON document on stdout'
complete -c billrun -n "__fish_billrun_needs_command" -s y -l yes -d 'Answer yes to confirmations (needed when there is no terminal)'
complete -c billrun -n "__fish_billrun_needs_command" -s q -l quiet -d 'Quiet: only errors and requested data'
complete -c billrun -n "__fish_billrun_needs_command" -s h -l help -d 'Print help'
complete -c billrun -n "__fish_billrun_needs_command" -s V -l version -d 'Print version'
complete -c billrun -n "__fish_billrun_needs_command" -f -a "init" -d 'Create the database (schema and migrations); re-running is harmless'
complete -c billrun -n "__fish_billrun_needs_command" -f -a "demo" -d 'A fresh database with the shipped fixtures, walked through a whole run'
complete -c billrun -n "__fish_billrun_needs_command" -f -a "config" -d 'Settings: `config set KEY VALUE`, `config get KEY`, `config list`'
complete -c billrun -n "__fish_billrun_needs_command" -f -a "customers" -d 'Customers: import (upsert) and list'
complete -c billrun -n "__fish_billrun_needs_command" -f -a "services" -d 'Services (the numbers CDRs carry): import and list'
complete -c billrun -n "__fish_billrun_needs_command" -f -a "plans" -d 'Plans: import and list'
complete -c billrun -n "__fish_billrun_needs_command" -f -a "tariffs" -d 'Tariffs (rate tables): import and list'
complete -c billrun -n "__fish_billrun_needs_command" -f -a "allowances" -d 'Inclusive allowances of plans (minutes, texts, data): import and list'
complete -c billrun -n "__fish_billrun_needs_command" -f -a "cycles" -d 'Billing cycles: add, list, and tick (create the runs that are due; for cron)'
complete -c billrun -n "__fish_billrun_needs_command" -f -a "charge" -d 'One-off charges and credits: add, list, remove (while unbilled)'
complete -c billrun -n "__fish_billrun_needs_command" -f -a "credit" -d 'Credit notes on produced invoices: add, list, show, produce'
complete -c billrun -n "__fish_billrun_needs_command" -f -a "payments" -d 'Payments received: add, import (csv or Xero), list'
complete -c billrun -n "__fish_billrun_needs_command" -f -a "fees" -d 'Wholesale fixed fees (features.wholesale_fees): import, list, codes'
complete -c billrun -n "__fish_billrun_needs_command" -f -a "carriers" -d 'CDR sources: add and list'
complete -c billrun -n "__fish_billrun_needs_command" -f -a "cdr" -d 'CDR files: import, fetch, list, ignore, process'
complete -c billrun -n "__fish_billrun_needs_command" -f -a "errors" -d 'Billing errors: summary and drill-down; resolve, ignore, rerate'
complete -c billrun -n "__fish_billrun_needs_command" -f -a "new" -d 'Create a billing run (status pending)'
complete -c billrun -n "__fish_billrun_needs_command" -f -a "runs" -d 'List runs with status and key figures'
complete -c billrun -n "__fish_billrun_needs_command" -f -a "set-dates" -d 'Set or clear a run\'s dates and message'
complete -c billrun -n "__fish_billrun_needs_command" -f -a "ready" -d 'Mark a run ready (runs the pre-billing report)'
complete -c billrun -n "__fish_billrun_needs_command" -f -a "approve" -d 'Approve a run (sign-off; runs the pre-billing report)'
complete -c billrun -n "__fish_billrun_needs_command" -f -a "prebill" -d 'The pre-billing report (keeps a snapshot on the run)'
complete -c billrun -n "__fish_billrun_needs_command" -f -a "confirm" -d 'Confirm a checklist step: setup, payments, cdrs, errors, fee-errors, prebill, postbill'
complete -c billrun -n "__fish_billrun_needs_command" -f -a "cancel" -d 'Cancel a run created by mistake (before bills are requested; audited)'
complete -c billrun -n "__fish_billrun_needs_command" -f -a "request" -d 'Lock the run and request bills'
complete -c billrun -n "__fish_billrun_needs_command" -f -a "produce" -d 'Produce (or resume producing) a requested run\'s invoices and PDFs'
complete -c billrun -n "__fish_billrun_needs_command" -f -a "postbill" -d 'The post-billing report of a produced run'
complete -c billrun -n "__fish_billrun_needs_command" -f -a "invoices" -d 'List invoices (of a run), or `invoices show NUMBER`'
complete -c billrun -n "__fish_billrun_needs_command" -f -a "print" -d 'Print bundles: merged PDFs of print/both invoices, sorted by postcode'
complete -c billrun -n "__fish_billrun_needs_command" -f -a "collect" -d 'Payment runs: Direct Debit files, card charges, results (docs/collection.md)'
complete -c billrun -n "__fish_billrun_needs_command" -f -a "status" -d 'The next-steps checklist of a run'
complete -c billrun -n "__fish_billrun_needs_command" -f -a "audit" -d 'The audit log'
complete -c billrun -n "__fish_billrun_needs_command" -f -a "email" -d 'Email a completed run\'s invoices (PDF attached) over SMTP'
complete -c billrun -n "__fish_billrun_needs_command" -f -a "xero" -d 'Xero: `xero export RUN --out F` writes Xero\'s sales-invoice import CSV'
complete -c billrun -n "__fish_billrun_needs_command" -f -a "autopilot" -d 'Walk every open run as far as the policy (auto.*) allows; for cron'
complete -c billrun -n "__fish_billrun_needs_command" -f -a "completions" -d 'Print shell completions (bash, zsh, fish, ...)'
complete -c billrun -n "__fish_billrun_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c billrun -n "__fish_billrun_using_subcommand init" -l db -d 'Database file' -r -F
complete -c billrun -n "__fish_billrun_using_subcommand init" -l json -d 'Machine output: one JSON document on stdout'
complete -c billrun -n "__fish_billrun_using_subcommand init" -s y -l yes -d 'Answer yes to confirmations (needed when there is no terminal)'
complete -c billrun -n "__fish_billrun_using_subcommand init" -s q -l quiet -d 'Quiet: only errors and requested data'
complete -c billrun -n "__fish_billrun_using_subcommand init" -s h -l help -d 'Print help'
complete -c billrun -n "__fish_billrun_using_subcommand demo" -l dir -d 'Folder for the demo database and output files (recreated)' -r -F
complete -c billrun -n "__fish_billrun_using_subcommand demo" -l db -d 'Database file' -r -F
complete -c billrun -n "__fish_billrun_using_subcommand demo" -l json -d 'Machine output: one JSON document on stdout'
complete -c billrun -n "__fish_billrun_using_subcommand demo" -s y -l yes -d 'Answer yes to confirmations (needed when there is no terminal)'
complete -c billrun -n "__fish_billrun_using_subcommand demo" -s q -l quiet -d 'Quiet: only errors and requested data'
complete -c billrun -n "__fish_billrun_using_subcommand demo" -s h -l help -d 'Print help'
complete -c billrun -n "__fish_billrun_using_subcommand config; and not __fish_seen_subcommand_from set get list help" -l db -d 'Database file' -r -F
complete -c billrun -n "__fish_billrun_using_subcommand config; and not __fish_seen_subcommand_from set get list help" -l json -d 'Machine output: one JSON document on stdout'
complete -c billrun -n "__fish_billrun_using_subcommand config; and not __fish_seen_subcommand_from set get list help" -s y -l yes -d 'Answer yes to confirmations (needed when there is no terminal)'
complete -c billrun -n "__fish_billrun_using_subcommand config; and not __fish_seen_subcommand_from set get list help" -s q -l quiet -d 'Quiet: only errors and requested data'
complete -c billrun -n "__fish_billrun_using_subcommand config; and not __fish_seen_subcommand_from set get list help" -s h -l help -d 'Print help'
complete -c billrun -n "__fish_billrun_using_subcommand config; and not __fish_seen_subcommand_from set get list help" -f -a "set" -d 'Set a setting (validated)'
complete -c billrun -n "__fish_billrun_using_subcommand config; and not __fish_seen_subcommand_from set get list help" -f -a "get" -d 'Print a setting\'s effective value'
complete -c billrun -n "__fish_billrun_using_subcommand config; and not __fish_seen_subcommand_from set get list help" -f -a "list" -d 'Every setting with its value (defaults marked)'
complete -c billrun -n "__fish_billrun_using_subcommand config; and not __fish_seen_subcommand_from set get list help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c billrun -n "__fish_billrun_using_subcommand config; and __fish_seen_subcommand_from set" -l db -d 'Database file' -r -F
complete -c billrun -n "__fish_billrun_using_subcommand config; and __fish_seen_subcommand_from set" -l json -d 'Machine output: one JSON document on stdout'
complete -c billrun -n "__fish_billrun_using_subcommand config; and __fish_seen_subcommand_from set" -s y -l yes -d 'Answer yes to confirmations (needed when there is no terminal)'
complete -c billrun -n "__fish_billrun_using_subcommand config; and __fish_seen_subcommand_from set" -s q -l quiet -d 'Quiet: only errors and requested data'
complete -c billrun -n "__fish_billrun_using_subcommand config; and __fish_seen_subcommand_from set" -s h -l help -d 'Print help'
complete -c billrun -n "__fish_billrun_using_subcommand config; and __fish_seen_subcommand_from get" -l db -d 'Database file' -r -F
complete -c billrun -n "__fish_billrun_using_subcommand config; and __fish_seen_subcommand_from get" -l json -d 'Machine output: one JSON document on stdout'
complete -c billrun -n "__fish_billrun_using_subcommand config; and __fish_seen_subcommand_from get" -s y -l yes -d 'Answer yes to confirmations (needed when there is no terminal)'
complete -c billrun -n "__fish_billrun_using_subcommand config; and __fish_seen_subcommand_from get" -s q -l quiet -d 'Quiet: only errors and requested data'
complete -c billrun -n "__fish_billrun_using_subcommand config; and __fish_seen_subcommand_from get" -s h -l help -d 'Print help'
complete -c billrun -n "__fish_billrun_using_subcommand config; and __fish_seen_subcommand_from list" -l db -d 'Database file' -r -F
complete -c billrun -n "__fish_billrun_using_subcommand config; and __fish_seen_subcommand_from list" -l json -d 'Machine output: one JSON document on stdout'
complete -c billrun -n "__fish_billrun_using_subcommand config; and __fish_seen_subcommand_from list" -s y -l yes -d 'Answer yes to confirmations (needed when there is no terminal)'
complete -c billrun -n "__fish_billrun_using_subcommand config; and __fish_seen_subcommand_from list" -s q -l quiet -d 'Quiet: only errors and requested data'
complete -c billrun -n "__fish_billrun_using_subcommand config; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help'
complete -c billrun -n "__fish_billrun_using_subcommand config; and __fish_seen_subcommand_from help" -f -a "set" -d 'Set a setting (validated)'
complete -c billrun -n "__fish_billrun_using_subcommand config; and __fish_seen_subcommand_from help" -f -a "get" -d 'Print a setting\'s effective value'
complete -c billrun -n "__fish_billrun_using_subcommand config; and __fish_seen_subcommand_from help" -f -a "list" -d 'Every setting with its value (defaults marked)'
complete -c billrun -n "__fish_billrun_using_subcommand config; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c billrun -n "__fish_billrun_using_subcommand customers; and not __fish_seen_subcommand_from import list help" -l db -d 'Database file' -r -F
complete -c billrun -n "__fish_billrun_using_subcommand customers; and not __fish_seen_subcommand_from import list help" -l json -d 'Machine output: one JSON document on stdout'
complete -c billrun -n "__fish_billrun_using_subcommand customers; and not __fish_seen_subcommand_from import list help" -s y -l yes -d 'Answer yes to confirmations (needed when there is no terminal)'
complete -c billrun -n "__fish_billrun_using_subcommand customers; and not __fish_seen_subcommand_from import list help" -s q -l quiet -d 'Quiet: only errors and requested data'
complete -c billrun -n "__fish_billrun_using_subcommand customers; and not __fish_seen_subcommand_from import list help" -s h -l help -d 'Print help'
complete -c billrun -n "__fish_billrun_using_subcommand customers; and not __fish_seen_subcommand_from import list help" -f -a "import" -d 'Upsert customers from a CSV file (docs/file-formats.md#customerscsv)'
complete -c billrun -n "__fish_billrun_using_subcommand customers; and not __fish_seen_subcommand_from import list help" -f -a "list"
complete -c billrun -n "__fish_billrun_using_subcommand customers; and not __fish_seen_subcommand_from import list help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c billrun -n "__fish_billrun_using_subcommand customers; and __fish_seen_subcommand_from import" -l db -d 'Database file' -r -F
complete -c billrun -n "__fish_billrun_using_subcommand customers; and __fish_seen_subcommand_from import" -l json -d 'Machine output: one JSON document on stdout'
complete -c billrun -n "__fish_billrun_using_subcommand customers; and __fish_seen_subcommand_from import" -s y -l yes -d 'Answer yes to confirmations (needed when there is no terminal)'
complete -c billrun -n "__fish_billrun_using_subcommand customers; and __fish_seen_subcommand_from import" -s q -l quiet -d 'Quiet: only errors and requested data'
complete -c billrun -n "__fish_billrun_using_subcommand customers; and __fish_seen_subcommand_from import" -s h -l help -d 'Print help'
complete -c billrun -n "__fish_billrun_using_subcommand customers; and __fish_seen_subcommand_from list" -l db -d 'Database file' -r -F
complete -c billrun -n "__fish_billrun_using_subcommand customers; and __fish_seen_subcommand_from list" -l json -d 'Machine output: one JSON document on stdout'
complete -c billrun -n "__fish_billrun_using_subcommand customers; and __fish_seen_subcommand_from list" -s y -l yes -d 'Answer yes to confirmations (needed when there is no terminal)'
complete -c billrun -n "__fish_billrun_using_subcommand customers; and __fish_seen_subcommand_from list" -s q -l quiet -d 'Quiet: only errors and requested data'
complete -c billrun -n "__fish_billrun_using_subcommand customers; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help'
complete -c billrun -n "__fish_billrun_using_subcommand customers; and __fish_seen_subcommand_from help" -f -a "import" -d 'Upsert customers from a CSV file (docs/file-formats.md#customerscsv)'
complete -c billrun -n "__fish_billrun_using_subcommand customers; and __fish_seen_subcommand_from help" -f -a "list"
complete -c billrun -n "__fish_billrun_using_subcommand customers; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c billrun -n "__fish_billrun_using_subcommand services; and not __fish_seen_subcommand_from import list help" -l db -d 'Database file' -r -F
complete -c billrun -n "__fish_billrun_using_subcommand services; and not __fish_seen_subcommand_from import list help" -l json -d 'Machine output: one JSON document on stdout'
complete -c billrun -n "__fish_billrun_using_subcommand services; and not __fish_seen_subcommand_from import list help" -s y -l yes -d 'Answer yes to confirmations (needed when there is no terminal)'
complete -c billrun -n "__fish_billrun_using_subcommand services; and not __fish_seen_subcommand_from import list help" -s q -l quiet -d 'Quiet: only errors and requested data'
complete -c billrun -n "__fish_billrun_using_subcommand services; and not __fish_seen_subcommand_from import list help" -s h -l help -d 'Print help'
complete -c billrun -n "__fish_billrun_using_subcommand services; and not __fish_seen_subcommand_from import list help" -f -a "import" -d 'Upsert services from a CSV file (docs/file-formats.md#servicescsv)'
complete -c billrun -n "__fish_billrun_using_subcommand services; and not __fish_seen_subcommand_from import list help" -f -a "list"
complete -c billrun -n "__fish_billrun_using_subcommand services; and not __fish_seen_subcommand_from import list help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c billrun -n "__fish_billrun_using_subcommand services; and __fish_seen_subcommand_from import" -l db -d 'Database file' -r -F
complete -c billrun -n "__fish_billrun_using_subcommand services; and __fish_seen_subcommand_from import" -l json -d 'Machine output: one JSON document on stdout'
complete -c billrun -n "__fish_billrun_using_subcommand services; and __fish_seen_subcommand_from import" -s y -l yes -d 'Answer yes to confirmations (needed when there is no terminal)'
complete -c billrun -n "__fish_billrun_using_subcommand services; and __fish_seen_subcommand_from import" -s q -l quiet -d 'Quiet: only errors and requested data'
complete -c billrun -n "__fish_billrun_using_subcommand services; and __fish_seen_subcommand_from import" -s h -l help -d 'Print help'
complete -c billrun -n "__fish_billrun_using_subcommand services; and __fish_seen_subcommand_from list" -l db -d 'Database file' -r -F
complete -c billrun -n "__fish_billrun_using_subcommand services; and __fish_seen_subcommand_from list" -l json -d 'Machine output: one JSON document on stdout'
complete -c billrun -n "__fish_billrun_using_subcommand services; and __fish_seen_subcommand_from list" -s y -l yes -d 'Answer yes to confirmations (needed when there is no terminal)'
complete -c billrun -n "__fish_billrun_using_subcommand services; and __fish_seen_subcommand_from list" -s q -l quiet -d 'Quiet: only errors and requested data'
complete -c billrun -n "__fish_billrun_using_subcommand services; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help'
complete -c billrun -n "__fish_billrun_using_subcommand services; and __fish_seen_subcommand_from help" -f -a "import" -d 'Upsert services from a CSV file (docs/file-formats.md#servicescsv)'
complete -c billrun -n "__fish_billrun_using_subcommand services; and __fish_seen_subcommand_from help" -f -a "list"
complete -c billrun -n "__fish_billrun_using_subcommand services; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c billrun -n "__fish_billrun_using_subcommand plans; and not __fish_seen_subcommand_from import list help" -l db -d 'Database file' -r -F
complete -c billrun -n "__fish_billrun_using_subcommand plans; and not __fish_seen_subcommand_from import list help" -l json -d 'Machine output: one JSON document on stdout'
complete -c billrun -n "__fish_billrun_using_subcommand plans; and not __fish_seen_subcommand_from import list help" -s y -l yes -d 'Answer yes to confirmations (needed when there is no terminal)'
complete -c billrun -n "__fish_billrun_using_subcommand plans; and not __fish_seen_subcommand_from import list help" -s q -l quiet -d 'Quiet: only errors and requested data'
complete -c billrun -n "__fish_billrun_using_subcommand plans; and not __fish_seen_subcommand_from import list help" -s h -l help -d 'Print help'
complete -c billrun -n "__fish_billrun_using_subcommand plans; and not __fish_seen_subcommand_from import list help" -f -a "import" -d 'Upsert plans from a CSV file (docs/file-formats.md#planscsv)'
complete -c billrun -n "__fish_billrun_using_subcommand plans; and not __fish_seen_subcommand_from import list help" -f -a "list"
complete -c billrun -n "__fish_billrun_using_subcommand plans; and not __fish_seen_subcommand_from import list help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c billrun -n "__fish_billrun_using_subcommand plans; and __fish_seen_subcommand_from import" -l db -d 'Database file' -r -F
complete -c billrun -n "__fish_billrun_using_subcommand plans; and __fish_seen_subcommand_from import" -l json -d 'Machine output: one JSON document on stdout'
complete -c billrun -n "__fish_billrun_using_subcommand plans; and __fish_seen_subcommand_from import" -s y -l yes -d 'Answer yes to confirmations (needed when there is no terminal)'
complete -c billrun -n "__fish_billrun_using_subcommand plans; and __fish_seen_subcommand_from import" -s q -l quiet -d 'Quiet: only errors and requested data'
complete -c billrun -n "__fish_billrun_using_subcommand plans; and __fish_seen_subcommand_from import" -s h -l help -d 'Print help'
complete -c billrun -n "__fish_billrun_using_subcommand plans; and __fish_seen_subcommand_from list" -l db -d 'Database file' -r -F
complete -c billrun -n "__fish_billrun_using_subcommand plans; and __fish_seen_subcommand_from list" -l json -d 'Machine output: one JSON document on stdout'
complete -c billrun -n "__fish_billrun_using_subcommand plans; and __fish_seen_subcommand_from list" -s y -l yes -d 'Answer yes to confirmations (needed when there is no terminal)'
complete -c billrun -n "__fish_billrun_using_subcommand plans; and __fish_seen_subcommand_from list" -s q -l quiet -d 'Quiet: only errors and requested data'
complete -c billrun -n "__fish_billrun_using_subcommand plans; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help'
complete -c billrun -n "__fish_billrun_using_subcommand plans; and __fish_seen_subcommand_from help" -f -a "import" -d 'Upsert plans from a CSV file (docs/file-formats.md#planscsv)'
complete -c billrun -n "__fish_billrun_using_subcommand plans; and __fish_seen_subcommand_from help" -f -a "list"
complete -c billrun -n "__fish_billrun_using_subcommand plans; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c billrun -n "__fish_billrun_using_subcommand tariffs; and not __fish_seen_subcommand_from import list help" -l db -d 'Database file' -r -F
complete -c billrun -n "__fish_billrun_using_subcommand tariffs; and not __fish_seen_subcommand_from import list help" -l json -d 'Machine output: one JSON document on stdout'
complete -c billrun -n "__fish_billrun_using_subcommand tariffs; and not __fish_seen_subcommand_from import list help" -s y -l yes -d 'Answer yes to confirmations (needed when there is no terminal)'
complete -c billrun -n "__fish_billrun_using_subcommand tariffs; and not __fish_seen_subcommand_from import list help" -s q -l quiet -d 'Quiet: only errors and requested data'
complete -c billrun -n "__fish_billrun_using_subcommand tariffs; and not __fish_seen_subcommand_from import list help" -s h -l help -d 'Print help'
complete -c billrun -n "__fish_billrun_using_subcommand tariffs; and not __fish_seen_subcommand_from import list help" -f -a "import" -d 'Upsert tariff rates from a CSV file (docs/file-formats.md#tariffscsv)'
complete -c billrun -n "__fish_billrun_using_subcommand tariffs; and not __fish_seen_subcommand_from import list help" -f -a "list"
complete -c billrun -n "__fish_billrun_using_subcommand tariffs; and not __fish_seen_subcommand_from import list help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c billrun -n "__fish_billrun_using_subcommand tariffs; and __fish_seen_subcommand_from import" -l db -d 'Database file' -r -F
complete -c billrun -n "__fish_billrun_using_subcommand tariffs; and __fish_seen_subcommand_from import" -l json -d 'Machine output: one JSON document on stdout'
complete -c billrun -n "__fish_billrun_using_subcommand tariffs; and __fish_seen_subcommand_from import" -s y -l yes -d 'Answer yes to confirmations (needed when there is no terminal)'
complete -c billrun -n "__fish_billrun_using_subcommand tariffs; and __fish_seen_subcommand_from import" -s q -l quiet -d 'Quiet: only errors and requested data'
complete -c billrun -n "__fish_billrun_using_subcommand tariffs; and __fish_seen_subcommand_from import" -s h -l help -d 'Print help'
complete -c billrun -n "__fish_billrun_using_subcommand tariffs; and __fish_seen_subcommand_from list" -l db -d 'Database file' -r -F
complete -c billrun -n "__fish_billrun_using_subcommand tariffs; and __fish_seen_subcommand_from list" -l json -d 'Machine output: one JSON document on stdout'
complete -c billrun -n "__fish_billrun_using_subcommand tariffs; and __fish_seen_subcommand_from list" -s y -l yes -d 'Answer yes to confirmations (needed when there is no terminal)'
complete -c billrun -n "__fish_billrun_using_subcommand tariffs; and __fish_seen_subcommand_from list" -s q -l quiet -d 'Quiet: only errors and requested data'
complete -c billrun -n "__fish_billrun_using_subcommand tariffs; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help'
complete -c billrun -n "__fish_billrun_using_subcommand tariffs; and __fish_seen_subcommand_from help" -f -a "import" -d 'Upsert tariff rates from a CSV file (docs/file-formats.md#tariffscsv)'
complete -c billrun -n "__fish_billrun_using_subcommand tariffs; and __fish_seen_subcommand_from help" -f -a "list"
complete -c billrun -n "__fish_billrun_using_subcommand tariffs; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c billrun -n "__fish_billrun_using_subcommand allowances; and not __fish_seen_subcommand_from import list help" -l db -d 'Database file' -r -F
complete -c billrun -n "__fish_billrun_using_subcommand allowances; and not __fish_seen_subcommand_from import list help" -l json -d 'Machine output: one JSON document on stdout'
complete -c billrun -n "__fish_billrun_using_subcommand allowances; and not __fish_seen_subcommand_from import list help" -s y -l yes -d 'Answer yes to confirmations (needed when there is no terminal)'
complete -c billrun -n "__fish_billrun_using_subcommand allowances; and not __fish_seen_subcommand_from import list help" -s q -l quiet -d 'Quiet: only errors and requested data'
complete -c billrun -n "__fish_billrun_using_subcommand allowances; and not __fish_seen_subcommand_from import list help" -s h -l help -d 'Print help'
complete -c billrun -n "__fish_billrun_using_subcommand allowances; and not __fish_seen_subcommand_from import list help" -f -a "import" -d 'Upsert allowances from a CSV file (docs/file-formats.md#allowancescsv): plan,name,call_type,prefixes,quantity,pooled'
complete -c billrun -n "__fish_billrun_using_subcommand allowances; and not __fish_seen_subcommand_from import list help" -f -a "list" -d 'Every allowance, per plan in the order they match (listed first wins on an equal prefix)'
complete -c billrun -n "__fish_billrun_using_subcommand allowances; and not __fish_seen_subcommand_from import list help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c billrun -n "__fish_billrun_using_subcommand allowances; and __fish_seen_subcommand_from import" -l db -d 'Database file' -r -F
complete -c billrun -n "__fish_billrun_using_subcommand allowances; and __fish_seen_subcommand_from import" -l json -d 'Machine output: one JSON document on stdout'
complete -c billrun -n "__fish_billrun_using_subcommand allowances; and __fish_seen_subcommand_from import" -s y -l yes -d 'Answer yes to confirmations (needed when there is no terminal)'
complete -c billrun -n "__fish_billrun_using_subcommand allowances; and __fish_seen_subcommand_from import" -s q -l quiet -d 'Quiet: only errors and requested data'
complete -c billrun -n "__fish_billrun_using_subcommand allowances; and __fish_seen_subcommand_from import" -s h -l help -d 'Print help'
complete -c billrun -n "__fish_billrun_using_subcommand allowances; and __fish_seen_subcommand_from list" -l db -d 'Database file' -r -F
complete -c billrun -n "__fish_billrun_using_subcommand allowances; and __fish_seen_subcommand_from list" -l json -d 'Machine output: one JSON document on stdout'
complete -c billrun -n "__fish_billrun_using_subcommand allowances; and __fish_seen_subcommand_from list" -s y -l yes -d 'Answer yes to confirmations (needed when there is no terminal)'
complete -c billrun -n "__fish_billrun_using_subcommand allowances; and __fish_seen_subcommand_from list" -s q -l quiet -d 'Quiet: only errors and requested data'
complete -c billrun -n "__fish_billrun_using_subcommand allowances; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help'
complete -c billrun -n "__fish_billrun_using_subcommand allowances; and __fish_seen_subcommand_from help" -f -a "import" -d 'Upsert allowances from a CSV file (docs/file-formats.md#allowancescsv): plan,name,call_type,prefixes,quantity,pooled'
complete -c billrun -n "__fish_billrun_using_subcommand allowances; and __fish_seen_subcommand_from help" -f -a "list" -d 'Every allowance, per plan in the order they match (listed first wins on an equal prefix)'
complete -c billrun -n "__fish_billrun_using_subcommand allowances; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c billrun -n "__fish_billrun_using_subcommand cycles; and not __fish_seen_subcommand_from add list remove tick help" -l db -d 'Database file' -r -F
complete -c billrun -n "__fish_billrun_using_subcommand cycles; and not __fish_seen_subcommand_from add list remove tick help" -l json -d 'Machine output: one JSON document on stdout'
complete -c billrun -n "__fish_billrun_using_subcommand cycles; and not __fish_seen_subcommand_from add list remove tick help" -s y -l yes -d 'Answer yes to confirmations (needed when there is no terminal)'
complete -c billrun -n "__fish_billrun_using_subcommand cycles; and not __fish_seen_subcommand_from add list remove tick help" -s q -l quiet -d 'Quiet: only errors and requested data'
complete -c billrun -n "__fish_billrun_using_subcommand cycles; and not __fish_seen_subcommand_from add list remove tick help" -s h -l help -d 'Print help'
complete -c billrun -n "__fish_billrun_using_subcommand cycles; and not __fish_seen_subcommand_from add list remove tick help" -f -a "add" -d 'Add (or change) a billing cycle billing on day D of every month'
complete -c billrun -n "__fish_billrun_using_subcommand cycles; and not __fish_seen_subcommand_from add list remove tick help" -f -a "list"
complete -c billrun -n "__fish_billrun_using_subcommand cycles; and not __fish_seen_subcommand_from add list remove tick help" -f -a "remove" -d 'Remove a cycle (refused while it has open runs or customers; audited)'
complete -c billrun -n "__fish_billrun_using_subcommand cycles; and not __fish_seen_subcommand_from add list remove tick help" -f -a "tick" -d 'Create the runs that are due (idempotent; for cron)'
complete -c billrun -n "__fish_billrun_using_subcommand cycles; and not __fish_seen_subcommand_from add list remove tick help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c billrun -n "__fish_billrun_using_subcommand cycles; and __fish_seen_subcommand_from add" -l name -r
complete -c billrun -n "__fish_billrun_using_subcommand cycles; and __fish_seen_subcommand_from add" -l day -d 'Day of the month of the invoice date (1-31; the cutoff is the day before)' -r
complete -c billrun -n "__fish_billrun_using_subcommand cycles; and __fish_seen_subcommand_from add" -l due-days -d 'Days from invoice date to due date (default: setting invoice.due_days)' -r
complete -c billrun -n "__fish_billrun_using_subcommand cycles; and __fish_seen_subcommand_from add" -l db -d 'Database file' -r -F
complete -c billrun -n "__fish_billrun_using_subcommand cycles; and __fish_seen_subcommand_from add" -l json -d 'Machine output: one JSON document on stdout'
complete -c billrun -n "__fish_billrun_using_subcommand cycles; and __fish_seen_subcommand_from add" -s y -l yes -d 'Answer yes to confirmations (needed when there is no terminal)'
complete -c billrun -n "__fish_billrun_using_subcommand cycles; and __fish_seen_subcommand_from add" -s q -l quiet -d 'Quiet: only errors and requested data'
complete -c billrun -n "__fish_billrun_using_subcommand cycles; and __fish_seen_subcommand_from add" -s h -l help -d 'Print help'
complete -c billrun -n "__fish_billrun_using_subcommand cycles; and __fish_seen_subcommand_from list" -l db -d 'Database file' -r -F
complete -c billrun -n "__fish_billrun_using_subcommand cycles; and __fish_seen_subcommand_from list" -l json -d 'Machine output: one JSON document on stdout'
complete -c billrun -n "__fish_billrun_using_subcommand cycles; and __fish_seen_subcommand_from list" -s y -l yes -d 'Answer yes to confirmations (needed when there is no terminal)'
complete -c billrun -n "__fish_billrun_using_subcommand cycles; and __fish_seen_subcommand_from list" -s q -l quiet -d 'Quiet: only errors and requested data'
complete -c billrun -n "__fish_billrun_using_subcommand cycles; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help'
complete -c billrun -n "__fish_billrun_using_subcommand cycles; and __fish_seen_subcommand_from remove" -l db -d 'Database file' -r -F
complete -c billrun -n "__fish_billrun_using_subcommand cycles; and __fish_seen_subcommand_from remove" -l json -d 'Machine output: one JSON document on stdout'
complete -c billrun -n "__fish_billrun_using_subcommand cycles; and __fish_seen_subcommand_from remove" -s y -l yes -d 'Answer yes to confirmations (needed when there is no terminal)'
complete -c billrun -n "__fish_billrun_using_subcommand cycles; and __fish_seen_subcommand_from remove" -s q -l quiet -d 'Quiet: only errors and requested data'
complete -c billrun -n "__fish_billrun_using_subcommand cycles; and __fish_seen_subcommand_from remove" -s h -l help -d 'Print help'
complete -c billrun -n "__fish_billrun_using_subcommand cycles; and __fish_seen_subcommand_from tick" -l today -d 'Pretend today is this date (YYYY-MM-DD)' -r
complete -c billrun -n "__fish_billrun_using_subcommand cycles; and __fish_seen_subcommand_from tick" -l db -d 'Database file' -r -F
complete -c billrun -n "__fish_billrun_using_subcommand cycles; and __fish_seen_subcommand_from tick" -l json -d 'Machine output: one JSON document on stdout'
complete -c billrun -n "__fish_billrun_using_subcommand cycles; and __fish_seen_subcommand_from tick" -s y -l yes -d 'Answer yes to confirmations (needed when there is no terminal)'
complete -c billrun -n "__fish_billrun_using_subcommand cycles; and __fish_seen_subcommand_from tick" -s q -l quiet -d 'Quiet: only errors and requested data'
complete -c billrun -n "__fish_billrun_using_subcommand cycles; and __fish_seen_subcommand_from tick" -s h -l help -d 'Print help'
complete -c billrun -n "__fish_billrun_using_subcommand cycles; and __fish_seen_subcommand_from help" -f -a "add" -d 'Add (or change) a billing cycle billing on day D of every month'
complete -c billrun -n "__fish_billrun_using_subcommand cycles; and __fish_seen_subcommand_from help" -f -a "list"
complete -c billrun -n "__fish_billrun_using_subcommand cycles; and __fish_seen_subcommand_from help" -f -a "remove" -d 'Remove a cycle (refused while it has open runs or customers; audited)'
complete -c billrun -n "__fish_billrun_using_subcommand cycles; and __fish_seen_subcommand_from help" -f -a "tick" -d 'Create the runs that are due (idempotent; for cron)'
complete -c billrun -n "__fish_billrun_using_subcommand cycles; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c billrun -n "__fish_billrun_using_subcommand charge; and not __fish_seen_subcommand_from add list remove help" -l db -d 'Database file' -r -F
complete -c billrun -n "__fish_billrun_using_subcommand charge; and not __fish_seen_subcommand_from add list remove help" -l json -d 'Machine output: one JSON document on stdout'
complete -c billrun -n "__fish_billrun_using_subcommand charge; and not __fish_seen_subcommand_from add list remove help" -s y -l yes -d 'Answer yes to confirmations (needed when there is no terminal)'
complete -c billrun -n "__fish_billrun_using_subcommand charge; and not __fish_seen_subcommand_from add list remove help" -s q -l quiet -d 'Quiet: only errors and requested data'
complete -c billrun -n "__fish_billrun_using_subcommand charge; and not __fish_seen_subcommand_from add list remove help" -s h -l help -d 'Print help'
complete -c billrun -n "__fish_billrun_using_subcommand charge; and not __fish_seen_subcommand_from add list remove help" -f -a "add" -d 'Add a one-off charge, or a credit (negative amount)'
complete -c billrun -n "__fish_billrun_using_subcommand charge; and not __fish_seen_subcommand_from add list remove help" -f -a "list" -d 'List charges and credits'
complete -c billrun -n "__fish_billrun_using_subcommand charge; and not __fish_seen_subcommand_from add list remove help" -f -a "remove" -d 'Remove a charge that is not billed yet'
complete -c billrun -n "__fish_billrun_using_subcommand charge; and not __fish_seen_subcommand_from add list remove help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c billrun -n "__fish_billrun_using_subcommand charge; and __fish_seen_subcommand_from add" -l account -d 'Customer account' -r
complete -c billrun -n "__fish_billrun_using_subcommand charge; and __fish_seen_subcommand_from add" -l amount -d 'Amount ex-tax, at most two decimals; negative for a credit (e.g. -10.00)' -r
complete -c billrun -n "__fish_billrun_using_subcommand charge; and __fish_seen_subcommand_from add" -l description -d 'Text printed on the invoice line' -r
complete -c billrun -n "__fish_billrun_using_subcommand charge; and __fish_seen_subcommand_from add" -l service -d 'The service it is for (must belong to the account)' -r
complete -c billrun -n "__fish_billrun_using_subcommand charge; and __fish_seen_subcommand_from add" -l date -d 'Date YYYY-MM-DD (default today); billed by the first run whose cutoff is on or after it' -r
complete -c billrun -n "__fish_billrun_using_subcommand charge; and __fish_seen_subcommand_from add" -l db -d 'Database file' -r -F
complete -c billrun -n "__fish_billrun_using_subcommand charge; and __fish_seen_subcommand_from add" -l json -d 'Machine output: one JSON document on stdout'
complete -c billrun -n "__fish_billrun_using_subcommand charge; and __fish_seen_subcommand_from add" -s y -l yes -d 'Answer yes to confirmations (needed when there is no terminal)'
complete -c billrun -n "__fish_billrun_using_subcommand charge; and __fish_seen_subcommand_from add" -s q -l quiet -d 'Quiet: only errors and requested data'
complete -c billrun -n "__fish_billrun_using_subcommand charge; and __fish_seen_subcommand_from add" -s h -l help -d 'Print help'
complete -c billrun -n "__fish_billrun_using_subcommand charge; and __fish_seen_subcommand_from list" -l account -d 'Only this account\'s' -r
complete -c billrun -n "__fish_billrun_using_subcommand charge; and __fish_seen_subcommand_from list" -l db -d 'Database file' -r -F
complete -c billrun -n "__fish_billrun_using_subcommand charge; and __fish_seen_subcommand_from list" -l unbilled -d 'Only those no invoice has billed yet'
complete -c billrun -n "__fish_billrun_using_subcommand charge; and __fish_seen_subcommand_from list" -l json -d 'Machine output: one JSON document on stdout'
complete -c billrun -n "__fish_billrun_using_subcommand charge; and __fish_seen_subcommand_from list" -s y -l yes -d 'Answer yes to confirmations (needed when there is no terminal)'
complete -c billrun -n "__fish_billrun_using_subcommand charge; and __fish_seen_subcommand_from list" -s q -l quiet -d 'Quiet: only errors and requested data'
complete -c billrun -n "__fish_billrun_using_subcommand charge; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help'
complete -c billrun -n "__fish_billrun_using_subcommand charge; and __fish_seen_subcommand_from remove" -l db -d 'Database file' -r -F
complete -c billrun -n "__fish_billrun_using_subcommand charge; and __fish_seen_subcommand_from remove" -l json -d 'Machine output: one JSON document on stdout'
complete -c billrun -n "__fish_billrun_using_subcommand charge; and __fish_seen_subcommand_from remove" -s y -l yes -d 'Answer yes to confirmations (needed when there is no terminal)'
complete -c billrun -n "__fish_billrun_using_subcommand charge; and __fish_seen_subcommand_from remove" -s q -l quiet -d 'Quiet: only errors and requested data'
complete -c billrun -n "__fish_billrun_using_subcommand charge; and __fish_seen_subcommand_from remove" -s h -l help -d 'Print help'
complete -c billrun -n "__fish_billrun_using_subcommand charge; and __fish_seen_subcommand_from help" -f -a "add" -d 'Add a one-off charge, or a credit (negative amount)'
complete -c billrun -n "__fish_billrun_using_subcommand charge; and __fish_seen_subcommand_from help" -f -a "list" -d 'List charges and credits'
complete -c billrun -n "__fish_billrun_using_subcommand charge; and __fish_seen_subcommand_from help" -f -a "remove" -d 'Remove a charge that is not billed yet'
complete -c billrun -n "__fish_billrun_using_subcommand charge; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c billrun -n "__fish_billrun_using_subcommand credit; and not __fish_seen_subcommand_from add list show produce help" -l db -d 'Database file' -r -F
complete -c billrun -n "__fish_billrun_using_subcommand credit; and not __fish_seen_subcommand_from add list show produce help" -l json -d 'Machine output: one JSON document on stdout'
complete -c billrun -n "__fish_billrun_using_subcommand credit; and not __fish_seen_subcommand_from add list show produce help" -s y -l yes -d 'Answer yes to confirmations (needed when there is no terminal)'
complete -c billrun -n "__fish_billrun_using_subcommand credit; and not __fish_seen_subcommand_from add list show produce help" -s q -l quiet -d 'Quiet: only errors and requested data'
complete -c billrun -n "__fish_billrun_using_subcommand credit; and not __fish_seen_subcommand_from add list show produce help" -s h -l help -d 'Print help'
complete -c billrun -n "__fish_billrun_using_subcommand credit; and not __fish_seen_subcommand_from add list show produce help" -f -a "add" -d 'Credit a produced invoice: an amount ex tax, or one whole line (audited)'
complete -c billrun -n "__fish_billrun_using_subcommand credit; and not __fish_seen_subcommand_from add list show produce help" -f -a "list" -d 'List credit notes (of the invoices of a run, or all)'
complete -c billrun -n "__fish_billrun_using_subcommand credit; and not __fish_seen_subcommand_from add list show produce help" -f -a "show" -d 'One credit note with its lines'
complete -c billrun -n "__fish_billrun_using_subcommand credit; and not __fish_seen_subcommand_from add list show produce help" -f -a "produce" -d 'Render the PDF of every credit note that has none (after a kill)'
complete -c billrun -n "__fish_billrun_using_subcommand credit; and not __fish_seen_subcommand_from add list show produce help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c billrun -n "__fish_billrun_using_subcommand credit; and __fish_seen_subcommand_from add" -l amount -d 'Amount to credit, ex tax (tax is added as on invoices), e.g. 12.50' -r
complete -c billrun -n "__fish_billrun_using_subcommand credit; and __fish_seen_subcommand_from add" -l line -d 'Credit one whole invoice line: its id from `billrun invoices show NUMBER`' -r
complete -c billrun -n "__fish_billrun_using_subcommand credit; and __fish_seen_subcommand_from add" -l reason -d 'Why the invoice is credited (printed on the credit note)' -r
complete -c billrun -n "__fish_billrun_using_subcommand credit; and __fish_seen_subcommand_from add" -l db -d 'Database file' -r -F
complete -c billrun -n "__fish_billrun_using_subcommand credit; and __fish_seen_subcommand_from add" -l json -d 'Machine output: one JSON document on stdout'
complete -c billrun -n "__fish_billrun_using_subcommand credit; and __fish_seen_subcommand_from add" -s y -l yes -d 'Answer yes to confirmations (needed when there is no terminal)'
complete -c billrun -n "__fish_billrun_using_subcommand credit; and __fish_seen_subcommand_from add" -s q -l quiet -d 'Quiet: only errors and requested data'
complete -c billrun -n "__fish_billrun_using_subcommand credit; and __fish_seen_subcommand_from add" -s h -l help -d 'Print help'
complete -c billrun -n "__fish_billrun_using_subcommand credit; and __fish_seen_subcommand_from list" -l db -d 'Database file' -r -F
complete -c billrun -n "__fish_billrun_using_subcommand credit; and __fish_seen_subcommand_from list" -l json -d 'Machine output: one JSON document on stdout'
complete -c billrun -n "__fish_billrun_using_subcommand credit; and __fish_seen_subcommand_from list" -s y -l yes -d 'Answer yes to confirmations (needed when there is no terminal)'
complete -c billrun -n "__fish_billrun_using_subcommand credit; and __fish_seen_subcommand_from list" -s q -l quiet -d 'Quiet: only errors and requested data'
complete -c billrun -n "__fish_billrun_using_subcommand credit; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help'
complete -c billrun -n "__fish_billrun_using_subcommand credit; and __fish_seen_subcommand_from show" -l db -d 'Database file' -r -F
complete -c billrun -n "__fish_billrun_using_subcommand credit; and __fish_seen_subcommand_from show" -l json -d 'Machine output: one JSON document on stdout'
complete -c billrun -n "__fish_billrun_using_subcommand credit; and __fish_seen_subcommand_from show" -s y -l yes -d 'Answer yes to confirmations (needed when there is no terminal)'
complete -c billrun -n "__fish_billrun_using_subcommand credit; and __fish_seen_subcommand_from show" -s q -l quiet -d 'Quiet: only errors and requested data'
complete -c billrun -n "__fish_billrun_using_subcommand credit; and __fish_seen_subcommand_from show" -s h -l help -d 'Print help'
complete -c billrun -n "__fish_billrun_using_subcommand credit; and __fish_seen_subcommand_from produce" -l db -d 'Database file' -r -F
complete -c billrun -n "__fish_billrun_using_subcommand credit; and __fish_seen_subcommand_from produce" -l json -d 'Machine output: one JSON document on stdout'
complete -c billrun -n "__fish_billrun_using_subcommand credit; and __fish_seen_subcommand_from produce" -s y -l yes -d 'Answer yes to confirmations (needed when there is no terminal)'
complete -c billrun -n "__fish_billrun_using_subcommand credit; and __fish_seen_subcommand_from produce" -s q -l quiet -d 'Quiet: only errors and requested data'
complete -c billrun -n "__fish_billrun_using_subcommand credit; and __fish_seen_subcommand_from produce" -s h -l help -d 'Print help'
complete -c billrun -n "__fish_billrun_using_subcommand credit; and __fish_seen_subcommand_from help" -f -a "add" -d 'Credit a produced invoice: an amount ex tax, or one whole line (audited)'
complete -c billrun -n "__fish_billrun_using_subcommand credit; and __fish_seen_subcommand_from help" -f -a "list" -d 'List credit notes (of the invoices of a run, or all)'
complete -c billrun -n "__fish_billrun_using_subcommand credit; and __fish_seen_subcommand_from help" -f -a "show" -d 'One credit note with its lines'
complete -c billrun -n "__fish_billrun_using_subcommand credit; and __fish_seen_subcommand_from help" -f -a "produce" -d 'Render the PDF of every credit note that has none (after a kill)'
complete -c billrun -n "__fish_billrun_using_subcommand credit; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c billrun -n "__fish_billrun_using_subcommand payments; and not __fish_seen_subcommand_from add import fetch list help" -l db -d 'Database file' -r -F
complete -c billrun -n "__fish_billrun_using_subcommand payments; and not __fish_seen_subcommand_from add import fetch list help" -l json -d 'Machine output: one JSON document on stdout'
complete -c billrun -n "__fish_billrun_using_subcommand payments; and not __fish_seen_subcommand_from add import fetch list help" -s y -l yes -d 'Answer yes to confirmations (needed when there is no terminal)'
complete -c billrun -n "__fish_billrun_using_subcommand payments; and not __fish_seen_subcommand_from add import fetch list help" -s q -l quiet -d 'Quiet: only errors and requested data'
complete -c billrun -n "__fish_billrun_using_subcommand payments; and not __fish_seen_subcommand_from add import fetch list help" -s h -l help -d 'Print help'
complete -c billrun -n "__fish_billrun_using_subcommand payments; and not __fish_seen_subcommand_from add import fetch list help" -f -a "add" -d 'Record one payment received'
complete -c billrun -n "__fish_billrun_using_subcommand payments; and not __fish_seen_subcommand_from add import fetch list help" -f -a "import" -d 'Import a payments file (all or nothing)'
complete -c billrun -n "__fish_billrun_using_subcommand payments; and not __fish_seen_subcommand_from add import fetch list help" -f -a "fetch" -d 'Fetch the payments Xero recorded since the last fetch (xero.mode api)'
complete -c billrun -n "__fish_billrun_using_subcommand payments; and not __fish_seen_subcommand_from add import fetch list help" -f -a "list" -d 'List payments'
complete -c billrun -n "__fish_billrun_using_subcommand payments; and not __fish_seen_subcommand_from add import fetch list help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c billrun -n "__fish_billrun_using_subcommand payments; and __fish_seen_subcommand_from add" -l account -r
complete -c billrun -n "__fish_billrun_using_subcommand payments; and __fish_seen_subcommand_from add" -l amount -d 'Amount received, above zero, at most two decimals' -r
complete -c billrun -n "__fish_billrun_using_subcommand payments; and __fish_seen_subcommand_from add" -l date -d 'Date received, YYYY-MM-DD' -r
complete -c billrun -n "__fish_billrun_using_subcommand payments; and __fish_seen_subcommand_from add" -l method -d 'direct_debit, card, bank_transfer, cash, cheque or xero' -r
complete -c billrun -n "__fish_billrun_using_subcommand payments; and __fish_seen_subcommand_from add" -l reference -d 'The payment\'s reference (unique per account)' -r
complete -c billrun -n "__fish_billrun_using_subcommand payments; and __fish_seen_subcommand_from add" -l db -d 'Database file' -r -F
complete -c billrun -n "__fish_billrun_using_subcommand payments; and __fish_seen_subcommand_from add" -l allow-date -d 'Accept a date more than 7 days ahead or more than a year back'
complete -c billrun -n "__fish_billrun_using_subcommand payments; and __fish_seen_subcommand_from add" -l json -d 'Machine output: one JSON document on stdout'
complete -c billrun -n "__fish_billrun_using_subcommand payments; and __fish_seen_subcommand_from add" -s y -l yes -d 'Answer yes to confirmations (needed when there is no terminal)'
complete -c billrun -n "__fish_billrun_using_subcommand payments; and __fish_seen_subcommand_from add" -s q -l quiet -d 'Quiet: only errors and requested data'
complete -c billrun -n "__fish_billrun_using_subcommand payments; and __fish_seen_subcommand_from add" -s h -l help -d 'Print help'
complete -c billrun -n "__fish_billrun_using_subcommand payments; and __fish_seen_subcommand_from import" -l format -d 'csv: account, date, amount, method, reference; xero: Xero\'s payments export' -r -f -a "csv\t''
xero\t''"
complete -c billrun -n "__fish_billrun_using_subcommand payments; and __fish_seen_subcommand_from import" -l db -d 'Database file' -r -F
complete -c billrun -n "__fish_billrun_using_subcommand payments; and __fish_seen_subcommand_from import" -l allow-date -d 'Accept payment dates more than 7 days ahead or more than a year back'
complete -c billrun -n "__fish_billrun_using_subcommand payments; and __fish_seen_subcommand_from import" -l json -d 'Machine output: one JSON document on stdout'
complete -c billrun -n "__fish_billrun_using_subcommand payments; and __fish_seen_subcommand_from import" -s y -l yes -d 'Answer yes to confirmations (needed when there is no terminal)'
complete -c billrun -n "__fish_billrun_using_subcommand payments; and __fish_seen_subcommand_from import" -s q -l quiet -d 'Quiet: only errors and requested data'
complete -c billrun -n "__fish_billrun_using_subcommand payments; and __fish_seen_subcommand_from import" -s h -l help -d 'Print help'
complete -c billrun -n "__fish_billrun_using_subcommand payments; and __fish_seen_subcommand_from fetch" -l db -d 'Database file' -r -F
complete -c billrun -n "__fish_billrun_using_subcommand payments; and __fish_seen_subcommand_from fetch" -l json -d 'Machine output: one JSON document on stdout'
complete -c billrun -n "__fish_billrun_using_subcommand payments; and __fish_seen_subcommand_from fetch" -s y -l yes -d 'Answer yes to confirmations (needed when there is no terminal)'
complete -c billrun -n "__fish_billrun_using_subcommand payments; and __fish_seen_subcommand_from fetch" -s q -l quiet -d 'Quiet: only errors and requested data'
complete -c billrun -n "__fish_billrun_using_subcommand payments; and __fish_seen_subcommand_from fetch" -s h -l help -d 'Print help'
complete -c billrun -n "__fish_billrun_using_subcommand payments; and __fish_seen_subcommand_from list" -l account -d 'Only this account\'s' -r
complete -c billrun -n "__fish_billrun_using_subcommand payments; and __fish_seen_subcommand_from list" -l db -d 'Database file' -r -F
complete -c billrun -n "__fish_billrun_using_subcommand payments; and __fish_seen_subcommand_from list" -l unallocated -d 'Only payments no invoice has applied yet'
complete -c billrun -n "__fish_billrun_using_subcommand payments; and __fish_seen_subcommand_from list" -l json -d 'Machine output: one JSON document on stdout'
complete -c billrun -n "__fish_billrun_using_subcommand payments; and __fish_seen_subcommand_from list" -s y -l yes -d 'Answer yes to confirmations (needed when there is no terminal)'
complete -c billrun -n "__fish_billrun_using_subcommand payments; and __fish_seen_subcommand_from list" -s q -l quiet -d 'Quiet: only errors and requested data'
complete -c billrun -n "__fish_billrun_using_subcommand payments; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help'
complete -c billrun -n "__fish_billrun_using_subcommand payments; and __fish_seen_subcommand_from help" -f -a "add" -d 'Record one payment received'
complete -c billrun -n "__fish_billrun_using_subcommand payments; and __fish_seen_subcommand_from help" -f -a "import" -d 'Import a payments file (all or nothing)'
complete -c billrun -n "__fish_billrun_using_subcommand payments; and __fish_seen_subcommand_from help" -f -a "fetch" -d 'Fetch the payments Xero recorded since the last fetch (xero.mode api)'
complete -c billrun -n "__fish_billrun_using_subcommand payments; and __fish_seen_subcommand_from help" -f -a "list" -d 'List payments'
complete -c billrun -n "__fish_billrun_using_subcommand payments; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c billrun -n "__fish_billrun_using_subcommand fees; and not __fish_seen_subcommand_from import list codes help" -l db -d 'Database file' -r -F
complete -c billrun -n "__fish_billrun_using_subcommand fees; and not __fish_seen_subcommand_from import list codes help" -l json -d 'Machine output: one JSON document on stdout'
complete -c billrun -n "__fish_billrun_using_subcommand fees; and not __fish_seen_subcommand_from import list codes help" -s y -l yes -d 'Answer yes to confirmations (needed when there is no terminal)'
complete -c billrun -n "__fish_billrun_using_subcommand fees; and not __fish_seen_subcommand_from import list codes help" -s q -l quiet -d 'Quiet: only errors and requested data'
complete -c billrun -n "__fish_billrun_using_subcommand fees; and not __fish_seen_subcommand_from import list codes help" -s h -l help -d 'Print help'
complete -c billrun -n "__fish_billrun_using_subcommand fees; and not __fish_seen_subcommand_from import list codes help" -f -a "import" -d 'Import a carrier\'s fixed-fee file and match its lines to services'
complete -c billrun -n "__fish_billrun_using_subcommand fees; and not __fish_seen_subcommand_from import list codes help" -f -a "list" -d 'List fee lines'
complete -c billrun -n "__fish_billrun_using_subcommand fees; and not __fish_seen_subcommand_from import list codes help" -f -a "codes" -d 'Fee codes: a line\'s fee code is known when it is a plan code or registered here'
complete -c billrun -n "__fish_billrun_using_subcommand fees; and not __fish_seen_subcommand_from import list codes help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c billrun -n "__fish_billrun_using_subcommand fees; and __fish_seen_subcommand_from import" -l carrier -d 'The carrier that sent the file' -r
complete -c billrun -n "__fish_billrun_using_subcommand fees; and __fish_seen_subcommand_from import" -l db -d 'Database file' -r -F
complete -c billrun -n "__fish_billrun_using_subcommand fees; and __fish_seen_subcommand_from import" -l json -d 'Machine output: one JSON document on stdout'
complete -c billrun -n "__fish_billrun_using_subcommand fees; and __fish_seen_subcommand_from import" -s y -l yes -d 'Answer yes to confirmations (needed when there is no terminal)'
complete -c billrun -n "__fish_billrun_using_subcommand fees; and __fish_seen_subcommand_from import" -s q -l quiet -d 'Quiet: only errors and requested data'
complete -c billrun -n "__fish_billrun_using_subcommand fees; and __fish_seen_subcommand_from import" -s h -l help -d 'Print help'
complete -c billrun -n "__fish_billrun_using_subcommand fees; and __fish_seen_subcommand_from list" -l account -r
complete -c billrun -n "__fish_billrun_using_subcommand fees; and __fish_seen_subcommand_from list" -l db -d 'Database file' -r -F
complete -c billrun -n "__fish_billrun_using_subcommand fees; and __fish_seen_subcommand_from list" -l unbilled -d 'Only matched lines no invoice has billed yet'
complete -c billrun -n "__fish_billrun_using_subcommand fees; and __fish_seen_subcommand_from list" -l json -d 'Machine output: one JSON document on stdout'
complete -c billrun -n "__fish_billrun_using_subcommand fees; and __fish_seen_subcommand_from list" -s y -l yes -d 'Answer yes to confirmations (needed when there is no terminal)'
complete -c billrun -n "__fish_billrun_using_subcommand fees; and __fish_seen_subcommand_from list" -s q -l quiet -d 'Quiet: only errors and requested data'
complete -c billrun -n "__fish_billrun_using_subcommand fees; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help'
complete -c billrun -n "__fish_billrun_using_subcommand fees; and __fish_seen_subcommand_from codes" -l db -d 'Database file' -r -F
complete -c billrun -n "__fish_billrun_using_subcommand fees; and __fish_seen_subcommand_from codes" -l json -d 'Machine output: one JSON document on stdout'
complete -c billrun -n "__fish_billrun_using_subcommand fees; and __fish_seen_subcommand_from codes" -s y -l yes -d 'Answer yes to confirmations (needed when there is no terminal)'
complete -c billrun -n "__fish_billrun_using_subcommand fees; and __fish_seen_subcommand_from codes" -s q -l quiet -d 'Quiet: only errors and requested data'
complete -c billrun -n "__fish_billrun_using_subcommand fees; and __fish_seen_subcommand_from codes" -s h -l help -d 'Print help'
complete -c billrun -n "__fish_billrun_using_subcommand fees; and __fish_seen_subcommand_from codes" -f -a "add" -d 'Register (or re-describe) a fee code'
complete -c billrun -n "__fish_billrun_using_subcommand fees; and __fish_seen_subcommand_from codes" -f -a "list" -d 'Every known fee code'
complete -c billrun -n "__fish_billrun_using_subcommand fees; and __fish_seen_subcommand_from codes" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c billrun -n "__fish_billrun_using_subcommand fees; and __fish_seen_subcommand_from help" -f -a "import" -d 'Import a carrier\'s fixed-fee file and match its lines to services'
complete -c billrun -n "__fish_billrun_using_subcommand fees; and __fish_seen_subcommand_from help" -f -a "list" -d 'List fee lines'
complete -c billrun -n "__fish_billrun_using_subcommand fees; and __fish_seen_subcommand_from help" -f -a "codes" -d 'Fee codes: a line\'s fee code is known when it is a plan code or registered here'
complete -c billrun -n "__fish_billrun_using_subcommand fees; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c billrun -n "__fish_billrun_using_subcommand carriers; and not __fish_seen_subcommand_from add accept-host-key list help" -l db -d 'Database file' -r -F
complete -c billrun -n "__fish_billrun_using_subcommand carriers; and not __fish_seen_subcommand_from add accept-host-key list help" -l json -d 'Machine output: one JSON document on stdout'
complete -c billrun -n "__fish_billrun_using_subcommand carriers; and not __fish_seen_subcommand_from add accept-host-key list help" -s y -l yes -d 'Answer yes to confirmations (needed when there is no terminal)'
complete -c billrun -n "__fish_billrun_using_subcommand carriers; and not __fish_seen_subcommand_from add accept-host-key list help" -s q -l quiet -d 'Quiet: only errors and requested data'
complete -c billrun -n "__fish_billrun_using_subcommand carriers; and not __fish_seen_subcommand_from add accept-host-key list help" -s h -l help -d 'Print help'
complete -c billrun -n "__fish_billrun_using_subcommand carriers; and not __fish_seen_subcommand_from add accept-host-key list help" -f -a "add" -d 'Add a CDR source: format billrun, asterisk, asterisk:accountcode or mapped:PATH (a TOML column map); an inbox directory or a remote source'
complete -c billrun -n "__fish_billrun_using_subcommand carriers; and not __fish_seen_subcommand_from add accept-host-key list help" -f -a "accept-host-key" -d 'Accept the new SFTP host key of a carrier whose server\'s key changed (the key a refused `cdr fetch` recorded); audited'
complete -c billrun -n "__fish_billrun_using_subcommand carriers; and not __fish_seen_subcommand_from add accept-host-key list help" -f -a "list" -d 'List carriers with their files, and CDR files/lines in the open run\'s period against the previous period'
complete -c billrun -n "__fish_billrun_using_subcommand carriers; and not __fish_seen_subcommand_from add accept-host-key list help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c billrun -n "__fish_billrun_using_subcommand carriers; and __fish_seen_subcommand_from add" -l format -d 'billrun | asterisk | asterisk:accountcode | mapped:PATH' -r
complete -c billrun -n "__fish_billrun_using_subcommand carriers; and __fish_seen_subcommand_from add" -l inbox -d 'A drop directory `billrun cdr fetch` takes new files from' -r -F
complete -c billrun -n "__fish_billrun_using_subcommand carriers; and __fish_seen_subcommand_from add" -l source -d 'A remote source `cdr fetch` downloads new files from: sftp://USER@HOST[:PORT]/DIR, ftp://USER@HOST[:PORT]/DIR, ftps://USER@HOST[:PORT]/DIR (explicit TLS) or imaps://USER@HOST[:PORT]/MAILBOX (the attachments of its messages). The password comes only from the environment: BILLRUN_SOURCE_PASSWORD_<CARRIER>' -r
complete -c billrun -n "__fish_billrun_using_subcommand carriers; and __fish_seen_subcommand_from add" -l pattern -d 'Only remote files (IMAP: attachments) whose names match this glob (e.g. \'cdr-*.csv\')' -r
complete -c billrun -n "__fish_billrun_using_subcommand carriers; and __fish_seen_subcommand_from add" -l key -d 'SFTP: the private key (OpenSSH format, unencrypted) to log in with' -r -F
complete -c billrun -n "__fish_billrun_using_subcommand carriers; and __fish_seen_subcommand_from add" -l ca-file -d 'FTPS/IMAPS: a PEM file of CA certificates trusted besides the system store' -r -F
complete -c billrun -n "__fish_billrun_using_subcommand carriers; and __fish_seen_subcommand_from add" -l remote-done -d 'SFTP/FTP: move each fetched file into this remote directory (without it nothing is changed on the server)' -r
complete -c billrun -n "__fish_billrun_using_subcommand carriers; and __fish_seen_subcommand_from add" -l db -d 'Database file' -r -F
complete -c billrun -n "__fish_billrun_using_subcommand carriers; and __fish_seen_subcommand_from add" -l mark-seen -d 'IMAP: flag a message \\Seen once all its matching attachments are fetched (without it the mailbox is never changed)'
complete -c billrun -n "__fish_billrun_using_subcommand carriers; and __fish_seen_subcommand_from add" -l json -d 'Machine output: one JSON document on stdout'
complete -c billrun -n "__fish_billrun_using_subcommand carriers; and __fish_seen_subcommand_from add" -s y -l yes -d 'Answer yes to confirmations (needed when there is no terminal)'
complete -c billrun -n "__fish_billrun_using_subcommand carriers; and __fish_seen_subcommand_from add" -s q -l quiet -d 'Quiet: only errors and requested data'
complete -c billrun -n "__fish_billrun_using_subcommand carriers; and __fish_seen_subcommand_from add" -s h -l help -d 'Print help'
complete -c billrun -n "__fish_billrun_using_subcommand carriers; and __fish_seen_subcommand_from accept-host-key" -l db -d 'Database file' -r -F
complete -c billrun -n "__fish_billrun_using_subcommand carriers; and __fish_seen_subcommand_from accept-host-key" -l json -d 'Machine output: one JSON document on stdout'
complete -c billrun -n "__fish_billrun_using_subcommand carriers; and __fish_seen_subcommand_from accept-host-key" -s y -l yes -d 'Answer yes to confirmations (needed when there is no terminal)'
complete -c billrun -n "__fish_billrun_using_subcommand carriers; and __fish_seen_subcommand_from accept-host-key" -s q -l quiet -d 'Quiet: only errors and requested data'
complete -c billrun -n "__fish_billrun_using_subcommand carriers; and __fish_seen_subcommand_from accept-host-key" -s h -l help -d 'Print help'
complete -c billrun -n "__fish_billrun_using_subcommand carriers; and __fish_seen_subcommand_from list" -l db -d 'Database file' -r -F
complete -c billrun -n "__fish_billrun_using_subcommand carriers; and __fish_seen_subcommand_from list" -l json -d 'Machine output: one JSON document on stdout'
complete -c billrun -n "__fish_billrun_using_subcommand carriers; and __fish_seen_subcommand_from list" -s y -l yes -d 'Answer yes to confirmations (needed when there is no terminal)'
complete -c billrun -n "__fish_billrun_using_subcommand carriers; and __fish_seen_subcommand_from list" -s q -l quiet -d 'Quiet: only errors and requested data'
complete -c billrun -n "__fish_billrun_using_subcommand carriers; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help'
complete -c billrun -n "__fish_billrun_using_subcommand carriers; and __fish_seen_subcommand_from help" -f -a "add" -d 'Add a CDR source: format billrun, asterisk, asterisk:accountcode or mapped:PATH (a TOML column map); an inbox directory or a remote source'
complete -c billrun -n "__fish_billrun_using_subcommand carriers; and __fish_seen_subcommand_from help" -f -a "accept-host-key" -d 'Accept the new SFTP host key of a carrier whose server\'s key changed (the key a refused `cdr fetch` recorded); audited'
complete -c billrun -n "__fish_billrun_using_subcommand carriers; and __fish_seen_subcommand_from help" -f -a "list" -d 'List carriers with their files, and CDR files/lines in the open run\'s period against the previous period'
complete -c billrun -n "__fish_billrun_using_subcommand carriers; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c billrun -n "__fish_billrun_using_subcommand cdr; and not __fish_seen_subcommand_from import fetch list ignore process help" -l db -d 'Database file' -r -F
complete -c billrun -n "__fish_billrun_using_subcommand cdr; and not __fish_seen_subcommand_from import fetch list ignore process help" -l json -d 'Machine output: one JSON document on stdout'
complete -c billrun -n "__fish_billrun_using_subcommand cdr; and not __fish_seen_subcommand_from import fetch list ignore process help" -s y -l yes -d 'Answer yes to confirmations (needed when there is no terminal)'
complete -c billrun -n "__fish_billrun_using_subcommand cdr; and not __fish_seen_subcommand_from import fetch list ignore process help" -s q -l quiet -d 'Quiet: only errors and requested data'
complete -c billrun -n "__fish_billrun_using_subcommand cdr; and not __fish_seen_subcommand_from import fetch list ignore process help" -s h -l help -d 'Print help'
complete -c billrun -n "__fish_billrun_using_subcommand cdr; and not __fish_seen_subcommand_from import fetch list ignore process help" -f -a "import" -d 'Import a CDR file from a carrier: stored once (by SHA-256), then rated'
complete -c billrun -n "__fish_billrun_using_subcommand cdr; and not __fish_seen_subcommand_from import fetch list ignore process help" -f -a "fetch" -d 'Move new files from every carrier\'s inbox into the store (pending)'
complete -c billrun -n "__fish_billrun_using_subcommand cdr; and not __fish_seen_subcommand_from import fetch list ignore process help" -f -a "list" -d 'CDR files with their state and line counts'
complete -c billrun -n "__fish_billrun_using_subcommand cdr; and not __fish_seen_subcommand_from import fetch list ignore process help" -f -a "ignore" -d 'Ignore a pending or failed file (by id or name)'
complete -c billrun -n "__fish_billrun_using_subcommand cdr; and not __fish_seen_subcommand_from import fetch list ignore process help" -f -a "process" -d 'Rate every pending file'
complete -c billrun -n "__fish_billrun_using_subcommand cdr; and not __fish_seen_subcommand_from import fetch list ignore process help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c billrun -n "__fish_billrun_using_subcommand cdr; and __fish_seen_subcommand_from import" -l carrier -d 'The carrier (see `billrun carriers list`)' -r
complete -c billrun -n "__fish_billrun_using_subcommand cdr; and __fish_seen_subcommand_from import" -l db -d 'Database file' -r -F
complete -c billrun -n "__fish_billrun_using_subcommand cdr; and __fish_seen_subcommand_from import" -l no-process -d 'Only store the file (state pending); rate it later with `cdr process`'
complete -c billrun -n "__fish_billrun_using_subcommand cdr; and __fish_seen_subcommand_from import" -l json -d 'Machine output: one JSON document on stdout'
complete -c billrun -n "__fish_billrun_using_subcommand cdr; and __fish_seen_subcommand_from import" -s y -l yes -d 'Answer yes to confirmations (needed when there is no terminal)'
complete -c billrun -n "__fish_billrun_using_subcommand cdr; and __fish_seen_subcommand_from import" -s q -l quiet -d 'Quiet: only errors and requested data'
complete -c billrun -n "__fish_billrun_using_subcommand cdr; and __fish_seen_subcommand_from import" -s h -l help -d 'Print help'
complete -c billrun -n "__fish_billrun_using_subcommand cdr; and __fish_seen_subcommand_from fetch" -l db -d 'Database file' -r -F
complete -c billrun -n "__fish_billrun_using_subcommand cdr; and __fish_seen_subcommand_from fetch" -l json -d 'Machine output: one JSON document on stdout'
complete -c billrun -n "__fish_billrun_using_subcommand cdr; and __fish_seen_subcommand_from fetch" -s y -l yes -d 'Answer yes to confirmations (needed when there is no terminal)'
complete -c billrun -n "__fish_billrun_using_subcommand cdr; and __fish_seen_subcommand_from fetch" -s q -l quiet -d 'Quiet: only errors and requested data'
complete -c billrun -n "__fish_billrun_using_subcommand cdr; and __fish_seen_subcommand_from fetch" -s h -l help -d 'Print help'
complete -c billrun -n "__fish_billrun_using_subcommand cdr; and __fish_seen_subcommand_from list" -l db -d 'Database file' -r -F
complete -c billrun -n "__fish_billrun_using_subcommand cdr; and __fish_seen_subcommand_from list" -l json -d 'Machine output: one JSON document on stdout'
complete -c billrun -n "__fish_billrun_using_subcommand cdr; and __fish_seen_subcommand_from list" -s y -l yes -d 'Answer yes to confirmations (needed when there is no terminal)'
complete -c billrun -n "__fish_billrun_using_subcommand cdr; and __fish_seen_subcommand_from list" -s q -l quiet -d 'Quiet: only errors and requested data'
complete -c billrun -n "__fish_billrun_using_subcommand cdr; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help'
complete -c billrun -n "__fish_billrun_using_subcommand cdr; and __fish_seen_subcommand_from ignore" -l db -d 'Database file' -r -F
complete -c billrun -n "__fish_billrun_using_subcommand cdr; and __fish_seen_subcommand_from ignore" -l json -d 'Machine output: one JSON document on stdout'
complete -c billrun -n "__fish_billrun_using_subcommand cdr; and __fish_seen_subcommand_from ignore" -s y -l yes -d 'Answer yes to confirmations (needed when there is no terminal)'
complete -c billrun -n "__fish_billrun_using_subcommand cdr; and __fish_seen_subcommand_from ignore" -s q -l quiet -d 'Quiet: only errors and requested data'
complete -c billrun -n "__fish_billrun_using_subcommand cdr; and __fish_seen_subcommand_from ignore" -s h -l help -d 'Print help'
complete -c billrun -n "__fish_billrun_using_subcommand cdr; and __fish_seen_subcommand_from process" -l db -d 'Database file' -r -F
complete -c billrun -n "__fish_billrun_using_subcommand cdr; and __fish_seen_subcommand_from process" -l json -d 'Machine output: one JSON document on stdout'
complete -c billrun -n "__fish_billrun_using_subcommand cdr; and __fish_seen_subcommand_from process" -s y -l yes -d 'Answer yes to confirmations (needed when there is no terminal)'
complete -c billrun -n "__fish_billrun_using_subcommand cdr; and __fish_seen_subcommand_from process" -s q -l quiet -d 'Quiet: only errors and requested data'
complete -c billrun -n "__fish_billrun_using_subcommand cdr; and __fish_seen_subcommand_from process" -s h -l help -d 'Print help'
complete -c billrun -n "__fish_billrun_using_subcommand cdr; and __fish_seen_subcommand_from help" -f -a "import" -d 'Import a CDR file from a carrier: stored once (by SHA-256), then rated'
complete -c billrun -n "__fish_billrun_using_subcommand cdr; and __fish_seen_subcommand_from help" -f -a "fetch" -d 'Move new files from every carrier\'s inbox into the store (pending)'
complete -c billrun -n "__fish_billrun_using_subcommand cdr; and __fish_seen_subcommand_from help" -f -a "list" -d 'CDR files with their state and line counts'
complete -c billrun -n "__fish_billrun_using_subcommand cdr; and __fish_seen_subcommand_from help" -f -a "ignore" -d 'Ignore a pending or failed file (by id or name)'
complete -c billrun -n "__fish_billrun_using_subcommand cdr; and __fish_seen_subcommand_from help" -f -a "process" -d 'Rate every pending file'
complete -c billrun -n "__fish_billrun_using_subcommand cdr; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c billrun -n "__fish_billrun_using_subcommand errors; and not __fish_seen_subcommand_from resolve ignore rerate help" -l kind -d 'Only this kind: malformed, duplicate, unknown_service, service_inactive, no_rate, fee_unknown_service, fee_unknown_code' -r
complete -c billrun -n "__fish_billrun_using_subcommand errors; and not __fish_seen_subcommand_from resolve ignore rerate help" -l db -d 'Database file' -r -F
complete -c billrun -n "__fish_billrun_using_subcommand errors; and not __fish_seen_subcommand_from resolve ignore rerate help" -l detail -d 'List the errors one by one (the drill-down)'
complete -c billrun -n "__fish_billrun_using_subcommand errors; and not __fish_seen_subcommand_from resolve ignore rerate help" -l all -d 'With --detail/--json: resolved and ignored errors too'
complete -c billrun -n "__fish_billrun_using_subcommand errors; and not __fish_seen_subcommand_from resolve ignore rerate help" -l json -d 'Machine output: one JSON document on stdout'
complete -c billrun -n "__fish_billrun_using_subcommand errors; and not __fish_seen_subcommand_from resolve ignore rerate help" -s y -l yes -d 'Answer yes to confirmations (needed when there is no terminal)'
complete -c billrun -n "__fish_billrun_using_subcommand errors; and not __fish_seen_subcommand_from resolve ignore rerate help" -s q -l quiet -d 'Quiet: only errors and requested data'
complete -c billrun -n "__fish_billrun_using_subcommand errors; and not __fish_seen_subcommand_from resolve ignore rerate help" -s h -l help -d 'Print help'
complete -c billrun -n "__fish_billrun_using_subcommand errors; and not __fish_seen_subcommand_from resolve ignore rerate help" -a "resolve" -d 'Mark errors resolved (handled); the CDR stays unbilled unless re-rated'
complete -c billrun -n "__fish_billrun_using_subcommand errors; and not __fish_seen_subcommand_from resolve ignore rerate help" -a "ignore" -d 'Mark errors ignored (accepted as not billable)'
complete -c billrun -n "__fish_billrun_using_subcommand errors; and not __fish_seen_subcommand_from resolve ignore rerate help" -a "rerate" -d 'Re-rate every open error\'s CDR against today\'s reference data and resolve those that now rate'
complete -c billrun -n "__fish_billrun_using_subcommand errors; and not __fish_seen_subcommand_from resolve ignore rerate help" -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c billrun -n "__fish_billrun_using_subcommand errors; and __fish_seen_subcommand_from resolve" -l db -d 'Database file' -r -F
complete -c billrun -n "__fish_billrun_using_subcommand errors; and __fish_seen_subcommand_from resolve" -l json -d 'Machine output: one JSON document on stdout'
complete -c billrun -n "__fish_billrun_using_subcommand errors; and __fish_seen_subcommand_from resolve" -s y -l yes -d 'Answer yes to confirmations (needed when there is no terminal)'
complete -c billrun -n "__fish_billrun_using_subcommand errors; and __fish_seen_subcommand_from resolve" -s q -l quiet -d 'Quiet: only errors and requested data'
complete -c billrun -n "__fish_billrun_using_subcommand errors; and __fish_seen_subcommand_from resolve" -s h -l help -d 'Print help'
complete -c billrun -n "__fish_billrun_using_subcommand errors; and __fish_seen_subcommand_from ignore" -l db -d 'Database file' -r -F
complete -c billrun -n "__fish_billrun_using_subcommand errors; and __fish_seen_subcommand_from ignore" -l json -d 'Machine output: one JSON document on stdout'
complete -c billrun -n "__fish_billrun_using_subcommand errors; and __fish_seen_subcommand_from ignore" -s y -l yes -d 'Answer yes to confirmations (needed when there is no terminal)'
complete -c billrun -n "__fish_billrun_using_subcommand errors; and __fish_seen_subcommand_from ignore" -s q -l quiet -d 'Quiet: only errors and requested data'
complete -c billrun -n "__fish_billrun_using_subcommand errors; and __fish_seen_subcommand_from ignore" -s h -l help -d 'Print help'
complete -c billrun -n "__fish_billrun_using_subcommand errors; and __fish_seen_subcommand_from rerate" -l db -d 'Database file' -r -F
complete -c billrun -n "__fish_billrun_using_subcommand errors; and __fish_seen_subcommand_from rerate" -l json -d 'Machine output: one JSON document on stdout'
complete -c billrun -n "__fish_billrun_using_subcommand errors; and __fish_seen_subcommand_from rerate" -s y -l yes -d 'Answer yes to confirmations (needed when there is no terminal)'
complete -c billrun -n "__fish_billrun_using_subcommand errors; and __fish_seen_subcommand_from rerate" -s q -l quiet -d 'Quiet: only errors and requested data'
complete -c billrun -n "__fish_billrun_using_subcommand errors; and __fish_seen_subcommand_from rerate" -s h -l help -d 'Print help'
complete -c billrun -n "__fish_billrun_using_subcommand errors; and __fish_seen_subcommand_from help" -f -a "resolve" -d 'Mark errors resolved (handled); the CDR stays unbilled unless re-rated'
complete -c billrun -n "__fish_billrun_using_subcommand errors; and __fish_seen_subcommand_from help" -f -a "ignore" -d 'Mark errors ignored (accepted as not billable)'
complete -c billrun -n "__fish_billrun_using_subcommand errors; and __fish_seen_subcommand_from help" -f -a "rerate" -d 'Re-rate every open error\'s CDR against today\'s reference data and resolve those that now rate'
complete -c billrun -n "__fish_billrun_using_subcommand errors; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c billrun -n "__fish_billrun_using_subcommand new" -l name -d 'Run name (default: the cutoff month, e.g. 2026-11)' -r
complete -c billrun -n "__fish_billrun_using_subcommand new" -l cycle -d 'Billing cycle whose customers the run bills' -r
complete -c billrun -n "__fish_billrun_using_subcommand new" -l invoice-date -r
complete -c billrun -n "__fish_billrun_using_subcommand new" -l cutoff -d 'Last date charges apply (usage, fees, one-offs on or before it)' -r
complete -c billrun -n "__fish_billrun_using_subcommand new" -l due -d 'Payment due date (default: invoice date + invoice.due_days)' -r
complete -c billrun -n "__fish_billrun_using_subcommand new" -l message -d 'Message printed on every invoice of the run' -r
complete -c billrun -n "__fish_billrun_using_subcommand new" -l db -d 'Database file' -r -F
complete -c billrun -n "__fish_billrun_using_subcommand new" -l json -d 'Machine output: one JSON document on stdout'
complete -c billrun -n "__fish_billrun_using_subcommand new" -s y -l yes -d 'Answer yes to confirmations (needed when there is no terminal)'
complete -c billrun -n "__fish_billrun_using_subcommand new" -s q -l quiet -d 'Quiet: only errors and requested data'
complete -c billrun -n "__fish_billrun_using_subcommand new" -s h -l help -d 'Print help'
complete -c billrun -n "__fish_billrun_using_subcommand runs" -l db -d 'Database file' -r -F
complete -c billrun -n "__fish_billrun_using_subcommand runs" -l json -d 'Machine output: one JSON document on stdout'
complete -c billrun -n "__fish_billrun_using_subcommand runs" -s y -l yes -d 'Answer yes to confirmations (needed when there is no terminal)'
complete -c billrun -n "__fish_billrun_using_subcommand runs" -s q -l quiet -d 'Quiet: only errors and requested data'
complete -c billrun -n "__fish_billrun_using_subcommand runs" -s h -l help -d 'Print help'
complete -c billrun -n "__fish_billrun_using_subcommand set-dates" -l invoice-date -r
complete -c billrun -n "__fish_billrun_using_subcommand set-dates" -l cutoff -r
complete -c billrun -n "__fish_billrun_using_subcommand set-dates" -l due -r
complete -c billrun -n "__fish_billrun_using_subcommand set-dates" -l message -r
complete -c billrun -n "__fish_billrun_using_subcommand set-dates" -l clear -d 'Clear fields: due, message (repeatable)' -r -f -a "invoice-date\t''
cutoff\t''
due\t''
message\t''"
complete -c billrun -n "__fish_billrun_using_subcommand set-dates" -l db -d 'Database file' -r -F
complete -c billrun -n "__fish_billrun_using_subcommand set-dates" -l json -d 'Machine output: one JSON document on stdout'
complete -c billrun -n "__fish_billrun_using_subcommand set-dates" -s y -l yes -d 'Answer yes to confirmations (needed when there is no terminal)'
complete -c billrun -n "__fish_billrun_using_subcommand set-dates" -s q -l quiet -d 'Quiet: only errors and requested data'
complete -c billrun -n "__fish_billrun_using_subcommand set-dates" -s h -l help -d 'Print help'
complete -c billrun -n "__fish_billrun_using_subcommand ready" -l db -d 'Database file' -r -F
complete -c billrun -n "__fish_billrun_using_subcommand ready" -l json -d 'Machine output: one JSON document on stdout'
complete -c billrun -n "__fish_billrun_using_subcommand ready" -s y -l yes -d 'Answer yes to confirmations (needed when there is no terminal)'
complete -c billrun -n "__fish_billrun_using_subcommand ready" -s q -l quiet -d 'Quiet: only errors and requested data'
complete -c billrun -n "__fish_billrun_using_subcommand ready" -s h -l help -d 'Print help'
complete -c billrun -n "__fish_billrun_using_subcommand approve" -l db -d 'Database file' -r -F
complete -c billrun -n "__fish_billrun_using_subcommand approve" -l json -d 'Machine output: one JSON document on stdout'
complete -c billrun -n "__fish_billrun_using_subcommand approve" -s y -l yes -d 'Answer yes to confirmations (needed when there is no terminal)'
complete -c billrun -n "__fish_billrun_using_subcommand approve" -s q -l quiet -d 'Quiet: only errors and requested data'
complete -c billrun -n "__fish_billrun_using_subcommand approve" -s h -l help -d 'Print help'
complete -c billrun -n "__fish_billrun_using_subcommand prebill" -l csv -d 'Also write the per-customer rows as CSV to this file' -r -F
complete -c billrun -n "__fish_billrun_using_subcommand prebill" -l db -d 'Database file' -r -F
complete -c billrun -n "__fish_billrun_using_subcommand prebill" -l json -d 'Machine output: one JSON document on stdout'
complete -c billrun -n "__fish_billrun_using_subcommand prebill" -s y -l yes -d 'Answer yes to confirmations (needed when there is no terminal)'
complete -c billrun -n "__fish_billrun_using_subcommand prebill" -s q -l quiet -d 'Quiet: only errors and requested data'
complete -c billrun -n "__fish_billrun_using_subcommand prebill" -s h -l help -d 'Print help'
complete -c billrun -n "__fish_billrun_using_subcommand confirm" -l missing -d '`cdrs`: acknowledge that CARRIER sent no file this period (repeatable; needs --reason)' -r
complete -c billrun -n "__fish_billrun_using_subcommand confirm" -l reason -d 'Why no file is expected from the --missing carriers (kept in the audit log)' -r
complete -c billrun -n "__fish_billrun_using_subcommand confirm" -l db -d 'Database file' -r -F
complete -c billrun -n "__fish_billrun_using_subcommand confirm" -l json -d 'Machine output: one JSON document on stdout'
complete -c billrun -n "__fish_billrun_using_subcommand confirm" -s y -l yes -d 'Answer yes to confirmations (needed when there is no terminal)'
complete -c billrun -n "__fish_billrun_using_subcommand confirm" -s q -l quiet -d 'Quiet: only errors and requested data'
complete -c billrun -n "__fish_billrun_using_subcommand confirm" -s h -l help -d 'Print help'
complete -c billrun -n "__fish_billrun_using_subcommand cancel" -l db -d 'Database file' -r -F
complete -c billrun -n "__fish_billrun_using_subcommand cancel" -l json -d 'Machine output: one JSON document on stdout'
complete -c billrun -n "__fish_billrun_using_subcommand cancel" -s y -l yes -d 'Answer yes to confirmations (needed when there is no terminal)'
complete -c billrun -n "__fish_billrun_using_subcommand cancel" -s q -l quiet -d 'Quiet: only errors and requested data'
complete -c billrun -n "__fish_billrun_using_subcommand cancel" -s h -l help -d 'Print help'
complete -c billrun -n "__fish_billrun_using_subcommand request" -l db -d 'Database file' -r -F
complete -c billrun -n "__fish_billrun_using_subcommand request" -l expert -d 'Skip the pre-billing confirmations (audited with your name)'
complete -c billrun -n "__fish_billrun_using_subcommand request" -l no-produce -d 'Stop at `requested`; produce later with `billrun produce RUN`'
complete -c billrun -n "__fish_billrun_using_subcommand request" -l json -d 'Machine output: one JSON document on stdout'
complete -c billrun -n "__fish_billrun_using_subcommand request" -s y -l yes -d 'Answer yes to confirmations (needed when there is no terminal)'
complete -c billrun -n "__fish_billrun_using_subcommand request" -s q -l quiet -d 'Quiet: only errors and requested data'
complete -c billrun -n "__fish_billrun_using_subcommand request" -s h -l help -d 'Print help'
complete -c billrun -n "__fish_billrun_using_subcommand produce" -l db -d 'Database file' -r -F
complete -c billrun -n "__fish_billrun_using_subcommand produce" -l json -d 'Machine output: one JSON document on stdout'
complete -c billrun -n "__fish_billrun_using_subcommand produce" -s y -l yes -d 'Answer yes to confirmations (needed when there is no terminal)'
complete -c billrun -n "__fish_billrun_using_subcommand produce" -s q -l quiet -d 'Quiet: only errors and requested data'
complete -c billrun -n "__fish_billrun_using_subcommand produce" -s h -l help -d 'Print help'
complete -c billrun -n "__fish_billrun_using_subcommand postbill" -l csv -d 'Also write the produced invoices as CSV to this file' -r -F
complete -c billrun -n "__fish_billrun_using_subcommand postbill" -l db -d 'Database file' -r -F
complete -c billrun -n "__fish_billrun_using_subcommand postbill" -l json -d 'Machine output: one JSON document on stdout'
complete -c billrun -n "__fish_billrun_using_subcommand postbill" -s y -l yes -d 'Answer yes to confirmations (needed when there is no terminal)'
complete -c billrun -n "__fish_billrun_using_subcommand postbill" -s q -l quiet -d 'Quiet: only errors and requested data'
complete -c billrun -n "__fish_billrun_using_subcommand postbill" -s h -l help -d 'Print help'
complete -c billrun -n "__fish_billrun_using_subcommand invoices; and not __fish_seen_subcommand_from show help" -l db -d 'Database file' -r -F
complete -c billrun -n "__fish_billrun_using_subcommand invoices; and not __fish_seen_subcommand_from show help" -l json -d 'Machine output: one JSON document on stdout'
complete -c billrun -n "__fish_billrun_using_subcommand invoices; and not __fish_seen_subcommand_from show help" -s y -l yes -d 'Answer yes to confirmations (needed when there is no terminal)'
complete -c billrun -n "__fish_billrun_using_subcommand invoices; and not __fish_seen_subcommand_from show help" -s q -l quiet -d 'Quiet: only errors and requested data'
complete -c billrun -n "__fish_billrun_using_subcommand invoices; and not __fish_seen_subcommand_from show help" -s h -l help -d 'Print help'
complete -c billrun -n "__fish_billrun_using_subcommand invoices; and not __fish_seen_subcommand_from show help" -a "show" -d 'One invoice with its lines'
complete -c billrun -n "__fish_billrun_using_subcommand invoices; and not __fish_seen_subcommand_from show help" -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c billrun -n "__fish_billrun_using_subcommand invoices; and __fish_seen_subcommand_from show" -l db -d 'Database file' -r -F
complete -c billrun -n "__fish_billrun_using_subcommand invoices; and __fish_seen_subcommand_from show" -l json -d 'Machine output: one JSON document on stdout'
complete -c billrun -n "__fish_billrun_using_subcommand invoices; and __fish_seen_subcommand_from show" -s y -l yes -d 'Answer yes to confirmations (needed when there is no terminal)'
complete -c billrun -n "__fish_billrun_using_subcommand invoices; and __fish_seen_subcommand_from show" -s q -l quiet -d 'Quiet: only errors and requested data'
complete -c billrun -n "__fish_billrun_using_subcommand invoices; and __fish_seen_subcommand_from show" -s h -l help -d 'Print help'
complete -c billrun -n "__fish_billrun_using_subcommand invoices; and __fish_seen_subcommand_from help" -f -a "show" -d 'One invoice with its lines'
complete -c billrun -n "__fish_billrun_using_subcommand invoices; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c billrun -n "__fish_billrun_using_subcommand print" -l out -d 'Directory to write the bundles into (created if missing)' -r -F
complete -c billrun -n "__fish_billrun_using_subcommand print" -l bundle-size -d 'Invoices per bundle' -r
complete -c billrun -n "__fish_billrun_using_subcommand print" -l db -d 'Database file' -r -F
complete -c billrun -n "__fish_billrun_using_subcommand print" -l reprint -d 'Print again invoices already in a bundle'
complete -c billrun -n "__fish_billrun_using_subcommand print" -l json -d 'Machine output: one JSON document on stdout'
complete -c billrun -n "__fish_billrun_using_subcommand print" -s y -l yes -d 'Answer yes to confirmations (needed when there is no terminal)'
complete -c billrun -n "__fish_billrun_using_subcommand print" -s q -l quiet -d 'Quiet: only errors and requested data'
complete -c billrun -n "__fish_billrun_using_subcommand print" -s h -l help -d 'Print help'
complete -c billrun -n "__fish_billrun_using_subcommand collect; and not __fish_seen_subcommand_from dd card results sync list show help" -l db -d 'Database file' -r -F
complete -c billrun -n "__fish_billrun_using_subcommand collect; and not __fish_seen_subcommand_from dd card results sync list show help" -l json -d 'Machine output: one JSON document on stdout'
complete -c billrun -n "__fish_billrun_using_subcommand collect; and not __fish_seen_subcommand_from dd card results sync list show help" -s y -l yes -d 'Answer yes to confirmations (needed when there is no terminal)'
complete -c billrun -n "__fish_billrun_using_subcommand collect; and not __fish_seen_subcommand_from dd card results sync list show help" -s q -l quiet -d 'Quiet: only errors and requested data'
complete -c billrun -n "__fish_billrun_using_subcommand collect; and not __fish_seen_subcommand_from dd card results sync list show help" -s h -l help -d 'Print help'
complete -c billrun -n "__fish_billrun_using_subcommand collect; and not __fish_seen_subcommand_from dd card results sync list show help" -f -a "dd" -d 'Direct Debit payment run of a billing run, as a file in `dd.format`'
complete -c billrun -n "__fish_billrun_using_subcommand collect; and not __fish_seen_subcommand_from dd card results sync list show help" -f -a "card" -d 'Card payment run: charge through Stripe, or `--out F` for a gateway batch CSV'
complete -c billrun -n "__fish_billrun_using_subcommand collect; and not __fish_seen_subcommand_from dd card results sync list show help" -f -a "results" -d 'Import results: billrun CSV (reference, status, reason), Bacs ARUDD/ADDACS, SEPA pain.002 or ABA returns'
complete -c billrun -n "__fish_billrun_using_subcommand collect; and not __fish_seen_subcommand_from dd card results sync list show help" -f -a "sync" -d 'Ask Stripe / GoCardless what became of collections not yet finished, and record it'
complete -c billrun -n "__fish_billrun_using_subcommand collect; and not __fish_seen_subcommand_from dd card results sync list show help" -f -a "list" -d 'List payment runs'
complete -c billrun -n "__fish_billrun_using_subcommand collect; and not __fish_seen_subcommand_from dd card results sync list show help" -f -a "show" -d 'One payment run with its items'
complete -c billrun -n "__fish_billrun_using_subcommand collect; and not __fish_seen_subcommand_from dd card results sync list show help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c billrun -n "__fish_billrun_using_subcommand collect; and __fish_seen_subcommand_from dd" -l out -d 'Payment file to write (default: next to the database, `collect-<payment run>-<format>.<ext>`). Never overwritten' -r -F
complete -c billrun -n "__fish_billrun_using_subcommand collect; and __fish_seen_subcommand_from dd" -l date -d 'Debit date: a working day of the format\'s calendar whose submission deadline has not passed (default: the invoices\' due date, or the next working day; moved to the earliest possible date when too late)' -r
complete -c billrun -n "__fish_billrun_using_subcommand collect; and __fish_seen_subcommand_from dd" -l db -d 'Database file' -r -F
complete -c billrun -n "__fish_billrun_using_subcommand collect; and __fish_seen_subcommand_from dd" -l retry-failed -d 'Also retry declined, dishonoured and failed collections (up to collect.max_retries)'
complete -c billrun -n "__fish_billrun_using_subcommand collect; and __fish_seen_subcommand_from dd" -l json -d 'Machine output: one JSON document on stdout'
complete -c billrun -n "__fish_billrun_using_subcommand collect; and __fish_seen_subcommand_from dd" -s y -l yes -d 'Answer yes to confirmations (needed when there is no terminal)'
complete -c billrun -n "__fish_billrun_using_subcommand collect; and __fish_seen_subcommand_from dd" -s q -l quiet -d 'Quiet: only errors and requested data'
complete -c billrun -n "__fish_billrun_using_subcommand collect; and __fish_seen_subcommand_from dd" -s h -l help -d 'Print help'
complete -c billrun -n "__fish_billrun_using_subcommand collect; and __fish_seen_subcommand_from card" -l out -d 'Write a gateway batch CSV instead of charging through Stripe' -r -F
complete -c billrun -n "__fish_billrun_using_subcommand collect; and __fish_seen_subcommand_from card" -l db -d 'Database file' -r -F
complete -c billrun -n "__fish_billrun_using_subcommand collect; and __fish_seen_subcommand_from card" -l retry-failed -d 'Also retry declined and failed charges (up to collect.max_retries)'
complete -c billrun -n "__fish_billrun_using_subcommand collect; and __fish_seen_subcommand_from card" -l json -d 'Machine output: one JSON document on stdout'
complete -c billrun -n "__fish_billrun_using_subcommand collect; and __fish_seen_subcommand_from card" -s y -l yes -d 'Answer yes to confirmations (needed when there is no terminal)'
complete -c billrun -n "__fish_billrun_using_subcommand collect; and __fish_seen_subcommand_from card" -s q -l quiet -d 'Quiet: only errors and requested data'
complete -c billrun -n "__fish_billrun_using_subcommand collect; and __fish_seen_subcommand_from card" -s h -l help -d 'Print help'
complete -c billrun -n "__fish_billrun_using_subcommand collect; and __fish_seen_subcommand_from results" -l db -d 'Database file' -r -F
complete -c billrun -n "__fish_billrun_using_subcommand collect; and __fish_seen_subcommand_from results" -l json -d 'Machine output: one JSON document on stdout'
complete -c billrun -n "__fish_billrun_using_subcommand collect; and __fish_seen_subcommand_from results" -s y -l yes -d 'Answer yes to confirmations (needed when there is no terminal)'
complete -c billrun -n "__fish_billrun_using_subcommand collect; and __fish_seen_subcommand_from results" -s q -l quiet -d 'Quiet: only errors and requested data'
complete -c billrun -n "__fish_billrun_using_subcommand collect; and __fish_seen_subcommand_from results" -s h -l help -d 'Print help'
complete -c billrun -n "__fish_billrun_using_subcommand collect; and __fish_seen_subcommand_from sync" -l db -d 'Database file' -r -F
complete -c billrun -n "__fish_billrun_using_subcommand collect; and __fish_seen_subcommand_from sync" -l json -d 'Machine output: one JSON document on stdout'
complete -c billrun -n "__fish_billrun_using_subcommand collect; and __fish_seen_subcommand_from sync" -s y -l yes -d 'Answer yes to confirmations (needed when there is no terminal)'
complete -c billrun -n "__fish_billrun_using_subcommand collect; and __fish_seen_subcommand_from sync" -s q -l quiet -d 'Quiet: only errors and requested data'
complete -c billrun -n "__fish_billrun_using_subcommand collect; and __fish_seen_subcommand_from sync" -s h -l help -d 'Print help'
complete -c billrun -n "__fish_billrun_using_subcommand collect; and __fish_seen_subcommand_from list" -l db -d 'Database file' -r -F
complete -c billrun -n "__fish_billrun_using_subcommand collect; and __fish_seen_subcommand_from list" -l json -d 'Machine output: one JSON document on stdout'
complete -c billrun -n "__fish_billrun_using_subcommand collect; and __fish_seen_subcommand_from list" -s y -l yes -d 'Answer yes to confirmations (needed when there is no terminal)'
complete -c billrun -n "__fish_billrun_using_subcommand collect; and __fish_seen_subcommand_from list" -s q -l quiet -d 'Quiet: only errors and requested data'
complete -c billrun -n "__fish_billrun_using_subcommand collect; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help'
complete -c billrun -n "__fish_billrun_using_subcommand collect; and __fish_seen_subcommand_from show" -l db -d 'Database file' -r -F
complete -c billrun -n "__fish_billrun_using_subcommand collect; and __fish_seen_subcommand_from show" -l json -d 'Machine output: one JSON document on stdout'
complete -c billrun -n "__fish_billrun_using_subcommand collect; and __fish_seen_subcommand_from show" -s y -l yes -d 'Answer yes to confirmations (needed when there is no terminal)'
complete -c billrun -n "__fish_billrun_using_subcommand collect; and __fish_seen_subcommand_from show" -s q -l quiet -d 'Quiet: only errors and requested data'
complete -c billrun -n "__fish_billrun_using_subcommand collect; and __fish_seen_subcommand_from show" -s h -l help -d 'Print help'
complete -c billrun -n "__fish_billrun_using_subcommand collect; and __fish_seen_subcommand_from help" -f -a "dd" -d 'Direct Debit payment run of a billing run, as a file in `dd.format`'
complete -c billrun -n "__fish_billrun_using_subcommand collect; and __fish_seen_subcommand_from help" -f -a "card" -d 'Card payment run: charge through Stripe, or `--out F` for a gateway batch CSV'
complete -c billrun -n "__fish_billrun_using_subcommand collect; and __fish_seen_subcommand_from help" -f -a "results" -d 'Import results: billrun CSV (reference, status, reason), Bacs ARUDD/ADDACS, SEPA pain.002 or ABA returns'
complete -c billrun -n "__fish_billrun_using_subcommand collect; and __fish_seen_subcommand_from help" -f -a "sync" -d 'Ask Stripe / GoCardless what became of collections not yet finished, and record it'
complete -c billrun -n "__fish_billrun_using_subcommand collect; and __fish_seen_subcommand_from help" -f -a "list" -d 'List payment runs'
complete -c billrun -n "__fish_billrun_using_subcommand collect; and __fish_seen_subcommand_from help" -f -a "show" -d 'One payment run with its items'
complete -c billrun -n "__fish_billrun_using_subcommand collect; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c billrun -n "__fish_billrun_using_subcommand status" -l db -d 'Database file' -r -F
complete -c billrun -n "__fish_billrun_using_subcommand status" -l all -d 'Every open run'
complete -c billrun -n "__fish_billrun_using_subcommand status" -l check -d 'Exit 3 when any step needs an operator (for cron and runbooks)'
complete -c billrun -n "__fish_billrun_using_subcommand status" -l json -d 'Machine output: one JSON document on stdout'
complete -c billrun -n "__fish_billrun_using_subcommand status" -s y -l yes -d 'Answer yes to confirmations (needed when there is no terminal)'
complete -c billrun -n "__fish_billrun_using_subcommand status" -s q -l quiet -d 'Quiet: only errors and requested data'
complete -c billrun -n "__fish_billrun_using_subcommand status" -s h -l help -d 'Print help'
complete -c billrun -n "__fish_billrun_using_subcommand audit" -l db -d 'Database file' -r -F
complete -c billrun -n "__fish_billrun_using_subcommand audit" -l json -d 'Machine output: one JSON document on stdout'
complete -c billrun -n "__fish_billrun_using_subcommand audit" -s y -l yes -d 'Answer yes to confirmations (needed when there is no terminal)'
complete -c billrun -n "__fish_billrun_using_subcommand audit" -s q -l quiet -d 'Quiet: only errors and requested data'
complete -c billrun -n "__fish_billrun_using_subcommand audit" -s h -l help -d 'Print help'
complete -c billrun -n "__fish_billrun_using_subcommand email" -l dry-run -d 'Write one NUMBER.eml per invoice into DIR instead of sending; records nothing' -r -F
complete -c billrun -n "__fish_billrun_using_subcommand email" -l resend -d 'Send these invoices again (after checking the mailbox), whatever their state' -r
complete -c billrun -n "__fish_billrun_using_subcommand email" -l limit -d 'Send at most N messages this time (the rest stay for the next run)' -r
complete -c billrun -n "__fish_billrun_using_subcommand email" -l arrived -d 'Record that these emails, interrupted mid-send, did arrive (after checking the mailbox); nothing is sent' -r
complete -c billrun -n "__fish_billrun_using_subcommand email" -l db -d 'Database file' -r -F
complete -c billrun -n "__fish_billrun_using_subcommand email" -l json -d 'Machine output: one JSON document on stdout'
complete -c billrun -n "__fish_billrun_using_subcommand email" -s y -l yes -d 'Answer yes to confirmations (needed when there is no terminal)'
complete -c billrun -n "__fish_billrun_using_subcommand email" -s q -l quiet -d 'Quiet: only errors and requested data'
complete -c billrun -n "__fish_billrun_using_subcommand email" -s h -l help -d 'Print help'
complete -c billrun -n "__fish_billrun_using_subcommand xero; and not __fish_seen_subcommand_from export push help" -l db -d 'Database file' -r -F
complete -c billrun -n "__fish_billrun_using_subcommand xero; and not __fish_seen_subcommand_from export push help" -l json -d 'Machine output: one JSON document on stdout'
complete -c billrun -n "__fish_billrun_using_subcommand xero; and not __fish_seen_subcommand_from export push help" -s y -l yes -d 'Answer yes to confirmations (needed when there is no terminal)'
complete -c billrun -n "__fish_billrun_using_subcommand xero; and not __fish_seen_subcommand_from export push help" -s q -l quiet -d 'Quiet: only errors and requested data'
complete -c billrun -n "__fish_billrun_using_subcommand xero; and not __fish_seen_subcommand_from export push help" -s h -l help -d 'Print help'
complete -c billrun -n "__fish_billrun_using_subcommand xero; and not __fish_seen_subcommand_from export push help" -f -a "export" -d 'Write Xero\'s sales-invoice import CSV for a completed run'
complete -c billrun -n "__fish_billrun_using_subcommand xero; and not __fish_seen_subcommand_from export push help" -f -a "push" -d 'Send a completed run\'s customers and invoices to Xero through its API (xero.mode api)'
complete -c billrun -n "__fish_billrun_using_subcommand xero; and not __fish_seen_subcommand_from export push help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c billrun -n "__fish_billrun_using_subcommand xero; and __fish_seen_subcommand_from export" -l out -d 'Output file; more than 500 invoices are split into F-1.csv, F-2.csv, …' -r -F
complete -c billrun -n "__fish_billrun_using_subcommand xero; and __fish_seen_subcommand_from export" -l db -d 'Database file' -r -F
complete -c billrun -n "__fish_billrun_using_subcommand xero; and __fish_seen_subcommand_from export" -l all -d 'Export every invoice of the run again, not only those never exported'
complete -c billrun -n "__fish_billrun_using_subcommand xero; and __fish_seen_subcommand_from export" -l json -d 'Machine output: one JSON document on stdout'
complete -c billrun -n "__fish_billrun_using_subcommand xero; and __fish_seen_subcommand_from export" -s y -l yes -d 'Answer yes to confirmations (needed when there is no terminal)'
complete -c billrun -n "__fish_billrun_using_subcommand xero; and __fish_seen_subcommand_from export" -s q -l quiet -d 'Quiet: only errors and requested data'
complete -c billrun -n "__fish_billrun_using_subcommand xero; and __fish_seen_subcommand_from export" -s h -l help -d 'Print help'
complete -c billrun -n "__fish_billrun_using_subcommand xero; and __fish_seen_subcommand_from push" -l db -d 'Database file' -r -F
complete -c billrun -n "__fish_billrun_using_subcommand xero; and __fish_seen_subcommand_from push" -l json -d 'Machine output: one JSON document on stdout'
complete -c billrun -n "__fish_billrun_using_subcommand xero; and __fish_seen_subcommand_from push" -s y -l yes -d 'Answer yes to confirmations (needed when there is no terminal)'
complete -c billrun -n "__fish_billrun_using_subcommand xero; and __fish_seen_subcommand_from push" -s q -l quiet -d 'Quiet: only errors and requested data'
complete -c billrun -n "__fish_billrun_using_subcommand xero; and __fish_seen_subcommand_from push" -s h -l help -d 'Print help'
complete -c billrun -n "__fish_billrun_using_subcommand xero; and __fish_seen_subcommand_from help" -f -a "export" -d 'Write Xero\'s sales-invoice import CSV for a completed run'
complete -c billrun -n "__fish_billrun_using_subcommand xero; and __fish_seen_subcommand_from help" -f -a "push" -d 'Send a completed run\'s customers and invoices to Xero through its API (xero.mode api)'
complete -c billrun -n "__fish_billrun_using_subcommand xero; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c billrun -n "__fish_billrun_using_subcommand autopilot" -l db -d 'Database file' -r -F
complete -c billrun -n "__fish_billrun_using_subcommand autopilot" -l dry-run -d 'Say what would be done and why; change nothing'
complete -c billrun -n "__fish_billrun_using_subcommand autopilot" -l json -d 'Machine output: one JSON document on stdout'
complete -c billrun -n "__fish_billrun_using_subcommand autopilot" -s y -l yes -d 'Answer yes to confirmations (needed when there is no terminal)'
complete -c billrun -n "__fish_billrun_using_subcommand autopilot" -s q -l quiet -d 'Quiet: only errors and requested data'
complete -c billrun -n "__fish_billrun_using_subcommand autopilot" -s h -l help -d 'Print help'
complete -c billrun -n "__fish_billrun_using_subcommand completions" -l db -d 'Database file' -r -F
complete -c billrun -n "__fish_billrun_using_subcommand completions" -l json -d 'Machine output: one JSON document on stdout'
complete -c billrun -n "__fish_billrun_using_subcommand completions" -s y -l yes -d 'Answer yes to confirmations (needed when there is no terminal)'
complete -c billrun -n "__fish_billrun_using_subcommand completions" -s q -l quiet -d 'Quiet: only errors and requested data'
complete -c billrun -n "__fish_billrun_using_subcommand completions" -s h -l help -d 'Print help'
complete -c billrun -n "__fish_billrun_using_subcommand help; and not __fish_seen_subcommand_from init demo config customers services plans tariffs allowances cycles charge credit payments fees carriers cdr errors new runs set-dates ready approve prebill confirm cancel request produce postbill invoices print collect status audit email xero autopilot completions help" -f -a "init" -d 'Create the database (schema and migrations); re-running is harmless'
complete -c billrun -n "__fish_billrun_using_subcommand help; and not __fish_seen_subcommand_from init demo config customers services plans tariffs allowances cycles charge credit payments fees carriers cdr errors new runs set-dates ready approve prebill confirm cancel request produce postbill invoices print collect status audit email xero autopilot completions help" -f -a "demo" -d 'A fresh database with the shipped fixtures, walked through a whole run'
complete -c billrun -n "__fish_billrun_using_subcommand help; and not __fish_seen_subcommand_from init demo config customers services plans tariffs allowances cycles charge credit payments fees carriers cdr errors new runs set-dates ready approve prebill confirm cancel request produce postbill invoices print collect status audit email xero autopilot completions help" -f -a "config" -d 'Settings: `config set KEY VALUE`, `config get KEY`, `config list`'
complete -c billrun -n "__fish_billrun_using_subcommand help; and not __fish_seen_subcommand_from init demo config customers services plans tariffs allowances cycles charge credit payments fees carriers cdr errors new runs set-dates ready approve prebill confirm cancel request produce postbill invoices print collect status audit email xero autopilot completions help" -f -a "customers" -d 'Customers: import (upsert) and list'
complete -c billrun -n "__fish_billrun_using_subcommand help; and not __fish_seen_subcommand_from init demo config customers services plans tariffs allowances cycles charge credit payments fees carriers cdr errors new runs set-dates ready approve prebill confirm cancel request produce postbill invoices print collect status audit email xero autopilot completions help" -f -a "services" -d 'Services (the numbers CDRs carry): import and list'
complete -c billrun -n "__fish_billrun_using_subcommand help; and not __fish_seen_subcommand_from init demo config customers services plans tariffs allowances cycles charge credit payments fees carriers cdr errors new runs set-dates ready approve prebill confirm cancel request produce postbill invoices print collect status audit email xero autopilot completions help" -f -a "plans" -d 'Plans: import and list'
complete -c billrun -n "__fish_billrun_using_subcommand help; and not __fish_seen_subcommand_from init demo config customers services plans tariffs allowances cycles charge credit payments fees carriers cdr errors new runs set-dates ready approve prebill confirm cancel request produce postbill invoices print collect status audit email xero autopilot completions help" -f -a "tariffs" -d 'Tariffs (rate tables): import and list'
complete -c billrun -n "__fish_billrun_using_subcommand help; and not __fish_seen_subcommand_from init demo config customers services plans tariffs allowances cycles charge credit payments fees carriers cdr errors new runs set-dates ready approve prebill confirm cancel request produce postbill invoices print collect status audit email xero autopilot completions help" -f -a "allowances" -d 'Inclusive allowances of plans (minutes, texts, data): import and list'
complete -c billrun -n "__fish_billrun_using_subcommand help; and not __fish_seen_subcommand_from init demo config customers services plans tariffs allowances cycles charge credit payments fees carriers cdr errors new runs set-dates ready approve prebill confirm cancel request produce postbill invoices print collect status audit email xero autopilot completions help" -f -a "cycles" -d 'Billing cycles: add, list, and tick (create the runs that are due; for cron)'
complete -c billrun -n "__fish_billrun_using_subcommand help; and not __fish_seen_subcommand_from init demo config customers services plans tariffs allowances cycles charge credit payments fees carriers cdr errors new runs set-dates ready approve prebill confirm cancel request produce postbill invoices print collect status audit email xero autopilot completions help" -f -a "charge" -d 'One-off charges and credits: add, list, remove (while unbilled)'
complete -c billrun -n "__fish_billrun_using_subcommand help; and not __fish_seen_subcommand_from init demo config customers services plans tariffs allowances cycles charge credit payments fees carriers cdr errors new runs set-dates ready approve prebill confirm cancel request produce postbill invoices print collect status audit email xero autopilot completions help" -f -a "credit" -d 'Credit notes on produced invoices: add, list, show, produce'
complete -c billrun -n "__fish_billrun_using_subcommand help; and not __fish_seen_subcommand_from init demo config customers services plans tariffs allowances cycles charge credit payments fees carriers cdr errors new runs set-dates ready approve prebill confirm cancel request produce postbill invoices print collect status audit email xero autopilot completions help" -f -a "payments" -d 'Payments received: add, import (csv or Xero), list'
complete -c billrun -n "__fish_billrun_using_subcommand help; and not __fish_seen_subcommand_from init demo config customers services plans tariffs allowances cycles charge credit payments fees carriers cdr errors new runs set-dates ready approve prebill confirm cancel request produce postbill invoices print collect status audit email xero autopilot completions help" -f -a "fees" -d 'Wholesale fixed fees (features.wholesale_fees): import, list, codes'
complete -c billrun -n "__fish_billrun_using_subcommand help; and not __fish_seen_subcommand_from init demo config customers services plans tariffs allowances cycles charge credit payments fees carriers cdr errors new runs set-dates ready approve prebill confirm cancel request produce postbill invoices print collect status audit email xero autopilot completions help" -f -a "carriers" -d 'CDR sources: add and list'
complete -c billrun -n "__fish_billrun_using_subcommand help; and not __fish_seen_subcommand_from init demo config customers services plans tariffs allowances cycles charge credit payments fees carriers cdr errors new runs set-dates ready approve prebill confirm cancel request produce postbill invoices print collect status audit email xero autopilot completions help" -f -a "cdr" -d 'CDR files: import, fetch, list, ignore, process'
complete -c billrun -n "__fish_billrun_using_subcommand help; and not __fish_seen_subcommand_from init demo config customers services plans tariffs allowances cycles charge credit payments fees carriers cdr errors new runs set-dates ready approve prebill confirm cancel request produce postbill invoices print collect status audit email xero autopilot completions help" -f -a "errors" -d 'Billing errors: summary and drill-down; resolve, ignore, rerate'
complete -c billrun -n "__fish_billrun_using_subcommand help; and not __fish_seen_subcommand_from init demo config customers services plans tariffs allowances cycles charge credit payments fees carriers cdr errors new runs set-dates ready approve prebill confirm cancel request produce postbill invoices print collect status audit email xero autopilot completions help" -f -a "new" -d 'Create a billing run (status pending)'
complete -c billrun -n "__fish_billrun_using_subcommand help; and not __fish_seen_subcommand_from init demo config customers services plans tariffs allowances cycles charge credit payments fees carriers cdr errors new runs set-dates ready approve prebill confirm cancel request produce postbill invoices print collect status audit email xero autopilot completions help" -f -a "runs" -d 'List runs with status and key figures'
complete -c billrun -n "__fish_billrun_using_subcommand help; and not __fish_seen_subcommand_from init demo config customers services plans tariffs allowances cycles charge credit payments fees carriers cdr errors new runs set-dates ready approve prebill confirm cancel request produce postbill invoices print collect status audit email xero autopilot completions help" -f -a "set-dates" -d 'Set or clear a run\'s dates and message'
complete -c billrun -n "__fish_billrun_using_subcommand help; and not __fish_seen_subcommand_from init demo config customers services plans tariffs allowances cycles charge credit payments fees carriers cdr errors new runs set-dates ready approve prebill confirm cancel request produce postbill invoices print collect status audit email xero autopilot completions help" -f -a "ready" -d 'Mark a run ready (runs the pre-billing report)'
complete -c billrun -n "__fish_billrun_using_subcommand help; and not __fish_seen_subcommand_from init demo config customers services plans tariffs allowances cycles charge credit payments fees carriers cdr errors new runs set-dates ready approve prebill confirm cancel request produce postbill invoices print collect status audit email xero autopilot completions help" -f -a "approve" -d 'Approve a run (sign-off; runs the pre-billing report)'
complete -c billrun -n "__fish_billrun_using_subcommand help; and not __fish_seen_subcommand_from init demo config customers services plans tariffs allowances cycles charge credit payments fees carriers cdr errors new runs set-dates ready approve prebill confirm cancel request produce postbill invoices print collect status audit email xero autopilot completions help" -f -a "prebill" -d 'The pre-billing report (keeps a snapshot on the run)'
complete -c billrun -n "__fish_billrun_using_subcommand help; and not __fish_seen_subcommand_from init demo config customers services plans tariffs allowances cycles charge credit payments fees carriers cdr errors new runs set-dates ready approve prebill confirm cancel request produce postbill invoices print collect status audit email xero autopilot completions help" -f -a "confirm" -d 'Confirm a checklist step: setup, payments, cdrs, errors, fee-errors, prebill, postbill'
complete -c billrun -n "__fish_billrun_using_subcommand help; and not __fish_seen_subcommand_from init demo config customers services plans tariffs allowances cycles charge credit payments fees carriers cdr errors new runs set-dates ready approve prebill confirm cancel request produce postbill invoices print collect status audit email xero autopilot completions help" -f -a "cancel" -d 'Cancel a run created by mistake (before bills are requested; audited)'
complete -c billrun -n "__fish_billrun_using_subcommand help; and not __fish_seen_subcommand_from init demo config customers services plans tariffs allowances cycles charge credit payments fees carriers cdr errors new runs set-dates ready approve prebill confirm cancel request produce postbill invoices print collect status audit email xero autopilot completions help" -f -a "request" -d 'Lock the run and request bills'
complete -c billrun -n "__fish_billrun_using_subcommand help; and not __fish_seen_subcommand_from init demo config customers services plans tariffs allowances cycles charge credit payments fees carriers cdr errors new runs set-dates ready approve prebill confirm cancel request produce postbill invoices print collect status audit email xero autopilot completions help" -f -a "produce" -d 'Produce (or resume producing) a requested run\'s invoices and PDFs'
complete -c billrun -n "__fish_billrun_using_subcommand help; and not __fish_seen_subcommand_from init demo config customers services plans tariffs allowances cycles charge credit payments fees carriers cdr errors new runs set-dates ready approve prebill confirm cancel request produce postbill invoices print collect status audit email xero autopilot completions help" -f -a "postbill" -d 'The post-billing report of a produced run'
complete -c billrun -n "__fish_billrun_using_subcommand help; and not __fish_seen_subcommand_from init demo config customers services plans tariffs allowances cycles charge credit payments fees carriers cdr errors new runs set-dates ready approve prebill confirm cancel request produce postbill invoices print collect status audit email xero autopilot completions help" -f -a "invoices" -d 'List invoices (of a run), or `invoices show NUMBER`'
complete -c billrun -n "__fish_billrun_using_subcommand help; and not __fish_seen_subcommand_from init demo config customers services plans tariffs allowances cycles charge credit payments fees carriers cdr errors new runs set-dates ready approve prebill confirm cancel request produce postbill invoices print collect status audit email xero autopilot completions help" -f -a "print" -d 'Print bundles: merged PDFs of print/both invoices, sorted by postcode'
complete -c billrun -n "__fish_billrun_using_subcommand help; and not __fish_seen_subcommand_from init demo config customers services plans tariffs allowances cycles charge credit payments fees carriers cdr errors new runs set-dates ready approve prebill confirm cancel request produce postbill invoices print collect status audit email xero autopilot completions help" -f -a "collect" -d 'Payment runs: Direct Debit files, card charges, results (docs/collection.md)'
complete -c billrun -n "__fish_billrun_using_subcommand help; and not __fish_seen_subcommand_from init demo config customers services plans tariffs allowances cycles charge credit payments fees carriers cdr errors new runs set-dates ready approve prebill confirm cancel request produce postbill invoices print collect status audit email xero autopilot completions help" -f -a "status" -d 'The next-steps checklist of a run'
complete -c billrun -n "__fish_billrun_using_subcommand help; and not __fish_seen_subcommand_from init demo config customers services plans tariffs allowances cycles charge credit payments fees carriers cdr errors new runs set-dates ready approve prebill confirm cancel request produce postbill invoices print collect status audit email xero autopilot completions help" -f -a "audit" -d 'The audit log'
complete -c billrun -n "__fish_billrun_using_subcommand help; and not __fish_seen_subcommand_from init demo config customers services plans tariffs allowances cycles charge credit payments fees carriers cdr errors new runs set-dates ready approve prebill confirm cancel request produce postbill invoices print collect status audit email xero autopilot completions help" -f -a "email" -d 'Email a completed run\'s invoices (PDF attached) over SMTP'
complete -c billrun -n "__fish_billrun_using_subcommand help; and not __fish_seen_subcommand_from init demo config customers services plans tariffs allowances cycles charge credit payments fees carriers cdr errors new runs set-dates ready approve prebill confirm cancel request produce postbill invoices print collect status audit email xero autopilot completions help" -f -a "xero" -d 'Xero: `xero export RUN --out F` writes Xero\'s sales-invoice import CSV'
complete -c billrun -n "__fish_billrun_using_subcommand help; and not __fish_seen_subcommand_from init demo config customers services plans tariffs allowances cycles charge credit payments fees carriers cdr errors new runs set-dates ready approve prebill confirm cancel request produce postbill invoices print collect status audit email xero autopilot completions help" -f -a "autopilot" -d 'Walk every open run as far as the policy (auto.*) allows; for cron'
complete -c billrun -n "__fish_billrun_using_subcommand help; and not __fish_seen_subcommand_from init demo config customers services plans tariffs allowances cycles charge credit payments fees carriers cdr errors new runs set-dates ready approve prebill confirm cancel request produce postbill invoices print collect status audit email xero autopilot completions help" -f -a "completions" -d 'Print shell completions (bash, zsh, fish, ...)'
complete -c billrun -n "__fish_billrun_using_subcommand help; and not __fish_seen_subcommand_from init demo config customers services plans tariffs allowances cycles charge credit payments fees carriers cdr errors new runs set-dates ready approve prebill confirm cancel request produce postbill invoices print collect status audit email xero autopilot completions help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c billrun -n "__fish_billrun_using_subcommand help; and __fish_seen_subcommand_from config" -f -a "set" -d 'Set a setting (validated)'
complete -c billrun -n "__fish_billrun_using_subcommand help; and __fish_seen_subcommand_from config" -f -a "get" -d 'Print a setting\'s effective value'
complete -c billrun -n "__fish_billrun_using_subcommand help; and __fish_seen_subcommand_from config" -f -a "list" -d 'Every setting with its value (defaults marked)'
complete -c billrun -n "__fish_billrun_using_subcommand help; and __fish_seen_subcommand_from customers" -f -a "import" -d 'Upsert customers from a CSV file (docs/file-formats.md#customerscsv)'
complete -c billrun -n "__fish_billrun_using_subcommand help; and __fish_seen_subcommand_from customers" -f -a "list"
complete -c billrun -n "__fish_billrun_using_subcommand help; and __fish_seen_subcommand_from services" -f -a "import" -d 'Upsert services from a CSV file (docs/file-formats.md#servicescsv)'
complete -c billrun -n "__fish_billrun_using_subcommand help; and __fish_seen_subcommand_from services" -f -a "list"
complete -c billrun -n "__fish_billrun_using_subcommand help; and __fish_seen_subcommand_from plans" -f -a "import" -d 'Upsert plans from a CSV file (docs/file-formats.md#planscsv)'
complete -c billrun -n "__fish_billrun_using_subcommand help; and __fish_seen_subcommand_from plans" -f -a "list"
complete -c billrun -n "__fish_billrun_using_subcommand help; and __fish_seen_subcommand_from tariffs" -f -a "import" -d 'Upsert tariff rates from a CSV file (docs/file-formats.md#tariffscsv)'
complete -c billrun -n "__fish_billrun_using_subcommand help; and __fish_seen_subcommand_from tariffs" -f -a "list"
complete -c billrun -n "__fish_billrun_using_subcommand help; and __fish_seen_subcommand_from allowances" -f -a "import" -d 'Upsert allowances from a CSV file (docs/file-formats.md#allowancescsv): plan,name,call_type,prefixes,quantity,pooled'
complete -c billrun -n "__fish_billrun_using_subcommand help; and __fish_seen_subcommand_from allowances" -f -a "list" -d 'Every allowance, per plan in the order they match (listed first wins on an equal prefix)'
complete -c billrun -n "__fish_billrun_using_subcommand help; and __fish_seen_subcommand_from cycles" -f -a "add" -d 'Add (or change) a billing cycle billing on day D of every month'
complete -c billrun -n "__fish_billrun_using_subcommand help; and __fish_seen_subcommand_from cycles" -f -a "list"
complete -c billrun -n "__fish_billrun_using_subcommand help; and __fish_seen_subcommand_from cycles" -f -a "remove" -d 'Remove a cycle (refused while it has open runs or customers; audited)'
complete -c billrun -n "__fish_billrun_using_subcommand help; and __fish_seen_subcommand_from cycles" -f -a "tick" -d 'Create the runs that are due (idempotent; for cron)'
complete -c billrun -n "__fish_billrun_using_subcommand help; and __fish_seen_subcommand_from charge" -f -a "add" -d 'Add a one-off charge, or a credit (negative amount)'
complete -c billrun -n "__fish_billrun_using_subcommand help; and __fish_seen_subcommand_from charge" -f -a "list" -d 'List charges and credits'
complete -c billrun -n "__fish_billrun_using_subcommand help; and __fish_seen_subcommand_from charge" -f -a "remove" -d 'Remove a charge that is not billed yet'
complete -c billrun -n "__fish_billrun_using_subcommand help; and __fish_seen_subcommand_from credit" -f -a "add" -d 'Credit a produced invoice: an amount ex tax, or one whole line (audited)'
complete -c billrun -n "__fish_billrun_using_subcommand help; and __fish_seen_subcommand_from credit" -f -a "list" -d 'List credit notes (of the invoices of a run, or all)'
complete -c billrun -n "__fish_billrun_using_subcommand help; and __fish_seen_subcommand_from credit" -f -a "show" -d 'One credit note with its lines'
complete -c billrun -n "__fish_billrun_using_subcommand help; and __fish_seen_subcommand_from credit" -f -a "produce" -d 'Render the PDF of every credit note that has none (after a kill)'
complete -c billrun -n "__fish_billrun_using_subcommand help; and __fish_seen_subcommand_from payments" -f -a "add" -d 'Record one payment received'
complete -c billrun -n "__fish_billrun_using_subcommand help; and __fish_seen_subcommand_from payments" -f -a "import" -d 'Import a payments file (all or nothing)'
complete -c billrun -n "__fish_billrun_using_subcommand help; and __fish_seen_subcommand_from payments" -f -a "fetch" -d 'Fetch the payments Xero recorded since the last fetch (xero.mode api)'
complete -c billrun -n "__fish_billrun_using_subcommand help; and __fish_seen_subcommand_from payments" -f -a "list" -d 'List payments'
complete -c billrun -n "__fish_billrun_using_subcommand help; and __fish_seen_subcommand_from fees" -f -a "import" -d 'Import a carrier\'s fixed-fee file and match its lines to services'
complete -c billrun -n "__fish_billrun_using_subcommand help; and __fish_seen_subcommand_from fees" -f -a "list" -d 'List fee lines'
complete -c billrun -n "__fish_billrun_using_subcommand help; and __fish_seen_subcommand_from fees" -f -a "codes" -d 'Fee codes: a line\'s fee code is known when it is a plan code or registered here'
complete -c billrun -n "__fish_billrun_using_subcommand help; and __fish_seen_subcommand_from carriers" -f -a "add" -d 'Add a CDR source: format billrun, asterisk, asterisk:accountcode or mapped:PATH (a TOML column map); an inbox directory or a remote source'
complete -c billrun -n "__fish_billrun_using_subcommand help; and __fish_seen_subcommand_from carriers" -f -a "accept-host-key" -d 'Accept the new SFTP host key of a carrier whose server\'s key changed (the key a refused `cdr fetch` recorded); audited'
complete -c billrun -n "__fish_billrun_using_subcommand help; and __fish_seen_subcommand_from carriers" -f -a "list" -d 'List carriers with their files, and CDR files/lines in the open run\'s period against the previous period'
complete -c billrun -n "__fish_billrun_using_subcommand help; and __fish_seen_subcommand_from cdr" -f -a "import" -d 'Import a CDR file from a carrier: stored once (by SHA-256), then rated'
complete -c billrun -n "__fish_billrun_using_subcommand help; and __fish_seen_subcommand_from cdr" -f -a "fetch" -d 'Move new files from every carrier\'s inbox into the store (pending)'
complete -c billrun -n "__fish_billrun_using_subcommand help; and __fish_seen_subcommand_from cdr" -f -a "list" -d 'CDR files with their state and line counts'
complete -c billrun -n "__fish_billrun_using_subcommand help; and __fish_seen_subcommand_from cdr" -f -a "ignore" -d 'Ignore a pending or failed file (by id or name)'
complete -c billrun -n "__fish_billrun_using_subcommand help; and __fish_seen_subcommand_from cdr" -f -a "process" -d 'Rate every pending file'
complete -c billrun -n "__fish_billrun_using_subcommand help; and __fish_seen_subcommand_from errors" -f -a "resolve" -d 'Mark errors resolved (handled); the CDR stays unbilled unless re-rated'
complete -c billrun -n "__fish_billrun_using_subcommand help; and __fish_seen_subcommand_from errors" -f -a "ignore" -d 'Mark errors ignored (accepted as not billable)'
complete -c billrun -n "__fish_billrun_using_subcommand help; and __fish_seen_subcommand_from errors" -f -a "rerate" -d 'Re-rate every open error\'s CDR against today\'s reference data and resolve those that now rate'
complete -c billrun -n "__fish_billrun_using_subcommand help; and __fish_seen_subcommand_from invoices" -f -a "show" -d 'One invoice with its lines'
complete -c billrun -n "__fish_billrun_using_subcommand help; and __fish_seen_subcommand_from collect" -f -a "dd" -d 'Direct Debit payment run of a billing run, as a file in `dd.format`'
complete -c billrun -n "__fish_billrun_using_subcommand help; and __fish_seen_subcommand_from collect" -f -a "card" -d 'Card payment run: charge through Stripe, or `--out F` for a gateway batch CSV'
complete -c billrun -n "__fish_billrun_using_subcommand help; and __fish_seen_subcommand_from collect" -f -a "results" -d 'Import results: billrun CSV (reference, status, reason), Bacs ARUDD/ADDACS, SEPA pain.002 or ABA returns'
complete -c billrun -n "__fish_billrun_using_subcommand help; and __fish_seen_subcommand_from collect" -f -a "sync" -d 'Ask Stripe / GoCardless what became of collections not yet finished, and record it'
complete -c billrun -n "__fish_billrun_using_subcommand help; and __fish_seen_subcommand_from collect" -f -a "list" -d 'List payment runs'
complete -c billrun -n "__fish_billrun_using_subcommand help; and __fish_seen_subcommand_from collect" -f -a "show" -d 'One payment run with its items'
complete -c billrun -n "__fish_billrun_using_subcommand help; and __fish_seen_subcommand_from xero" -f -a "export" -d 'Write Xero\'s sales-invoice import CSV for a completed run'
complete -c billrun -n "__fish_billrun_using_subcommand help; and __fish_seen_subcommand_from xero" -f -a "push" -d 'Send a completed run\'s customers and invoices to Xero through its API (xero.mode api)'
