"""``frolic verify`` on files: what a person runs after a game, with no server."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from frolic.cli import app
from frolic.fairness.terms import published
from tests.fairness.test_verify import SEED, TERMS, game_log


def write(tmp: Path, log: list[dict[str, Any]], *, seed: bool = True) -> tuple[Path, Path]:
    document = published(TERMS.game_id, SEED, TERMS.document(), revealed=seed)
    fairness, audit = tmp / "fairness.json", tmp / "audit.jsonl"
    fairness.write_text(json.dumps(document))
    audit.write_text("".join(json.dumps(e) + "\n" for e in log))
    return fairness, audit


def test_an_honest_game_verifies_and_exits_0(tmp_path: Path) -> None:
    fairness, audit = write(tmp_path, game_log(600))
    result = CliRunner().invoke(app, ["verify", str(fairness), str(audit)])
    assert result.exit_code == 0, result.output
    assert "verified: the log is consistent" in result.output
    as_json = CliRunner().invoke(app, ["verify", str(fairness), str(audit), "--json"])
    assert json.loads(as_json.output)["ok"] is True


def test_a_tampered_game_exits_1_naming_what_broke(tmp_path: Path) -> None:
    log = game_log(600)
    win = next(e for e in log if e.get("outcome") == "WIN")
    win.update(outcome="LOSE", brand=None, code=None)
    fairness, audit = write(tmp_path, log)
    result = CliRunner().invoke(app, ["verify", str(fairness), str(audit), "--json"])
    assert result.exit_code == 1
    checks = json.loads(result.output)["checks"]
    assert not checks["chain"]["ok"]
    assert not checks["outcomes"]["ok"]
    assert checks["outcomes"]["first"][0].startswith(f"entry {win['n']}: LOSE")


def test_changed_terms_fail(tmp_path: Path) -> None:
    fairness, audit = write(tmp_path, game_log(100))
    document = json.loads(fairness.read_text())
    document["terms"]["budgets"]["1"] = 300
    fairness.write_text(json.dumps(document))
    result = CliRunner().invoke(app, ["verify", str(fairness), str(audit)])
    assert result.exit_code == 1
    assert "they were changed" in result.output


def test_no_seed_yet_or_an_unreadable_log_exits_2(tmp_path: Path) -> None:
    fairness, audit = write(tmp_path, game_log(100), seed=False)
    result = CliRunner().invoke(app, ["verify", str(fairness), str(audit)])
    assert result.exit_code == 2
    assert "has not revealed it yet" in result.output
    with_seed = CliRunner().invoke(app, ["verify", str(fairness), str(audit), "--seed",
                                         SEED.hex()])  # fmt: skip
    assert with_seed.exit_code == 0, with_seed.output
    audit.write_text("{not json\n")
    broken = CliRunner().invoke(app, ["verify", str(fairness), str(audit), "--seed", SEED.hex()])
    assert broken.exit_code == 2
    assert "line 1: not JSON" in broken.output
