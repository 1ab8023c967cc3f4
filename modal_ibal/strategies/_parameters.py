"""Every strategy option declared once: the check its value passes before anything is read.

:func:`~modal_ibal.strategies.follows_contract` looks up each keyword of a
strategy in :data:`OPTION_CHECKS` (or in the strategy's own ``parameters=``),
checks the values the caller passed, before the pool, the model or the labelled
set is read, and hands the checked values to the strategy or to its Dask backend,
which trust them. A wrong type raises a ``TypeError``, a wrong value a
``ValueError``; both name the option. Defaults are not checked: they are right by
construction.

Two kinds of option are checked where their check can be made instead: the
options whose check needs the pool (kernel herding's ``weights``, one per pool
point, with the rest of :func:`~modal_ibal.coverage.check_herding_options`), and
``layer``, which names a layer of the model (checked by the reader that finds it).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .._utils.validation import (
    check_flag,
    check_fraction,
    check_max_samples,
    check_nonnegative_float,
    check_positive_float,
    check_positive_int,
)
from ..embedding import check_embedding, check_representation
from ..scoring import check_distance_cache, check_reading

__all__ = ["OPTION_CHECKS", "OptionCheck", "checked_options"]

OptionCheck = Callable[[Any, str], Any]
"""``check(value, name) -> value``: the value checked (and converted, e.g. to int), or an error."""


def _representation(value: Any, name: str) -> Any:
    check_representation(value)
    return value


def _embedding(value: Any, name: str) -> Any:
    check_embedding(value, name)
    return value


def _reading(value: Any, name: str) -> str:
    return check_reading(value)


def _distance_cache(value: Any, name: str) -> Any:
    return check_distance_cache(value)


def _optional_positive_float(value: Any, name: str) -> float | None:
    return check_positive_float(value, name, allow_none=True)


OPTION_CHECKS: dict[str, OptionCheck] = {
    "batch_size": check_positive_int,
    "beta": check_nonnegative_float,
    "distance_cache": _distance_cache,
    "embedding": _embedding,
    "exact": check_flag,
    "gamma": check_nonnegative_float,
    "labels_per_class": check_positive_int,
    "max_cluster_samples": check_max_samples,
    "n_neighbors": check_positive_int,
    "purity": check_fraction,
    "reading": _reading,
    "reg_lambda": _optional_positive_float,
    "representation": _representation,
}
"""The options that several strategies share, each with its one check."""


def checked_options(arguments: dict[str, Any], checks: dict[str, OptionCheck]) -> None:
    """Replace, in place, each passed option that has a check by its checked value."""
    for name, check in checks.items():
        if name in arguments:
            arguments[name] = check(arguments[name], name)
