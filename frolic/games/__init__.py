"""Games as the pipeline sees them: their rules, state and limits, read from the ledger."""
