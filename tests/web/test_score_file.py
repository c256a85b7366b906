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


def downloaded(control: Any, page: Any, directory: Path) -> Path:
    """The file that clicking ``control`` downloads, saved in ``directory`` under the name the page suggests."""
    with page.expect_download() as download_info:
        control.click()
    download = download_info.value
    path: Path = directory / download.suggested_filename
    download.save_as(path)
    return path


def read(path: Path) -> pa.Table:
    if path.suffix == ".parquet":
        return pq.read_table(path)
    return pa_csv.read_csv(path, convert_options=pa_csv.ConvertOptions(strings_can_be_null=True))


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

    rejects_path = downloaded(page.get_by_role("button", name="Download the refused rows"), page, tmp_path)
    assert rejects_path.name == f"my_cars.rejected{suffix}"
    rejects_table = read(rejects_path)
    assert rejects_table["id"].to_pylist() == [table["id"][row].as_py() for row in refused_rows]
    assert rejects_table["error"].to_pylist() == [expected["error"][row].as_py() for row in refused_rows]

    saved = downloaded(page.get_by_role("link", name="Download the scored file"), page, tmp_path)
    assert saved.name == f"my_cars.scored{suffix}"
    downloaded_table = read(saved)
    if suffix == ".csv":
        assert downloaded_table["prediction"].to_pylist() == expected["prediction"].to_pylist()
        assert downloaded_table["error"].to_pylist() == expected["error"].to_pylist()
        assert downloaded_table["probability_acc"].to_pylist() == expected["probability_acc"].to_pylist()
    else:
        assert downloaded_table.cast(expected.schema).equals(expected)


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
