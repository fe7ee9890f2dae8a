"""The dynamic-consent registry: pseudonymised subjects, a tamper-evident ledger, decisions and releases.

Keeps its own database and never imports ``catalog``.
"""
