"""The target database: tables, migrations, batched idempotent upserts, checkpoints."""
