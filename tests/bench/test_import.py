"""A smoke run of the import benchmark's contract; its figures are not checked here."""

from __future__ import annotations

from pathlib import Path

from frolic.stack import Endpoints
from frolic_bench.importer import codes_file
from tests.bench.run import bench


def test_bench_import_prints_its_json_line(endpoints: Endpoints, tmp_path: Path) -> None:
    result, stderr = bench(
        endpoints, tmp_path, "import", "--codes", "2500", "--per-request", "1000"
    )
    assert result["codes"] == result["imported"] == 2500
    assert result["duplicates"] == result["rejected"] == 0
    assert result["requests"] == 3
    assert result["codes_per_s"] > 0
    assert result["seconds"] > 0
    assert "request 3/3: stored 500 codes" in stderr  # the progress, on stderr


def test_a_runs_codes_are_its_own() -> None:
    one, two = codes_file(7, "a", 0, 3), codes_file(7, "b", 3, 2)
    assert one.decode().splitlines() == [
        "brand_id,code", "7,a-0000000000", "7,a-0000000001", "7,a-0000000002",
    ]  # fmt: skip
    assert two.decode().splitlines()[1:] == ["7,b-0000000003", "7,b-0000000004"]
