"""The registry of strategy names, each with its fixed options.

Every strategy with fixed options under one name (e.g.
``"ibal-pseudo"``), as the experiment runner and the command line accept them.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from .._utils.randomness import preserved_global_random_state
from ..readers import held_module
from ..scoring import DEFAULT_GAMMA, READINGS
from ._badge import badge_sampling
from ._budget_switch import DEFAULT_LABELS_PER_CLASS, ibal_budget_switch_sampling
from ._cluster_ibal import ibal_cluster_sampling
from ._coreset import coreset_sampling
from ._default import default_sampling
from ._herding import herding_sampling
from ._ibal import ibal_distance_sampling, ibal_sampling
from ._probcover import probcover_sampling
from ._typiclust import typiclust_sampling
from ._uncertainty import entropy_distance_sampling, entropy_sampling, margin_sampling
from ._uniform import random_sampling

__all__ = [
    "STRATEGIES",
    "StrategyEntry",
    "get_strategy",
    "parse_strategies",
    "resolve_strategies",
    "strategy_names",
]


@dataclass(frozen=True)
class StrategyEntry:
    """A registered strategy: its function and the options bound to it.

    Attributes
    ----------
    name : str
        The registered name, e.g. ``"ibal-d"``.
    function : callable
        A strategy that follows the contract.
    description : str
        One line for ``modal-ibal list``.
    kwargs : dict
        Options bound with ``functools.partial``.
    """

    name: str
    function: Callable
    description: str
    kwargs: dict[str, Any] = field(default_factory=dict)

    def resolve(self) -> Callable:
        """The strategy as a callable ``f(classifier, X_pool, n_instances=1, **kwargs)``."""
        return functools.partial(self.function, **self.kwargs) if self.kwargs else self.function


def _modal_strategy(name: str) -> Callable:
    """modAL's own ``modAL.uncertainty.<name>`` on the package's contract (extra keywords ignored).

    modAL is imported when the strategy runs, so the registry does not depend on it.
    """

    def strategy(classifier, X_pool, n_instances=1, *, random_state=None, X_labelled=None,
                 y_labelled=None, **options):
        from modAL import uncertainty

        # skorch's predict_proba leaves the module in eval mode and its DataLoader draws
        # from torch's generator: the query must do neither
        module = getattr(getattr(classifier, "estimator", classifier), "module_", None)
        held = contextlib.nullcontext() if module is None else held_module(module)
        with held, preserved_global_random_state():
            return getattr(uncertainty, name)(classifier, X_pool, n_instances, **options)

    strategy.__name__ = strategy.__qualname__ = f"modal_{name}"
    strategy.__doc__ = f"modAL's own ``{name}`` (skorch's per-sample ``predict_proba``)."
    return strategy


def _entries() -> tuple[StrategyEntry, ...]:
    entries = [
        StrategyEntry("random", random_sampling, "uniform draw from the pool"),
        StrategyEntry("entropy", entropy_sampling,
                      "highest predictive entropy (batched fast path, same ranking as modAL)"),
        StrategyEntry("margin", margin_sampling,
                      "smallest top-two probability margin (batched fast path, as modAL)"),
    ]
    entries += [
        StrategyEntry(f"ibal-{reading}", ibal_sampling,
                      f"IBAL (Eq. 2), lowest importance, '{reading}' reading",
                      {"reading": reading})
        for reading in READINGS
    ]
    entries += [
        StrategyEntry("ibal-d", ibal_distance_sampling,
                      "IBAL-D (Eq. 4-5): IBAL minus gamma times the labelled-set distance, "
                      f"default reading, gamma={DEFAULT_GAMMA:g}, the model's own features"),
        StrategyEntry("entropy-d", entropy_distance_sampling,
                      "entropy plus gamma times the labelled-set distance (the paper's baseline)"),
        StrategyEntry("coreset", coreset_sampling,
                      "k-center greedy core-set (Sener and Savarese, 2018)"),
        StrategyEntry("badge", badge_sampling,
                      "k-means++ on last-layer gradient embeddings (Ash et al., 2020)"),
        StrategyEntry("typiclust", typiclust_sampling,
                      "most typical point of the largest uncovered clusters (Hacohen et al., 2022)"),
        StrategyEntry("probcover", probcover_sampling,
                      "greedy maximum ball coverage (Yehuda et al., 2022)"),
        StrategyEntry("herding", herding_sampling,
                      "greedy kernel coverage on a 20-neighbour Gaussian graph (MaxHerding, "
                      "Bae et al., 2024)"),
        StrategyEntry("uherding", herding_sampling,
                      "kernel coverage weighted by margin uncertainty (as UHerding, Bae et al., "
                      "2025)", {"weights": "margin"}),
        StrategyEntry("default", default_sampling,
                      "the recommended strategy: kernel coverage weighted by margin uncertainty, "
                      "concave in each k-means cluster so that rare classes are found early"),
        StrategyEntry("ibal-cluster", ibal_cluster_sampling,
                      "coverage-aware IBAL: typicality x softened IBAL rank in the largest "
                      "uncovered k-means clusters of the inputs"),
        StrategyEntry("ibal-cluster-features", ibal_cluster_sampling,
                      "coverage-aware IBAL clustering the network's penultimate features",
                      {"representation": "features"}),
        StrategyEntry("ibal-switch", ibal_budget_switch_sampling,
                      f"cluster-IBAL below {DEFAULT_LABELS_PER_CLASS} labels per class, "
                      "IBAL-D from then on"),
        StrategyEntry("entropy-modal", _modal_strategy("entropy_sampling"),
                      "modAL's own entropy_sampling (skorch per-sample predict_proba)"),
        StrategyEntry("margin-modal", _modal_strategy("margin_sampling"),
                      "modAL's own margin_sampling (skorch per-sample predict_proba)"),
    ]
    return tuple(entries)


STRATEGIES: dict[str, StrategyEntry] = {entry.name: entry for entry in _entries()}


def strategy_names() -> tuple[str, ...]:
    """All registered names, in registration order."""
    return tuple(STRATEGIES)


def get_strategy(name: str) -> StrategyEntry:
    """The registered strategy called ``name``.

    Raises
    ------
    ValueError
        When no strategy has that name; the message lists the names.
    """
    try:
        return STRATEGIES[name]
    except (KeyError, TypeError):
        raise ValueError(
            f"The strategy name must be one of {list(STRATEGIES)}. Got {name!r} instead."
        ) from None


def parse_strategies(names: str | Iterable[str]) -> tuple[str, ...]:
    """Validate a comma-separated string (or iterable) of names, keeping order, dropping repeats.

    Raises
    ------
    ValueError
        When a name is unknown or none is given.
    """
    if isinstance(names, str):
        names = [part.strip() for part in names.split(",") if part.strip()]
    chosen = tuple(dict.fromkeys(get_strategy(name).name for name in names))
    if not chosen:
        raise ValueError("The 'strategies' parameter must name at least one strategy. Got none.")
    return chosen


def resolve_strategies(names: str | Iterable[str]) -> dict[str, Callable]:
    """``{name: strategy}`` for the names :func:`parse_strategies` accepts, in order."""
    return {name: STRATEGIES[name].resolve() for name in parse_strategies(names)}
