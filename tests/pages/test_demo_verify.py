"""``/demo/verify`` in Chromium: the draws' rule in JavaScript (``/demo/fairness.js``, Web
Crypto) gives Python's numbers to the bit, and the page recomputes a player's plays from a
real simulated game's log, loudly naming one whose logged draw was changed."""

from __future__ import annotations

import hashlib
import json
import struct
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import BrowserContext, Route, expect
from typer.testing import CliRunner

from frolic.cli import app
from frolic.fairness import chain, draws
from tests.pages.conftest import Browser, LiveServer
from tests.support.factories import create_live_game

DOCS_SEED = bytes(range(32))  # docs/fairness.md's worked example

# seed, game, user, play number, client seed
VECTORS: list[tuple[bytes, int, str, int, str]] = [
    (DOCS_SEED, 42, "player-7", 3, "lucky"),
    (DOCS_SEED, 42, "player-7", 1, ""),
    (hashlib.sha256(b"frolic-sim|0").digest(), 1, "sim-3", 17, ""),
    (hashlib.sha256(b"another").digest(), 2**40 + 7, "guest-0a1b2c3d4e5f", 1_000_000, "A-z_0.9~"),
    (bytes(32), 9, "jörg@example.com", 2, "x" * 64),
    (b"\xff" * 32, 1, "u", 5, "-"),
]

COMPUTE = """async (vectors) => {
  const f = await import("/demo/fairness.js");
  const bits = (x) => {
    const v = new DataView(new ArrayBuffer(8));
    v.setFloat64(0, x);
    return f.toHex(new Uint8Array(v.buffer));
  };
  const out = [];
  for (const [seed, game, user, number, client] of vectors) {
    const ref = await f.playerRef(seed, game, user);
    const d = await f.draws(seed, game, ref, number, client);
    out.push({commitment: await f.commitment(seed), ref, u: bits(d.u), brandU: bits(d.brandU)});
  }
  return out;
}"""


def bits(x: float) -> str:
    return struct.pack(">d", x).hex()


async def test_the_javascript_rule_gives_pythons_draws_to_the_bit(
    server: LiveServer, browser: Browser
) -> None:
    page = await browser.open(f"{server.url}/demo/verify")
    await expect(page.locator("#verdict")).to_contain_text("Which game?")
    shown = await page.evaluate(
        COMPUTE, [[seed.hex(), game, user, n, client] for seed, game, user, n, client in VECTORS]
    )
    expected = []
    for seed, game, user, n, client in VECTORS:
        ref = draws.player_ref(seed, game, user)
        d = draws.draws(seed, game, ref, n, client)
        expected.append({"commitment": draws.commitment(seed), "ref": ref,
                         "u": bits(d.u), "brandU": bits(d.brand_u)})  # fmt: skip
    assert shown == expected
    # The docs' worked example, as printed there.
    assert shown[0]["commitment"].startswith("630dcd2966c4336691125448bbb25b4f")
    assert shown[0]["ref"] == "6f3494ce90f55d5e7d3871a210942f50"
    assert shown[0]["u"] == bits(0.9751356004639915)
    assert shown[0]["brandU"] == bits(0.5666886143194778)

    refused = await page.evaluate(
        """async () => { const f = await import("/demo/fairness.js");
           return f.draws("00", 1, "r", 1, "no|pipes").then(() => "drawn", (e) => e.message); }"""
    )
    assert "a client seed is at most 64" in refused


Game = tuple[dict[str, Any], list[dict[str, Any]]]


@pytest.fixture
def simulated(tmp_path: Path) -> Game:
    """A real game of the simulator (``frolic simulate --audit``), drawn by the rule: 10
    players of 20 plays, a win in four while the 10 coupons last, so some plays lose with
    u < p (no stock left). Its fairness document and its log."""
    folder = tmp_path / "game"
    folder.mkdir()
    result = CliRunner().invoke(app, [  # a plain fixture: the command runs its own loop
        "simulate", "--scenario", "flat", "--strategy", "fixed_odds", "--odds", "4",
        "--plays", "200", "--budget", "10", "--audit", str(folder),
    ])  # fmt: skip
    assert result.exit_code == 0, result.output
    log = [json.loads(line) for line in (folder / "audit.jsonl").read_text().splitlines()]
    return json.loads((folder / "fairness.json").read_text()), log


async def serve_game(
    context: BrowserContext, document: dict[str, Any], log: list[dict[str, Any]]
) -> None:
    """The two public GETs the page makes, answered with this game (as the server will)."""
    game = document["gameId"]
    await context.unroute_all()

    async def fairness(route: Route) -> None:
        await route.fulfill(json=document)

    async def audit(route: Route) -> None:
        body = "".join(json.dumps(e, separators=(",", ":")) + "\n" for e in log)
        await route.fulfill(body=body, content_type="application/x-ndjson")

    await context.route(f"**/games/{game}/fairness", fairness)
    await context.route(f"**/games/{game}/audit.jsonl", audit)


async def test_the_page_recomputes_a_players_plays_and_shouts_at_a_changed_draw(
    server: LiveServer, browser: Browser, simulated: Game
) -> None:
    document, log = simulated
    player = "sim-3"
    ref = draws.player_ref(bytes.fromhex(document["seed"]), document["gameId"], player)
    mine = [e for e in log if e["player"] == ref]
    assert len(mine) == 20
    capped = [e["play"] for e in mine if e["outcome"] == "LOSE" and e["u"] < e["p"]]
    assert capped, "the stock runs out: some play loses with u < p"
    url = f"{server.url}/demo/verify#game={document['gameId']}&player={player}"

    await serve_game(browser.context, document, log)
    page = await browser.open(url)
    verdict = page.locator("#verdict")
    await expect(verdict).to_have_attribute("data-verdict", "ok")
    await expect(verdict).to_contain_text("All 20 of your plays recompute")
    await expect(page.locator("#checks")).to_contain_text("hashes to the commitment")
    await expect(page.locator("#checks")).to_contain_text(ref)
    rows = page.locator("#plays tbody tr")
    await expect(rows).to_have_count(20)
    await expect(page.locator("#plays tr.bad")).to_have_count(0)
    for e in mine:  # each u, recomputed in the browser, printed as Python prints it
        row = page.locator(f"#plays tr[data-play='{e['play']}'] td")
        await expect(row.nth(2)).to_have_text(repr(e["u"]))
        await expect(row.nth(3)).to_have_text(repr(e["u"]))
    await expect(page.locator(f"#plays tr[data-play='{capped[0]}']")).to_contain_text(
        "capped by the budget pacing"
    )
    await browser.shot(page, "verify-all-agree")

    tampered = [dict(e) for e in log]
    changed = next(e for e in tampered if e["player"] == ref and e["play"] == 5)
    changed["u"] = 0.001  # a loss's draw made to look like a near miss, say
    await serve_game(browser.context, document, tampered)
    page = await browser.open(url)
    await expect(verdict := page.locator("#verdict")).to_have_attribute("data-verdict", "bad")
    await expect(verdict).to_contain_text("MISMATCH")
    await expect(verdict).to_contain_text("play #5: the log says u = 0.001, the seed gives")
    await expect(page.locator("#plays tr.bad")).to_have_count(1)
    await expect(page.locator("#plays tr.bad")).to_have_attribute("data-play", "5")
    await browser.shot(page, "verify-mismatch")


async def test_before_the_reveal_the_page_says_when_the_seed_comes(
    server: LiveServer, browser: Browser, simulated: Game
) -> None:
    document, log = simulated
    document = {**document, "revealed": False, "seed": None, "chain": {"length": 200,
                "head": log[-1]["hash"]}}  # fmt: skip
    await serve_game(browser.context, document, log)
    page = await browser.open(f"{server.url}/demo/verify#game={document['gameId']}&player=sim-3")
    verdict = page.locator("#verdict")
    await expect(verdict).to_have_attribute("data-verdict", "waiting")
    await expect(verdict).to_contain_text("The seed is published when the game ends")
    await expect(page.locator("#checks")).to_contain_text(document["commitment"])
    await expect(page.locator("#plays")).to_be_hidden()
    await browser.shot(page, "verify-before-reveal")


async def test_a_play_shows_its_receipt_and_after_the_game_the_player_verifies_it(
    server: LiveServer, browser: Browser
) -> None:
    """The demo's path: a client seed typed, a play whose receipt shows its number, seed and
    (once ``GET /plays/{id}`` has it) its entry; after the end, the link to the verify page,
    which finds the play in the log and the receipt matching it. The fairness document, the
    log and the receipt's entry are answered here as the lead's endpoints will answer them."""
    game = await create_live_game(server.settings, budgets=(3,), strategy="fixed_odds", odds=1)
    g, seed = game.game_id, DOCS_SEED
    document: dict[str, Any] = {
        "gameId": g, "algorithm": draws.ALGORITHM, "commitment": draws.commitment(seed),
        "terms": {"end": 4102444800.0}, "revealed": False, "seed": None,
    }  # fmt: skip
    served: dict[str, Any] = {"document": document, "entry": None, "log": []}

    async def fairness(route: Route) -> None:
        await route.fulfill(json=served["document"])

    async def audit(route: Route) -> None:
        await route.fulfill(body="".join(json.dumps(e) + "\n" for e in served["log"]))

    async def play_view(route: Route) -> None:  # the real answer, with the receipt to come
        answer = await route.fetch()
        view = await answer.json()
        entry = served["entry"]
        view["receipt"] = {"playNumber": 1, "clientSeed": "lucky-7",
                           "entry": entry and entry["hash"], "n": entry and entry["n"]}  # fmt: skip
        await route.fulfill(response=answer, json=view)

    await browser.context.route(f"**/games/{g}/fairness", fairness)
    await browser.context.route(f"**/games/{g}/audit.jsonl", audit)
    await browser.context.route("**/plays/*", play_view)
    page = await browser.open(f"{server.url}/demo#game={g}", width=480, height=900)
    await expect(page.locator("#verify")).to_contain_text("published when it ends")
    await expect(page.locator("#verify-link")).to_have_count(0)

    await page.locator("#client-seed").fill("not a seed!")
    await page.get_by_role("button", name="Play").click()
    await expect(page.locator("#result")).to_contain_text("A client seed is up to 64 of")
    await page.locator("#client-seed").fill("lucky-7")
    async with page.expect_request(f"{server.url}/play") as sent:
        await page.get_by_role("button", name="Play").click()
    posted = (await sent.value).post_data_json
    assert posted is not None
    assert posted["clientSeed"] == "lucky-7"
    receipt = page.locator("#history li .receipt")
    await expect(receipt).to_have_text("receipt: play #1 · seed lucky-7")

    # The decision is chained: the log holds the play's entry, and GET /plays/{id} its hash.
    player = await page.evaluate("JSON.parse(sessionStorage.getItem('frolic.demoSession')).player")
    ref = draws.player_ref(seed, g, player)
    d = draws.draws(seed, g, ref, 1, "lucky-7")
    body = {"kind": "play", "player": ref, "play": 1, "client": "lucky-7", "t": 0.0, "slot": 0,
            "p": 1.0, "cap": None, "slotCap": None, "u": d.u, "brandU": d.brand_u,
            "outcome": "WIN", "brand": next(iter(game.brands)), "code": "0" * 64,
            "epoch": 1, "seq": 1}  # fmt: skip
    head = chain.Head(chain.genesis(g, document["commitment"]), 0)
    served["log"] = list(chain.extend(head, [body]))
    served["entry"] = served["log"][0]
    await expect(receipt).to_have_attribute("data-entry", served["entry"]["hash"])
    await expect(receipt).to_contain_text("entry " + served["entry"]["hash"][:12] + "…")
    await browser.shot(page, "demo-receipt")

    # The game ends: its seed is published, and the page offers the check.
    served["document"] = {**document, "revealed": True, "seed": seed.hex(),
                          "chain": {"length": 1, "head": served["entry"]["hash"]}}  # fmt: skip
    await page.reload()
    link = page.locator("#verify-link")
    await expect(link).to_have_text("Verify my plays")
    await browser.shot(page, "demo-verify-link")
    await link.click()
    verdict = page.locator("#verdict")
    await expect(verdict).to_have_attribute("data-verdict", "ok")
    await expect(verdict).to_contain_text("Your play recomputes from the revealed seed")
    await expect(page.locator("#checks")).to_contain_text("The receipt this browser kept")
    await expect(page.locator("#checks")).to_contain_text("up to the head published")
    row = page.locator("#plays tr[data-play='1'] td")
    await expect(row.nth(1)).to_have_text("lucky-7")
    await expect(row.nth(2)).to_have_text(repr(d.u))
    await expect(row.nth(6)).to_have_text("yes: u < p")
    await browser.shot(page, "demo-verified")
