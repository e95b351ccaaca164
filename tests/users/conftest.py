"""The admin app and its clients (``tests/admin/conftest.py``)."""

from __future__ import annotations

from tests.admin.conftest import admin, app, res

__all__ = ["admin", "app", "res"]
