"""``frolic bench chaos``: each fault in turn, each on its own servers; a table and one JSON
line.

Not part of ``frolic bench all``: its figures are counts that must be zero and a verdict,
not a performance figure against a baseline, and a full run takes minutes of restarts
(PostgreSQL down for 30 s alone) on the machine the benchmarks time.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import tempfile
from pathlib import Path
from typing import Any

from frolic.config import Settings
from frolic_chaos import faults
from frolic_chaos.fault import Progress
from frolic_chaos.runner import FULL, SMOKE, Chaos, Row

COLUMNS = ("sent", "accepted", "finalized", "overspent", "duplicated", "lost")


def run(
    names: list[str], *, smoke: bool, seconds: float | None, rate: float | None,
    progress: Progress,
) -> dict[str, Any]:  # fmt: skip
    chosen = faults.named(names)
    plan = SMOKE if smoke else FULL
    if seconds is not None:
        plan = dataclasses.replace(plan, seconds=seconds)
    if rate is not None:
        plan = dataclasses.replace(plan, rate=rate)

    async def each() -> list[Row]:
        # Servers of its own for each fault: a fault may leave them changed (a restarted
        # broker, a rebuilt Redis), and on a broker reused across runs the recorders' group
        # got nothing from the next run's topic (seen with tansu; not diagnosed further).
        rows = []
        for fault in chosen:
            with tempfile.TemporaryDirectory(prefix="frolic-chaos-") as state:
                async with Chaos(fault.servers(Settings()), Path(state), plan, progress) as chaos:
                    rows.append(await chaos.run(fault))
        return rows

    rows = asyncio.run(each())
    return {
        "chaos": [r.as_dict() for r in rows],
        "holds": all(r.holds for r in rows),
        "faults_happened": all(not r.missing for r in rows),
        "smoke": smoke, "seconds": plan.seconds, "rate": plan.rate,
        "cores": os.cpu_count(),
    }  # fmt: skip


def table(result: dict[str, Any]) -> str:
    """The table of docs/reliability.md, in Markdown."""
    head = ["fault", *COLUMNS, "violations", "fault happened", "load avg"]
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for row in result["chaos"]:
        cells = [row["fault"], *(f"{row[c]:,}" for c in COLUMNS), str(len(row["violations"])),
                 "yes" if row["fault_happened"] else "NO: " + "; ".join(row["missing"]),
                 f"{row['load_avg_1m']:.1f}"]  # fmt: skip
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
