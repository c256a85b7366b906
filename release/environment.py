"""An environment for pip that uses only the indexes we name.

A machine's pip configuration (a global pip.conf, PIP_FIND_LINKS, PIP_EXTRA_INDEX_URL) would
otherwise add packages sources of its own, and a release or a deploy check must not depend
on them.
"""

from __future__ import annotations

import os

PIP_SETTINGS_TO_DROP = ("PIP_FIND_LINKS", "PIP_EXTRA_INDEX_URL", "PIP_INDEX_URL", "PIP_NO_INDEX", "PIP_CONSTRAINT")


def isolated_pip_env(**overrides: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key not in PIP_SETTINGS_TO_DROP}
    env["PIP_CONFIG_FILE"] = os.devnull
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    env.update(overrides)
    return env
