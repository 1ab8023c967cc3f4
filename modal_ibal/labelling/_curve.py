"""The learning curve of a labelling loop on a labelled validation set: one refit per teach step."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import accuracy_score, balanced_accuracy_score

from .._utils.atomic import open_atomic
from ._loop import LabellingLoop

__all__ = ["learning_curve", "write_learning_curve"]


def learning_curve(loop: LabellingLoop, X_valid, y_valid) -> pd.DataFrame:
    """Accuracy and balanced accuracy after each teach step, the model refitted on its labels.

    Returns
    -------
    pandas.DataFrame
        Columns ``step``, ``n_labelled``, ``accuracy``, ``balanced_accuracy`` (NaN
        while fewer than two classes are labelled).
    """
    X_valid = np.asarray(X_valid, dtype=loop.pool.X.dtype)  # a float32 net predicts float32
    if X_valid.ndim != 2 or X_valid.shape[1] != loop.pool.X.shape[1]:
        raise ValueError(f"The validation features must have the pool's "
                         f"{loop.pool.X.shape[1]} columns. Got shape {X_valid.shape}.")
    y_valid = np.asarray(y_valid).astype(str)
    rows = []
    for step in range(1, loop.step + 1):
        n_labelled = sum(taught <= step for taught in loop.taught_at.values())
        if n_labelled == 0:
            continue
        model = loop.fitted_model(step)
        if model is None:
            rows.append((step, n_labelled, np.nan, np.nan))
            continue
        predicted = model.predict(X_valid).astype(str)
        rows.append((step, n_labelled, accuracy_score(y_valid, predicted),
                     balanced_accuracy_score(y_valid, predicted)))
    return pd.DataFrame(rows, columns=["step", "n_labelled", "accuracy", "balanced_accuracy"])


def write_learning_curve(path: str | os.PathLike, curve: pd.DataFrame, title: str = "") -> Path:
    """The curve as a PNG, written atomically."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(5.5, 3.6))
    axis.plot(curve["n_labelled"], curve["accuracy"], "o-", label="accuracy")
    axis.plot(curve["n_labelled"], curve["balanced_accuracy"], "s--", label="balanced accuracy")
    axis.set_xlabel("labels")
    axis.set_ylabel("validation score")
    axis.set_title(title or "learning curve")
    axis.legend(loc="lower right")
    figure.tight_layout()
    with open_atomic(path, "wb") as stream:
        figure.savefig(stream, format="png", dpi=110)
    plt.close(figure)
    return Path(path)
