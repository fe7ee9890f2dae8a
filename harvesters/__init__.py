"""Pure sources: each module turns a remote or local catalog into a stream of harvested records."""
