"""Label Studio exchange: a batch as tasks to import, labels read back from its JSON export.

Each task carries the pool id, the rank and the features (shown by a ``Table``
tag), and one prediction whose ``score`` is ``(n - rank + 1) / n``, so that Label
Studio's Data Manager sorts the batch best first by "Prediction score". The
labelling config (:func:`label_studio_config`) has one single-choice ``Choices``
control named ``label``. Label Studio's JSON export lists every task with all
its annotations; the most recent annotation of a task wins (a correction
replaces the first answer), a cancelled one (the "Skip" button) marks the point
skipped, and a task with none is still pending. The ``JSON_MIN`` export (one
flat row per annotated task) is read too. The formats were checked against a
real Label Studio; the files it produced are the tests' fixtures.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from xml.sax.saxutils import quoteattr

import numpy as np
import pandas as pd

from ._answers import SKIP

__all__ = ["CHOICES_NAME", "label_studio_config", "label_studio_tasks",
           "read_label_studio_export"]

CHOICES_NAME = "label"
_TABLE_NAME = "item"


def label_studio_tasks(batch: pd.DataFrame, X: np.ndarray, feature_names: Sequence[str], *,
                       model_version: str = "modal-ibal") -> list[dict[str, Any]]:
    """Label Studio tasks for ``batch`` (columns ``id``, ``rank``, ``score``), features ``X``."""
    tasks = []
    for (identifier, rank, score), row in zip(
            batch[["id", "rank", "score"]].itertuples(index=False), X, strict=True):
        item = {name: float(value) for name, value in zip(feature_names, row, strict=True)}
        identifier = identifier.item() if isinstance(identifier, np.generic) else identifier
        tasks.append({"data": {"pool_id": identifier, "rank": int(rank), _TABLE_NAME: item},
                      "predictions": [{"model_version": model_version,
                                       "score": round(float(score), 6), "result": []}]})
    return tasks


def label_studio_config(classes: Sequence[Any]) -> str:
    """The labelling config for the tasks: the features as a table, one choice among ``classes``."""
    names = [str(name) for name in classes]
    if not names or len(set(names)) != len(names):
        raise ValueError(f"The classes must be distinct and at least one. Got {list(classes)}.")
    choices = "\n".join(f"    <Choice value={quoteattr(name)}/>" for name in names)
    return (f'<View>\n  <Table name="{_TABLE_NAME}" value="${_TABLE_NAME}"/>\n'
            f'  <Choices name="{CHOICES_NAME}" toName="{_TABLE_NAME}" choice="single" '
            f'showInLine="true">\n{choices}\n  </Choices>\n</View>\n')


def _annotation_label(annotation: dict[str, Any], source: str) -> Any:
    if annotation.get("was_cancelled"):
        return SKIP
    for result in annotation.get("result") or []:
        if result.get("from_name") == CHOICES_NAME and result.get("type") == "choices":
            choices = (result.get("value") or {}).get("choices") or []
            if len(choices) != 1:
                raise ValueError(f"{source}: an annotation holds {len(choices)} choices "
                                 f"({choices}); the label must be one choice.")
            return choices[0]
    return None  # submitted without a choice: still pending


def _latest(entries: list[dict[str, Any]]) -> dict[str, Any]:
    return max(entries, key=lambda entry: (str(entry.get("updated_at") or
                                               entry.get("created_at") or ""),
                                           entry.get("id") or entry.get("annotation_id") or 0))


def read_label_studio_export(data: Any, *, source: str = "the export") -> pd.DataFrame:
    """(id, label) answers from a Label Studio ``JSON`` or ``JSON_MIN`` export.

    Returns
    -------
    pandas.DataFrame
        Columns ``id`` (the pool id) and ``label`` (None: not labelled yet;
        :data:`~modal_ibal.labelling.SKIP`: skipped).

    Raises
    ------
    ValueError
        When ``data`` is not a list of tasks made from a modal-ibal batch, is empty,
        or an annotation holds more than one choice.
    """
    if not isinstance(data, list) or not data or not all(isinstance(task, dict)
                                                          for task in data):
        raise ValueError(f"{source} is not a Label Studio export: expected a non-empty JSON "
                         "list of tasks.")
    answers: dict[Any, Any] = {}
    if all("data" in task for task in data):  # JSON: tasks with their annotations
        for task in data:
            identifier = (task.get("data") or {}).get("pool_id")
            if identifier is None:
                raise ValueError(f"{source}: a task has no data.pool_id; it was not made from "
                                 "a modal-ibal batch.")
            annotations = task.get("annotations") or []
            answers[identifier] = (_annotation_label(_latest(annotations), source)
                                   if annotations else None)
    else:  # JSON_MIN: one flat row per annotated task
        rows: dict[Any, list[dict[str, Any]]] = {}
        for row in data:
            if "pool_id" not in row:
                raise ValueError(f"{source}: a row has no pool_id; it was not made from a "
                                 "modal-ibal batch.")
            rows.setdefault(row["pool_id"], []).append(row)
        for identifier, entries in rows.items():
            label = _latest(entries).get(CHOICES_NAME)
            if isinstance(label, list):
                if len(label) != 1:
                    raise ValueError(f"{source}: point {identifier!r} holds choices {label}; "
                                     "the label must be one choice.")
                label = label[0]
            answers[identifier] = label
    return pd.DataFrame({"id": list(answers), "label": list(answers.values())})
