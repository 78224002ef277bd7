"""What may be removed: the owner ledger, what is destructive, and the checks that refuse it."""
