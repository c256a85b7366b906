"""MkDocs hooks (mkdocs.yml ``hooks:``): the configuration page checked against ``app.config.Settings``.

The page's table is written by hand, for its prose; the build fails when it names a setting
that does not exist, leaves one out, or shows a default the code does not have. So the page
cannot drift from the code without ``mkdocs build`` (and the test suite) failing.
"""

from __future__ import annotations

import re
from typing import Any

from mkdocs.exceptions import PluginError
from mkdocs.structure.pages import Page

from app.config import Settings

CONFIGURATION_PAGE = "configuration.md"
SETTING_ROW = re.compile(r"^\| `(?P<name>[A-Z][A-Z0-9_]*)` \| (?P<default>[^|]*?) \|", re.MULTILINE)


def shown_default(value: Any) -> str:
    """A default as the page writes it: as it would be set in the environment, or "none"."""
    if value in ([], None):
        return "none"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, float) and value.is_integer():
        return f"`{int(value)}`"
    return f"`{value}`"


def settings_table_problems(markdown: str) -> list[str]:
    documented = {row["name"]: row["default"] for row in SETTING_ROW.finditer(markdown)}
    problems = [f"{name} is not a setting of app.config.Settings" for name in documented.keys() - Settings.model_fields]
    for name, field in Settings.model_fields.items():
        if name not in documented:
            problems.append(f"{name} is not documented")
        elif documented[name] != (default := shown_default(field.get_default(call_default_factory=True))):
            problems.append(f"{name}: the page says {documented[name]}, the default is {default}")
    return problems


def on_page_markdown(markdown: str, page: Page, **_: Any) -> str:
    if page.file.src_uri == CONFIGURATION_PAGE and (problems := settings_table_problems(markdown)):
        raise PluginError(f"{CONFIGURATION_PAGE} disagrees with app/config.py: " + "; ".join(sorted(problems)))
    return markdown
