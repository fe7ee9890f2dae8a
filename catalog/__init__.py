"""fairgate's catalog: the store, ingest, search, serialisation, the web app and the CLI."""
