"""The rows of a prediction, kept as positions, and how many had each allowed value.

What monitoring compares with the training data.

A prediction keeps its rows as their positions in the input domain (``domain.Domain``, which
owns what a position means), and the values are counted only when asked for. Many predictions'
rows are counted together (``count_values``), so that a service can tally every prediction for
the price of keeping a reference, and count once per scrape.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import chain
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from car_evaluation_model.domain import Domain

ValueCounts = dict[str, dict[str, int]]  # feature -> allowed value -> rows


@dataclass(frozen=True, slots=True)
class InputRows:
    """One prediction's rows as their positions in the domain; their values are counted when read."""

    domain: Domain
    positions: Sequence[int]  # each row's position in the domain

    def counted(self) -> ValueCounts:
        """Per feature, how many of the rows had each value (every value listed, 0 included)."""
        return count_values([self], self.domain)


def count_values(predictions: Iterable[InputRows], domain: Domain) -> ValueCounts:
    """Per feature, how many rows of all ``predictions`` had each value: their counts added up, counted once.

    The rows are tallied by position first (in C), so each distinct row's values are worked out once.
    """
    rows_at = Counter(chain.from_iterable(rows.positions for rows in predictions))
    positions = np.fromiter(rows_at.keys(), dtype=np.intp, count=len(rows_at))
    weights = np.fromiter(rows_at.values(), dtype=np.float64, count=len(rows_at))  # exact below 2**53
    return {
        feature.name: dict(
            zip(
                feature.values,
                np.bincount(indices, weights=weights, minlength=size).astype(np.int64).tolist(),
                strict=True,
            )
        )
        for feature, indices, size in zip(domain.features, domain.value_indices(positions), domain.shape, strict=True)
    }
