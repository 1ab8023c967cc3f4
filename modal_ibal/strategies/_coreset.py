r"""Core-set sampling: greedy k-center around the labelled set.

References
----------
.. [1] Sener and Savarese, "Active Learning for Convolutional Neural Networks:
   A Core-Set Approach", ICLR 2018.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..embedding import embed
from ..readers import DEFAULT_BATCH_SIZE, QueryInputs
from ..scoring import select_highest
from ..search import nearest_labelled_distance
from ._contract import follows_contract

__all__ = ["coreset_sampling"]


def _kcenter_greedy(
    Z_pool: np.ndarray, nearest: np.ndarray, n_instances: int
) -> tuple[np.ndarray, np.ndarray]:
    """Greedy k-center: repeatedly take the point farthest from every center so far.

    ``nearest`` holds each pool point's distance to the nearest center (the
    labelled set) and is updated in place; cost :math:`O(N B d)`, memory :math:`O(N)`.
    """
    norms = np.einsum("ij,ij->i", Z_pool, Z_pool)  # [N]
    picks, radii = [], []
    for _ in range(n_instances):
        (pick,), (radius,) = select_highest(nearest, 1)
        picks.append(pick)
        radii.append(radius)
        squared = norms + norms[pick] - 2.0 * (Z_pool @ Z_pool[pick])  # [N]
        np.minimum(nearest, np.sqrt(np.maximum(squared, 0.0)), out=nearest)
        nearest[picks] = -1.0  # never again, even among duplicates
    return np.asarray(picks, dtype=np.int64), np.asarray(radii)


@follows_contract(shared_options=True)
def coreset_sampling(
    classifier,
    X_pool,
    n_instances: int = 1,
    *,
    random_state: int | np.random.RandomState | None = None,
    embedding: Any = None,
    X_labelled=None,
    y_labelled=None,
    layer: str | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> tuple[np.ndarray, np.ndarray]:
    r"""Query a k-center core-set of the pool around the labelled set (Sener and Savarese).

    Parameters
    ----------
    {shared_parameters}
    embedding : transformer, callable or None, default=None
        The space of the distances: None for the model's penultimate features, else
        see :func:`modal_ibal.embedding.embed`.
    layer : str, optional
        Name of the final ``nn.Linear`` of a skorch module.
    batch_size : int, default=4096
        Samples per forward pass.

    Returns
    -------
    query_indices : ndarray of shape (n_instances,)
        Pool indices in the order they were picked.
    query_scores : ndarray of shape (n_instances,)
        Each pick's distance to the nearest labelled or earlier-picked point when it
        was picked (non-increasing).

    Notes
    -----
    The greedy 2-approximation of the k-center problem:

    .. math::  u = \arg\max_{i \in U} \min_{j \in L \cup S} \lVert z_i - z_j \rVert_2,
               \qquad S \leftarrow S \cup \{u\}

    The minimum-distance vector starts from
    :func:`modal_ibal.search.nearest_labelled_distance` (chunked) and is updated
    with one matrix-vector product per pick: :math:`O(N (n + B) d)` time,
    :math:`O(N)` extra memory, no :math:`N \times n` matrix.

    ``random_state``: Greedy k-center is deterministic; ties go to the lower pool index.
    """
    inputs = QueryInputs.check(classifier, X_pool, n_instances, X_labelled, y_labelled)
    if embedding is None:
        view = inputs.view(layer=layer, batch_size=batch_size)
        Z_labelled, Z_pool = view.labelled.features, view.pool.features
    else:
        Z_labelled = embed(embedding, inputs.X_labelled)
        Z_pool = embed(embedding, inputs.X_pool)
    Z_pool = np.asarray(Z_pool, dtype=np.float64)
    nearest = nearest_labelled_distance(Z_pool, Z_labelled)  # [N]
    return _kcenter_greedy(Z_pool, nearest, inputs.n_instances)
