"""The fault registry: every module here defines ``FAULT``; ``available()`` finds them.

A new fault is a new module: nothing to register elsewhere. ``ORDER`` only fixes the
order of the table (the issue's order); a fault not listed there comes after, by name.
Faults run together under one name joined with ``+`` (``sigkill+broker_restart``).
"""

from __future__ import annotations

import importlib
import pkgutil

from frolic_chaos.fault import Fault, Together

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
    """The faults of ``names`` (all of them when empty), where ``a+b`` is faults ``a`` and
    ``b`` in one run (``Together``); an unknown name is a ValueError."""
    faults = available()
    unknown = [n for name in names for n in name.split("+") if n not in faults]
    if unknown:
        raise ValueError(f"unknown fault {', '.join(unknown)}; known: {', '.join(faults)}")
    chosen: list[Fault] = []
    for name in names:
        parts = [faults[n] for n in name.split("+")]
        chosen.append(parts[0] if len(parts) == 1 else Together(parts))
    return chosen or list(faults.values())
