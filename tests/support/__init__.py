"""Helpers shared by tests in more than one folder: factories, the in-process app client,
a stack of a test's own."""
