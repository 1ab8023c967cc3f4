"""The strategy registry: every name with its function and bound options, name parsing, and
modAL's own strategies run on the package's contract."""

from __future__ import annotations

import functools

import numpy as np
import pytest
from modAL import uncertainty as modal_uncertainty

from modal_ibal.strategies._badge import badge_sampling
from modal_ibal.strategies._budget_switch import ibal_budget_switch_sampling
from modal_ibal.strategies._cluster_ibal import ibal_cluster_sampling
from modal_ibal.strategies._coreset import coreset_sampling
from modal_ibal.strategies._default import default_sampling
from modal_ibal.strategies._herding import herding_sampling
from modal_ibal.strategies._ibal import ibal_distance_sampling, ibal_sampling
from modal_ibal.strategies._probcover import probcover_sampling
from modal_ibal.strategies._registry import (
    STRATEGIES,
    StrategyEntry,
    get_strategy,
    parse_strategies,
    resolve_strategies,
    strategy_names,
)
from modal_ibal.strategies._typiclust import typiclust_sampling
from modal_ibal.strategies._uncertainty import (
    entropy_distance_sampling,
    entropy_sampling,
    margin_sampling,
)
from modal_ibal.strategies._uniform import random_sampling

_READINGS = ("class", "pseudo", "target", "agreement", "nonlinear", "finetuned")

# name: (function, bound options, a word its description must mention); None for modAL's own
EXPECTED = {
    "random": (random_sampling, {}, "uniform"),
    "entropy": (entropy_sampling, {}, "entropy"),
    "margin": (margin_sampling, {}, "margin"),
    **{f"ibal-{reading}": (ibal_sampling, {"reading": reading}, reading)
       for reading in _READINGS},
    "ibal-d": (ibal_distance_sampling, {}, "IBAL-D"),
    "entropy-d": (entropy_distance_sampling, {}, "entropy"),
    "coreset": (coreset_sampling, {}, "core-set"),
    "badge": (badge_sampling, {}, "gradient"),
    "typiclust": (typiclust_sampling, {}, "typical"),
    "probcover": (probcover_sampling, {}, "coverage"),
    "herding": (herding_sampling, {}, "Herding"),
    "uherding": (herding_sampling, {"weights": "margin"}, "UHerding"),
    "default": (default_sampling, {}, "recommended"),
    "ibal-cluster": (ibal_cluster_sampling, {}, "IBAL"),
    "ibal-cluster-features": (ibal_cluster_sampling, {"representation": "features"},
                              "features"),
    "ibal-switch": (ibal_budget_switch_sampling, {}, "IBAL-D"),
    "entropy-modal": (None, {}, "entropy_sampling"),
    "margin-modal": (None, {}, "margin_sampling"),
}


def test_the_registry_lists_every_strategy_in_order():
    assert strategy_names() == tuple(EXPECTED)
    assert list(STRATEGIES) == list(EXPECTED)


@pytest.mark.parametrize("name", list(EXPECTED))
def test_each_entry_binds_its_function_options_and_describes_itself(name):
    function, options, word = EXPECTED[name]
    entry = get_strategy(name)
    assert isinstance(entry, StrategyEntry)
    assert entry.name == name
    if function is not None:
        assert entry.function is function
    assert entry.kwargs == options
    assert isinstance(entry.description, str) and entry.description.strip()
    assert word in entry.description


def test_the_ibal_d_description_states_the_default_gamma():
    assert "gamma=1," in get_strategy("ibal-d").description
    assert "below 10 labels per class" in get_strategy("ibal-switch").description


def test_resolve_binds_the_options_only_when_there_are_some():
    assert get_strategy("random").resolve() is random_sampling
    assert get_strategy("ibal-d").resolve() is ibal_distance_sampling
    resolved = get_strategy("ibal-pseudo").resolve()
    assert isinstance(resolved, functools.partial)
    assert resolved.func is ibal_sampling
    assert resolved.args == ()
    assert resolved.keywords == {"reading": "pseudo"}
    uherding = get_strategy("uherding").resolve()
    assert (uherding.func, uherding.keywords) == (herding_sampling, {"weights": "margin"})


def test_parse_strategies_keeps_order_and_drops_repeats_and_blanks():
    assert parse_strategies(" ibal-d, entropy,,ibal-d , ") == ("ibal-d", "entropy")
    assert parse_strategies(["margin", "random", "margin"]) == ("margin", "random")
    assert parse_strategies("probcover") == ("probcover",)


@pytest.mark.parametrize("names", ["", " , ", []])
def test_parse_strategies_refuses_no_names(names):
    with pytest.raises(ValueError, match="must name at least one strategy"):
        parse_strategies(names)


def test_parse_strategies_refuses_an_unknown_name():
    with pytest.raises(ValueError, match=r"The strategy name must be one of .*'nope'"):
        parse_strategies("entropy,nope")


def test_resolve_strategies_maps_each_parsed_name_to_its_callable():
    resolved = resolve_strategies("entropy, ibal-class,entropy")
    assert list(resolved) == ["entropy", "ibal-class"]
    assert resolved["entropy"] is entropy_sampling
    assert resolved["ibal-class"].func is ibal_sampling
    assert resolved["ibal-class"].keywords == {"reading": "class"}


@pytest.mark.parametrize("name", ["entropy_sampling", "margin_sampling"])
def test_modal_strategies_are_named_and_documented_after_modal(name):
    strategy = get_strategy(name.replace("_sampling", "-modal")).function
    assert strategy.__name__ == strategy.__qualname__ == f"modal_{name}"
    assert strategy.__doc__ is not None and f"``{name}``" in strategy.__doc__


class _TemperedModel:
    """A fitted-looking classifier whose predict_proba takes a keyword: the highest entropy
    sits at the low indices when ``flip`` is false, at the high ones when it is true."""

    def predict_proba(self, X, flip=False):
        p = np.linspace(0.5, 0.99, len(X))
        p = p[::-1] if flip else p
        return np.column_stack([p, 1.0 - p])


@pytest.mark.parametrize("name", ["entropy_sampling", "margin_sampling"])
def test_modal_strategies_pass_pool_batch_size_and_options_to_modal(name):
    strategy = get_strategy(name.replace("_sampling", "-modal")).function
    model, X = _TemperedModel(), np.zeros((9, 2))
    for flip in (False, True):
        indices, scores = strategy(model, X, 3, random_state=0, X_labelled=None,
                                   y_labelled=None, flip=flip)
        expected = getattr(modal_uncertainty, name)(model, X, 3, flip=flip)
        np.testing.assert_array_equal(indices, expected[0])
        np.testing.assert_allclose(scores, expected[1])
    np.testing.assert_array_equal(strategy(model, X, 3, flip=True)[0], [8, 7, 6])
    assert len(strategy(model, X)[0]) == 1  # n_instances defaults to 1


@pytest.mark.parametrize("through_learner", [True, False])
def test_modal_strategies_leave_the_net_in_its_train_mode(through_learner, digits_learner,
                                                          digits_split):
    _, _, X_pool = digits_split
    strategy = get_strategy("entropy-modal").resolve()
    classifier = digits_learner if through_learner else digits_learner.estimator
    module = digits_learner.estimator.module_
    module.train()
    indices, _ = strategy(classifier, X_pool[:20], 2)
    assert module.training
    expected = modal_uncertainty.entropy_sampling(digits_learner.estimator, X_pool[:20], 2)
    np.testing.assert_array_equal(indices, expected[0])
    module.eval()
    strategy(classifier, X_pool[:20], 2)
    assert not module.training
    module.train()
