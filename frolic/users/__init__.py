"""Players as the admin API sees them: their plays and wins, and whether they are blocked."""
