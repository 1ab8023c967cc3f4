"""Random sampling: the baseline every active learning strategy must beat."""

from __future__ import annotations

import numpy as np

from .._utils.validation import check_pool, make_random_state, n_samples
from ..scoring import select_lowest
from ._contract import follows_contract
from ._dask_queries import dask_uniform_query

__all__ = ["random_sampling"]


@follows_contract(dask_pool=dask_uniform_query, cold_start=True,
                  shared_options=True)
def random_sampling(
    classifier,
    X_pool,
    n_instances: int = 1,
    *,
    random_state: int | np.random.RandomState | None = None,
    X_labelled=None,
    y_labelled=None,
) -> tuple[np.ndarray, np.ndarray]:
    """Query a uniformly random batch of the pool.

    Parameters
    ----------
    {shared_parameters}

    Returns
    -------
    query_indices : ndarray of shape (n_instances,)
    query_scores : ndarray of shape (n_instances,)
        The uniform draws in :math:`[0, 1)` of the chosen points; the batch is the
        ``n_instances`` smallest draws, i.e. a uniform sample without replacement.

    Notes
    -----
    A Dask pool is never read: the draws need only its number of rows, and the
    picks are those of the same pool in memory.
    """
    X_pool, n_instances = check_pool(X_pool, n_instances)
    draws = make_random_state(random_state).random_sample(n_samples(X_pool))  # [N]
    return select_lowest(draws, n_instances)
