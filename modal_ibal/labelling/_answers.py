"""What labellers send back, read into one shape: labels by id, points skipped, points pending.

Answers come as a mapping ``{id: label}``, (id, label) pairs, or a table with
an id and a label column. A label that is None, NaN or empty means "not labelled
yet" (the point stays in the pool); the word :data:`SKIP` means the labeller
skipped it or could not tell.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ._ids import IdPool

__all__ = ["SKIP", "Answers", "read_answers"]

SKIP = "skip"


@dataclass
class Answers:
    """Labels by pool id (in the order given), skipped ids, and how many were still pending."""

    labels: dict[Any, Any] = field(default_factory=dict)
    skipped: list[Any] = field(default_factory=list)
    n_pending: int = 0


def _pending(label) -> bool:
    """None, NaN, pandas' NA or blank text: not labelled yet."""
    if isinstance(label, str):
        return label.strip() == ""
    try:
        return bool(pd.isna(label))
    except (TypeError, ValueError):  # not a scalar
        return False


def _pairs(answers, id_column: str, label_column: str) -> list[tuple[Any, Any]]:
    if isinstance(answers, pd.DataFrame):
        missing = [column for column in (id_column, label_column)
                   if column not in answers.columns]
        if missing:
            raise ValueError(f"The answers table has no column {missing}; its columns are "
                             f"{list(answers.columns)}. Name them with id_column/label_column.")
        return list(zip(answers[id_column].tolist(), answers[label_column].tolist(),
                        strict=True))
    if isinstance(answers, Mapping):
        return list(answers.items())
    if isinstance(answers, (str, bytes)) or not hasattr(answers, "__iter__"):
        raise TypeError("The answers must be a mapping {id: label}, (id, label) pairs or a "
                        f"DataFrame. Got {type(answers).__name__} instead.")
    pairs = []
    for item in answers:
        if not isinstance(item, (tuple, list)) or len(item) != 2:
            raise ValueError(f"Each answer must be an (id, label) pair. Got {item!r}.")
        pairs.append(tuple(item))
    return pairs


def read_answers(answers, pool: IdPool, *, id_column: str = "id",
                 label_column: str = "label") -> Answers:
    """Check ``answers`` against ``pool`` and sort them into labels, skips and pending.

    Raises
    ------
    ValueError
        When there are no answers at all, an id is not in the pool, or one id is given
        two different answers.
    TypeError
        When ``answers`` is none of the accepted shapes.
    """
    pairs = _pairs(answers, id_column, label_column)
    if not pairs:
        raise ValueError("The answers are empty: no (id, label) pair to teach.")
    ids = pool.as_pool_ids([identifier for identifier, _ in pairs], "answers' ids")
    pool.positions(ids, "answers' ids")
    result, seen = Answers(), {}
    for identifier, (_, label) in zip(ids, pairs, strict=True):
        label = label.strip() if isinstance(label, str) else label
        label = label.item() if isinstance(label, np.generic) else label
        if identifier in seen and not (_pending(seen[identifier]) and _pending(label)) \
                and seen[identifier] != label:
            raise ValueError(f"Point {identifier!r} is answered twice, as {seen[identifier]!r} "
                             f"and {label!r}; nothing was taught.")
        if identifier in seen:
            continue
        seen[identifier] = label
        if _pending(label):
            result.n_pending += 1
        elif isinstance(label, str) and label.lower() == SKIP:
            result.skipped.append(identifier)
        else:
            result.labels[identifier] = label
    return result
