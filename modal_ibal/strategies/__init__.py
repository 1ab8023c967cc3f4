"""Query strategies for modAL, one module each, on one contract.

Every strategy follows :mod:`modal_ibal.strategies._contract`::

    strategy(classifier, X_pool, n_instances=1, *, random_state=None,
             X_labelled=None, y_labelled=None, **options) -> (query_indices, query_scores)

=====================  ============================================================
module                 strategies
=====================  ============================================================
``ibal``               :func:`ibal_sampling` (Eq. 2), :func:`ibal_distance_sampling` (Eq. 4-5)
``uncertainty``        :func:`entropy_sampling`, :func:`margin_sampling`, :func:`entropy_distance_sampling`
``uniform``            :func:`random_sampling`
``coreset``            :func:`coreset_sampling` (Sener and Savarese 2018)
``badge``              :func:`badge_sampling` (Ash et al. 2020)
``typiclust``          :func:`typiclust_sampling` (Hacohen et al. 2022)
``probcover``          :func:`probcover_sampling` (Yehuda et al. 2022)
``herding``            :func:`herding_sampling`: MaxHerding (Bae et al. 2024), UHerding-style weights
``default``            :func:`default_sampling`: the measured recommendation (margin-weighted,
                       cluster-concave herding)
``cluster_ibal``       :func:`ibal_cluster_sampling`: TypiClust's clusters, IBAL inside
``budget_switch``      :func:`ibal_budget_switch_sampling`: cluster-IBAL, then IBAL-D
=====================  ============================================================

``contract``, ``parameters`` and ``registry`` hold what they share: the call
signature, the checks of their options, and the names. The ``dask_*`` modules are
the strategies' backends for a pool held by Dask, scored where its chunks live:
the model shipped once to the workers (``dask_scoring``), the batch chosen by a
tree reduction (``dask_selection``), IBAL, IBAL-D and the uncertainty rules
(``dask_queries``) and kernel herding (``dask_herding``).
:data:`STRATEGIES` names every strategy with fixed options, e.g. ``"ibal-pseudo"``
is ``functools.partial(ibal_sampling, reading="pseudo")``; the experiment runner
and the command line accept these names.
"""

from ..readers import COLD_START_STRATEGIES
from ._badge import badge_sampling
from ._budget_switch import ibal_budget_switch_sampling
from ._cluster_ibal import ibal_cluster_sampling
from ._contract import QueryStrategy, follows_contract
from ._coreset import coreset_sampling
from ._default import default_sampling
from ._herding import herding_sampling
from ._ibal import ibal_distance_sampling, ibal_sampling
from ._probcover import probcover_sampling
from ._registry import STRATEGIES, StrategyEntry, get_strategy, resolve_strategies, strategy_names
from ._typiclust import typiclust_sampling
from ._uncertainty import entropy_distance_sampling, entropy_sampling, margin_sampling
from ._uniform import random_sampling

__all__ = [
    "COLD_START_STRATEGIES",
    "STRATEGIES",
    "QueryStrategy",
    "StrategyEntry",
    "badge_sampling",
    "coreset_sampling",
    "default_sampling",
    "entropy_distance_sampling",
    "entropy_sampling",
    "follows_contract",
    "get_strategy",
    "herding_sampling",
    "ibal_budget_switch_sampling",
    "ibal_cluster_sampling",
    "ibal_distance_sampling",
    "ibal_sampling",
    "margin_sampling",
    "probcover_sampling",
    "random_sampling",
    "resolve_strategies",
    "strategy_names",
    "typiclust_sampling",
]

