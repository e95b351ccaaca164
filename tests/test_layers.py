"""The package layering holds: a package imports only from its own layer or below, and no
packages import each other in a cycle. From the top:

    4  the process: app, roles, serve, cli, and what only it mounts (admin's router,
       dashboard, monitoring, health, demo)
    3  roles: play, allocator, recorder, reveal
    2  domains: campaigns, brands, games, users, coupons, plays, fairness, reconcile,
       auth, sim
    1  the engine and infrastructure: engine, db, stack, playlog, topics, config, errors,
       resources, clock, periodic, metrics, redis_client, web, schemas
"""

from __future__ import annotations

import ast
from pathlib import Path

import frolic

LAYERS = {
    4: "app cli serve roles admin dashboard monitoring health demo __main__",
    3: "play allocator recorder reveal",
    2: "campaigns brands games users coupons plays fairness reconcile auth sim",
    1: "engine db stack playlog topics config errors resources clock periodic metrics "
    "redis_client web schemas __init__",
}
LAYER = {name: layer for layer, names in LAYERS.items() for name in names.split()}
ROOT = Path(frolic.__file__).parent


def imports() -> dict[str, dict[str, set[str]]]:
    """package -> package it imports -> the files that do."""
    edges: dict[str, dict[str, set[str]]] = {}
    for path in ROOT.rglob("*.py"):
        source = path.relative_to(ROOT).parts[0].removesuffix(".py")
        for node in ast.walk(ast.parse(path.read_text())):
            names: list[str] = []
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("frolic"):
                module = node.module or ""
                names = [f"frolic.{a.name}" for a in node.names] if module == "frolic" else [module]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names if a.name.startswith("frolic.")]
            for name in names:
                target = name.split(".")[1]
                if target != source:
                    edges.setdefault(source, {}).setdefault(target, set()).add(path.name)
    return edges


def test_every_package_has_a_layer() -> None:
    edges = imports()
    found = set(edges) | {t for targets in edges.values() for t in targets}
    assert found - set(LAYER) == set()


def test_no_package_imports_one_above_it() -> None:
    upward = [
        f"{source} ({LAYER[source]}) imports {target} ({LAYER[target]}) in {sorted(files)}"
        for source, targets in imports().items()
        for target, files in targets.items()
        if LAYER[target] > LAYER[source]
    ]
    assert upward == []


def test_no_import_cycle_between_packages() -> None:
    edges = {source: set(targets) for source, targets in imports().items()}

    def reaches(start: str, goal: str) -> bool:
        seen, todo = set(), [start]
        while todo:
            here = todo.pop()
            if here == goal:
                return True
            if here not in seen:
                seen.add(here)
                todo += edges.get(here, ())
        return False

    cycles = sorted(
        f"{a} <-> {b}" for a, targets in edges.items() for b in targets if a < b and reaches(b, a)
    )
    assert cycles == []
