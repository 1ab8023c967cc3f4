"""Budget-aware IBAL: coverage while labels are few, importance and distance after.

In the low-budget regime picking typical, covering points beats uncertainty
(Hacohen et al. 2022); once every class has some labels, informative points win.
The measured learning curves of this project cross in the same way: on digits
cluster-IBAL leads IBAL-D up to about 10 labels per class and IBAL-D leads after.
:func:`ibal_budget_switch_sampling` switches between the two at a budget given in
labels per class.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..readers import last_layer, resolve_labelled_set
from ._cluster_ibal import ibal_cluster_sampling
from ._contract import follows_contract
from ._ibal import ibal_distance_sampling

DEFAULT_LABELS_PER_CLASS = 10

__all__ = ["DEFAULT_LABELS_PER_CLASS", "ibal_budget_switch_sampling"]


def check_strategy(strategy: Any, name: str) -> Callable:
    """A query strategy: anything callable as modAL calls one."""
    if not callable(strategy):
        raise TypeError(f"The '{name}' parameter must be a query strategy (a callable). Got "
                        f"{strategy!r} instead.")
    return strategy


@follows_contract(parameters={"early": check_strategy, "late": check_strategy},
                  shared_options=True)
def ibal_budget_switch_sampling(
    classifier,
    X_pool,
    n_instances: int = 1,
    *,
    labels_per_class: int = DEFAULT_LABELS_PER_CLASS,
    early: Callable = ibal_cluster_sampling,
    late: Callable = ibal_distance_sampling,
    random_state=None,
    X_labelled=None,
    y_labelled=None,
    **kwargs,
) -> tuple[np.ndarray, np.ndarray]:
    r"""Cluster-IBAL below a budget of ``labels_per_class`` labels per class, IBAL-D from it on.

    Parameters
    ----------
    {shared_parameters}
    labels_per_class : int, default=10
        The switch: ``early`` runs while the labelled set holds fewer than
        ``labels_per_class * n_classes`` points, ``late`` from then on
        (``n_classes`` is the model's number of classes). Chosen on digits, where
        the two strategies' curves cross at about 100 labels for 10 classes.
    early, late : callable, default=ibal_cluster_sampling, ibal_distance_sampling
        modAL strategies; they follow the strategy contract (:mod:`modal_ibal.strategies._contract`).
    **kwargs
        Passed to the chosen strategy.

    Returns
    -------
    query_indices : ndarray of shape (n_instances,)
    query_scores : ndarray of shape (n_instances,)
        The chosen strategy's scores.

    Notes
    -----
    .. math::  \text{query} = \begin{cases} \text{cluster-IBAL} & |L| < k\,C \\
               \arg\min_{x_i} \mathrm{IBAL}(x_i) - \gamma D(x_i)  \;\; (5) & |L| \ge k\,C \end{cases}

    ``random_state``: passed to the chosen strategy.

    References
    ----------
    .. [1] Hacohen, Dekel and Weinshall, "Active Learning on a Budget: Opposite
       Strategies Suit High and Low Budgets", ICML 2022.
    """
    estimator, _, labels = resolve_labelled_set(classifier, X_labelled, y_labelled)
    n_classes = len(last_layer(estimator, layer=kwargs.get("layer")).classes_)
    strategy = early if len(labels) < labels_per_class * n_classes else late
    return strategy(classifier, X_pool, n_instances, random_state=random_state,
                    X_labelled=X_labelled, y_labelled=y_labelled, **kwargs)
