"""Snapshot tests: the table, Markdown and JSON of a few fixed requirement sets on the fixture knowledge base
(tests/fixtures/kb_good, a catalog hardware profile, a fixed --as-of), pinned in tests/snapshots/. A change to any
output shows up here as a diff to review. To accept an intended change: UPDATE_SNAPSHOTS=1 python -m pytest
tests/test_snapshots.py, then read the diff before committing."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from conftest import FIXTURES

SNAP = Path(__file__).parent / "snapshots"
CASES = {
    "default": ("recommend", "--hardware", "toy-board-4gb", "--as-of", "2026-06-01"),
    "lang-context": ("recommend", "--hardware", "toy-board-4gb", "--lang", "sv", "--context", "4096",
                     "--as-of", "2026-06-01"),
    "too-fast": ("recommend", "--hardware", "toy-board-4gb", "--min-tps", "100", "--as-of", "2026-06-01"),
    "why-moe": ("why", "toy-moe-30b-a3b", "--hardware", "toy-board-4gb", "--as-of", "2026-06-01"),
}
FORMATS = ("table", "markdown", "json")


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("case", sorted(CASES))
def test_output_matches_its_snapshot(cli, case, fmt):
    env = {"ADVISOR_KNOWLEDGE": str(FIXTURES / "kb_good"), "ADVISOR_NO_CACHE": "1"}
    r = cli(*CASES[case], "--format", fmt, env=env)
    assert r.returncode in (0, 3), r.stderr
    path = SNAP / f"{case}.{ {'table': 'txt', 'markdown': 'md', 'json': 'json'}[fmt] }"
    if os.environ.get("UPDATE_SNAPSHOTS") == "1":
        path.write_text(r.stdout)
    assert path.exists(), f"no snapshot {path.name}: run with UPDATE_SNAPSHOTS=1 once and review it"
    assert r.stdout == path.read_text(), f"{path.name} changed; review and update with UPDATE_SNAPSHOTS=1"
