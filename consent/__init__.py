"""The dynamic-consent registry: pseudonymised subjects, the ledger of their choices, releases."""
