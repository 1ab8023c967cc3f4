"""A pool whose points have ids: the rows of a feature matrix named by a column of unique ids.

A person labels points, not array positions: ids survive a reordered file, a
batch handed to a labelling tool and a loop resumed the next day. Ids are ints
or strings; an id read back from a file is converted to the pool's kind (``"17"``
finds the int id 17) before it is looked up.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["IdPool"]


class IdPool:
    """Feature rows and their unique ids.

    Parameters
    ----------
    X : array-like of shape (n_pool, n_features)
        Finite numbers.
    ids : sequence of int or str, length n_pool
        Unique; not NaN.

    Attributes
    ----------
    X : ndarray of shape (n_pool, n_features)
        A copy; floats keep their precision (a float32 net gets float32), other numbers
        become float64.
    ids : pandas.Index
    fingerprint : str
        SHA-256 of the ids and features: a saved loop checks it to refuse another pool.
    """

    def __init__(self, X, ids: Sequence[Any]) -> None:
        X = np.asarray(X)
        if X.ndim != 2 or X.shape[0] == 0 or X.dtype.kind not in "biuf":
            raise ValueError("The pool's features must be a non-empty 2-d array of numbers. Got "
                             f"shape {X.shape} of dtype {X.dtype} instead.")
        X = X.astype(np.float64) if X.dtype.kind in "biu" else X.copy()  # float32 stays
        if not np.isfinite(X).all():
            rows = np.flatnonzero(~np.isfinite(X).all(axis=1))
            raise ValueError(f"{rows.size} pool rows hold NaN or infinite features (first at "
                             f"row {rows[0]}); fill or drop them before labelling.")
        index = pd.Index(list(ids))
        if len(index) != X.shape[0]:
            raise ValueError(f"The pool has {X.shape[0]} rows but {len(index)} ids.")
        if index.hasnans:
            raise ValueError("The pool's ids must not be empty or NaN.")
        if index.inferred_type not in ("integer", "string"):
            raise TypeError("The pool's ids must be all ints or all strings. Got "
                            f"{index.inferred_type} ids instead.")
        if not index.is_unique:
            repeated = index[index.duplicated()].unique()[:5].tolist()
            raise ValueError(f"The pool's ids must be unique; repeated: {repeated}.")
        self.X, self.ids = X, index
        digest = hashlib.sha256()
        digest.update("\n".join(map(repr, index.tolist())).encode())
        digest.update(np.ascontiguousarray(X).tobytes())
        self.fingerprint = digest.hexdigest()

    @classmethod
    def from_frame(cls, frame: pd.DataFrame, id_column: str,
                   feature_columns: Sequence[str] | None = None) -> IdPool:
        """The pool of a table: ``id_column`` names the points, ``feature_columns`` (default: the
        other numeric columns) are their features."""
        if not isinstance(frame, pd.DataFrame):
            raise TypeError(f"Expected a pandas DataFrame, got {type(frame).__name__}.")
        if id_column not in frame.columns:
            raise ValueError(f"The id column {id_column!r} is not in the table; its columns are "
                             f"{list(frame.columns)}.")
        if feature_columns is None:
            feature_columns = [column for column in frame.columns if column != id_column
                               and pd.api.types.is_numeric_dtype(frame[column])]
        missing = [column for column in feature_columns if column not in frame.columns]
        if missing or not feature_columns:
            raise ValueError(f"Feature columns {missing or '(none)'} are not in the table; its "
                             f"columns are {list(frame.columns)}.")
        if id_column in feature_columns:
            raise ValueError(f"The id column {id_column!r} cannot be a feature.")
        text = [column for column in feature_columns
                if not pd.api.types.is_numeric_dtype(frame[column])]
        if text:
            raise ValueError(f"Feature columns {text} are not numeric; encode them first.")
        pool = cls(frame[list(feature_columns)].to_numpy(), frame[id_column].tolist())
        pool.feature_names = list(feature_columns)
        return pool

    feature_names: list[str] | None = None

    def __len__(self) -> int:
        return len(self.ids)

    def as_pool_ids(self, ids: Iterable[Any], name: str = "ids") -> list:
        """``ids`` converted to the pool's kind (int or str); ``ValueError`` naming the bad ones."""
        values = list(ids)
        if self.ids.inferred_type == "string":
            return [str(value) for value in values]
        converted, bad = [], []
        for value in values:
            try:
                number = float(value)
                if not number.is_integer():
                    raise ValueError
                converted.append(int(number))
            except (TypeError, ValueError):
                bad.append(value)
        if bad:
            raise ValueError(f"The pool's ids are ints; {name} holds {bad[:5]}.")
        return converted

    def positions(self, ids: Iterable[Any], name: str = "ids") -> np.ndarray:
        """Row positions of ``ids``; ``ValueError`` naming the ids not in the pool."""
        values = self.as_pool_ids(ids, name)
        rows = self.ids.get_indexer(values)
        if (rows < 0).any():
            unknown = [value for value, row in zip(values, rows, strict=True) if row < 0][:5]
            raise ValueError(f"{int((rows < 0).sum())} of the {name} are not in the pool: "
                             f"{unknown}.")
        return rows
