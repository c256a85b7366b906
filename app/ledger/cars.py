"""A recorded car as a small number: its position among the valid cars, and the classes' order.

The ledger stores a car as its position in the model package's ``Domain`` (the mixed-radix
index of its values, ``itertools.product`` order) and a class as its index in the config's
``classes``. ``car_positions`` is the one place that turns values into positions.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import cache

from car_evaluation_model import domain_of
from car_evaluation_model.config.core import config

CLASSES: tuple[str, ...] = tuple(config.model.classes)


@cache
def _position_of_car() -> dict[tuple[str, ...], int]:
    frame = domain_of(config.model).frame()
    return {car: position for position, car in enumerate(frame.itertuples(index=False, name=None))}


def car_positions(cars: Iterable[tuple[str, ...]]) -> list[int]:
    """Each car's position; a car is the tuple of its feature values as canonical strings, in the config's order."""
    return list(map(_position_of_car().__getitem__, cars))


def cars_at(positions: Sequence[int]) -> dict[str, list[str]]:
    """The cars at ``positions``, column by column (feature -> values)."""
    frame = domain_of(config.model).frame(positions)
    return {str(name): column.tolist() for name, column in frame.items()}


def feature_names() -> tuple[str, ...]:
    return domain_of(config.model).feature_names
