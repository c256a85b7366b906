"""The examples of README.md and docs/ that show their output: found, run, and compared.

How a page marks its examples (docs/maintainers/docs.md says the same for writers):

- A ```` ```console ```` block is a shell session. ``$ `` starts a command, which goes on over
  the next lines while a quote is open or a line ends with ``\\``; the lines after it, up to
  the next ``$ ``, are what it prints (stdout and stderr together, as a terminal shows them).
  Each command runs in a shell of its own (a ``cd`` or an ``export`` lasts for that command).
- A ```` ```pycon ```` block is a Python session: ``>>> `` and ``... `` lines are run in a
  fresh interpreter, an expression's value is printed as the REPL prints it, and the other
  lines are what it prints.
- ``<!-- not run: REASON -->`` on the line before a block: shown but not run (it needs a
  Heroku account, a registry...); the test reports it as skipped with REASON.
- ``<!-- shortened -->`` on the line before a block: its output is JSON with entries left out
  (``"..."`` as a key, or as the last element of a list) and numbers rounded to the digits
  shown.
- Blocks in any other language (``sh``, ``python``, ``json``...) show no output and are not run.

Commands run in a scratch directory holding a copy of docs/examples/, with the service at
``127.0.0.1:8001`` in the text and on a free port in fact. What differs on every run is
normalised on both sides before comparing, by ``VOLATILE`` alone: a rate in rows/s and a
duration in seconds (``2,106 rows/s (0.82 s)``) and a request id.

``python -m devtools.doc_examples update [FILE ...]`` runs the examples against a fresh
service and writes what they print into the pages (all but the shortened blocks, which are
edited by hand).
"""

from __future__ import annotations

import argparse
import difflib
import doctest
import io
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import traceback
from contextlib import redirect_stdout
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from devtools import REPO_ROOT
from devtools.service import running_server

DOCUMENTED_FILES = (REPO_ROOT / "README.md", *sorted((REPO_ROOT / "docs").rglob("*.md")))
EXAMPLE_FILES = REPO_ROOT / "docs" / "examples"
SHOWN_ADDRESS = "127.0.0.1:8001"
RUN_LANGUAGES = ("console", "pycon")
COMMAND_TIMEOUT_SECONDS = 300

FENCE = re.compile(r"^(?P<indent>[ \t]*)```(?P<language>[\w-]*)[^\n]*$")
NOT_RUN = re.compile(r"<!--\s*not run:\s*(?P<reason>.+?)\s*-->")
SHORTENED = re.compile(r"<!--\s*shortened\s*-->")
VOLATILE = (
    (re.compile(r"\d[\d,]*(?:\.\d+)? rows/s"), "<rate> rows/s"),
    (re.compile(r"\(\d+(?:\.\d+)? s\)"), "(<duration> s)"),
    (re.compile(r"(?im)^(x-request-id: ).+$"), r"\1<request id>"),
)
ELIDED = "..."


@dataclass(frozen=True)
class Example:
    """A fenced block of a page: where it is, its language and text, and how it is marked."""

    path: Path
    line: int  # of the opening fence, from 1
    language: str
    text: str  # dedented, without the fences
    indent: str
    not_run: str | None
    shortened: bool

    def __str__(self) -> str:
        return f"{self.path.relative_to(REPO_ROOT)}:{self.line}"

    @property
    def runs(self) -> bool:
        return self.language in RUN_LANGUAGES


def find_examples(path: Path) -> list[Example]:
    """Every fenced block of ``path``; ``Example.runs`` tells which show output."""
    lines = path.read_text(encoding="utf-8").splitlines()
    examples = []
    index = 0
    while index < len(lines):
        opening = FENCE.match(lines[index])
        if not opening:
            index += 1
            continue
        indent, start = opening["indent"], index
        index += 1
        while index < len(lines) and lines[index].strip() != "```":
            index += 1
        before = lines[start - 1] if start else ""
        not_run = NOT_RUN.search(before)
        examples.append(
            Example(
                path=path,
                line=start + 1,
                language=opening["language"],
                text="\n".join(line.removeprefix(indent) for line in lines[start + 1 : index]),
                indent=indent,
                not_run=not_run["reason"] if not_run else None,
                shortened=bool(SHORTENED.search(before)),
            )
        )
        index += 1
    return examples


def runnable_examples() -> list[Example]:
    return [example for path in DOCUMENTED_FILES for example in find_examples(path) if example.runs]


# --- console blocks


@dataclass
class Command:
    source: str
    shown_output: list[str]

    @property
    def complete(self) -> bool:
        if self.source.endswith("\\"):
            return False
        try:
            shlex.split(self.source, comments=True)
        except ValueError:  # a quote still open: the command goes on
            return False
        return True


def console_commands(text: str) -> list[Command]:
    commands: list[Command] = []
    for line in text.splitlines():
        if commands and not commands[-1].complete:
            commands[-1].source += "\n" + line
        elif line.startswith("$ "):
            commands.append(Command(line.removeprefix("$ "), []))
        elif commands:
            commands[-1].shown_output.append(line)
        else:
            raise ValueError(f"output before the first command: {line!r}")
    return commands


def run_console(text: str, *, workdir: Path, address: str) -> str:
    """The session as it runs now: each command, then what it printed."""
    transcript = []
    for command in console_commands(text):
        result = subprocess.run(
            ["bash", "-c", command.source.replace(SHOWN_ADDRESS, address)],
            check=False,  # a failing command's status is part of what the page shows
            cwd=workdir,
            env=example_environment(),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=COMMAND_TIMEOUT_SECONDS,
        )
        transcript += [f"$ {command.source}", result.stdout.replace(address, SHOWN_ADDRESS).rstrip("\n")]
    return "\n".join(part for part in transcript if part)


def example_environment() -> dict[str, str]:
    """This interpreter's scripts first on the PATH (``python``, ``car-evaluation-model``); Spark local.

    The repository is on the path, as in a clone's root, so that ``python -m release.seed`` runs
    while the files an example writes stay in its scratch directory.
    """
    scripts = str(Path(sys.executable).parent)
    return {
        **os.environ,
        "PATH": f"{scripts}{os.pathsep}{os.environ.get('PATH', '')}",
        "PYTHONPATH": str(REPO_ROOT),
        "PYSPARK_PYTHON": sys.executable,
        "SPARK_LOCAL_IP": "127.0.0.1",
    }


# --- pycon blocks


def run_pycon(text: str, *, workdir: Path, address: str) -> tuple[str, str]:
    """The session as it runs now in a fresh interpreter (``repl`` below), and its stderr."""
    result = subprocess.run(
        [sys.executable, "-m", "devtools.doc_examples", "repl"],
        check=False,  # a failure shows as its traceback in the session
        input=text.replace(SHOWN_ADDRESS, address),
        cwd=workdir,
        env=example_environment(),
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT_SECONDS,
    )
    return result.stdout.replace(address, SHOWN_ADDRESS).rstrip("\n"), result.stderr


def repl(text: str) -> str:
    """Run the ``>>>`` statements of ``text`` in one namespace, as the interactive interpreter would."""
    namespace: dict[str, Any] = {"__name__": "__main__"}
    transcript = []
    for example in doctest.DocTestParser().get_examples(text):
        source = example.source.rstrip("\n")
        first, *rest = source.split("\n")
        transcript += [f">>> {first}", *(f"... {line}".rstrip() for line in rest)]
        printed = io.StringIO()
        with redirect_stdout(printed):
            try:
                exec(compile(source + "\n", "<example>", "single"), namespace)
            except Exception:
                traceback.print_exc(file=sys.stdout)
        if printed.getvalue():
            transcript.append(printed.getvalue().rstrip("\n"))
    return "\n".join(transcript)


# --- comparing


def normalised(text: str) -> str:
    for pattern, replacement in VOLATILE:
        text = pattern.sub(replacement, text)
    return "\n".join(line.rstrip() for line in text.strip("\n").splitlines())


def difference(shown: str, actual: str) -> str:
    """A unified diff of the block as shown against what it prints now; empty when they agree."""
    lines = difflib.unified_diff(
        normalised(shown).splitlines(), normalised(actual).splitlines(), "shown", "printed", lineterm=""
    )
    return "\n".join(lines)


def shortened_matches(shown: Any, actual: Any) -> bool:
    """``shown`` (JSON parsed with ``Decimal`` numbers) is ``actual`` with entries left out and numbers rounded."""
    if isinstance(shown, dict):
        if not isinstance(actual, dict):
            return False
        keys = shown.keys() - {ELIDED}
        complete = ELIDED not in shown
        return (keys <= actual.keys() and (not complete or keys == actual.keys())) and all(
            shortened_matches(shown[key], actual[key]) for key in keys
        )
    if isinstance(shown, list):
        if not isinstance(actual, list):
            return False
        elided = bool(shown) and shown[-1] == ELIDED
        kept = shown[:-1] if elided else shown
        length_ok = len(kept) <= len(actual) if elided else len(kept) == len(actual)
        return length_ok and all(shortened_matches(a, b) for a, b in zip(kept, actual, strict=False))
    if isinstance(shown, Decimal) and isinstance(actual, float):
        exponent = shown.as_tuple().exponent
        assert isinstance(exponent, int)
        return Decimal(repr(actual)).quantize(Decimal(1).scaleb(exponent)) == shown
    return bool(shown == actual and type(shown) is type(actual))


def shortened_difference(shown: str, actual: str) -> str:
    """For a ``<!-- shortened -->`` console block of one command that prints JSON."""
    [shown_command] = console_commands(shown)
    [actual_command] = console_commands(actual)
    if shown_command.source != actual_command.source:
        return f"the command differs: {shown_command.source!r}"
    printed = "\n".join(actual_command.shown_output)
    shown_json = json.loads("\n".join(shown_command.shown_output), parse_float=Decimal)
    if shortened_matches(shown_json, json.loads(printed)):
        return ""
    return f"the shortened output is not a shortening of what it prints:\n{printed}"


# --- running one example, and the update command


def copy_example_files(workdir: Path) -> None:
    for source in EXAMPLE_FILES.iterdir():
        shutil.copy(source, workdir / source.name)


def run(example: Example, *, workdir: Path, address: str) -> tuple[str, str]:
    """What the example prints now, as a block of its language; and any stderr worth showing."""
    if example.language == "console":
        return run_console(example.text, workdir=workdir, address=address), ""
    return run_pycon(example.text, workdir=workdir, address=address)


def check(example: Example, *, workdir: Path, address: str) -> str:
    """Run ``example``: empty when it prints what it shows, else what differs."""
    actual, stderr = run(example, workdir=workdir, address=address)
    problem = shortened_difference(example.text, actual) if example.shortened else difference(example.text, actual)
    return f"{problem}\n{stderr}".strip() if problem else ""


def update(paths: list[Path]) -> None:
    """Write what each runnable, unshortened example of ``paths`` prints into its page."""
    with tempfile.TemporaryDirectory() as scratch, running_server(Path(scratch) / "service.log") as server:
        address = server.base_url.removeprefix("http://")
        for path in paths:
            page = path.read_text(encoding="utf-8")
            for example in reversed(find_examples(path)):
                if not example.runs or example.not_run or example.shortened:
                    continue
                with tempfile.TemporaryDirectory() as workdir:
                    copy_example_files(Path(workdir))
                    actual, _ = run(example, workdir=Path(workdir), address=address)
                if actual != example.text:
                    page = replace_block(page, example, actual)
                    print(f"updated {example}")
            path.write_text(page, encoding="utf-8")


def replace_block(page: str, example: Example, text: str) -> str:
    lines = page.split("\n")
    start = example.line  # the first line inside the fences
    end = start + len(example.text.split("\n"))
    indented = [f"{example.indent}{line}" if line else line for line in text.split("\n")]
    return "\n".join([*lines[:start], *indented, *lines[end:]])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("repl", help="run a pycon block read from stdin; print the session")
    updating = commands.add_parser("update", help="write what the examples print into the pages")
    updating.add_argument("files", nargs="*", type=Path, default=list(DOCUMENTED_FILES))
    arguments = parser.parse_args(argv)
    if arguments.command == "repl":
        print(repl(sys.stdin.read()))
    else:
        update([path.resolve() for path in arguments.files])


if __name__ == "__main__":
    main()
