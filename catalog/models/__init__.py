"""AI-model entries (seed 004's three sharing classes): their store, MLDCAT-AP output and sample entries."""
