"""The strategy names the runner and the command line accept: :mod:`modal_ibal.strategies`' registry.

There is one registry, in :mod:`modal_ibal.strategies`; this module re-exports it
for the experiment code.
"""

from ..strategies import (
    STRATEGIES,
    StrategyEntry,
    get_strategy,
    parse_strategies,
    resolve_strategies,
    strategy_names,
)

__all__ = [
    "STRATEGIES",
    "StrategyEntry",
    "get_strategy",
    "parse_strategies",
    "resolve_strategies",
    "strategy_names",
]
