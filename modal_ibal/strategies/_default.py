r"""The one strategy to use without reading tables: class-balanced, cluster-concave kernel herding.

Kernel herding weighted by margin uncertainty (UHerding-style), with three changes
that let it find rare classes without being told the class balance: the coverage
of each k-means cluster counts through its square root, so the first label in an
uncovered cluster is worth more than more coverage of a covered one
(:mod:`modal_ibal.coverage._concave`); each margin weight is divided by the pool
share of the point's predicted class, so points the model files under a rarely
predicted class keep their worth
(:func:`modal_ibal.scoring.class_balanced_margin_weights`); and signed
codes are compared in their own Euclidean geometry rather than on the unit sphere
(``normalize_rows='auto'`` of :func:`modal_ibal.herding_sampling`). Chosen by measurement
(``python -m benchmarks.rare_classes``, 10 paired seeds, scikit-activeml 1.0.1
beside it; numbers in ``benchmarks/README.md``). It starts from zero labels: with
no fitted model the weights are 1 and the first batch is pure coverage; when the
weights carry nothing (a saturated model) the batch goes on unweighted, with a
warning.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from ..readers import DEFAULT_BATCH_SIZE
from ._contract import follows_contract
from ._dask_herding import dask_herding_query
from ._herding import herding_sampling

__all__ = ["DEFAULT_HERDING", "default_sampling"]

# herding_sampling's options that make the default
DEFAULT_HERDING = {"weights": "balanced-margin", "normalize_rows": "auto",
                   "concave_clusters": True}


@follows_contract(dask_pool=functools.partial(dask_herding_query, **DEFAULT_HERDING),
                  cold_start=True, shared_options=True)
def default_sampling(
    classifier,
    X_pool,
    n_instances: int = 1,
    *,
    random_state: int | np.random.RandomState | None = None,
    representation: Any = "inputs",
    X_labelled=None,
    y_labelled=None,
    layer: str | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> tuple[np.ndarray, np.ndarray]:
    r"""Query by class-balanced, margin-weighted kernel coverage, concave in each cluster.

    Parameters
    ----------
    {shared_parameters}
    representation : {'inputs', 'features'}, transformer or callable, default='inputs'
        The space covered (as in :func:`herding_sampling`).
    layer : str, optional
        Name of the final ``nn.Linear`` of a skorch module.
    batch_size : int, default=4096
        Samples per forward pass.

    Returns
    -------
    query_indices : ndarray of shape (n_instances,)
        Pool indices in pick order.
    query_scores : ndarray of shape (n_instances,)
        The weighted coverage gain of each pick.

    Notes
    -----
    :func:`herding_sampling` with ``weights='balanced-margin'``,
    ``normalize_rows='auto'`` and ``concave_clusters=True`` (:data:`DEFAULT_HERDING`),
    :math:`k = 20` neighbours and the median 20th-neighbour distance as the kernel
    width. Each pick raises

    .. math::  F(S) = \sum_{g} \sqrt{\sum_{x \in g} w(x) \max_{s \in L \cup S} k(x, s)},
               \qquad w(x) = \frac{1 - (p_{x,(1)} - p_{x,(2)})}{C\, f_{\hat y(x)}},

    the most, over :math:`K = \min(n + B, 50)` k-means clusters :math:`g` of the
    labelled and pool codes (:func:`modal_ibal.coverage.herding_graph`).
    Plain coverage (the sum without the roots) is worth the mass a pick covers,
    so a small, isolated group waits until the large ones are covered: on the
    benchmark's imbalanced sets the root is what finds the rare classes. Codes
    are scaled to unit rows only when none is negative (pixels, counts, ReLU
    features); signed codes (standardised measurements) keep their norms, which
    tell far-out points, often a rare class, from common ones in the same
    direction. :math:`f_c` is the share of the pool predicted as class :math:`c`
    (1/C when the predictions are balanced, where the weights are the margin
    weights): a model that is confidently wrong about a rare class files its
    points under a common class, but the points it does file under a rare class
    weigh more.

    With no labelled set and an unfitted model (``ActiveLearner(estimator=net,
    query_strategy=default_sampling)`` before any ``teach``) every weight is 1: the
    batch is MaxHerding's pure coverage of the inputs. When no unpicked point gains
    weighted coverage (every margin 0: a saturated model) the rest of the batch is
    unweighted, with an :class:`~modal_ibal.coverage.UninformativeWeightsWarning`.

    UHerding's calibration recipe (a temperature chosen on the labelled set, the
    kernel width read off it) was measured against these defaults and not
    adopted; :func:`herding_sampling` offers both as options.

    A ``dask.array`` pool is read on the workers
    (:func:`modal_ibal.strategies._dask_herding.dask_herding_query`), with the picks of the
    same pool in memory up to the rounding its notes describe.

    ``random_state`` seeds the k-means of the clusters (None: seed 0, so that a
    query repeated on the same pool and labels gives the same batch); the greedy
    is deterministic, ties to the lower pool index. Up to 10,000
    labelled + pool points the neighbour graph comes from an exact search; above,
    from the inverted-file search of :func:`modal_ibal.search.nearest_neighbours`,
    :math:`O(M \cdot 512 \cdot d)`, or from the exact search where that finds fewer
    than 80% of the true neighbours of 256 sampled points (see :func:`herding_sampling`).
    """
    return herding_sampling(classifier, X_pool, n_instances, random_state=random_state,
                            representation=representation, **DEFAULT_HERDING,
                            X_labelled=X_labelled, y_labelled=y_labelled, layer=layer,
                            batch_size=batch_size)
