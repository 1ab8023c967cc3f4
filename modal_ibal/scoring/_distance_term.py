r"""The distance term of IBAL-D (Eq. 4) and its trade-off.

.. math::  s(x_i) = \frac{I(x_i)}{\max_j I(x_j)} - \gamma \frac{D(x_i)}{\max_j D(x_j)}  \quad (4)

with :math:`D` the distance to the nearest labelled point in an embedding (Eq. 3,
:mod:`modal_ibal.search._nearest_labelled`); the lowest score is queried. Entropy +
D swaps :math:`I` for the predictive entropy and takes the highest.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..embedding import embed
from ..readers import LabelledView
from ..search import LabelledDistanceCache, nearest_labelled_distance
from ._importance import representer_importance
from ._representer import DEFAULT_READING

__all__ = [
    "DEFAULT_GAMMA",
    "check_distance_cache",
    "entropy_distance_scores",
    "ibal_distance_scores",
    "labelled_distance",
    "normalise_by_max",
]

DEFAULT_GAMMA = 1.0  # gamma of Eq. 4; 1.0 measured best on a synthetic validation split


def check_distance_cache(distance_cache: Any) -> LabelledDistanceCache | None:
    """``distance_cache``, a :class:`~modal_ibal.search.LabelledDistanceCache` or None."""
    if distance_cache is not None and not isinstance(distance_cache, LabelledDistanceCache):
        raise TypeError(
            "The 'distance_cache' parameter must be a LabelledDistanceCache or None. Got "
            f"{type(distance_cache).__name__} instead."
        )
    return distance_cache


def labelled_distance(
    view: LabelledView,
    X_pool,
    embedding: Any = None,
    distance_cache: LabelledDistanceCache | None = None,
) -> np.ndarray:
    r"""Normalised nearest-labelled distance :math:`D(x_i) / \max_j D(x_j)` (Eq. 3).

    Parameters
    ----------
    view : LabelledView
    X_pool : array-like of shape (n_pool, ...)
    embedding : transformer, callable or None, default=None
        None uses the classifier's penultimate features; otherwise see
        :func:`modal_ibal.embedding.embed`.
    distance_cache : LabelledDistanceCache or None, default=None
        Keeps the distances between rounds and updates them with only the newly
        labelled points (the same result as a full search). It pays with a fixed
        embedding (an autoencoder), whose codes do not change between rounds.

    Returns
    -------
    ndarray of shape (n_pool,), values in [0, 1]
    """
    check_distance_cache(distance_cache)
    search = (nearest_labelled_distance if distance_cache is None
              else distance_cache.nearest_labelled_distance)
    if embedding is None:
        codes_pool, codes_labelled = view.pool.features, view.labelled.features
        if not (np.isfinite(codes_pool).all() and np.isfinite(codes_labelled).all()):
            raise ValueError(
                "The model's penultimate features hold NaN or infinite values; check the "
                "model (a diverged fit?) and the samples."
            )
    else:
        codes_pool, codes_labelled = embed(embedding, X_pool), embed(embedding, view.X_labelled)
    return normalise_by_max(search(codes_pool, codes_labelled))


def ibal_distance_scores(
    view: LabelledView,
    X_pool,
    *,
    gamma: float = DEFAULT_GAMMA,
    embedding: Any = None,
    reading: str = DEFAULT_READING,
    reg_lambda: float | None = None,
    exact: bool = False,
    distance_cache: LabelledDistanceCache | None = None,
) -> np.ndarray:
    r"""IBAL-D scores (Eq. 4): normalised importance minus :math:`\gamma` times normalised distance.

    Parameters
    ----------
    view : LabelledView
    X_pool : array-like of shape (n_pool, ...)
    gamma : float, default=1.0
        :math:`\gamma \ge 0` (validated by the caller).
    embedding, reading, reg_lambda, exact, distance_cache
        As in :func:`modal_ibal.strategies.ibal_distance_sampling`.

    Returns
    -------
    ndarray of shape (n_pool,)
        The query takes the smallest (Eq. 5).
    """
    # the distance first: on the model's features it reads the whole pool, which the
    # importance then reuses instead of streaming the pool through the model again
    distance = labelled_distance(view, X_pool, embedding, distance_cache)
    importance = representer_importance(view, reading=reading, reg_lambda=reg_lambda, exact=exact)
    return normalise_by_max(importance) - gamma * distance


def entropy_distance_scores(
    entropy: np.ndarray,
    view: LabelledView,
    X_pool,
    *,
    gamma: float = DEFAULT_GAMMA,
    embedding: Any = None,
    distance_cache: LabelledDistanceCache | None = None,
) -> np.ndarray:
    r"""The paper's entropy + D baseline: normalised entropy plus :math:`\gamma` times normalised distance.

    Parameters
    ----------
    entropy : ndarray of shape (n_pool,)
        :func:`modal_entropy` of the pool.
    view : LabelledView
    X_pool : array-like of shape (n_pool, ...)
    gamma : float, default=1.0
    embedding, distance_cache
        As in :func:`labelled_distance`.

    Returns
    -------
    ndarray of shape (n_pool,)
        The query takes the largest.
    """
    distance = labelled_distance(view, X_pool, embedding, distance_cache)
    return normalise_by_max(entropy) + gamma * distance


def normalise_by_max(values: np.ndarray) -> np.ndarray:
    """Divide by the largest absolute value (paper: "divided by the maximum value").

    Parameters
    ----------
    values : ndarray of shape (n_pool,)

    Returns
    -------
    ndarray of shape (n_pool,), float64
        ``values / max(|values|)``; an all-zero input stays zero rather than
        dividing by zero.
    """
    values = np.asarray(values, dtype=np.float64)
    largest = np.abs(values).max() if values.size else 0.0
    return values / largest if largest > 0 else np.zeros_like(values)
