r"""Temperature scaling chosen on the labelled set.

UHerding [1]_ calibrates the model before it weights coverage by uncertainty:
the softmax temperature :math:`T` is the one of a grid whose probabilities
:math:`\operatorname{softmax}(\phi(x) / T)` have the lowest expected
calibration error on a held-out part of the labelled set, for a copy of the
model fitted on the rest; and the Gaussian kernel's width is the smallest
distance between two distinct labelled points. :func:`select_temperature`,
:func:`tempered_probabilities` and :func:`labelled_bandwidth` are those two
pieces; :func:`modal_ibal.strategies.herding_sampling` takes them as
``temperature='calibrated'`` and ``bandwidth='labelled'``.

References
----------
.. [1] Bae, Oliveira and Sutherland, "Uncertainty Herding: One Active
   Learning Method for All Label Budgets", ICLR 2025.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np
from scipy.special import softmax
from sklearn.base import clone
from sklearn.model_selection import train_test_split

from .._utils.validation import as_numpy, check_positive_int, make_random_state
from ..readers import check_single_output, label_vector, last_layer

__all__ = [
    "DEFAULT_N_BINS",
    "DEFAULT_TEMPERATURES",
    "DEFAULT_VALIDATION_SIZE",
    "expected_calibration_error",
    "select_temperature",
    "tempered_probabilities",
]

DEFAULT_TEMPERATURES = np.logspace(-1, 1, 49)  # UHerding's grid, 0.1 .. 10
DEFAULT_VALIDATION_SIZE = 0.2
DEFAULT_N_BINS = 15


def tempered_probabilities(logits: np.ndarray, temperature: float) -> np.ndarray:
    r""":math:`\operatorname{softmax}(\phi / T)` row by row, in float64.

    Parameters
    ----------
    logits : ndarray of shape (n_samples, n_classes)
    temperature : float
        :math:`T > 0`.

    Returns
    -------
    ndarray of shape (n_samples, n_classes), float64
    """
    return softmax(np.asarray(logits, dtype=np.float64) / float(temperature), axis=1)  # [N, C]


def expected_calibration_error(probas: np.ndarray, y_index: np.ndarray, *,
                               n_bins: int = DEFAULT_N_BINS) -> float:
    r"""Expected calibration error of the top-class confidence, in equal-width bins.

    Parameters
    ----------
    probas : ndarray of shape (n_samples, n_classes)
    y_index : ndarray of shape (n_samples,)
        True classes as column indices of ``probas``.
    n_bins : int, default=15

    Returns
    -------
    float

    Notes
    -----
    .. math::  \mathrm{ECE} = \sum_b \frac{|B_b|}{n}
               \Big|\operatorname{acc}(B_b) - \operatorname{conf}(B_b)\Big|

    over bins :math:`[\frac{b}{n_{bins}}, \frac{b+1}{n_{bins}})` of the confidence
    :math:`\max_c p_c` (the last bin closed).
    """
    n_bins = check_positive_int(n_bins, "n_bins")
    confidence = probas.max(axis=1)  # [n]
    correct = (probas.argmax(axis=1) == y_index).astype(np.float64)  # [n]
    bins = np.minimum((confidence * n_bins).astype(np.int64), n_bins - 1)  # [n]
    gap = np.bincount(bins, correct, n_bins) - np.bincount(bins, confidence, n_bins)
    return float(np.abs(gap).sum() / max(1, len(confidence)))


def _check_temperatures(temperatures: Any) -> np.ndarray:
    try:
        grid = np.asarray(temperatures, dtype=np.float64).ravel()
    except (TypeError, ValueError):
        grid = np.empty(0)
    if grid.size == 0 or not np.isfinite(grid).all() or (grid <= 0).any():
        raise ValueError(
            "The 'temperatures' parameter must be a non-empty array of finite values > 0. "
            f"Got {temperatures!r} instead."
        )
    return grid


def select_temperature(
    estimator,
    X_labelled,
    y_labelled,
    *,
    temperatures: Any = DEFAULT_TEMPERATURES,
    validation_size: float = DEFAULT_VALIDATION_SIZE,
    random_state: int | np.random.RandomState | None = None,
    layer: str | None = None,
) -> float:
    r"""The temperature of the grid that calibrates a refitted copy of the model best.

    Parameters
    ----------
    estimator : fitted classifier
        Any estimator :func:`modal_ibal.readers.last_layer` reads; it is cloned,
        never changed.
    X_labelled, y_labelled : array-like
        The labelled set.
    temperatures : array-like of float, default=numpy.logspace(-1, 1, 49)
        The grid of :math:`T > 0`.
    validation_size : float, default=0.2
        Share of the labelled set held out (stratified where every class has
        two labels).
    random_state : None, int or numpy.random.RandomState, default=None
        Seeds the split.
    layer : str, optional
        Name of the final ``nn.Linear`` of a skorch module.

    Returns
    -------
    float
        The :math:`T` with the lowest :func:`expected_calibration_error` on the
        held-out labels (the first of equal ones; a held-out label of a class the
        training part lacks counts as a miss); 1.0 when the labelled set is
        too small to split (fewer than 5 points) or the training part holds a
        single class.

    Notes
    -----
    One extra fit of a clone of the model per call, on :math:`(1 - v) n` points.
    """
    grid = _check_temperatures(temperatures)
    if isinstance(validation_size, bool) or not isinstance(validation_size, numbers.Real):
        raise TypeError("The 'validation_size' parameter must be a real number in (0, 1). "
                        f"Got {validation_size!r} instead.")
    if not 0 < validation_size < 1:  # NaN fails too
        raise ValueError(
            f"The 'validation_size' parameter must be in (0, 1). Got {validation_size!r} instead."
        )
    check_single_output(estimator)
    y = label_vector(y_labelled, "y_labelled")
    if len(y) < 5:
        return 1.0
    _, counts = np.unique(y, return_counts=True)
    stratify = y if counts.min() >= 2 and len(counts) > 1 else None
    rows = np.arange(len(y))
    seed = make_random_state(random_state).randint(np.iinfo(np.int32).max)
    try:
        train, held_out = train_test_split(rows, test_size=validation_size, random_state=seed,
                                           stratify=stratify)
    except ValueError:  # too few points per class for the stratified sizes
        train, held_out = train_test_split(rows, test_size=validation_size, random_state=seed)
    if len(np.unique(y[train])) < 2 or len(held_out) == 0:
        return 1.0
    X = as_numpy(X_labelled)
    refit = clone(estimator).fit(X[train], y[train])
    reader = last_layer(refit, layer=layer)
    logits = reader.outputs(X[held_out]).logits  # [v, C]
    # a held-out label of a class the training part lacks (unstratified split) is a miss
    known = np.isin(y[held_out], reader.classes_)  # [v]
    y_index = np.full(len(held_out), -1, dtype=np.int64)  # [v]
    y_index[known] = reader.encode_labels(y[held_out][known])
    errors = [expected_calibration_error(tempered_probabilities(logits, t), y_index)
              for t in grid]  # the grid is short: one small matrix per temperature
    return float(grid[int(np.argmin(errors))])
