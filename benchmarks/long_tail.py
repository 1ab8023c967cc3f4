r"""Long-tailed versions of digits and Fashion-MNIST, with balanced test sets.

The profile of the long-tailed literature (CIFAR-10-LT and its kin): with the
classes in a fixed shuffled order :math:`c = 0, \dots, C - 1`, class :math:`c`
keeps

.. math::  n_c = \big\lfloor n_{\max} \, \rho^{-c / (C - 1)} \big\rceil

of its training rows (at least one), so the largest class is :math:`\rho`
times the smallest. The test set stays balanced, so balanced accuracy and
accuracy agree on it and a class that never receives a label costs a full
:math:`1 / C` of recall.

- ``digits-lt50`` / ``digits-lt100``: scikit-learn's bundled digits. 50 images
  per class are held out first (a balanced test set of 500); the rest is cut to
  :math:`n_{\max} = 120`: 337 pool images at :math:`\rho = 50` (120 down to 2),
  297 at :math:`\rho = 100` (120 down to 1). The small CNN of the digits
  experiment; 10 initial labels, 10 per round, 8 rounds (up to 90 labels).
- ``fashion-mnist-lt50`` / ``fashion-mnist-lt100``: Debian's
  ``dataset-fashion-mnist``; the official training split cut to
  :math:`n_{\max} = 1000` (2,782 pool images at :math:`\rho = 50`, 2,480 at 100),
  a stratified 2,000 of the official test split (200 per class). The small CNN
  of the Fashion-MNIST experiment, 20 epochs; 20 initial labels, 20 per round,
  6 rounds (up to 140 labels).

Every seed sees the same long-tailed pool; the initial labels and the net's
seed change with it, as in the project's other experiments.
"""

from __future__ import annotations

import functools

import numpy as np

from modal_ibal.experiments._catalogue import get_experiment
from modal_ibal.experiments._specs import Dataset, ExperimentSpec

__all__ = [
    "LONG_TAILED",
    "class_sizes",
    "long_tailed_indices",
    "long_tailed_spec",
]

LONG_TAILED = ("digits-lt50", "digits-lt100", "fashion-mnist-lt50", "fashion-mnist-lt100")
_ORDER_SEED = 0  # the shuffled class order and the rows kept, the same for every seed
_DIGITS_TEST_PER_CLASS = 50
_DIGITS_MAX_CLASS = 120
_FASHION_MAX_CLASS = 1000


def class_sizes(n_classes: int, n_max: int, rho: float) -> np.ndarray:
    r"""Rows kept per class rank: :math:`\max(1, \mathrm{round}(n_{\max} \rho^{-c/(C-1)}))`.

    Parameters
    ----------
    n_classes : int
        :math:`C \ge 2`.
    n_max : int
        Rows of the largest class.
    rho : float
        Imbalance ratio :math:`\rho \ge 1`.

    Returns
    -------
    ndarray of shape (n_classes,), int64
        Non-increasing.
    """
    if n_classes < 2 or n_max < 1 or not rho >= 1:
        raise ValueError(
            "class_sizes needs n_classes >= 2, n_max >= 1 and rho >= 1. "
            f"Got n_classes={n_classes!r}, n_max={n_max!r}, rho={rho!r} instead."
        )
    ranks = np.arange(n_classes)
    return np.maximum(1, np.rint(n_max * rho ** (-ranks / (n_classes - 1)))).astype(np.int64)


def long_tailed_indices(y: np.ndarray, n_max: int, rho: float, random_state: int) -> np.ndarray:
    """Sorted row indices of a long-tailed subset of ``y`` (:func:`class_sizes`).

    The classes are ranked in an order shuffled by ``random_state``; each keeps a
    random draw of its size. Raises ``ValueError`` when a class has fewer rows
    than its size.
    """
    rng = np.random.default_rng(random_state)
    classes = np.unique(y)
    order = rng.permutation(classes)
    sizes = class_sizes(len(classes), n_max, rho)
    kept = []
    for label, size in zip(order, sizes, strict=True):
        rows = np.flatnonzero(y == label)
        if rows.size < size:
            raise ValueError(
                f"Class {label} has {rows.size} rows; the long-tailed profile asks for {size}."
            )
        kept.append(rng.choice(rows, size=size, replace=False))
    return np.sort(np.concatenate(kept))


def _balanced_holdout(y: np.ndarray, per_class: int, random_state: int) -> np.ndarray:
    """Sorted indices of ``per_class`` random rows of every class."""
    rng = np.random.default_rng(random_state)
    return np.sort(np.concatenate([
        rng.choice(np.flatnonzero(y == label), size=per_class, replace=False)
        for label in np.unique(y)
    ]))


def _load_digits_lt(data_dir: str | None, *, rho: float) -> Dataset:
    from modal_ibal.experiments._datasets import load_digits_images

    X, y = load_digits_images()
    test = _balanced_holdout(y, _DIGITS_TEST_PER_CLASS, _ORDER_SEED)
    rest = np.setdiff1d(np.arange(len(y)), test)
    kept = rest[long_tailed_indices(y[rest], _DIGITS_MAX_CLASS, rho, _ORDER_SEED)]
    return Dataset(X[kept], y[kept], X[test], y[test])


def _load_fashion_mnist_lt(data_dir: str | None, *, rho: float) -> Dataset:
    data = get_experiment("fashion-mnist").load(data_dir)
    kept = long_tailed_indices(data.y, _FASHION_MAX_CLASS, rho, _ORDER_SEED)
    return Dataset(data.X[kept], data.y[kept], data.X_test, data.y_test)


def long_tailed_spec(name: str) -> ExperimentSpec:
    """The experiment ``name``, one of :data:`LONG_TAILED`."""
    if name not in LONG_TAILED:
        raise ValueError(f"Unknown long-tailed set {name!r}; expected one of {LONG_TAILED}.")
    base, _, ratio = name.rpartition("-lt")
    rho = float(ratio)
    template = get_experiment(base)
    if base == "digits":
        load = functools.partial(_load_digits_lt, rho=rho)
        budget = {"n_initial": 10, "batch_size": 10, "n_rounds": 8, "epochs": template.epochs,
                  "test_size": None, "pool_size": None}
        sizes = f"{_DIGITS_MAX_CLASS} to {_DIGITS_MAX_CLASS / rho:.1f}"
    else:
        load = functools.partial(_load_fashion_mnist_lt, rho=rho)
        budget = {"n_initial": 20, "batch_size": 20, "n_rounds": 6, "epochs": 20,
                  "test_size": 2000, "pool_size": None}
        sizes = f"{_FASHION_MAX_CLASS} to {_FASHION_MAX_CLASS / rho:.0f}"
    return ExperimentSpec(
        name=name,
        description=f"{base} long-tailed, rho = {rho:g} (class sizes {sizes}), balanced test "
        f"set; {budget['n_initial']} initial labels, B={budget['batch_size']}, "
        f"{budget['n_rounds']} rounds",
        load=load,
        model=template.model,
        n_classes=template.n_classes,
        **budget,
    )
