"""What modAL and skorch users write, working; and a query that leaves everything as it was.

The net here is built the way modAL's own docs build one: ``NeuralNetClassifier(Module,
criterion=nn.CrossEntropyLoss, ...)`` without ``classes=``, and its first labels miss
classes 8 and 9 (the normal case at one or two labels per class).
"""

from __future__ import annotations

import random
import warnings

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import TinyMLP, assert_same_rng_states, global_rng_states
from modAL.models import ActiveLearner
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.svm import SVC
from skorch import NeuralNetClassifier
from torch import nn

import modal_ibal
from modal_ibal import STRATEGIES, MLPAutoencoder
from modal_ibal.readers._last_layer import last_layer

EXPORTED = {
    name: getattr(modal_ibal, name)
    for name in modal_ibal.__all__
    if name.endswith("_sampling")
}
OURS = {name: entry for name, entry in STRATEGIES.items() if not name.endswith("-modal")}


def plain_net(**kwargs) -> NeuralNetClassifier:
    """A skorch net as modAL's docs write it: no classes=, logits out."""
    params = dict(criterion=nn.CrossEntropyLoss, optimizer=torch.optim.Adam, lr=0.02,
                  max_epochs=4, batch_size=32, train_split=None, verbose=0)
    params.update(kwargs)
    return NeuralNetClassifier(TinyMLP, **params)


@pytest.fixture(scope="module")
def partial_labels(digits):
    """20 first labels of classes 0-7 only, and a pool of 200 with every class."""
    X, y = digits
    first = np.flatnonzero(y < 8)[:20]
    pool = np.setdiff1d(np.arange(400), first)[:200]
    return X[first], y[first], X[pool], y[pool]


@pytest.mark.parametrize("name", sorted(EXPORTED))
def test_modal_loop_on_a_plain_skorch_net_missing_classes(partial_labels, name):
    X0, y0, X_pool, y_pool = partial_labels
    assert set(y0) == set(range(8))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warnings.filterwarnings("ignore", category=modal_ibal.TiedScoresWarning)
        learner = ActiveLearner(estimator=plain_net(), query_strategy=EXPORTED[name],
                                X_training=X0, y_training=y0)
        pool = np.arange(len(X_pool))
        for _ in range(2):
            indices, rows = learner.query(X_pool[pool], n_instances=4)
            assert len(set(indices.tolist())) == 4 and indices.max() < len(pool)
            np.testing.assert_array_equal(rows, X_pool[pool][indices])
            learner.teach(rows, y_pool[pool][indices])
            pool = np.delete(pool, indices)
    assert len(learner.X_training) == 28


def test_integer_labels_are_output_columns_without_classes(partial_labels):
    X0, y0, _, _ = partial_labels
    net = plain_net().fit(X0, y0)
    assert list(net.classes_) == list(range(8))  # what skorch saw
    np.testing.assert_array_equal(last_layer(net).classes_, np.arange(10))  # every column


@pytest.mark.parametrize("labels, shown", [
    (lambda y: np.array(["abcdefghij"[v] for v in y]), "'a'"),
    (lambda y: y + 5, "12"),
    (lambda y: y + 0.5, "0.5"),
])
def test_labels_that_are_not_columns_ask_for_classes(partial_labels, labels, shown):
    _, y0, _, _ = partial_labels
    net = plain_net(max_epochs=1)
    net.initialize()
    net.classes_inferred_ = np.unique(labels(y0))  # what skorch's fit records
    with pytest.raises(ValueError, match=rf"trained on labels \[.*{shown}.*\].*Pass classes="):
        last_layer(net)


def test_explicit_classes_must_match_the_output_columns(partial_labels):
    X0, y0, _, _ = partial_labels
    net = plain_net(max_epochs=1, classes=list(range(8))).fit(X0, y0)
    with pytest.raises(ValueError, match=r"has 10 outputs but the net was given classes="):
        last_layer(net)


# ------------------------------------------------------------------ global random state


@pytest.mark.parametrize("name", sorted(OURS))
def test_a_query_leaves_every_global_random_state_unchanged(partial_labels, name):
    X0, y0, X_pool, _ = partial_labels
    net = plain_net().fit(X0, y0)
    np.random.seed(1)  # noqa: NPY002 (the global state under test)
    random.seed(1)
    before = global_rng_states()
    OURS[name].resolve()(net, X_pool, 3, random_state=0, X_labelled=X0, y_labelled=y0)
    assert_same_rng_states(before, global_rng_states())


# ------------------------------------------------------------------ inputs users have


@pytest.fixture(scope="module")
def fitted_plain(partial_labels):
    X0, y0, _, _ = partial_labels
    return plain_net().fit(X0, y0)


DETERMINISTIC = ["entropy_sampling", "margin_sampling", "ibal_sampling",
                 "ibal_distance_sampling", "entropy_distance_sampling", "coreset_sampling"]


@pytest.mark.parametrize("name", DETERMINISTIC)
@pytest.mark.parametrize("kind", ["read-only", "dataframe"])
def test_read_only_and_dataframe_pools_give_the_array_answer(fitted_plain, partial_labels, name,
                                                              kind):
    X0, y0, X_pool, _ = partial_labels
    strategy = EXPORTED[name]
    expected = strategy(fitted_plain, X_pool, 5, X_labelled=X0, y_labelled=y0)
    pool = X_pool.copy()
    if kind == "dataframe":
        pool = pd.DataFrame(pool)
    else:
        pool.setflags(write=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = strategy(fitted_plain, pool, 5, X_labelled=X0, y_labelled=y0)
    np.testing.assert_array_equal(got[0], expected[0])
    np.testing.assert_allclose(got[1], expected[1], rtol=1e-6)


@pytest.mark.parametrize("name", DETERMINISTIC)
def test_integer_pools_are_cast_like_float64_ones(fitted_plain, partial_labels, name):
    X0, y0, X_pool, _ = partial_labels
    integers = np.rint(X_pool * 16).astype(np.int64)  # digits are integers 0-16 at heart
    strategy = EXPORTED[name]
    as_float = strategy(fitted_plain, integers.astype(np.float64), 5, X_labelled=X0 * 16,
                        y_labelled=y0)
    as_int = strategy(fitted_plain, integers, 5, X_labelled=X0 * 16, y_labelled=y0)
    np.testing.assert_array_equal(as_int[0], as_float[0])


def test_a_modal_query_over_a_dataframe_pool_raises_no_warning(partial_labels):
    X0, y0, X_pool, _ = partial_labels
    frame = pd.DataFrame(X_pool)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        learner = ActiveLearner(estimator=plain_net(), query_strategy=modal_ibal.ibal_sampling,
                                X_training=X0, y_training=y0)
        indices, _ = learner.query(frame, n_instances=3)
    assert len(set(indices.tolist())) == 3


@pytest.mark.parametrize("name", ["entropy_sampling", "margin_sampling", "ibal_sampling"])
def test_a_classifier_without_probabilities_gets_a_named_type_error(partial_labels, name):
    X0, y0, X_pool, _ = partial_labels
    svc = SVC().fit(X0, y0)
    with pytest.raises(TypeError, match=r"'classifier' parameter must .*Got SVC"):
        EXPORTED[name](svc, X_pool, 2, X_labelled=X0, y_labelled=y0)


def test_an_unfitted_embedding_fails_before_the_forward_pass(fitted_plain, partial_labels):
    X0, y0, X_pool, _ = partial_labels
    calls = []
    handle = fitted_plain.module_.register_forward_hook(lambda *args: calls.append(1))
    try:
        for strategy in (modal_ibal.ibal_distance_sampling, modal_ibal.entropy_distance_sampling,
                         modal_ibal.coreset_sampling):
            with pytest.raises(NotFittedError, match="passed as 'embedding' is not fitted"):
                strategy(fitted_plain, X_pool, 2, embedding=MLPAutoencoder(),
                         X_labelled=X0, y_labelled=y0)
        with pytest.raises(NotFittedError, match="passed as 'representation' is not fitted"):
            modal_ibal.ibal_cluster_sampling(fitted_plain, X_pool, 2,
                                             representation=MLPAutoencoder(),
                                             X_labelled=X0, y_labelled=y0)
    finally:
        handle.remove()
    assert calls == []


def test_errors_name_the_users_arguments(fitted_plain, partial_labels):
    X0, y0, X_pool, _ = partial_labels
    kwargs = dict(X_labelled=X0, y_labelled=y0)

    def nan_codes(X):
        return np.full((len(X), 3), np.nan)

    with pytest.raises(ValueError, match=r"^The 'embedding' parameter returned codes that are "):
        modal_ibal.ibal_distance_sampling(fitted_plain, X_pool, 2, embedding=nan_codes, **kwargs)
    with pytest.raises(ValueError, match=r"'random_state' parameter must be None, an int"):
        modal_ibal.typiclust_sampling(fitted_plain, X_pool, 2, random_state="seed", **kwargs)
    with pytest.raises(ValueError, match=r"'reg_lambda' parameter must be finite and > 0"):
        modal_ibal.ibal_sampling(fitted_plain, X_pool, 2, reg_lambda=-1.0, **kwargs)


# ------------------------------------------------------------------ correctness from review


@pytest.mark.parametrize("n_classes", [2, 4])
def test_eq1_reproduces_logistic_regressions_decision_function(digits, n_classes):
    # sklearn penalises the weights, not the intercept: sum_i alpha_i f_i.f + b is exact
    from modal_ibal.scoring._importance import model_reg_lambda
    from modal_ibal.scoring._representer import kappa, representer_logits, representer_weights

    X, y = digits
    X = X.astype(np.float64)  # the solver works in the data's precision
    mask = y < n_classes
    X_train, y_train, X_held = X[mask][:100], y[mask][:100], X[mask][100:140]
    model = LogisticRegression(C=0.5, tol=1e-12, max_iter=10_000).fit(X_train, y_train)
    reader = last_layer(model)
    n = len(y_train)
    alpha = representer_weights(reader.outputs(X_train).logits, reader.encode_labels(y_train),
                                loss=reader.loss, scale=kappa(model_reg_lambda(reader, n), n))
    logits = representer_logits(alpha, X_train, X_held) + (
        0.0 if n_classes == 2 else model.intercept_)  # [m, C]
    if n_classes == 2:  # softmax logits (-z/2, z/2): z = difference of the two
        np.testing.assert_allclose(logits[:, 1] - logits[:, 0] + model.intercept_[0],
                                   model.decision_function(X_held), atol=1e-5)
    else:
        np.testing.assert_allclose(logits, model.decision_function(X_held), atol=1e-4)


def test_the_refit_warns_when_it_stops_early():
    from sklearn.exceptions import ConvergenceWarning

    from modal_ibal.scoring._refit import refit_last_layer

    rng = np.random.default_rng(0)
    F, y = rng.normal(size=(40, 5)), rng.integers(0, 3, size=40)
    with pytest.warns(ConvergenceWarning, match="stopped after 2 L-BFGS iterations"):
        refit_last_layer(F, y, 3, 0.01, max_iter=2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        refit_last_layer(F, y, 3, 0.01)


def test_budget_switch_reads_the_named_layer(partial_labels):
    X0, y0, X_pool, _ = partial_labels

    class TwoHeads(nn.Module):  # the last nn.Linear is not the classifier's output
        def __init__(self):
            super().__init__()
            self.output = nn.Linear(64, 10)
            self.aux = nn.Linear(64, 3)

        def forward(self, X):
            self.aux(X)
            return self.output(X)

    net = NeuralNetClassifier(TwoHeads, criterion=nn.CrossEntropyLoss, max_epochs=1,
                              train_split=None, verbose=0).fit(X0, y0)
    with pytest.raises(ValueError, match=r"nn\.Linear 'aux'.*name the output layer with layer="):
        modal_ibal.ibal_budget_switch_sampling(net, X_pool, 2, X_labelled=X0, y_labelled=y0)
    indices, _ = modal_ibal.ibal_budget_switch_sampling(net, X_pool, 2, layer="output",
                                                        random_state=0, X_labelled=X0,
                                                        y_labelled=y0)
    assert len(set(indices.tolist())) == 2


def test_entropy_d_uses_the_probabilities_entropy_sampling_uses(partial_labels):
    # a net whose predict_proba is not the softmax of its logits: entropy + D at gamma 0 must
    # rank as entropy_sampling does, on skorch's own probabilities
    X0, y0, X_pool, _ = partial_labels
    net = plain_net(predict_nonlinearity=lambda logits: torch.softmax(logits / 4.0, dim=1))
    net.fit(X0, y0)
    kwargs = dict(X_labelled=X0, y_labelled=y0)
    entropy = modal_ibal.entropy_sampling(net, X_pool, 6, **kwargs)
    combined = modal_ibal.entropy_distance_sampling(net, X_pool, 6, gamma=0.0, **kwargs)
    np.testing.assert_array_equal(combined[0], entropy[0])


def test_ties_beyond_the_batch_are_reported():
    from modal_ibal.scoring._selection import select_lowest

    scores = np.array([0.0, 1.0, 1.0, 1.0, 2.0])
    with pytest.warns(modal_ibal.TiedScoresWarning, match="3 pool points tie .* only 2 fit"):
        indices, _ = select_lowest(scores, 3, warn_ties=True)
    np.testing.assert_array_equal(indices, [0, 1, 2])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        select_lowest(scores, 4, warn_ties=True)  # every tied point fits: nothing to say
        select_lowest(scores, 3)  # engines ask for no warning


def test_saturated_reading_warns_in_a_query(fitted_plain, partial_labels):
    X0, y0, X_pool, _ = partial_labels
    duplicated = np.repeat(X_pool[:1], 10, axis=0)  # ten identical points: ten equal scores
    with pytest.warns(modal_ibal.TiedScoresWarning):
        modal_ibal.ibal_sampling(fitted_plain, duplicated, 3, X_labelled=X0, y_labelled=y0)

