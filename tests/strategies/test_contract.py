"""The strategy contract, checked on every registered strategy: an ActiveLearner or a bare
estimator with its labelled set, the same picks under a seed, one run per modAL query, named
errors for bad pools, and nothing of the caller's state changed."""

from __future__ import annotations

import textwrap

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


# The strategies that never read the model with their default options: coverage of the inputs.
_INPUT_ONLY = {"random", "typiclust", "herding"}
_READ_THE_MODEL = [name for name in STRATEGIES if name not in _INPUT_ONLY]
# ... and those that also never read the labels (the model's classes, or nothing).
_READ_THE_LABELS = [name for name in _READ_THE_MODEL
                    if name not in {"entropy", "margin", "badge", "probcover"}]


@pytest.fixture(scope="module")
def multi_output_problem(digits_split):
    """A MultiOutputClassifier fitted on two binary targets of the digits' labelled set."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.multioutput import MultiOutputClassifier

    X_labelled, y_labelled, X_pool = digits_split
    Y = np.column_stack([y_labelled % 2, y_labelled >= 5]).astype(int)  # [n, 2]
    model = MultiOutputClassifier(LogisticRegression(max_iter=500)).fit(X_labelled, Y)
    return model, X_labelled, Y, X_pool


@pytest.mark.parametrize("name", _READ_THE_MODEL)
def test_multi_output_classifiers_are_refused(name, multi_output_problem):
    """Before: entropy 5.25 from two-class probabilities, or a false 'larger than the pool'."""
    model, X_labelled, Y, X_pool = multi_output_problem
    with pytest.raises(TypeError, match=(
            r"The 'classifier' parameter must be a single-output classifier whose predict_proba "
            r"gives an \(n_samples, n_classes\) array\. Got MultiOutputClassifier, fitted on 2 "
            r"outputs")):
        STRATEGIES[name](model, X_pool, N_INSTANCES, random_state=0, X_labelled=X_labelled,
                         y_labelled=Y)


@pytest.mark.parametrize("name", sorted(_INPUT_ONLY))
def test_input_coverage_never_reads_a_multi_output_model(name, multi_output_problem):
    model, X_labelled, Y, X_pool = multi_output_problem
    indices, _ = STRATEGIES[name](model, X_pool, N_INSTANCES, random_state=0,
                                  X_labelled=X_labelled, y_labelled=Y)
    assert len(np.unique(indices)) == N_INSTANCES


@pytest.mark.parametrize("name", _READ_THE_LABELS)
def test_multi_output_labels_are_refused(name, digits_learner, digits_split):
    X_labelled, y_labelled, X_pool = digits_split
    with pytest.raises(ValueError, match=(
            r"The 'y_labelled' parameter must be a 1-D array of class labels, one per sample\. "
            r"Got shape \(30, 2\) instead; multi-label and multi-output targets are not")):
        STRATEGIES[name](digits_learner.estimator, X_pool, N_INSTANCES, random_state=0,
                         X_labelled=X_labelled, y_labelled=np.column_stack([y_labelled] * 2))


def _sixteen_feature_models():
    from sklearn.linear_model import LogisticRegression
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return {
        "logistic": LogisticRegression(max_iter=500),
        "mlp": MLPClassifier(hidden_layer_sizes=(8,), max_iter=50, random_state=0),
        "pipeline": make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)),
        "one-step-pipeline": make_pipeline(LogisticRegression(max_iter=500)),
    }


@pytest.mark.parametrize("model", list(_sixteen_feature_models()))
@pytest.mark.parametrize("name", [name for name in _READ_THE_MODEL if name != "probcover"])
def test_a_pool_with_other_features_than_the_model_is_named(name, model, digits_split):
    """Before: numpy's matmul error from the reader, or scikit-learn's 'X has 10 features'."""
    import warnings

    X_labelled, y_labelled, X_pool = digits_split
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence
        fitted = _sixteen_feature_models()[model].fit(X_labelled[:, :16], y_labelled)
    with pytest.raises(ValueError, match=(
            r"^The 'X_pool' parameter has 10 features, but the model was fitted on 16\.$")):
        STRATEGIES[name](fitted, X_pool[:, :10], N_INSTANCES, random_state=0,
                         X_labelled=X_labelled[:, :10], y_labelled=y_labelled)


@pytest.mark.parametrize("name", [name for name in _READ_THE_MODEL if name != "probcover"])
def test_a_net_given_a_pool_with_other_features_names_it(name, digits_split):
    """A first nn.Linear of 16 inputs given 10 features: torch's error, named after X_pool."""
    import warnings

    from conftest import TinyMLP, make_net

    X_labelled, y_labelled, X_pool = digits_split
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        net = make_net(TinyMLP(n_features=16), max_epochs=2).fit(X_labelled[:, :16], y_labelled)
    with pytest.raises(ValueError, match=r"^The 'X_pool' parameter|^The samples of 'X_pool'"):
        STRATEGIES[name](net, X_pool[:, :10], N_INSTANCES, random_state=0,
                         X_labelled=X_labelled[:, :16], y_labelled=y_labelled)


def test_a_labelled_set_the_net_cannot_take_is_named(digits_split):
    import warnings

    from conftest import TinyMLP, make_net

    X_labelled, y_labelled, X_pool = digits_split
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        net = make_net(TinyMLP(n_features=16), max_epochs=2).fit(X_labelled[:, :16], y_labelled)
    with pytest.raises(ValueError, match=(
            r"^The 'X_labelled' parameter does not fit the model: .*mat1 and mat2 shapes")):
        STRATEGIES["ibal-class"](net, X_pool[:, :10], N_INSTANCES, X_labelled=X_labelled[:, :10],
                                 y_labelled=y_labelled)


def _contract_toy():
    """A strategy with exactly the contract's signature."""

    def toy(classifier, X_pool, n_instances=1, *, random_state=None, X_labelled=None,
            y_labelled=None):
        """A toy.

        Parameters
        ----------
            {shared_parameters}
        random_state : ignored
        """
        return np.arange(n_instances), np.zeros(n_instances)

    return toy


def test_the_exact_contract_signature_is_accepted_and_its_docstring_completed():
    from modal_ibal.strategies._contract import SHARED_PARAMETERS, follows_contract

    toy = follows_contract(_contract_toy())
    indices, _ = toy("model", np.zeros((4, 2)), 3)
    np.testing.assert_array_equal(indices, [0, 1, 2])
    assert toy.__doc__.startswith("A toy.\n")
    # the placeholder's line becomes the shared parameters at the placeholder's indent
    assert "\n" + textwrap.indent(SHARED_PARAMETERS, " " * 12) + "\n" in toy.__doc__
    assert toy.__doc__.count("classifier : modAL ActiveLearner") == 1
    assert "{shared_parameters}" not in toy.__doc__
    assert "        random_state : ignored" in toy.__doc__  # the other lines as they were


def test_a_docstring_without_the_placeholder_is_kept_and_none_becomes_empty():
    from modal_ibal.strategies._contract import follows_contract

    toy = _contract_toy()
    toy.__doc__ = "Only a summary.\n\n    Details."
    assert follows_contract(toy).__doc__ == "Only a summary.\n\n    Details."
    bare = _contract_toy()
    bare.__doc__ = None
    assert follows_contract(bare).__doc__ == ""


def test_extra_positional_parameters_after_the_contract_are_accepted():
    from modal_ibal.strategies._contract import follows_contract

    def toy(classifier, X_pool, n_instances=1, width=2.0, *, random_state=None, X_labelled=None,
            y_labelled=None):
        return np.arange(n_instances), np.full(n_instances, width)

    np.testing.assert_array_equal(follows_contract(toy)("model", None, 2, 5.0)[1], [5.0, 5.0])


def _wrong_default(classifier, X_pool, n_instances=2, *, random_state=None, X_labelled=None,
                   y_labelled=None):
    """n_instances defaults to 2."""


def _wrong_order(X_pool, classifier, n_instances=1, *, random_state=None, X_labelled=None,
                 y_labelled=None):
    """The pool comes first."""


def _no_labelled_keywords(classifier, X_pool, n_instances=1, *, random_state=None):
    """No X_labelled nor y_labelled."""


@pytest.mark.parametrize("strategy", [_wrong_default, _wrong_order, _no_labelled_keywords])
def test_a_signature_off_the_contract_is_refused(strategy):
    from modal_ibal.strategies._contract import follows_contract

    with pytest.raises(TypeError, match=rf"^{strategy.__name__} does not follow the strategy"):
        follows_contract(strategy)


def test_only_strategies_with_a_dask_backend_are_listed(monkeypatch):
    from modal_ibal.strategies import _contract as contract

    declared = []
    monkeypatch.setattr(contract, "DASK_POOL_STRATEGIES", declared)
    contract.follows_contract(_contract_toy())
    assert declared == []
    contract.follows_contract(dask_pool=lambda query, **arguments: None)(_contract_toy())
    assert declared == ["toy"]
