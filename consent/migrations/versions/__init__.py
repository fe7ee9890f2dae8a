"""Consent database revisions, oldest first."""
