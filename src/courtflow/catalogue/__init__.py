"""The catalogue: every endpoint, its filter sets and filters, scopes and windows."""
