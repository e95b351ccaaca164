"""Run ``frolic bench ...`` as a command on the session's servers, as a user would."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, NamedTuple

from frolic.stack import Endpoints


class Ran(NamedTuple):
    result: dict[str, Any]  # the one JSON line on stdout
    stderr: str  # the progress


def bench(endpoints: Endpoints, state: Path, *args: str) -> Ran:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("FROLIC_")},
        "FROLIC_DATABASE_URL": endpoints.database_url,
        "FROLIC_REDIS_URL": endpoints.redis_url,
        "FROLIC_KAFKA_BOOTSTRAP": endpoints.kafka_bootstrap,
        "FROLIC_STATE_DIR": str(state),
    }
    argv = [sys.executable, "-m", "frolic.cli", "bench", *args, "--json"]
    out = subprocess.run(argv, env=env, capture_output=True, text=True, check=True, timeout=300)
    lines = out.stdout.strip().splitlines()
    assert len(lines) == 1, out.stdout  # one JSON line, progress on stderr
    return Ran(json.loads(lines[0]), out.stderr)
