"""Frolic: instant-win games whose prize budget is never overspent."""

__version__ = "0.1.0"
