r"""Uncertainty sampling: entropy and margin as modAL ranks them, entropy + D.

``entropy_sampling`` and ``margin_sampling`` return what modAL's functions of the
same names return, computed from one batched forward pass over the pool instead of
skorch's per-sample ``predict_proba`` (METHOD.md section 7).
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from .._utils.validation import (
    check_pool,
)
from ..readers import DEFAULT_BATCH_SIZE, QueryInputs, fitted_estimator, pool_probabilities
from ..scoring import (
    DEFAULT_GAMMA,
    entropy_distance_scores,
    modal_entropy,
    modal_margin,
    select_highest,
    select_lowest,
)
from ..search import LabelledDistanceCache
from ._contract import follows_contract
from ._dask_queries import dask_query, dask_rowwise_query

__all__ = ["DEFAULT_GAMMA", "entropy_distance_sampling", "entropy_sampling", "margin_sampling"]


def _rank_by_probabilities(score, classifier, X_pool, n_instances, batch_size, *,
                           highest: bool) -> tuple[np.ndarray, np.ndarray]:
    """The ``n_instances`` pool points of highest (or lowest) ``score(probas)``."""
    X_pool, n_instances = check_pool(X_pool, n_instances)
    estimator = fitted_estimator(classifier)
    probas = pool_probabilities(estimator, X_pool, batch_size)
    select = select_highest if highest else select_lowest
    return select(score(probas), n_instances, warn_ties=True)


@follows_contract(dask_pool=functools.partial(dask_rowwise_query, highest=True),
                  shared_options=True)
def entropy_sampling(
    classifier,
    X_pool,
    n_instances: int = 1,
    *,
    random_state: int | np.random.RandomState | None = None,
    X_labelled=None,
    y_labelled=None,
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> tuple[np.ndarray, np.ndarray]:
    r"""Query the pool points of highest predictive entropy, as modAL's ``entropy_sampling``.

    The same scores and selection as ``modAL.uncertainty.entropy_sampling``,
    computed from one batched forward pass over the pool instead of skorch's
    per-sample ``predict_proba`` (METHOD.md section 7); scikit-learn estimators
    and pools that are not arrays use ``predict_proba`` itself.

    Parameters
    ----------
    {shared_parameters}
    batch_size : int, default=4096
        Samples per forward pass.

    Returns
    -------
    query_indices : ndarray of shape (n_instances,)
        Pool indices, highest entropy first.
    query_scores : ndarray of shape (n_instances,)
        Their entropies (modAL returns the same values, unordered).

    Notes
    -----
    .. math::  H(x_i) = -\sum_c p_{ic} \log p_{ic}

    with the natural logarithm, rows normalised to sum to 1 and :math:`0 \log 0 = 0`,
    as ``scipy.stats.entropy`` computes it for modAL.

    ``random_state``: The selection is deterministic: ties go to the lower pool index
    (modAL leaves the order of ties to ``argpartition``).
    """
    return _rank_by_probabilities(modal_entropy, classifier, X_pool,
                                  n_instances, batch_size, highest=True)


@follows_contract(dask_pool=functools.partial(dask_rowwise_query, highest=False),
                  shared_options=True)
def margin_sampling(
    classifier,
    X_pool,
    n_instances: int = 1,
    *,
    random_state: int | np.random.RandomState | None = None,
    X_labelled=None,
    y_labelled=None,
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> tuple[np.ndarray, np.ndarray]:
    r"""Query the pool points of smallest top-two margin, as modAL's ``margin_sampling``.

    The same scores and selection as ``modAL.uncertainty.margin_sampling``,
    computed from one batched forward pass over the pool (see
    :func:`entropy_sampling`).

    Parameters
    ----------
    {shared_parameters}
    batch_size
        As in :func:`entropy_sampling`.

    Returns
    -------
    query_indices : ndarray of shape (n_instances,)
        Pool indices, smallest margin first.
    query_scores : ndarray of shape (n_instances,)
        Their margins (modAL returns the same values, unordered).

    Notes
    -----
    .. math::  M(x_i) = p_{i,(1)} - p_{i,(2)}

    the gap between the two largest probabilities; zero for a one-column output,
    as in modAL.
    """
    return _rank_by_probabilities(modal_margin, classifier, X_pool,
                                  n_instances, batch_size, highest=False)


@follows_contract(dask_pool=functools.partial(dask_query, terms=("entropy", "distance"),
                                                highest=True),
                  shared_options=True)
def entropy_distance_sampling(
    classifier,
    X_pool,
    n_instances: int = 1,
    *,
    random_state: int | np.random.RandomState | None = None,
    gamma: float = DEFAULT_GAMMA,
    embedding: Any = None,
    distance_cache: LabelledDistanceCache | None = None,
    X_labelled=None,
    y_labelled=None,
    layer: str | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> tuple[np.ndarray, np.ndarray]:
    r"""The paper's baseline: highest entropy plus distance to the labelled set.

    Parameters
    ----------
    {shared_parameters}
    layer, batch_size
        As in :func:`ibal_sampling`.
    gamma, embedding
        As in :func:`ibal_distance_sampling`.
    distance_cache : LabelledDistanceCache or None, default=None
        Keeps each pool point's distance to the labelled set between rounds and
        updates it with only the newly labelled points: the same picks, at
        :math:`O(N B)` instead of :math:`O(N n)` per query, with a fixed
        ``embedding`` (see :class:`modal_ibal.LabelledDistanceCache`).

    Returns
    -------
    query_indices : ndarray of shape (n_instances,)
    query_scores : ndarray of shape (n_instances,)

    Notes
    -----
    .. math::  \arg\max_{x_i} \mathrm{Entropy}(x_i) + \gamma D(x_i)

    with the entropy divided by its maximum over the pool and :math:`D` as in
    :func:`ibal_distance_sampling`.

    ``random_state``: ignored: the selection is deterministic, ties go to the lower pool
    index.
    """
    inputs = QueryInputs.check(classifier, X_pool, n_instances, X_labelled, y_labelled)
    view = inputs.view(layer=layer, batch_size=batch_size)
    # the pool read whole only where the distance needs the model's features too
    probas = pool_probabilities(inputs.estimator, inputs.X_pool, batch_size,
                                outputs=view.pool if embedding is None else None)  # [N, C]
    scores = entropy_distance_scores(modal_entropy(probas), view, inputs.X_pool, gamma=gamma,
                                     embedding=embedding, distance_cache=distance_cache)
    return select_highest(scores, inputs.n_instances, warn_ties=True)
