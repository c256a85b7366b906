"""Server and model metadata, built from the model package's config."""

from __future__ import annotations

import pytest

from app.errors import ApiError
from app.inference_protocol import check_model, model_metadata, server_metadata
from app.inference_protocol.schemas import ModelMetadataResponse
from car_evaluation_model import __version__ as model_version
from car_evaluation_model.config.core import config


def test_server_metadata_lists_the_binary_tensor_data_extension() -> None:
    metadata = server_metadata("Car Evaluation API", "1.2.3")
    assert metadata.model_dump() == {
        "name": "Car Evaluation API",
        "version": "1.2.3",
        "extensions": ["binary_tensor_data"],
    }


def test_model_metadata_has_one_bytes_input_per_feature_with_its_allowed_values() -> None:
    metadata = model_metadata()
    assert (metadata.name, metadata.versions, metadata.platform) == (
        "car-evaluation",
        [model_version],
        "sklearn_joblib",
    )
    assert [tensor.name for tensor in metadata.inputs] == config.model.feature_names
    for tensor, feature in zip(metadata.inputs, config.model.features, strict=True):
        assert (tensor.datatype, tensor.shape) == ("BYTES", [-1, 1])
        assert tensor.parameters is not None
        assert tensor.parameters["allowed_values"] == list(feature.values)


def test_model_metadata_publishes_the_outputs_and_the_class_order() -> None:
    predict, proba = model_metadata().outputs
    assert (predict.name, predict.datatype, predict.shape) == ("predict", "BYTES", [-1, 1])
    assert (proba.name, proba.datatype, proba.shape) == ("predict_proba", "FP64", [-1, 4])
    assert proba.parameters == {"classes": ["unacc", "acc", "good", "vgood"]}


def test_model_metadata_round_trips_through_its_schema() -> None:
    metadata = model_metadata()
    assert ModelMetadataResponse.model_validate_json(metadata.model_dump_json()) == metadata


@pytest.mark.parametrize("version", [None, model_version])
def test_this_model_is_known(version: str | None) -> None:
    check_model("car-evaluation", version)


@pytest.mark.parametrize(
    ("name", "version", "message"),
    [
        ("iris", None, "unknown model 'iris'; this server serves 'car-evaluation'"),
        (
            "car-evaluation",
            "9.9.9",
            f"unknown version '9.9.9' of model 'car-evaluation'; its versions: {model_version}",
        ),
    ],
)
def test_unknown_model_or_version_is_404(name: str, version: str | None, message: str) -> None:
    with pytest.raises(ApiError) as caught:
        check_model(name, version)
    assert (caught.value.status_code, caught.value.message) == (404, message)


def test_model_metadata_shows_the_diff_against_the_previous_version() -> None:
    # The shipped card (0.3.0) predates release diffs; a published card records one (release.publish).
    assert model_metadata().parameters == {}
    changes = {"previous_version": "0.3.0", "cars": 1728, "flips": 7, "transitions": {"unacc -> acc": 7}}
    assert model_metadata(changes=changes).parameters == {"changes_from_previous": changes}
