"""The recorder role: outcomes into the ledger, coupon codes issued and locked."""
