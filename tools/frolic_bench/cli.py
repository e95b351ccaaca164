"""``frolic bench``: run against the FROLIC_* servers, or the embedded ones when unset."""

from __future__ import annotations

import json
import os
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer

from frolic.config import Settings
from frolic.stack import Stack

app = typer.Typer(help="Benchmarks: each figure is a ratio to a baseline from the same run.")


@app.command()
def allocate(
    plays: Annotated[int, typer.Option(min=1000, help="Plays to decide (10% replays).")] = 200_000,
    budget: Annotated[int, typer.Option(min=1, help="Coupons in the game.")] = 10_000,
    workers: Annotated[
        int | None, typer.Option(min=1, help="Allocator processes; 4 unless set.")
    ] = None,
    batch: Annotated[int, typer.Option(min=1, help="Plays per Redis call.")] = 256,
    store: Annotated[str, typer.Option(help="lua, or optimistic (WATCH/MULTI).")] = "lua",
    as_json: Annotated[bool, typer.Option("--json", help="One JSON line.")] = False,
) -> None:
    """K allocator processes decide N plays of one game; vs the seed's per-play EVALSHA."""
    from frolic_bench.allocate import WORKERS, measure

    workers = workers or WORKERS
    settings = Settings()
    with Stack(settings, only=frozenset({"redis"})) as endpoints:
        typer.echo(f"deciding {plays:,} plays with {workers} workers ...", err=True)
        if store not in ("lua", "optimistic"):
            raise typer.BadParameter("--store is lua or optimistic")
        result = measure(
            endpoints.redis_url, plays=plays, budget=budget, workers=workers, batch=batch,
            store="optimistic" if store == "optimistic" else "lua",
        )  # fmt: skip
    _print(result, as_json)


@app.command()
def reveal(
    sockets: Annotated[int, typer.Option(min=1, help="WebSocket connections.")] = 1000,
    reveals: Annotated[int, typer.Option(min=1, help="Results to reveal.")] = 5000,
    spread: Annotated[float, typer.Option(min=0.1, help="Seconds the revealAts span.")] = 5.0,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON line.")] = False,
) -> None:
    """Reveal lateness at the client: a ws process, many sockets, timed results."""
    from frolic_bench.reveal import measure

    with _servers() as (settings, state):
        typer.echo(f"revealing {reveals:,} results to {sockets:,} sockets ...", err=True)
        result = measure(settings, state, sockets=sockets, reveals=reveals, spread=spread)
    _print(result, as_json)


@app.command()
def ingest(
    seconds: Annotated[float, typer.Option(min=0.5, help="Seconds per endpoint a round.")] = 10.0,
    connections: Annotated[int, typer.Option(min=1, help="Keep-alive connections.")] = 64,
    players: Annotated[int, typer.Option(min=1, help="Distinct players sending plays.")] = 10_000,
    rounds: Annotated[int, typer.Option(min=1, help="Baseline, then /play, N times.")] = 2,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON line.")] = False,
) -> None:
    """POST /play doing its real work (a frolic api process) vs a bare FastAPI endpoint."""
    from frolic_bench.ingest import invalid, measure

    with _servers() as (settings, state):
        result = measure(settings, state, seconds=seconds, connections=connections,
                         players=players, rounds=rounds, progress=_progress)  # fmt: skip
    _print(result, as_json)
    if (why := invalid(result)) is not None:
        print(f"frolic bench ingest: not a measurement of ingestion: {why}", file=sys.stderr)
        raise typer.Exit(1)


@app.command()
def ws(
    steps: Annotated[str, typer.Option(help="Socket counts to try, in order.")] = (
        "1000,2000,5000,10000,15000,18000"
    ),
    reveals: Annotated[int, typer.Option(min=1, help="Results revealed at each step.")] = 5000,
    spread: Annotated[float, typer.Option(min=0.1, help="Seconds the revealAts span.")] = 5.0,
    clients: Annotated[int, typer.Option(min=1, help="Client processes holding sockets.")] = 2,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON line.")] = False,
) -> None:
    """Sockets one ws process holds while reveal p99 stays under 20 ms: a ramp."""
    from frolic_bench.reveal import ramp

    counts = [int(n) for n in steps.split(",") if n.strip()]
    with _servers() as (settings, state):
        result = ramp(settings, state, steps=counts, reveals=reveals, spread=spread,
                      clients=clients, progress=_progress)  # fmt: skip
    _print(result, as_json)


@app.command()
def e2e(
    rate: Annotated[int, typer.Option(min=1, help="Plays published a second.")] = 5000,
    seconds: Annotated[float, typer.Option(min=0.1, help="Seconds of load.")] = 20.0,
    allocators: Annotated[int, typer.Option(min=1, help="Allocator processes.")] = 1,
    recorders: Annotated[
        int, typer.Option(min=0, help="Recorder processes (0: no finals timed).")
    ] = 1,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON line.")] = False,
) -> None:
    """Publish to outcome stored and to final recorded, through allocator and recorder
    processes; vs the broker's own round trip."""
    from frolic_bench.e2e import measure

    with _servers() as (settings, state):
        typer.echo(f"publishing {rate:,} plays/s for {seconds:g} s ...", err=True)
        result = measure(settings, state, rate=rate, seconds=seconds, allocators=allocators,
                         recorders=recorders)  # fmt: skip
    _print(result, as_json)


@app.command()
def embedded(
    rate: Annotated[int, typer.Option(min=1, help="Plays a second, through POST /play.")] = 1000,
    seconds: Annotated[float, typer.Option(min=0.1, help="Seconds of plays.")] = 20.0,
    sockets: Annotated[int, typer.Option(min=1, help="Players, each with a socket.")] = 200,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON line.")] = False,
) -> None:
    """Reveal lateness at the client from one `frolic serve` running every role."""
    from frolic_bench.embedded import measure

    with _servers() as (settings, state):
        typer.echo(f"{rate:,} plays/s for {seconds:g} s, {sockets} sockets ...", err=True)
        result = measure(settings, state, rate=rate, seconds=seconds, sockets=sockets)
    _print(result, as_json)


@app.command()
def abuse(
    smoke: Annotated[bool, typer.Option(help="A second or two of each scenario (CI).")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON line.")] = False,
) -> None:
    """Players' p99 alone, then beside each abusive load (no token, one player at 100x the
    rate, many players from one address, expired tokens); whether each limit held."""
    from frolic_bench import abuse as scenarios

    with _servers() as (settings, state):
        sizes = scenarios.SMOKE if smoke else scenarios.FULL
        result = scenarios.measure(settings, state, sizes, _progress)
    _print(result, as_json)


@app.command()
def chaos(
    fault: Annotated[
        list[str] | None,
        typer.Option(
            "--fault", help="A fault to inject (repeat; a+b: both in one run); all if unset."
        ),
    ] = None,
    smoke: Annotated[bool, typer.Option(help="A short load per fault (CI).")] = False,
    seconds: Annotated[float | None, typer.Option(min=2, help="Seconds of load a fault.")] = None,
    rate: Annotated[float | None, typer.Option(min=1, help="Plays a second.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON line.")] = False,
) -> None:
    """Faults on the real multi-process stack under load; every invariant checked after each.
    Exits 1 if an invariant broke or a fault did not happen. Not in ``bench all``: a
    verdict and counts, not a performance figure."""
    from frolic_chaos import bench as chaos_bench
    from frolic_chaos import faults

    try:
        faults.named(fault or [])
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    result = chaos_bench.run(fault or [], smoke=smoke, seconds=seconds, rate=rate,
                             progress=_progress)  # fmt: skip
    if as_json:
        _print(result, as_json)
    else:
        print(chaos_bench.table(result))
    if not (result["holds"] and result["faults_happened"]):
        raise typer.Exit(1)


@app.command()
def chain(
    decisions: Annotated[int, typer.Option(min=1, help="Recorded decisions to chain.")] = 20_000,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON line.")] = False,
) -> None:
    """The chainer's cost: a game's recorded decisions chained into its decision log."""
    from frolic_bench import chain as chaining

    with _servers() as (settings, _):
        _print(chaining.measure(settings, decisions=decisions), as_json)


@app.command("all")
def run_all(
    smoke: Annotated[bool, typer.Option(help="A second or two of each (CI).")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON line.")] = False,
) -> None:
    """ingest, abuse, allocate, e2e, reveal and ws in sequence on one stack; progress on stderr."""
    from frolic_bench import suite

    with _stack() as (settings, state, settle):
        result = suite.run(settings, state, smoke=smoke, progress=_progress, settle=settle)
    _print(result, as_json)


@app.command("import")
def import_codes(
    codes: Annotated[int, typer.Option(min=1, help="Coupon codes to import.")] = 1_000_000,
    per_request: Annotated[
        int, typer.Option(min=0, help="Codes per request; 0: all in one file.")
    ] = 0,
    url: Annotated[
        str | None, typer.Option(help="An API already running (FROLIC_ADMIN_TOKEN is its token).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON line.")] = False,
) -> None:
    """Import N codes through POST /admin/coupons/import: codes/s and wall time."""
    from frolic_bench import importer

    batch = per_request or codes
    if url is not None:
        token = Settings().with_local_secrets().admin_token
        assert token is not None
        typer.echo(f"importing {codes:,} codes into {url} ...", err=True)
        result = importer.import_codes(
            url.rstrip("/"), token.get_secret_value(), codes=codes, per_request=batch,
            progress=_progress,
        )  # fmt: skip
    else:
        with _servers() as (settings, state):
            typer.echo(f"importing {codes:,} codes through a frolic api process ...", err=True)
            result = importer.measure(settings, state, codes=codes, per_request=batch,
                                      progress=_progress)  # fmt: skip
    _print(result, as_json)


@contextmanager
def _servers() -> Iterator[tuple[Settings, Path]]:
    """Settings for the servers a benchmark runs against (FROLIC_*, or embedded ones started
    here), migrated, and a scratch folder for the processes it starts."""
    with _stack() as (settings, state, _):
        yield settings, state


@contextmanager
def _stack() -> Iterator[tuple[Settings, Path, Callable[[], None]]]:
    """``_servers``, and ``settle``: the embedded servers emptied, so that the next step
    runs as if alone. A step would otherwise pay for the ones before it: the memory broker
    keeps every batch and lists them on every fetch, Redis appends every decision to its
    append-only file, and every allocator re-drives the plays an earlier step accepted and
    never decided (ingest's tens of thousands). Servers given by FROLIC_*, and embedded
    ones on a FROLIC_STATE_DIR of your own (your data), are left alone."""
    from frolic.db import migrate

    settings = Settings().with_local_secrets()
    with tempfile.TemporaryDirectory() as state, tempfile.TemporaryDirectory() as servers:
        ours_to_empty = "FROLIC_STATE_DIR" not in os.environ
        if ours_to_empty:
            # Fresh embedded servers: data left by earlier runs (a Redis AOF of gigabytes,
            # say) costs CPU that is no benchmark's.
            settings = settings.model_copy(update={"state_dir": Path(servers)})
        stack = Stack(settings)
        with stack as endpoints:
            migrate.upgrade(endpoints.database_url)
            ours = stack.settings

            def settle() -> None:
                if not ours_to_empty:
                    return
                # Memory storage and a wiped Redis: lost either way, so no graceful stop.
                if ours.kafka_bootstrap is None:
                    stack.stop_server("broker", kill=True)
                    stack.start_server("broker")
                if ours.redis_url is None and stack.redis_cluster is None:
                    stack.stop_server("redis", kill=True)
                    stack.start_server("redis", wipe=True)
                if ours.database_url is None:
                    stack.stop_server("postgres")
                    stack.start_server("postgres", wipe=True)
                    migrate.upgrade(endpoints.database_url)

            yield endpoints.apply(settings), Path(state), settle


def _progress(line: str) -> None:
    typer.echo(line, err=True)


def _print(result: dict[str, object], as_json: bool) -> None:
    if as_json:
        print(json.dumps(result))
    else:
        for name, value in result.items():
            print(f"{name:>24}  {value}")
    sys.stdout.flush()
