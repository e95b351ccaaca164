"""Pytest plugins: fixtures that start extra real servers, registered with ``pytest_plugins``."""
