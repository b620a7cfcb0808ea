"""A run: sync and backfill, their plan, progress, summary and hints."""
