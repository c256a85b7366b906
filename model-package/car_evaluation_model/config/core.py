"""Load ``config.yml`` with an explicit strictyaml schema into typed pydantic models.

strictyaml rejects unknown and missing keys with a message naming the key and its line;
pydantic then checks the relations between values (unique names, non-empty lists, ranges).
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from strictyaml import YAML, Float, Int, Map, Seq, Str, YAMLError, load

PACKAGE_ROOT = Path(__file__).resolve().parent.parent
CONFIG_FILE_PATH = PACKAGE_ROOT / "config.yml"
DATASET_DIR = PACKAGE_ROOT / "datasets"
TRAINED_MODEL_DIR = PACKAGE_ROOT / "trained_models"

CONFIG_SCHEMA = Map(
    {
        "package_name": Str(),
        "training_data_file": Str(),
        "pipeline_save_file": Str(),
        "target": Str(),
        "classes": Seq(Str()),
        "features": Seq(Map({"name": Str(), "description": Str(), "values": Seq(Str())})),
        "random_state": Int(),
        "test_size": Float(),
        "cv_folds": Int(),
        "hyperparameters": Map(
            {
                "learning_rate": Float(),
                "max_iter": Int(),
                "max_leaf_nodes": Int(),
                "min_samples_leaf": Int(),
            }
        ),
    }
)


class ConfigError(ValueError):
    """The configuration file is missing, malformed, or inconsistent."""


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class FeatureSpec(_Frozen):
    """One categorical input and its allowed values in natural (ordinal) order."""

    name: str = Field(min_length=1)
    description: str
    values: tuple[str, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _values_are_unique(self) -> FeatureSpec:
        if len(set(self.values)) != len(self.values):
            raise ValueError(f"feature {self.name!r} lists a value twice: {self.values}")
        return self


class ModelHyperParameters(_Frozen):
    learning_rate: float = Field(gt=0)
    max_iter: int = Field(gt=0)
    max_leaf_nodes: int = Field(ge=2)
    min_samples_leaf: int = Field(ge=1)


class FilesConfig(_Frozen):
    """Where things live: package, data set and artifact names."""

    package_name: str
    training_data_file: str
    pipeline_save_file: str


class ModelConfig(_Frozen):
    """What the model learns and how it is evaluated."""

    target: str
    classes: tuple[str, ...] = Field(min_length=2)
    features: tuple[FeatureSpec, ...] = Field(min_length=1)
    random_state: int
    test_size: float = Field(gt=0, lt=1)
    cv_folds: int = Field(ge=2)
    hyperparameters: ModelHyperParameters

    @model_validator(mode="after")
    def _names_are_unique(self) -> ModelConfig:
        names = [feature.name for feature in self.features]
        if len(set(names)) != len(names):
            raise ValueError(f"feature names must be unique: {names}")
        if self.target in names:
            raise ValueError(f"target {self.target!r} is also listed as a feature")
        if len(set(self.classes)) != len(self.classes):
            raise ValueError(f"classes must be unique: {self.classes}")
        return self

    @property
    def feature_names(self) -> list[str]:
        return [feature.name for feature in self.features]

    @property
    def allowed_values(self) -> dict[str, tuple[str, ...]]:
        """Feature name -> allowed values, in the config's natural order."""
        return {feature.name: feature.values for feature in self.features}


class Config(_Frozen):
    files: FilesConfig
    model: ModelConfig


def fetch_config_from_yaml(cfg_path: Path = CONFIG_FILE_PATH) -> YAML:
    """Parse the YAML file against the schema; strictyaml names any wrong or missing key."""
    try:
        return load(cfg_path.read_text(encoding="utf-8"), CONFIG_SCHEMA, label=str(cfg_path))
    except OSError as error:
        raise ConfigError(f"cannot read config file {cfg_path}: {error}") from error
    except YAMLError as error:
        raise ConfigError(f"invalid config file {cfg_path}:\n{error}") from error


def create_and_validate_config(parsed_config: YAML | None = None) -> Config:
    """Turn the parsed YAML into the typed ``Config``."""
    if parsed_config is None:
        parsed_config = fetch_config_from_yaml()
    data = parsed_config.data
    try:
        return Config(
            files=FilesConfig.model_validate({k: data[k] for k in FilesConfig.model_fields}),
            model=ModelConfig.model_validate({k: data[k] for k in ModelConfig.model_fields}),
        )
    except ValidationError as error:
        raise ConfigError(f"invalid config values:\n{error}") from error


config = create_and_validate_config()
