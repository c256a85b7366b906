"""The rows of a prediction, kept as positions, and how many had each allowed value.

What monitoring compares with the training data.

A prediction keeps its rows as their positions in the input domain (``domain.Domain``: the
C-order index of each row's value indices), and the values are counted only when asked for.
Many predictions' rows are counted together (``count_values``), so that a service can tally
every prediction for the price of keeping a reference, and count once per scrape.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import chain

import numpy as np

ValueCounts = dict[str, dict[str, int]]  # feature -> allowed value -> rows

# From this many distinct rows on, numpy works out their values faster than a Python loop.
NUMPY_FROM_POSITIONS = 16


@dataclass(frozen=True, slots=True)
class InputRows:
    """One prediction's rows as their positions in the domain; their values are counted when read."""

    values: Mapping[str, Sequence[str]]  # feature -> its allowed values, in the domain's order
    positions: Sequence[int]  # each row's position in the domain

    def counted(self) -> ValueCounts:
        """Per feature, how many of the rows had each value (every value listed, 0 included)."""
        return count_values([self], self.values)


def count_values(predictions: Iterable[InputRows], values: Mapping[str, Sequence[str]]) -> ValueCounts:
    """Per feature, how many rows of all ``predictions`` had each value: their counts added up, counted once.

    ``values`` is the features' allowed values, in the domain's order (``config.model.allowed_values``).
    The rows are tallied by position first (in C), so each distinct row's values are worked
    out once: in a Python loop for a few, with numpy for many.
    """
    shape = [len(feature_values) for feature_values in values.values()]
    rows_at = Counter(chain.from_iterable(rows.positions for rows in predictions))
    tallies: list[list[int]]
    if len(rows_at) < NUMPY_FROM_POSITIONS:
        tallies = [[0] * size for size in shape]
        for position, rows in rows_at.items():
            rest = position
            for axis in reversed(range(len(shape))):
                rest, index = divmod(rest, shape[axis])
                tallies[axis][index] += rows
    else:
        positions = np.fromiter(rows_at.keys(), dtype=np.intp, count=len(rows_at))
        weights = np.fromiter(rows_at.values(), dtype=np.float64, count=len(rows_at))  # exact below 2**53
        tallies = [
            np.bincount(indices, weights=weights, minlength=size).astype(np.int64).tolist()
            for indices, size in zip(np.unravel_index(positions, shape), shape, strict=True)
        ]
    return {
        feature: dict(zip(feature_values, tally, strict=True))
        for (feature, feature_values), tally in zip(values.items(), tallies, strict=True)
    }
