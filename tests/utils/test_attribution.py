"""Warnings point at the line that called the library, whatever path led to them."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from modal_ibal import default_sampling, herding_sampling
from modal_ibal._utils.attribution import warn_caller
from modal_ibal.coverage import UninformativeWeightsWarning, greedy_kernel_herding
from modal_ibal.scoring._selection import TiedScoresWarning, select_lowest
from modal_ibal.search import SearchRecallWarning, nearest_neighbours


def _caught(call):
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        call()
    return record


def _saturated_case():
    rng = np.random.default_rng(0)
    X = np.vstack([rng.normal(-30, 1, (20, 2)), rng.normal(30, 1, (20, 2))])
    y = np.repeat([0, 1], 20)
    model = LogisticRegression(C=1e6, max_iter=1000).fit(X[::4], y[::4])
    return model, X, y


@pytest.mark.parametrize("call", [
    lambda: greedy_kernel_herding(np.ones((3, 3)), 0, 3, weights=np.array([1.0, 0.0, 0.0])),
    lambda: select_lowest(np.zeros(5), 2, warn_ties=True),
    lambda: nearest_neighbours(np.random.default_rng(0).standard_normal((600, 32)), 5,
                               algorithm="partitioned", cell_size=8, n_candidates=16),
], ids=["greedy", "selection", "search"])
def test_engine_warnings_name_this_file(call):
    record = _caught(call)
    ours = [w for w in record if issubclass(
        w.category, (UninformativeWeightsWarning, TiedScoresWarning, SearchRecallWarning))]
    assert ours and all(w.filename == __file__ for w in ours)


@pytest.mark.parametrize("strategy", [herding_sampling, default_sampling])
def test_a_strategys_warning_names_the_line_that_called_the_strategy(strategy):
    model, X, y = _saturated_case()
    options = {"weights": "margin"} if strategy is herding_sampling else {}
    record = _caught(lambda: strategy(model, X[1::4], 8, X_labelled=X[::4], y_labelled=y[::4],
                                      **options))
    ours = [w for w in record if issubclass(w.category, UninformativeWeightsWarning)]
    assert ours and all(w.filename == __file__ for w in ours)


def test_a_call_from_outside_the_package_is_its_own_caller():
    record = _caught(lambda: warn_caller("here", UserWarning))
    assert [w.filename for w in record] == [__file__]
