"""The one rule from class labels to output columns.

A skorch net's output column :math:`c` is the class ``classes_[c]`` when the net
was given ``classes=``, and the label :math:`c` itself when it was not (skorch
trains ``CrossEntropyLoss`` on the labels as column indices). Every reader and
the experiments' classifier map labels through :func:`label_columns` and
:func:`column_indices`, so a label outside the model's classes fails the same
way everywhere.
"""

from __future__ import annotations

import numpy as np
from skorch.utils import to_numpy

from .._utils.validation import as_numpy

__all__ = [
    "ColumnLabels",
    "column_indices",
    "encode_labels",
    "label_columns",
    "label_vector",
    "output_classes",
]


def label_vector(y, name: str = "y_labelled") -> np.ndarray:
    """``y`` as a 1-D array of class labels, one per sample.

    Parameters
    ----------
    y : array-like of shape (n_samples,) or (n_samples, 1)
    name : str
        The parameter name used in error messages.

    Returns
    -------
    ndarray of shape (n_samples,)

    Raises
    ------
    ValueError
        For any other shape, e.g. the (n_samples, n_outputs) targets of a multi-label
        or multi-output problem: every strategy ranks single-label classes.
    """
    y = as_numpy(y)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y.ravel()
    if y.ndim != 1:
        raise ValueError(
            f"The '{name}' parameter must be a 1-D array of class labels, one per sample. Got "
            f"shape {y.shape} instead; multi-label and multi-output targets are not supported."
        )
    return y


def encode_labels(y, classes: np.ndarray, name: str = "y_labelled") -> np.ndarray:
    """Output column of each label of ``y``: its index in the model's ``classes``.

    Parameters
    ----------
    y : array-like of shape (n_samples,) or (n_samples, 1)
    classes : ndarray of shape (n_classes,)
        The model's class of each output column.
    name : str
        The parameter name used in error messages.

    Returns
    -------
    ndarray of shape (n_samples,), int64
    """
    return label_columns(label_vector(y, name), np.asarray(classes), name)


def output_classes(net, layer_name: str, n_out: int) -> np.ndarray:
    """The label of each output column of a skorch net (METHOD.md section 9).

    skorch hands ``y`` to the criterion as it is, so with ``CrossEntropyLoss`` an
    integer label ``c`` is output column ``c``: for integer labels in
    ``[0, n_out)`` every column's class is known without ``classes=``, even when
    the labelled set lacks some classes. Labels that cannot be column indices
    (strings, non-integral floats, integers out of range) need ``classes=``.
    """
    explicit = getattr(net, "classes", None)
    if explicit is not None and len(explicit):
        classes = np.asarray(explicit)
        if len(classes) != n_out:
            raise ValueError(
                f"The final nn.Linear '{layer_name}' has {n_out} outputs but the net was given "
                f"classes={classes.tolist()[:10]} ({len(classes)} classes). Pass one class per "
                "output column, in column order, or name the output layer with layer=..."
            )
        return classes
    seen = np.asarray(getattr(net, "classes_inferred_", np.arange(n_out)))
    integral = seen.dtype.kind in "iub" or (
        seen.dtype.kind == "f" and bool(np.all(np.isfinite(seen) & (seen == np.round(seen))))
    )
    if not integral or (seen.size and (seen.min() < 0 or seen.max() >= n_out)):
        raise ValueError(
            f"The net was trained on labels {seen.tolist()[:10]}, which are not output "
            f"columns of its final nn.Linear '{layer_name}' (integers in [0, {n_out})). Pass "
            "classes=[...] (every class, in output-column order) to NeuralNetClassifier, or "
            "name the output layer with layer=... if this is not it."
        )
    return np.arange(n_out)


def label_columns(y: np.ndarray, classes: np.ndarray, name: str = "y") -> np.ndarray:
    """The output column of each label in ``y``: its index in ``classes`` (distinct), as int64.

    Vectorised: the classes are sorted once and every label found by binary search.
    """
    order = np.argsort(classes, kind="stable")
    ordered = classes[order]
    try:
        at = np.minimum(np.searchsorted(ordered, y), len(ordered) - 1)  # [n]
        known = ordered[at] == y  # [n]
    except TypeError:  # labels that do not compare with the classes, e.g. str and int
        at, known = None, np.zeros(len(y), dtype=bool)
    if not known.all():
        unknown = sorted({str(label) for label in y[~known].tolist()})
        raise ValueError(
            f"The '{name}' parameter holds labels {unknown[:5]} that are not among the model's "
            f"classes {classes.tolist()[:10]}. Labels must be among the classes the model was "
            "fitted with; for a skorch net, pass classes=[...] listing every class, sorted as "
            "numpy.unique returns them."
        )
    return order[at].astype(np.int64)


def column_indices(y: np.ndarray, n_outputs: int | None) -> np.ndarray:
    """Labels that are output columns themselves (ints, bools, integral floats) as int64."""
    if y.dtype.kind == "f":
        integral = np.isfinite(y) & (y == np.floor(y))
        if not integral.all():
            _raise_not_columns(y[~integral])
    elif y.dtype.kind not in "biu":
        _raise_not_columns(y)
    columns = y.astype(np.int64)
    if len(columns) == 0:
        return columns
    low, high = int(columns.min()), int(columns.max())
    if low < 0:
        _raise_outside(low, "labels are never negative")
    if n_outputs is not None and high >= n_outputs:
        _raise_outside(high, f"the module has {n_outputs} outputs")
    return columns


def _raise_outside(label: int, reason: str) -> None:
    raise ValueError(
        f"The 'y' parameter holds the label {label}, but {reason}: without classes=, a label "
        "is the index of its output column, 0, 1, ..., C - 1. Pass classes=[...] listing "
        "every class to train on other labels."
    )


def _raise_not_columns(labels: np.ndarray) -> None:
    shown = sorted({str(label) for label in labels[:100].tolist()})[:5]
    raise ValueError(
        f"The 'y' parameter holds labels such as {shown} that are not output column indices. "
        "Without classes=, label c trains output column c of the loss (CrossEntropyLoss), so y "
        "must hold the ints 0, 1, ..., C - 1; to train on other labels (strings, floats), pass "
        "classes=[...] listing every class, e.g. make_classifier(..., classes=[...])."
    )


class ColumnLabels:
    """Target extractor for skorch scoring: output-column indices back to their class labels."""

    def __init__(self, classes: np.ndarray):
        self.classes = classes

    def __call__(self, y) -> np.ndarray:
        return self.classes[to_numpy(y)]
