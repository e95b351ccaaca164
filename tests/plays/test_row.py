"""A play's row read one way by every role: its reveal time and its final; and what its id
says of its request time."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from frolic.plays.row import final_of, new_play_id, requested_near, reveal_at


@pytest.mark.parametrize("stored", [1010.5, "1010.5"])
def test_the_reveal_time_is_the_one_ingestion_stored(stored: object) -> None:
    assert reveal_at(stored, 1000.0, 10.0) == 1010.5


@pytest.mark.parametrize("stored", [None, "", 0, "junk", [1]])
def test_a_row_without_one_is_revealed_a_reel_after_its_request(stored: object) -> None:
    assert reveal_at(stored, 1000.0, 10.0) == 1010.0


def test_a_win_carries_its_code_its_brand_and_its_odds() -> None:
    final = final_of("p1", 7, "alice", "WIN", 1000.0, {"revealAt": 1009.0, "brand": 3, "p": 0.25},
                     brand_id=4, code="C-1", reveal_seconds=10.0)  # fmt: skip
    assert (final.play_id, final.game_id, final.user, final.reveal_at) == ("p1", 7, "alice", 1009.0)
    assert (final.outcome, final.brand, final.coupon_code, final.probability) == (
        "WIN", 4, "C-1", 0.25,
    )  # fmt: skip


def test_a_win_that_found_no_code_names_the_brand_decided() -> None:
    # The reveal's history reads metadata as text; the recorder as JSON values.
    for meta in ({"brand": 3, "p": 0.5}, {"brand": "3", "p": "0.5"}):
        final = final_of("p1", 7, "alice", "WIN", 1000.0, meta, None, None, 10.0)
        assert (final.brand, final.coupon_code, final.probability) == (3, None, 0.5)
        assert final.reveal_at == 1010.0


def test_a_loss_has_no_brand_nor_code() -> None:
    final = final_of("p1", 7, "alice", "LOSE", 1000.0, {"brand": 3, "p": 0.1}, 4, "C-1", 10.0)
    assert (final.outcome, final.brand, final.coupon_code, final.probability) == (
        "LOSE", None, None, 0.1,
    )  # fmt: skip


def test_a_play_id_names_the_millisecond_of_its_request() -> None:
    """Its window holds the request time as the ledger stores it (to the microsecond), for
    times on every side of a millisecond's and a day's edges."""
    day = datetime(2026, 12, 6, tzinfo=UTC).timestamp()
    rng = random.Random(7)
    times = [day - 1e-6, day, day + 0.0009996, day + 0.0009994, 1.7e9 + 0.0104995]
    times += [1.7e9 + rng.random() * 1e8 for _ in range(5000)]
    for t in times:
        play_id = uuid.UUID(new_play_id(t))
        assert play_id.version == 7
        window = requested_near(play_id)
        assert window is not None
        stored = datetime.fromtimestamp(t, UTC)
        assert window[0] <= stored <= window[1], (t, window)
        assert window[1] - window[0] == timedelta(milliseconds=3)
    assert requested_near(uuid.uuid4()) is None
