"""fairgate test suite (a package so that tests/consent does not shadow the consent package)."""
