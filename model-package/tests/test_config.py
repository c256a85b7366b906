from __future__ import annotations

from pathlib import Path

import pytest

from car_evaluation_model.config.core import (
    CONFIG_FILE_PATH,
    ConfigError,
    create_and_validate_config,
    fetch_config_from_yaml,
)


def write_config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.yml"
    path.write_text(text, encoding="utf-8")
    return path


def shipped_text() -> str:
    return CONFIG_FILE_PATH.read_text(encoding="utf-8")


def test_shipped_config_loads_with_natural_orders() -> None:
    cfg = create_and_validate_config(fetch_config_from_yaml())
    assert cfg.model.feature_names == ["buying", "maint", "doors", "persons", "lug_boot", "safety"]
    assert cfg.model.classes == ("unacc", "acc", "good", "vgood")
    assert cfg.model.allowed_values["buying"] == ("low", "med", "high", "vhigh")
    assert cfg.model.allowed_values["doors"] == ("2", "3", "4", "5more")
    assert cfg.model.hyperparameters.max_iter > 0


def test_missing_key_is_named(tmp_path: Path) -> None:
    text = shipped_text().replace("target: class\n", "")
    with pytest.raises(ConfigError, match="target"):
        fetch_config_from_yaml(write_config(tmp_path, text))


def test_unknown_key_is_named(tmp_path: Path) -> None:
    text = shipped_text() + "learning_rat: 0.1\n"
    with pytest.raises(ConfigError, match="learning_rat"):
        fetch_config_from_yaml(write_config(tmp_path, text))


def test_wrong_type_is_rejected(tmp_path: Path) -> None:
    text = shipped_text().replace("cv_folds: 5", "cv_folds: five")
    with pytest.raises(ConfigError, match="integer"):
        fetch_config_from_yaml(write_config(tmp_path, text))


def test_inconsistent_values_are_rejected(tmp_path: Path) -> None:
    text = shipped_text().replace("test_size: 0.2", "test_size: 1.5")
    with pytest.raises(ConfigError, match="test_size"):
        create_and_validate_config(fetch_config_from_yaml(write_config(tmp_path, text)))


def test_duplicate_feature_value_is_rejected(tmp_path: Path) -> None:
    text = shipped_text().replace('- "5more"', '- "4"')
    with pytest.raises(ConfigError, match="doors"):
        create_and_validate_config(fetch_config_from_yaml(write_config(tmp_path, text)))


def test_missing_file_is_reported(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        fetch_config_from_yaml(tmp_path / "nope.yml")
