"""The draws follow the published rule: the worked example in docs/fairness.md (checked
with openssl when it was written) is what the code computes, and stays so."""

from __future__ import annotations

import hashlib
import hmac
import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from frolic.fairness import chain, draws

SEED = bytes(range(32))
DOC = (Path(__file__).parents[2] / "docs" / "fairness.md").read_text()


def test_the_worked_example() -> None:
    commitment = "630dcd2966c4336691125448bbb25b4ff412a49c732db2c8abc1b8581bd710dd"
    assert draws.commitment(SEED) == commitment
    ref = draws.player_ref(SEED, 42, "player-7")
    assert ref == "6f3494ce90f55d5e7d3871a210942f50"
    message = draws.message(42, ref, 3, "lucky")
    assert message == b"frolic-fair-v1|play|42|6f3494ce90f55d5e7d3871a210942f50|3|lucky"
    d = draws.Draws.of(SEED, message)
    assert (d.u, d.brand_u) == (0.9751356004639915, 0.5666886143194778)
    genesis = chain.genesis(42, commitment)
    assert genesis == "4965bcfa79fdf885feb55747ee3dfe7db599db5ef23af92a30121a1f054101de"
    for value in (commitment, ref, message.decode(), repr(d.u), repr(d.brand_u), genesis):
        assert value in DOC


def test_the_docs_ten_lines_of_python_give_the_same() -> None:
    code = re.search(r"```python\n(.*?)```", DOC, re.S)
    assert code is not None
    scope: dict[str, object] = {"print": lambda *args: None}
    exec(code.group(1), scope)  # the document's own example
    assert (scope["u"], scope["brand_u"]) == (0.9751356004639915, 0.5666886143194778)


def test_a_draw_is_one_of_two_to_the_53_evenly_spaced_numbers() -> None:
    assert draws.unit(b"\x00" * 8) == 0.0
    assert draws.unit(b"\xff" * 8) == 1 - 2**-53
    assert draws.unit((1 << 11).to_bytes(8, "big")) == 2**-53


@pytest.mark.parametrize("client", ["a|b", "x" * 65, "é", " "])
def test_a_client_seed_that_could_forge_a_message_is_refused(client: str) -> None:
    with pytest.raises(ValueError, match="client seed"):
        draws.message(1, "ab", 1, client)


def test_play_numbers_start_at_one() -> None:
    with pytest.raises(ValueError, match="start at 1"):
        draws.message(1, "ab", 0, "")


def test_a_seed_is_fresh_256_bits() -> None:
    seeds = {draws.new_seed() for _ in range(100)}
    assert len(seeds) == 100
    assert all(len(s) == 32 for s in seeds)


def test_the_hot_path_drawer_gives_the_rules_draws() -> None:
    """``Drawer`` (the allocator's) gives exactly ``player_ref`` and ``draws`` (the rule's),
    for many players and play numbers, a pseudonym remembered or not."""
    seed = bytes(range(32))
    drawer = draws.Drawer(seed, 42, remember=3)
    for i in range(50):
        user, number, client = f"player-{i % 7}", i // 7 + 1, "" if i % 2 else f"c-{i}"
        ref = draws.player_ref(seed, 42, user)
        assert drawer.player_ref(user) == ref
        assert drawer.draws(ref, number, client) == draws.draws(seed, 42, ref, number, client)


@given(seed=st.binary(min_size=0, max_size=64), number=st.integers(1, 10**12))
def test_the_drawers_hmac_is_hmacs_for_any_key_up_to_a_block(seed: bytes, number: int) -> None:
    """The drawer computes HMAC-SHA256 from its two padded-key states (RFC 2104), not with
    ``hmac``: the same bytes for every key it accepts, and the draws read from them."""
    drawer = draws.Drawer(seed, 7)
    ref = drawer.player_ref("p")
    assert ref == hmac.new(seed, b"frolic-fair-v1|player|7|p", hashlib.sha256).hexdigest()[:32]
    assert drawer.draws(ref, number) == draws.draws(seed, 7, ref, number)


def test_a_drawer_refuses_a_key_longer_than_a_block() -> None:
    with pytest.raises(ValueError, match="at most 64 bytes"):
        draws.Drawer(bytes(65), 7)
