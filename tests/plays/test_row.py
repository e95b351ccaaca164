"""A play's row read one way by every role: its reveal time and its final."""

from __future__ import annotations

import pytest

from frolic.plays.row import final_of, reveal_at


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
