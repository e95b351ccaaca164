"""The fault registry: every module here defines ``FAULT``; ``available()`` finds them.

A new fault is a new module: nothing to register elsewhere. ``ORDER`` only fixes the
order of the table (the issue's order); a fault not listed there comes after, by name.
"""

from __future__ import annotations

import importlib
import pkgutil

from frolic.chaos.fault import Fault

ORDER = ("sigkill", "broker_restart", "redis_restart", "postgres_down", "duplicates", "clock_skew")


def available() -> dict[str, Fault]:
    found: dict[str, Fault] = {}
    for module in pkgutil.iter_modules(__path__):
        fault = getattr(importlib.import_module(f"{__name__}.{module.name}"), "FAULT", None)
        if isinstance(fault, Fault):
            found[fault.name] = fault
    rank = {name: i for i, name in enumerate(ORDER)}
    return dict(sorted(found.items(), key=lambda kv: (rank.get(kv[0], len(ORDER)), kv[0])))


def named(names: list[str]) -> list[Fault]:
    """The faults of ``names`` (all of them when empty); an unknown name is a ValueError."""
    faults = available()
    unknown = [n for n in names if n not in faults]
    if unknown:
        raise ValueError(f"unknown fault {', '.join(unknown)}; known: {', '.join(faults)}")
    return [faults[n] for n in names] if names else list(faults.values())
