"""``/demo/verify`` in Chromium: the draws' rule in JavaScript (``/demo/fairness.js``, Web
Crypto) gives Python's numbers to the bit, and the page recomputes a player's plays from a
real simulated game's log, loudly naming one whose logged draw was changed."""

from __future__ import annotations

import hashlib
import json
import re
import struct
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import BrowserContext, Route, expect
from typer.testing import CliRunner

from frolic.cli import app
from frolic.fairness import draws
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
    """The demo's path on the real server: a client seed typed, a play whose receipt shows
    its number, seed and (once chained) its entry; the game ended by the operator; then
    the link to the verify page, which finds the play in the published log, recomputes its
    draw from the revealed seed and matches the receipt the browser kept."""
    seed = draws.new_seed()
    game = await create_live_game(server.settings, budgets=(3,), strategy="fixed_odds", odds=1,
                                  seed=seed)  # fmt: skip
    g = game.game_id
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
    await expect(page.locator("#result[data-outcome]")).to_have_attribute("data-outcome", "win")

    # Revealed and chained (the chainer runs every second): the receipt names its entry.
    await expect(receipt).to_have_attribute("data-entry", re.compile("^[0-9a-f]{64}$"),
                                            timeout=15_000)  # fmt: skip
    entry = await receipt.get_attribute("data-entry")
    assert entry is not None
    await expect(receipt).to_contain_text("entry " + entry[:12] + "…")
    await browser.shot(page, "demo-receipt")

    # The operator ends the game: its seed is published, and the page offers the check.
    assert server.settings.admin_token is not None
    token = server.settings.admin_token.get_secret_value()
    async with httpx.AsyncClient(base_url=server.url) as admin:
        ended = await admin.post(f"/admin/games/{g}/end",
                                 headers={"Authorization": f"Bearer {token}"})  # fmt: skip
        assert ended.status_code == 200, ended.text
    await page.reload()
    link = page.locator("#verify-link")
    await expect(link).to_have_text("Verify my plays", timeout=15_000)
    await browser.shot(page, "demo-verify-link")
    await link.click()
    verdict = page.locator("#verdict")
    await expect(verdict).to_have_attribute("data-verdict", "ok")
    await expect(verdict).to_contain_text("Your play recomputes from the revealed seed")
    await expect(page.locator("#checks")).to_contain_text("The receipt this browser kept")
    await expect(page.locator("#checks")).to_contain_text("up to the head published")
    player = await page.evaluate("JSON.parse(sessionStorage.getItem('frolic.demoSession')).player")
    d = draws.draws(seed, g, draws.player_ref(seed, g, player), 1, "lucky-7")
    row = page.locator("#plays tr[data-play='1'] td")
    await expect(row.nth(1)).to_have_text("lucky-7")
    await expect(row.nth(6)).to_have_text("yes: u < p")
    # The same double, whichever way the page writes it (a fresh seed may give 4.8e-05).
    assert float(await row.nth(2).inner_text()) == d.u
    await browser.shot(page, "demo-verified")
