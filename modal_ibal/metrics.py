"""Summaries of an active learning run shared by the tuning helper and the experiments."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["aulc"]


def aulc(n_labelled: Sequence[float], values: Sequence[float]) -> float:
    """Normalised area under one learning curve (trapezoid rule), a mean score.

    Parameters
    ----------
    n_labelled : array-like of shape (n_budgets,)
        Distinct labelled-set sizes, in any order.
    values : array-like of shape (n_budgets,)
        The score at each size.

    Returns
    -------
    float
        :math:`\\int a \\, dn / (n_{max} - n_{min})`; the single value when there is one budget.

    Raises
    ------
    ValueError
        When the inputs are empty, of different lengths, or repeat a budget.
    """
    x = np.asarray(n_labelled, dtype=np.float64).ravel()
    y = np.asarray(values, dtype=np.float64).ravel()
    if x.size == 0 or x.shape != y.shape:
        raise ValueError(
            "The 'n_labelled' and 'values' parameters of aulc must be non-empty and of equal "
            f"length. Got {x.size} and {y.size} instead."
        )
    order = np.argsort(x, kind="stable")
    x, y = x[order], y[order]
    if np.any(np.diff(x) == 0):
        raise ValueError(
            f"The 'n_labelled' parameter of aulc must not repeat a budget. Got {x.tolist()} "
            "instead."
        )
    if x.size == 1:
        return float(y[0])
    return float(np.sum(np.diff(x) * (y[1:] + y[:-1]) / 2) / (x[-1] - x[0]))
