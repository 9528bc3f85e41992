"""The assistance fund's double-entry ledger (built in the funds issue)."""
