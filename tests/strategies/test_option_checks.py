"""Every strategy option is checked once, by the contract, before the pool or the model is read."""

from __future__ import annotations

import inspect

import numpy as np
import pytest

import modal_ibal.strategies as strategies
from modal_ibal.strategies._parameters import OPTION_CHECKS

STRATEGY_FUNCTIONS = [getattr(strategies, name) for name in strategies.__all__
                      if name.endswith("_sampling")]

# One wrong value per option, with the error it must raise.
WRONG_VALUES = {
    "batch_size": (0, ValueError),
    "beta": (-1.0, ValueError),
    "delta": (0.0, ValueError),
    "distance_cache": ("cache", TypeError),
    "early": (5, TypeError),
    "embedding": (5, TypeError),
    "exact": ("yes", TypeError),
    "gamma": (-0.5, ValueError),
    "labels_per_class": (2.5, TypeError),
    "late": ("ibal", TypeError),
    "max_cluster_samples": (1, ValueError),
    "n_neighbors": (0, ValueError),
    "purity": (1.5, ValueError),
    "reading": ("nope", ValueError),
    "reg_lambda": (-1.0, ValueError),
    "representation": ("pixels", ValueError),
}
# Checked where their check can be made: with the pool (kernel herding's weights are one per
# pool point, checked with the rest of its options), or by the reader that finds the layer.
CHECKED_LATER = {"bandwidth", "weights", "temperature", "algorithm", "normalize_rows",
                 "concave_clusters", "layer"}
CONTRACT = {"random_state", "X_labelled", "y_labelled"}


class UntouchablePool:
    """A pool that fails the test as soon as anything reads it."""

    shape = (10, 2)

    def __array__(self, *args, **kwargs):
        raise AssertionError("the pool was read before the options were checked")


def _options(strategy) -> list[str]:
    parameters = inspect.signature(strategy).parameters.values()
    return [p.name for p in parameters if p.kind is inspect.Parameter.KEYWORD_ONLY]


def test_every_option_of_every_strategy_is_declared():
    for strategy in STRATEGY_FUNCTIONS:
        for option in _options(strategy):
            assert option in WRONG_VALUES or option in CHECKED_LATER | CONTRACT, (
                f"{strategy.__name__}'s option {option!r} has no declared check: add it to "
                "OPTION_CHECKS (or the strategy's parameters=) and a wrong value here")


def test_the_shared_checks_are_all_exercised():
    assert set(OPTION_CHECKS) <= set(WRONG_VALUES)


@pytest.mark.parametrize("strategy", STRATEGY_FUNCTIONS, ids=lambda f: f.__name__)
def test_a_wrong_option_fails_first_naming_it(strategy):
    checked = [option for option in _options(strategy) if option in WRONG_VALUES]
    for option in checked:
        value, error = WRONG_VALUES[option]
        with pytest.raises(error, match=f"'{option}'"):
            strategy(object(), UntouchablePool(), 1, **{option: value})


def test_a_dask_pool_gets_the_same_checks_before_any_chunk_is_computed():
    da = pytest.importorskip("dask.array")

    def explode(block):
        raise AssertionError("a chunk was computed before the options were checked")

    pool = da.from_array(np.zeros((20, 2)), chunks=10).map_blocks(explode, dtype=float)
    with pytest.raises(ValueError, match="'gamma'"):
        strategies.ibal_distance_sampling(object(), pool, 1, gamma=-1.0)
    with pytest.raises(ValueError, match="'batch_size'"):
        strategies.herding_sampling(object(), pool, 1, batch_size=0)


def test_checked_values_reach_the_strategy_converted():
    """An int-like numpy value is handed on as the int the check returns."""
    seen = {}

    @strategies.follows_contract(shared_options=True)
    def probe(classifier, X_pool, n_instances=1, *, random_state=None, X_labelled=None,
              y_labelled=None, batch_size: int = 8):
        """Probe."""
        seen["batch_size"] = batch_size
        return np.arange(n_instances), np.zeros(n_instances)

    probe(None, np.zeros((3, 2)), 1, batch_size=np.int64(5))
    assert type(seen["batch_size"]) is int and seen["batch_size"] == 5


def test_a_users_strategy_keeps_its_own_meaning_of_an_option_name():
    """Without shared_options the package's checks stay out; parameters= adds one's own."""
    seen = {}

    def check_method(value, name):
        if value not in ("umap", "pca"):
            raise ValueError(f"The '{name}' parameter must be 'umap' or 'pca'. Got {value!r}.")
        return value

    @strategies.follows_contract(parameters={"method": check_method})
    def probe(classifier, X_pool, n_instances=1, *, random_state=None, X_labelled=None,
              y_labelled=None, representation="umap", n_neighbors=None, method="pca"):
        """Probe."""
        seen.update(representation=representation, n_neighbors=n_neighbors)
        return np.arange(n_instances), np.zeros(n_instances)

    probe(None, np.zeros((3, 2)), 1, representation="tsne", n_neighbors=None)
    assert seen == {"representation": "tsne", "n_neighbors": None}
    with pytest.raises(ValueError, match="'method'"):
        probe(None, UntouchablePool(), 1, method="lle")


def test_parameters_must_name_options_the_strategy_takes():
    with pytest.raises(TypeError, match="no keyword-only options"):
        @strategies.follows_contract(parameters={"radius": lambda value, name: value})
        def probe(classifier, X_pool, n_instances=1, *, random_state=None, X_labelled=None,
                  y_labelled=None):
            """Probe."""


@pytest.mark.parametrize(("strategy", "option"), [
    (strategies.ibal_sampling, "reading"),
    (strategies.ibal_cluster_sampling, "representation"),
    (strategies.herding_sampling, "representation"),
])
def test_a_wrong_type_is_a_type_error_and_a_wrong_word_a_value_error(strategy, option):
    with pytest.raises(TypeError, match=f"'{option}'"):
        strategy(object(), UntouchablePool(), 1, **{option: 3})
    with pytest.raises(ValueError, match=f"'{option}'"):
        strategy(object(), UntouchablePool(), 1, **{option: "nope"})
