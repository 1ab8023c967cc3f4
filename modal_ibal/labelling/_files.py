"""Batch files for labellers and the answers they send back: CSV, Parquet, Label Studio JSON.

A batch file lists the points to label, best first: ``id``, ``rank``, ``score``,
the features, and an empty ``label`` column to fill in. A ``.json`` batch is a
Label Studio task import (:mod:`modal_ibal.labelling._label_studio`). An answer
file is a filled-in batch file (any rows, any order; an empty label means "not
yet", ``skip`` a skipped point) or a Label Studio export (JSON, JSON_MIN or CSV,
whose ``id`` column is Label Studio's task id: the pool id is read from ``pool_id``).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd

from .._utils.atomic import open_atomic, write_atomic
from ._ids import IdPool
from ._label_studio import label_studio_tasks, read_label_studio_export

__all__ = ["TABLE_SUFFIXES", "read_answer_file", "read_table", "write_batch"]

TABLE_SUFFIXES = (".csv", ".parquet", ".pq")


def _suffix(path: Path, allowed: tuple[str, ...], what: str) -> str:
    suffix = path.suffix.lower()
    if suffix not in allowed:
        raise ValueError(f"{path}: {what} must end in {', '.join(allowed)}; got {suffix!r}.")
    return suffix


def read_table(path: str | os.PathLike, what: str = "a table file") -> pd.DataFrame:
    """A CSV or Parquet file as a DataFrame; ``ValueError`` when empty, malformed or of another kind."""
    path = Path(path)
    suffix = _suffix(path, TABLE_SUFFIXES, what)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file.")
    try:
        frame = pd.read_csv(path) if suffix == ".csv" else pd.read_parquet(path)
    except pd.errors.EmptyDataError:
        raise ValueError(f"{path} is empty.") from None
    except ImportError as error:
        raise ValueError(f"Reading {path} needs a Parquet engine: pip install pyarrow "
                         f"({error}).") from None
    except (pd.errors.ParserError, UnicodeDecodeError, OSError, ValueError) as error:
        raise ValueError(f"{path} is not a readable {suffix[1:]} table: {error}") from None
    if frame.empty:
        raise ValueError(f"{path} holds no rows.")
    return frame


def write_batch(path: str | os.PathLike, batch: pd.DataFrame, pool: IdPool, *,
                model_version: str = "modal-ibal") -> Path:
    """Write ``batch`` (:meth:`LabellingLoop.next_batch`) for labellers, atomically.

    ``.csv``/``.parquet``: the batch's columns, the features and an empty ``label``
    column; ``.json``: Label Studio tasks with the rank as the prediction score.
    """
    path = Path(path)
    suffix = _suffix(path, (*TABLE_SUFFIXES, ".json"), "the batch file")
    rows = pool.positions(batch["id"], "batch ids")
    names = pool.feature_names or [f"x{column}" for column in range(pool.X.shape[1])]
    if suffix == ".json":
        text = json.dumps(label_studio_tasks(batch, pool.X[rows], names,
                                             model_version=model_version), indent=1)
        return write_atomic(path, text + "\n")
    table = pd.concat([batch[["id", "rank", "score"]].reset_index(drop=True),
                       pd.DataFrame(pool.X[rows], columns=names)], axis=1)
    table["label"] = pd.Series([None] * len(table), dtype=object)
    if suffix == ".csv":
        with open_atomic(path, "w") as stream:
            table.to_csv(stream, index=False)
        return path
    try:
        with open_atomic(path, "wb") as stream:
            table.to_parquet(stream, index=False)
    except ImportError as error:
        raise ValueError(f"Writing {path} needs a Parquet engine: pip install pyarrow "
                         f"({error}).") from None
    return path


def read_answer_file(path: str | os.PathLike, *, id_column: str = "id",
                     label_column: str = "label") -> pd.DataFrame:
    """The (id, label) answers in a filled-in batch file or a Label Studio JSON export.

    Returns
    -------
    pandas.DataFrame
        Columns ``id`` and ``label`` (None where not labelled yet, ``'skip'`` where skipped).
    """
    path = Path(path)
    if path.suffix.lower() == ".json":
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no such file.")
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise ValueError(f"{path} is not whole JSON: {error}") from None
        return read_label_studio_export(data, source=str(path))
    frame = read_table(path, "an answer file")
    if {"pool_id", "annotation_id"} <= set(frame.columns):  # Label Studio's CSV export
        return read_label_studio_export(_label_studio_rows(frame), source=str(path))
    missing = [column for column in (id_column, label_column) if column not in frame.columns]
    if missing:
        raise ValueError(f"{path} has no column {missing}; its columns are "
                         f"{list(frame.columns)}.")
    labels = frame[label_column].astype(object).where(frame[label_column].notna(), None)
    return pd.DataFrame({"id": frame[id_column].tolist(), "label": labels.tolist()})


def _label_studio_rows(frame: pd.DataFrame) -> list[dict]:
    """The rows of a Label Studio CSV export as its JSON_MIN records (its ``id`` is the task's)."""
    frame = frame.astype(object).where(frame.notna(), None)
    return frame.to_dict(orient="records")
