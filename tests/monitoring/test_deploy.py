"""``deploy/``: the scrape config, alert rules and Grafana dashboard parse, and every metric
they query is one a running Frolic serves (checked against a real scrape after plays)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml  # type: ignore[import-untyped]
from prometheus_client.parser import text_string_to_metric_families

from tests.monitoring.conftest import Played

DEPLOY = Path(__file__).parents[2] / "deploy"
OUR_METRIC = re.compile(r"\b(?:frolic|process)_[a-z0-9_]+\b")


def alert_rules() -> list[dict[str, Any]]:
    rules = yaml.safe_load((DEPLOY / "alerts.yml").read_text())
    return [rule for group in rules["groups"] for rule in group["rules"]]


def dashboard_queries() -> list[str]:
    dashboard = json.loads((DEPLOY / "grafana" / "frolic.json").read_text())
    return [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]


def served(exposition: str) -> tuple[set[str], set[str]]:
    """The scrape's family names and sample names (``_total``, ``_bucket`` ... included)."""
    families = list(text_string_to_metric_families(exposition))
    return {f.name for f in families}, {s.name for f in families for s in f.samples}


def test_the_files_parse() -> None:
    config = yaml.safe_load((DEPLOY / "prometheus.yml").read_text())
    assert config["scrape_configs"][0]["metrics_path"] == "/metrics"
    assert config["rule_files"] == ["alerts.yml"]
    rules = alert_rules()
    assert len(rules) >= 10
    for rule in rules:
        assert {"alert", "expr", "labels", "annotations"} <= rule.keys(), rule.get("alert")
    assert len(dashboard_queries()) >= 14


def test_every_queried_metric_is_served(played: Played) -> None:
    _, samples = served(played.exposition)
    queried = {name for r in alert_rules() for name in OUR_METRIC.findall(r["expr"])}
    queried |= {name for expr in dashboard_queries() for name in OUR_METRIC.findall(expr)}
    assert len(queried) >= 15
    assert queried <= samples, f"not served: {sorted(queried - samples)}"


def test_the_dashboard_shows_every_frolic_metric(played: Played) -> None:
    families, _ = served(played.exposition)
    ours = {name for name in families if name.startswith("frolic_")}
    shown = " ".join(dashboard_queries())
    missing = [name for name in sorted(ours) if name not in shown]
    assert not missing, f"no panel for {missing}"


@pytest.mark.skipif(
    shutil.which("promtool") is None,
    reason="promtool is not on PATH (no pip package ships it; Debian's `prometheus` does)",
)
def test_promtool_accepts_the_rules_and_the_config() -> None:
    for args in (["check", "rules", "alerts.yml"], ["check", "config", "prometheus.yml"]):
        done = subprocess.run(["promtool", *args], cwd=DEPLOY, capture_output=True, text=True)
        assert done.returncode == 0, done.stdout + done.stderr
