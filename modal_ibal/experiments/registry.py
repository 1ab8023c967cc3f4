"""Named query strategies: the names the runner and the command line accept.

Each name stands for a modAL strategy with fixed keyword arguments, e.g.
``"ibal-pseudo"`` is ``functools.partial(ibal_sampling, reading="pseudo")``.
Functions are imported when a strategy is resolved, so the list of names does
not depend on every optional module importing cleanly.

Uncertainty baselines: ``"entropy"`` and ``"margin"`` are the batched fast-path
versions from :mod:`modal_ibal.baselines`, which return what modAL's
``entropy_sampling``/``margin_sampling`` return but score the pool with one
batched forward pass, like IBAL does; timing and ranking comparisons between
them and IBAL are therefore fair. modAL's own functions (skorch's per-sample
``predict_proba``) are registered as ``"entropy-modal"`` and ``"margin-modal"``
for checking that equivalence; they are not in any default list.
"""

from __future__ import annotations

import functools
import importlib
import inspect
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from ..strategies import IBAL_READINGS

__all__ = [
    "STRATEGIES",
    "StrategyEntry",
    "accepts_random_state",
    "get_strategy",
    "parse_strategies",
    "resolve_strategies",
    "strategy_names",
]

@dataclass(frozen=True)
class StrategyEntry:
    """A registered strategy: where its function lives and its fixed keyword arguments.

    Attributes
    ----------
    name : str
        The registered name, e.g. ``"ibal-d"``.
    module, function : str
        The function is ``importlib.import_module(module).<function>``.
    kwargs : dict
        Keyword arguments bound with ``functools.partial``.
    description : str
        One line for ``modal-ibal list``.
    """

    name: str
    module: str
    function: str
    description: str
    kwargs: dict[str, Any] = field(default_factory=dict)

    def resolve(self) -> Callable:
        """The strategy as a callable ``f(classifier, X_pool, n_instances=1, **kwargs)``."""
        function = getattr(importlib.import_module(self.module), self.function)
        return functools.partial(function, **self.kwargs) if self.kwargs else function


def _entries() -> tuple[StrategyEntry, ...]:
    baselines, strategies = "modal_ibal.baselines", "modal_ibal.strategies"
    entries = [
        StrategyEntry("random", baselines, "random_sampling", "uniform draw from the pool"),
        StrategyEntry("entropy", baselines, "entropy_sampling",
                      "highest predictive entropy (batched fast path, same ranking as modAL)"),
        StrategyEntry("margin", baselines, "margin_sampling",
                      "smallest top-two probability margin (batched fast path, as modAL)"),
    ]
    entries += [
        StrategyEntry(f"ibal-{reading}", strategies, "ibal_sampling",
                      f"IBAL (Eq. 2), lowest importance, '{reading}' reading",
                      {"reading": reading})
        for reading in IBAL_READINGS
    ]
    entries += [
        StrategyEntry("ibal-d", strategies, "ibal_distance_sampling",
                      "IBAL-D (Eq. 4-5): IBAL minus gamma times the labelled-set distance, "
                      "default reading, gamma=1, the model's own features"),
        StrategyEntry("entropy-d", strategies, "entropy_distance_sampling",
                      "entropy plus gamma times the labelled-set distance (the paper's baseline)"),
        StrategyEntry("coreset", baselines, "coreset_sampling",
                      "k-center greedy core-set (Sener and Savarese, 2018)"),
        StrategyEntry("badge", baselines, "badge_sampling",
                      "k-means++ on last-layer gradient embeddings (Ash et al., 2020)"),
        StrategyEntry("typiclust", baselines, "typiclust_sampling",
                      "most typical point of the largest uncovered clusters (Hacohen et al., 2022)"),
        StrategyEntry("probcover", baselines, "probcover_sampling",
                      "greedy maximum ball coverage (Yehuda et al., 2022)"),
        StrategyEntry("ibal-cluster", "modal_ibal.cluster", "ibal_cluster_sampling",
                      "coverage-aware IBAL: typicality x softened IBAL rank in the largest "
                      "uncovered k-means clusters of the inputs (issue 7)"),
        StrategyEntry("ibal-cluster-features", "modal_ibal.cluster", "ibal_cluster_sampling",
                      "coverage-aware IBAL clustering the network's penultimate features",
                      {"representation": "features"}),
        StrategyEntry("ibal-switch", "modal_ibal.schedule", "ibal_budget_switch_sampling",
                      "cluster-IBAL below 10 labels per class, IBAL-D from then on (issue 7)"),
        StrategyEntry("entropy-modal", "modAL.uncertainty", "entropy_sampling",
                      "modAL's own entropy_sampling (skorch per-sample predict_proba)"),
        StrategyEntry("margin-modal", "modAL.uncertainty", "margin_sampling",
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


def accepts_random_state(strategy: Callable) -> bool:
    """Whether ``strategy`` takes a ``random_state`` keyword (also through a ``partial``).

    The runner gives such strategies a seed derived from the experiment seed and
    the round (:func:`modal_ibal.experiments.seeds.derive_seed`), so that every
    query is random yet reproducible; strategies without one are deterministic.
    """
    try:
        parameters = inspect.signature(strategy).parameters
    except (TypeError, ValueError):
        return False
    return "random_state" in parameters
