"""Live performance equals scikit-learn's on an export of the same rows, with late, duplicated and corrected labels."""

from __future__ import annotations

import random
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import accuracy_score, confusion_matrix, precision_recall_fscore_support

from app.ledger.cars import CLASSES
from car_evaluation_model import __version__
from devtools.ledger_batches import answered
from tests.ledger.conftest import OpenLedger

CANARY = "0.7.0-canary"


def probability_columns() -> list[str]:
    return [f"probability_{label}" for label in CLASSES]


def expected(frame: pd.DataFrame) -> dict[str, Any]:
    """What scikit-learn says of one version's exported rows."""
    labelled = frame[frame["label"].notna()]
    truth, predicted = labelled["label"].tolist(), labelled["prediction"].tolist()
    precision, recall, f1, support = precision_recall_fscore_support(
        truth, predicted, labels=list(CLASSES), zero_division=0
    )
    probabilities = frame[probability_columns()].to_numpy()
    chosen = probabilities[np.arange(len(frame)), [CLASSES.index(label) for label in frame["prediction"]]]
    one_hot = np.eye(len(CLASSES))[[CLASSES.index(label) for label in truth]]
    return {
        "predictions": len(frame),
        "labelled": len(labelled),
        "accuracy": accuracy_score(truth, predicted),
        "confusion_matrix": confusion_matrix(truth, predicted, labels=list(CLASSES)).tolist(),
        "estimated_accuracy": chosen.mean(),
        "brier": np.mean(np.sum((labelled[probability_columns()].to_numpy() - one_hot) ** 2, axis=1)),
        "per_class": {
            label: {"precision": p, "recall": r, "f1": f, "support": int(s)}
            for label, p, r, f, s in zip(CLASSES, precision, recall, f1, support, strict=True)
        },
    }


def assert_matches(version: dict[str, Any], frame: pd.DataFrame) -> None:
    want = expected(frame)
    assert version["labels"] == list(CLASSES)
    for key in ("predictions", "labelled", "confusion_matrix"):
        assert version[key] == want[key], key
    assert version["accuracy"] == want["accuracy"]
    assert version["estimated_accuracy"] == pytest.approx(want["estimated_accuracy"], rel=1e-12)
    assert version["brier"] == pytest.approx(want["brier"], rel=1e-9)
    for label in CLASSES:
        for score in ("precision", "recall", "f1"):
            assert version["per_class"][label][score] == pytest.approx(want["per_class"][label][score], rel=1e-12)
        assert version["per_class"][label]["support"] == want["per_class"][label]["support"]


def test_performance_equals_scikit_learn_on_the_export(
    ledger_url: str | None, open_ledger: OpenLedger, tmp_path: Path
) -> None:
    ledger = open_ledger(ledger_url)
    generator = random.Random(27)
    batches = []
    for index in range(60):
        size = generator.choice([1, 3, 40])
        positions = [generator.randrange(1728) for _ in range(size)]
        version = CANARY if index % 3 == 0 else __version__
        route = "/v2/models/{model_name}/infer" if index % 4 == 0 else "/api/v1/predict"
        batches.append(
            answered(f"{index:032x}" if index % 2 else f"client-{index}", positions, version=version, route=route)
        )
    # Labels for some rows of the first half, sent before their predictions are recorded (late joins),
    early = [
        {"request_id": b.request_id, "row": row, "label": generator.choice(CLASSES)}
        for b in batches[:30]
        for row in b.rows[:2]
    ]
    assert ledger.add_labels(early) == [None] * len(early)
    for batch in batches:
        ledger.record(batch)
    assert ledger.drain(30)
    # then more labels, duplicates of earlier ones, and corrections: the latest wins.
    later = [
        {"request_id": b.request_id, "row": row, "label": generator.choice(CLASSES)}
        for b in batches[20:]
        for row in b.rows[:3]
    ]
    duplicates = later[:10]
    assert ledger.add_labels(later + duplicates) == [None] * (len(later) + len(duplicates))

    out = tmp_path / "ledger.parquet"
    assert ledger.export(out) == sum(len(b.rows) for b in batches)
    frame = pd.read_parquet(out)
    # The export joins the latest label of each row.
    latest: dict[tuple[object, object], object] = {}
    for label in early + later + duplicates:
        latest[(label["request_id"], label["row"])] = label["label"]
    joined = {
        (r, w): lab
        for r, w, lab in zip(frame["request_id"], frame["row"], frame["label"], strict=True)
        if isinstance(lab, str)
    }
    assert joined == latest

    versions = ledger.performance()
    assert [v["model_version"] for v in versions] == sorted(set(frame["model_version"]))
    for performance in versions:
        assert_matches(performance, frame[frame["model_version"] == performance["model_version"]])

    (canary,) = ledger.performance(model_version=CANARY, route="/api/v1/predict")
    selected = frame[(frame["model_version"] == CANARY) & (frame["route"] == "/api/v1/predict")]
    assert_matches(canary, selected)


def test_time_filters(ledger_url: str | None, open_ledger: OpenLedger, tmp_path: Path) -> None:
    ledger = open_ledger(ledger_url)
    day = 86_400
    now = time.time()
    ledger.record(answered("old", [1, 2, 3], at=now - 2 * day))
    ledger.record(answered("new", [4, 5], at=now))
    assert ledger.drain(30)
    since = datetime.fromtimestamp(now - day, UTC)

    (version,) = ledger.performance(since=since)
    assert version["predictions"] == 2
    (version,) = ledger.performance(until=since)
    assert version["predictions"] == 3
    assert ledger.performance(model_version="no-such-version") == []

    assert ledger.export(tmp_path / "old.parquet", until=since) == 3
    assert set(pd.read_parquet(tmp_path / "old.parquet")["request_id"]) == {"old"}


def test_a_time_without_a_zone_is_utc_whatever_the_local_zone(
    ledger_url: str | None, open_ledger: OpenLedger, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TZ", "Pacific/Kiritimati")  # UTC+14: a naive time read as local would miss the rows
    time.tzset()
    try:
        ledger = open_ledger(ledger_url)
        now = time.time()
        ledger.record(answered("in", [1, 2], at=now - 3_600))
        ledger.record(answered("out", [3], at=now - 7 * 3_600))
        assert ledger.drain(30)
        since = datetime.fromtimestamp(now - 2 * 3_600, UTC)
        (version,) = ledger.performance(since=since.replace(tzinfo=None))
        assert version["predictions"] == 2
    finally:
        monkeypatch.undo()
        time.tzset()
