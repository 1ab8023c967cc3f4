r"""Choosing :math:`\gamma` of IBAL-D (Eq. 4) on a validation split.

The paper: ":math:`\gamma` is a hyperparameter that we tune on a validation
dataset". :func:`tune_gamma` runs a short modAL loop for every candidate on the
same initial labelled sets, scores a held-out validation split after every round
and keeps the :math:`\gamma` whose learning curves have the largest mean area.

>>> search = tune_gamma(net, X_train, y_train, X_val, y_val, gammas=[0, 0.3, 1, 3],
...                     embedding=CachedEmbedding(autoencoder))          # doctest: +SKIP
>>> search.best_gamma, search.table                                      # doctest: +SKIP
"""

from __future__ import annotations

import functools
import numbers
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch
from modAL.models import ActiveLearner
from sklearn.base import clone
from sklearn.metrics import accuracy_score

from ._utils.validation import check_nonnegative_int, check_positive_int, check_samples, n_samples
from .metrics import aulc
from .strategies import ibal_distance_sampling

__all__ = ["GammaSearch", "tune_gamma"]

_SEED_BOUND = 2**32


@dataclass(frozen=True)
class GammaSearch:
    """What :func:`tune_gamma` found.

    Attributes
    ----------
    best_gamma : float
        The candidate with the largest mean validation AULC (the smallest on ties).
    table : pandas.DataFrame
        One row per candidate, sorted by ``gamma``: ``gamma``, ``mean_aulc``,
        ``std_aulc`` (over repeats, ``ddof=0``), ``final_accuracy`` (mean over
        repeats after the last round).
    curves : pandas.DataFrame
        One row per (gamma, repeat, round): ``gamma``, ``repeat``, ``round``
        (0 is the initial fit), ``n_labelled``, ``accuracy``.
    """

    best_gamma: float
    table: pd.DataFrame
    curves: pd.DataFrame


def _check_gammas(gammas: Any) -> np.ndarray:
    values = np.asarray(gammas, dtype=object).ravel() if gammas is not None else np.array([])
    ok = values.size > 0 and all(
        isinstance(g, numbers.Real) and not isinstance(g, bool) and np.isfinite(g) and g >= 0
        for g in values
    )
    if not ok or len(set(values.tolist())) != values.size:
        raise ValueError(
            "The 'gammas' parameter of tune_gamma must be a non-empty sequence of distinct, "
            f"finite numbers >= 0. Got {gammas!r} instead."
        )
    return np.sort(values.astype(np.float64))


def _fresh_estimator(estimator: Any, seed: int):
    """A clone (with ``random_state=seed`` where it has one) or ``estimator(seed)``."""
    if hasattr(estimator, "get_params"):
        model = clone(estimator)
        if "random_state" in model.get_params():
            model.set_params(random_state=seed)
        return model
    return estimator(seed)


def _run(estimator, strategy, X_train, y_train, X_val, y_val, initial, *, n_instances, n_rounds,
         seed) -> tuple[list[int], list[float]]:
    """One modAL loop; torch draws come from ``seed`` and the caller's state is restored."""
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        learner = ActiveLearner(_fresh_estimator(estimator, seed), query_strategy=strategy,
                                X_training=X_train[initial], y_training=y_train[initial])
        pool = np.setdiff1d(np.arange(n_samples(X_train)), initial)
        sizes, scores = [len(initial)], [accuracy_score(y_val, learner.predict(X_val))]
        for _ in range(n_rounds):
            chosen, _ = learner.query(X_train[pool], n_instances=n_instances)
            learner.teach(X_train[pool[chosen]], y_train[pool[chosen]])
            pool = np.delete(pool, chosen)
            sizes.append(sizes[-1] + n_instances)
            scores.append(accuracy_score(y_val, learner.predict(X_val)))
    return sizes, scores


def tune_gamma(
    estimator: Any,
    X_train,
    y_train,
    X_val,
    y_val,
    gammas: Sequence[float] = (0.0, 0.1, 0.3, 1.0, 3.0),
    *,
    strategy: Callable = ibal_distance_sampling,
    n_initial: int = 20,
    n_instances: int = 10,
    n_rounds: int = 5,
    n_repeats: int = 1,
    random_state: Any = None,
    **strategy_kwargs,
) -> GammaSearch:
    r"""Pick :math:`\gamma` by the validation AULC of short active learning runs.

    Parameters
    ----------
    estimator : estimator or callable
        An unfitted scikit-learn/skorch classifier, cloned for every run (its
        ``random_state``, if it has one, set to the run's seed), or a function
        ``seed -> unfitted classifier``.
    X_train : array-like of shape (n_train, ...)
        The pool the runs label from, with its labels ``y_train`` of shape (n_train,).
    X_val : array-like of shape (n_val, ...)
        Validation samples, scored by accuracy against ``y_val`` of shape (n_val,).
    gammas : sequence of float, default=(0, 0.1, 0.3, 1, 3)
        Candidates, distinct and >= 0.
    strategy : callable, default=ibal_distance_sampling
        A strategy with a ``gamma`` keyword (:func:`ibal_distance_sampling`,
        :func:`entropy_distance_sampling`).
    n_initial : int, default=20
        Size of the random initial labelled set.
    n_instances : int, default=10
        Points queried per round.
    n_rounds : int, default=5
        Query-and-teach rounds per run.
    n_repeats : int, default=1
        Runs per candidate, each from its own initial set.
    random_state : int, Generator or None, default=None
        Draws the initial sets and one seed per repeat. Every candidate sees the
        same initial sets and seeds (a paired comparison); torch draws inside
        each run use ``torch.random.fork_rng``, so the caller's state is kept.
    **strategy_kwargs
        Passed to ``strategy`` in every query, e.g. ``embedding=`` (wrap an
        autoencoder in :class:`~modal_ibal.embedding.CachedEmbedding` to encode
        each sample once across all runs) or ``reading=``.

    Returns
    -------
    GammaSearch
        ``best_gamma``, the per-candidate ``table`` and every learning curve.

    Notes
    -----
    The score of a run is the area under its validation-accuracy curve
    :math:`a_0, \dots, a_K` over the labelled-set sizes :math:`n_0 < \dots < n_K`,
    normalised by :math:`n_K - n_0` (trapezoid rule; a mean accuracy):

    .. math::  \mathrm{AULC} = \frac{1}{n_K - n_0} \sum_{k=1}^{K} (n_k - n_{k-1})
               \frac{a_{k-1} + a_k}{2} .

    The chosen :math:`\gamma` maximises the mean AULC over repeats.

    References
    ----------
    .. [1] Pezeshkpour, Zhao and Singh, "Data Importance-Based Active Learning for
       Limited Labels", 2020, Eq. 4.
    """
    candidates = _check_gammas(gammas)
    X_train = check_samples(X_train, "X_train")
    X_val = check_samples(X_val, "X_val")
    y_train, y_val = np.asarray(y_train), np.asarray(y_val)
    n_train = n_samples(X_train)
    if y_train.shape[0] != n_train or y_val.shape[0] != n_samples(X_val):
        raise ValueError(
            f"Each split needs one label per sample. Got {n_train} training samples with "
            f"{y_train.shape[0]} labels and {n_samples(X_val)} validation samples with "
            f"{y_val.shape[0]} labels instead."
        )
    n_initial = check_positive_int(n_initial, "n_initial")
    n_instances = check_positive_int(n_instances, "n_instances")
    n_repeats = check_positive_int(n_repeats, "n_repeats")
    n_rounds = check_nonnegative_int(n_rounds, "n_rounds")
    needed = n_initial + n_rounds * n_instances
    if needed > n_train:
        raise ValueError(
            f"The runs label n_initial + n_rounds * n_instances = {needed} samples, but "
            f"'X_train' holds only {n_train}."
        )
    rng = np.random.default_rng(random_state)
    initial_sets = [rng.choice(n_train, size=n_initial, replace=False) for _ in range(n_repeats)]
    seeds = rng.integers(_SEED_BOUND, size=n_repeats)
    rows = []
    for gamma in candidates:
        query = functools.partial(strategy, gamma=float(gamma), **strategy_kwargs)
        for repeat, (initial, seed) in enumerate(zip(initial_sets, seeds, strict=True)):
            sizes, scores = _run(estimator, query, X_train, y_train, X_val, y_val, initial,
                                 n_instances=n_instances, n_rounds=n_rounds, seed=int(seed))
            rows += [(float(gamma), repeat, k, size, score)
                     for k, (size, score) in enumerate(zip(sizes, scores, strict=True))]
    curves = pd.DataFrame(rows, columns=["gamma", "repeat", "round", "n_labelled", "accuracy"])
    runs = curves.groupby(["gamma", "repeat"], sort=True).agg(
        aulc=("accuracy", lambda a: aulc(curves.loc[a.index, "n_labelled"].to_numpy(float),
                                          a.to_numpy(float))),
        final_accuracy=("accuracy", "last"),
    )
    table = runs.groupby(level="gamma").agg(
        mean_aulc=("aulc", "mean"),
        std_aulc=("aulc", lambda a: float(np.std(a.to_numpy()))),
        final_accuracy=("final_accuracy", "mean"),
    ).reset_index()
    best = float(table["gamma"].iloc[int(np.argmax(table["mean_aulc"].to_numpy()))])
    return GammaSearch(best_gamma=best, table=table, curves=curves)
