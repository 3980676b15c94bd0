"""The staging store and sync ledger."""
