"""Who is calling: player JWTs and the admin token."""
