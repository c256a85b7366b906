"""In-process micro-benchmarks: ``make_prediction`` (table) against the pipeline path; ``explain``.

Part of ``python -m bench.run``, whose results file holds their tables; run alone, it only prints them.
"""

from __future__ import annotations

import timeit
from collections.abc import Callable
from functools import partial
from typing import Any

from car_evaluation_model import explain, make_prediction, warm_up
from car_evaluation_model.config.core import config
from car_evaluation_model.domain import domain_of
from car_evaluation_model.explanation import ShapleyExplainer
from car_evaluation_model.prediction_table import PredictionTable
from car_evaluation_model.processing.data_manager import load_dataset, load_pipeline

SIZES = (1, 100, 1000, 100_000)
EXPLAIN_SIZES = (1, 1000)


def best_seconds(call: Callable[[], object], budget_seconds: float) -> float:
    """Best time of one call, repeating within a time budget (at least 3 runs)."""
    once = timeit.timeit(call, number=1)
    number = max(1, int(budget_seconds / 5 / max(once, 1e-7)))
    return min(timeit.repeat(call, number=number, repeat=5)) / number


def run(quick: bool) -> list[dict[str, Any]]:
    warm_up()
    records = load_dataset()[config.model.feature_names].to_dict(orient="records")
    pipeline, domain = load_pipeline(), domain_of(config.model)

    def pipeline_answers(rows: Any) -> Any:
        """What a request would cost without the table: the rows validated, then the pipeline run."""
        return pipeline.predict_proba(domain.frame(domain.locate(rows)))

    budget = 0.2 if quick else 1.0
    results = []
    for size in SIZES:
        rows: Any = (records * (size // len(records) + 1))[:size]
        table = best_seconds(partial(make_prediction, input_data=rows), budget)
        piped = best_seconds(partial(pipeline_answers, rows), budget)
        results.append({"rows": size, "make_prediction_s": table, "pipeline_s": piped})
    return results


def run_explain(quick: bool) -> dict[str, Any]:
    """Fitting the explainer (done once, by ``warm_up``), and ``explain`` per size."""
    warm_up()
    dataset = load_dataset()
    records: Any = dataset[config.model.feature_names].to_dict(orient="records")
    budget = 0.2 if quick else 1.0
    table = PredictionTable.from_pipeline(load_pipeline(), config.model)
    fit = best_seconds(lambda: ShapleyExplainer(table).fit(dataset), budget)
    explain_s = {
        size: best_seconds(partial(explain, input_data=(records * (size // len(records) + 1))[:size]), budget)
        for size in EXPLAIN_SIZES
    }
    return {"fit_s": fit, "explain_s": explain_s}


def report_explain(result: dict[str, Any]) -> str:
    """Markdown: the explainer's fit (once, at start-up) and ``explain`` per size."""
    lines = [
        "In process: `explain` (exact Shapley values and counterfactuals, computed when the explainer is fitted).",
        "",
        "| step | time |",
        "|---|--:|",
        f"| fit, once at start-up (`warm_up`) | {format_seconds(result['fit_s'])} |",
    ]
    for rows, seconds in result["explain_s"].items():
        lines.append(f"| explain {rows:,} row(s) | {format_seconds(seconds)} |")
    return "\n".join(lines)


def report(results: list[dict[str, Any]]) -> str:
    """Markdown: ``make_prediction`` (the compiled table) against the pipeline path, per size."""
    lines = [
        "In process: `make_prediction` (the compiled table) against validation, a DataFrame and the pipeline.",
        "",
        "| rows | make_prediction | pipeline | speed-up |",
        "|--:|--:|--:|--:|",
    ]
    for result in results:
        table, pipeline = result["make_prediction_s"], result["pipeline_s"]
        lines.append(
            f"| {result['rows']:,} | {format_seconds(table)} | {format_seconds(pipeline)} | {pipeline / table:.0f}x |"
        )
    return "\n".join(lines)


def format_seconds(seconds: float) -> str:
    if seconds < 1e-3:
        return f"{seconds * 1e6:.1f} us"
    if seconds < 1:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds:.2f} s"


if __name__ == "__main__":
    print(report(run(quick=False)))
    print(report_explain(run_explain(quick=False)))
