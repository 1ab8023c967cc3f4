r"""IBAL and IBAL-D: the paper's query strategies (Eq. 2 and Eq. 4-5).

>>> learner = ActiveLearner(estimator=net, query_strategy=ibal_distance_sampling,
...                         X_training=X0, y_training=y0)        # doctest: +SKIP
>>> indices, pool_rows = learner.query(X_pool, n_instances=10)  # doctest: +SKIP

Configure them with ``functools.partial`` or keyword arguments to ``query``.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from ..readers import DEFAULT_BATCH_SIZE, QueryInputs
from ..scoring import (
    DEFAULT_GAMMA,
    DEFAULT_READING,
    ibal_distance_scores,
    representer_importance,
    select_lowest,
)
from ..search import LabelledDistanceCache
from ._contract import follows_contract
from ._dask_queries import dask_query

__all__ = ["ibal_distance_sampling", "ibal_sampling"]


@follows_contract(dask_pool=functools.partial(dask_query, terms=("importance",)),
                  shared_options=True)
def ibal_sampling(
    classifier,
    X_pool,
    n_instances: int = 1,
    *,
    random_state: int | np.random.RandomState | None = None,
    reading: str = DEFAULT_READING,
    reg_lambda: float | None = None,
    exact: bool = False,
    X_labelled=None,
    y_labelled=None,
    layer: str | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> tuple[np.ndarray, np.ndarray]:
    r"""Query the pool points of lowest aggregate importance on the labelled set (IBAL).

    Parameters
    ----------
    {shared_parameters}
    reading : str, default='target'
        The reading of Eq. 2 (:mod:`modal_ibal.scoring._representer`).
    reg_lambda : float, optional
        L2 strength :math:`\lambda`; see :func:`representer_importance`.
    exact : bool, default=False
        Refit the last layer with L2 so that Eq. 1 holds exactly.
    layer : str, optional
        Name of the final ``nn.Linear`` of a skorch module.
    batch_size : int, default=4096
        Samples per forward pass.

    Returns
    -------
    query_indices : ndarray of shape (n_instances,)
        Pool indices, lowest score first.
    query_scores : ndarray of shape (n_instances,)
        Their IBAL scores.

    Notes
    -----
    .. math::  \arg\min_{x_i} \mathrm{IBAL}(x_i) = \arg\min_{x_i} \sum_{x_t \in L}
               \sum_{y \in C} p(y|x_i)\, k(x_t, x_i, \alpha_i|y)   \quad (2)

    The batch is the :math:`B` smallest scores; ties go to the lower pool index.

    ``random_state``: ignored: the selection is deterministic, ties go to the lower pool
    index.

    References
    ----------
    .. [1] Pezeshkpour, Zhao and Singh, "Data Importance-Based Active Learning for
       Limited Labels", 2020, Eq. 2.
    """
    inputs = QueryInputs.check(classifier, X_pool, n_instances, X_labelled, y_labelled)
    view = inputs.view(layer=layer, batch_size=batch_size)
    scores = representer_importance(view, reading=reading, reg_lambda=reg_lambda, exact=exact)
    return select_lowest(scores, inputs.n_instances, warn_ties=True)


@follows_contract(dask_pool=functools.partial(dask_query, terms=("importance", "distance")),
                  shared_options=True)
def ibal_distance_sampling(
    classifier,
    X_pool,
    n_instances: int = 1,
    *,
    random_state: int | np.random.RandomState | None = None,
    gamma: float = DEFAULT_GAMMA,
    embedding: Any = None,
    distance_cache: LabelledDistanceCache | None = None,
    reading: str = DEFAULT_READING,
    reg_lambda: float | None = None,
    exact: bool = False,
    X_labelled=None,
    y_labelled=None,
    layer: str | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> tuple[np.ndarray, np.ndarray]:
    r"""Query by importance traded against distance to the labelled set (IBAL-D, Eq. 4-5).

    Parameters
    ----------
    {shared_parameters}
    reading, reg_lambda, exact, layer, batch_size
        As in :func:`ibal_sampling`.
    gamma : float, default=1.0
        Weight :math:`\gamma \ge 0` of the distance; tune it with validation data.
    embedding : transformer, callable or None, default=None
        The latent space of :math:`D`: a fitted transformer (e.g. an autoencoder),
        a callable, or None for the classifier's own penultimate features.
    distance_cache : LabelledDistanceCache or None, default=None
        Keeps each pool point's distance to the labelled set between rounds and
        updates it with only the newly labelled points: the same picks, at
        :math:`O(N B)` instead of :math:`O(N n)` per query, with a fixed
        ``embedding`` (see :class:`modal_ibal.LabelledDistanceCache`).

    Returns
    -------
    query_indices : ndarray of shape (n_instances,)
    query_scores : ndarray of shape (n_instances,)
        Their IBAL-D scores.

    Notes
    -----
    Both terms are normalised over the pool so that :math:`\gamma` means the same
    on every model: IBAL is divided by :math:`\max_j |\mathrm{IBAL}(x_j)|` and
    :math:`D` by :math:`\max_j D(x_j)` (the paper normalises :math:`D` only).

    .. math::  \mathrm{IBAL\text{-}D}(x_i) = \mathrm{IBAL}(x_i) - \gamma D(x_i)   \quad (4)

    .. math::  \arg\min_{x_i} \mathrm{IBAL\text{-}D}(x_i)   \quad (5)

    ``random_state``: ignored: the selection is deterministic, ties go to the lower pool
    index.
    """
    inputs = QueryInputs.check(classifier, X_pool, n_instances, X_labelled, y_labelled)
    view = inputs.view(layer=layer, batch_size=batch_size)
    scores = ibal_distance_scores(view, inputs.X_pool, gamma=gamma, embedding=embedding,
                                  reading=reading, reg_lambda=reg_lambda, exact=exact,
                                  distance_cache=distance_cache)
    return select_lowest(scores, inputs.n_instances, warn_ties=True)
