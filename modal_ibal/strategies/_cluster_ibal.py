r"""Coverage-aware IBAL: TypiClust's clusters, IBAL's disagreement inside each.

Plain IBAL has no coverage term: its batch piles onto one region of the data and,
with few labels, falls below random. TypiClust covers the data but ignores the
model. :func:`ibal_cluster_sampling` keeps TypiClust's clustering and lets the
IBAL score choose *within* each uncovered cluster, softly: a typical point that
disagrees with the labelled set beats an equally typical one that agrees. The
clustering and the typicality are the very code of
:func:`modal_ibal.strategies.typiclust_sampling`, so ``beta=0`` is TypiClust.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.stats import rankdata

from .._utils.validation import (
    check_scores,
    make_random_state,
)
from ..coverage import DEFAULT_MAX_CLUSTER_SAMPLES, TYPICALITY_N_NEIGHBORS, typical_picks
from ..embedding import query_codes
from ..readers import DEFAULT_BATCH_SIZE, QueryInputs
from ..scoring import DEFAULT_READING, ranking_keys, representer_importance
from ._contract import follows_contract

DEFAULT_BETA = 1.0

__all__ = ["disagreement_ranks", "ibal_cluster_sampling"]


def disagreement_ranks(scores: np.ndarray) -> np.ndarray:
    r"""Ranks of disagreement scores scaled to :math:`[0, 1]`, 0 for the largest.

    Parameters
    ----------
    scores : ndarray of shape (m,)
        :math:`s_i` of the pool members of one cluster; larger disagrees more.

    Returns
    -------
    ndarray of shape (m,)
        :math:`r_i = (\mathrm{rank}_i - 1) / (m - 1)` with rank 1 for the largest
        score; tied scores (equal at 24 significant bits, as every score is compared:
        :func:`modal_ibal.scoring.ranking_keys`) share the best (smallest)
        rank; a single member gets 0.
    """
    scores = np.asarray(scores, dtype=np.float64)
    if scores.size < 2:
        return np.zeros(scores.size)
    return (rankdata(-ranking_keys(scores), method="min") - 1.0) / (scores.size - 1)


@follows_contract(shared_options=True)
def ibal_cluster_sampling(
    classifier,
    X_pool,
    n_instances: int = 1,
    *,
    beta: float = DEFAULT_BETA,
    representation: Any = "inputs",
    n_neighbors: int = TYPICALITY_N_NEIGHBORS,
    reading: str = DEFAULT_READING,
    random_state: int | np.random.RandomState | None = None,
    max_cluster_samples: int = DEFAULT_MAX_CLUSTER_SAMPLES,
    X_labelled=None,
    y_labelled=None,
    layer: str | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> tuple[np.ndarray, np.ndarray]:
    r"""Query typical points of uncovered clusters, preferring those IBAL ranks as disagreeing.

    Parameters
    ----------
    {shared_parameters}
    beta : float, default=1.0
        :math:`\beta \ge 0`, the strength of the IBAL preference; 0 is TypiClust.
    representation : {'inputs', 'features'}, transformer or callable, default='inputs'
        The space clustered: raw inputs flattened, the model's penultimate
        features, or an embedding such as a fitted autoencoder.
    n_neighbors : int, default=20
        Neighbours for the typicality.
    reading : str, default='target'
        The IBAL reading (:mod:`modal_ibal.scoring._representer`); the score is its negation.
    max_cluster_samples : int, default=20000
        As in :func:`modal_ibal.strategies.typiclust_sampling`: the sample the
        clustering is fitted on (up to 50 clusters) or the free centers are drawn
        from (beyond) when the pool is larger.
    layer : str, optional
        Name of the final ``nn.Linear`` of a skorch module.
    batch_size : int, default=4096
        Samples per forward pass.

    Returns
    -------
    query_indices : ndarray of shape (n_instances,)
        Pool indices in pick order (largest uncovered cluster first).
    query_scores : ndarray of shape (n_instances,)
        :math:`\tau_i \exp(-\beta r_i)` of each pick.

    Notes
    -----
    1. Score: :math:`s_i = -\mathrm{IBAL}(x_i)` (Eq. 2, the ``'target'`` reading
       :math:`\kappa (g_{i\hat y} - p_i^\top g_i)` by default), so a large
       :math:`s_i` disagrees most with the labelled set (IBAL's argmin).
    2. Cluster labelled + pool with k-means++ into :math:`K = n + B` clusters; drop
       the clusters holding a labelled point and keep the :math:`B` largest of the
       rest (as :func:`modal_ibal.strategies.typiclust_sampling`: KMeans up to 50
       clusters, beyond that the labelled points as the covered centers and
       :math:`B` free centers seeded from them).
    3. In each kept cluster pick

    .. math::  \arg\max_i\; \tau_i \, e^{-\beta r_i},

    with :math:`\tau_i` the typicality (:func:`modal_ibal.coverage._clusters.typicality`)
    and :math:`r_i \in [0, 1]` the within-cluster rank of :math:`s_i`, 0 for the
    most disagreeing (:func:`disagreement_ranks`). At :math:`\beta = 0` the weight
    is exactly 1 and the query equals TypiClust's with the same ``random_state``
    and representation; :math:`\beta \to \infty` picks the most disagreeing point
    of each cluster. The rank, not the raw score, makes :math:`\beta` independent
    of the model's scale.

    ``random_state``: Seeds the k-means++ clustering.

    References
    ----------
    .. [1] Pezeshkpour, Zhao and Singh, "Data Importance-Based Active Learning for
       Limited Labels", 2020, Eq. 2.
    .. [2] Hacohen, Dekel and Weinshall, "Active Learning on a Budget: Opposite
       Strategies Suit High and Low Budgets", ICML 2022.
    """
    inputs = QueryInputs.check(classifier, X_pool, n_instances, X_labelled, y_labelled)
    view = inputs.view(layer=layer, batch_size=batch_size)
    # before the importance, which reuses the features
    Z_labelled, Z_pool = query_codes(inputs, representation, layer=layer, batch_size=batch_size)
    disagreement = check_scores(-representer_importance(view, reading=reading), "IBAL")  # [N]

    def preference(members: np.ndarray) -> np.ndarray:
        return np.exp(-beta * disagreement_ranks(disagreement[members]))  # [m]

    return typical_picks(Z_labelled, Z_pool, inputs.n_instances, make_random_state(random_state),
                          n_neighbors=n_neighbors, max_cluster_samples=max_cluster_samples,
                          preference=preference)
