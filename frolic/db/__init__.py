"""The durable ledger: SQLAlchemy models, sessions and migrations."""
