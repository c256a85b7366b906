"""Each performance figure once, with its provenance: from a benchmark's results file, never typed in prose.

The pages include ``bench/results/<name>.md`` (``--8<--``), which the benchmarks write with
the date, command and machine; a measured figure in the prose of README.md or docs/ would be
a second copy, and would go stale.
"""

from __future__ import annotations

import re
from pathlib import Path

from bench.results import RESULTS_DIR
from devtools.doc_examples import DOCUMENTED_FILES

# Throughput, memory and sub-millisecond times, what the benchmarks measure ("9,000 one-row
# requests/s", "700k rows/s", "210 MB").
MEASURED_FIGURE = re.compile(r"\d[\d,.]*\s?k?(?:\s+[\w-]+){0,2}?\s*(?:req/s|requests/s|rows/s|MB|MiB|GB|µs)(?!\w)")
INCLUDE = re.compile(r'^\s*--8<-- "(?P<path>[^"]+)"\s*$')


def prose(path: Path) -> list[tuple[int, str]]:
    """The lines outside fenced blocks, includes and code spans, numbered from 1."""
    lines, fenced = [], False
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if line.strip().startswith("```"):
            fenced = not fenced
        elif not fenced and not INCLUDE.match(line):
            lines.append((number, re.sub(r"`[^`]*`", "", line)))
    return lines


def test_no_measured_figure_is_typed_into_the_prose() -> None:
    typed = [
        f"{path.name}:{number}: {figure.group(0)}"
        for path in DOCUMENTED_FILES
        for number, line in prose(path)
        for figure in MEASURED_FIGURE.finditer(line)
    ]
    assert typed == [], "include the benchmark's results file instead"


def test_each_results_file_is_included_exactly_once() -> None:
    included = [
        match["path"]
        for path in DOCUMENTED_FILES
        for line in path.read_text(encoding="utf-8").splitlines()
        if (match := INCLUDE.match(line)) and match["path"].startswith("bench/results/")
    ]
    results = sorted(f"bench/results/{path.name}" for path in RESULTS_DIR.glob("*.md"))
    assert sorted(included) == results
