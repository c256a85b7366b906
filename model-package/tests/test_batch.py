"""``batch.score``: the kinds of table it takes and gives, the columns it adds and keeps."""

from __future__ import annotations

import pandas as pd
import pyarrow as pa
import pytest

from car_evaluation_model import batch, make_prediction
from car_evaluation_model.config.core import config

FEATURES = config.model.feature_names
ADDED = ["prediction", "probability_unacc", "probability_acc", "probability_good", "probability_vgood", "error"]
ROWS: dict[str, list[str | None]] = {
    "buying": ["low", "vhigh", "cheap"],
    "maint": ["low", "vhigh", "low"],
    "doors": ["4", "2", "4"],
    "persons": ["more", "2", None],
    "lug_boot": ["big", "small", "big"],
    "safety": ["high", "low", "high"],
}


def test_an_arrow_table_keeps_its_columns_in_order_and_gains_the_typed_answers() -> None:
    table = pa.table({"note": ["a", "b", "c"], **ROWS, "id": [7, 8, 9]})
    scored = batch.score(table)
    assert isinstance(scored, pa.Table)
    assert scored.column_names == ["note", *FEATURES, "id", *ADDED]
    assert scored.select(table.column_names).equals(table)
    assert scored.schema.field("prediction").type == pa.string()
    assert scored.schema.field("error").type == pa.string()
    assert all(scored.schema.field(name).type == pa.float64() for name in ADDED[1:5])
    expected = make_prediction(input_data=[{name: ROWS[name][row] for name in FEATURES} for row in range(2)])
    assert scored["prediction"].to_pylist() == [*(expected["predictions"] or []), None]
    assert scored["probability_vgood"].to_pylist()[:2] == [row["vgood"] for row in expected["probabilities"] or []]
    assert scored["error"].to_pylist() == [
        None,
        None,
        "buying has the value 'cheap', which is not allowed; allowed values: low, med, high, vhigh; "
        "persons must not be null; allowed values: 2, 4, more",
    ]


def test_a_record_batch_gives_a_record_batch() -> None:
    record_batch = pa.RecordBatch.from_pydict(ROWS)
    scored = batch.score(record_batch)
    assert isinstance(scored, pa.RecordBatch)
    assert scored.num_rows == 3


def test_a_data_frame_keeps_its_index_and_gains_the_answers() -> None:
    frame = pd.DataFrame(ROWS, index=[30, 10, 20])
    scored = batch.score(frame)
    assert isinstance(scored, pd.DataFrame)
    assert list(scored.index) == [30, 10, 20]
    assert list(scored.columns) == [*FEATURES, *ADDED]
    assert scored.loc[10, "prediction"] == "unacc"
    assert scored["probability_acc"].isna().tolist() == [False, False, True]
    assert list(frame.columns) == FEATURES  # the input is not changed


def test_a_boolean_is_refused_where_1_and_true_share_a_column() -> None:
    frame = pd.DataFrame({name: [values[0]] * 2 for name, values in ROWS.items()}).astype(object)
    frame["doors"] = pd.Series([True, 4], dtype=object)
    errors = batch.score(frame)["error"].tolist()
    assert errors[0] == "doors has the value true, which is not allowed; allowed values: 2, 3, 4, 5more"
    assert pd.isna(errors[1])


def test_an_empty_table_gives_an_empty_scored_table() -> None:
    scored = batch.score(pa.table(ROWS).slice(0, 0))
    assert scored.num_rows == 0
    assert scored.column_names[-6:] == ADDED


@pytest.mark.parametrize("missing", [["safety"], ["buying", "doors"]])
def test_a_missing_feature_column_is_named(missing: list[str]) -> None:
    table = pa.table({name: values for name, values in ROWS.items() if name not in missing})
    with pytest.raises(
        batch.MissingFeatureColumnsError, match=f"the input has no column {', '.join(missing)};"
    ) as error:
        batch.score(table)
    assert error.value.columns == missing


def test_a_column_that_scoring_adds_is_not_overwritten() -> None:
    with pytest.raises(batch.OutputColumnsError, match="already has the column prediction"):
        batch.score(pa.table({**ROWS, "prediction": ["x", "y", "z"]}))
