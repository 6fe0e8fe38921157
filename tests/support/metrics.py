"""Reading a process's /metrics as Prometheus would, and checking it with promtool."""

from __future__ import annotations

import shutil
import subprocess
import urllib.request
from dataclasses import dataclass

from prometheus_client.parser import text_string_to_metric_families


@dataclass(frozen=True)
class Scrape:
    """One scrape: the text served, and each sample's value by name and labels."""

    text: str

    def families(self) -> set[str]:
        return {family.name for family in text_string_to_metric_families(self.text)}

    def value(self, sample: str, **labels: str) -> float:
        """The sample with exactly these labels; 0 when the series is not there (yet)."""
        for family in text_string_to_metric_families(self.text):
            for found in family.samples:
                if found.name == sample and found.labels == labels:
                    return float(found.value)
        return 0.0


def scrape(url: str) -> Scrape:
    with urllib.request.urlopen(url, timeout=10) as reply:
        assert reply.status == 200
        return Scrape(reply.read().decode())


def promtool(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run promtool (Debian's prometheus package; scripts/bootstrap.sh installs it)."""
    binary = shutil.which("promtool")
    assert binary, "promtool is missing: run make system-deps (it installs the prometheus package)"
    return subprocess.run([binary, *args], input=stdin, capture_output=True, text=True, timeout=60, check=False)
