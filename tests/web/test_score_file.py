"""The page's "Score a file": upload in chromium; the counts, the refused rows and both downloads read back."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
import pytest

from car_evaluation_model import batch, domain_of
from car_evaluation_model.config.core import config


def cars_with_refusals() -> pa.Table:
    """Every 17th car, with an id; every 5th of them with a doors value no model knows."""
    cars = domain_of(config.model).frame().iloc[::17].reset_index(drop=True)
    cars.loc[::5, "doors"] = "five"
    return pa.Table.from_pandas(cars, preserve_index=False).add_column(0, "id", pa.array(range(len(cars))))


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_a_file_is_scored_counted_and_downloaded(page: Any, tmp_path: Path, suffix: str) -> None:
    table = cars_with_refusals()
    source = tmp_path / f"my cars{suffix}"
    if suffix == ".csv":
        pa_csv.write_csv(table, source)
    else:
        pq.write_table(table, source)
    expected = batch.score(table)
    rejected = int(pc.sum(pc.is_valid(expected["error"])).as_py())
    assert 0 < rejected < table.num_rows

    page.goto("/")
    page.set_input_files("#file-input", source)
    page.get_by_role("button", name="Score the file").click()
    page.locator("#file-result").wait_for(state="visible")
    assert page.locator("#file-rows").inner_text() == str(table.num_rows)
    assert page.locator("#file-scored").inner_text() == str(table.num_rows - rejected)
    assert page.locator("#file-rejected").inner_text() == str(rejected)
    for label in config.model.classes:
        shown = page.locator(f'#file-classes tr[data-class="{label}"] .count').inner_text()
        assert shown == str(pc.sum(pc.equal(expected["prediction"], label)).as_py() or 0)

    refused_rows = pc.indices_nonzero(pc.is_valid(expected["error"])).to_pylist()
    listed = [row.locator("td").all_inner_texts() for row in page.locator("#file-rejected-rows tbody tr").all()]
    assert listed == [[str(row), expected["error"][row].as_py()] for row in refused_rows[:10]]
    assert page.locator("#file-rejects-listed").inner_text() == f"the first 10 of {rejected}"

    with page.expect_download() as rejects_info:
        page.get_by_role("button", name="Download the refused rows").click()
    rejects = rejects_info.value
    assert rejects.suggested_filename == f"my_cars.rejected{suffix}"
    rejects_path = tmp_path / rejects.suggested_filename
    rejects.save_as(rejects_path)
    rejects_table = pq.read_table(rejects_path) if suffix == ".parquet" else pa_csv.read_csv(rejects_path)
    assert rejects_table["id"].to_pylist() == [table["id"][row].as_py() for row in refused_rows]
    assert rejects_table["error"].to_pylist() == [expected["error"][row].as_py() for row in refused_rows]

    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download the scored file").click()
    download = download_info.value
    assert download.suggested_filename == f"my_cars.scored{suffix}"
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)
    if suffix == ".csv":
        downloaded = pa_csv.read_csv(saved, convert_options=pa_csv.ConvertOptions(strings_can_be_null=True))
        assert downloaded["prediction"].to_pylist() == expected["prediction"].to_pylist()
        assert downloaded["error"].to_pylist() == expected["error"].to_pylist()
        assert downloaded["probability_acc"].to_pylist() == expected["probability_acc"].to_pylist()
    else:
        downloaded = pq.read_table(saved)
        assert downloaded.cast(expected.schema).equals(expected)


def test_a_file_without_a_feature_column_shows_the_services_message(page: Any, tmp_path: Path) -> None:
    source = tmp_path / "no-safety.csv"
    pa_csv.write_csv(cars_with_refusals().drop_columns(["safety"]), source)
    page.goto("/")
    page.set_input_files("#file-input", source)
    page.get_by_role("button", name="Score the file").click()
    error = page.locator("#file-error")
    error.wait_for(state="visible")
    assert error.inner_text().startswith("no-safety.csv: the input has no column safety;")
    assert page.locator("#file-result").is_hidden()
