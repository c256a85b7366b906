"""The model diff as Markdown (for a pull request) and as one self-contained HTML page with charts."""

from __future__ import annotations

import html
import io
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only, never a window
import matplotlib.pyplot as plt
from matplotlib.figure import Figure

# Same input, same SVG bytes: no random ids, no date.
matplotlib.rcParams["svg.hashsalt"] = "model-diff"


def _headline(report: dict[str, Any]) -> str:
    return (
        f"{report['flips']} of {report['cars']} cars change class from {report['baseline_version']} "
        f"to {report['candidate_version']}"
    )


def _metric_rows(report: dict[str, Any]) -> list[list[str]]:
    rows = []
    for side in ("baseline", "candidate"):
        scores = report["metrics"][side]
        cv = scores["cross_validation"]
        rows.append(
            [
                f"{side} {report[f'{side}_version']}",
                f"{scores['accuracy']:.4f}",
                f"{scores['macro_f1']:.4f}",
                "-" if cv["accuracy"] is None else f"{cv['accuracy']:.4f}",
                "-" if cv["macro_f1"] is None else f"{cv['macro_f1']:.4f}",
            ]
        )
    return rows


METRIC_HEADER = ["model", "accuracy (data set)", "macro-F1 (data set)", "accuracy (CV)", "macro-F1 (CV)"]


def _transition_rows(report: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    classes = list(report["transitions"])
    header = ["baseline \\ candidate", *classes]
    return header, [[before, *(str(report["transitions"][before][after]) for after in classes)] for before in classes]


def _flip_rate_rows(report: dict[str, Any]) -> list[list[str]]:
    return [
        [feature, value, f"{counts['flips']} / {counts['cars']}", f"{counts['rate']:.1%}"]
        for feature, values in report["flips_by_feature_value"].items()
        for value, counts in values.items()
        if counts["flips"]
    ]


def _flipped_rows(report: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    features = list(report["flips_by_feature_value"])
    rows = [
        [*(flip["car"][name] for name in features), flip["baseline"], flip["candidate"]] for flip in report["flipped"]
    ]
    return [*features, "baseline", "candidate"], rows


def _where(report: dict[str, Any]) -> str:
    at = report["max_probability_change_at"]
    car = ", ".join(f"{name}={value}" for name, value in at["car"].items())
    return f"P({at['class']}) {at['baseline']:.4f} -> {at['candidate']:.4f} for {car}"


def _markdown_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines.extend("| " + " | ".join(row) + " |" for row in rows)
    return "\n".join(lines)


def markdown_report(report: dict[str, Any]) -> str:
    transition_header, transition_rows = _transition_rows(report)
    flipped_header, flipped_rows = _flipped_rows(report)
    flip_rates = _flip_rate_rows(report)
    parts = [
        f"# Model diff: {report['baseline_version']} -> {report['candidate_version']}",
        f"**{_headline(report)}.** Largest probability change: "
        f"{report['max_probability_change']:.4f} ({_where(report)}).",
        f"Digest: `{report['digest']}`",
        "## Accuracy and macro-F1",
        _markdown_table(METRIC_HEADER, _metric_rows(report)),
        "## Transitions (rows: baseline class, columns: candidate class)",
        _markdown_table(transition_header, transition_rows),
        "## Flips per feature value",
        _markdown_table(["feature", "value", "flips / cars", "rate"], flip_rates) if flip_rates else "No car flips.",
        "## Every flipped car",
        _markdown_table(flipped_header, flipped_rows) if flipped_rows else "No car flips.",
    ]
    return "\n\n".join(parts) + "\n"


def _svg(figure: Figure) -> str:
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None})
    plt.close(figure)
    svg = buffer.getvalue()
    return svg[svg.index("<svg") :]  # inline: without the XML declaration and doctype


def transition_heatmap(report: dict[str, Any]) -> str:
    classes = list(report["transitions"])
    counts = [[report["transitions"][before][after] for after in classes] for before in classes]
    figure, axes = plt.subplots(figsize=(4.8, 4))
    # Off the diagonal only: the unchanged cars (most of them) would wash out the flips' colours.
    flips = [[0 if row == column else count for column, count in enumerate(line)] for row, line in enumerate(counts)]
    darkest = max(1, *map(max, flips))
    image = axes.imshow(flips, cmap="Reds", vmin=0, vmax=darkest)
    for row, line in enumerate(counts):
        for column, count in enumerate(line):
            colour = "grey" if row == column else "white" if count > darkest / 2 else "black"  # readable on dark red
            axes.text(column, row, str(count), ha="center", va="center", color=colour)
    axes.set_xticks(range(len(classes)), classes)
    axes.set_yticks(range(len(classes)), classes)
    axes.set_xlabel(f"candidate {report['candidate_version']}")
    axes.set_ylabel(f"baseline {report['baseline_version']}")
    axes.set_title("Cars by class (colour: flips)")
    figure.colorbar(image, ax=axes, label="cars that flip")
    return _svg(figure)


def flip_rate_chart(report: dict[str, Any]) -> str:
    features = report["flips_by_feature_value"]
    figure, axes = plt.subplots(1, len(features), figsize=(2.2 * len(features), 2.8), sharey=True)
    for ax, (feature, values) in zip(axes, features.items(), strict=True):
        ax.bar(list(values), [counts["rate"] * 100 for counts in values.values()], color="tab:red")
        ax.set_title(feature)
        ax.tick_params(axis="x", labelrotation=45)
    axes[0].set_ylabel("% of cars with the value that flip")
    return _svg(figure)


def _html_table(header: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{html.escape(cell)}</th>" for cell in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(cell)}</td>" for cell in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


STYLE = (
    "body{font-family:sans-serif;max-width:70rem;margin:2rem auto;padding:0 1rem}"
    "table{border-collapse:collapse;margin:1rem 0}td,th{border:1px solid #ccc;padding:.2rem .5rem;text-align:right}"
    ".charts{display:flex;flex-wrap:wrap;gap:2rem;align-items:flex-start}"
)


def html_report(report: dict[str, Any]) -> str:
    transition_header, transition_rows = _transition_rows(report)
    flipped_header, flipped_rows = _flipped_rows(report)
    title = f"Model diff: {report['baseline_version']} -> {report['candidate_version']}"
    return "\n".join(
        [
            "<!doctype html>",
            f'<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>',
            f"<style>{STYLE}</style></head><body>",
            f"<h1>{html.escape(title)}</h1>",
            f"<p><strong>{html.escape(_headline(report))}.</strong> Largest probability change: "
            f"{report['max_probability_change']:.4f} ({html.escape(_where(report))}).</p>",
            f"<p>Digest: <code>{report['digest']}</code></p>",
            "<h2>Accuracy and macro-F1</h2>",
            _html_table(METRIC_HEADER, _metric_rows(report)),
            "<h2>Transitions and flips per feature value</h2>",
            f'<div class="charts"><figure id="transitions">{transition_heatmap(report)}</figure>',
            f'<figure id="flip-rates">{flip_rate_chart(report)}</figure></div>',
            _html_table(transition_header, transition_rows),
            f"<h2>Every flipped car ({report['flips']})</h2>",
            _html_table(flipped_header, flipped_rows) if flipped_rows else "<p>No car flips.</p>",
            "</body></html>",
        ]
    )
