"""The distributed call budget: rate lists, ledger, atomic reservation, waits."""
