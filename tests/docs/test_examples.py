"""Every example of README.md and docs/ that shows its output prints exactly that (devtools/doc_examples.py).

One service, started as ``python -m app`` does, answers all of them; each example runs in a
scratch directory of its own holding a copy of docs/examples/.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from devtools import REPO_ROOT
from devtools.doc_examples import (
    Example,
    check,
    console_commands,
    copy_example_files,
    find_examples,
    runnable_examples,
    shortened_difference,
)
from devtools.programs import require_program, unavailable
from devtools.service import RunningServer, running_server

EXAMPLES = runnable_examples()


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with running_server(tmp_path_factory.mktemp("examples") / "service.log") as server:
        yield server


@pytest.mark.parametrize("example", EXAMPLES, ids=str)
def test_the_example_prints_what_the_page_shows(example: Example, service: RunningServer, tmp_path: Path) -> None:
    if example.not_run:
        pytest.skip(f"{example}: not run: {example.not_run}")
    if "pyspark" in example.text and shutil.which("java") is None:
        unavailable("the Spark example needs Java: install it with `apt-get install -y openjdk-17-jre-headless`")
    if "curl " in example.text:
        require_program("curl", "curl")
    copy_example_files(tmp_path)
    problem = check(example, workdir=tmp_path, address=service.base_url.removeprefix("http://"))
    assert not problem, f"{example} does not print what the page shows:\n{problem}"


def test_every_page_has_examples_that_run() -> None:
    """The convention is used: a page of examples whose language was mistyped would run none."""
    assert {example.path.name for example in EXAMPLES} >= {
        "README.md",
        "getting-started.md",
        "rest-api.md",
        "batch.md",
        "open-inference-protocol.md",
    }
    assert all(example.text.strip() for example in EXAMPLES)


def test_an_output_line_that_differs_fails(service: RunningServer, tmp_path: Path) -> None:
    [health] = [example for example in find_examples(REPO_ROOT / "docs" / "rest-api.md") if "/health" in example.text]
    altered = Example(**{**vars(health), "text": health.text.replace("0.1.0", "0.1.1")})
    problem = check(altered, workdir=tmp_path, address=service.base_url.removeprefix("http://"))
    assert '-{"name":"Car Evaluation API","api_version":"0.1.1"' in problem


def test_a_command_goes_on_while_a_quote_is_open_or_a_line_ends_with_a_backslash() -> None:
    session = '$ curl -d \'{\n  "a": 1\n}\' \\\n  -s url\n{"ok":true}\n$ echo done\ndone'
    first, second = console_commands(session)
    assert first.source == "curl -d '{\n  \"a\": 1\n}' \\\n  -s url"
    assert first.shown_output == ['{"ok":true}']
    assert (second.source, second.shown_output) == ("echo done", ["done"])


@pytest.mark.parametrize(
    ("shown", "agrees"),
    [
        ('{"a": 0.1235, "b": [1, "..."], "...": {}}', True),
        ('{"a": 0.1234, "b": [1, "..."], "...": {}}', False),  # rounded wrongly
        ('{"a": 0.1235, "b": [1]}', False),  # entries left out without "..."
        ('{"a": 0.1235, "b": [2, "..."], "...": {}}', False),
    ],
)
def test_a_shortened_output_must_be_a_shortening_of_the_real_one(shown: str, agrees: bool) -> None:
    printed = '{"a": 0.123456, "b": [1, 2, 3], "c": "x"}'
    difference = shortened_difference(f"$ cmd\n{shown}", f"$ cmd\n{printed}")
    assert (difference == "") is agrees
