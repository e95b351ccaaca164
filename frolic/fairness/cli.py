"""``frolic verify``: check a game's decision log against its revealed seed, with no server.

The game's fairness document (what ``GET /games/{id}/fairness`` shows: the commitment, the
terms and, once the game has ended, the seed and the chain's head) and its log
(``audit.jsonl``, one entry a line) are read from files, or fetched from a Frolic server
given the game's URL (``https://frolic.example/games/7``). Exit status 0 when every check
passes, 1 when one fails, 2 when the files cannot be read or fetched.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer

from frolic.fairness.chain import Head
from frolic.fairness.terms import Terms
from frolic.fairness.verify import verify as run_checks


def _parse_log(where: str, lines: Iterable[str]) -> list[dict[str, Any]]:
    entries = []
    for number, line in enumerate(lines, 1):
        if line.strip():
            try:
                entries.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise ValueError(f"{where}, line {number}: not JSON ({exc.msg})") from None
    return entries


def _fetch(game_url: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The fairness document and the log of the game at ``game_url`` (``.../games/<id>``)."""
    base = game_url.rstrip("/")
    with httpx.Client(timeout=60, follow_redirects=True) as client:
        answer = client.get(f"{base}/fairness")
        if answer.status_code != 200:
            raise ValueError(f"GET {base}/fairness answered {answer.status_code}: "
                             f"{answer.text[:200]}")  # fmt: skip
        document = answer.json()
        with client.stream("GET", f"{base}/audit.jsonl") as log:
            if log.status_code != 200:
                raise ValueError(f"GET {base}/audit.jsonl answered {log.status_code}: "
                                 f"{log.read().decode(errors='replace')[:200]}")  # fmt: skip
            return document, _parse_log(f"{base}/audit.jsonl", log.iter_lines())


def _fail(message: str) -> typer.Exit:
    typer.echo(f"frolic verify: {message}", err=True)
    return typer.Exit(2)


def verify(
    fairness: Annotated[
        str,
        typer.Argument(
            help="The game's fairness document (JSON), or the game's URL on a Frolic server "
            "(https://.../games/<id>), whose fairness document and log are fetched."
        ),
    ],
    log: Annotated[
        Path | None,
        typer.Argument(help="The game's decision log (audit.jsonl), with a document file."),
    ] = None,
    seed: Annotated[
        str | None, typer.Option(help="The seed in hex, if the document does not carry it.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Check every decision of a game against its revealed seed: the chain, each draw, each
    outcome under the caps, the budget, the codes, the play numbers, and the statistics."""
    try:
        if fairness.startswith(("http://", "https://")):
            document, entries = _fetch(fairness)
        elif log is None:
            raise _fail("give the document and the log files, or the game's URL")
        else:
            document = json.loads(Path(fairness).read_text())
            with log.open() as lines:
                entries = _parse_log(str(log), lines)
        terms = Terms.parse(document["terms"])
        commitment = str(document["commitment"])
        hex_seed = seed or document.get("seed")
        if not hex_seed:
            raise _fail("no seed: the game has not revealed it yet (pass --seed)")
        key = bytes.fromhex(hex_seed)
        published = document.get("chain")
        head = None if not published else Head(str(published["head"]), int(published["length"]))
    except (OSError, ValueError, KeyError, TypeError, httpx.HTTPError) as exc:
        raise _fail(f"{type(exc).__name__}: {exc}") from None
    if published and not published.get("complete", True):
        typer.echo("frolic verify: the log is not complete yet (plays still being decided or "
                   "chained): checking what there is", err=True)  # fmt: skip
    report = run_checks(terms, commitment, key, entries, terms_digest=document.get("termsDigest"),
                        head=head)  # fmt: skip
    if as_json:
        typer.echo(json.dumps(report.as_json(), indent=2))
    else:
        typer.echo(report.text())
    sys.stdout.flush()
    raise typer.Exit(0 if report.ok else 1)
