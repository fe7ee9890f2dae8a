"""fairgate benchmarks: each makes its own data and prints figures beside a same-run baseline."""
