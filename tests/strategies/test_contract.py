"""The strategy contract, checked on every registered strategy: an ActiveLearner or a bare
estimator with its labelled set, the same picks under a seed, one run per modAL query, named
errors for bad pools, and nothing of the caller's state changed."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from modal_ibal import get_strategy
from modal_ibal.strategies import strategy_names

# Every registered strategy but modAL's own two, registered for comparison: they keep modAL's
# errors and leave the net in eval mode.
STRATEGIES = {name: get_strategy(name).resolve() for name in strategy_names()
              if not name.endswith("-modal")}


N_INSTANCES = 5


def _state(module):
    return {name: value.clone() for name, value in module.state_dict().items()}


@pytest.mark.parametrize("name", STRATEGIES)
def test_contract_with_an_active_learner(name, digits_learner, digits_split):
    _, _, X_pool = digits_split
    pool_before, state_before = X_pool.copy(), _state(digits_learner.estimator.module_)
    digits_learner.estimator.module_.train()
    numpy_state = np.random.get_state()[1].copy()  # noqa: NPY002

    indices, scores = STRATEGIES[name](digits_learner, X_pool, N_INSTANCES)

    assert isinstance(indices, np.ndarray) and indices.dtype.kind == "i"
    assert indices.shape == scores.shape == (N_INSTANCES,)
    assert len(np.unique(indices)) == N_INSTANCES
    assert indices.min() >= 0 and indices.max() < len(X_pool)
    assert np.isfinite(scores).all()
    np.testing.assert_array_equal(X_pool, pool_before)
    for key, value in _state(digits_learner.estimator.module_).items():
        torch.testing.assert_close(value, state_before[key], rtol=0, atol=0)
    assert digits_learner.estimator.module_.training  # the caller's mode is restored
    np.testing.assert_array_equal(np.random.get_state()[1], numpy_state)  # noqa: NPY002


@pytest.mark.parametrize("name", STRATEGIES)
def test_bare_estimator_with_labelled_set_equals_learner(name, digits_learner, digits_split):
    _, _, X_pool = digits_split
    from_learner = STRATEGIES[name](digits_learner, X_pool, N_INSTANCES, random_state=3)
    from_estimator = STRATEGIES[name](digits_learner.estimator, X_pool, N_INSTANCES, random_state=3,
                                      X_labelled=digits_learner.X_training,
                                      y_labelled=digits_learner.y_training)
    np.testing.assert_array_equal(from_learner[0], from_estimator[0])
    np.testing.assert_allclose(from_learner[1], from_estimator[1])


@pytest.mark.parametrize("name", STRATEGIES)
def test_deterministic_under_random_state(name, digits_learner, digits_split):
    _, _, X_pool = digits_split
    first = STRATEGIES[name](digits_learner, X_pool, N_INSTANCES, random_state=7)
    second = STRATEGIES[name](digits_learner, X_pool, N_INSTANCES,
                              random_state=np.random.RandomState(7))
    np.testing.assert_array_equal(first[0], second[0])
    np.testing.assert_array_equal(first[1], second[1])


@pytest.mark.parametrize("name", STRATEGIES)
@pytest.mark.parametrize("n_instances", [1, 2, 5])
def test_modal_query_runs_the_strategy_once(name, n_instances, digits_learner, digits_split):
    """modAL's bare except re-runs a strategy that does not return two values."""
    _, _, X_pool = digits_split
    calls = []

    def counted(classifier, X, n_instances=1, **kwargs):
        calls.append(n_instances)
        return STRATEGIES[name](classifier, X, n_instances, **kwargs)

    strategy = digits_learner.query_strategy
    digits_learner.query_strategy = counted
    try:
        indices, rows = digits_learner.query(X_pool, n_instances=n_instances, random_state=0)
    finally:
        digits_learner.query_strategy = strategy
    assert calls == [n_instances]
    np.testing.assert_array_equal(rows, X_pool[indices])


@pytest.mark.parametrize("name", STRATEGIES)
@pytest.mark.parametrize(
    ("pool", "n_instances", "error", "match"),
    [
        ("small", 4, ValueError, r"'n_instances' parameter \(4\) is larger than the pool"),
        ("small", 0, ValueError, "'n_instances' parameter must be >= 1"),
        ("empty", 1, ValueError, "'X_pool' parameter is empty"),
        ("nan", 1, ValueError, "'X_pool' parameter holds NaN"),
        ("vector", 1, ValueError, "'X_pool' parameter must have one row per sample"),
    ],
)
def test_bad_inputs_raise_clear_errors(name, pool, n_instances, error, match, digits_learner,
                                       digits_split):
    _, _, X_pool = digits_split
    bad = {
        "small": X_pool[:3],
        "empty": X_pool[:0],
        "nan": np.where(np.arange(X_pool.shape[1]) == 5, np.nan, X_pool[:10]),
        "vector": X_pool[0],
    }[pool]
    with pytest.raises(error, match=match):
        STRATEGIES[name](digits_learner, bad, n_instances)


def test_the_contract_sends_a_dask_pool_to_the_declared_backend_with_bound_arguments():
    """One place decides how a pool is read: the strategy body never sees a Dask array."""
    da = pytest.importorskip("dask.array")
    from modal_ibal.strategies import follows_contract

    received = []

    def backend(query, **arguments):
        received.append((query, arguments))
        return np.array([0]), np.array([0.0])

    @follows_contract(dask_pool=backend)
    def toy_sampling(classifier, X_pool, n_instances=1, *, random_state=None, X_labelled=None,
                     y_labelled=None, width: float = 2.0):
        """A toy.

        Parameters
        ----------
        {shared_parameters}
        """
        raise AssertionError("the in-memory body ran on a Dask pool")

    pool = da.zeros((10, 3), chunks=5)
    toy_sampling("model", pool, 3, width=5.0)
    query, arguments = received[0]
    assert query is toy_sampling
    assert arguments == {"classifier": "model", "X_pool": pool, "n_instances": 3,
                         "random_state": None, "X_labelled": None, "y_labelled": None,
                         "width": 5.0}
    with pytest.raises(TypeError, match="unexpected keyword argument 'colour'"):
        toy_sampling("model", pool, 3, colour="red")
