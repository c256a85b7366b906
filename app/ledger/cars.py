"""A recorded car as a small number: its position among the valid cars, and the classes' order.

The ledger stores a car as its position in the model package's ``Domain`` (the mixed-radix
index of its values, ``itertools.product`` order), as the data plane has it, and a class as its
index in the config's ``classes``.
"""

from __future__ import annotations

from collections.abc import Sequence

from car_evaluation_model import domain_of
from car_evaluation_model.config.core import config

CLASSES: tuple[str, ...] = tuple(config.model.classes)


def cars_at(positions: Sequence[int]) -> dict[str, list[str]]:
    """The cars at ``positions``, column by column (feature -> values)."""
    frame = domain_of(config.model).frame(positions)
    return {str(name): column.tolist() for name, column in frame.items()}


def feature_names() -> tuple[str, ...]:
    return domain_of(config.model).feature_names
