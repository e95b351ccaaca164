"""PostgreSQL away inside a read is answered 503 with when to try again; a bug is not."""

from __future__ import annotations

import pytest

from frolic.db.outage import not_ready_while_away
from frolic.errors import NotReady, render


def test_postgres_away_is_answered_not_ready() -> None:
    with pytest.raises(NotReady) as caught, not_ready_while_away("plays cannot be read"):
        raise ConnectionRefusedError("connection refused")
    status, body, headers = render(caught.value)
    assert (status, body["detail"], headers) == (503, "plays cannot be read", {"Retry-After": "2"})
    assert isinstance(caught.value.__cause__, ConnectionRefusedError)


def test_any_other_error_passes_as_it_is() -> None:
    with pytest.raises(KeyError), not_ready_while_away("plays cannot be read"):
        raise KeyError("a bug")
