"""``frolic verify``: check a game's decision log against its revealed seed, with no server.

The game's fairness document (what ``GET /games/{id}/fairness`` shows: the commitment, the
terms and, once the game has ended, the seed) and its log (``audit.jsonl``, one entry a
line) are read from files. Exit status 0 when every check passes, 1 when one fails, 2 when
the files cannot be read.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from frolic.fairness.terms import Terms
from frolic.fairness.verify import verify as run_checks


def _read_log(path: Path) -> list[dict[str, Any]]:
    entries = []
    with path.open() as lines:
        for number, line in enumerate(lines, 1):
            if line.strip():
                try:
                    entries.append(json.loads(line))
                except json.JSONDecodeError as exc:
                    raise ValueError(f"{path}, line {number}: not JSON ({exc.msg})") from None
    return entries


def _fail(message: str) -> typer.Exit:
    typer.echo(f"frolic verify: {message}", err=True)
    return typer.Exit(2)


def verify(
    fairness: Annotated[Path, typer.Argument(help="The game's fairness document (JSON).")],
    log: Annotated[Path, typer.Argument(help="The game's decision log (audit.jsonl).")],
    seed: Annotated[
        str | None, typer.Option(help="The seed in hex, if the document does not carry it.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Check every decision of a game against its revealed seed: the chain, each draw, each
    outcome under the caps, the budget, the codes, the play numbers, and the statistics."""
    try:
        document = json.loads(fairness.read_text())
        entries = _read_log(log)
        terms = Terms.parse(document["terms"])
        commitment = str(document["commitment"])
        hex_seed = seed or document.get("seed")
        if not hex_seed:
            raise _fail("no seed: the game has not revealed it yet (pass --seed)")
        key = bytes.fromhex(hex_seed)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise _fail(f"{type(exc).__name__}: {exc}") from None
    report = run_checks(terms, commitment, key, entries, terms_digest=document.get("termsDigest"))
    if as_json:
        typer.echo(json.dumps(report.as_json(), indent=2))
    else:
        typer.echo(report.text())
    sys.stdout.flush()
    raise typer.Exit(0 if report.ok else 1)
