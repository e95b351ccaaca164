"""A real game through Frolic as a running process on the embedded stack, checked the way an
outsider would: the fairness document and the decision log fetched over HTTP, then
``frolic verify`` on them. The same log, tampered with in each way the issue names, fails,
naming what broke; the players' receipts point at their entries."""

from __future__ import annotations

import asyncio
import copy
import json
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from frolic.auth.tokens import mint_player_token
from frolic.cli import app as cli
from frolic.config import Settings
from frolic.fairness import chain
from frolic.fairness.terms import Terms
from frolic.fairness.verify import verify
from frolic_bench.cluster import running
from tests.admin.conftest import codes, csv_of
from tests.support.factories import wait_decided, with_own_topics

PLAYERS = 40
PLAYS_EACH = 6


async def admin_game(admin: httpx.AsyncClient) -> tuple[int, list[int]]:
    """A live game made through the admin API, as an operator makes one: two brands, 15 and
    10 coupons, one win in four plays while they last."""
    brands = []
    for name in ("fair-a", "fair-b"):
        answer = await admin.post("/admin/brands", json={"name": f"{name}-{uuid.uuid4().hex[:6]}"})
        brands.append(answer.json()["id"])
    body = {"name": f"fair-{uuid.uuid4().hex[:6]}", "startTime": "2026-01-01T00:00:00Z",
            "endTime": "2036-01-01T00:00:00Z", "probabilityType": "fixed_odds", "odds": 4,
            "slotSeconds": 1,
            "budgets": [{"brandId": brands[0], "coupons": 15},
                        {"brandId": brands[1], "coupons": 10}],
            "campaignId": (await admin.post("/admin/campaigns", json={
                "name": f"fair-{uuid.uuid4().hex[:6]}", "startTime": "2026-01-01T00:00:00Z",
                "endTime": "2036-01-01T00:00:00Z"})).json()["id"]}  # fmt: skip
    game = await admin.post("/admin/games", json=body)
    assert game.status_code == 201, game.text
    game_id: int = game.json()["id"]
    rows = [(brands[0], c) for c in codes(15)] + [(brands[1], c) for c in codes(10)]
    imported = await admin.post("/admin/coupons/import", content=csv_of(rows),
                                headers={"Content-Type": "text/csv"})  # fmt: skip
    assert imported.status_code < 300, imported.text
    started = await admin.post(f"/admin/games/{game_id}/start")
    assert started.status_code == 200, started.text
    return game_id, brands


async def top_up(admin: httpx.AsyncClient, game: int, brand: int, coupons: int) -> None:
    """More coupons for ``brand`` while the game runs (its codes imported first)."""
    imported = await admin.post("/admin/coupons/import", headers={"Content-Type": "text/csv"},
                                content=csv_of((brand, c) for c in codes(coupons)))  # fmt: skip
    assert imported.status_code < 300, imported.text
    answer = await admin.post(f"/admin/games/{game}/budgets/{brand}/top-up",
                              json={"coupons": coupons},
                              headers={"Idempotency-Key": uuid.uuid4().hex})  # fmt: skip
    assert answer.status_code == 200, answer.text


@pytest.fixture(scope="module")
def fair_settings(settings: Settings) -> Settings:
    return with_own_topics(settings, "fair", reveal_seconds=1.0)


@pytest.fixture(scope="module")
def played(fair_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The game played, ended and fetched: its fairness document, its log's lines, and each
    play's view (with its receipt) by its owner."""
    return asyncio.run(_play(fair_settings, tmp_path_factory.mktemp("fair")))


async def _play(s: Settings, state: Path) -> dict[str, Any]:
    assert s.admin_token is not None
    # Every log line the process writes, down to DEBUG: none may carry the seed.
    with running(s, state, [["api", "allocator", "recorder"]],
                 env={"FROLIC_LOG_LEVEL": "DEBUG"}) as cluster:  # fmt: skip
        url = cluster.roles[0].url
        admin_auth = {"Authorization": f"Bearer {s.admin_token.get_secret_value()}"}
        async with httpx.AsyncClient(base_url=url, timeout=30, headers=admin_auth) as admin:
            game, brands = await admin_game(admin)
        async with httpx.AsyncClient(base_url=url, timeout=30) as client:
            during = (await client.get(f"/games/{game}/fairness")).json()
            early_log = await client.get(f"/games/{game}/audit.jsonl")
            run = uuid.uuid4().hex[:8]
            users = [f"fair-{run}-{i}" for i in range(PLAYERS)]
            tokens = {u: mint_player_token(s, u) for u in users}
            owner: dict[str, str] = {}
            accepted: list[dict[str, Any]] = []
            for round_ in range(PLAYS_EACH):

                async def one(user: str, k: int = round_) -> None:
                    body: dict[str, Any] = {"gameId": game}
                    if (hash(user) + k) % 3 == 0:
                        body["clientSeed"] = f"lucky-{k}"
                    answer = await client.post("/play", json=body, headers={
                        "Authorization": f"Bearer {tokens[user]}",
                        "Idempotency-Key": f"{user}-{k}"})  # fmt: skip
                    assert answer.status_code == 202, answer.text
                    accepted.append(answer.json())
                    owner[answer.json()["playId"]] = user

                await asyncio.gather(*(one(u) for u in users))
                if round_ == 2:  # halfway, the operator adds coupons: an entry in the log
                    async with httpx.AsyncClient(base_url=url, timeout=30,
                                                 headers=admin_auth) as admin:  # fmt: skip
                        await top_up(admin, game, brands[1], 8)
                if round_ == 3:  # and pauses the game, then resumes it: two entries more
                    async with httpx.AsyncClient(base_url=url, timeout=30,
                                                 headers=admin_auth) as admin:  # fmt: skip
                        for action in ("pause", "resume"):
                            done = await admin.post(f"/admin/games/{game}/{action}")
                            assert done.status_code == 200, done.text
                    await asyncio.sleep(2.5)  # the game cache (2 s) sees it live again
            await wait_decided(s, list(owner), timeout=60)
            async with httpx.AsyncClient(base_url=url, timeout=30, headers=admin_auth) as admin:
                ended = await admin.post(f"/admin/games/{game}/end")
                assert ended.status_code == 200, ended.text
            document: dict[str, Any] = {}
            for _ in range(100):  # the chainer runs every second
                document = (await client.get(f"/games/{game}/fairness")).json()
                if (document.get("chain") or {}).get("complete"):
                    break
                await asyncio.sleep(0.2)
            log = await client.get(f"/games/{game}/audit.jsonl")
            # What an outsider runs: the game's URL, nothing else.
            by_url = CliRunner().invoke(cli, ["verify", f"{url}/games/{game}", "--json"])
            await asyncio.sleep(s.reveal_seconds)
            views = {}
            for p, u in owner.items():
                mine = {"Authorization": f"Bearer {tokens[u]}"}
                views[p] = (await client.get(f"/plays/{p}", headers=mine)).json()
    process_log = "".join(p.read_text() for p in state.glob("*.log"))
    return {"game": game, "during": during, "early_log": early_log, "document": document,
            "log": log, "accepted": accepted, "views": views, "owner": owner,
            "by_url": by_url, "process_log": process_log}  # fmt: skip


def entries(played: dict[str, Any]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in played["log"].text.splitlines()]


def test_the_log_is_not_public_before_the_end_and_the_commitment_is(
    played: dict[str, Any],
) -> None:
    during = played["during"]
    assert during["seed"] is None
    assert not during["revealed"]
    assert len(during["commitment"]) == 64
    assert played["early_log"].status_code == 409
    assert played["early_log"].json()["error"] == "Conflict"


def test_the_game_verifies_from_what_http_gives(played: dict[str, Any], tmp_path: Path) -> None:
    document = played["document"]
    assert document["revealed"]
    assert document["chain"]["complete"], document
    log = entries(played)
    plays = [e for e in log if e["kind"] == "play"]
    assert len(plays) == PLAYERS * PLAYS_EACH
    assert document["chain"] == {"length": len(log), "head": log[-1]["hash"], "complete": True}
    assert 0 < sum(e["outcome"] == "WIN" for e in plays) <= 25 + 8
    [added] = [e for e in log if e["kind"] == "topUp"]
    assert added["coupons"] == 8
    assert 0 < added["n"] < len(log)
    paused = [(e["kind"], e["n"]) for e in log if e["kind"] in ("pause", "resume")]
    assert [k for k, _ in paused] == ["pause", "resume"]
    assert paused[0][1] < paused[1][1]  # logged where the chainer found them, in time order
    assert any(e["client"] for e in plays)
    (tmp_path / "fairness.json").write_text(json.dumps(document))
    (tmp_path / "audit.jsonl").write_text(played["log"].text)
    result = CliRunner().invoke(cli, ["verify", str(tmp_path / "fairness.json"),
                                      str(tmp_path / "audit.jsonl"), "--json"])  # fmt: skip
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["ok"]
    assert report["plays"] == PLAYERS * PLAYS_EACH


def test_frolic_verify_takes_the_games_url(played: dict[str, Any]) -> None:
    result = played["by_url"]
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["ok"]
    assert report["entries"] == played["document"]["chain"]["length"]


def test_the_seed_is_in_no_log_line(played: dict[str, Any]) -> None:
    """The process that held the seed all game (the allocator drew from it) never wrote it:
    not in hex, nor as the bytes' repr."""
    seed = bytes.fromhex(played["document"]["seed"])
    assert played["process_log"]  # the process did log (its start, its roles)
    for form in (seed.hex(), repr(seed), seed.hex().upper()):
        assert form not in played["process_log"]


def test_each_receipt_names_its_entry(played: dict[str, Any]) -> None:
    by_hash = {e["hash"]: e for e in entries(played)}
    for answer in played["accepted"]:
        view = played["views"][answer["playId"]]
        receipt = view["receipt"]
        assert receipt["playNumber"] == answer["playNumber"]
        assert receipt["clientSeed"] == answer["clientSeed"]
        entry = by_hash[receipt["entry"]]
        assert entry["n"] == receipt["n"]
        assert (entry["play"], entry["client"], entry["outcome"]) == (
            answer["playNumber"], answer["clientSeed"], view["outcome"]
        )  # fmt: skip


def _verified(played: dict[str, Any], log: list[dict[str, Any]], seed: str | None = None,
              *, published: bool = True) -> dict[str, list[str]]:  # fmt: skip
    """The checks that fail, with their first problems: against the head published, or
    (``published=False``) as if nobody had noted it, so a forger could re-chain the log
    and only what the entries say can give the edit away."""
    document = played["document"]
    head = chain.Head(document["chain"]["head"], document["chain"]["length"])
    report = verify(Terms.parse(document["terms"]), document["commitment"],
                    bytes.fromhex(seed or document["seed"]), log,
                    head=head if published else None)  # fmt: skip
    return {c.name: c.problems for c in report.checks if not c.ok}


def _rehash(log: list[dict[str, Any]], document: dict[str, Any]) -> list[dict[str, Any]]:
    """The log chained again after an edit: what a forger would publish."""
    bodies = [{k: v for k, v in e.items() if k not in ("n", "prev", "hash")} for e in log]
    genesis = chain.Head(chain.genesis(document["gameId"], document["commitment"]), 0)
    return list(chain.extend(genesis, bodies))


def test_each_tampering_fails_naming_what_broke(played: dict[str, Any]) -> None:
    log, document = entries(played), played["document"]
    assert _verified(played, log) == {}
    wins = [i for i, e in enumerate(log) if e.get("outcome") == "WIN"]
    losses = [i for i, e in enumerate(log) if e.get("outcome") == "LOSE"]

    flipped = copy.deepcopy(log)
    flipped[losses[0]].update(outcome="WIN", brand=flipped[wins[0]]["brand"], code="0" * 64)
    failed = _verified(played, flipped)
    assert "outcomes" in failed
    assert "chain" in failed
    assert "outcomes" in _verified(played, _rehash(flipped, document), published=False)
    assert "chain" in _verified(played, _rehash(flipped, document))  # the head gives it away

    changed = copy.deepcopy(log)
    changed[wins[0]]["p"] = 0.0
    assert "outcomes" in _verified(played, _rehash(changed, document), published=False)

    cut = log[:-3]  # the last entries dropped: every hash left still recomputes
    assert _verified(played, cut) == {"chain": [
        f"the log ends at entry {len(log) - 3}, not at the published head (entry {len(log)}, "
        f"{log[-1]['hash'][:12]}...)"]}  # fmt: skip

    swapped = list(log)
    swapped[3], swapped[4] = swapped[4], swapped[3]
    assert "chain" in _verified(played, swapped)
    assert "order" in _verified(played, _rehash(swapped, document), published=False)

    removed = log[:5] + log[6:]
    assert "chain" in _verified(played, removed)
    again = _verified(played, _rehash(removed, document), published=False)
    assert "order" in again
    assert "play numbers" in again

    duplicated = copy.deepcopy(log)
    duplicated[wins[1]]["code"] = duplicated[wins[0]]["code"]
    failed = _verified(played, _rehash(duplicated, document), published=False)
    assert list(failed) == ["codes"]
    assert "was issued at entry" in failed["codes"][0]

    failed = _verified(played, log, seed="00" * 32)
    assert failed["seed"][0].endswith("a different seed")
    assert "draws" in failed
