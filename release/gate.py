"""The release gate: may this diff against the pinned model be published?

A candidate is refused when its accuracy or macro-F1 on the data set is lower than the
baseline's by more than ``margin``, approved or not; and when any car flips, unless
``approvals/<candidate version>.json`` holds this very diff's digest (``release.diff --approve``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from release.diff import approval_path, changed_pairs

DEFAULT_MARGIN = 0.01
METRICS = {"accuracy": "accuracy", "macro_f1": "macro-F1"}


def refusals(report: dict[str, Any], approvals: Path, margin: float = DEFAULT_MARGIN) -> list[str]:
    """Why the candidate may not be published (nothing: it may)."""
    found = []
    baseline, candidate = report["metrics"]["baseline"], report["metrics"]["candidate"]
    for key, name in METRICS.items():
        if candidate[key] < baseline[key] - margin:
            found.append(
                f"{name} on the data set drops from {baseline[key]:.4f} to {candidate[key]:.4f}, "
                f"more than the margin of {margin} (no approval overrides this)"
            )
    if report["flips"]:
        found.extend(approval_refusals(report, approval_path(approvals, report["candidate_version"])))
    return found


def approval_refusals(report: dict[str, Any], path: Path) -> list[str]:
    what = (
        f"{report['flips']} of {report['cars']} cars change class from {report['baseline_version']} "
        f"to {report['candidate_version']} ({changed_pairs(report)})"
    )
    how = (
        "review reports/model-diff.md (or .html), then approve this diff with "
        "`python -m release.diff --approve` and commit " + str(path)
    )
    if not path.is_file():
        return [f"{what}, and no approval: {how}"]
    approved = json.loads(path.read_text(encoding="utf-8"))
    if approved.get("digest") == report["digest"]:
        return []
    approved_pairs = ", ".join(f"{pair}: {count}" for pair, count in approved.get("transitions", {}).items())
    return [
        f"{what}, but the approval in {path} is for another diff ({approved.get('flips')} flips from "
        f"{approved.get('baseline_version')}: {approved_pairs or 'none'}; "
        f"digest {str(approved.get('digest'))[:12]}..., this diff's is {report['digest'][:12]}...): {how}"
    ]
