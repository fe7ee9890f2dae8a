"""User accounts: people who sign in (researchers, stewards, reviewers, admins), their personal API
tokens, browser sessions, sign-in throttling and the catalog's audit log.

Owns its tables in the catalog database. Knows nothing of HTTP: the web layer (``catalog.api.auth``)
turns requests into calls here.
"""
