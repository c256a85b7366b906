"""Run inside one side's environment: print its model's answers for every car as JSON.

    python release/probe.py            (by path: the environment has the model package, not this repo)

Only the standard library and the model package's public API are used, so that any released
version of ``car-evaluation-model`` can be asked, whatever the rest of this repository needs.
"""

from __future__ import annotations

import csv
import importlib.metadata
import itertools
import json
import sys
from importlib.resources import files
from typing import Any

import car_evaluation_model
from car_evaluation_model import load_model_card, make_prediction
from car_evaluation_model.config.core import config

DISTRIBUTION = "car-evaluation-model"


def answers() -> dict[str, Any]:
    features = {feature.name: list(feature.values) for feature in config.model.features}
    cars = [dict(zip(features, values, strict=True)) for values in itertools.product(*features.values())]
    result = make_prediction(input_data=cars)
    if result["errors"]:
        raise SystemExit(f"the model refused cars of its own domain: {result['errors'][:3]}")
    data_file = files("car_evaluation_model") / "datasets" / config.files.training_data_file
    labelled = [
        [*(row[name] for name in features), row[config.model.target]]
        for row in csv.DictReader(data_file.read_text(encoding="utf-8").splitlines())
    ]
    distribution = importlib.metadata.distribution(DISTRIBUTION)
    return {
        "version": car_evaluation_model.__version__,
        "module_file": car_evaluation_model.__file__,
        "requires": distribution.requires or [],
        "installed": {dist.metadata["Name"]: dist.version for dist in importlib.metadata.distributions()},
        "features": features,
        "classes": list(config.model.classes),
        "labels": result["predictions"],
        "probabilities": [[row[label] for label in config.model.classes] for row in result["probabilities"] or []],
        "data_set": labelled,
        "model_card": load_model_card(),
    }


if __name__ == "__main__":
    json.dump(answers(), sys.stdout)
