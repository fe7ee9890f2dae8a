"""The catalog's side of access applications: the service the API and the pages share, uploaded
documents, and the expiry job. Rules stay in ``access``; this room only wires them to storage."""
