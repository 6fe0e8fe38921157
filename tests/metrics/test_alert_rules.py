"""The alert rules an operator loads: valid for Prometheus, firing when their unit tests say, documented."""

from __future__ import annotations

import re
from pathlib import Path

from tests.support.metrics import promtool

REPO_ROOT = Path(__file__).resolve().parents[2]
RULES = REPO_ROOT / "deploy" / "prometheus"


def test_the_alert_rules_pass_promtools_check() -> None:
    checked = promtool("check", "rules", str(RULES / "alerts.yml"))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SUCCESS: 5 rules found" in checked.stdout


def test_the_alerts_fire_when_and_only_when_their_unit_tests_say() -> None:
    tested = promtool("test", "rules", str(RULES / "alerts_test.yml"))
    assert tested.returncode == 0, tested.stdout + tested.stderr


def test_the_example_scrape_configuration_loads_with_the_alert_rules() -> None:
    checked = promtool("check", "config", str(RULES / "prometheus.yml"))
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_every_alert_has_unit_tests_and_every_metric_it_reads_is_documented() -> None:
    rules = (RULES / "alerts.yml").read_text()
    tests = (RULES / "alerts_test.yml").read_text()
    page = (REPO_ROOT / "docs" / "METRICS.md").read_text()
    alerts = re.findall(r"- alert: (\w+)", rules)
    assert alerts and [name for name in alerts if f"alertname: {name}" not in tests] == []
    metrics = set(re.findall(r"\b(media_[a-z_]+)", rules))
    assert metrics and sorted(name for name in metrics if f"`{name}`" not in page) == []
